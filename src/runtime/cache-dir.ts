/**
 * Where triggerbox keeps what it can rebuild: Node's compile cache of triggerbox's own modules
 * (`compile/`), package bundles (`packages/`) and V8 code caches of package bundles (`v8/`).
 * Deleting the folder is always safe. `TRIGGERBOX_CACHE_DIR` moves it; `TRIGGERBOX_CACHE_DIR=off`
 * turns every one of these caches off. Imports nothing but Node built-ins: the CLI's entry loads
 * it before anything else.
 */
import { homedir } from 'node:os';
import path from 'node:path';

export const CACHE_DIR_VARIABLE = 'TRIGGERBOX_CACHE_DIR';

/** The cache folder, or undefined when caching is off. Nothing is created here. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env[CACHE_DIR_VARIABLE];
  if (chosen === 'off') return undefined;
  if (chosen !== undefined && chosen !== '') return path.resolve(chosen);
  return path.join(userCacheBase(env), 'triggerbox');
}

/** The user's cache folder: $XDG_CACHE_HOME, else ~/.cache (scripts/node.sh reads it the same way). */
export function userCacheBase(env: Record<string, string | undefined> = process.env): string {
  return env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache');
}
