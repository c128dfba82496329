/**
 * The CLI process after bin.ts turned the compile cache on and forked the sandbox process (the
 * build bundles this file and what it imports, in chunks): main(), then the exit code.
 */
import { flushCompileCache } from 'node:module';
import { stopBackgroundWork } from '../shared/process-end.js';
import { streamsUsed } from './io.js';
import { main } from './main.js';

/** `preforked`: bin.ts forked the sandbox process (a command that runs functions). */
export async function run(argv: string[], preforked = false): Promise<void> {
  process.exitCode = await main(argv);
  // Imported only then: sandbox-process.js loads node:child_process, about 9 ms of every other
  // command's start (it is loaded already when bin.ts forked).
  if (preforked) (await import('../runtime/sandbox-process.js')).discardPreforked();
  stopBackgroundWork();
  // What is left in a stream (output goes straight to the descriptors unless one refused a
  // write; a prompt uses stderr's) is written first, and Node's compile cache is saved.
  await Promise.all([
    streamsUsed.stdout && flushed(process.stdout),
    streamsUsed.stderr && flushed(process.stderr),
  ]);
  flushCompileCache();
  // Then the process ends as a natural exit ends it, not by process.exit(). On Node 24 and 26
  // process.exit() can hang for ever (nodejs/node#54918; here 1 `function run` in 300, Node 26,
  // under load): it joins V8's worker threads while the isolate still lives, and a concurrent
  // Maglev compile waiting there for a garbage collection on the main thread never finishes. A
  // natural exit disposes of the isolate first, which ends such a job. main() has closed what it
  // opened and the background work is stopped, so nothing holds the event loop; should something
  // still, this ends the process.
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
}

/** How long a command's process may stay after main() (nothing should keep it). */
const EXIT_GRACE_MS = 1000;

/** Resolves once everything written to `stream` so far has been handed to the system. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0 || stream.destroyed) resolve();
    else stream.write('', () => resolve());
  });
}
