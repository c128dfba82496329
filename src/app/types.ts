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

export interface TriggerDef {
  name: string;
  file: string;
  type: TriggerType;
  disabled: boolean;
  functionName: string | undefined;
  config: Record<string, unknown>;
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
