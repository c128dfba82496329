/**
 * The one place that loads isolated-vm (lazily, in the sandbox process only), so that switching
 * isolated-vm majors later touches one file, and a broken native build gets an actionable error.
 */
import { createRequire } from 'node:module';
import type IsolatedVm from 'isolated-vm';

export type Ivm = typeof IsolatedVm;

let loaded: Ivm | undefined;

export function loadIsolatedVm(): Ivm {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('isolated-vm') as Ivm;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(
        `isolated-vm failed to load on Node ${process.versions.node} (${reason}). triggerbox needs Node 24 or later; reinstall isolated-vm with \`npm rebuild isolated-vm\` (package.json's "allowScripts" must allow it).`,
      );
    }
  }
  return loaded;
}
