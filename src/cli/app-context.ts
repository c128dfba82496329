/** Loading the app for a command: --local, --env and --app handling shared by every command. */
import { loadApp } from '../app/load-app.js';
import type { LoadedApp } from '../app/types.js';
import { TriggerboxError } from '../shared/errors.js';
import type { CliIO } from './io.js';

export interface GlobalOptions {
  local?: string | undefined;
  env?: string | undefined;
  app?: string | undefined;
  outputFormat: 'text' | 'json';
}

export function openApp(options: GlobalOptions, io: CliIO): LoadedApp {
  const loaded = loadApp({ root: options.local, cwd: io.cwd, environment: options.env });
  const wanted = options.app;
  if (wanted !== undefined && wanted !== '') {
    const { name, id, clientAppId } = loaded.app.info;
    if (![name, id, clientAppId].includes(wanted)) {
      throw new TriggerboxError('AppMismatch', `failed to find app '${wanted}'`, {
        hint: `the local app is '${name}'${id ? ` (id ${id})` : ''}; drop --app or pass that name`,
      });
    }
  }
  return loaded;
}
