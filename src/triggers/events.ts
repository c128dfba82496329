/**
 * Realistic trigger events, the way `sam local generate-event` makes Lambda events: DATABASE
 * change-stream events (with the full_document rules), AUTHENTICATION events; SCHEDULED
 * triggers get no event at all (SPEC section 6).
 */
import { randomBytes } from 'node:crypto';
import { EJSON, ObjectId, Timestamp } from 'bson';
import type { TriggerDef } from '../app/types.js';
import { TriggerboxError } from '../shared/errors.js';

export type DatabaseOperation = 'insert' | 'update' | 'replace' | 'delete';
export const DATABASE_OPERATIONS: readonly DatabaseOperation[] = [
  'insert',
  'update',
  'replace',
  'delete',
];

export interface EventOptions {
  /** DATABASE: the operation (default: the trigger's first operation type). */
  op?: string | undefined;
  /** DATABASE: the document after the change (or the deleted one); `_id` added when missing. */
  doc?: Record<string, unknown> | undefined;
  /** DATABASE: the document before the change (update, replace, delete). */
  before?: Record<string, unknown> | undefined;
  /** AUTHENTICATION: fields of the user, merged over a sample user. */
  user?: Record<string, unknown> | undefined;
  /** The event's time (tests pass a fixed one). */
  now?: Date | undefined;
}

type Doc = Record<string, unknown>;

function isPlainObject(value: unknown): value is Doc {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const same = (a: unknown, b: unknown): boolean =>
  EJSON.stringify(a as never, { relaxed: false }) ===
  EJSON.stringify(b as never, { relaxed: false });

/** updateDescription from the document before and after an update, with dotted paths for nested fields. */
export function updateDescription(
  before: Doc,
  after: Doc,
): { updatedFields: Doc; removedFields: string[]; truncatedArrays: unknown[] } {
  const updatedFields: Doc = {};
  const removedFields: string[] = [];
  const walk = (b: Doc, a: Doc, prefix: string): void => {
    for (const [key, value] of Object.entries(a)) {
      if (prefix === '' && key === '_id') continue;
      const path = `${prefix}${key}`;
      const old = b[key];
      if (!(key in b)) updatedFields[path] = value;
      else if (isPlainObject(old) && isPlainObject(value)) walk(old, value, `${path}.`);
      else if (!same(old, value)) updatedFields[path] = value;
    }
    for (const key of Object.keys(b)) if (!(key in a)) removedFields.push(`${prefix}${key}`);
  };
  walk(before, after, '');
  return { updatedFields, removedFields, truncatedArrays: [] };
}

function resumeToken(time: Date): { _data: string } {
  const seconds = Math.floor(time.getTime() / 1000)
    .toString(16)
    .toUpperCase()
    .padStart(8, '0');
  return {
    _data: `82${seconds}000000012B022C0100296E5A1004${randomBytes(16).toString('hex').toUpperCase()}46645F6964006400${randomBytes(12).toString('hex').toUpperCase()}0004`,
  };
}

function operationOf(trigger: TriggerDef, op: string | undefined): DatabaseOperation {
  const configured = Array.isArray(trigger.config['operation_types'])
    ? (trigger.config['operation_types'] as unknown[]).map((t) => String(t).toLowerCase())
    : [];
  const chosen = (op ?? configured[0] ?? 'insert').toLowerCase();
  if (!DATABASE_OPERATIONS.includes(chosen as DatabaseOperation)) {
    throw new TriggerboxError('InvalidInput', `unknown operation '${op}'`, {
      hint: `use one of ${DATABASE_OPERATIONS.join(', ')}`,
    });
  }
  return chosen as DatabaseOperation;
}

function databaseEvent(trigger: TriggerDef, options: EventOptions, now: Date): Doc {
  const op = operationOf(trigger, options.op);
  const id = options.doc?.['_id'] ?? options.before?.['_id'] ?? new ObjectId();
  const doc: Doc = { _id: id, ...(options.doc ?? { name: 'example', updatedAt: now }) };
  const before: Doc = {
    _id: id,
    ...(options.before ?? (op === 'update' || op === 'replace' ? { name: 'example' } : doc)),
  };
  const config = trigger.config;
  const event: Doc = {
    _id: resumeToken(now),
    operationType: op,
    clusterTime: new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 }),
    wallTime: now,
    ns: { db: config['database'], coll: config['collection'] },
    documentKey: { _id: id },
  };
  // INSERT and REPLACE always carry fullDocument; UPDATE only with full_document; DELETE never.
  if (op === 'insert' || op === 'replace' || (op === 'update' && config['full_document'] === true))
    event['fullDocument'] = doc;
  if (op !== 'insert' && config['full_document_before_change'] === true)
    event['fullDocumentBeforeChange'] = op === 'delete' ? (options.before ? before : doc) : before;
  if (op === 'update') event['updateDescription'] = updateDescription(before, doc);
  return event;
}

function authenticationEvent(trigger: TriggerDef, options: EventOptions, now: Date): Doc {
  const configured = trigger.config['operation_type'];
  const operations = (Array.isArray(configured) ? configured : [configured ?? 'LOGIN']).map((o) =>
    String(o).toUpperCase(),
  );
  const operationType = (options.op ?? operations[0] ?? 'LOGIN').toUpperCase();
  if (!['LOGIN', 'CREATE', 'DELETE'].includes(operationType)) {
    throw new TriggerboxError('InvalidInput', `unknown authentication operation '${options.op}'`, {
      hint: 'use one of LOGIN, CREATE, DELETE',
    });
  }
  const providers = Array.isArray(trigger.config['providers'])
    ? (trigger.config['providers'] as unknown[]).map(String)
    : ['local-userpass'];
  const provider = providers[0] ?? 'local-userpass';
  const userId = new ObjectId().toHexString();
  const user: Doc = {
    id: userId,
    type: 'normal',
    data: { email: 'user@example.com' },
    identities: [{ id: new ObjectId().toHexString(), provider_type: provider }],
    custom_data: {},
    ...(options.user ?? {}),
  };
  return { operationType, providers: [provider], user, time: now };
}

/** The event a trigger's function receives; undefined for SCHEDULED triggers (no argument). */
export function generateEvent(trigger: TriggerDef, options: EventOptions = {}): Doc | undefined {
  const now = options.now ?? new Date();
  switch (trigger.type) {
    case 'DATABASE':
      return databaseEvent(trigger, options, now);
    case 'AUTHENTICATION':
      return authenticationEvent(trigger, options, now);
    case 'SCHEDULED':
      return undefined;
  }
}
