/** `triggerbox secrets ...`: parity with `appservices secrets`, plus rotate-key and import. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { openSecretStore, type SecretStore } from '../../secrets/store.js';
import { lineColumnAt } from '../../app/json-file.js';
import { checkValueName, VALUE_NAME_RULE } from '../../app/names.js';
import { TriggerboxError } from '../../shared/errors.js';
import { openAppHead, setupFailure, type GlobalOptions } from '../app-context.js';
import { choicesHint, selectOne } from '../select.js';
import type { CliIO } from '../io.js';
import { Printer } from '../render.js';

/**
 * A flag's one value. yargs turns a string flag given twice into an array: refused here, by
 * name, before anything is read or written (and without echoing the values: they may be secret).
 */
function once(value: unknown, flag: string): string | undefined {
  if (Array.isArray(value)) {
    throw new TriggerboxError('InvalidInput', `${flag} was given ${value.length} times`, {
      hint: `give ${flag} once`,
    });
  }
  return value === undefined ? undefined : String(value);
}

function storeFor(options: GlobalOptions, io: CliIO): SecretStore {
  return openSecretStore({
    root: openAppHead(options, io).root,
    env: io.env,
    onKeyCreated: (keyFile) =>
      new Printer(io, options.outputFormat).warn(
        `created the master key ${keyFile} (git-ignored): it is the only way to read these secrets. Back it up, and share it with your team through a password manager or set TRIGGERBOX_MASTER_KEY; without it the store cannot be opened`,
      ),
  });
}

/** Strips the one newline that `echo value |` adds; keeps any other whitespace. */
function fromStdin(text: string): string {
  return text.replace(/\r?\n$/, '');
}

async function askName(io: CliIO): Promise<string> {
  if (io.stdin?.isTTY && io.prompt) {
    const answer = await io.prompt('Secret Name: ', false);
    if (answer !== undefined) return answer.trim();
    throw setupFailure(
      new TriggerboxError('InvalidInput', 'no secret name given (end of input)', {
        hint: 'type a name at the prompt, or pass --name <secret name>',
      }),
    );
  }
  throw new TriggerboxError('InvalidInput', 'missing --name', {
    hint: 'pass --name <secret name>',
  });
}

async function askValue(io: CliIO): Promise<string> {
  if (io.stdin?.isTTY && io.prompt) {
    const answer = await io.prompt('Secret Value: ', true);
    if (answer !== undefined) return answer;
    throw setupFailure(
      new TriggerboxError('InvalidInput', 'no secret value given (end of input)', {
        hint: 'type the value at the prompt, or pipe it on stdin (printf %s "$VALUE" | triggerbox secrets create --name N)',
      }),
    );
  }
  if (io.stdin) {
    const piped = fromStdin(await io.stdin.read());
    if (piped !== '') return piped;
  }
  throw new TriggerboxError('InvalidInput', 'missing secret value', {
    hint: 'pipe it on stdin (printf %s "$VALUE" | triggerbox secrets create --name N), or run in a terminal to be prompted; --value also works but stays in shell history',
  });
}

export async function createSecret(
  options: GlobalOptions & { name?: string | undefined; value?: string | undefined },
  io: CliIO,
): Promise<number> {
  const givenName = once(options.name, '--name');
  const givenValue = once(options.value, '--value');
  const store = storeFor(options, io);
  const name = givenName ?? (await askName(io));
  const value = givenValue ?? (await askValue(io));
  const { id } = await store.create(name, value);
  new Printer(io, options.outputFormat).message(`Successfully created secret, id: ${id}`);
  return 0;
}

export async function listSecrets(options: GlobalOptions, io: CliIO): Promise<number> {
  const secrets = await storeFor(options, io).list();
  const printer = new Printer(io, options.outputFormat);
  if (secrets.length === 0) {
    printer.message('No available secrets to show');
    return 0;
  }
  printer.message(`Found ${secrets.length} secrets`, {
    headers: ['ID', 'Name'],
    rows: secrets.map((s) => ({ ID: s.id, Name: s.name })),
  });
  return 0;
}

export async function updateSecret(
  options: GlobalOptions & {
    secret?: string | undefined;
    name?: string | undefined;
    value?: string | undefined;
  },
  io: CliIO,
): Promise<number> {
  const given = once(options.secret, '--secret');
  const name = once(options.name, '--name');
  let value = once(options.value, '--value');
  const store = storeFor(options, io);
  if (value === undefined && name === undefined && io.stdin && !io.stdin.isTTY) {
    const piped = fromStdin(await io.stdin.read());
    if (piped !== '') value = piped;
  }
  if (name === undefined && value === undefined) {
    throw setupFailure(
      new TriggerboxError(
        'InvalidInput',
        'must set either --name or --value when updating a secret',
        {
          hint: 'pass --name <new name> and/or --value <new value> (or pipe the value on stdin)',
        },
      ),
    );
  }
  const secret = given ?? (await chooseSecret(store, io, 'Which secret would you like to update?'));
  await store.update(secret, { name, value });
  new Printer(io, options.outputFormat).message('Successfully updated secret');
  return 0;
}

/** appservices lists secrets as `<id> - <name>` in its prompts. */
async function chooseSecret(store: SecretStore, io: CliIO, question: string): Promise<string> {
  const secrets = await store.list();
  if (secrets.length === 0)
    throw new TriggerboxError('SecretNotFound', 'no secrets to choose from');
  const choice = await selectOne(
    io,
    question,
    secrets.map((s) => `${s.id} - ${s.name}`),
    '--secret',
    {
      aliases: secrets.map((s) => [s.id, s.name]),
      listCommand: 'triggerbox secrets list',
    },
  );
  return choice.slice(0, choice.indexOf(' - '));
}

export async function deleteSecrets(
  options: GlobalOptions & { secret?: string[] | undefined },
  io: CliIO,
): Promise<number> {
  const store = storeFor(options, io);
  let refs = (options.secret ?? [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const printer = new Printer(io, options.outputFormat);
  if (refs.length === 0) {
    if ((await store.list()).length === 0) {
      printer.message('No secrets to delete');
      return 0;
    }
    refs = await chooseSecrets(store, io);
    if (refs.length === 0) {
      printer.message('No secrets to delete');
      return 0;
    }
  }
  const deleted = await store.delete(refs);
  printer.message(`Deleted ${deleted.length} secret(s)`, {
    headers: ['ID', 'Name', 'Deleted', 'Details'],
    rows: deleted.map((d) => ({
      ID: d.id,
      Name: d.name,
      Deleted: String(d.deleted),
      Details: d.details,
    })),
  });
  return 0;
}

/** appservices' multi-select: here, numbers or names separated by commas or spaces. */
async function chooseSecrets(store: SecretStore, io: CliIO): Promise<string[]> {
  const secrets = await store.list();
  const options = secrets.map((s) => `${s.id} - ${s.name}`);
  if (io.stdin?.isTTY !== true || io.prompt === undefined) {
    throw setupFailure(
      new TriggerboxError('InvalidInput', 'missing --secret', {
        hint: `pass --secret <name or id>[,<name or id>...] (secrets: ${choicesHint(
          secrets.map((s) => s.name),
          'triggerbox secrets list',
        )})`,
      }),
    );
  }
  io.stderr(
    `? Which secret(s) would you like to delete?\n${options.map((o, i) => `  ${i + 1}) ${o}\n`).join('')}`,
  );
  // End of input (Ctrl-D) chooses nothing, as an empty answer does.
  const answer = (await io.prompt('Choose numbers or names (comma-separated): ', false)) ?? '';
  return answer
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((word) => (/^[0-9]+$/.test(word) ? (secrets[Number(word) - 1]?.id ?? word) : word));
}

export async function rotateKey(options: GlobalOptions, io: CliIO): Promise<number> {
  const { count } = await storeFor(options, io).rotateKey();
  new Printer(io, options.outputFormat).message(
    `Re-encrypted ${count} secret(s) under a new master key in .triggerbox/master.key; keep a copy of it somewhere safe, the old key no longer opens the store`,
  );
  return 0;
}

/**
 * dotenv's own line pattern, with a looser key: dotenv skips a line whose key it does not accept
 * (`CLÉ=1`, `BAD NAME=2`) without a word, which would import less than the file says, or report
 * "no KEY=value lines". A key may hold spaces before `=` (to be reported), not before dotenv's
 * `KEY: value` form, which prose would match. Multi-line quoted values are consumed whole.
 */
const DOTENV_LINE =
  /^[ \t]*(?:export\s+)?(?:([^\s=#:'"`][^=#:'"`\r\n]*?)[ \t]*=[ \t]*?|([^\s=#:'"`]+):[ \t]+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?[ \t]*(?:#.*)?$/gm;

/** Refuses a dotenv file with a key that is no valid secret name, naming its lines. */
function checkDotenvNames(text: string, from: string): void {
  const bad: string[] = [];
  const lines = text.replace(/\r\n?/g, '\n');
  for (const match of lines.matchAll(DOTENV_LINE)) {
    const name = match[1] ?? match[2] ?? '';
    if (checkValueName(name) !== undefined) {
      bad.push(`'${name}' (line ${lineColumnAt(lines, match.index).line})`);
    }
  }
  if (bad.length === 0) return;
  const shown = bad.length > 5 ? [...bad.slice(0, 5), `… and ${bad.length - 5} more`] : bad;
  throw new TriggerboxError(
    'SecretInvalid',
    `${from}: invalid secret name ${shown.join(', ')}: ${VALUE_NAME_RULE}`,
    { hint: `rename those keys in ${from}; nothing was imported` },
  );
}

export async function importSecrets(
  options: GlobalOptions & { from: string },
  io: CliIO,
): Promise<number> {
  const file = path.resolve(io.cwd, options.from);
  if (!existsSync(file)) {
    throw new TriggerboxError('InvalidInput', `no such file: ${file}`, {
      hint: 'pass --from the path of a dotenv file (KEY=value lines)',
    });
  }
  const text = readFileSync(file, 'utf8');
  checkDotenvNames(text, options.from);
  const entries = parseDotenv(text);
  if (Object.keys(entries).length === 0)
    throw new TriggerboxError('InvalidInput', `${file} holds no KEY=value lines`);
  const { created, updated } = await storeFor(options, io).importEntries(entries);
  new Printer(io, options.outputFormat).message(
    `Imported ${created.length + updated.length} secret(s) from ${options.from} (${created.length} created, ${updated.length} updated). The plaintext file ${options.from} is no longer needed: delete it.`,
  );
  return 0;
}
