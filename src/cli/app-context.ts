/** Loading the app for a command: --local, --env and --app handling shared by every command. */
import { loadApp, loadAppHead, type AppHead, type LoadAppOptions } from '../app/load-app.js';
import type { LoadedApp } from '../app/types.js';
import { TriggerboxError } from '../shared/errors.js';
import type { CliIO } from './io.js';

export interface GlobalOptions {
  local?: string | undefined;
  env?: string | undefined;
  app?: string | undefined;
  outputFormat: 'text' | 'json';
}

const setupErrors = new WeakSet<object>();

/**
 * Marks an error as happening while a command resolved its inputs (finding the app, asking for
 * a missing flag): appservices prints those as `<command> setup failed: ...`.
 */
export function setupFailure<E>(error: E): E {
  if (typeof error === 'object' && error !== null) setupErrors.add(error);
  return error;
}

export function isSetupFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && setupErrors.has(error);
}

export function openApp(options: GlobalOptions, io: CliIO): LoadedApp {
  return asSetup(() => {
    const loaded = loadApp(appOptions(options, io));
    checkWanted(options, loaded.app);
    return loaded;
  });
}

/** openApp for a command that needs only the app's folder and names (the secrets commands). */
export function openAppHead(options: GlobalOptions, io: CliIO): AppHead {
  return asSetup(() => {
    const head = loadAppHead(appOptions(options, io));
    checkWanted(options, head);
    return head;
  });
}

function appOptions(options: GlobalOptions, io: CliIO): LoadAppOptions {
  return { root: options.local, cwd: io.cwd, environment: options.env };
}

/** Runs `find`, marking what it throws as a setup failure. */
function asSetup<T>(find: () => T): T {
  try {
    return find();
  } catch (error) {
    throw setupFailure(error);
  }
}

/** --app: the local app must be the one named. */
function checkWanted(options: GlobalOptions, head: AppHead): void {
  const wanted = options.app;
  if (wanted !== undefined && wanted !== '') {
    const { name, id, clientAppId } = head.info;
    if (![name, id, clientAppId].includes(wanted)) {
      throw new TriggerboxError('AppMismatch', `failed to find app '${wanted}'`, {
        hint: `the local app is '${name}'${id ? ` (id ${id})` : ''}; drop --app or pass that name`,
      });
    }
  }
}
