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
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `isolated-vm failed to load (${reason}). Run \`npm rebuild isolated-vm\`; it needs Node 20 with python3, make and g++ to build, and package.json's "allowScripts" must allow it.`,
      );
    }
  }
  return loaded;
}
