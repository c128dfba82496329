/**
 * Finding the master key: TRIGGERBOX_MASTER_KEY from the environment, then from the app's .env
 * (read with dotenv, never copied into process.env), then the key file .triggerbox/master.key.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
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

function dotenvValue(root: string): string | undefined {
  const file = path.join(root, '.env');
  if (!existsSync(file)) return undefined;
  return parseDotenv(readFileSync(file))[KEY_VARIABLE];
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
  const keyFile = path.join(root, KEY_FILE);
  if (existsSync(keyFile)) {
    return { key: parseMasterKey(readFileSync(keyFile, 'utf8'), keyFile), source: 'key file' };
  }
  return undefined;
}

export function readKeyFile(root: string, file: string): Buffer | undefined {
  const abs = path.join(root, file);
  return existsSync(abs) ? parseMasterKey(readFileSync(abs, 'utf8'), abs) : undefined;
}

/** Writes a key file with mode 0600, atomically. */
export function writeKeyFile(root: string, file: string, key: Buffer): void {
  writeFileAtomic(path.join(root, file), `${formatMasterKey(key)}\n`, 0o600);
}

/** Makes sure the app's .gitignore keeps the key files out of version control. */
export function ignoreKeyFiles(root: string): void {
  const gitignore = path.join(root, '.gitignore');
  const current = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : '';
  const lines = current.split(/\r?\n/);
  const missing = [KEY_FILE, NEXT_KEY_FILE].filter(
    (entry) => !lines.includes(entry) && !lines.includes(`/${entry}`),
  );
  if (missing.length === 0) return;
  const prefix = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  writeFileAtomic(
    gitignore,
    `${prefix}# triggerbox master key: never commit it (the secret store itself is safe to commit)\n${missing.join('\n')}\n`,
  );
}
