/**
 * The CLI process after bin.ts turned the compile cache on and forked the sandbox process (the
 * build bundles this file and what it imports, in chunks): main(), then the exit code.
 */
import { flushCompileCache } from 'node:module';
import { streamsUsed } from './io.js';
import { main } from './main.js';

/** `preforked`: bin.ts forked the sandbox process (a command that runs functions). */
export async function run(argv: string[], preforked = false): Promise<void> {
  process.exitCode = await main(argv);
  // Imported only then: sandbox-process.js loads node:child_process, about 9 ms of every other
  // command's start (it is loaded already when bin.ts forked).
  if (preforked) (await import('../runtime/sandbox-process.js')).discardPreforked();
  // Exit now rather than when the event loop runs dry: that exit also tears V8's heap down (about
  // 10 ms after reading a 10,000-secret store). main() has awaited every command's cleanup; what
  // is left in a stream (output goes straight to the descriptors unless one refused a write; a
  // prompt uses stderr's) is written first, and Node's compile cache is saved as a natural exit
  // would.
  await Promise.all([
    streamsUsed.stdout && flushed(process.stdout),
    streamsUsed.stderr && flushed(process.stderr),
  ]);
  flushCompileCache();
  process.exit();
}

/** Resolves once everything written to `stream` so far has been handed to the system. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0 || stream.destroyed) resolve();
    else stream.write('', () => resolve());
  });
}
