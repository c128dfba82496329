/**
 * Data sources: the names `context.services.get(<name>)` answers to (SPEC section 3b). Current
 * exports hold `data_sources/<dir>/config.json`; older ones (realm-cli, Stitch) hold every
 * service in `services/<name>/config.json`, where only the MongoDB types are data sources (the
 * rest are third-party services: http, twilio, aws ...).
 */
import { didYouMean } from '../shared/suggest.js';
import { isRecord } from './json-file.js';
import type { DataSourceDef, Diagnostic, TriggerDef } from './types.js';

/** The types of a data source: a cluster, a federated database instance, a (Stitch-era) MongoDB. */
export const DATA_SOURCE_TYPES = ['mongodb-atlas', 'datalake', 'mongodb'] as const;

/**
 * The name of the data source an app without any gets. The platform links new apps to their
 * cluster under this name and the documentation's examples all call
 * `context.services.get("mongodb-atlas")`, so an app written against those examples (or a
 * fixture without a data_sources/ folder) reaches the local database by that name.
 */
export const IMPLICIT_DATA_SOURCE = 'mongodb-atlas';

export function implicitDataSource(): DataSourceDef {
  return {
    name: IMPLICIT_DATA_SOURCE,
    type: 'mongodb-atlas',
    clusterName: undefined,
    file: undefined,
    implicit: true,
  };
}

/** Whether a legacy `services/<name>/config.json` describes a data source (by its `type`). */
export function isDataSourceService(doc: unknown): boolean {
  return (
    isRecord(doc) &&
    typeof doc['type'] === 'string' &&
    (DATA_SOURCE_TYPES as readonly string[]).includes(doc['type'])
  );
}

/**
 * `{"name", "type", "config": {"clusterName", ...}}`: the data source, or undefined (with the
 * problems in `problems`) when it cannot be used.
 */
export function checkDataSource(
  doc: unknown,
  file: string,
  problems: Diagnostic[],
): DataSourceDef | undefined {
  const problem = (jsonPath: string, message: string, hint?: string): void => {
    problems.push({ severity: 'error', file, jsonPath, message, hint });
  };
  if (!isRecord(doc)) {
    problem(
      '$',
      'a data source config must hold a JSON object {"name", "type", "config"}',
      'write {"name": "mongodb-atlas", "type": "mongodb-atlas", "config": {"clusterName": "Cluster0"}}',
    );
    return undefined;
  }
  const name = doc['name'];
  if (typeof name !== 'string' || name.trim() === '') {
    problem(
      '$.name',
      "a data source needs a 'name' string: the name functions pass to context.services.get()",
      'set "name", for example "mongodb-atlas" or the cluster\'s name',
    );
    return undefined;
  }
  const type = doc['type'];
  if (typeof type !== 'string' || type === '') {
    problem(
      '$.type',
      `data source '${name}' needs a 'type' string`,
      `use one of ${DATA_SOURCE_TYPES.join(', ')}`,
    );
    return undefined;
  }
  if (!(DATA_SOURCE_TYPES as readonly string[]).includes(type)) {
    problems.push({
      severity: 'warning',
      file,
      jsonPath: '$.type',
      message: `data source '${name}' has the unknown type '${type}'; it is served by the local database like a mongodb-atlas one`,
      hint: `use one of ${DATA_SOURCE_TYPES.join(', ')}`,
    });
  }
  const config = doc['config'] ?? {};
  if (!isRecord(config)) {
    problem('$.config', `data source '${name}': 'config' must be an object`);
    return undefined;
  }
  // A federated database instance names itself in dataLakeName; a cluster in clusterName.
  const key = type === 'datalake' ? 'dataLakeName' : 'clusterName';
  const clusterName = config[key];
  if (clusterName !== undefined && typeof clusterName !== 'string') {
    problem(`$.config.${key}`, `data source '${name}': '${key}' must be a string`);
    return undefined;
  }
  return { name, type, clusterName, file, implicit: false };
}

/**
 * DATABASE triggers whose `config.service_name` names no data source of the app: on the
 * platform the trigger could not be deployed; locally it would never fire from a write.
 */
export function checkTriggerServices(
  triggers: Iterable<TriggerDef>,
  dataSources: ReadonlyMap<string, DataSourceDef>,
): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const names = [...dataSources.keys()];
  for (const trigger of triggers) {
    if (trigger.type !== 'DATABASE') continue;
    const service = trigger.config['service_name'];
    if (typeof service !== 'string' || dataSources.has(service)) continue;
    const suggestion = didYouMean(service, names);
    const implicit = [...dataSources.values()].some((source) => source.implicit);
    problems.push({
      severity: 'warning',
      file: trigger.file,
      jsonPath: '$.config.service_name',
      message: `trigger '${trigger.name}' watches data source '${service}', which the app does not define${implicit ? ` (it has no data_sources/ folder: only the implicit '${IMPLICIT_DATA_SOURCE}')` : ''}`,
      hint:
        suggestion ||
        `create data_sources/${service}/config.json ({"name": "${service}", "type": "mongodb-atlas", "config": {"clusterName": "${service}"}}) or use one of: ${names.join(', ')}`,
    });
  }
  return problems;
}
