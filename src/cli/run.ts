/**
 * The CLI process after bin.ts turned the compile cache on and forked the sandbox process (the
 * build bundles this file and what it imports, in chunks): quiet EPIPE, main(), exit code.
 */
import { discardPreforked } from '../runtime/sandbox-process.js';
import { main } from './main.js';

export async function run(argv: string[]): Promise<void> {
  // `triggerbox function list | head -1`: the reader went away; stop quietly, as Unix tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  process.exitCode = await main(argv);
  discardPreforked();
}
