/**
 * A package bundle as the sandbox process compiles it (worker.ts, once per isolate): with V8's
 * code cache from memory (this process compiled it before), else from disk (another process did:
 * package-cache.ts checks it is whole), else produced by this compile and written to disk. A cache
 * V8 rejects (another V8, other flags) is replaced.
 *
 * A cache made right after the first compile holds the top-level code only: every function the
 * package's setup calls is compiled again, lazily, in every process (measured: lodash's setup
 * ran 100-200 ms in a new process against 35 ms in an isolate that had run it before). So once
 * the package has run, the script is compiled again in the same isolate (V8 takes it from the
 * isolate's compilation cache, with the functions compiled since) and that cache, which holds
 * them, replaces the first one, in memory and on disk. It is made off the call's path: a task
 * queued on the isolate, which runs when the call that required the package leaves it.
 */
import { createRequire } from 'node:module';
import type IsolatedVm from 'isolated-vm';
import { loadIsolatedVm } from './isolated-vm.js';
import { CodeCacheFile, codeHashOf } from './package-cache.js';

let runtimeKey: string | undefined;
/** What a code cache depends on besides the script: Node (V8), isolated-vm, the platform. */
function codeCacheRuntime(): string {
  if (runtimeKey === undefined) {
    let ivmVersion = 'unknown';
    try {
      ivmVersion = (
        createRequire(import.meta.url)('isolated-vm/package.json') as { version: string }
      ).version;
    } catch {
      // Still keyed by Node's version; V8 rejects a cache it cannot use.
    }
    runtimeKey = JSON.stringify([
      process.version,
      process.versions.v8,
      process.arch,
      ivmVersion,
      process.execArgv,
    ]);
  }
  return runtimeKey;
}

/** What this process knows of one bundle's code cache; shared by every PackageScript of it. */
interface CodeCacheState {
  file: CodeCacheFile;
  cachedData: IsolatedVm.ExternalCopy<ArrayBuffer> | undefined;
  /** Whether the disk was read already (once per process). */
  readDisk: boolean;
  /** Whether `cachedData` was made after the package ran (nothing more to make). */
  afterRun: boolean;
  /** Whether an after-run cache is being made. */
  making: boolean;
}

/**
 * By filename and content hash: the app's packages are fetched again after every reload
 * (worker.ts), and an unchanged bundle keeps the cache this process already holds.
 */
const states = new Map<string, CodeCacheState>();
const MAX_STATES = 64;
/** After-run caches being made or written (settledCodeCaches). */
const making = new Set<Promise<void>>();

/**
 * Resolves once the after-run caches being made now are on disk (or given up on): a one-off
 * `function run` waits for it before it ends the sandbox process (worker.ts, 'finish').
 */
export function settledCodeCaches(): Promise<void> {
  return Promise.all([...making]).then(() => undefined);
}

export class PackageScript {
  private readonly state: CodeCacheState;

  constructor(
    private readonly code: string,
    private readonly filename: string,
  ) {
    // The parent sends the hash it checked the bundle against (bundle.ts): not hashed again here.
    const hash = codeHashOf(code);
    const id = `${filename}\0${hash}`;
    let state = states.get(id);
    if (state === undefined) {
      state = {
        file: new CodeCacheFile(hash, filename, codeCacheRuntime()),
        cachedData: undefined,
        readDisk: false,
        afterRun: false,
        making: false,
      };
      if (states.size >= MAX_STATES) states.delete(states.keys().next().value as string);
      states.set(id, state);
    }
    this.state = state;
  }

  compile(isolate: IsolatedVm.Isolate): IsolatedVm.Script {
    const ivm = loadIsolatedVm();
    const state = this.state;
    if (state.cachedData === undefined && !state.readDisk) {
      state.readDisk = true;
      const read = state.file.read();
      if (read !== undefined) {
        const { payload } = read;
        const bytes = payload.buffer.slice(
          payload.byteOffset,
          payload.byteOffset + payload.byteLength,
        ) as ArrayBuffer;
        state.cachedData = new ivm.ExternalCopy(bytes);
        state.afterRun = read.afterRun;
      }
    }
    if (state.cachedData !== undefined) {
      const script = isolate.compileScriptSync(this.code, {
        filename: this.filename,
        cachedData: state.cachedData,
      }) as IsolatedVm.Script & { cachedDataRejected?: boolean };
      if (script.cachedDataRejected !== true) {
        this.makeAfterRun(isolate);
        return script;
      }
      state.cachedData = undefined;
      state.afterRun = false;
    }
    const script = isolate.compileScriptSync(this.code, {
      filename: this.filename,
      produceCachedData: true,
    }) as IsolatedVm.Script & IsolatedVm.CachedDataResult;
    if (script.cachedData !== undefined) {
      const produced = script.cachedData;
      state.cachedData = produced;
      // Written now, on the first load's path (a few ms, once per package version): a one-off
      // `function run` kills this process as soon as its call is answered, maybe before the
      // after-run cache is made.
      state.file.write(Buffer.from(produced.copy()), false);
    }
    this.makeAfterRun(isolate);
    return script;
  }

  /**
   * Queues, once per process, the compile that makes the after-run cache: isolated-vm runs one
   * task at a time per isolate, so it runs after the guest code now running (the require() that
   * asked for this script, which runs the package's setup) has left the isolate.
   */
  private makeAfterRun(isolate: IsolatedVm.Isolate): void {
    const state = this.state;
    if (state.afterRun || state.making) return;
    state.making = true;
    const made = isolate
      .compileScript(this.code, { filename: this.filename, produceCachedData: true })
      .then((script) => {
        const produced = (script as IsolatedVm.Script & IsolatedVm.CachedDataResult).cachedData;
        script.release();
        if (produced === undefined) return;
        state.cachedData = produced;
        state.afterRun = true;
        state.file.write(Buffer.from(produced.copy()), true);
      })
      .catch(() => {
        // The isolate was disposed first (the call timed out, the app reloaded): a later load
        // makes it.
      })
      .finally(() => {
        state.making = false;
        making.delete(made);
      });
    making.add(made);
  }
}
