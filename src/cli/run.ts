/**
 * The CLI process after bin.ts turned the compile cache on and forked the sandbox process (the
 * build bundles this file and what it imports, in chunks): quiet EPIPE, main(), exit code.
 */
import { flushCompileCache } from 'node:module';
import { main } from './main.js';

/** `preforked`: bin.ts forked the sandbox process (a command that runs functions). */
export async function run(argv: string[], preforked = false): Promise<void> {
  // `triggerbox function list | head -1`: the reader went away; stop quietly, as Unix tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  process.exitCode = await main(argv);
  // Imported only then: sandbox-process.js loads node:child_process, about 9 ms of every other
  // command's start (it is loaded already when bin.ts forked).
  if (preforked) (await import('../runtime/sandbox-process.js')).discardPreforked();
  // Exit now rather than when the event loop runs dry: that exit also tears V8's heap down (about
  // 10 ms after reading a 10,000-secret store). main() has awaited every command's cleanup; what
  // is left is written first (stdout to a pipe is asynchronous on macOS), and Node's compile cache
  // is saved as a natural exit would.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
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
