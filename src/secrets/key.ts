/**
 * Finding the master key: TRIGGERBOX_MASTER_KEY from the environment, then from the app's .env
 * (read with dotenv, never copied into process.env), then the key file .triggerbox/master.key.
 */
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { ignoreInGit } from '../app/gitignore.js';
import { readRegularFile } from '../app/regular-file.js';
import { writeFileAtomic } from '../shared/atomic-file.js';
import { TriggerboxError } from '../shared/errors.js';
import { MASTER_KEY_BYTES } from './crypto.js';

export const KEY_VARIABLE = 'TRIGGERBOX_MASTER_KEY';
export const STORE_DIR = '.triggerbox';
export const KEY_FILE = `${STORE_DIR}/master.key`;
/** The new key during `rotate-key`, written before the store so that a crash loses nothing. */
export const NEXT_KEY_FILE = `${STORE_DIR}/master.key.next`;

export type KeySource = 'environment' | '.env' | 'key file';

export interface MasterKey {
  key: Buffer;
  source: KeySource;
}

/** A key is 32 bytes, written as base64 (44 characters) or hex (64 characters). */
export function parseMasterKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/]{43}=?$/.test(trimmed)
      ? Buffer.from(trimmed, 'base64')
      : undefined;
  if (key === undefined || key.length !== MASTER_KEY_BYTES) {
    throw new TriggerboxError('SecretKeyInvalid', `${where} does not hold a 32-byte master key`, {
      hint: 'a master key is 32 random bytes as base64 (44 characters) or hex (64 characters); restore the right one, or remove it to have triggerbox create a key file',
    });
  }
  return key;
}

export function formatMasterKey(key: Buffer): string {
  return key.toString('base64');
}

/**
 * The text of a file that may hold the key (`.env`, the key files), or undefined when there is
 * none. Anything else than a regular file inside the app is refused: a FIFO or a device would
 * block or never end, and a symlink out of the app would let a cloned repository open a copy of
 * another app's store with that app's key.
 */
function keyFileText(root: string, file: string): string | undefined {
  const read = readRegularFile(path.join(root, ...file.split('/')), root);
  if (read.ok) return read.text;
  if (read.missing) return undefined;
  const denied = read.reason.includes('permission denied');
  const what = file === '.env' ? "the app's .env" : `the key file ${file}`;
  throw new TriggerboxError('SecretKeyUnreadable', `${what} ${read.reason}; it was not read`, {
    hint: denied
      ? `let this user read ${file} (ls -l ${file}: its owner and mode), or set ${KEY_VARIABLE} in the environment; nothing was changed`
      : file === '.env'
        ? `make .env a regular file inside the app (or remove it), or set ${KEY_VARIABLE} in the environment; nothing was changed`
        : `make ${file} a regular file inside the app holding the key (restore it from where you keep it), or set ${KEY_VARIABLE}; nothing was changed`,
  });
}

function dotenvValue(root: string): string | undefined {
  const text = keyFileText(root, '.env');
  return text === undefined ? undefined : parseDotenv(text)[KEY_VARIABLE];
}

/** The master key and where it came from, or undefined when there is none. */
export function findMasterKey(
  root: string,
  env: Record<string, string | undefined>,
): MasterKey | undefined {
  const fromEnv = env[KEY_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { key: parseMasterKey(fromEnv, `${KEY_VARIABLE} (environment)`), source: 'environment' };
  }
  const fromDotenv = dotenvValue(root);
  if (fromDotenv !== undefined && fromDotenv !== '') {
    return {
      key: parseMasterKey(fromDotenv, `${KEY_VARIABLE} in ${path.join(root, '.env')}`),
      source: '.env',
    };
  }
  const key = readKeyFile(root, KEY_FILE);
  return key === undefined ? undefined : { key, source: 'key file' };
}

/** The key in a key file, or undefined when the file does not exist (it may vanish meanwhile). */
export function readKeyFile(root: string, file: string): Buffer | undefined {
  const text = keyFileText(root, file);
  return text === undefined ? undefined : parseMasterKey(text, path.join(root, file));
}

/** Writes a key file with mode 0600, atomically. */
export function writeKeyFile(root: string, file: string, key: Buffer): void {
  writeFileAtomic(path.join(root, file), `${formatMasterKey(key)}\n`, 0o600);
}

/** Makes sure the app's .gitignore keeps the key files out of version control. */
export function ignoreKeyFiles(root: string): void {
  const problem = ignoreInGit(
    root,
    [KEY_FILE, NEXT_KEY_FILE],
    'triggerbox master key: never commit it (the secret store itself is safe to commit)',
  );
  if (problem !== undefined) {
    throw new TriggerboxError(
      'InvalidInput',
      `the app's .gitignore ${problem}: the new key file cannot be kept out of git`,
      { hint: 'make .gitignore a regular file (or remove it), then run the command again' },
    );
  }
}
