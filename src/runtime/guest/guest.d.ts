/**
 * What the guest files (prelude.js, text-codec.js, the services' guest.js) are type-checked
 * against (tsconfig.guest.json, part of `npm run lint`): the two host handles typed by the op
 * table of ../boundary/host-ops.ts, and the globals of the bare isolate the prelude fills in.
 */
import type {
  AsyncOpName,
  BlockingOpName,
  HostOps,
  OpReply,
  SyncOpName,
} from '../boundary/host-ops.js';

export type {
  GuestLogLevel,
  HostOps,
  ModuleResolution,
  OpReply,
  TransferData,
  WireError,
} from '../boundary/host-ops.js';

/** The sync handle: an isolated-vm Callback answered by the sandbox process at once. */
export type SyncHost = <K extends SyncOpName>(
  op: K,
  ...args: HostOps[K]['args']
) => HostOps[K]['result'];

/** The other handle: an isolated-vm Reference to the host's op function, as the guest sees it. */
export interface HostReference {
  /** A `blocking` op: the isolate waits while the parent answers. */
  applySyncPromise<K extends BlockingOpName>(
    receiver: undefined,
    args: [K, ...HostOps[K]['args']],
    options?: { arguments?: { copy?: boolean } },
  ): OpReply<HostOps[K]['result']>;
  /** An `async` op: a promise of the parent's answer; the isolate keeps running. */
  apply<K extends AsyncOpName>(
    receiver: undefined,
    args: [K, ...HostOps[K]['args']],
    options: { arguments: { copy: true }; result: { promise: true; copy: true } },
  ): Promise<OpReply<HostOps[K]['result']>>;
}

/** What the prelude's entry answers the host for a call (worker.ts outcomeOf reads it). */
export type CallAnswer = (
  | { ok: true; mode: 'undefined' }
  | { ok: true; mode: 'copy'; value: unknown }
  | { ok: true; mode: 'ejson'; text: string }
  | { ok: false; code: string; message: string; stack: string }
) & {
  /** Whether the call used BSON, EJSON or Buffer (worker.ts prepares contexts with them). */
  bson?: boolean;
};

type TimerCallback = (...args: unknown[]) => void;

declare global {
  /** Set by the prelude script; called once per context by worker.ts, then deleted. */
  var __tb_init:
    | ((
        hostSync: SyncHost,
        hostRef: HostReference,
        manifestJSON: string,
        capsJSON: string,
        valuesJSON: string,
        constantsJSON: string,
      ) => (
        kind: string,
        a?: unknown,
        b?: unknown,
        c?: unknown,
        d?: unknown,
        e?: unknown,
      ) => unknown)
    | undefined;
  /**
   * Set by libs.js when the `libs` op runs it, or when worker.ts runs it while preparing a
   * context; taken and deleted by the prelude.
   */
  var __tb_libs: { BSON: Record<string, any> } | undefined;
  /** Set by buffer.js when the `buffer` op runs it; taken and deleted by the prelude. */
  var __tb_buffer: unknown;
  /** Set by a package's factory script when the `runPackage` op runs it. */
  var __tb_module:
    | ((
        this: unknown,
        module: { exports: unknown },
        exports: unknown,
        require: (spec: string) => unknown,
      ) => void)
    | undefined;
  /** The function file's `exports = function ...` target. */
  var exports: unknown;
  /** utils.crypto and utils.jwt (services/crypto/guest.js). */
  var utils: unknown;
  /** The platform's process (services/node-builtins/process.js); require('process') is it. */
  var process: unknown;
  /** The global object, as real apps use it (global.context). */
  var global: unknown;
  var require: (spec: string) => unknown;
  var context: Record<string, unknown>;
  var console: Record<string, (...args: unknown[]) => void>;
  var crypto: { getRandomValues<T extends ArrayBufferView>(array: T): T };
  var setTimeout: (callback: TimerCallback, ms?: number, ...args: unknown[]) => number;
  var setInterval: (callback: TimerCallback, ms?: number, ...args: unknown[]) => number;
  var setImmediate: (callback: TimerCallback, ...args: unknown[]) => number;
  var clearTimeout: (id: number) => void;
  var clearInterval: (id: number) => void;
  var clearImmediate: (id: number) => void;
  var queueMicrotask: (callback: () => void) => void;
  var atob: (data: string) => string;
  var btoa: (data: string) => string;
  var TextEncoder: unknown;
  var TextDecoder: unknown;
}
