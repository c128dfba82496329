/** Plain data describing a loaded app. Produced by loadApp, consumed by the runtime and the CLI. */

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Path relative to the app root, with forward slashes. */
  file: string;
  /** JSON path inside the file (`$[2].name`), when the problem is inside a JSON document. */
  jsonPath?: string | undefined;
  line?: number | undefined;
  column?: number | undefined;
  message: string;
  /** How to fix it. */
  hint?: string | undefined;
}

export interface FunctionDef {
  /** `greet`, or `utils/add` for a nested file. */
  name: string;
  /** Source file, relative to the app root (`functions/utils/add.js`). */
  file: string;
  source: string;
  private: boolean;
  runAsSystem: boolean;
  runAsUserId?: string | undefined;
  disableArgLogs: boolean;
  /** False when the file has no entry in functions/config.json. */
  configured: boolean;
}

export interface PlainValueDef {
  kind: 'plain';
  name: string;
  file: string;
  value: unknown;
}

export interface SecretValueDef {
  kind: 'secret';
  name: string;
  file: string;
  /** The name of the Secret this Value is linked to. */
  secretName: string;
}

export type ValueDef = PlainValueDef | SecretValueDef;

export interface EnvironmentDef {
  /** `""` when the app has no active environment. */
  tag: string;
  /** File it came from (`environments/no-environment.json`), absent when there is none. */
  file?: string | undefined;
  values: Record<string, unknown>;
}

export type TriggerType = 'DATABASE' | 'AUTHENTICATION' | 'SCHEDULED';

/** A DATABASE trigger's `config`, normalised once at load (SPEC section 6). */
export interface DatabaseTriggerConfig {
  type: 'DATABASE';
  /** `service_name` (older files: absent; `service_id` is the platform's internal id). */
  serviceName: string | undefined;
  database: string;
  /** `''`: every collection of `database` (a whole-database trigger). */
  collection: string;
  /** Upper case, always a list, even when the file holds one string. */
  operationTypes: string[];
  /** As in the file (Extended JSON); undefined when absent or empty. */
  match: Record<string, unknown> | undefined;
  /** As in the file (Extended JSON); undefined when absent or empty. */
  project: Record<string, unknown> | undefined;
  fullDocument: boolean;
  fullDocumentBeforeChange: boolean;
  skipCatchupEvents: boolean;
  unordered: boolean;
  tolerateResumeErrors: boolean;
  maximumThroughput: boolean;
}

/** A SCHEDULED trigger's `config`, normalised once at load. */
export interface ScheduledTriggerConfig {
  type: 'SCHEDULED';
  /** The CRON expression as written ('' when the file has none). */
  schedule: string;
  skipCatchupEvents: boolean;
}

/** An AUTHENTICATION trigger's `config`, normalised once at load. */
export interface AuthenticationTriggerConfig {
  type: 'AUTHENTICATION';
  /** `operation_type`, upper case, always a list (empty: LOGIN, as the platform defaults). */
  operationTypes: string[];
  /** Provider types; empty: any provider. */
  providers: string[];
}

export type TriggerConfig =
  DatabaseTriggerConfig | ScheduledTriggerConfig | AuthenticationTriggerConfig;

export interface TriggerDef {
  name: string;
  file: string;
  type: TriggerType;
  disabled: boolean;
  functionName: string | undefined;
  /** The raw `config` object of the file, for anything that needs a field as written. */
  config: Record<string, unknown>;
  /**
   * The normalised config, which events, filters, `trigger list` and validate all read. loadApp
   * always sets it; a TriggerDef built by hand gets it from the same normaliser on first use
   * (triggers/settings.ts).
   */
  settings?: TriggerConfig | undefined;
}

/** A data source: a name `context.services.get()` answers to (SPEC section 3b). */
export interface DataSourceDef {
  /** The name functions pass to `context.services.get()`. */
  name: string;
  /** `mongodb-atlas` (a cluster), `datalake` (a federated database instance), `mongodb` ... */
  type: string;
  /** `config.clusterName` (`config.dataLakeName` for a datalake), when the file names one. */
  clusterName: string | undefined;
  /** `data_sources/<dir>/config.json` or `services/<name>/config.json`; absent when implicit. */
  file: string | undefined;
  /** True for the `mongodb-atlas` an app that defines no data source gets. */
  implicit: boolean;
}

export interface AppInfo {
  id: string;
  clientAppId: string;
  name: string;
  projectId: string;
  deployment: { model: string; providerRegion: string };
  lastDeployed: string;
}

export interface App {
  /** Absolute path of the app directory. */
  root: string;
  /** The root config file that marked the app (`root_config.json`, ...). */
  configFile: string;
  info: AppInfo;
  environment: EnvironmentDef;
  functions: Map<string, FunctionDef>;
  values: Map<string, ValueDef>;
  triggers: Map<string, TriggerDef>;
  /**
   * Data sources by name. Every one is served by the app's one local database; never empty: an
   * app that defines none gets an implicit `mongodb-atlas`.
   */
  dataSources: Map<string, DataSourceDef>;
}

export interface LoadedApp {
  app: App;
  diagnostics: Diagnostic[];
  /** Every file the loader read, absolute paths: what a watcher must watch. */
  files: string[];
}
