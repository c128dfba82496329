/**
 * The one way to hand user-controlled queries, projections, pipelines and updates to mingo
 * (trigger filters today, the local database engine tomorrow). mingo's defaults evaluate
 * `$function`, `$where` and `$accumulator` as host JavaScript, and its `$getField` reads any
 * property, `constructor` included: together they reach the host's `Function` constructor.
 * Here, evaluation is three layers deep against that:
 *   1. findCodeOperators refuses code operators anywhere in the expression, before evaluating;
 *   2. mingo runs with `scriptEnabled: false` and a context that does not register them at all;
 *   3. `$getField` reads only a document's own fields, never inherited ones.
 * Never import 'mingo' anywhere else.
 */
import { Context, type Query as QueryType } from 'mingo';
import { Aggregator } from 'mingo/aggregator';
import { Query } from 'mingo/query';
import { updateMany, type UpdateConfig } from 'mingo/updater';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import type { Options } from 'mingo/types';
import { TriggerboxError } from './errors.js';
import { CODE_OPERATORS, codeOperatorReason, findCodeOperators } from './query-guard.js';

type Doc = Record<string, unknown>;
type Operators = Record<string, unknown>;

function withoutCode(operators: Operators): Operators {
  return Object.fromEntries(
    Object.entries(operators).filter(([name]) => !CODE_OPERATORS.has(name)),
  );
}

const $let = (expressionOperators as Operators)['$let'] as (
  obj: unknown,
  expr: unknown,
  options: unknown,
) => unknown;

/**
 * `$getField` as MongoDB defines it: a field of the document. mingo's own version returns
 * `input[field]`, inherited properties included (`constructor`, `__proto__`).
 */
function $getField(obj: unknown, expr: unknown, options: unknown): unknown {
  // $let with no variables evaluates `expr` exactly as mingo evaluates operator arguments.
  const args = $let(obj, { vars: {}, in: expr }, options);
  const { field, input } =
    typeof args === 'string'
      ? { field: args, input: obj }
      : {
          field: (args as Doc | null)?.['field'],
          input: (args as Doc | null)?.['input'] ?? obj,
        };
  if (typeof field !== 'string' || input === null || typeof input !== 'object') return undefined;
  return Object.hasOwn(input, field) ? (input as Doc)[field] : undefined;
}

const SAFE_CONTEXT = Context.init({
  accumulator: withoutCode(accumulatorOperators as Operators),
  expression: { ...withoutCode(expressionOperators as Operators), $getField },
  pipeline: pipelineOperators as Operators,
  projection: projectionOperators as Operators,
  query: withoutCode(queryOperators as Operators),
  window: windowOperators as Operators,
} as never);

const SAFE_OPTIONS: Partial<Options> = { scriptEnabled: false, context: SAFE_CONTEXT };

/**
 * Throws `QueryCodeOperator` when `expression` holds a code operator. `where` names what the
 * expression is (`triggers/x.json $.config.match`); paths in the message continue from `root`.
 */
export function assertNoCodeOperators(expression: unknown, where: string, root = '$'): void {
  const uses = findCodeOperators(expression, root);
  const first = uses[0];
  if (first === undefined) return;
  throw new TriggerboxError(
    'QueryCodeOperator',
    `${where}: ${uses.map((u) => u.jsonPath).join(', ')}: ${codeOperatorReason(first.operator)}; nothing was evaluated`,
    {
      hint: 'express the condition with query and aggregation operators ($expr, $eq, $in, $regexMatch, ...) instead of code',
    },
  );
}

/** Runs an aggregation pipeline over `documents`. */
export function safeAggregate(documents: readonly Doc[], pipeline: Doc[], where: string): Doc[] {
  assertNoCodeOperators(pipeline, where);
  return new Aggregator(pipeline, SAFE_OPTIONS).run(documents as Doc[]) as Doc[];
}

/** The documents matching a query, with an optional projection. */
export function safeFind(
  documents: readonly Doc[],
  query: Doc,
  projection: Doc | undefined,
  where: string,
): Doc[] {
  assertNoCodeOperators({ query, projection }, where);
  return new Query(query, SAFE_OPTIONS).find(documents as Doc[], projection).all() as Doc[];
}

/** Whether one document matches a query. */
export function safeMatches(document: Doc, query: Doc, where: string): boolean {
  assertNoCodeOperators(query, where);
  return (new Query(query, SAFE_OPTIONS) as QueryType).test(document);
}

/** Applies an update (operators or a pipeline) to the matching documents, in place. */
export function safeUpdateMany(
  documents: Doc[],
  query: Doc,
  update: Doc | Doc[],
  config: UpdateConfig,
  where: string,
): { matchedCount: number; modifiedCount: number } {
  assertNoCodeOperators({ query, update, arrayFilters: config.arrayFilters }, where);
  return updateMany(documents, query, update as never, config, SAFE_OPTIONS);
}
