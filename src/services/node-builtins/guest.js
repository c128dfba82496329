// @ts-check
// The Node built-ins of App Services functions, as one guest bundle: scripts/build.mjs bundles
// this file (platform 'browser') into dist/guest/builtins.js, which sets
// `globalThis.__tb_builtins = { createBuiltinRegistry, nodeBuiltins }` when evaluated. The
// runtime evaluates it on first need only (the first require of a built-in, or the first use of
// URL / URLSearchParams), like dist/guest/libs.js.
//
// Every module is a factory run on its first require; the npm packages behind them are CommonJS
// modules that esbuild wraps lazily, so a require('path') evaluates path-browserify and nothing
// else. One registry per evaluation of the bundle (one per sandbox context): the bundled packages
// share the sandbox Buffer set by the first createBuiltinRegistry.
import { setBuffer, Buffer as BundleBuffer } from './buffer.js';
import { setTextCodec } from './text-codec.js';
import * as bufferModule from './buffer.js';
import { createCrypto } from './crypto-guest.js';
import { createFs } from './fs.js';
import { createOs } from './os.js';
import { createProcess } from './process.js';
import { lookupBuiltin, nodeBuiltins } from './table.js';

/**
 * @typedef {object} BuiltinGlobals
 * @property {any} Buffer the sandbox Buffer (the prelude's: npm buffer 6)
 * @property {Function} setTimeout the sandbox timers, taken before function code runs
 * @property {Function} clearTimeout
 * @property {Function} setInterval
 * @property {Function} clearInterval
 * @property {Function} setImmediate
 * @property {Function} clearImmediate
 * @property {any} TextEncoder the sandbox's (whatwg-url encodes with it)
 * @property {any} TextDecoder
 * @property {any} [process] the `process` global (process.js createProcess()); one is made when absent
 */

/**
 * @typedef {object} BuiltinRegistry
 * @property {(name: string) => any} require the module, or throws an Error (code
 *   MODULE_NOT_FOUND) naming it and saying why it is not available
 * @property {(name: string) => boolean} has true when `name` is the registry's to answer (a Node
 *   built-in, provided or not, or any `node:` name); false: look in functions/node_modules
 * @property {any} process the object require('process') returns
 */

let created = false;

/**
 * @param {{callHost: (op: string, args?: Record<string, unknown>) => any, globals: BuiltinGlobals}} options
 *   callHost: synchronous call of the ops of crypto-host.ts (returns the result or throws)
 * @returns {BuiltinRegistry}
 */
export function createBuiltinRegistry({ callHost, globals }) {
  if (created) throw new Error('one built-ins registry per evaluation of the bundle');
  created = true;
  setBuffer(globals.Buffer);
  setTextCodec(globals.TextEncoder, globals.TextDecoder);
  const Buffer = BundleBuffer;
  const processObject = globals.process ?? createProcess();
  /** @type {Map<string, any>} */
  const cache = new Map();

  /** @type {Record<string, () => any>} */
  const factories = {
    assert: () => require('assert/'),
    buffer: () => {
      const { setBuffer: _internal, ...exports } = bufferModule;
      return Object.freeze(exports);
    },
    crypto: () =>
      createCrypto({
        callHost,
        Buffer,
        stream: load('stream'),
        StringDecoder: load('string_decoder').StringDecoder,
        nextTick: processObject.nextTick,
      }),
    events: () => require('events/'),
    fs: () => createFs((value) => Buffer.isBuffer(value)),
    os: () => createOs(),
    path: () => require('path-browserify'),
    process: () => processObject,
    punycode: () => require('punycode/'),
    querystring: () => createQuerystring(),
    stream: () => require('readable-stream/lib/stream.js'),
    string_decoder: () => require('string_decoder/'),
    timers: () => createTimers(globals, load('util').promisify.custom),
    url: () => createUrl(load('path')),
    util: () => createUtil(),
    zlib: () => createZlib(),
  };

  /** @param {string} name */
  function load(name) {
    if (cache.has(name)) return cache.get(name);
    const factory = factories[name];
    if (factory === undefined) throw new Error(`no factory for built-in '${name}'`);
    const module = factory();
    cache.set(name, module);
    return module;
  }

  return {
    has(name) {
      return typeof name === 'string' && lookupBuiltin(name).kind !== 'package';
    },
    require(name) {
      const found = lookupBuiltin(String(name));
      if (found.kind === 'module') return load(found.name);
      const message = found.kind === 'refused' ? found.message : `'${name}' is not a Node built-in`;
      const error = /** @type {Error & {code?: string}} */ (new Error(message));
      // Node's code for a module that cannot be loaded: optional-require patterns check it.
      error.code = 'MODULE_NOT_FOUND';
      throw error;
    },
    process: processObject,
  };
}

function createUtil() {
  const util = require('util/');
  // The util package's inspect is Node 0.x's (a Map prints as {}); node-inspect-extracted is
  // Node's own inspect and format, extracted for browsers. It builds Node's primordials when it
  // loads (~10 ms), and packages require util at their top level (axios does) mostly for
  // promisify or inherits: it loads on the first inspect/format call, and inspect.custom (what
  // classes read at their definition) is the shared symbol Node uses.
  /** @type {any} */
  let extracted;
  const real = () => (extracted ??= require('node-inspect-extracted'));
  /** @param {unknown[]} args */
  function inspect(...args) {
    return real().inspect(...args);
  }
  inspect.custom = Symbol.for('nodejs.util.inspect.custom');
  for (const key of ['defaultOptions', 'colors', 'styles']) {
    Object.defineProperty(inspect, key, {
      get: () => real().inspect[key],
      set: (value) => {
        real().inspect[key] = value;
      },
      enumerable: true,
      configurable: true,
    });
  }
  util.inspect = inspect;
  util.format = (/** @type {unknown[]} */ ...args) => real().format(...args);
  util.formatWithOptions = (/** @type {unknown[]} */ ...args) => real().formatWithOptions(...args);
  // Node 9+ has util.isDeepStrictEqual; the util package leaves it out, assert has it.
  if (util.isDeepStrictEqual === undefined) {
    util.isDeepStrictEqual = require('assert/build/internal/util/comparisons').isDeepStrictEqual;
  }
  // docs-app-services javascript-support.txt: util.TextEncoder / util.TextDecoder are not
  // supported on the platform, so they are absent here too.
  delete util.TextEncoder;
  delete util.TextDecoder;
  return util;
}

function createQuerystring() {
  const querystring = require('querystring-es3');
  /** @param {string} text */
  function unescapeBuffer(text) {
    const bytes = [];
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
        bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (code < 0x80) {
        bytes.push(code);
      } else {
        for (const byte of BundleBuffer.from(text[i], 'utf8')) bytes.push(byte);
      }
    }
    return BundleBuffer.from(bytes);
  }
  return {
    ...querystring,
    escape: (/** @type {unknown} */ text) => encodeURIComponent(String(text)),
    unescape: (/** @type {string} */ text) => {
      try {
        return decodeURIComponent(text);
      } catch {
        return unescapeBuffer(text).toString();
      }
    },
    unescapeBuffer,
  };
}

/**
 * @param {BuiltinGlobals} globals
 * @param {symbol} promisifyCustom
 */
function createTimers(globals, promisifyCustom) {
  /** @param {unknown} value */
  const resolveLater =
    (value) =>
    /** @type {(ms: number, value?: unknown) => Promise<unknown>} */
    (ms, resolvedValue = value) =>
      new Promise((resolve) => globals.setTimeout(() => resolve(resolvedValue), ms));
  const setTimeout = (/** @type {any[]} */ ...args) => globals.setTimeout(...args);
  const setImmediate = (/** @type {any[]} */ ...args) => globals.setImmediate(...args);
  // util.promisify(setTimeout) resolves after the delay, as in Node.
  Object.defineProperty(setTimeout, promisifyCustom, { value: resolveLater(undefined) });
  Object.defineProperty(setImmediate, promisifyCustom, {
    value: (/** @type {unknown} */ value) =>
      new Promise((resolve) => globals.setImmediate(() => resolve(value))),
  });
  return {
    setTimeout,
    clearTimeout: (/** @type {any} */ id) => globals.clearTimeout(id),
    setInterval: (/** @type {any[]} */ ...args) => globals.setInterval(...args),
    clearInterval: (/** @type {any} */ id) => globals.clearInterval(id),
    setImmediate,
    clearImmediate: (/** @type {any} */ id) => globals.clearImmediate(id),
  };
}

/** @param {any} path the path module */
function createUrl(path) {
  const legacy = require('url/');
  const { URL, URLSearchParams } = require('whatwg-url');
  const tr46 = require('tr46');
  const idna = {
    checkBidi: true,
    checkHyphens: false,
    checkJoiners: true,
    useSTD3ASCIIRules: false,
    verifyDNSLength: false,
    transitionalProcessing: false,
  };
  /** @param {unknown} domain */
  function domainToASCII(domain) {
    const ascii = tr46.toASCII(String(domain), idna);
    return ascii === null ? '' : ascii;
  }
  /** @param {unknown} domain */
  function domainToUnicode(domain) {
    const { domain: unicode, error } = tr46.toUnicode(String(domain), idna);
    return error ? '' : unicode;
  }
  /** @param {unknown} input */
  function fileURLToPath(input) {
    const url = typeof input === 'string' ? new URL(input) : input;
    if (!(url instanceof URL)) {
      throw Object.assign(
        new TypeError(
          `The "path" argument must be one of type string or URL. Received type ${typeof input}`,
        ),
        { code: 'ERR_INVALID_ARG_TYPE' },
      );
    }
    if (url.protocol !== 'file:') {
      throw Object.assign(new TypeError('The URL must be of scheme file'), {
        code: 'ERR_INVALID_URL_SCHEME',
      });
    }
    if (url.hostname !== '') {
      throw Object.assign(new TypeError('File URL host must be "localhost" or empty on linux'), {
        code: 'ERR_INVALID_FILE_URL_HOST',
      });
    }
    if (/%2f/i.test(url.pathname)) {
      throw Object.assign(new TypeError('File URL path must not include encoded / characters'), {
        code: 'ERR_INVALID_FILE_URL_PATH',
      });
    }
    return decodeURIComponent(url.pathname);
  }
  /** @param {string} filepath */
  function pathToFileURL(filepath) {
    let resolved = path.resolve(filepath);
    if (filepath.endsWith('/') && !resolved.endsWith('/')) resolved += '/';
    const url = new URL('file://');
    url.pathname = resolved
      .replace(/%/g, '%25')
      .replace(/\n/g, '%0A')
      .replace(/\r/g, '%0D')
      .replace(/\t/g, '%09');
    return url;
  }
  /**
   * url.format: a WHATWG URL with Node's options, anything else as the legacy format.
   * @param {any} value
   * @param {{auth?: boolean, fragment?: boolean, search?: boolean, unicode?: boolean}} [options]
   */
  function format(value, options) {
    if (!(value instanceof URL)) return legacy.format(value);
    const { auth = true, fragment = true, search = true, unicode = false } = options ?? {};
    let out = value.protocol;
    if (value.href.startsWith(`${value.protocol}//`)) {
      out += '//';
      if (auth && (value.username || value.password)) {
        out += value.username + (value.password ? `:${value.password}` : '') + '@';
      }
      out += unicode ? domainToUnicode(value.hostname) : value.hostname;
      if (value.port) out += `:${value.port}`;
    }
    out += value.pathname;
    if (search) out += value.search;
    if (fragment) out += value.hash;
    return out;
  }
  return {
    ...legacy,
    format,
    URL,
    URLSearchParams,
    domainToASCII,
    domainToUnicode,
    fileURLToPath,
    pathToFileURL,
  };
}

function createZlib() {
  const zlib = require('browserify-zlib');
  /** @param {string} name */
  const noBrotli = (name) => () => {
    throw new Error(`zlib.${name} (brotli) is not supported locally by triggerbox`);
  };
  const brotli = {};
  for (const name of [
    'BrotliCompress',
    'BrotliDecompress',
    'createBrotliCompress',
    'createBrotliDecompress',
    'brotliCompress',
    'brotliCompressSync',
    'brotliDecompress',
    'brotliDecompressSync',
  ]) {
    Object.assign(brotli, { [name]: noBrotli(name) });
  }
  // Node 7+ also groups the Z_* numbers under zlib.constants.
  /** @type {Record<string, number>} */
  const constants = {};
  for (const [name, value] of Object.entries(zlib)) {
    if (name.startsWith('Z_') && typeof value === 'number') constants[name] = value;
  }
  return { ...zlib, constants: Object.freeze(constants), ...brotli };
}

// The one global the bundle sets; the runtime takes it and deletes it.
Object.defineProperty(globalThis, '__tb_builtins', {
  value: Object.freeze({ createBuiltinRegistry, nodeBuiltins }),
  configurable: true,
  writable: true,
});
