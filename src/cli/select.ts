/** appservices-style selection prompts (`Select Function`, `Which secret ...`) on a terminal. */
import { TriggerboxError } from '../shared/errors.js';
import { setupFailure } from './app-context.js';
import type { CliIO } from './io.js';

/**
 * Asks the user to pick one of `options` on a terminal (by number or by name). Without a
 * terminal it fails with the flag to pass instead, as a setup failure.
 */
export async function selectOne(
  io: CliIO,
  message: string,
  options: string[],
  flag: string,
): Promise<string> {
  if (io.stdin?.isTTY !== true || io.prompt === undefined) {
    throw setupFailure(
      new TriggerboxError('InvalidInput', `missing ${flag}`, {
        hint: `pass ${flag} <${flag.replace(/^--/, '')}> (choices: ${options.join(', ')})`,
      }),
    );
  }
  io.stderr(`? ${message}\n${options.map((o, i) => `  ${i + 1}) ${o}\n`).join('')}`);
  for (let attempt = 0; attempt < 3; attempt++) {
    const answer = (await io.prompt(`Choose 1-${options.length} or a name: `, false)).trim();
    const byNumber = /^[0-9]+$/.test(answer) ? options[Number(answer) - 1] : undefined;
    const chosen = byNumber ?? options.find((o) => o === answer);
    if (chosen !== undefined) return chosen;
    io.stderr(`'${answer}' is not one of the choices\n`);
  }
  throw setupFailure(
    new TriggerboxError('InvalidInput', `no ${flag.replace(/^--/, '')} chosen`, {
      hint: `pass ${flag} <${flag.replace(/^--/, '')}>`,
    }),
  );
}
