/** --trace-values: what each context.values.get call asked for and what it resolved to. */
import type { App } from '../app/types.js';
import { suggestNames } from '../shared/suggest.js';

export interface ValueTraceEntry {
  /** The function whose code made the call (undefined when it came from package code). */
  function: string | undefined;
  /** `functions/greet.js:3:27`: where the call is. */
  location: string;
  /** The name asked for. */
  name: string;
  /** plain: a Value from a file; secret: a Secret-linked Value; missing: no such Value (undefined). */
  outcome: 'plain' | 'secret' | 'missing';
  /** The Value's file. */
  file?: string | undefined;
  /** For a Secret-linked Value: the Secret's name and whether the store holds it. */
  secretName?: string | undefined;
  secretExists?: boolean | undefined;
  /** For a missing name: Values with close names. */
  suggestions?: string[] | undefined;
  /** For a missing name: why it may be missing (an environment value, a Secret's own name). */
  hint?: string | undefined;
}

export function traceValueGet(
  app: App,
  name: string,
  location: string,
  secretNames: ReadonlySet<string> | undefined,
): ValueTraceEntry {
  const file = location.replace(/:\d+:\d+$/, '');
  const fn = [...app.functions.values()].find((f) => f.file === file)?.name;
  const base = { function: fn, location, name };
  const value = app.values.get(name);
  if (value?.kind === 'plain') return { ...base, outcome: 'plain', file: value.file };
  if (value?.kind === 'secret') {
    return {
      ...base,
      outcome: 'secret',
      file: value.file,
      secretName: value.secretName,
      secretExists: secretNames === undefined ? undefined : secretNames.has(value.secretName),
    };
  }
  const suggestions = suggestNames(name, app.values.keys());
  let hint: string | undefined;
  if (Object.prototype.hasOwnProperty.call(app.environment.values, name)) {
    hint = `'${name}' is an environment value: read it with context.environment.values.${/^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`}`;
  } else if (secretNames?.has(name)) {
    hint = `'${name}' is a Secret's own name: values.get only reads Values; link a Value to it ({"name": "...", "value": "${name}", "from_secret": true})`;
  }
  return { ...base, outcome: 'missing', suggestions, hint };
}

export function formatValueTrace(entry: ValueTraceEntry): string {
  const who = `${entry.function ?? '(package code)'} (${entry.location})`;
  const call = `context.values.get(${JSON.stringify(entry.name)})`;
  switch (entry.outcome) {
    case 'plain':
      return `${who}: ${call} -> plain Value from ${entry.file}`;
    case 'secret': {
      const exists = entry.secretExists === false ? ', which does not exist' : '';
      return `${who}: ${call} -> Secret-linked Value from ${entry.file}: secret '${entry.secretName}'${exists} (value masked)`;
    }
    case 'missing': {
      const extra = [
        entry.suggestions && entry.suggestions.length > 0
          ? `did you mean ${entry.suggestions.map((s) => `'${s}'`).join(' or ')}?`
          : '',
        entry.hint ?? '',
      ].filter(Boolean);
      return `${who}: ${call} -> no such Value (undefined)${extra.length > 0 ? `; ${extra.join('; ')}` : ''}`;
    }
  }
}
