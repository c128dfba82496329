/**
 * The static half of the query guard: finds the MongoDB operators that run JavaScript
 * (`$function`, `$where`, `$accumulator`) anywhere in a query, projection, pipeline or update,
 * however deep, inside arrays and sub-documents included. Pure: no mingo, so `validate` can use
 * it without loading the query engine. The one mingo owner (services/mongodb/engine/query.ts)
 * refuses what this finds before evaluating anything, and so do trigger filters before that.
 */
import { TriggerboxError } from './errors.js';

/** Operators whose argument is code. MongoDB runs it server-side; triggerbox never runs it. */
export const CODE_OPERATORS: ReadonlySet<string> = new Set(['$function', '$where', '$accumulator']);

export interface CodeOperatorUse {
  operator: string;
  /** JSON path of the operator's key, starting at the root given to findCodeOperators. */
  jsonPath: string;
}

/** `$.a.b`, `$.list[2]`, `$["fullDocument.status"]`: the notation of every diagnostic. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** Every code operator in `expression`, in document order, with its JSON path. */
export function findCodeOperators(expression: unknown, rootPath = '$'): CodeOperatorUse[] {
  const found: CodeOperatorUse[] = [];
  // An explicit stack, not recursion: a hostile file may nest deeper than the call stack.
  const stack: { value: unknown; path: string }[] = [{ value: expression, path: rootPath }];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: string };
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    const children: { value: unknown; path: string }[] = [];
    if (Array.isArray(value)) {
      value.forEach((item, index) => children.push({ value: item, path: childPath(path, index) }));
    } else {
      for (const key of Object.keys(value)) {
        const childAt = childPath(path, key);
        if (CODE_OPERATORS.has(key)) found.push({ operator: key, jsonPath: childAt });
        children.push({ value: (value as Record<string, unknown>)[key], path: childAt });
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as (typeof children)[0]);
  }
  return found;
}

/** Why a code operator is refused, for messages and diagnostics. */
export function codeOperatorReason(operator: string): string {
  return `${operator} runs code, which triggerbox never evaluates (it would run on your machine, outside the sandbox)`;
}

/**
 * Throws `QueryCodeOperator` when `expression` holds a code operator. `where` names what the
 * expression is (`triggers/x.json`); paths in the message continue from `root`.
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
