#!/usr/bin/env node
/**
 * The `triggerbox` executable. isolated-vm needs --no-node-snapshot on Node 20+; this process
 * never loads it: every isolate lives in the sandbox process, which is forked with that flag.
 *
 * Start-up is most of a one-off command's time (docs/runtime-notes.md, "Starting processes"):
 * this file only turns on Node's compile cache (the compiled code of every module, kept between
 * runs), forks the sandbox process for a command that runs functions, and then loads ./run.js,
 * which the build bundles with everything the CLI imports, split into chunks at the dynamic
 * imports so that a command reads only its own part (a few files instead of about 700).
 */
import { enableCompileCache } from 'node:module';
import path from 'node:path';
import { cacheDir } from '../runtime/cache-dir.js';

const cache = cacheDir();
// Node picks NODE_COMPILE_CACHE itself; NODE_DISABLE_COMPILE_CACHE turns both off.
if (cache !== undefined && process.env['NODE_COMPILE_CACHE'] === undefined) {
  enableCompileCache(path.join(cache, 'compile'));
}

const argv = process.argv.slice(2);
// A command that will run functions: start the sandbox process before the CLI loads, so that the
// two start at once (the build leaves sandbox-process.js out of the bundle: one shared module).
const runsFunctions =
  ((argv[0] === 'function' || argv[0] === 'functions') && argv[1] === 'run') ||
  (argv[0] === 'trigger' && argv[1] === 'fire') ||
  argv[0] === 'dev';
// A debugger's sandbox may run under another Node (Node 24 under Node 26, or the one
// TRIGGERBOX_INSPECT_NODE names): then the runner forks it. Under Node 24 it is this Node's.
const otherNode =
  Number(process.versions.node.split('.')[0]) >= 25 ||
  (process.env['TRIGGERBOX_INSPECT_NODE'] ?? '') !== '';
const inspects = argv.some((arg) => /^--inspect(-brk)?(=|$)/.test(arg));
const prefork = runsFunctions && !(inspects && otherNode);
if (prefork) (await import('../runtime/sandbox-process.js')).preforkSandbox();
const { run } = await import('./run.js');
await run(argv, prefork);
