/**
 * The encrypted local secret store (docs/secret-store.md). The file .triggerbox/secrets.json
 * is safe to commit: names are visible, values are AES-256-GCM ciphertexts, and an HMAC over
 * every entry detects a removed, added, swapped or rolled-back entry. A second HMAC over the
 * file's bytes lets a reader accept a file exactly as triggerbox wrote it without checking each
 * entry again; any other file (reformatted, older, edited) is checked entry by entry. Every operation reads the
 * file afresh; every change happens under a cross-process lock and replaces the file atomically.
 * No plaintext value is ever written to disk or put in an error message.
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { checkValueName, VALUE_NAME_RULE } from '../app/names.js';
import { readRegularFileBytes, regularFileTarget } from '../app/regular-file.js';
import { writeFileAtomic, syncDirectory } from '../shared/atomic-file.js';
import { TriggerboxError } from '../shared/errors.js';
import { processRuns, withFileLock } from '../shared/file-lock.js';
import {
  deriveKeys,
  fileMac,
  FORMAT_VERSION,
  keyCheck,
  keyId,
  newMasterKey,
  newSecretId,
  newStoreId,
  open,
  sameDigest,
  seal,
  setMac,
  type StoreKeys,
} from './crypto.js';
import {
  findMasterKey,
  ignoreKeyFiles,
  KEY_FILE,
  KEY_VARIABLE,
  NEXT_KEY_FILE,
  readKeyFile,
  STORE_DIR,
  writeKeyFile,
  type MasterKey,
} from './key.js';

export const STORE_FILE = `${STORE_DIR}/secrets.json`;
const LOCK_FILE = `${STORE_DIR}/secrets.lock`;
export const MAX_VALUE_LENGTH = 500;
export const VALUE_RULE = `secret values must be strings of at most ${MAX_VALUE_LENGTH} characters`;

export interface SecretEntry {
  id: string;
  name: string;
  nonce: string;
  ciphertext: string;
}

export interface StoreDocument {
  triggerbox_secret_store: number;
  store_id: string;
  key_check: string;
  /** Names the key without the store id (absent in stores written before it existed). */
  key_id?: string | undefined;
  secrets: SecretEntry[];
  mac: string;
  /** HMAC over the file's bytes before this member, its last (absent in older stores). */
  file_mac?: string | undefined;
}

/** The file's bytes up to its last member, `file_mac`, and that member's value. */
interface SignedBytes {
  bytes: Buffer;
  mac: string;
}

/** The store as read: its entries are not checked yet (see unlock). */
interface StoreRead {
  doc: StoreDocument;
  stamp: string;
  signed: SignedBytes | undefined;
}

export interface SecretSummary {
  id: string;
  name: string;
}

export interface DeletedSecret extends SecretSummary {
  deleted: boolean;
  details: string;
}

export interface OpenSecretStoreOptions {
  /** The app directory. */
  root: string;
  /** Where TRIGGERBOX_MASTER_KEY is looked up first; defaults to process.env. */
  env?: Record<string, string | undefined> | undefined;
  /**
   * Told once, when this store creates a new master key file (its app-relative path): the key
   * is the only way to read the secrets, so the CLI says where it is and to back it up.
   */
  onKeyCreated?: ((keyFile: string) => void) | undefined;
}

interface Unlocked {
  doc: StoreDocument;
  keys: StoreKeys;
  master: MasterKey;
  /**
   * The file's signed bytes, when they verified under the key and the state was read under the
   * lock to be changed: what is written back unchanged when a change only appends entries.
   */
  signed?: Buffer | undefined;
}

function corrupt(file: string, detail: string): TriggerboxError {
  return new TriggerboxError(
    'SecretStoreCorrupt',
    `the secret store ${file} is corrupted: ${detail}`,
    {
      hint: `restore ${file} from version control (git checkout -- ${file}); nothing was changed`,
    },
  );
}

function tampered(file: string, detail: string): TriggerboxError {
  return new TriggerboxError(
    'SecretStoreTampered',
    `the secret store ${file} was modified outside triggerbox: ${detail}`,
    {
      hint: `restore ${file} from version control (git checkout -- ${file}); nothing was changed`,
    },
  );
}

/** The store file, or the folder that holds it, is not something triggerbox can read. */
function unreadable(file: string, reason: string): TriggerboxError {
  const denied = reason.includes('permission denied');
  return new TriggerboxError('SecretStoreUnreadable', `the secret store ${file} ${reason}`, {
    hint: denied
      ? `let this user read and write ${STORE_DIR} (ls -l ${STORE_DIR}: its owner and modes); nothing was changed`
      : file === STORE_DIR
        ? `move ${STORE_DIR} away: it must be the folder that holds the store and its key; nothing was changed`
        : `make ${file} a regular file inside the app (git checkout -- ${file}), or move it away to start a new store; nothing was changed`,
  });
}

/** A verified store; `rotation`: only master.key.next opens it (a rotation is half done). */
interface KeyMatch {
  state: Unlocked;
  rotation: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Checks the document's shape but for its entries (checkEntries); every problem is a
 * SecretStoreCorrupt naming the JSON path.
 */
function parseHead(text: string, file: string): StoreDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw corrupt(file, 'not a JSON object');
  const d = doc as Record<string, unknown>;
  if (d['triggerbox_secret_store'] !== FORMAT_VERSION) {
    throw corrupt(
      file,
      `unsupported format version ${JSON.stringify(d['triggerbox_secret_store'])} (this triggerbox reads version ${FORMAT_VERSION})`,
    );
  }
  for (const key of ['store_id', 'key_check', 'mac'] as const) {
    if (typeof d[key] !== 'string' || d[key] === '') throw corrupt(file, `$.${key} is missing`);
  }
  if (!/^[0-9a-f]{32}$/.test(d['store_id'] as string))
    throw corrupt(file, '$.store_id is not 32 hex digits');
  if (
    d['key_id'] !== undefined &&
    (typeof d['key_id'] !== 'string' || !BASE64.test(d['key_id']) || d['key_id'] === '')
  )
    throw corrupt(file, '$.key_id is not base64');
  if (!Array.isArray(d['secrets'])) throw corrupt(file, '$.secrets is not an array');
  return doc as StoreDocument;
}

/** Checks each entry's shape: strings, base64, no repeated id or name. */
function checkEntries(doc: StoreDocument, file: string): void {
  const ids = new Set<string>();
  const names = new Set<string>();
  // A plain loop, no array per entry: it runs once per command, before V8 optimises anything
  // (the forEach with a key list took 27 ms for 10,000 entries in a new process, this 18 ms).
  const secrets = doc.secrets as unknown[];
  for (let i = 0; i < secrets.length; i++) {
    const e = secrets[i] as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null)
      throw corrupt(file, `$.secrets[${i}] is not an object`);
    const { id, name, nonce, ciphertext } = e;
    if (typeof id !== 'string') throw corrupt(file, `$.secrets[${i}].id is missing`);
    if (typeof name !== 'string') throw corrupt(file, `$.secrets[${i}].name is missing`);
    if (typeof nonce !== 'string') throw corrupt(file, `$.secrets[${i}].nonce is missing`);
    if (typeof ciphertext !== 'string')
      throw corrupt(file, `$.secrets[${i}].ciphertext is missing`);
    if (!BASE64.test(nonce) || !BASE64.test(ciphertext)) {
      throw corrupt(file, `$.secrets[${i}] has a nonce or ciphertext that is not base64`);
    }
    if (ids.has(id) || names.has(name)) {
      throw corrupt(file, `$.secrets[${i}] repeats an id or a name`);
    }
    ids.add(id);
    names.add(name);
  }
}

/** How a file written by triggerbox ends: the file MAC as the last member, then `}`. */
const FILE_MAC_TAIL = /,\n "file_mac": "([A-Za-z0-9+/]{43}=)"\n\}\n$/;

/** The signed part of a file that ends as triggerbox writes it, else undefined. */
function signedPart(text: string, bytes: Buffer): SignedBytes | undefined {
  const tail = FILE_MAC_TAIL.exec(text.slice(-80));
  if (tail === null) return undefined;
  // The tail is ASCII: as many bytes as characters.
  return { bytes: bytes.subarray(0, bytes.length - tail[0].length), mac: tail[1] ?? '' };
}

/**
 * The file's text: the document indented by one space as ever (readable in a diff, and what
 * older triggerbox versions read), with `file_mac` appended as its last member. In pieces, to be
 * written one after the other: `body` is the document's text but for its closing `\n}`, the
 * bytes the file MAC covers.
 */
function signedFile(body: Buffer[], keys: StoreKeys): Buffer[] {
  return [...body, Buffer.from(`,\n "file_mac": "${fileMac(keys, ...body)}"\n}\n`)];
}

/** The document's text but for its closing `\n}` (signedFile). */
function documentBody(doc: StoreDocument): Buffer[] {
  const { file_mac: _, ...rest } = doc;
  const json = JSON.stringify(rest, null, 1);
  return [Buffer.from(json.slice(0, json.lastIndexOf('\n}')), 'utf8')];
}

/**
 * What documentBody(doc) gives, built from the signed bytes of the file it was read from when the
 * only change was entries appended after the first `count` (a create): those bytes up to the
 * end of the last entry, then the new entries and `mac`. Rendering 10,000 entries again took
 * 35-50 ms of a create, copying the bytes none. Undefined when the old text does not end as
 * documentBody writes it (then the whole document is rendered).
 */
function appendedBody(
  doc: StoreDocument,
  signed: Buffer | undefined,
  count: number,
  previousMac: string,
): Buffer[] | undefined {
  if (signed === undefined || count === 0 || doc.secrets.length <= count) return undefined;
  // `secrets`, `mac`, `file_mac`, its last members, as documentBody renders a document read from
  // it: the text's end then closes `secrets` (a member unknown to this version, kept by every
  // write, could be another array before `mac`, and the entry would be appended to it).
  const members = Object.keys(doc);
  if (members.slice(-3).join() !== 'secrets,mac,file_mac') return undefined;
  const end = Buffer.from(`\n ],\n "mac": "${previousMac}"`, 'utf8');
  if (signed.length < end.length || !signed.subarray(signed.length - end.length).equals(end))
    return undefined;
  let added = '';
  for (let i = count; i < doc.secrets.length; i++) {
    // One level of nesting deeper than the entry alone: two more spaces after each line break
    // (JSON text holds no other line break than its indentation's).
    added += `,\n  ${JSON.stringify(doc.secrets[i], null, 1).replaceAll('\n', '\n  ')}`;
  }
  return [
    signed.subarray(0, signed.length - end.length),
    Buffer.from(`${added}\n ],\n "mac": "${doc.mac}"`, 'utf8'),
  ];
}

/** What tells one version of the store file from another without reading it. */
function stampOf(stat: { ino: number; size: number; mtimeMs: number }): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

function checkName(name: string): void {
  if (typeof name !== 'string')
    throw new TriggerboxError(
      'SecretInvalid',
      `a secret name must be a string: ${VALUE_NAME_RULE}`,
    );
  const problem = checkValueName(name);
  if (problem !== undefined)
    throw new TriggerboxError('SecretInvalid', `invalid secret name '${name}': ${VALUE_NAME_RULE}`);
}

function checkValue(value: string): void {
  if (typeof value !== 'string')
    throw new TriggerboxError('SecretInvalid', `a secret value must be a string: ${VALUE_RULE}`);
  if (value.length === 0)
    throw new TriggerboxError('SecretInvalid', 'a secret value must not be empty');
  if (value.length > MAX_VALUE_LENGTH) {
    // Never the value itself in a message: only its length.
    throw new TriggerboxError(
      'SecretInvalid',
      `the secret value is ${value.length} characters long: ${VALUE_RULE}`,
    );
  }
}

export class SecretStore {
  readonly root: string;
  /** Path of the store file relative to the app root, for messages. */
  readonly file = STORE_FILE;
  private readonly env: Record<string, string | undefined>;
  private readonly onKeyCreated: ((keyFile: string) => void) | undefined;
  private cached: { stamp: string; unlocked: Unlocked } | undefined;

  constructor(options: OpenSecretStoreOptions) {
    this.root = path.resolve(options.root);
    this.env = options.env ?? process.env;
    this.onKeyCreated = options.onKeyCreated;
  }

  private abs(file: string): string {
    return path.join(this.root, ...file.split('/'));
  }

  /** Whether anything is at the store's path (a folder or a FIFO too: reading reports it). */
  exists(): boolean {
    try {
      lstatSync(this.abs(STORE_FILE));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The store file's bytes and a stamp of it (by descriptor: the same file), or undefined when
   * there is no store. Only a regular file inside the app is read.
   */
  private readFile(): { bytes: Buffer; stamp: string } | undefined {
    const read = readRegularFileBytes(this.abs(STORE_FILE), this.root);
    if (!read.ok) {
      if (read.missing) return undefined;
      throw unreadable(STORE_FILE, `${read.reason}; it was not read`);
    }
    return { bytes: read.bytes, stamp: stampOf(read.stat) };
  }

  /** The stamp the store file has now, if it is a regular file inside the app (nothing read). */
  private currentStamp(): string | undefined {
    const target = regularFileTarget(this.abs(STORE_FILE), this.root);
    return target.ok ? stampOf(target.stat) : undefined;
  }

  /** The document as read (its entries not checked yet: see unlock), or undefined. */
  private readDocument(): StoreRead | undefined {
    const file = this.readFile();
    if (file === undefined) return undefined;
    const text = file.bytes.toString('utf8');
    return {
      doc: parseHead(text, STORE_FILE),
      stamp: file.stamp,
      signed: signedPart(text, file.bytes),
    };
  }

  /** Secret names without the key (they are not secret): for `values list` and `validate`. */
  names(): string[] {
    const read = this.readDocument();
    if (read === undefined) return [];
    checkEntries(read.doc, STORE_FILE);
    return read.doc.secrets.map((s) => s.name);
  }

  /** The store's folder, created when absent; anything else than a folder there is refused. */
  private storeDirectory(): string {
    const dir = this.abs(STORE_DIR);
    try {
      if (!lstatSync(dir).isDirectory()) throw unreadable(STORE_DIR, 'is not a folder');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(dir, { recursive: true });
    }
    return dir;
  }

  private missingKey(): TriggerboxError {
    return new TriggerboxError(
      'SecretKeyMissing',
      `the secret store ${STORE_FILE} is encrypted, but no master key was found`,
      {
        hint: `set ${KEY_VARIABLE} (in the environment or the app's .env) to the store's key, or restore ${KEY_FILE}`,
      },
    );
  }

  /**
   * Verifies the key and the whole-set MAC. `locked`: the caller holds the store's lock, so no
   * rotation is under way and one found half done was interrupted: it is finished here. Without
   * the lock a half-done rotation may be one in progress, so the caller retries under the lock.
   *
   * A file whose file MAC verifies under the key is the one that key's holder wrote, entries
   * checked and `mac` computed before writing: it is taken as it is. Any other file is checked as
   * before the file MAC existed (in the same order: its shape, then the key, then `mac`).
   */
  private unlock(read: StoreRead, locked: boolean): KeyMatch {
    const { doc } = read;
    let master: MasterKey | undefined;
    let keyError: unknown;
    try {
      master = findMasterKey(this.root, this.env);
    } catch (error) {
      keyError = error;
    }
    if (master !== undefined && read.signed !== undefined) {
      const keys = deriveKeys(master.key, doc.store_id);
      if (sameDigest(fileMac(keys, read.signed.bytes), read.signed.mac)) {
        const signed = locked ? read.signed.bytes : undefined;
        return { state: { doc, keys, master, signed }, rotation: false };
      }
    }
    checkEntries(doc, STORE_FILE);
    if (keyError !== undefined) throw keyError;
    if (master === undefined) throw this.missingKey();
    const keys = deriveKeys(master.key, doc.store_id);
    if (sameDigest(keyCheck(keys, doc.store_id), doc.key_check))
      return { state: this.verified(doc, keys, master), rotation: false };
    const next = master.source === 'key file' ? readKeyFile(this.root, NEXT_KEY_FILE) : undefined;
    const nextKeys = next && deriveKeys(next, doc.store_id);
    if (
      next !== undefined &&
      nextKeys !== undefined &&
      sameDigest(keyCheck(nextKeys, doc.store_id), doc.key_check)
    ) {
      const state = this.verified(doc, nextKeys, { key: next, source: 'key file' });
      if (!locked) return { state, rotation: true };
      // `rotate-key` wrote the store under the new key, then stopped before renaming the key file.
      renameSync(this.abs(NEXT_KEY_FILE), this.abs(KEY_FILE));
      syncDirectory(this.abs(STORE_DIR));
      return { state, rotation: false };
    }
    // No key passes the key check: a wrong key, unless this key is provably the store's own, in
    // which case the store_id or the key_check was altered.
    for (const key of next === undefined ? [master.key] : [master.key, next]) {
      const own = deriveKeys(key, doc.store_id);
      const ownCheck = keyCheck(own, doc.store_id);
      if (doc.key_id !== undefined && sameDigest(keyId(key), doc.key_id)) {
        throw tampered(
          STORE_FILE,
          '$.store_id or $.key_check was altered (the master key is the one named by $.key_id, yet it fails the key check)',
        );
      }
      if (sameDigest(setMac(own, doc.store_id, ownCheck, doc.secrets), doc.mac))
        throw tampered(STORE_FILE, '$.key_check was altered (the key opens every entry)');
    }
    throw new TriggerboxError(
      'SecretKeyWrong',
      `the master key from ${master.source === 'key file' ? KEY_FILE : `${KEY_VARIABLE} (${master.source})`} does not open ${STORE_FILE}`,
      {
        hint: `use the key this store was created with (store id ${doc.store_id}); nothing was changed`,
      },
    );
  }

  /** The key passed the key check: the key id (when present) and the MAC must match too. */
  private verified(doc: StoreDocument, keys: StoreKeys, master: MasterKey): Unlocked {
    if (doc.key_id !== undefined && !sameDigest(keyId(master.key), doc.key_id))
      throw tampered(
        STORE_FILE,
        '$.key_id was altered (it does not name the key that opens the store)',
      );
    if (!sameDigest(setMac(keys, doc.store_id, doc.key_check, doc.secrets), doc.mac)) {
      throw tampered(
        STORE_FILE,
        'its integrity check (MAC over every entry) does not match: an entry was added, removed, swapped or rolled back',
      );
    }
    return { doc, keys, master };
  }

  /** Unlocks under the lock held by the caller: a rotation found half done is finished. */
  private unlockLocked(read: StoreRead): Unlocked {
    return this.unlock(read, true).state;
  }

  /**
   * `appended`: the change only added entries after the first `count` of `signed` (the state's
   * verified bytes): those bytes are written back as they are.
   */
  private write(
    doc: StoreDocument,
    keys: StoreKeys,
    master: MasterKey,
    appended?: { signed: Buffer | undefined; count: number },
  ): void {
    const previousKeyId = doc.key_id;
    const previousMac = doc.mac;
    doc.key_id = keyId(master.key);
    doc.mac = setMac(keys, doc.store_id, doc.key_check, doc.secrets);
    const body =
      (appended !== undefined &&
        previousKeyId === doc.key_id &&
        appendedBody(doc, appended.signed, appended.count, previousMac)) ||
      documentBody(doc);
    this.storeDirectory();
    writeFileAtomic(this.abs(STORE_FILE), signedFile(body, keys));
    this.cached = undefined;
  }

  /**
   * Runs a change under the lock on a freshly read, verified store (created when absent).
   * `appends`: the change only adds entries at the end (write keeps the file's bytes before them).
   */
  private async mutate<T>(change: (state: Unlocked) => T, appends = false): Promise<T> {
    this.storeDirectory();
    return withFileLock(this.abs(LOCK_FILE), () => {
      this.removeStaleTempFiles();
      const existing = this.readDocument();
      const state = existing === undefined ? this.createStore() : this.unlockLocked(existing);
      const count = state.doc.secrets.length;
      const result = change(state);
      const appended = appends ? { signed: state.signed, count } : undefined;
      this.write(state.doc, state.keys, state.master, appended);
      return result;
    });
  }

  /** Temp files of writers that were killed before their rename (ciphertext only, but litter). */
  private removeStaleTempFiles(): void {
    for (const entry of readdirSync(this.abs(STORE_DIR))) {
      const pid = /^\.(?:secrets\.json|master\.key(?:\.next)?)\.(\d+)\.[0-9a-f]+\.tmp$/.exec(
        entry,
      )?.[1];
      if (pid !== undefined && !processRuns(Number(pid)))
        unlinkSync(this.abs(`${STORE_DIR}/${entry}`));
    }
  }

  /** A new empty store; creates the key file (0600, git-ignored) when no key exists yet. */
  private createStore(): Unlocked {
    let master = findMasterKey(this.root, this.env);
    if (master === undefined) {
      const key = newMasterKey();
      // .gitignore first: a key file must never exist without being ignored.
      ignoreKeyFiles(this.root);
      writeKeyFile(this.root, KEY_FILE, key);
      master = { key, source: 'key file' };
      this.onKeyCreated?.(KEY_FILE);
    }
    const storeId = newStoreId();
    const keys = deriveKeys(master.key, storeId);
    const doc: StoreDocument = {
      triggerbox_secret_store: FORMAT_VERSION,
      store_id: storeId,
      key_check: keyCheck(keys, storeId),
      key_id: keyId(master.key),
      secrets: [],
      mac: '',
    };
    return { doc, keys, master };
  }

  /**
   * Reads and verifies, reusing the last verified state while the file is unchanged. Without
   * the lock first; when that read may have met a rotation between its steps (the key file and
   * the store from two sides of it), once more under the lock, where no change is half done.
   */
  private async current(): Promise<Unlocked | undefined> {
    let lockFree: { state: Unlocked | undefined; rotation: boolean };
    try {
      lockFree = this.readVerified(false);
    } catch (error) {
      if (!(error instanceof TriggerboxError) || error.code !== 'SecretKeyWrong') throw error;
      // Maybe a false SecretKeyWrong: the old store read with the new key (or the reverse).
      return this.underLock(() => {
        throw error;
      });
    }
    if (!lockFree.rotation) return lockFree.state;
    return this.underLock(() => lockFree.state);
  }

  private readVerified(locked: boolean): { state: Unlocked | undefined; rotation: boolean } {
    // The same file as last time (a Secret's every read in a long-lived runner): not read again.
    if (this.cached !== undefined && this.cached.stamp === this.currentStamp())
      return { state: this.cached.unlocked, rotation: false };
    const read = this.readDocument();
    if (read === undefined) return { state: undefined, rotation: false };
    const { state, rotation } = this.unlock(read, locked);
    this.cached = { stamp: read.stamp, unlocked: state };
    return { state, rotation };
  }

  /**
   * Reads again under the lock. A reader that cannot take it (a read-only checkout) keeps the
   * lock-free answer: `fallback` returns it or throws its error.
   */
  private async underLock(fallback: () => Unlocked | undefined): Promise<Unlocked | undefined> {
    this.cached = undefined;
    try {
      this.storeDirectory();
      return await withFileLock(this.abs(LOCK_FILE), () => this.readVerified(true).state);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return fallback();
      throw error;
    }
  }

  async list(): Promise<SecretSummary[]> {
    return ((await this.current())?.doc.secrets ?? []).map(({ id, name }) => ({ id, name }));
  }

  async create(name: string, value: string): Promise<SecretSummary> {
    checkName(name);
    checkValue(value);
    return this.mutate(({ doc, keys }) => {
      if (doc.secrets.some((s) => s.name === name)) {
        throw new TriggerboxError('SecretExists', `a secret named '${name}' already exists`, {
          hint: `change it with: triggerbox secrets update --secret ${name} --value ...`,
        });
      }
      const id = newSecretId();
      doc.secrets.push({ id, name, ...seal(keys, doc.store_id, id, name, value) });
      return { id, name };
    }, true);
  }

  /** Matches by name first, then by id (as the platform's CLI does). */
  private static find(doc: StoreDocument, ref: string): SecretEntry | undefined {
    return doc.secrets.find((s) => s.name === ref) ?? doc.secrets.find((s) => s.id === ref);
  }

  async update(
    ref: string,
    change: { name?: string | undefined; value?: string | undefined },
  ): Promise<SecretSummary> {
    if (change.name === undefined && change.value === undefined) {
      throw new TriggerboxError(
        'InvalidInput',
        'must set either --name or --value when updating a secret',
      );
    }
    if (change.name !== undefined) checkName(change.name);
    if (change.value !== undefined) checkValue(change.value);
    return this.mutate(({ doc, keys }) => {
      const entry = SecretStore.find(doc, ref);
      if (entry === undefined)
        throw new TriggerboxError('SecretNotFound', `unable to find secret: ${ref}`);
      const name = change.name ?? entry.name;
      if (name !== entry.name && doc.secrets.some((s) => s.name === name)) {
        throw new TriggerboxError('SecretExists', `a secret named '${name}' already exists`);
      }
      const value =
        change.value ??
        open(keys, doc.store_id, entry.id, entry.name, entry.nonce, entry.ciphertext);
      if (value === undefined)
        throw tampered(STORE_FILE, `secret '${entry.name}' does not decrypt`);
      // Re-sealed under the (possibly new) name: the name is bound into the ciphertext.
      Object.assign(entry, { name, ...seal(keys, doc.store_id, entry.id, name, value) });
      return { id: entry.id, name };
    });
  }

  async delete(refs: readonly string[]): Promise<DeletedSecret[]> {
    if (!this.exists()) throw new TriggerboxError('SecretNotFound', 'unable to find secrets');
    return this.mutate(({ doc }) => {
      const matched = new Map<string, SecretEntry>();
      for (const ref of refs) {
        const entry = SecretStore.find(doc, ref);
        if (entry !== undefined) matched.set(entry.id, entry);
      }
      if (matched.size === 0) throw new TriggerboxError('SecretNotFound', 'unable to find secrets');
      doc.secrets = doc.secrets.filter((s) => !matched.has(s.id));
      return [...matched.values()].map(({ id, name }) => ({
        id,
        name,
        deleted: true,
        details: '',
      }));
    });
  }

  /** The value of a secret, by name. */
  async resolve(name: string): Promise<string> {
    const state = await this.current();
    const entry = state?.doc.secrets.find((s) => s.name === name);
    if (state === undefined || entry === undefined) {
      throw new TriggerboxError(
        'SecretNotFound',
        `secret '${name}' does not exist in ${STORE_FILE}`,
        {
          hint: `create it with: triggerbox secrets create --name ${name}`,
        },
      );
    }
    const value = open(
      state.keys,
      state.doc.store_id,
      entry.id,
      entry.name,
      entry.nonce,
      entry.ciphertext,
    );
    if (value === undefined) throw tampered(STORE_FILE, `secret '${name}' does not decrypt`);
    return value;
  }

  /**
   * Re-encrypts every secret under a new key. Crash-safe: the new key is written to
   * master.key.next first, then the store (atomically), then the key file is renamed over
   * master.key; an interrupted rotation is finished by the next open.
   */
  async rotateKey(): Promise<{ count: number }> {
    const master = findMasterKey(this.root, this.env);
    if (master !== undefined && master.source !== 'key file') {
      throw new TriggerboxError(
        'InvalidInput',
        `the master key comes from ${KEY_VARIABLE} (${master.source}); rotate-key rotates the key file ${KEY_FILE}`,
        {
          hint: `unset ${KEY_VARIABLE} (and remove it from .env) so that ${KEY_FILE} holds the key, then run rotate-key again`,
        },
      );
    }
    if (!this.exists())
      throw new TriggerboxError('SecretNotFound', 'there is no secret store to rotate yet', {
        hint: 'create a secret first',
      });
    return withFileLock(this.abs(LOCK_FILE), () => {
      const existing = this.readDocument();
      if (existing === undefined)
        throw new TriggerboxError('SecretNotFound', 'there is no secret store to rotate yet');
      const { doc, keys } = this.unlockLocked(existing);
      const values = doc.secrets.map((s) => {
        const value = open(keys, doc.store_id, s.id, s.name, s.nonce, s.ciphertext);
        if (value === undefined) throw tampered(STORE_FILE, `secret '${s.name}' does not decrypt`);
        return value;
      });
      const nextKey = newMasterKey();
      writeKeyFile(this.root, NEXT_KEY_FILE, nextKey);
      const storeId = newStoreId();
      const nextKeys = deriveKeys(nextKey, storeId);
      const rotated: StoreDocument = {
        triggerbox_secret_store: FORMAT_VERSION,
        store_id: storeId,
        key_check: keyCheck(nextKeys, storeId),
        // Where a new store has it (write() would add it after `mac`, and a create could then
        // not append to the file: appendedBody).
        key_id: keyId(nextKey),
        secrets: doc.secrets.map((s, i) => ({
          id: s.id,
          name: s.name,
          ...seal(nextKeys, storeId, s.id, s.name, values[i] ?? ''),
        })),
        mac: '',
      };
      this.write(rotated, nextKeys, { key: nextKey, source: 'key file' });
      renameSync(this.abs(NEXT_KEY_FILE), this.abs(KEY_FILE));
      syncDirectory(this.abs(STORE_DIR));
      return { count: rotated.secrets.length };
    });
  }

  /** Creates or updates one secret per entry, all in one atomic change (or none on any error). */
  async importEntries(
    entries: Record<string, string>,
  ): Promise<{ created: string[]; updated: string[] }> {
    for (const [name, value] of Object.entries(entries)) {
      checkName(name);
      try {
        checkValue(value);
      } catch (error) {
        throw new TriggerboxError('SecretInvalid', `${name}: ${(error as Error).message}`);
      }
    }
    return this.mutate(({ doc, keys }) => {
      const created: string[] = [];
      const updated: string[] = [];
      for (const [name, value] of Object.entries(entries)) {
        const entry = doc.secrets.find((s) => s.name === name);
        if (entry === undefined) {
          const id = newSecretId();
          doc.secrets.push({ id, name, ...seal(keys, doc.store_id, id, name, value) });
          created.push(name);
        } else {
          Object.assign(entry, seal(keys, doc.store_id, entry.id, name, value));
          updated.push(name);
        }
      }
      return { created, updated };
    });
  }

  /** A resolver for createRunner({secrets}): re-reads the store when the file changes. */
  resolver(): (secretName: string) => Promise<string> {
    return (secretName) => this.resolve(secretName);
  }
}

export function openSecretStore(options: OpenSecretStoreOptions): SecretStore {
  return new SecretStore(options);
}
