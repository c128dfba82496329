#!/usr/bin/env node
/**
 * The `triggerbox` executable. isolated-vm needs --no-node-snapshot on Node 20+; this process
 * never loads it: every isolate lives in the sandbox process, which is forked with that flag.
 */
import { discardPreforked, preforkSandbox } from '../runtime/sandbox-process.js';

// `triggerbox function list | head -1`: the reader went away; stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const argv = process.argv.slice(2);
// A command that will run functions: start the sandbox process while the CLI loads.
const runsFunctions =
  ((argv[0] === 'function' || argv[0] === 'functions') && argv[1] === 'run') ||
  (argv[0] === 'trigger' && argv[1] === 'fire') ||
  argv[0] === 'dev';
if (runsFunctions) preforkSandbox();
const { main } = await import('./main.js');
process.exitCode = await main(argv);
discardPreforked();
