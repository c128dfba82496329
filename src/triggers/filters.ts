/**
 * Whether an event fires a trigger, in the platform's order: DATABASE operation_types, then the
 * `match` expression, then the `project` applied to what the function receives. $match and
 * $project semantics are the local database's (services/mongodb/engine/query.ts, the one owner of
 * mingo): numbers compare by value across Int32/Long/Double/Decimal128 as on the platform (SPEC
 * section 6). A trigger file is untrusted input: code operators in it are refused before anything
 * is evaluated, and no expression reaches host objects.
 */
import { EJSON } from 'bson';
import type { TriggerDef } from '../app/types.js';
import { decodeResult } from '../runtime/ejson.js';
import { compileFilter, runPipeline } from '../services/mongodb/engine/query.js';
import { assertNoCodeOperators } from '../shared/query-guard.js';
import { configList } from './config-list.js';

export type FilterOutcome =
  | { fires: true; event: Record<string, unknown> }
  | {
      fires: false;
      stage: 'operation_types' | 'match' | 'operation_type' | 'providers';
      reason: string;
    };

/** Trigger config expressions are Extended JSON in the file: {"$oid": ...} is an ObjectId. */
function expression(value: unknown): Record<string, unknown> {
  return decodeResult(JSON.stringify(value)) as Record<string, unknown>;
}

/**
 * Throws `QueryCodeOperator` (nothing evaluated) when the trigger's match or project holds
 * $function, $where or $accumulator.
 */
export function applyFilters(trigger: TriggerDef, event: Record<string, unknown>): FilterOutcome {
  const config = trigger.config;
  for (const field of ['match', 'project'] as const)
    assertNoCodeOperators(
      config[field],
      `trigger '${trigger.name}' (${trigger.file})`,
      `$.config.${field}`,
    );
  if (trigger.type === 'AUTHENTICATION') {
    const operations = configList(config['operation_type']).map((o) => o.toUpperCase());
    const op = String(event['operationType'] ?? '').toUpperCase();
    if (operations.length > 0 && !operations.includes(op)) {
      return {
        fires: false,
        stage: 'operation_type',
        reason: `operationType '${op}' is not one of the trigger's ${operations.join(', ')}`,
      };
    }
    const providers = configList(config['providers']);
    const eventProviders = configList(event['providers']);
    if (providers.length > 0 && !eventProviders.some((p) => providers.includes(p))) {
      return {
        fires: false,
        stage: 'providers',
        reason: `providers ${eventProviders.join(', ') || '(none)'} are not among the trigger's ${providers.join(', ')}`,
      };
    }
    return { fires: true, event };
  }
  const types = configList(config['operation_types']).map((t) => t.toUpperCase());
  const op = String(event['operationType'] ?? '').toUpperCase();
  if (!types.includes(op)) {
    return {
      fires: false,
      stage: 'operation_types',
      reason: `operationType '${op.toLowerCase()}' is not one of the trigger's operation_types ${types.join(', ') || '(none)'}`,
    };
  }
  const match = config['match'];
  if (match !== undefined && match !== null && Object.keys(match as object).length > 0) {
    if (!compileFilter(expression(match))(event)) {
      return {
        fires: false,
        stage: 'match',
        reason: `the event does not match ${EJSON.stringify(match as never)}`,
      };
    }
  }
  const project = config['project'];
  if (project !== undefined && project !== null && Object.keys(project as object).length > 0) {
    const [projected] = runPipeline({
      docs: [event],
      pipeline: [{ $project: expression(project) }],
    });
    return { fires: true, event: (projected ?? {}) as Record<string, unknown> };
  }
  return { fires: true, event };
}
