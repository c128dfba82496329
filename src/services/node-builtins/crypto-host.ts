/**
 * The host side of the sandbox's `require('crypto')`: node:crypto behind one table of plain ops
 * (one structured-clone-friendly argument object in; Uint8Array, string, number, boolean or a
 * plain object out), called synchronously by the guest module (crypto-guest.js) through the
 * runtime's blocking host call.
 *
 * Ciphers are host-side stateful handles: `cipherCreate` returns an id, `cipherUpdate` returns the
 * bytes Node's `update()` returns at that point, `cipherFinal` finishes and frees the handle. So
 * the guest gets Node's exact chunking (a CTR or CBC stream that never calls final() still gets
 * its output; a GCM decipher returns plaintext from update() as Node does) with no cipher
 * re-implemented in the guest. The cost is state on the host: the runtime creates one
 * `createNodeCryptoHost()` per call and calls `dispose()` when the call ends or hits a limit, and
 * at most `maxHandles` ciphers are open at once. Hashes, HMACs and signatures are stateless
 * one-shot ops: the guest accumulates update() data (in its own heap, under its memory limit)
 * and sends it once at digest()/sign()/verify().
 *
 * Every byte result is copied into its own ArrayBuffer: a Buffer may be a view on Node's shared
 * 8 KiB pool, and copying a view across the boundary copies its whole backing store.
 */
import type * as Crypto from 'node:crypto';
import type { CipherGCM, Cipheriv, DecipherGCM, Decipheriv } from 'node:crypto';
import { nodeCrypto } from '../../shared/lazy-crypto.js';

/** A PEM key as text or bytes, or Node's key object form with the same fields. */
export type KeyInput =
  | string
  | Uint8Array
  | {
      key: string | Uint8Array;
      passphrase?: string | Uint8Array | undefined;
      padding?: number | undefined;
      saltLength?: number | undefined;
      dsaEncoding?: 'der' | 'ieee-p1363' | undefined;
      format?: 'pem' | 'der' | undefined;
      type?: 'pkcs1' | 'pkcs8' | 'spki' | 'sec1' | undefined;
      oaepHash?: string | undefined;
    };

export interface NodeCryptoHostOptions {
  /** Ciphers open at once (created and not finalised); default 1000. */
  maxHandles?: number;
  /** Largest randomBytes request in one op; the guest asks in chunks. Default 16 MiB. */
  maxRandomBytes?: number;
}

/** The largest randomBytes request a single op serves by default. */
export const MAX_RANDOM_BYTES_PER_OP = 16 * 1024 * 1024;

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function bytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new TypeError(`${what} must be binary data, got ${value === null ? 'null' : typeof value}`);
}

function integer(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${what} must be an integer`);
  }
  return value;
}

/** The four RSA operations the guest may name, and nothing else of node:crypto. */
const RSA_OPS = {
  publicEncrypt: 'publicEncrypt',
  privateDecrypt: 'privateDecrypt',
  privateEncrypt: 'privateEncrypt',
  publicDecrypt: 'publicDecrypt',
} as const;

function keyOf(input: KeyInput): Parameters<typeof Crypto.sign>[2] {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return Buffer.from(input);
  if (typeof input === 'object' && input !== null) {
    const { key, passphrase, ...rest } = input;
    return {
      ...rest,
      key: typeof key === 'string' ? key : Buffer.from(bytes(key, 'key')),
      ...(passphrase === undefined
        ? {}
        : {
            passphrase: typeof passphrase === 'string' ? passphrase : Buffer.from(passphrase),
          }),
    } as Parameters<typeof Crypto.sign>[2];
  }
  throw new TypeError('the key must be a PEM string, its bytes, or an object with a key field');
}

/** The plain numbers of node:crypto's `constants`. */
function numericConstants(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(nodeCrypto().constants)) {
    if (typeof value === 'number') out[name] = value;
  }
  return out;
}

/**
 * A fresh ops table with its own cipher handles. One per call; `dispose()` frees what the call
 * left open.
 */
export function createNodeCryptoHost(options: NodeCryptoHostOptions = {}) {
  const maxHandles = options.maxHandles ?? 1000;
  const maxRandom = options.maxRandomBytes ?? MAX_RANDOM_BYTES_PER_OP;
  const ciphers = new Map<number, { cipher: Cipheriv | Decipheriv; decipher: boolean }>();
  let nextId = 1;
  let disposed = false;

  function handle(id: unknown) {
    const found = ciphers.get(id as number);
    if (found === undefined) {
      throw new Error('this cipher has been finalised, or the call that created it has ended');
    }
    return found;
  }

  const ops = {
    hash(args: { algorithm: string; data: Uint8Array; outputLength?: number | undefined }) {
      const options = args.outputLength === undefined ? {} : { outputLength: args.outputLength };
      return copy(
        nodeCrypto().createHash(args.algorithm, options).update(bytes(args.data, 'data')).digest(),
      );
    },
    hmac(args: { algorithm: string; key: Uint8Array; data: Uint8Array }) {
      return copy(
        nodeCrypto()
          .createHmac(args.algorithm, bytes(args.key, 'key'))
          .update(bytes(args.data, 'data'))
          .digest(),
      );
    },
    getHashes: () => nodeCrypto().getHashes(),
    getCiphers: () => nodeCrypto().getCiphers(),
    getCurves: () => nodeCrypto().getCurves(),
    constants: () => numericConstants(),
    randomBytes(args: { size: number }) {
      const size = integer(args.size, 'size');
      if (size < 0 || size > maxRandom) {
        throw new RangeError(`randomBytes: size must be 0 to ${maxRandom} in one host op`);
      }
      return copy(nodeCrypto().randomBytes(size));
    },
    pbkdf2(args: {
      password: Uint8Array;
      salt: Uint8Array;
      iterations: number;
      keylen: number;
      digest: string;
    }) {
      return copy(
        nodeCrypto().pbkdf2Sync(
          bytes(args.password, 'password'),
          bytes(args.salt, 'salt'),
          args.iterations,
          args.keylen,
          args.digest,
        ),
      );
    },
    scrypt(args: {
      password: Uint8Array;
      salt: Uint8Array;
      keylen: number;
      options?: {
        N?: number;
        r?: number;
        p?: number;
        cost?: number;
        blockSize?: number;
        parallelization?: number;
        maxmem?: number;
      };
    }) {
      return copy(
        nodeCrypto().scryptSync(
          bytes(args.password, 'password'),
          bytes(args.salt, 'salt'),
          args.keylen,
          args.options ?? {},
        ),
      );
    },
    cipherCreate(args: {
      algorithm: string;
      key: Uint8Array;
      iv: Uint8Array | null;
      decipher: boolean;
      authTagLength?: number | undefined;
    }): number {
      if (disposed) throw new Error('the call has ended');
      if (ciphers.size >= maxHandles) {
        throw new Error(
          `too many ciphers in progress (${maxHandles}): call final() on the ciphers you are done with`,
        );
      }
      const options = args.authTagLength === undefined ? {} : { authTagLength: args.authTagLength };
      const key = bytes(args.key, 'key');
      const iv = args.iv === null ? null : bytes(args.iv, 'iv');
      // The overloads of createCipheriv narrow on literal algorithm names; any name goes here.
      const make = (
        args.decipher ? nodeCrypto().createDecipheriv : nodeCrypto().createCipheriv
      ) as (
        algorithm: string,
        key: Uint8Array,
        iv: Uint8Array | null,
        options: object,
      ) => Cipheriv | Decipheriv;
      const cipher = make(args.algorithm, key, iv, options);
      const id = nextId++;
      ciphers.set(id, { cipher, decipher: args.decipher });
      return id;
    },
    cipherUpdate(args: { id: number; data: Uint8Array }) {
      const { cipher } = handle(args.id);
      try {
        return copy(cipher.update(bytes(args.data, 'data')));
      } catch (error) {
        ciphers.delete(args.id);
        throw error;
      }
    },
    cipherSetAAD(args: { id: number; data: Uint8Array; plaintextLength?: number | undefined }) {
      const { cipher } = handle(args.id);
      const options =
        args.plaintextLength === undefined ? undefined : { plaintextLength: args.plaintextLength };
      (cipher as CipherGCM).setAAD(Buffer.from(bytes(args.data, 'buffer')), options);
      return true;
    },
    cipherSetAuthTag(args: { id: number; tag: Uint8Array }) {
      const { cipher, decipher } = handle(args.id);
      if (!decipher) throw new Error('Invalid state for operation setAuthTag');
      (cipher as DecipherGCM).setAuthTag(Buffer.from(bytes(args.tag, 'buffer')));
      return true;
    },
    cipherSetAutoPadding(args: { id: number; autoPadding: boolean }) {
      handle(args.id).cipher.setAutoPadding(args.autoPadding);
      return true;
    },
    cipherFinal(args: { id: number }): { data: Uint8Array; authTag: Uint8Array | null } {
      const { cipher, decipher } = handle(args.id);
      ciphers.delete(args.id);
      const data = copy(cipher.final());
      let authTag: Uint8Array | null = null;
      if (!decipher) {
        try {
          authTag = copy((cipher as CipherGCM).getAuthTag());
        } catch {
          // Not an AEAD mode: Node's getAuthTag() throws, and so will the guest's.
        }
      }
      return { data, authTag };
    },
    cipherFree(args: { id: number }) {
      return ciphers.delete(args.id);
    },
    sign(args: { algorithm: string | null; data: Uint8Array; key: KeyInput }) {
      return copy(nodeCrypto().sign(args.algorithm, bytes(args.data, 'data'), keyOf(args.key)));
    },
    verify(args: {
      algorithm: string | null;
      data: Uint8Array;
      key: KeyInput;
      signature: Uint8Array;
    }): boolean {
      return nodeCrypto().verify(
        args.algorithm,
        bytes(args.data, 'data'),
        keyOf(args.key) as Parameters<typeof Crypto.verify>[2],
        bytes(args.signature, 'signature'),
      );
    },
    rsa(args: {
      op: 'publicEncrypt' | 'privateDecrypt' | 'privateEncrypt' | 'publicDecrypt';
      key: KeyInput;
      data: Uint8Array;
    }) {
      const crypto = nodeCrypto();
      const fn = Object.hasOwn(RSA_OPS, args.op) ? crypto[RSA_OPS[args.op]] : undefined;
      if (fn === undefined) throw new Error(`unknown RSA operation ${String(args.op)}`);
      return copy(
        fn(
          keyOf(args.key) as Parameters<typeof Crypto.publicEncrypt>[0],
          bytes(args.data, 'buffer'),
        ),
      );
    },
  };

  return {
    ops,
    /** Ciphers created and not finalised. */
    get openHandles(): number {
      return ciphers.size;
    },
    /** Frees every handle; later cipher ops fail. */
    dispose(): void {
      disposed = true;
      ciphers.clear();
    },
  };
}

export type NodeCryptoHost = ReturnType<typeof createNodeCryptoHost>;
export type NodeCryptoOps = NodeCryptoHost['ops'];
export type NodeCryptoOpName = keyof NodeCryptoOps;
