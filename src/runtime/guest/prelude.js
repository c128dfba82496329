// @ts-check
// The sandbox prelude. It runs once in every fresh context, before any function code, and sets up
// the App Services globals (console, context, BSON, EJSON, Buffer, require, timers) on top of the
// host capabilities that the host passes to __tb_init. Nothing host-provided stays reachable from
// function code: the capabilities live only in this closure, and __tb_init deletes itself.
import { atob, btoa, TextDecoder, TextEncoder } from './text-codec.js';
// Each service's guest wrapper: plain functions over callHostSync/callHostAsync and BSON.
import { createHttp } from '../../services/http/guest.js';
import { createUtils } from '../../services/crypto/guest.js';
import { createServices } from '../../services/mongodb/guest.js';
// The `process` global, and the table that says which names a require gives the built-ins
// registry (both small; the registry itself, dist/guest/builtins.js, loads on first need).
import { createProcess } from '../../services/node-builtins/process.js';
import { lookupBuiltin } from '../../services/node-builtins/table.js';
import { requireSpecProblem, topLevelRequireMessage } from '../boundary/messages.js';

/**
 * @typedef {import('./guest.js').SyncHost} SyncHost
 * @typedef {import('./guest.js').HostReference} HostReference
 * @typedef {import('./guest.js').TransferData} TransferData
 * @typedef {import('./guest.js').CallAnswer} CallAnswer
 * @typedef {import('./guest.js').GuestLogLevel} GuestLogLevel
 * @typedef {import('./guest.js').WireError} WireError
 * @typedef {{ callback: (...args: unknown[]) => void, args: unknown[], repeat: boolean, ms: number }} Timer
 */

// The host ops are the table of ../boundary/host-ops.ts. `hostSync` is an isolated-vm Callback
// for the `sync` ops, answered by the sandbox process; `hostRef` a Reference for the `parent` ones:
// `blocking` ops through applySyncPromise (context.values.get of a Secret, require() and the
// synchronous service ops stay synchronous, as on the platform) and `async` ops through apply
// with a promise result (context.http). `capsJSON` holds the output caps (protocol.ts
// OUTPUT_CAPS), enforced here, before anything crosses out of the isolate: a 1 MiB string
// referenced 2,000 times is a few MB in here and 2 GB once copied out.
// `valuesJSON` holds the app's Values (protocol.ts AppPayload.values), parsed on the first
// context.values.get: a context is prepared for one app generation, so a plain Value needs no
// trip to the host.
/**
 * @param {SyncHost} hostSync
 * @param {HostReference} hostRef
 * @param {string} manifestJSON
 * @param {string} capsJSON
 * @param {string} valuesJSON
 * @param {string} constantsJSON the sandbox process's answers to the service ops declared
 *   constant (boundary/services.ts), as JSON text by op: answered here without a host trip
 */
globalThis.__tb_init = function init(
  hostSync,
  hostRef,
  manifestJSON,
  capsJSON,
  valuesJSON,
  constantsJSON,
) {
  delete (/** @type {{ __tb_init?: unknown }} */ (globalThis).__tb_init);
  // The bson + buffer bundle, when the host ran it while preparing this context (worker.ts does
  // when recent calls used BSON): taken out of reach of function code before any runs.
  const preloadedLibs = globalThis.__tb_libs;
  delete (/** @type {{ __tb_libs?: unknown }} */ (globalThis).__tb_libs);
  const manifest = JSON.parse(manifestJSON);
  /** @type {typeof import('../protocol.js').OUTPUT_CAPS} */
  const caps = JSON.parse(capsJSON);
  /** @type {(level: GuestLogLevel, message: string) => void} */
  const hostLog = (level, message) => hostSync('log', level, message);
  /** @param {string} name */
  const hostSource = (name) => hostSync('source', name);
  /** @param {string} spec */
  const hostPkgLoad = (spec) => hostSync('runPackage', spec);
  /** @type {(spec: string, from: string, where: string) => import('./guest.js').ModuleResolution} */
  const hostModResolve = (spec, from, where) => hostSync('resolveModule', spec, from, where);
  /** @type {(id: string) => string | { error: string }} */
  const hostModSource = (id) => hostSync('moduleSource', id);
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
  const indirectEval = eval;
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const objectProto = Object.prototype;
  const apply = Reflect.apply;
  const defineProperty = Object.defineProperty;
  const objectKeys = Object.keys;
  const hasOwn = Object.hasOwn;
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
  /** @type {Record<string, string> | undefined} */
  let constantTexts;
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
    constantTexts ??= /** @type {Record<string, string>} */ (jsonParse(constantsJSON));
    if (hasOwn(constantTexts, op)) return jsonParse(constantTexts[op]);
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
  /** @type {{ BSON: Record<string, any> } | undefined} */
  let libs;
  let loadingLibs = false;
  /** @type {unknown} */
  let bufferClass;
  /**
   * Runs a guest bundle (its host op evaluates it in this context) and takes the one global it
   * sets, deleted at once. The bundles probe `typeof Buffer` and friends while they load: the
   * lazy getters keep quiet meanwhile.
   * @param {'libs' | 'buffer' | 'builtins'} op
   * @param {'__tb_libs' | '__tb_buffer' | '__tb_builtins'} name
   * @returns {any}
   */
  function runGuestBundle(op, name) {
    loadingLibs = true;
    try {
      hostSync(op);
    } finally {
      loadingLibs = false;
    }
    const global = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis));
    const value = global[name];
    delete global[name];
    return value;
  }
  /** The npm `buffer` package's Buffer, a bundle of its own (buffer.js). */
  function loadBuffer() {
    if (bufferClass === undefined) bufferClass = runGuestBundle('buffer', '__tb_buffer');
    return bufferClass;
  }
  /** @returns {{ BSON: Record<string, any> }} */
  function loadLibs() {
    if (libs === undefined) {
      /** @type {NonNullable<typeof globalThis.__tb_libs>} */
      const loaded = preloadedLibs ?? runGuestBundle('libs', '__tb_libs');
      libs = { BSON: platformBSON(loaded.BSON) };
    }
    return libs;
  }
  /**
   * A BSON class callable with and without `new`, as the docs call them (`BSON.Int32(42)`):
   * instances are the real class's (instanceof holds), statics (Long.fromNumber) are inherited.
   * @param {any} Real
   * @param {(args: unknown[]) => unknown[]} [adapt]
   */
  function callableClass(Real, adapt = (args) => args) {
    /** @param {unknown[]} args */
    const wrapper = function (...args) {
      return new Real(...adapt(args));
    };
    Object.defineProperty(wrapper, 'name', { value: Real.name });
    Object.setPrototypeOf(wrapper, Real);
    wrapper.prototype = Real.prototype;
    return wrapper;
  }
  /** @type {unknown} */
  let maxKeyValue;
  /** @type {unknown} */
  let minKeyValue;
  /** @type {Record<string, any> | undefined} */
  let realBSON;
  /** @param {Record<string, any>} bson */
  function platformBSON(bson) {
    realBSON = bson;
    // BSON regular expressions have no g, y or d flag: the docs pass "ig" (JavaScript habit);
    // the flags a BSON regex cannot hold are left out rather than refused.
    const BSONRegExp = callableClass(bson.BSONRegExp, (args) =>
      args.length > 1 && typeof args[1] === 'string'
        ? [args[0], args[1].replace(/[gyd]/g, ''), ...args.slice(2)]
        : args,
    );
    // BSON.MaxKey / BSON.MinKey are used as values ({$lt: BSON.MaxKey}) and as classes: the
    // class itself serialises as {$maxKey: 1} (see ejsonReplacer, plainClone).
    const MaxKey = callableClass(bson.MaxKey);
    const MinKey = callableClass(bson.MinKey);
    maxKeyValue = MaxKey;
    minKeyValue = MinKey;
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
    const EJSON = bson.EJSON;
    /**
     * @param {unknown} replacer
     * @returns {(this: unknown, key: string, value: unknown) => unknown}
     */
    const withKeys = (replacer) =>
      function (key, value) {
        const own =
          value === maxKeyValue ? { $maxKey: 1 } : value === minKeyValue ? { $minKey: 1 } : value;
        return typeof replacer === 'function' ? apply(replacer, this, [key, own]) : own;
      };
    const platformEJSON = Object.freeze({
      ...EJSON,
      // Canonical unless asked otherwise, as the platform's EJSON.stringify (SPEC section 3).
      /**
       * @param {unknown} value
       * @param {any} [replacer]
       * @param {any} [space]
       * @param {any} [options]
       */
      stringify(value, replacer, space, options) {
        if (space !== null && typeof space === 'object') {
          options = space;
          space = 0;
        }
        if (replacer !== null && typeof replacer === 'object' && !isArray(replacer)) {
          options = replacer;
          replacer = undefined;
          space = 0;
        }
        const top =
          value === maxKeyValue || value === minKeyValue ? withKeys(undefined)('', value) : value;
        return EJSON.stringify(top, isArray(replacer) ? replacer : withKeys(replacer), space, {
          relaxed: false,
          ...options,
        });
      },
      // Keeps {"$numberLong": ...} a Long, {"$numberInt": ...} an Int32 (not relaxed).
      /**
       * @param {string} text
       * @param {any} [options]
       */
      parse: (text, options) => EJSON.parse(text, { relaxed: false, ...options }),
    });
    return Object.freeze({
      ...bson,
      ObjectId: callableClass(bson.ObjectId),
      Int32: callableClass(bson.Int32),
      Long: callableClass(bson.Long),
      Double: callableClass(bson.Double),
      Decimal128: callableClass(bson.Decimal128),
      BSONRegExp,
      MaxKey,
      MinKey,
      EJSON: platformEJSON,
    });
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
  defineLazyGlobal('Buffer', loadBuffer);
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
      // A Buffer can be here only once buffer.js ran: it prints as EJSON, as with bson loaded.
      if (libs !== undefined || bufferClass !== undefined)
        return loadLibs().BSON.EJSON.stringify(arg, { relaxed: true });
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
  /**
   * V8's own console: it reaches an attached debugger (Runtime.consoleAPICalled, with the live
   * values) in inspect mode, and does nothing in an isolate without an inspector.
   */
  const v8Console = globalThis.console;
  /**
   * @param {GuestLogLevel} level
   * @param {string} method
   */
  function logger(level, method = level) {
    const inspected = v8Console?.[method];
    return (/** @type {unknown[]} */ ...args) => {
      let line = '';
      for (let i = 0; i < args.length; i++) line += (i > 0 ? ' ' : '') + formatSafely(args[i]);
      hostLog(level, truncate(line, caps.logLineChars, 'log line'));
      if (inspected !== undefined) apply(inspected, v8Console, args);
    };
  }
  globalThis.console = {
    log: logger('log'),
    info: logger('info'),
    debug: logger('debug'),
    warn: logger('warn'),
    error: logger('error'),
    trace: logger('log', 'trace'),
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
  /** @type {(cb: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => number} */
  const sandboxSetTimeout = (cb, ms, ...args) => addTimer(cb, ms, args, false);
  /** @type {(cb: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => number} */
  const sandboxSetInterval = (cb, ms, ...args) => addTimer(cb, ms, args, true);
  /** @type {(cb: (...args: unknown[]) => void, ...args: unknown[]) => number} */
  const sandboxSetImmediate = (cb, ...args) => addTimer(cb, 0, args, false);
  globalThis.setTimeout = sandboxSetTimeout;
  globalThis.setInterval = sandboxSetInterval;
  globalThis.setImmediate = sandboxSetImmediate;
  globalThis.clearTimeout = removeTimer;
  globalThis.clearInterval = removeTimer;
  globalThis.clearImmediate = removeTimer;

  // ---- Node built-ins (SPEC section 3a): dist/guest/builtins.js, evaluated on first need ----
  const processObject = createProcess();
  /** @type {{ require: (name: string) => unknown } | undefined} */
  let registry;
  function builtins() {
    if (registry === undefined) {
      const Buffer = loadBuffer();
      const bundle = runGuestBundle('builtins', '__tb_builtins');
      registry = bundle.createBuiltinRegistry({
        // require('crypto')'s host ops: per-call handles, disposed when the call ends.
        callHost: (/** @type {string} */ op, /** @type {TransferData} */ args) =>
          callHostSync(`nodeCrypto.${op}`, args ?? {}),
        globals: {
          Buffer,
          TextEncoder,
          TextDecoder,
          setTimeout: sandboxSetTimeout,
          clearTimeout: removeTimer,
          setInterval: sandboxSetInterval,
          clearInterval: removeTimer,
          setImmediate: sandboxSetImmediate,
          clearImmediate: removeTimer,
          process: processObject,
        },
      });
      // util.promisify(setTimeout) of the global timers resolves after the delay, as in Node
      // (packages write it): the same custom promisified forms as require('timers') has.
      const custom = builtins().require('util').promisify.custom;
      const timers = builtins().require('timers');
      for (const [fn, name] of /** @type {const} */ ([
        [sandboxSetTimeout, 'setTimeout'],
        [sandboxSetImmediate, 'setImmediate'],
      ])) {
        defineProperty(fn, custom, { value: timers[name][custom], configurable: true });
      }
    }
    return /** @type {{ require: (name: string) => any }} */ (registry);
  }
  globalThis.process = processObject;
  // Real apps write global.context: `global` is the global object, as in Node.
  globalThis.global = globalThis;
  let loadingUrl = false;
  /** @param {'URL' | 'URLSearchParams'} name */
  const urlGlobal = (name) => () => {
    if (loadingUrl) return undefined;
    loadingUrl = true;
    try {
      return builtins().require('url')[name];
    } finally {
      loadingUrl = false;
    }
  };
  defineLazyGlobal('URL', urlGlobal('URL'));
  defineLazyGlobal('URLSearchParams', urlGlobal('URLSearchParams'));
  globalThis.queueMicrotask = (/** @type {() => void} */ cb) => {
    Promise.resolve().then(cb);
  };

  // ---- function loading: each file is a sloppy-mode script assigning the global `exports` ----
  /** @type {Map<string, Function>} */
  const loaded = new Map();
  /** @type {string | undefined} set while a function file's top level runs: require() is refused there */
  let loadingFile;
  /** The last line of the loading file's transformed import declarations: their requires run. */
  let loadingImportLines = 0;
  /**
   * Who each loaded function runs as when another function executes it (its run_as_system or
   * run_as_user_id): 'system', a user id, or null (the caller's user).
   * @type {Map<string, string | null>}
   */
  const runAsOf = new Map();
  /**
   * @param {string} name
   * @param {ReturnType<typeof hostSource>} [given] the host's answer, sent with the call
   * @returns {Function}
   */
  function loadFunction(name, given) {
    const cached = loaded.get(name);
    if (cached !== undefined) return cached;
    const found = given === undefined ? hostSource(name) : given;
    if (found === null) throw guestError('FunctionNotFound', `function not found: '${name}'`);
    const [file, source, syntaxError, runAs, importLines, url] = found;
    if (syntaxError !== null) throw guestError('FunctionSyntaxError', syntaxError);
    const previousExports = globalThis.exports;
    const previousFile = loadingFile;
    const previousImportLines = loadingImportLines;
    globalThis.exports = {};
    loadingFile = file;
    loadingImportLines = importLines;
    let fn;
    try {
      // Indirect eval runs the file in global scope, sloppy mode, exactly as the platform does;
      // sourceURL makes stack traces name the user's file with exact lines (in inspect mode, its
      // file:// URL: what debuggers set breakpoints on).
      (0, eval)(`${source}\n//# sourceURL=${url ?? file}`);
      fn = globalThis.exports;
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw guestError('FunctionSyntaxError', `${file}: ${error.message}`);
      }
      throw error;
    } finally {
      loadingFile = previousFile;
      loadingImportLines = previousImportLines;
      globalThis.exports = previousExports;
    }
    if (typeof fn !== 'function') {
      throw guestError(
        'FunctionSyntaxError',
        `${file} does not assign a function to exports (write: exports = function (...) { ... })`,
      );
    }
    loaded.set(name, fn);
    runAsOf.set(name, runAs);
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
  /**
   * @param {unknown} spec
   * @returns {unknown}
   */
  function sandboxRequire(spec) {
    if (typeof spec !== 'string') throw new TypeError('require() needs a package name string');
    if (loadingFile !== undefined && !fromImports(loadingFile)) {
      throw guestError('FunctionExecutionError', topLevelRequireMessage(spec, loadingFile));
    }
    return requireModule(spec);
  }
  /**
   * Is this top-level require one of the file's import declarations (transformed on the host)?
   * @param {string} file
   */
  function fromImports(file) {
    if (loadingImportLines === 0) return false;
    const where = callerLocation() ?? '';
    if (!where.startsWith(`${file}:`)) return false;
    return Number(where.slice(file.length + 1).split(':')[0]) <= loadingImportLines;
  }
  /**
   * A built-in or a package, for function code (after the top-level check) and for packages.
   * @param {string} spec
   * @returns {unknown}
   */
  function requireModule(spec) {
    const pathProblem = requireSpecProblem(spec);
    if (pathProblem !== undefined) {
      const where = callerLocation();
      throw guestError(
        'FunctionExecutionError',
        `${where ? `${where}: ` : ''}require(${jsonStringify(truncate(spec, 200, 'name'))}): ${pathProblem}`,
      );
    }
    // Built-ins first, as in Node: the registry answers them, and refuses node: names and the
    // modules it does not provide with its own messages (code MODULE_NOT_FOUND).
    if (lookupBuiltin(spec).kind !== 'package') return builtins().require(spec);
    return requirePackage(spec, '', callerLocation() ?? '');
  }
  /**
   * A package (or, from a module file, any file of functions/node_modules): loaded file by file
   * as Node loads CommonJS, or, for a package with ES modules or TypeScript, bundled by the parent.
   * @param {string} spec
   * @param {string} from the id of the module file that asks, '' for function code
   * @param {string} where
   * @returns {unknown}
   */
  function requirePackage(spec, from, where) {
    const resolved = hostModResolve(spec, from, where);
    if (resolved.kind === 'file') return loadModuleFile(resolved.id);
    if (resolved.kind === 'error') throw resolutionError(resolved);
    return loadBundle(resolved.spec, where);
  }
  /**
   * A require() or require.resolve() that failed, with Node's code: MODULE_NOT_FOUND for a
   * module that cannot be found (as for a refused built-in), else the resolver's.
   * @param {{ message: string, notFound: boolean, code?: string }} resolved
   */
  function resolutionError(resolved) {
    const error = /** @type {Error & {code?: string}} */ (
      guestError('FunctionExecutionError', resolved.message)
    );
    if (resolved.notFound) error.code = 'MODULE_NOT_FOUND';
    else if (resolved.code !== undefined) error.code = resolved.code;
    return error;
  }
  /**
   * @param {string} spec
   * @param {string} where
   * @returns {unknown}
   */
  function loadBundle(spec, where) {
    const known = modules.get(spec);
    if (known !== undefined) return known.exports;
    const fetched = hostPkgFetch(spec, where);
    if (!fetched.ok) {
      const error = /** @type {Error & {code?: string}} */ (
        guestError('FunctionExecutionError', fetched.error.message)
      );
      // Node's code for a package that cannot be found, as for a refused built-in.
      if (fetched.error.code === 'MODULE_NOT_FOUND') error.code = 'MODULE_NOT_FOUND';
      throw error;
    }
    hostPkgLoad(spec);
    const factory = /** @type {NonNullable<typeof globalThis.__tb_module>} */ (
      globalThis.__tb_module
    );
    delete (/** @type {{ __tb_module?: unknown }} */ (globalThis).__tb_module);
    const module = { exports: {} };
    modules.set(spec, module);
    factory.call(module.exports, module, module.exports, requireModule);
    return module.exports;
  }
  /** Where module files are named (module-files.ts MODULES_PREFIX): frames, __filename. */
  const MODULES_PREFIX = 'functions/node_modules/';
  /** Module files run in this context, by id: each runs once per call, as in a Node process. */
  /** @type {Map<string, { exports: unknown, loaded: boolean }>} */
  const moduleFiles = new Map();
  /**
   * @param {string} id
   * @returns {unknown}
   */
  function loadModuleFile(id) {
    const known = moduleFiles.get(id);
    // A cycle gets the exports as they are so far, as in Node.
    if (known !== undefined) return known.exports;
    const source = hostModSource(id);
    if (typeof source !== 'string') throw guestError('FunctionExecutionError', source.error);
    const filename = `${MODULES_PREFIX}${id}`;
    const dirname = filename.slice(0, filename.lastIndexOf('/'));
    if (id.endsWith('.json')) {
      // Parsed as Node parses it (an own "__proto__" key stays a key).
      let value;
      try {
        value = jsonParse(source);
      } catch (error) {
        throw guestError('FunctionExecutionError', `${filename}: ${String(error)}`);
      }
      moduleFiles.set(id, { exports: value, loaded: true });
      return value;
    }
    /** @type {Function} */
    let factory;
    try {
      // Compiled here, in this isolate's thread: the sandbox process stays free for other calls.
      factory = indirectEval(source);
    } catch (error) {
      if (error instanceof SyntaxError)
        throw guestError('FunctionExecutionError', `${filename}: ${error.message}`);
      throw error;
    }
    const require = moduleRequire(id);
    // No `module.require`: lodash, seeing one, requires 'util' through it, and loading the
    // built-ins doubled its first load (38 -> 77 ms); without it lodash uses its own helpers.
    const module = {
      exports: /** @type {unknown} */ ({}),
      id: filename,
      filename,
      loaded: false,
      children: [],
      paths: [],
    };
    moduleFiles.set(id, module);
    try {
      factory.call(module.exports, module.exports, require, module, filename, dirname);
    } catch (error) {
      // As Node does: a module that failed is loaded again by the next require.
      moduleFiles.delete(id);
      throw error;
    }
    module.loaded = true;
    return module.exports;
  }
  /**
   * The `require` of a module file: built-ins, relative files and packages, from that file.
   * @param {string} from
   */
  function moduleRequire(from) {
    /** A built-in's entry, or undefined for a path or a package. @param {string} spec */
    const builtinOf = (spec) => {
      if (spec.startsWith('.') || spec.startsWith('/')) return undefined;
      const found = lookupBuiltin(spec);
      return found.kind === 'package' ? undefined : found;
    };
    /** @param {unknown} spec */
    const require = (spec) => {
      if (typeof spec !== 'string') throw new TypeError('require() needs a module name string');
      if (builtinOf(spec) !== undefined) return builtins().require(spec);
      return requirePackage(spec, from, '');
    };
    /** @param {unknown} spec */
    require.resolve = (spec) => {
      const name = String(spec);
      const builtin = builtinOf(name);
      // A built-in resolves to its name when require() would load it, and fails as require would.
      if (builtin?.kind === 'module') return name;
      if (builtin?.kind === 'refused') {
        const error = /** @type {Error & {code?: string}} */ (new ErrorCtor(builtin.message));
        error.code = 'MODULE_NOT_FOUND';
        throw error;
      }
      const resolved = hostModResolve(name, from, '');
      if (resolved.kind === 'file') return `${MODULES_PREFIX}${resolved.id}`;
      if (resolved.kind === 'bundle') return resolved.spec;
      throw resolutionError(resolved);
    };
    // Node's module cache: none to share here (each call's modules are its own), so deleting from
    // it, as some packages do to load a file again, changes nothing.
    require.cache = /** @type {Record<string, unknown>} */ ({});
    return require;
  }
  globalThis.require = sandboxRequire;
  globalThis.exports = {};

  // ---- context ----
  let traceValues = false;
  /** @type {Record<string, string> | undefined} */
  let valueTexts;
  const values = {
    /** @param {unknown} name */
    get(name) {
      // --trace-values: report which file asked (the first stack frame in a user's file).
      if (traceValues) hostSync('trace', String(name), callerLocation() ?? '');
      valueTexts ??= /** @type {Record<string, string>} */ (jsonParse(valuesJSON));
      const key = String(name);
      const found = hasOwn(valueTexts, key) ? valueTexts[key] : undefined;
      if (found === undefined) return undefined;
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
      const fn = loadFunction(String(name));
      const runAs = runAsOf.get(String(name)) ?? null;
      if (runAs === null) return fn.apply(undefined, args);
      // A run_as_system (or run_as_user_id) callee runs as that user for the whole of its call,
      // its asynchronous part included; the caller's user comes back after, even on a throw.
      const callerUser = context.user;
      const callerSystem = context.runningAsSystem;
      const system = runAs === 'system';
      context.user = system
        ? { type: 'system', data: {}, identities: [], custom_data: {} }
        : { id: runAs, type: 'normal', data: {}, identities: [], custom_data: {} };
      context.runningAsSystem = () => system;
      const restore = () => {
        context.user = callerUser;
        context.runningAsSystem = callerSystem;
      };
      let result;
      try {
        result = fn.apply(undefined, args);
      } catch (error) {
        restore();
        throw error;
      }
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        return result.then(
          (/** @type {unknown} */ value) => {
            restore();
            return value;
          },
          (/** @type {unknown} */ error) => {
            restore();
            throw error;
          },
        );
      }
      restore();
      return result;
    },
  };
  // BSON and EJSON reach the services' wrappers through getters, so that creating them does not
  // load the bson bundle (about 4 ms a context): only a call that uses them does.
  const lazyBSON = {
    get Binary() {
      return loadLibs().BSON.Binary;
    },
  };
  globalThis.utils = createUtils(
    (op, args) => callHostSync(`crypto.${op}`, /** @type {TransferData} */ (args)),
    lazyBSON,
  );
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
  function invalidDate() {
    return guestError(
      'FunctionExecutionError',
      'the result holds an invalid Date (its time is NaN, as new Date("not a date") gives), which has no Extended JSON form: check the value before returning it',
    );
  }
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
    if (value === maxKeyValue || value === minKeyValue) return NOT_PLAIN;
    if (type === 'function' || type === 'symbol' || type === 'undefined') return undefined;
    if (type === 'bigint') return NOT_PLAIN;
    if (type !== 'object') {
      charge(24);
      return value;
    }
    if (value instanceof DateCtor) {
      charge(48);
      const time = apply(dateGetTime, value, []);
      if (time !== time) throw invalidDate();
      return new DateCtor(time);
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
        // BSON values, or a Buffer (only once buffer.js ran): the EJSON path.
        if (libs !== undefined || bufferClass !== undefined) return NOT_PLAIN;
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
        // An invalid Date: bson writes {"$date": {"$numberLong": "NaN"}}, which nothing reads.
        if (key === '$numberLong' && item === 'NaN') throw invalidDate();
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
   * @param {ReturnType<typeof hostSource>} source the function's `source` op answer, sent along
   * @returns {Promise<CallAnswer>}
   */
  async function call(name, argsMode, argsPayload, callJSON, source) {
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
      const fn = loadFunction(name, source);
      let result = fn.apply(undefined, args);
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        result = await result;
      }
      return usedBson(encodeResult(result));
    } catch (error) {
      return usedBson(encodeError(error));
    }
  }
  /**
   * Marks whether the call used BSON, EJSON or Buffer: the host prepares the next contexts with
   * them when most calls do (worker.ts). An own property: a setter that function code put on
   * Object.prototype must not see the answer.
   * @param {CallAnswer} answer
   */
  function usedBson(answer) {
    setOwn(answer, 'bson', libs !== undefined);
    return answer;
  }

  // The host's one way in: start a call, or fire a timer of the call in progress.
  return function entry(
    /** @type {string} */ kind,
    /** @type {any} */ a,
    /** @type {any} */ b,
    /** @type {any} */ c,
    /** @type {any} */ d,
    /** @type {any} */ e,
  ) {
    return kind === 'fire' ? fire(a) : call(a, b, c, d, e);
  };
};
