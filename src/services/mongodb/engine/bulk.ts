/**
 * bulkWrite: the listed operations in one request, each all-or-nothing on its own. Ordered
 * (the default) stops at the first failure; unordered carries on; either way the failures are
 * reported together with what was written, as the server's BulkWriteError does.
 */
import { isDocument } from './bson-values.js';
import type { Tx } from './engine-state.js';
import { MongoError, badValue } from './errors.js';
import type { BulkWriteRequest, BulkWriteResult } from './types.js';
import { deleteDocs, insertDocs, updateDocs } from './write-ops.js';

export function runBulk(tx: Tx, request: BulkWriteRequest): BulkWriteResult {
  const { ns } = request;
  const ordered = request.ordered !== false;
  const result: BulkWriteResult = {
    insertedCount: 0,
    matchedCount: 0,
    modifiedCount: 0,
    deletedCount: 0,
    upsertedCount: 0,
    insertedIds: {},
    upsertedIds: {},
  };
  if (!Array.isArray(request.operations) || request.operations.length === 0)
    throw new MongoError('InvalidLength', 'Invalid BulkOperation, Batch cannot be empty');
  const errors: { index: number; code: number; errmsg: string }[] = [];
  let firstError: unknown;
  request.operations.forEach((operation, index) => {
    if (ordered && errors.length > 0) return;
    try {
      if (!isDocument(operation) || Object.keys(operation).length !== 1)
        throw badValue(`Invalid bulkWrite operation at index ${index}`);
      const [name, args] = Object.entries(operation)[0]! as [string, Record<string, unknown>];
      if (!isDocument(args))
        throw badValue(`Invalid bulkWrite operation at index ${index}: ${name} needs an object`);
      switch (name) {
        case 'insertOne': {
          const outcome = insertDocs(tx, ns, [args.document], true);
          if (outcome.errors[0]) throw outcome.errors[0].error;
          result.insertedCount += 1;
          result.insertedIds[index] = outcome.insertedIds[0];
          return;
        }
        case 'updateOne':
        case 'updateMany':
        case 'replaceOne': {
          const replace = name === 'replaceOne';
          const outcome = updateDocs(tx, {
            ns,
            filter: args.filter,
            update: replace ? args.replacement : args.update,
            multi: name === 'updateMany',
            replace,
            upsert: args.upsert === true,
            arrayFilters: args.arrayFilters,
            sort: args.sort,
          });
          result.matchedCount += outcome.matchedCount;
          result.modifiedCount += outcome.modifiedCount;
          if (outcome.upsertedId !== undefined) {
            result.upsertedCount += 1;
            result.upsertedIds[index] = outcome.upsertedId;
          }
          return;
        }
        case 'deleteOne':
        case 'deleteMany':
          result.deletedCount += deleteDocs(
            tx,
            ns,
            args.filter,
            name === 'deleteMany',
          ).deletedCount;
          return;
        default:
          throw badValue(`Invalid bulkWrite operation '${name}' at index ${index}`);
      }
    } catch (error) {
      firstError ??= error;
      errors.push({
        index,
        code: error instanceof MongoError ? error.mongoCode : 2,
        errmsg: error instanceof Error ? error.message : String(error),
      });
    }
  });
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new MongoError('BadValue', first.errmsg, {
      like: firstError,
      info: { writeErrors: errors, result },
    });
  }
  return result;
}
