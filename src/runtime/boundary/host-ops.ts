/**
 * The isolate boundary in one table: every operation the guest (prelude.js and the services'
 * guest wrappers) can ask of the host, with its argument and result types, how the guest waits
 * for it, and which process serves it.
 *
 * - `sync` ops are served by the sandbox process at once, through one isolated-vm `Callback`.
 * - `blocking` ops are served by the parent process while the isolate waits (`applySyncPromise`
 *   on one `Reference`): context.values.get of a Secret, require() of a package, and the
 *   synchronous service ops (`utils.crypto` is synchronous on the platform).
 * - `async` ops are served by the parent process while the isolate keeps running (`apply` with a
 *   promise result on the same `Reference`): the asynchronous service ops (`context.http`).
 *
 * worker.ts serves the `sandbox` ops and forwards the `parent` ops over IPC (protocol.ts);
 * runner.ts answers those, the service ones through the host services injected into
 * createRunner({services}). A new service is one provider `{name, ops}` plus its guest wrapper
 * calling `service`/`serviceAsync` with `'<name>.<op>'`: no edit here, in worker.ts or in
 * protocol.ts.
 *
 * The guest files are type-checked against this file (tsconfig.guest.json): types and plain data
 * only, no Node imports.
 */

/** What a require() resolves to (module-files.ts). */
export type ModuleResolution =
  /** A CommonJS or JSON file of functions/node_modules, by its path in it: loaded file by file. */
  | { kind: 'file'; id: string }
  /** A package with an ES module or TypeScript file: bundled by esbuild in the parent (bundle.ts). */
  | { kind: 'bundle'; spec: string }
  /** notFound: no such package or file (Node's MODULE_NOT_FOUND); else Node's `code`, if any. */
  | { kind: 'error'; message: string; notFound: boolean; code?: string };

/** How the guest waits for an op (see the file comment). */
export type OpMode = 'sync' | 'blocking' | 'async';
/** Which process serves an op: the sandbox process (isolates) or the parent (runner). */
export type OpSite = 'sandbox' | 'parent';

/**
 * Structured data that crosses both boundaries unchanged: the isolate's by isolated-vm's copy,
 * the process's by IPC's structured clone (`serialization: 'advanced'`). Bytes cross as bytes.
 */
export type TransferData =
  | null
  | undefined
  | boolean
  | number
  | string
  | Date
  | Uint8Array
  | readonly TransferData[]
  | { readonly [key: string]: TransferData };

/** A failure as it crosses a boundary: host functions never reject across isolated-vm. */
export interface WireError {
  name: string;
  message: string;
  /** The thrown error's string `code` (MODULE_NOT_FOUND for a package that is not installed). */
  code?: string;
}

/** The answer to a `blocking` or `async` op: never a rejection (isolated-vm issues 314, 417). */
export type OpReply<T> = { ok: true; value: T } | { ok: false; error: WireError };

export type GuestLogLevel = 'log' | 'info' | 'debug' | 'warn' | 'error';

interface Op<Mode extends OpMode, Site extends OpSite, Args extends unknown[], Result> {
  mode: Mode;
  site: Site;
  args: Args;
  result: Result;
}

/** Every guest -> host op. Sync ones answer with `result`; the others with `OpReply<result>`. */
export interface HostOps {
  /** A console line, already cut to OUTPUT_CAPS.logLineChars by the prelude. */
  log: Op<'sync', 'sandbox', [level: GuestLogLevel, message: string], void>;
  /** A context.values.get call and the `file:line:column` that made it (--trace-values). */
  trace: Op<'sync', 'sandbox', [name: string, where: string], void>;
  /**
   * A function's file, source (its import declarations turned into requires, on the same lines),
   * syntax error, who it runs as when another function executes it ('system', a user id, or null
   * for the caller's user), the last line of its transformed imports (0: none) and, in inspect
   * mode, the file's file:// URL for its sourceURL; null when the app has no such function.
   */
  source: Op<
    'sync',
    'sandbox',
    [name: string],
    | [
        file: string,
        source: string,
        syntaxError: string | null,
        runAs: string | null,
        importLines: number,
        url: string | null,
      ]
    | null
  >;
  /** Runs the bson bundle in the calling context (it sets globalThis.__tb_libs). */
  libs: Op<'sync', 'sandbox', [], void>;
  /** Runs the buffer bundle in the calling context (it sets globalThis.__tb_buffer). */
  buffer: Op<'sync', 'sandbox', [], void>;
  /** Runs a fetched package's factory script in the calling context (sets __tb_module). */
  runPackage: Op<'sync', 'sandbox', [spec: string], void>;
  /**
   * Resolves require(spec) as Node's CommonJS loader does, from the module file `from` (its id)
   * or, when `from` is '', from function code at `where` (module-files.ts).
   */
  resolveModule: Op<
    'sync',
    'sandbox',
    [spec: string, from: string, where: string],
    ModuleResolution
  >;
  /**
   * A resolved module file as the guest evaluates it (in its isolate: compiling a large file
   * never holds up the sandbox process's other calls): a JavaScript file wrapped as Node wraps
   * it, a `.json` file's text; or why it cannot load. The text is the answer itself, not a field:
   * isolated-vm copies a bare string about 3 times as fast.
   */
  moduleSource: Op<'sync', 'sandbox', [id: string], string | { error: string }>;
  /** Runs the Node built-ins bundle in the calling context (it sets globalThis.__tb_builtins). */
  builtins: Op<'sync', 'sandbox', [], void>;
  /** Starts a host timer; answers an error message when the call has too many ops in flight. */
  timer: Op<'sync', 'sandbox', [id: number, ms: number, repeat: boolean], string | null>;
  clearTimer: Op<'sync', 'sandbox', [id: number], void>;
  /** `size` random bytes (at most 65,536) for crypto.getRandomValues. */
  random: Op<'sync', 'sandbox', [size: number], Uint8Array>;
  /** A Secret-linked Value's secret: only the parent holds the store. */
  secret: Op<'blocking', 'parent', [valueName: string], string>;
  /** Bundles an npm package in the parent; the sandbox process keeps the script for runPackage. */
  fetchPackage: Op<'blocking', 'parent', [spec: string, where: string], null>;
  /** A synchronous op of a host service (`'<service>.<op>'`); the isolate waits for it. */
  service: Op<'blocking', 'parent', [op: string, data: TransferData], TransferData>;
  /** An asynchronous op of a host service; counts against MAX_ASYNC_OPS until it settles. */
  serviceAsync: Op<'async', 'parent', [op: string, data: TransferData], TransferData>;
}

export type HostOpName = keyof HostOps;
type OpsWhere<Mode extends OpMode> = {
  [K in HostOpName]: HostOps[K]['mode'] extends Mode ? K : never;
}[HostOpName];
export type SyncOpName = OpsWhere<'sync'>;
export type BlockingOpName = OpsWhere<'blocking'>;
export type AsyncOpName = OpsWhere<'async'>;

/** The table as data, for the host to check what a guest asks (and to keep the types honest). */
export const HOST_OPS: {
  readonly [K in HostOpName]: {
    readonly mode: HostOps[K]['mode'];
    readonly site: HostOps[K]['site'];
  };
} = {
  log: { mode: 'sync', site: 'sandbox' },
  trace: { mode: 'sync', site: 'sandbox' },
  source: { mode: 'sync', site: 'sandbox' },
  libs: { mode: 'sync', site: 'sandbox' },
  buffer: { mode: 'sync', site: 'sandbox' },
  runPackage: { mode: 'sync', site: 'sandbox' },
  resolveModule: { mode: 'sync', site: 'sandbox' },
  moduleSource: { mode: 'sync', site: 'sandbox' },
  builtins: { mode: 'sync', site: 'sandbox' },
  timer: { mode: 'sync', site: 'sandbox' },
  clearTimer: { mode: 'sync', site: 'sandbox' },
  random: { mode: 'sync', site: 'sandbox' },
  secret: { mode: 'blocking', site: 'parent' },
  fetchPackage: { mode: 'blocking', site: 'parent' },
  service: { mode: 'blocking', site: 'parent' },
  serviceAsync: { mode: 'async', site: 'parent' },
};

/** The platform's limit on asynchronous operations in flight in one call (SPEC section 7). */
export const MAX_ASYNC_OPS = 1000;

/**
 * A package's bundle as the parent answers it: the code, or, for a large bundle that lies in its
 * cache entry, where to read it and the hash the parent checked (reading 4.2 MB from the file took
 * a few ms where the IPC channel took 55-80 ms). `inline` asks for the code itself.
 */
export type PackageCode = string | (BundlePlace & { hash: string });

/** Where a bundle's code lies in its cache entry (package-cache.ts): the sandbox reads it there. */
export interface BundlePlace {
  file: string;
  /** Byte offset and length of the code (UTF-8) in the file. */
  start: number;
  bytes: number;
}

/**
 * What the parent process answers for the sandbox process (the IPC half of the `parent` ops).
 * `package` answers the bundle's code, which the sandbox process compiles and keeps.
 */
export interface ParentOps {
  secret: { arg: { valueName: string }; result: string };
  package: { arg: { spec: string; where: string; inline?: boolean }; result: PackageCode };
  service: {
    arg: { op: string; mode: 'sync' | 'async'; data: TransferData };
    result: TransferData;
  };
}
export type ParentOpName = keyof ParentOps;
