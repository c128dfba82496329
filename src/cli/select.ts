/** appservices-style selection prompts (`Select Function`, `Which secret ...`) on a terminal. */
import { TriggerboxError } from '../shared/errors.js';
import { setupFailure } from './app-context.js';
import type { CliIO } from './io.js';

/** How many choices a hint lists before it points at the command that lists them all. */
const HINT_CHOICES = 20;

export interface SelectOptions {
  /** Other words that pick each option (e.g. a secret's id and name), by option index. */
  aliases?: readonly (readonly string[])[] | undefined;
  /** The command that lists every choice, named in the hint when the choices are cut short. */
  listCommand?: string | undefined;
}

/** `options` for a hint: the first few, then how many more and where to see them all. */
export function choicesHint(options: string[], listCommand: string | undefined): string {
  if (options.length <= HINT_CHOICES) return options.join(', ');
  const more = options.length - HINT_CHOICES;
  const all = listCommand === undefined ? '' : `; \`${listCommand}\` shows them all`;
  return `${options.slice(0, HINT_CHOICES).join(', ')}, … and ${more} more${all}`;
}

/**
 * Asks the user to pick one of `options` on a terminal (by number, by the option itself, or by
 * one of its aliases). Without a terminal it fails with the flag to pass instead, as a setup
 * failure; so does end of input, like three answers that match nothing.
 */
export async function selectOne(
  io: CliIO,
  message: string,
  options: string[],
  flag: string,
  select: SelectOptions = {},
): Promise<string> {
  const what = flag.replace(/^--/, '');
  if (io.stdin?.isTTY !== true || io.prompt === undefined) {
    throw setupFailure(
      new TriggerboxError('InvalidInput', `missing ${flag}`, {
        hint: `pass ${flag} <${what}> (choices: ${choicesHint(options, select.listCommand)})`,
      }),
    );
  }
  io.stderr(`? ${message}\n${options.map((o, i) => `  ${i + 1}) ${o}\n`).join('')}`);
  for (let attempt = 0; attempt < 3; attempt++) {
    const answer = (await io.prompt(`Choose 1-${options.length} or a name: `, false))?.trim();
    if (answer === undefined) break;
    const byNumber = /^[0-9]+$/.test(answer) ? options[Number(answer) - 1] : undefined;
    const chosen =
      byNumber ??
      options.find((o) => o === answer) ??
      options.find((_, i) => select.aliases?.[i]?.includes(answer) === true);
    if (chosen !== undefined) return chosen;
    io.stderr(`'${answer}' is not one of the choices\n`);
  }
  throw setupFailure(
    new TriggerboxError('InvalidInput', `no ${what} chosen`, {
      hint: `pass ${flag} <${what}>`,
    }),
  );
}
