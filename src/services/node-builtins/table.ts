/**
 * Which Node built-ins a function can `require`, locally and on the platform: one table read by
 * the guest registry (guest.js, bundled by esbuild into dist/guest/builtins.js) and by the host
 * (`validate` warns about requires that fail locally or on the platform). Plain data only: this
 * file runs inside the sandbox too, so it imports nothing.
 *
 * Source: docs-app-services `source/functions/javascript-support.txt` ("Built-In Modules"): the
 * supported modules are those of Node API version 10.18.1; fully supported: assert, buffer,
 * events, net, os, path, punycode (the npm package), querystring, stream, string_decoder,
 * timers, tls, tty, url, zlib; partly: dgram, dns, fs (accessSync, constants, lstatSync,
 * readFileSync, statSync), http/http2/https (clients), process (hrtime, nextTick, version,
 * versions), util (no TextEncoder/TextDecoder), crypto (no createDiffieHellman,
 * createDiffieHellmanGroup, createECDH); unsupported: child_process, cluster, domain, readline,
 * v8, vm.
 */

/** The Node API level the platform's built-ins follow. */
export const PLATFORM_NODE_VERSION = '10.18.1';

/**
 * - `provided`: works locally as on the platform.
 * - `partial`: works locally with the limits in `note` (the platform's own, or local ones).
 * - `not-local`: the platform has it, triggerbox does not (yet): requiring it fails locally.
 * - `platform-unsupported`: the platform refuses it; so does triggerbox.
 * - `not-in-node10`: a built-in of a later Node than the platform's 10.18.1 API level.
 */
export type BuiltinStatus =
  'provided' | 'partial' | 'not-local' | 'platform-unsupported' | 'not-in-node10';

export interface BuiltinEntry {
  readonly status: BuiltinStatus;
  /** What differs from Node, or why it is missing. */
  readonly note: string;
}

const provided = (note = ''): BuiltinEntry => ({ status: 'provided', note });
const partial = (note: string): BuiltinEntry => ({ status: 'partial', note });
const notLocal = (note: string): BuiltinEntry => ({ status: 'not-local', note });
const refused = (note = 'not supported by App Services functions'): BuiltinEntry => ({
  status: 'platform-unsupported',
  note,
});
const later = (since: string): BuiltinEntry => ({
  status: 'not-in-node10',
  note: `added in Node ${since}`,
});

let table: Readonly<Record<string, BuiltinEntry>> | undefined;

/**
 * Every name a require may give for a Node built-in (without the `node:` prefix). Built at its
 * first use: this module runs in every fresh sandbox context (the prelude bundles lookupBuiltin),
 * and building the table there took 0.05-0.07 ms of each context's preparation, for the few
 * calls that require a built-in.
 */
export function nodeBuiltins(): Readonly<Record<string, BuiltinEntry>> {
  return (table ??= Object.freeze({
    assert: provided('the assert npm package (Node 10 messages)'),
    buffer: provided('the sandbox Buffer (npm buffer 6)'),
    crypto: partial(
      'hashes, HMAC, ciphers, random, pbkdf2, scrypt, sign/verify, RSA encrypt on the host; no Diffie-Hellman or ECDH (not on the platform either), no KeyObject or key generation, no createCipher without IV',
    ),
    events: provided('the events npm package'),
    fs: partial(
      'accessSync, constants, lstatSync, readFileSync, statSync as on the platform; locally every path is missing (ENOENT): a function never reads files of the machine it runs on',
    ),
    os: partial(
      'constant values of a Linux x64 machine; never the host name, users, network interfaces or load of the machine it runs on',
    ),
    path: provided('path-browserify (POSIX; no path.win32)'),
    process: partial(
      'hrtime, nextTick, version, versions as on the platform, and an empty env; nothing of the host process',
    ),
    punycode: provided('the punycode npm package, as the platform provides it'),
    querystring: provided('querystring-es3 with escape/unescape'),
    stream: provided('readable-stream 4'),
    string_decoder: provided('the string_decoder npm package'),
    timers: provided('over the sandbox timers'),
    url: provided(
      'legacy API from the url npm package; WHATWG URL/URLSearchParams from whatwg-url',
    ),
    util: partial(
      'the util npm package (Node 10 inspect/format); no TextEncoder/TextDecoder, as on the platform',
    ),
    zlib: partial(
      'browserify-zlib (pako): deflate, inflate, gzip, gunzip, raw and unzip, sync, callback and stream forms; no brotli',
    ),
    dgram: notLocal('UDP sockets are not emulated'),
    dns: notLocal('name resolution is not emulated'),
    http: notLocal('use context.http for HTTP requests'),
    http2: notLocal('use context.http for HTTP requests'),
    https: notLocal('use context.http for HTTP requests'),
    net: notLocal('sockets are not emulated'),
    tls: notLocal('sockets are not emulated'),
    tty: notLocal('a function has no terminal'),
    async_hooks: notLocal('not in the platform docs'),
    console: notLocal('not in the platform docs; use the console global'),
    constants: notLocal('deprecated; use os.constants, fs.constants, crypto.constants'),
    inspector: notLocal('not in the platform docs'),
    module: notLocal('not in the platform docs'),
    perf_hooks: notLocal('not in the platform docs'),
    repl: notLocal('not in the platform docs'),
    sys: notLocal('deprecated alias of util; require util'),
    trace_events: notLocal('not in the platform docs'),
    worker_threads: notLocal('not in the platform docs'),
    child_process: refused(),
    cluster: refused(),
    domain: refused(),
    readline: refused(),
    v8: refused(),
    vm: refused(),
    'assert/strict': later('15'),
    'dns/promises': later('15'),
    'fs/promises': later('14'),
    'path/posix': later('15.3'),
    'path/win32': later('15.3'),
    'readline/promises': later('17'),
    'stream/consumers': later('16.7'),
    'stream/promises': later('15'),
    'stream/web': later('16.5'),
    'timers/promises': later('15'),
    'util/types': later('15.3'),
    diagnostics_channel: later('15.1'),
    wasi: later('13.3'),
  }));
}

/** The names whose require returns a module locally. */
export function providedBuiltins(): readonly string[] {
  const builtins = nodeBuiltins();
  return Object.keys(builtins).filter((name) => {
    const status = builtins[name]?.status;
    return status === 'provided' || status === 'partial';
  });
}

/** A module specifier as the registry sees it. */
export type BuiltinLookup =
  | { kind: 'module'; name: string; entry: BuiltinEntry }
  | { kind: 'refused'; name: string; message: string }
  | { kind: 'package' };

/**
 * What `require(spec)` means: a built-in module, a refused built-in (with the message the
 * function sees), or a package for functions/node_modules. Built-ins come first, as in Node
 * (a `functions/node_modules/events` does not replace the built-in `events`).
 */
export function lookupBuiltin(spec: string): BuiltinLookup {
  const builtins = nodeBuiltins();
  if (spec.startsWith('node:')) {
    const bare = spec.slice(5);
    return {
      kind: 'refused',
      name: spec,
      message: `Cannot find module '${spec}': the 'node:' prefix does not exist at the Node API level of App Services functions (${PLATFORM_NODE_VERSION}), so the platform looks for a package of that name${
        Object.hasOwn(builtins, bare) ? `; write require('${bare}')` : ''
      }`,
    };
  }
  if (!Object.hasOwn(builtins, spec)) return { kind: 'package' };
  const entry = builtins[spec] as BuiltinEntry;
  switch (entry.status) {
    case 'provided':
    case 'partial':
      return { kind: 'module', name: spec, entry };
    case 'not-local':
      return {
        kind: 'refused',
        name: spec,
        message: `Node built-in '${spec}' is not supported locally by triggerbox (App Services functions have it; ${entry.note})`,
      };
    case 'platform-unsupported':
      return {
        kind: 'refused',
        name: spec,
        message: `Node built-in '${spec}' is not supported by App Services functions (the platform does not provide it)`,
      };
    case 'not-in-node10':
      return {
        kind: 'refused',
        name: spec,
        message: `Cannot find module '${spec}': it is not a built-in at the Node API level of App Services functions (${PLATFORM_NODE_VERSION}; ${entry.note})`,
      };
  }
}
