/**
 * A package bundle as the sandbox process compiles it (worker.ts, once per isolate): with V8's
 * code cache from memory (this process compiled it before), else from disk (another process did:
 * package-cache.ts checks it is whole), else produced by this compile and written to disk. A cache V8 rejects (another V8, other flags) is replaced.
 */
import { createRequire } from 'node:module';
import type IsolatedVm from 'isolated-vm';
import { loadIsolatedVm } from './isolated-vm.js';
import { CodeCacheFile } from './package-cache.js';

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

export class PackageScript {
  private cachedData: IsolatedVm.ExternalCopy<ArrayBuffer> | undefined;
  private fromDisk: boolean | undefined;
  private readonly file: CodeCacheFile;

  constructor(
    private readonly code: string,
    private readonly filename: string,
  ) {
    this.file = new CodeCacheFile(code, filename, codeCacheRuntime());
  }

  compile(isolate: IsolatedVm.Isolate): IsolatedVm.Script {
    const ivm = loadIsolatedVm();
    if (this.cachedData === undefined && this.fromDisk === undefined) {
      const payload = this.file.read();
      this.fromDisk = payload !== undefined;
      if (payload !== undefined) {
        const bytes = payload.buffer.slice(
          payload.byteOffset,
          payload.byteOffset + payload.byteLength,
        ) as ArrayBuffer;
        this.cachedData = new ivm.ExternalCopy(bytes);
      }
    }
    if (this.cachedData !== undefined) {
      const script = isolate.compileScriptSync(this.code, {
        filename: this.filename,
        cachedData: this.cachedData,
      }) as IsolatedVm.Script & { cachedDataRejected?: boolean };
      if (script.cachedDataRejected !== true) return script;
      this.cachedData = undefined;
    }
    const script = isolate.compileScriptSync(this.code, {
      filename: this.filename,
      produceCachedData: true,
    }) as IsolatedVm.Script & IsolatedVm.CachedDataResult;
    if (script.cachedData !== undefined) {
      const produced = script.cachedData;
      this.cachedData = produced;
      // Written now, on the first load's path (a few ms, once per package version): a one-off
      // `function run` kills this process as soon as its call is answered.
      this.file.write(Buffer.from(produced.copy()));
    }
    return script;
  }
}
