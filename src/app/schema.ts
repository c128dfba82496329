/**
 * One checker per file kind. Each returns the typed data it could extract plus every problem it
 * found, so the loader can report all problems at once.
 */
import { isRecord } from './json-file.js';
import { checkFunctionName, checkValueName } from './names.js';
import type { Diagnostic, EnvironmentDef, TriggerDef, TriggerType, ValueDef } from './types.js';

type Problems = Diagnostic[];

function problem(
  problems: Problems,
  file: string,
  jsonPath: string,
  message: string,
  hint?: string,
): void {
  problems.push({ severity: 'error', file, jsonPath, message, hint });
}

function optionalBoolean(
  entry: Record<string, unknown>,
  key: string,
  file: string,
  path: string,
  problems: Problems,
): boolean {
  const value = entry[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') {
    problem(problems, file, `${path}.${key}`, `'${key}' must be true or false`);
    return false;
  }
  return value;
}

export interface FunctionConfigEntry {
  name: string;
  private: boolean;
  runAsSystem: boolean;
  runAsUserId: string | undefined;
  disableArgLogs: boolean;
  jsonPath: string;
}

/** functions/config.json: an array of `{name, private, run_as_system, ...}`. */
export function checkFunctionConfig(
  doc: unknown,
  file: string,
  problems: Problems,
): FunctionConfigEntry[] {
  if (!Array.isArray(doc)) {
    problem(
      problems,
      file,
      '$',
      'functions/config.json must be a JSON array of function configs',
      'wrap the entries in [ ... ]',
    );
    return [];
  }
  const entries: FunctionConfigEntry[] = [];
  const seen = new Map<string, string>();
  doc.forEach((raw, index) => {
    const path = `$[${index}]`;
    if (!isRecord(raw)) {
      problem(problems, file, path, 'each function config must be an object');
      return;
    }
    const name = raw['name'];
    if (typeof name !== 'string' || name === '') {
      problem(problems, file, `${path}.name`, "a function config needs a 'name' string");
      return;
    }
    const nameProblem = checkFunctionName(name);
    if (nameProblem) problem(problems, file, `${path}.name`, nameProblem);
    const previous = seen.get(name);
    if (previous !== undefined) {
      problem(
        problems,
        file,
        `${path}.name`,
        `duplicate function name '${name}' (also at ${previous})`,
        'remove one of the entries',
      );
      return;
    }
    seen.set(name, path);
    const runAsUserId = raw['run_as_user_id'];
    entries.push({
      name,
      private: optionalBoolean(raw, 'private', file, path, problems),
      runAsSystem: optionalBoolean(raw, 'run_as_system', file, path, problems),
      runAsUserId: typeof runAsUserId === 'string' && runAsUserId !== '' ? runAsUserId : undefined,
      disableArgLogs: optionalBoolean(raw, 'disable_arg_logs', file, path, problems),
      jsonPath: path,
    });
  });
  return entries;
}

/** values/<name>.json: `{name, value, from_secret}`. */
export function checkValue(doc: unknown, file: string, problems: Problems): ValueDef | undefined {
  if (!isRecord(doc)) {
    problem(problems, file, '$', 'a value file must hold a JSON object {"name", "value"}');
    return undefined;
  }
  const name = doc['name'];
  if (typeof name !== 'string') {
    problem(problems, file, '$.name', "a value needs a 'name' string");
    return undefined;
  }
  const before = problems.length;
  const nameProblem = checkValueName(name);
  if (nameProblem) problem(problems, file, '$.name', nameProblem);
  const fromSecret = optionalBoolean(doc, 'from_secret', file, '$', problems);
  if (!('value' in doc)) {
    problem(problems, file, '$.value', `value '${name}' has no 'value'`);
  }
  if (problems.length > before) return undefined;
  if (fromSecret) {
    const secretName = doc['value'];
    if (typeof secretName !== 'string' || checkValueName(secretName) !== undefined) {
      problem(
        problems,
        file,
        '$.value',
        `value '${name}' has from_secret: true, so 'value' must be the name of a Secret`,
        'set "value" to the Secret\'s name, for example "value": "mySecret"',
      );
      return undefined;
    }
    return { kind: 'secret', name, file, secretName };
  }
  return { kind: 'plain', name, file, value: doc['value'] };
}

/** environments/<tag>.json: `{"values": {...}}`. */
export function checkEnvironment(
  doc: unknown,
  file: string,
  tag: string,
  problems: Problems,
): EnvironmentDef {
  if (!isRecord(doc)) {
    problem(problems, file, '$', 'an environment file must hold a JSON object {"values": {...}}');
    return { tag, file, values: {} };
  }
  const values = doc['values'] ?? {};
  if (!isRecord(values)) {
    problem(problems, file, '$.values', "'values' must be an object");
    return { tag, file, values: {} };
  }
  return { tag, file, values };
}

const TRIGGER_TYPES: readonly TriggerType[] = ['DATABASE', 'AUTHENTICATION', 'SCHEDULED'];

/** triggers/<name>.json. Both the current (event_processors) and older (function_name) forms. */
export function checkTrigger(
  doc: unknown,
  file: string,
  problems: Problems,
): TriggerDef | undefined {
  if (!isRecord(doc)) {
    problem(problems, file, '$', 'a trigger file must hold a JSON object');
    return undefined;
  }
  const name = doc['name'];
  if (typeof name !== 'string' || name === '') {
    problem(problems, file, '$.name', "a trigger needs a 'name' string");
    return undefined;
  }
  const nameProblem = checkValueName(name);
  if (nameProblem) problem(problems, file, '$.name', nameProblem);
  const type = doc['type'];
  if (typeof type !== 'string' || !TRIGGER_TYPES.includes(type as TriggerType)) {
    problem(
      problems,
      file,
      '$.type',
      `unknown trigger type ${JSON.stringify(type)}`,
      `use one of ${TRIGGER_TYPES.join(', ')}`,
    );
    return undefined;
  }
  const config = doc['config'] ?? {};
  if (!isRecord(config)) {
    problem(problems, file, '$.config', "'config' must be an object");
    return undefined;
  }
  if (type === 'SCHEDULED' && typeof config['schedule'] !== 'string') {
    problem(problems, file, '$.config.schedule', 'a SCHEDULED trigger needs a CRON string');
  }
  if (type === 'DATABASE') {
    for (const key of ['database', 'collection'] as const) {
      if (typeof config[key] !== 'string') {
        problem(problems, file, `$.config.${key}`, `a DATABASE trigger needs '${key}'`);
      }
    }
  }
  const processors = doc['event_processors'];
  let functionName: string | undefined;
  if (isRecord(processors) && isRecord(processors['FUNCTION'])) {
    const fnConfig = processors['FUNCTION']['config'];
    if (isRecord(fnConfig) && typeof fnConfig['function_name'] === 'string') {
      functionName = fnConfig['function_name'];
    }
  }
  if (functionName === undefined && typeof doc['function_name'] === 'string') {
    functionName = doc['function_name'];
  }
  return {
    name,
    file,
    type: type as TriggerType,
    disabled: doc['disabled'] === true,
    functionName,
    config,
  };
}
