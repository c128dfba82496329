import { existsSync } from 'node:fs';
import path from 'node:path';

/** The files that mark an app root, in the order the CLI checks them (SPEC section 1). */
export const ROOT_CONFIG_FILES = [
  'root_config.json',
  'realm_config.json',
  'config.json',
  'stitch.json',
] as const;

export function rootConfigIn(dir: string): string | undefined {
  return ROOT_CONFIG_FILES.find((name) => existsSync(path.join(dir, name)));
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
