/**
 * Whether an event fires a trigger, in the platform's order: the namespace (a whole-database
 * trigger, `"collection": ""`, takes any collection of its database), DATABASE operation_types,
 * then the `match` expression, then the `project` applied to what the function receives. $match
 * and $project semantics are the local database's (services/mongodb/engine/query.ts, the one
 * owner of mingo): numbers compare by value across Int32/Long/Double/Decimal128 as on the
 * platform (SPEC section 6). A trigger file is untrusted input: code operators in it are refused
 * before anything is evaluated, and no expression reaches host objects. Every refusal says which
 * condition failed and how to fire an event that meets it, never "use the same event again".
 */
import { BSONRegExp } from 'bson';
import type { TriggerDef } from '../app/types.js';
import { decodeResult } from '../runtime/ejson.js';
import { runPipeline } from '../services/mongodb/engine/query.js';
import { assertNoCodeOperators } from '../shared/query-guard.js';
import { describeCondition, failingClause, planForMatch, setPath } from './match-doc.js';
import { namespaceLabel, triggerSettings } from './settings.js';

type Doc = Record<string, unknown>;

export type FilterOutcome =
  | { fires: true; event: Record<string, unknown> }
  | {
      fires: false;
      stage: 'namespace' | 'operation_types' | 'match' | 'operation_type' | 'providers';
      reason: string;
      /** The condition that failed (for match: the smallest failing part), as data. */
      condition?: unknown;
      /** How to fire an event that passes: flags or fields that meet the failed condition. */
      hint: string;
    };

/**
 * Trigger config expressions are Extended JSON in the file: {"$oid": ...} is an ObjectId. A
 * `{"$regex": "^A"}` condition reads as Extended JSON's legacy regular expression, which the
 * query engine would compare as a value; as a JS RegExp it matches as MongoDB's `$regex` does.
 */
export function decodeExpression(value: unknown): Doc {
  return regexesAsRegExp(decodeResult(JSON.stringify(value))) as Doc;
}

function regexesAsRegExp(value: unknown): unknown {
  if (value instanceof BSONRegExp) {
    // BSON's x and l flags have no JS equivalent: such a regex stays a BSON value.
    if (/^[imsu]*$/.test(value.options)) return new RegExp(value.pattern, value.options);
    return value;
  }
  if (Array.isArray(value)) return value.map(regexesAsRegExp);
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Doc = {};
  for (const [key, item] of Object.entries(value)) out[key] = regexesAsRegExp(item);
  return out;
}

/** `--op`/`--doc`/`--before`/`--coll` flags that meet a failed match clause, when they can be built. */
function flagsFor(clause: Doc): string | undefined {
  const plan = planForMatch(clause);
  if (plan.unmet.length > 0) return undefined;
  const flags: string[] = [];
  if (plan.operations !== undefined && plan.operations[0] !== undefined)
    flags.push(`--op ${plan.operations[0]}`);
  const doc: Doc = { ...(plan.wholeDocument ?? {}) };
  for (const [path, value] of plan.fullDocument) setPath(doc, path, value);
  if (plan.updatedFields.size > 0) {
    if (plan.operations === undefined) flags.push('--op update');
    for (const [path, value] of plan.updatedFields) setPath(doc, path, value);
  }
  if (Object.keys(doc).length > 0) flags.push(`--doc '${describeCondition(doc)}'`);
  const before: Doc = {};
  for (const [path, value] of plan.fullDocumentBeforeChange) setPath(before, path, value);
  if (Object.keys(before).length > 0) flags.push(`--before '${describeCondition(before)}'`);
  if (plan.coll !== undefined) flags.push(`--coll ${plan.coll}`);
  return flags.length > 0 ? flags.join(' ') : undefined;
}

function matchHint(clause: Doc): string {
  const flags = flagsFor(clause);
  const meet = `an event in which ${describeCondition(clause)} holds`;
  return flags === undefined
    ? `fire ${meet}: pass --doc (and --op/--before) with fields that meet it, or an --event file in which it holds`
    : `fire ${meet}: ${flags} (or an --event file in which it holds)`;
}

/**
 * Throws `QueryCodeOperator` (nothing evaluated) when the trigger's match or project holds
 * $function, $where or $accumulator: the first thing anything evaluating them does.
 */
export function assertDataExpressions(trigger: TriggerDef): void {
  for (const field of ['match', 'project'] as const)
    assertNoCodeOperators(
      trigger.config[field],
      `trigger '${trigger.name}' (${trigger.file})`,
      `$.config.${field}`,
    );
}

/** Throws as assertDataExpressions does. */
export function applyFilters(trigger: TriggerDef, event: Record<string, unknown>): FilterOutcome {
  assertDataExpressions(trigger);
  const settings = triggerSettings(trigger);
  if (settings.type === 'SCHEDULED') return { fires: true, event };
  if (settings.type === 'AUTHENTICATION') {
    const operations = settings.operationTypes;
    const op = String(event['operationType'] ?? '').toUpperCase();
    if (operations.length > 0 && !operations.includes(op)) {
      return {
        fires: false,
        stage: 'operation_type',
        reason: `operationType '${op}' is not one of the trigger's ${operations.join(', ')}`,
        condition: operations,
        hint: `fire an event with one of them: --op ${operations[0]}`,
      };
    }
    const providers = settings.providers;
    const eventProviders = Array.isArray(event['providers'])
      ? (event['providers'] as unknown[]).map(String)
      : event['providers'] === undefined
        ? []
        : [String(event['providers'])];
    if (providers.length > 0 && !eventProviders.some((p) => providers.includes(p))) {
      return {
        fires: false,
        stage: 'providers',
        reason: `providers ${eventProviders.join(', ') || '(none)'} are not among the trigger's ${providers.join(', ')}`,
        condition: providers,
        hint: `fire an event whose providers include one of ${providers.join(', ')} (a generated event uses ${providers[0]})`,
      };
    }
    return { fires: true, event };
  }

  const ns = event['ns'];
  if (ns !== null && typeof ns === 'object' && !Array.isArray(ns)) {
    const { db, coll } = ns as { db?: unknown; coll?: unknown };
    const wrongDb = db !== undefined && db !== settings.database;
    const wrongColl =
      coll !== undefined && settings.collection !== '' && coll !== settings.collection;
    if (wrongDb || wrongColl) {
      return {
        fires: false,
        stage: 'namespace',
        reason: `the event is on ${String(db)}.${String(coll)}; the trigger watches ${namespaceLabel(settings)}`,
        condition: { db: settings.database, coll: settings.collection },
        hint:
          settings.collection === ''
            ? `fire an event on database ${settings.database} (ns.db), any collection: --coll <name>`
            : `fire an event on ${settings.database}.${settings.collection} (its ns)`,
      };
    }
  }

  const types = settings.operationTypes;
  const op = String(event['operationType'] ?? '').toUpperCase();
  if (!types.includes(op)) {
    const first = types.find((t) => ['INSERT', 'UPDATE', 'REPLACE', 'DELETE'].includes(t));
    return {
      fires: false,
      stage: 'operation_types',
      reason: `operationType '${op.toLowerCase()}' is not one of the trigger's operation_types ${types.join(', ') || '(none)'}`,
      condition: types,
      hint:
        first === undefined
          ? `the trigger has no operation type a local event can carry: fix operation_types in ${trigger.file}`
          : `fire an event of one of them: --op ${first.toLowerCase()}`,
    };
  }
  if (settings.match !== undefined) {
    const match = decodeExpression(settings.match);
    const failing = failingClause(match, event);
    if (failing !== undefined) {
      return {
        fires: false,
        stage: 'match',
        reason: `the event does not match ${describeCondition(failing)}${describeCondition(failing) === describeCondition(match) ? '' : ` (part of the match ${describeCondition(match)})`}`,
        condition: failing,
        hint: matchHint(failing),
      };
    }
  }
  if (settings.project !== undefined) {
    const [projected] = runPipeline({
      docs: [event],
      pipeline: [{ $project: decodeExpression(settings.project) }],
    });
    return { fires: true, event: (projected ?? {}) as Record<string, unknown> };
  }
  return { fires: true, event };
}
