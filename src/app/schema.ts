/**
 * One checker per file kind. Each returns the typed data it could extract plus every problem it
 * found, so the loader can report all problems at once.
 */
import { isRecord } from './json-file.js';
import { checkFunctionName, checkValueName } from './names.js';
import type {
  AuthenticationTriggerConfig,
  DatabaseTriggerConfig,
  Diagnostic,
  EnvironmentDef,
  ScheduledTriggerConfig,
  TriggerConfig,
  TriggerDef,
  TriggerType,
  ValueDef,
} from './types.js';

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
  const settings = normaliseTriggerConfig(type as TriggerType, config, file, problems);
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
    settings,
  };
}

/** Operation types of DATABASE triggers that local events can carry (SPEC section 6). */
export const DATABASE_OPERATION_TYPES = ['INSERT', 'UPDATE', 'REPLACE', 'DELETE'] as const;
/**
 * Operation types the platform accepts for database- and deployment-level sources
 * (docs reference/config/triggers.txt), which no local event carries.
 */
const DDL_OPERATION_TYPES = [
  'CREATE_COLLECTION',
  'MODIFY_COLLECTION',
  'RENAME_COLLECTION',
  'SHARD_COLLECTION',
  'DROP_COLLECTION',
  'RESHARD_COLLECTION',
  'REFINE_COLLECTION_SHARD_KEY',
  'CREATE_INDEXES',
  'DROP_INDEXES',
  'DROP_DATABASE',
];
export const AUTHENTICATION_OPERATION_TYPES = ['LOGIN', 'CREATE', 'DELETE'] as const;

function warning(
  problems: Problems,
  file: string,
  jsonPath: string,
  message: string,
  hint: string,
) {
  problems.push({ severity: 'warning', file, jsonPath, message, hint });
}

/**
 * A string-or-list config field (operation types, providers) as a list. One string is read the
 * same everywhere; where the platform's files hold lists (`listInFiles`: DATABASE
 * operation_types), with a warning. AUTHENTICATION's operation_type is documented as a string.
 */
function stringList(
  config: Record<string, unknown>,
  key: string,
  file: string,
  problems: Problems,
  listInFiles: boolean,
): string[] {
  const value = config[key];
  const path = `$.config.${key}`;
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') {
    if (!listInFiles) return [value];
    warning(
      problems,
      file,
      path,
      `'${key}' is one string; the platform's trigger files hold a list`,
      `write "${key}": [${JSON.stringify(value)}]`,
    );
    return [value];
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    problem(problems, file, path, `'${key}' must be a list of strings`);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  }
  return value as string[];
}

/** Upper-cased operation types; unknown ones are errors, lower case a warning. */
function operationTypes(
  config: Record<string, unknown>,
  raw: string[],
  known: readonly string[],
  alsoValid: readonly string[],
  key: string,
  file: string,
  problems: Problems,
): string[] {
  const path = `$.config.${key}`;
  return raw.map((written, index) => {
    const type = written.toUpperCase();
    // One string (already warned about) has no index.
    const at = raw.length === 1 && !Array.isArray(config[key]) ? path : `${path}[${index}]`;
    if (!known.includes(type) && !alsoValid.includes(type)) {
      problem(
        problems,
        file,
        at,
        `unknown operation type ${JSON.stringify(written)}`,
        `use ${known.join(', ')}`,
      );
    } else if (alsoValid.includes(type)) {
      warning(
        problems,
        file,
        at,
        `operation type ${type} is valid on the platform but no local event carries it`,
        `triggerbox generates ${known.join(', ')} events only`,
      );
    } else if (type !== written) {
      warning(
        problems,
        file,
        at,
        `operation type ${JSON.stringify(written)} is read as ${type}`,
        `write it in upper case, as the platform does: "${type}"`,
      );
    }
    return type;
  });
}

function expressionObject(
  config: Record<string, unknown>,
  key: 'match' | 'project',
  file: string,
  problems: Problems,
): Record<string, unknown> | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value) || Array.isArray(value)) {
    problem(problems, file, `$.config.${key}`, `'${key}' must be an object`);
    return undefined;
  }
  return Object.keys(value).length === 0 ? undefined : value;
}

/**
 * A trigger's `config` as typed data, read once at load so that events, filters, `trigger list`
 * and validate see the same values (SPEC section 6); problems go to `problems` with file and
 * JSON path.
 */
export function normaliseTriggerConfig(
  type: 'DATABASE',
  config: Record<string, unknown>,
  file: string,
  problems: Problems,
): DatabaseTriggerConfig;
export function normaliseTriggerConfig(
  type: TriggerType,
  config: Record<string, unknown>,
  file: string,
  problems: Problems,
): TriggerConfig;
export function normaliseTriggerConfig(
  type: TriggerType,
  config: Record<string, unknown>,
  file: string,
  problems: Problems,
): TriggerConfig {
  const flag = (key: string): boolean => optionalBoolean(config, key, file, '$.config', problems);
  switch (type) {
    case 'DATABASE': {
      for (const key of ['database', 'collection'] as const) {
        if (typeof config[key] !== 'string') {
          problem(
            problems,
            file,
            `$.config.${key}`,
            `a DATABASE trigger needs '${key}'`,
            key === 'collection'
              ? 'name the collection, or "" to watch every collection of the database'
              : undefined,
          );
        }
      }
      const types = operationTypes(
        config,
        stringList(config, 'operation_types', file, problems, true),
        DATABASE_OPERATION_TYPES,
        DDL_OPERATION_TYPES,
        'operation_types',
        file,
        problems,
      );
      if (types.length === 0) {
        problem(
          problems,
          file,
          '$.config.operation_types',
          'a DATABASE trigger with no operation_types never fires',
          `list one or more of ${DATABASE_OPERATION_TYPES.join(', ')}`,
        );
      }
      const serviceName = config['service_name'];
      const settings: DatabaseTriggerConfig = {
        type,
        serviceName: typeof serviceName === 'string' ? serviceName : undefined,
        database: typeof config['database'] === 'string' ? config['database'] : '',
        collection: typeof config['collection'] === 'string' ? config['collection'] : '',
        operationTypes: types,
        match: expressionObject(config, 'match', file, problems),
        project: expressionObject(config, 'project', file, problems),
        fullDocument: flag('full_document'),
        fullDocumentBeforeChange: flag('full_document_before_change'),
        skipCatchupEvents: flag('skip_catchup_events'),
        unordered: flag('unordered'),
        tolerateResumeErrors: flag('tolerate_resume_errors'),
        maximumThroughput: flag('maximum_throughput'),
      };
      return settings;
    }
    case 'SCHEDULED': {
      const schedule = config['schedule'];
      if (typeof schedule !== 'string') {
        problem(problems, file, '$.config.schedule', 'a SCHEDULED trigger needs a CRON string');
      }
      const settings: ScheduledTriggerConfig = {
        type,
        schedule: typeof schedule === 'string' ? schedule : '',
        skipCatchupEvents: flag('skip_catchup_events'),
      };
      return settings;
    }
    case 'AUTHENTICATION': {
      const settings: AuthenticationTriggerConfig = {
        type,
        operationTypes: operationTypes(
          config,
          stringList(config, 'operation_type', file, problems, false),
          AUTHENTICATION_OPERATION_TYPES,
          [],
          'operation_type',
          file,
          problems,
        ),
        providers: stringList(config, 'providers', file, problems, true),
      };
      return settings;
    }
  }
}
