/**
 * Realistic trigger events, the way `sam local generate-event` makes Lambda events: DATABASE
 * change-stream events (with the full_document rules), AUTHENTICATION events; SCHEDULED
 * triggers get no event at all (SPEC section 6).
 */
import { nodeCrypto } from '../shared/lazy-crypto.js';
import { EJSON, ObjectId, Timestamp } from 'bson';
import type { DatabaseTriggerConfig, TriggerDef } from '../app/types.js';
import { TriggerboxError } from '../shared/errors.js';
import { assertDataExpressions, decodeExpression } from './filters.js';
import {
  describeCondition,
  failingClause,
  planForMatch,
  setPath,
  type MatchPlan,
} from './match-doc.js';
import { authenticationSettings, databaseSettings, namespaceLabel } from './settings.js';

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
  /**
   * DATABASE: the collection written, for `ns.coll`. Whole-database triggers (`"collection": ""`)
   * watch every collection of their database; without it their events carry a placeholder.
   */
  coll?: string | undefined;
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
    _data: `82${seconds}000000012B022C0100296E5A1004${nodeCrypto().randomBytes(16).toString('hex').toUpperCase()}46645F6964006400${nodeCrypto().randomBytes(12).toString('hex').toUpperCase()}0004`,
  };
}

/** `ns.coll` of a whole-database trigger's event when no collection was chosen. */
export const ANY_COLLECTION_PLACEHOLDER = '<any collection: choose one with --coll>';

function operationOf(
  settings: DatabaseTriggerConfig,
  op: string | undefined,
  plan: MatchPlan,
): DatabaseOperation {
  const configured = settings.operationTypes
    .map((t) => t.toLowerCase())
    .filter((t): t is DatabaseOperation => DATABASE_OPERATIONS.includes(t as DatabaseOperation));
  const allowed = configured.filter((t) => plan.operations?.includes(t) ?? true);
  const chosen = (op ?? allowed[0] ?? configured[0] ?? 'insert').toLowerCase();
  if (!DATABASE_OPERATIONS.includes(chosen as DatabaseOperation)) {
    throw new TriggerboxError('InvalidInput', `unknown operation '${op}'`, {
      hint: `use one of ${DATABASE_OPERATIONS.join(', ')}`,
    });
  }
  return chosen as DatabaseOperation;
}

function collectionOf(
  trigger: TriggerDef,
  settings: DatabaseTriggerConfig,
  coll: string | undefined,
  plan: MatchPlan,
  notes: string[],
): string {
  if (settings.collection !== '') {
    if (coll !== undefined && coll !== settings.collection) {
      throw new TriggerboxError(
        'InvalidInput',
        `trigger '${trigger.name}' watches ${namespaceLabel(settings)} only, not ${settings.database}.${coll}`,
        {
          hint: `drop --coll (it chooses the collection of a whole-database trigger, "collection": "")`,
        },
      );
    }
    return settings.collection;
  }
  if (coll !== undefined && coll !== '') return coll;
  if (plan.coll !== undefined) return plan.coll;
  notes.push(
    `trigger '${trigger.name}' watches every collection of ${settings.database}: ns.coll is a placeholder; choose the collection with --coll <name>`,
  );
  return ANY_COLLECTION_PLACEHOLDER;
}

function databaseEvent(
  trigger: TriggerDef,
  settings: DatabaseTriggerConfig,
  options: EventOptions,
  now: Date,
  notes: string[],
): Doc {
  assertDataExpressions(trigger);
  const match = settings.match === undefined ? undefined : decodeExpression(settings.match);
  const plan = planForMatch(match);
  const op = operationOf(settings, options.op, plan);
  const coll = collectionOf(trigger, settings, options.coll, plan, notes);
  const id = options.doc?.['_id'] ?? options.before?.['_id'] ?? new ObjectId();

  let doc: Doc;
  if (options.doc !== undefined) {
    doc = { _id: id, ...options.doc };
  } else {
    doc = { _id: id, ...(plan.wholeDocument ?? { name: 'example', updatedAt: now }) };
    for (const [path, value] of plan.fullDocument) setPath(doc, path, value);
    if (op === 'update') for (const [path, value] of plan.updatedFields) setPath(doc, path, value);
    if (op === 'delete')
      for (const [path, value] of plan.fullDocumentBeforeChange) setPath(doc, path, value);
  }
  let before: Doc;
  if (options.before !== undefined) {
    before = { _id: id, ...options.before };
  } else if (op === 'update' || op === 'replace') {
    before = { _id: id, name: 'example' };
    // An updated field must differ from before: leave it out of the document before.
    for (const path of plan.updatedFields.keys()) delete before[path.split('.')[0]!];
    for (const [path, value] of plan.fullDocumentBeforeChange) setPath(before, path, value);
  } else {
    before = doc;
  }

  const event: Doc = {
    _id: resumeToken(now),
    operationType: op,
    clusterTime: new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 }),
    wallTime: now,
    ns: { db: settings.database, coll },
    documentKey: { _id: id },
  };
  // INSERT and REPLACE always carry fullDocument; UPDATE only with full_document; DELETE never.
  if (op === 'insert' || op === 'replace' || (op === 'update' && settings.fullDocument))
    event['fullDocument'] = doc;
  if (op !== 'insert' && settings.fullDocumentBeforeChange)
    event['fullDocumentBeforeChange'] = op === 'delete' ? (options.before ? before : doc) : before;
  if (op === 'update') event['updateDescription'] = updateDescription(before, doc);

  if (match !== undefined) matchNotes(trigger, settings, match, event, plan, options, notes);
  return event;
}

/** What the user needs to know when the event does not pass the trigger's own match. */
function matchNotes(
  trigger: TriggerDef,
  settings: DatabaseTriggerConfig,
  match: Doc,
  event: Doc,
  plan: MatchPlan,
  options: EventOptions,
  notes: string[],
): void {
  const failing = failingClause(match, event);
  if (failing === undefined) return;
  const op = String(event['operationType']);
  const reasons: string[] = [];
  if (options.doc === undefined) reasons.push(...plan.unmet.map((u) => `cannot build: ${u}`));
  if (
    op !== 'insert' &&
    op !== 'replace' &&
    Object.keys(match).some((k) => k.startsWith('fullDocument.'))
  ) {
    if (op === 'delete') reasons.push('DELETE events never carry fullDocument');
    else if (!settings.fullDocument)
      reasons.push(`UPDATE events carry fullDocument only with "full_document": true`);
  }
  if (plan.operations !== undefined && !plan.operations.includes(op))
    reasons.push(`match allows operationType ${plan.operations.join(', ') || '(none)'}`);
  notes.push(
    `this event does not pass trigger '${trigger.name}'s match: ${describeCondition(failing)} fails${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`,
  );
}

function authenticationEvent(trigger: TriggerDef, options: EventOptions, now: Date): Doc {
  const settings = authenticationSettings(trigger);
  const operations = settings?.operationTypes ?? [];
  const operationType = (options.op ?? operations[0] ?? 'LOGIN').toUpperCase();
  if (!['LOGIN', 'CREATE', 'DELETE'].includes(operationType)) {
    throw new TriggerboxError('InvalidInput', `unknown authentication operation '${options.op}'`, {
      hint: 'use one of LOGIN, CREATE, DELETE',
    });
  }
  const provider = settings?.providers[0] ?? 'local-userpass';
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

export interface GeneratedEvent {
  /** The event; undefined for SCHEDULED triggers (their function gets no argument). */
  event: Doc | undefined;
  /**
   * What the user should know: the event does not pass the trigger's match (which condition,
   * and why no document could be built), ns.coll is a placeholder ...
   */
  notes: string[];
}

/**
 * A realistic event for a trigger. Without `doc`, the document is built to pass the trigger's own
 * `match` where it can (fullDocument fields, updatedFields, operationType, ns.coll); `notes` says
 * when it cannot.
 */
export function generateTriggerEvent(
  trigger: TriggerDef,
  options: EventOptions = {},
): GeneratedEvent {
  const now = options.now ?? new Date();
  const notes: string[] = [];
  switch (trigger.type) {
    case 'DATABASE': {
      const settings = databaseSettings(trigger)!;
      return { event: databaseEvent(trigger, settings, options, now, notes), notes };
    }
    case 'AUTHENTICATION':
      return { event: authenticationEvent(trigger, options, now), notes };
    case 'SCHEDULED':
      return { event: undefined, notes };
  }
}

/** The event a trigger's function receives; undefined for SCHEDULED triggers (no argument). */
export function generateEvent(trigger: TriggerDef, options: EventOptions = {}): Doc | undefined {
  return generateTriggerEvent(trigger, options).event;
}
