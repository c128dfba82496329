// @ts-check
// The `process` of App Services functions: docs-app-services javascript-support.txt lists
// hrtime, nextTick, version and versions (Node API 10.18.1). Self-contained (no imports), so that
// the prelude can bundle createProcess() for the `process` global without loading the built-ins
// bundle; createBuiltinRegistry({globals: {process}}) then makes require('process') that object.

const NODE_VERSION = '10.18.1';

// Promise jobs rather than host timers: Node runs nextTick callbacks before the next macrotask,
// and so do microtasks; a callback that throws fails the call as an uncaught exception would.
const resolved = Promise.resolve();

/**
 * @param {unknown} callback
 * @param {unknown[]} args
 */
function nextTick(callback, ...args) {
  if (typeof callback !== 'function') throw new TypeError('Callback must be a function');
  resolved.then(() => callback(...args));
}

// Arbitrary origin, as Node's: a monotonic clock, never the host's uptime. Milliseconds are all
// a bare V8 context can read (no performance.now).
let last = 0;
function nowNs() {
  const now = Date.now();
  if (now > last) last = now;
  return last * 1e6;
}

/**
 * @param {[number, number]} [previous]
 * @returns {[number, number]}
 */
function hrtime(previous) {
  let ns = nowNs();
  if (previous !== undefined) {
    if (!Array.isArray(previous) || previous.length !== 2) {
      throw new TypeError('The "time" argument must be an instance of Array of length 2');
    }
    ns -= previous[0] * 1e9 + previous[1];
  }
  const seconds = Math.floor(ns / 1e9);
  return [seconds, ns - seconds * 1e9];
}
hrtime.bigint = () => BigInt(nowNs());

const versions = Object.freeze({ node: NODE_VERSION, modules: '64' });

/**
 * The `process` global of a function. `env` is an empty object: undocumented on the platform, but
 * npm packages (twilio among them) read process.env, and an empty one tells nothing of the host.
 */
export function createProcess() {
  return {
    hrtime,
    nextTick,
    version: `v${NODE_VERSION}`,
    versions,
    env: {},
  };
}

/**
 * What the npm packages inside the built-ins bundle see as `process` (readable-stream, util,
 * path-browserify): the platform's four members and the few fields those packages read.
 */
export const internalProcess = {
  hrtime,
  nextTick,
  version: `v${NODE_VERSION}`,
  versions,
  env: {},
  platform: 'linux',
  arch: 'x64',
  argv: [],
  cwd: () => '/',
  emitWarning(/** @type {unknown} */ warning) {
    console.warn(typeof warning === 'string' ? `Warning: ${warning}` : String(warning));
  },
};
