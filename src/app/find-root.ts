import { lstatSync } from 'node:fs';
import path from 'node:path';
import { readRegularFile } from './regular-file.js';

/** The files that mark an app root, in the order the CLI checks them (SPEC section 1). */
export const ROOT_CONFIG_FILES = [
  'root_config.json',
  'realm_config.json',
  'config.json',
  'stitch.json',
] as const;

/**
 * A legacy `config.json`/`stitch.json` marks an app only when it is an app config (an object with
 * `app_id` or `config_version`): functions/config.json and the legacy per-function
 * functions/<name>/config.json share the file name.
 */
function isLegacyAppConfig(file: string): boolean {
  // Never a FIFO or a device: walking up must not block on an odd file named config.json.
  const read = readRegularFile(file);
  if (!read.ok) return false;
  try {
    const doc = JSON.parse(read.text) as unknown;
    return (
      typeof doc === 'object' &&
      doc !== null &&
      !Array.isArray(doc) &&
      ('app_id' in doc || 'config_version' in doc)
    );
  } catch {
    return false;
  }
}

export function rootConfigIn(dir: string): string | undefined {
  return ROOT_CONFIG_FILES.find((name) => {
    const file = path.join(dir, name);
    // lstat: a dangling or odd root_config.json still marks the app, and the loader reports it.
    try {
      lstatSync(file);
    } catch {
      return false;
    }
    return name === 'root_config.json' || name === 'realm_config.json' || isLegacyAppConfig(file);
  });
}

/** Walks up from `start` to the first folder holding a root config file. */
export function findAppRoot(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (rootConfigIn(dir) !== undefined) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
