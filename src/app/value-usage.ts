/**
 * Static checks of Values (`values check`, `validate`): the `context.values.get("<literal>")`
 * calls in function sources, names that match no Value, Values linked to missing Secrets, and
 * Values that no function reads.
 */
import { lineColumnAt } from './json-file.js';
import type { App, Diagnostic } from './types.js';
import { suggestNames } from '../shared/suggest.js';

export interface ValueGetCall {
  function: string;
  file: string;
  line: number;
  column: number;
  name: string;
}

const VALUE_GET =
  /\bcontext\s*\.\s*values\s*\.\s*get\s*\(\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)"|`([^`\\$\n]*)`)\s*\)/g;

/** Every `context.values.get` call with a literal name, with file, line and column. */
export function findValueGets(app: App): ValueGetCall[] {
  const calls: ValueGetCall[] = [];
  for (const fn of app.functions.values()) {
    for (const match of fn.source.matchAll(VALUE_GET)) {
      const { line, column } = lineColumnAt(fn.source, match.index ?? 0);
      calls.push({
        function: fn.name,
        file: fn.file,
        line,
        column,
        name: match[1] ?? match[2] ?? match[3] ?? '',
      });
    }
  }
  return calls;
}

/** Secret-linked Values whose Secret the store does not hold. */
export function missingSecretLinks(app: App, secretNames: ReadonlySet<string>): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const value of app.values.values()) {
    if (value.kind === 'secret' && !secretNames.has(value.secretName)) {
      diagnostics.push({
        severity: 'error',
        file: value.file,
        jsonPath: '$.value',
        message: `value '${value.name}' is linked to secret '${value.secretName}', which does not exist in the local secret store`,
        hint: `create it with: triggerbox secrets create --name ${value.secretName}`,
      });
    }
  }
  return diagnostics;
}

export function checkValueUsage(app: App, secretNames: ReadonlySet<string>): Diagnostic[] {
  const calls = findValueGets(app);
  const diagnostics: Diagnostic[] = [];
  for (const call of calls) {
    if (app.values.has(call.name)) continue;
    const suggestions = suggestNames(call.name, app.values.keys());
    const hints: string[] = [];
    if (suggestions.length > 0)
      hints.push(`did you mean ${suggestions.map((s) => `'${s}'`).join(' or ')}?`);
    if (Object.prototype.hasOwnProperty.call(app.environment.values, call.name)) {
      hints.push(`'${call.name}' is an environment value: use context.environment.values`);
    } else if (secretNames.has(call.name)) {
      hints.push(
        `'${call.name}' is a Secret's own name: values.get only reads Values; link a Value to it`,
      );
    }
    diagnostics.push({
      severity: 'error',
      file: call.file,
      line: call.line,
      column: call.column,
      message: `context.values.get('${call.name}') matches no Value: it returns undefined`,
      hint: hints.length > 0 ? hints.join('; ') : `create values/${call.name}.json`,
    });
  }
  diagnostics.push(...missingSecretLinks(app, secretNames));
  const read = new Set(calls.map((c) => c.name));
  for (const value of app.values.values()) {
    if (!read.has(value.name)) {
      diagnostics.push({
        severity: 'warning',
        file: value.file,
        message: `value '${value.name}' is not read by any function (no context.values.get('${value.name}') with a literal name)`,
      });
    }
  }
  return diagnostics;
}
