// The sandbox prelude. It runs once in every fresh context, before any function code, and sets up
// the App Services globals (console, context, BSON, EJSON, Buffer, require, timers) on top of the
// host capabilities that the host passes to __tb_init. Nothing host-provided stays reachable from
// function code: the capabilities live only in this closure, and __tb_init deletes itself.
import { atob, btoa, TextDecoder, TextEncoder } from './text-codec.js';

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

// `hostSync` is an isolated-vm Callback (op, ...args) for the host's synchronous services;
// `hostAsync` a Reference to the host's asynchronous ones (secrets, package bundles), called with
// applySyncPromise so that context.values.get and require() stay synchronous, as on the platform.
globalThis.__tb_init = function init(hostSync, hostAsync, manifestJSON) {
  delete globalThis.__tb_init;
  const manifest = JSON.parse(manifestJSON);
  const hostLog = (level, message) => hostSync('log', level, message);
  const hostSource = (name) => hostSync('source', name);
  const hostValue = (name) => hostSync('value', name);
  const hostLibs = () => hostSync('libs');
  const hostPkgLoad = (spec) => hostSync('package', spec);
  const hostTimer = (id, ms, repeat) => hostSync('timer', id, ms, repeat);
  const hostClearTimer = (id) => hostSync('clearTimer', id);
  const hostRandom = (size) => hostSync('random', size);
  const hostSecret = (name) => hostAsync.applySyncPromise(undefined, ['secret', name]);
  const hostPkgFetch = (spec, where) =>
    hostAsync.applySyncPromise(undefined, ['package', spec, where]);
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const objectProto = Object.prototype;

  class GuestError extends Error {
    constructor(code, message) {
      super(message);
      this.tbCode = code;
    }
  }

  // ---- BSON, EJSON, Buffer: loaded on first use (the bundle costs ~4 ms per context) ----
  let libs;
  let loadingLibs = false;
  function loadLibs() {
    if (libs === undefined) {
      // The bundles probe `typeof Buffer` and friends while they load: keep the getters quiet.
      loadingLibs = true;
      try {
        hostLibs();
      } finally {
        loadingLibs = false;
      }
      const loaded = globalThis.__tb_libs;
      delete globalThis.__tb_libs;
      libs = { BSON: platformBSON(loaded.BSON), Buffer: loaded.Buffer };
    }
    return libs;
  }
  function platformBSON(bson) {
    const RealObjectId = bson.ObjectId;
    // App Services lets functions call BSON.ObjectId() without `new`.
    function ObjectId(...args) {
      return new RealObjectId(...args);
    }
    Object.setPrototypeOf(ObjectId, RealObjectId);
    ObjectId.prototype = RealObjectId.prototype;
    const Binary = bson.Binary;
    if (!Binary.fromBase64)
      Binary.fromBase64 = (text, subType) => Binary.createFromBase64(text, subType);
    if (!Binary.fromHex)
      Binary.fromHex = (hex, subType) => Binary.createFromHexString(hex, subType);
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
      set(value) {
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
  globalThis.crypto = {
    getRandomValues(array) {
      const bytes = hostRandom(array.byteLength);
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
      return array;
    },
  };

  // ---- console ----
  function formatArg(arg, seen = new Set()) {
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
  function logger(level) {
    return (...args) => hostLog(level, args.map((a) => formatArg(a)).join(' '));
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
  const timers = new Map();
  let nextTimer = 1;
  function addTimer(callback, ms, args, repeat) {
    if (typeof callback !== 'function')
      throw new TypeError('The "callback" argument must be a function');
    const id = nextTimer++;
    timers.set(id, { callback, args, repeat, ms: Math.max(0, Number(ms) || 0) });
    hostTimer(id, Math.max(0, Number(ms) || 0), repeat);
    return id;
  }
  function removeTimer(id) {
    if (timers.delete(id)) hostClearTimer(id);
  }
  function fire(id) {
    const timer = timers.get(id);
    if (timer === undefined) return;
    if (!timer.repeat) timers.delete(id);
    try {
      timer.callback(...timer.args);
    } catch (error) {
      hostLog('error', `Uncaught exception in timer callback: ${formatArg(error)}`);
    }
  }
  globalThis.setTimeout = (cb, ms, ...args) => addTimer(cb, ms, args, false);
  globalThis.setInterval = (cb, ms, ...args) => addTimer(cb, ms, args, true);
  globalThis.setImmediate = (cb, ...args) => addTimer(cb, 0, args, false);
  globalThis.clearTimeout = removeTimer;
  globalThis.clearInterval = removeTimer;
  globalThis.clearImmediate = removeTimer;
  globalThis.queueMicrotask = (cb) => {
    Promise.resolve().then(cb);
  };

  // ---- function loading: each file is a sloppy-mode script assigning the global `exports` ----
  const loaded = new Map();
  let loadingFile; // set while a function file's top level runs: require() is refused there
  function loadFunction(name) {
    const cached = loaded.get(name);
    if (cached !== undefined) return cached;
    const found = hostSource(name);
    if (found === null) throw new GuestError('FunctionNotFound', `function not found: '${name}'`);
    const [file, source, syntaxError] = found;
    if (syntaxError !== null) throw new GuestError('FunctionSyntaxError', syntaxError);
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
        throw new GuestError('FunctionSyntaxError', `${file}: ${error.message}`);
      }
      throw error;
    } finally {
      loadingFile = previousFile;
      globalThis.exports = previousExports;
    }
    if (typeof fn !== 'function') {
      throw new GuestError(
        'FunctionSyntaxError',
        `${file} does not assign a function to exports (write: exports = function (...) { ... })`,
      );
    }
    loaded.set(name, fn);
    return fn;
  }

  // ---- require(): npm packages from functions/node_modules, inside function bodies only ----
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
  function sandboxRequire(spec) {
    if (typeof spec !== 'string') throw new TypeError('require() needs a package name string');
    if (loadingFile !== undefined) {
      throw new GuestError(
        'FunctionExecutionError',
        `require('${spec}') at the top level of ${loadingFile}: App Services allows require() only inside function bodies; move it into the function`,
      );
    }
    const bare = spec.startsWith('node:') ? spec.slice(5) : spec;
    const root = bare.split('/')[0];
    if (UNSUPPORTED_BUILTINS.includes(root)) {
      const where = callerLocation();
      throw new GuestError(
        'FunctionExecutionError',
        `${where ? `${where}: ` : ''}Node built-in '${root}' is not supported by App Services functions`,
      );
    }
    if (root === 'buffer') return { Buffer: loadLibs().Buffer };
    if (modules.has(spec)) return modules.get(spec).exports;
    if (NODE_BUILTINS.includes(root) && bare === spec) {
      const where = callerLocation();
      throw new GuestError(
        'FunctionExecutionError',
        `${where ? `${where}: ` : ''}Node built-in '${root}' is not available in triggerbox's sandbox yet (supported: buffer)`,
      );
    }
    const fetched = jsonParse(hostPkgFetch(spec, callerLocation() ?? ''));
    if (!fetched.ok) throw new GuestError('FunctionExecutionError', fetched.error);
    hostPkgLoad(spec);
    const factory = globalThis.__tb_module;
    delete globalThis.__tb_module;
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
    get(name) {
      // --trace-values: report which file asked (the first stack frame in a user's file).
      if (traceValues) hostSync('trace', String(name), callerLocation() ?? '');
      const found = hostValue(String(name));
      if (found === null) return undefined;
      if (found === 'secret') {
        const resolved = jsonParse(hostSecret(String(name)));
        if (!resolved.ok) throw new GuestError('FunctionExecutionError', resolved.error);
        return resolved.value;
      }
      return jsonParse(found);
    },
  };
  const functions = {
    execute(name, ...args) {
      return loadFunction(String(name)).apply(undefined, args);
    },
  };
  const notEmulated = (what) => () => {
    throw new GuestError('FunctionExecutionError', `${what} is not emulated by triggerbox yet`);
  };
  const http = {};
  for (const method of ['get', 'post', 'put', 'patch', 'delete', 'head']) {
    http[method] = notEmulated(`context.http.${method}`);
  }
  const context = {
    values,
    environment: manifest.environment,
    functions,
    services: {
      get(name) {
        hostLog(
          'warn',
          `context.services.get('${name}'): services are not emulated by triggerbox yet; returning undefined`,
        );
        return undefined;
      },
    },
    http,
    app: manifest.app,
    user: undefined,
    request: undefined,
    runningAsSystem: () => false,
  };
  globalThis.context = context;

  // ---- crossing the boundary ----
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
  // A copy that isolated-vm can clone, or NOT_PLAIN when the value holds BSON or class instances.
  function plainClone(value, seen) {
    if (value === null) return null;
    const type = typeof value;
    if (type === 'function' || type === 'symbol') return undefined;
    if (type === 'bigint') return NOT_PLAIN;
    if (type !== 'object') return value;
    if (value instanceof Date) return new Date(value.getTime());
    if (value instanceof RegExp) return value;
    if (seen.has(value))
      throw new GuestError(
        'FunctionExecutionError',
        'the result contains a circular reference and cannot be converted to EJSON',
      );
    seen.add(value);
    try {
      if (Array.isArray(value)) {
        const out = [];
        for (const item of value) {
          const cloned = plainClone(item, seen);
          if (cloned === NOT_PLAIN) return NOT_PLAIN;
          out.push(cloned === undefined ? null : cloned);
        }
        return out;
      }
      const proto = Object.getPrototypeOf(value);
      if ((proto !== objectProto && proto !== null) || typeof value.toJSON === 'function') {
        if (libs !== undefined) return NOT_PLAIN;
      }
      const out = {};
      for (const key of Object.keys(value)) {
        const cloned = plainClone(value[key], seen);
        if (cloned === NOT_PLAIN) return NOT_PLAIN;
        if (cloned !== undefined) out[key] = cloned;
      }
      return out;
    } finally {
      seen.delete(value);
    }
  }
  function encodeResult(value) {
    if (value === undefined) return { ok: true, mode: 'undefined' };
    const cloned = plainClone(value, new Set());
    if (cloned !== NOT_PLAIN) return { ok: true, mode: 'copy', value: cloned };
    const text = loadLibs().BSON.EJSON.stringify(value, { relaxed: false });
    return { ok: true, mode: 'ejson', text };
  }
  function encodeError(error) {
    if (error instanceof Error) {
      return {
        ok: false,
        code: error.tbCode ?? 'FunctionExecutionError',
        name: error.name,
        message: error.message,
        stack: String(error.stack ?? ''),
      };
    }
    let message;
    try {
      message = typeof error === 'string' ? error : formatArg(error);
    } catch {
      message = String(error);
    }
    return { ok: false, code: 'FunctionExecutionError', name: 'Error', message, stack: '' };
  }

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
  return function entry(kind, a, b, c, d) {
    return kind === 'fire' ? fire(a) : call(a, b, c, d);
  };
};
