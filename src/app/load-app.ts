import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { TriggerboxError } from '../shared/errors.js';
import { findAppRoot, rootConfigIn } from './find-root.js';
import {
  checkDataSource,
  checkTriggerServices,
  implicitDataSource,
  isDataSourceService,
} from './data-sources.js';
import { isRecord, readJsonFile } from './json-file.js';
import { isInside, readRegularFile, realDirectory } from './regular-file.js';
import {
  checkEnvironment,
  checkFunctionConfig,
  checkTrigger,
  checkValue,
  type FunctionConfigEntry,
} from './schema.js';
import type {
  App,
  AppInfo,
  DataSourceDef,
  Diagnostic,
  EnvironmentDef,
  FunctionDef,
  LoadedApp,
  TriggerDef,
  ValueDef,
} from './types.js';

export interface LoadAppOptions {
  /** The app directory; when absent, found by walking up from `cwd`. */
  root?: string | undefined;
  /** Where to start looking for the app root; defaults to process.cwd(). */
  cwd?: string | undefined;
  /** Environment tag to use instead of the root config's `environment`. */
  environment?: string | undefined;
}

const ENVIRONMENT_TAGS = ['development', 'testing', 'qa', 'production'];

/** What identifies an app: its folder, root config, names and ids, and environment. */
export type AppHead = Pick<App, 'root' | 'configFile' | 'info' | 'environment'>;

/**
 * Reads an app directory into plain data. Never throws for problems inside the app: they are
 * all collected in `diagnostics`. Throws only when there is no app at all, or `environment`
 * names an environment the app has no file for.
 */
export function loadApp(options: LoadAppOptions = {}): LoadedApp {
  const { head, loader } = readHead(options);
  const functions = loader.functions();
  const values = loader.values();
  const triggers = loader.triggers(functions);
  const dataSources = loader.dataSources();
  loader.diagnostics.push(...checkTriggerServices(triggers.values(), dataSources));
  const app: App = { ...head, functions, values, triggers, dataSources };
  return { app, diagnostics: loader.diagnostics, files: loader.files };
}

/**
 * The app's head only, for commands that need no function, Value or trigger (the secrets
 * commands): the same lookup and the same errors as loadApp, without reading the rest (a
 * 100-function app took 21 ms more to load whole).
 */
export function loadAppHead(options: LoadAppOptions = {}): AppHead {
  return readHead(options).head;
}

function readHead(options: LoadAppOptions): { head: AppHead; loader: AppLoader } {
  const start = path.resolve(options.cwd ?? process.cwd());
  const root = options.root !== undefined ? path.resolve(start, options.root) : findAppRoot(start);
  if (root === undefined || !existsSync(root)) {
    throw new TriggerboxError(
      'AppNotFound',
      options.root !== undefined
        ? `no app directory at ${path.resolve(start, options.root)}`
        : `no App Services app found in ${start} or any parent folder`,
      {
        hint: 'run triggerbox inside a folder written by `appservices pull` (it holds root_config.json), or pass --local <dir>',
      },
    );
  }
  const configFile = rootConfigIn(root);
  if (configFile === undefined) {
    throw new TriggerboxError('AppNotFound', `${root} holds no root_config.json`, {
      hint: 'pass --local the folder that `appservices pull` wrote (it holds root_config.json or realm_config.json)',
    });
  }
  const loader = new AppLoader(root);
  const rootConfig = loader.json(configFile);
  const meta = loader.optionalJson('.mdb/meta.json') ?? loader.optionalJson('.mdb/app_meta.json');
  const info = appInfo(root, isRecord(rootConfig) ? rootConfig : {}, isRecord(meta) ? meta : {});
  const configuredEnv =
    isRecord(rootConfig) && typeof rootConfig['environment'] === 'string'
      ? rootConfig['environment']
      : '';
  const environment = loader.environment(
    options.environment ?? configuredEnv,
    options.environment !== undefined,
  );
  return { head: { root, configFile, info, environment }, loader };
}

function appInfo(
  root: string,
  config: Record<string, unknown>,
  meta: Record<string, unknown>,
): AppInfo {
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const name = text(config['name']) || path.basename(root);
  const id = text(meta['app_id']) || text(config['app_id']) || '';
  return {
    id,
    clientAppId: text(meta['client_app_id']) || text(config['client_app_id']) || id || name,
    name,
    projectId: text(meta['group_id']) || text(config['group_id']),
    deployment: {
      model: text(config['deployment_model']) || 'GLOBAL',
      providerRegion: text(config['provider_region']) || text(config['location']) || 'local',
    },
    lastDeployed: new Date().toISOString(),
  };
}

/** How to fix a file or folder the loader refuses to read. */
const ODD_HINT = {
  file: 'make it a regular file (a symlink may lead to one inside the app), or remove it',
  folder: 'make it a real folder (a symlink may lead to one inside the app, once), or remove it',
};

class AppLoader {
  readonly diagnostics: Diagnostic[] = [];
  readonly files: string[] = [];
  /** The app root with symlinks resolved: symlinks must lead inside it. */
  private readonly realRoot: string;
  /** Real paths of the folders listed so far: a folder reached twice (a symlink loop) is not re-read. */
  private readonly listed = new Set<string>();
  /** Function files found but refused: not reported again as missing. */
  private unreadableFunctions = new Set<string>();

  constructor(readonly root: string) {
    this.realRoot = realDirectory(root);
  }

  private abs(file: string): string {
    return path.join(this.root, ...file.split('/'));
  }

  /** Whether anything is there, a dangling symlink included (so that it gets reported). */
  private present(file: string): boolean {
    try {
      lstatSync(this.abs(file));
      return true;
    } catch {
      return false;
    }
  }

  private refuse(file: string, reason: string, kind: 'file' | 'folder' = 'file'): void {
    this.diagnostics.push({
      severity: 'error',
      file,
      message: `this ${kind} ${reason}; it was not read`,
      hint: ODD_HINT[kind],
    });
  }

  json(file: string): unknown {
    const abs = this.abs(file);
    this.files.push(abs);
    const read = readJsonFile(abs, file, this.root);
    if (!read.ok) {
      this.diagnostics.push(read.diagnostic);
      return undefined;
    }
    return read.value;
  }

  optionalJson(file: string): unknown {
    return this.present(file) ? this.json(file) : undefined;
  }

  /**
   * The entries of a folder of the app, sorted; [] when it is absent. A folder that is a
   * symlink is listed only when it leads inside the app and was not listed already.
   */
  private list(dir: string): string[] {
    const abs = this.abs(dir);
    if (!this.present(dir)) return [];
    let real: string;
    try {
      real = realpathSync(abs);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.refuse(
        dir,
        code === 'ELOOP'
          ? 'is a symlink loop'
          : code === 'ENOENT'
            ? 'is a dangling symlink (its target does not exist)'
            : `cannot be read (${code ?? 'unknown error'})`,
        'folder',
      );
      return [];
    }
    if (!isInside(this.realRoot, real)) {
      this.refuse(dir, `is a symlink to ${real}, outside the app (not followed)`, 'folder');
      return [];
    }
    if (this.listed.has(real)) {
      this.refuse(dir, 'leads to a folder already read (a symlink loop)', 'folder');
      return [];
    }
    this.listed.add(real);
    try {
      return readdirSync(abs).sort();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.refuse(
        dir,
        code === 'ENOTDIR'
          ? 'is a file, not a folder'
          : code === 'EACCES' || code === 'EPERM'
            ? `is not readable (permission denied, ${code})`
            : `cannot be read (${code ?? 'unknown error'})`,
        'folder',
      );
      return [];
    }
  }

  /** Whether `file` is a folder, following a symlink (a broken one is not a folder). */
  private isFolder(file: string): boolean {
    try {
      return statSync(this.abs(file)).isDirectory();
    } catch {
      return false;
    }
  }

  environment(tag: string, explicit: boolean): EnvironmentDef {
    const fileTag = tag === '' ? 'no-environment' : tag;
    const file = `environments/${fileTag}.json`;
    if (!this.present(file)) {
      if (explicit) {
        const available = this.list('environments')
          .filter((name) => name.endsWith('.json'))
          .map((name) => name.slice(0, -5));
        throw new TriggerboxError(
          'EnvironmentNotFound',
          `environment '${tag}' not found: no ${file}`,
          {
            hint: `use one of: ${available.length > 0 ? available.join(', ') : '(the app has no environments/ files)'}`,
          },
        );
      }
      if (tag !== '' && !ENVIRONMENT_TAGS.includes(tag)) {
        this.diagnostics.push({
          severity: 'warning',
          file: 'root_config.json',
          jsonPath: '$.environment',
          message: `unknown environment '${tag}'`,
          hint: `use one of "", ${ENVIRONMENT_TAGS.join(', ')}`,
        });
      }
      return { tag, values: {} };
    }
    return checkEnvironment(this.json(file), file, tag, this.diagnostics);
  }

  functions(): Map<string, FunctionDef> {
    const functions = new Map<string, FunctionDef>();
    const configFile = 'functions/config.json';
    const entries = this.present(configFile)
      ? checkFunctionConfig(this.json(configFile), configFile, this.diagnostics)
      : [];
    const byName = new Map(entries.map((entry) => [entry.name, entry]));
    const sources = new Map<string, string>();
    this.collectSources('functions', '', sources);
    const unreadable = new Set<string>();
    for (const [name, file] of sources) {
      const entry = byName.get(name);
      this.files.push(this.abs(file));
      const read = readRegularFile(this.abs(file), this.root);
      if (!read.ok) {
        this.refuse(file, read.missing ? 'vanished while the app was read' : read.reason);
        unreadable.add(name);
        continue;
      }
      const legacy = this.legacyConfig(name, file);
      functions.set(name, functionDef(name, file, read.text, entry ?? legacy));
    }
    this.unreadableFunctions = unreadable;
    for (const entry of entries) {
      if (!sources.has(entry.name) && !unreadable.has(entry.name)) {
        this.diagnostics.push({
          severity: 'error',
          file: configFile,
          jsonPath: `${entry.jsonPath}.name`,
          message: `function '${entry.name}' is configured but has no source file functions/${entry.name}.js`,
          hint: `create functions/${entry.name}.js or remove the entry`,
        });
      }
    }
    return functions;
  }

  /** Finds `<name>.js` files (nested folders give `utils/add`) and legacy `<name>/source.js`. */
  private collectSources(dir: string, prefix: string, out: Map<string, string>): void {
    for (const entry of this.list(dir)) {
      const file = `${dir}/${entry}`;
      if (entry === 'node_modules' || entry.startsWith('.')) continue;
      if (this.isFolder(file)) {
        const name = `${prefix}${entry}`;
        if (this.present(`${file}/source.js`) && this.present(`${file}/config.json`)) {
          this.addSource(out, name, `${file}/source.js`);
        } else {
          this.collectSources(file, `${name}/`, out);
        }
      } else if (entry.endsWith('.js')) {
        this.addSource(out, `${prefix}${entry.slice(0, -3)}`, file);
      }
    }
  }

  private addSource(out: Map<string, string>, name: string, file: string): void {
    const previous = out.get(name);
    if (previous !== undefined) {
      this.diagnostics.push({
        severity: 'error',
        file,
        message: `duplicate function name '${name}' (also defined by ${previous})`,
        hint: 'keep one of the two files',
      });
      return;
    }
    out.set(name, file);
  }

  /** Legacy folder-per-function layout: functions/<name>/config.json beside source.js. */
  private legacyConfig(name: string, file: string): FunctionConfigEntry | undefined {
    if (!file.endsWith('/source.js')) return undefined;
    const configFile = `${file.slice(0, -'source.js'.length)}config.json`;
    const doc = this.json(configFile);
    if (doc === undefined) return undefined;
    const entries = checkFunctionConfig(
      [{ name, ...(isRecord(doc) ? doc : {}) }],
      configFile,
      this.diagnostics,
    );
    return entries[0];
  }

  values(): Map<string, ValueDef> {
    const values = new Map<string, ValueDef>();
    for (const entry of this.list('values')) {
      if (!entry.endsWith('.json')) continue;
      const file = `values/${entry}`;
      const doc = this.json(file);
      if (doc === undefined) continue;
      const value = checkValue(doc, file, this.diagnostics);
      if (value === undefined) continue;
      const previous = values.get(value.name);
      if (previous !== undefined) {
        this.diagnostics.push({
          severity: 'error',
          file,
          jsonPath: '$.name',
          message: `duplicate value name '${value.name}' (also in ${previous.file})`,
          hint: 'rename or remove one of the two value files',
        });
        continue;
      }
      values.set(value.name, value);
    }
    return values;
  }

  /**
   * `data_sources/<dir>/config.json`, then the MongoDB services of an older export's
   * `services/<name>/config.json`. An app with no data source file at all gets the implicit
   * `mongodb-atlas`; one whose files are broken does not (its diagnostics say why).
   */
  dataSources(): Map<string, DataSourceDef> {
    const sources = new Map<string, DataSourceDef>();
    let files = 0;
    const add = (file: string, doc: unknown): void => {
      files++;
      const source = checkDataSource(doc, file, this.diagnostics);
      if (source === undefined) return;
      const previous = sources.get(source.name);
      if (previous !== undefined) {
        this.diagnostics.push({
          severity: 'error',
          file,
          jsonPath: '$.name',
          message: `duplicate data source name '${source.name}' (also in ${previous.file ?? ''})`,
          hint: 'rename or remove one of the two data sources',
        });
        return;
      }
      sources.set(source.name, source);
    };
    for (const entry of this.list('data_sources')) {
      const dir = `data_sources/${entry}`;
      if (entry.startsWith('.') || !this.isFolder(dir)) continue;
      const file = `${dir}/config.json`;
      if (!this.present(file)) {
        this.diagnostics.push({
          severity: 'warning',
          file: dir,
          message: 'this data source folder has no config.json; it was skipped',
          hint: `add ${file} ({"name", "type": "mongodb-atlas", "config": {"clusterName"}}) or remove the folder`,
        });
        continue;
      }
      const doc = this.json(file);
      if (doc === undefined) files++;
      else add(file, doc);
    }
    for (const entry of this.list('services')) {
      const dir = `services/${entry}`;
      const file = `${dir}/config.json`;
      if (entry.startsWith('.') || !this.isFolder(dir) || !this.present(file)) continue;
      const doc = this.json(file);
      if (doc === undefined) files++;
      else if (isDataSourceService(doc)) add(file, doc);
    }
    if (files === 0) {
      const implicit = implicitDataSource();
      sources.set(implicit.name, implicit);
    }
    return sources;
  }

  triggers(functions: Map<string, FunctionDef>): Map<string, TriggerDef> {
    const triggers = new Map<string, TriggerDef>();
    for (const entry of this.list('triggers')) {
      if (!entry.endsWith('.json')) continue;
      const file = `triggers/${entry}`;
      const doc = this.json(file);
      if (doc === undefined) continue;
      const trigger = checkTrigger(doc, file, this.diagnostics);
      if (trigger === undefined) continue;
      if (trigger.functionName === undefined) {
        this.diagnostics.push({
          severity: 'error',
          file,
          jsonPath: '$.event_processors.FUNCTION.config.function_name',
          message: `trigger '${trigger.name}' names no function`,
          hint: 'set event_processors.FUNCTION.config.function_name',
        });
      } else if (
        !functions.has(trigger.functionName) &&
        !this.unreadableFunctions.has(trigger.functionName)
      ) {
        this.diagnostics.push({
          severity: 'error',
          file,
          jsonPath: '$.event_processors.FUNCTION.config.function_name',
          message: `trigger '${trigger.name}' calls function '${trigger.functionName}', which does not exist`,
          hint: `create functions/${trigger.functionName}.js or fix the name`,
        });
      }
      const previous = triggers.get(trigger.name);
      if (previous !== undefined) {
        this.diagnostics.push({
          severity: 'error',
          file,
          jsonPath: '$.name',
          message: `duplicate trigger name '${trigger.name}' (also in ${previous.file})`,
        });
        continue;
      }
      triggers.set(trigger.name, trigger);
    }
    return triggers;
  }
}

function functionDef(
  name: string,
  file: string,
  source: string,
  entry: FunctionConfigEntry | undefined,
): FunctionDef {
  return {
    name,
    file,
    source,
    private: entry?.private ?? false,
    runAsSystem: entry?.runAsSystem ?? false,
    runAsUserId: entry?.runAsUserId,
    disableArgLogs: entry?.disableArgLogs ?? false,
    configured: entry !== undefined,
  };
}

/** `functions/config.json:3:5 $[2].name: message` — one line per diagnostic. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}${d.line !== undefined ? `:${d.line}:${d.column ?? 1}` : ''}`;
  const pathPart = d.jsonPath !== undefined && d.jsonPath !== '$' ? ` ${d.jsonPath}` : '';
  return `${d.severity}: ${where}${pathPart}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`;
}
