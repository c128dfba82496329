// @ts-check
// The sandbox prelude. It runs once in every fresh context, before any function code, and sets up
// the App Services globals (console, context, BSON, EJSON, Buffer, require, timers) on top of the
// host capabilities that the host passes to __tb_init. Nothing host-provided stays reachable from
// function code: the capabilities live only in this closure, and __tb_init deletes itself.
import { atob, btoa, TextDecoder, TextEncoder } from './text-codec.js';
// Each service's guest wrapper: plain functions over callHostSync/callHostAsync and BSON.
import { createHttp } from '../../services/http/guest.js';
import { createServices } from '../../services/mongodb/guest.js';

/**
 * @typedef {import('./guest.js').SyncHost} SyncHost
 * @typedef {import('./guest.js').HostReference} HostReference
 * @typedef {import('./guest.js').TransferData} TransferData
 * @typedef {import('./guest.js').CallAnswer} CallAnswer
 * @typedef {import('./guest.js').GuestLogLevel} GuestLogLevel
 * @typedef {import('./guest.js').WireError} WireError
 * @typedef {{ callback: (...args: unknown[]) => void, args: unknown[], repeat: boolean, ms: number }} Timer
 */

const UNSUPPORTED_BUILTINS = ['child_process', 'cluster', 'domain', 'readline', 'v8', 'vm'];
// Node built-ins that the sandbox provides (the rest of the Node 10 API level is not emulated yet).
const NODE_BUILTINS = [
  'assert',
  'buffer',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'http',
  'https',
  'net',
  'os',
  'path',
  'process',
  'punycode',
  'querystring',
  'stream',
  'string_decoder',
  'timers',
  'tls',
  'tty',
  'url',
  'util',
  'zlib',
];

// The host ops are the table of ../boundary/host-ops.ts. `hostSync` is an isolated-vm Callback
// for the `sync` ops, answered by the sandbox process; `hostRef` a Reference for the `parent` ones:
// `blocking` ops through applySyncPromise (context.values.get of a Secret, require() and the
// synchronous service ops stay synchronous, as on the platform) and `async` ops through apply
// with a promise result (context.http). `capsJSON` holds the output caps (protocol.ts
// OUTPUT_CAPS), enforced here, before anything crosses out of the isolate: a 1 MiB string
// referenced 2,000 times is a few MB in here and 2 GB once copied out.
/**
 * @param {SyncHost} hostSync
 * @param {HostReference} hostRef
 * @param {string} manifestJSON
 * @param {string} capsJSON
 */
globalThis.__tb_init = function init(hostSync, hostRef, manifestJSON, capsJSON) {
  delete (/** @type {{ __tb_init?: unknown }} */ (globalThis).__tb_init);
  const manifest = JSON.parse(manifestJSON);
  /** @type {typeof import('../protocol.js').OUTPUT_CAPS} */
  const caps = JSON.parse(capsJSON);
  /** @type {(level: GuestLogLevel, message: string) => void} */
  const hostLog = (level, message) => hostSync('log', level, message);
  /** @param {string} name */
  const hostSource = (name) => hostSync('source', name);
  /** @param {string} name */
  const hostValue = (name) => hostSync('value', name);
  const hostLibs = () => hostSync('libs');
  /** @param {string} spec */
  const hostPkgLoad = (spec) => hostSync('runPackage', spec);
  /** @type {(id: number, ms: number, repeat: boolean) => string | null} */
  const hostTimer = (id, ms, repeat) => hostSync('timer', id, ms, repeat);
  /** @param {number} id */
  const hostClearTimer = (id) => hostSync('clearTimer', id);
  /** @param {number} size */
  const hostRandom = (size) => hostSync('random', size);
  /** @param {string} name */
  const hostSecret = (name) => hostRef.applySyncPromise(undefined, ['secret', name]);
  /** @type {(spec: string, where: string) => import('./guest.js').OpReply<null>} */
  const hostPkgFetch = (spec, where) =>
    hostRef.applySyncPromise(undefined, ['fetchPackage', spec, where]);
  // Intrinsics taken before any function code runs: what enforces the caps must not be
  // replaceable by the code it constrains (Array.prototype.push, String.prototype.slice ...).
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const objectProto = Object.prototype;
  const apply = Reflect.apply;
  const defineProperty = Object.defineProperty;
  const objectKeys = Object.keys;
  const getPrototypeOf = Object.getPrototypeOf;
  const isArray = Array.isArray;
  const toStringTag = Object.prototype.toString;
  const stringSlice = String.prototype.slice;
  const StringCtor = String;
  const DateCtor = Date;
  const RegExpCtor = RegExp;
  const dateGetTime = Date.prototype.getTime;
  const ErrorCtor = Error;
  const weakMapGet = WeakMap.prototype.get;
  const weakMapSet = WeakMap.prototype.set;

  // Failures the prelude raises carry their error_code here, out of reach of function code: a
  // field on the error (or a constructor that sets one) would let a function pick its own code.
  /** @type {WeakMap<object, string>} */
  const guestCodes = new WeakMap();
  /**
   * @param {string} code
   * @param {string} message
   */
  function guestError(code, message) {
    const error = new ErrorCtor(message);
    apply(weakMapSet, guestCodes, [error, code]);
    return error;
  }

  // ---- the parent's ops: a reply is {ok, value} or {ok: false, error}, never a rejection ----
  /**
   * A parent op's value, or its failure thrown here as the function's Error.
   * @template T
   * @param {import('./guest.js').OpReply<T>} reply
   * @returns {T}
   */
  function unwrap(reply) {
    if (reply.ok) return reply.value;
    throw guestError('FunctionExecutionError', reply.error.message);
  }
  /**
   * A synchronous op of a host service ('<service>.<op>'): the isolate waits for the parent.
   * `R` is what the service's wrapper expects back (the op and its wrapper agree on the data).
   * @template [R=TransferData]
   * @param {string} op
   * @param {TransferData} data
   * @returns {R}
   */
  function callHostSync(op, data) {
    return /** @type {R} */ (
      unwrap(
        hostRef.applySyncPromise(undefined, ['service', op, data], { arguments: { copy: true } }),
      )
    );
  }
  /**
   * An asynchronous op of a host service: the parent serves it while the function runs on; it is
   * cancelled when the call ends, and counts against the call's async operations in flight.
   * @template [R=TransferData]
   * @param {string} op
   * @param {TransferData} data
   * @returns {Promise<R>}
   */
  async function callHostAsync(op, data) {
    const reply = await hostRef.apply(undefined, ['serviceAsync', op, data], {
      arguments: { copy: true },
      result: { promise: true, copy: true },
    });
    return /** @type {R} */ (unwrap(reply));
  }

  // Never throws, whatever `value` is (a Symbol, an object whose toString throws, a Proxy).
  /**
   * @param {unknown} value
   * @returns {string}
   */
  function safeString(value) {
    if (typeof value === 'string') return value;
    try {
      return StringCtor(value);
    } catch {
      try {
        return apply(toStringTag, value, []);
      } catch {
        return '[unprintable value]';
      }
    }
  }
  /**
   * @param {string} text
   * @param {number} max
   * @param {string} what
   */
  function truncate(text, max, what) {
    if (text.length <= max) return text;
    return `${apply(stringSlice, text, [0, max])} [${what} truncated: ${text.length} characters, triggerbox keeps ${max}]`;
  }

  // ---- BSON, EJSON, Buffer: loaded on first use (the bundle costs ~4 ms per context) ----
  /** @type {{ BSON: Record<string, any>, Buffer: unknown } | undefined} */
  let libs;
  let loadingLibs = false;
  /** @returns {{ BSON: Record<string, any>, Buffer: unknown }} */
  function loadLibs() {
    if (libs === undefined) {
      // The bundles probe `typeof Buffer` and friends while they load: keep the getters quiet.
      loadingLibs = true;
      try {
        hostLibs();
      } finally {
        loadingLibs = false;
      }
      const loaded = /** @type {NonNullable<typeof globalThis.__tb_libs>} */ (globalThis.__tb_libs);
      delete (/** @type {{ __tb_libs?: unknown }} */ (globalThis).__tb_libs);
      libs = { BSON: platformBSON(loaded.BSON), Buffer: loaded.Buffer };
    }
    return libs;
  }
  /** @param {Record<string, any>} bson */
  function platformBSON(bson) {
    const RealObjectId = bson.ObjectId;
    // App Services lets functions call BSON.ObjectId() without `new`.
    /** @param {unknown[]} args */
    function ObjectId(...args) {
      return new RealObjectId(...args);
    }
    Object.setPrototypeOf(ObjectId, RealObjectId);
    ObjectId.prototype = RealObjectId.prototype;
    const Binary = bson.Binary;
    if (!Binary.fromBase64)
      Binary.fromBase64 = (/** @type {string} */ text, /** @type {number} */ subType) =>
        Binary.createFromBase64(text, subType);
    if (!Binary.fromHex)
      Binary.fromHex = (/** @type {string} */ hex, /** @type {number} */ subType) =>
        Binary.createFromHexString(hex, subType);
    const proto = Binary.prototype;
    if (!proto.toBase64)
      proto.toBase64 = function () {
        return this.toString('base64');
      };
    if (!proto.toHex)
      proto.toHex = function () {
        return this.toString('hex');
      };
    if (!proto.text)
      proto.text = function () {
        return this.toString('utf8');
      };
    return Object.freeze({ ...bson, ObjectId });
  }
  /**
   * @param {string} name
   * @param {() => unknown} load
   */
  function defineLazyGlobal(name, load) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      enumerable: false,
      get() {
        if (loadingLibs) return undefined;
        const value = load();
        Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
        return value;
      },
      set(/** @type {unknown} */ value) {
        Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
      },
    });
  }
  defineLazyGlobal('BSON', () => loadLibs().BSON);
  defineLazyGlobal('EJSON', () => loadLibs().BSON.EJSON);
  defineLazyGlobal('Buffer', () => loadLibs().Buffer);
  globalThis.atob = atob;
  globalThis.btoa = btoa;
  globalThis.TextEncoder = TextEncoder;
  globalThis.TextDecoder = TextDecoder;
  // A waitAsync with a timeout never resolved under isolated-vm 7 (the call hung until its time
  // limit) and aborted the whole sandbox process under isolated-vm 5; the platform's JavaScript
  // has no Atomics.waitAsync either.
  delete (/** @type {{ waitAsync?: unknown }} */ (Atomics).waitAsync);
  const MAX_RANDOM_BYTES = 65536;
  const integerArrayTags = [
    '[object Int8Array]',
    '[object Uint8Array]',
    '[object Uint8ClampedArray]',
    '[object Int16Array]',
    '[object Uint16Array]',
    '[object Int32Array]',
    '[object Uint32Array]',
    '[object BigInt64Array]',
    '[object BigUint64Array]',
  ];
  globalThis.crypto = {
    /**
     * @template {ArrayBufferView} T
     * @param {T} array
     * @returns {T}
     */
    getRandomValues(array) {
      if (!integerArrayTags.includes(apply(toStringTag, array, []))) {
        throw new TypeError('crypto.getRandomValues: the argument must be an integer TypedArray');
      }
      // As in browsers and Node: a request over 65,536 bytes throws, it never leaves zeros.
      if (array.byteLength > MAX_RANDOM_BYTES) {
        const error = new ErrorCtor(
          `The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (${MAX_RANDOM_BYTES})`,
        );
        error.name = 'QuotaExceededError';
        throw error;
      }
      const bytes = hostRandom(array.byteLength);
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
      return array;
    },
  };

  // ---- console ----
  /**
   * @param {unknown} arg
   * @returns {string}
   */
  function formatArg(arg) {
    if (typeof arg === 'string') return arg;
    if (arg === undefined) return 'undefined';
    if (typeof arg === 'function') return `[Function${arg.name ? `: ${arg.name}` : ''}]`;
    if (typeof arg === 'symbol' || typeof arg === 'bigint') return String(arg);
    if (arg instanceof Error) return arg.stack || `${arg.name}: ${arg.message}`;
    if (typeof arg !== 'object' || arg === null) return String(arg);
    try {
      if (libs !== undefined) return libs.BSON.EJSON.stringify(arg, { relaxed: true });
      return jsonStringify(arg);
    } catch {
      return String(arg);
    }
  }
  /** @param {unknown} arg */
  function formatSafely(arg) {
    try {
      return safeString(formatArg(arg));
    } catch {
      return safeString(arg);
    }
  }
  /** @param {GuestLogLevel} level */
  function logger(level) {
    return (/** @type {unknown[]} */ ...args) => {
      let line = '';
      for (let i = 0; i < args.length; i++) line += (i > 0 ? ' ' : '') + formatSafely(args[i]);
      hostLog(level, truncate(line, caps.logLineChars, 'log line'));
    };
  }
  globalThis.console = {
    log: logger('log'),
    info: logger('info'),
    debug: logger('debug'),
    warn: logger('warn'),
    error: logger('error'),
    trace: logger('log'),
  };

  // ---- timers: host-backed, per invocation ----
  /** @type {Map<number, Timer>} */
  const timers = new Map();
  let nextTimer = 1;
  /**
   * @param {unknown} callback
   * @param {unknown} ms
   * @param {unknown[]} args
   * @param {boolean} repeat
   */
  function addTimer(callback, ms, args, repeat) {
    if (typeof callback !== 'function')
      throw new TypeError('The "callback" argument must be a function');
    const id = nextTimer++;
    const delay = Math.max(0, Number(ms) || 0);
    // The host refuses a timer past the call's limit on async operations in flight.
    const refused = hostTimer(id, delay, repeat);
    if (refused !== null) throw guestError('FunctionExecutionError', refused);
    timers.set(id, {
      callback: /** @type {Timer['callback']} */ (callback),
      args,
      repeat,
      ms: delay,
    });
    return id;
  }
  /** @param {unknown} id */
  function removeTimer(id) {
    const key = /** @type {number} */ (id);
    if (timers.delete(key)) hostClearTimer(key);
  }
  /** @param {number} id */
  function fire(id) {
    const timer = timers.get(id);
    if (timer === undefined) return;
    if (!timer.repeat) timers.delete(id);
    try {
      timer.callback(...timer.args);
    } catch (error) {
      hostLog(
        'error',
        truncate(
          `Uncaught exception in timer callback: ${formatSafely(error)}`,
          caps.logLineChars,
          'log line',
        ),
      );
    }
  }
  globalThis.setTimeout = (cb, ms, ...args) => addTimer(cb, ms, args, false);
  globalThis.setInterval = (cb, ms, ...args) => addTimer(cb, ms, args, true);
  globalThis.setImmediate = (cb, ...args) => addTimer(cb, 0, args, false);
  globalThis.clearTimeout = removeTimer;
  globalThis.clearInterval = removeTimer;
  globalThis.clearImmediate = removeTimer;
  globalThis.queueMicrotask = (/** @type {() => void} */ cb) => {
    Promise.resolve().then(cb);
  };

  // ---- function loading: each file is a sloppy-mode script assigning the global `exports` ----
  /** @type {Map<string, Function>} */
  const loaded = new Map();
  /** @type {string | undefined} set while a function file's top level runs: require() is refused there */
  let loadingFile;
  /**
   * @param {string} name
   * @returns {Function}
   */
  function loadFunction(name) {
    const cached = loaded.get(name);
    if (cached !== undefined) return cached;
    const found = hostSource(name);
    if (found === null) throw guestError('FunctionNotFound', `function not found: '${name}'`);
    const [file, source, syntaxError] = found;
    if (syntaxError !== null) throw guestError('FunctionSyntaxError', syntaxError);
    const previousExports = globalThis.exports;
    const previousFile = loadingFile;
    globalThis.exports = {};
    loadingFile = file;
    let fn;
    try {
      // Indirect eval runs the file in global scope, sloppy mode, exactly as the platform does;
      // sourceURL makes stack traces name the user's file with exact lines.
      (0, eval)(`${source}\n//# sourceURL=${file}`);
      fn = globalThis.exports;
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw guestError('FunctionSyntaxError', `${file}: ${error.message}`);
      }
      throw error;
    } finally {
      loadingFile = previousFile;
      globalThis.exports = previousExports;
    }
    if (typeof fn !== 'function') {
      throw guestError(
        'FunctionSyntaxError',
        `${file} does not assign a function to exports (write: exports = function (...) { ... })`,
      );
    }
    loaded.set(name, fn);
    return fn;
  }

  // ---- require(): npm packages from functions/node_modules, inside function bodies only ----
  /** @type {Map<string, { exports: unknown }>} */
  const modules = new Map();
  function callerLocation() {
    const lines = String(new Error().stack).split('\n').slice(1);
    // The first frame in a user's file: not the prelude's, not a package's.
    const frame = lines.find(
      (line) => /:\d+:\d+\)?$/.test(line) && !/triggerbox:|<isolated-vm|node_modules\//.test(line),
    );
    const match = frame && /\(?([^()\s]*:\d+:\d+)\)?$/.exec(frame);
    return match ? match[1] : undefined;
  }
  // SPEC section 2: a require names a package of functions/node_modules or a built-in, never a
  // file. bundle.ts checks the same on the host; this check answers before anything is asked.
  /** @param {string} spec */
  function specPathProblem(spec) {
    const segments = spec.split(/[\\/]/);
    if (
      spec === '' ||
      spec.length > 1000 ||
      /^[./\\]|^[A-Za-z]:|^[A-Za-z][A-Za-z0-9+.-]*:\/\/|\\|\0/.test(spec) ||
      segments.includes('.') ||
      segments.includes('..')
    ) {
      return 'a require names a package in functions/node_modules or a Node built-in, never a file path; share code between functions with context.functions.execute()';
    }
    return undefined;
  }
  /**
   * @param {unknown} spec
   * @returns {unknown}
   */
  function sandboxRequire(spec) {
    if (typeof spec !== 'string') throw new TypeError('require() needs a package name string');
    if (loadingFile !== undefined) {
      throw guestError(
        'FunctionExecutionError',
        `require('${spec}') at the top level of ${loadingFile}: App Services allows require() only inside function bodies; move it into the function`,
      );
    }
    const pathProblem = specPathProblem(spec);
    if (pathProblem !== undefined) {
      const where = callerLocation();
      throw guestError(
        'FunctionExecutionError',
        `${where ? `${where}: ` : ''}require(${jsonStringify(truncate(spec, 200, 'name'))}): ${pathProblem}`,
      );
    }
    const bare = spec.startsWith('node:') ? spec.slice(5) : spec;
    const root = bare.split('/')[0] ?? '';
    if (UNSUPPORTED_BUILTINS.includes(root)) {
      const where = callerLocation();
      throw guestError(
        'FunctionExecutionError',
        `${where ? `${where}: ` : ''}Node built-in '${root}' is not supported by App Services functions`,
      );
    }
    if (root === 'buffer') return { Buffer: loadLibs().Buffer };
    const known = modules.get(spec);
    if (known !== undefined) return known.exports;
    if (NODE_BUILTINS.includes(root) && bare === spec) {
      const where = callerLocation();
      throw guestError(
        'FunctionExecutionError',
        `${where ? `${where}: ` : ''}Node built-in '${root}' is not available in triggerbox's sandbox yet (supported: buffer)`,
      );
    }
    unwrap(hostPkgFetch(spec, callerLocation() ?? ''));
    hostPkgLoad(spec);
    const factory = /** @type {NonNullable<typeof globalThis.__tb_module>} */ (
      globalThis.__tb_module
    );
    delete (/** @type {{ __tb_module?: unknown }} */ (globalThis).__tb_module);
    const module = { exports: {} };
    modules.set(spec, module);
    factory.call(module.exports, module, module.exports, sandboxRequire);
    return module.exports;
  }
  globalThis.require = sandboxRequire;
  globalThis.exports = {};

  // ---- context ----
  let traceValues = false;
  const values = {
    /** @param {unknown} name */
    get(name) {
      // --trace-values: report which file asked (the first stack frame in a user's file).
      if (traceValues) hostSync('trace', String(name), callerLocation() ?? '');
      const found = hostValue(String(name));
      if (found === null) return undefined;
      if (found === 'secret') {
        return unwrap(hostSecret(String(name)));
      }
      return jsonParse(found);
    },
  };
  const functions = {
    /**
     * @param {unknown} name
     * @param {unknown[]} args
     */
    execute(name, ...args) {
      return loadFunction(String(name)).apply(undefined, args);
    },
  };
  // BSON and EJSON reach the services' wrappers through getters, so that creating them does not
  // load the bson bundle (about 4 ms a context): only a call that uses them does.
  const lazyBSON = {
    get Binary() {
      return loadLibs().BSON.Binary;
    },
  };
  const lazyEJSON = {
    /**
     * @param {unknown} value
     * @param {{ relaxed?: boolean }} [options]
     * @returns {string}
     */
    stringify: (value, options) => loadLibs().BSON.EJSON.stringify(value, options),
  };
  const http = createHttp(callHostAsync, lazyBSON, lazyEJSON);
  /** @type {{ user: unknown, request: unknown, runningAsSystem: () => boolean, [key: string]: unknown }} */
  const context = {
    values,
    environment: manifest.environment,
    functions,
    // The app's data sources (services/mongodb/guest.js); get() of another name is undefined.
    services: createServices(
      callHostAsync,
      callHostSync,
      () => loadLibs().BSON,
      (message) => hostLog('warn', message),
    ),
    http,
    app: manifest.app,
    user: undefined,
    request: undefined,
    runningAsSystem: () => false,
  };
  globalThis.context = context;

  // ---- crossing the boundary ----
  /**
   * @param {any} value parsed EJSON arguments
   * @returns {any}
   */
  function normalizeNumbers(value) {
    if (value === null || typeof value !== 'object') return value;
    const type = value._bsontype;
    if (type === 'Int32' || type === 'Double') return value.valueOf();
    if (Array.isArray(value)) return value.map(normalizeNumbers);
    const proto = Object.getPrototypeOf(value);
    if (proto !== objectProto && proto !== null) return value;
    for (const key of Object.keys(value)) value[key] = normalizeNumbers(value[key]);
    return value;
  }
  const NOT_PLAIN = Symbol('not plain');
  function resultTooLarge() {
    return guestError(
      'FunctionExecutionError',
      `the result is larger than the ${caps.resultLabel} limit on results (as Extended JSON; App Services caps responses at 18 MB): return less data, or store it and return a reference to it`,
    );
  }
  // The result's size as Extended JSON text, counted while it is copied: every occurrence of a
  // string counts, so a string referenced 2,000 times is refused before anything expands it.
  let resultChars = 0;
  /** @param {number} chars */
  function charge(chars) {
    resultChars += chars;
    if (resultChars > caps.resultChars) throw resultTooLarge();
  }
  /**
   * @param {object} target
   * @param {string | number} key
   * @param {unknown} value
   */
  function setOwn(target, key, value) {
    // Not `target[key] = value`: a setter that function code put on Object.prototype or
    // Array.prototype would see (and could replace) what is being copied.
    defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  }
  // A copy that isolated-vm can clone, or NOT_PLAIN when the value holds BSON or class instances.
  /**
   * @param {any} value
   * @param {Set<object>} seen
   * @returns {unknown}
   */
  function plainClone(value, seen) {
    if (value === null) {
      charge(4);
      return null;
    }
    const type = typeof value;
    if (type === 'string') {
      charge(value.length + 2);
      return value;
    }
    if (type === 'function' || type === 'symbol' || type === 'undefined') return undefined;
    if (type === 'bigint') return NOT_PLAIN;
    if (type !== 'object') {
      charge(24);
      return value;
    }
    if (value instanceof DateCtor) {
      charge(48);
      return new DateCtor(apply(dateGetTime, value, []));
    }
    if (value instanceof RegExpCtor) {
      const source = safeString(value.source);
      const flags = safeString(value.flags);
      charge(2 * source.length + flags.length + 48);
      return new RegExpCtor(source, flags);
    }
    if (seen.has(value))
      throw guestError(
        'FunctionExecutionError',
        'the result contains a circular reference and cannot be converted to EJSON',
      );
    seen.add(value);
    try {
      if (isArray(value)) {
        charge(2);
        /** @type {unknown[]} */
        const out = [];
        const length = value.length;
        for (let i = 0; i < length; i++) {
          const cloned = plainClone(value[i], seen);
          if (cloned === NOT_PLAIN) return NOT_PLAIN;
          charge(1);
          setOwn(out, i, cloned === undefined ? null : cloned);
        }
        return out;
      }
      const proto = getPrototypeOf(value);
      if ((proto !== objectProto && proto !== null) || typeof value.toJSON === 'function') {
        if (libs !== undefined) return NOT_PLAIN;
      }
      charge(2);
      /** @type {Record<string, unknown>} */
      const out = {};
      const keys = objectKeys(value);
      for (let i = 0; i < keys.length; i++) {
        const key = safeString(keys[i]);
        const cloned = plainClone(value[key], seen);
        if (cloned === NOT_PLAIN) return NOT_PLAIN;
        if (cloned !== undefined) {
          charge(key.length + 4);
          setOwn(out, key, cloned);
        }
      }
      return out;
    } finally {
      seen.delete(value);
    }
  }
  /**
   * @param {unknown} value
   * @returns {CallAnswer}
   */
  function encodeResult(value) {
    if (value === undefined) return { ok: true, mode: 'undefined' };
    resultChars = 0;
    const cloned = plainClone(value, new Set());
    if (cloned !== NOT_PLAIN) return { ok: true, mode: 'copy', value: cloned };
    // BSON values: counted as JSON.stringify visits the EJSON form, so that a string repeated
    // 2,000 times is refused before the text that would hold 2,000 copies is built.
    resultChars = 0;
    const text = loadLibs().BSON.EJSON.stringify(
      value,
      (/** @type {string} */ key, /** @type {unknown} */ item) => {
        charge(safeString(key).length + 4 + (typeof item === 'string' ? item.length : 0));
        return item;
      },
      undefined,
      { relaxed: false },
    );
    if (typeof text !== 'string' || text.length > caps.resultChars) throw resultTooLarge();
    return { ok: true, mode: 'ejson', text };
  }
  /**
   * @param {unknown} error
   * @returns {CallAnswer}
   */
  function encodeError(error) {
    try {
      if (error instanceof ErrorCtor) {
        let stack = '';
        try {
          stack = safeString(error.stack ?? '');
        } catch {
          stack = '';
        }
        let message;
        try {
          message = safeString(error.message);
        } catch {
          message = 'Error (its message could not be read)';
        }
        return {
          ok: false,
          code: apply(weakMapGet, guestCodes, [error]) ?? 'FunctionExecutionError',
          message: truncate(message, caps.errorChars, 'error message'),
          stack: truncate(stack, caps.errorChars, 'stack'),
        };
      }
      return {
        ok: false,
        code: 'FunctionExecutionError',
        message: truncate(formatSafely(error), caps.errorChars, 'error message'),
        stack: '',
      };
    } catch {
      return {
        ok: false,
        code: 'FunctionExecutionError',
        message: 'the function threw a value that cannot be printed',
        stack: '',
      };
    }
  }

  /**
   * @param {string} name
   * @param {'copy' | 'ejson'} argsMode
   * @param {any} argsPayload the arguments (copy), or their EJSON text
   * @param {string} callJSON
   * @returns {Promise<CallAnswer>}
   */
  async function call(name, argsMode, argsPayload, callJSON) {
    try {
      const options = jsonParse(callJSON);
      context.user = options.user;
      context.request = options.request;
      const system = options.user.type === 'system' || options.runAsSystem === true;
      context.runningAsSystem = () => system;
      traceValues = options.traceValues === true;
      const args =
        argsMode === 'copy'
          ? argsPayload
          : normalizeNumbers(loadLibs().BSON.EJSON.parse(argsPayload, { relaxed: false }));
      const fn = loadFunction(name);
      let result = fn.apply(undefined, args);
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        result = await result;
      }
      return encodeResult(result);
    } catch (error) {
      return encodeError(error);
    }
  }

  // The host's one way in: start a call, or fire a timer of the call in progress.
  return function entry(
    /** @type {string} */ kind,
    /** @type {any} */ a,
    /** @type {any} */ b,
    /** @type {any} */ c,
    /** @type {any} */ d,
  ) {
    return kind === 'fire' ? fire(a) : call(a, b, c, d);
  };
};
