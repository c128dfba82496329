/**
 * The host side of `utils.crypto` and `utils.jwt` (docs-app-services `source/functions/globals.txt`).
 *
 * Every op takes one plain, structured-clone-friendly argument object and returns plain data
 * (strings, booleans, Uint8Array, JSON objects), so that the sandbox boundary can copy both ways.
 * Failures are plain `Error`s whose message is what the function sees: the platform runs these
 * utilities in Go, so where its docs give no wording the messages follow the Go libraries it is
 * built on (crypto/cipher, golang-jwt). The guest side (`guest.js`) turns BSON.Binary into
 * Uint8Array on the way in and back on the way out.
 *
 * The JWT ops are asynchronous (jose works on WebCrypto); the platform's `utils.jwt` is
 * synchronous, so the boundary must let the guest block on them (as the prelude already does
 * for secrets with `applySyncPromise`).
 */
import type { KeyObject } from 'node:crypto';
import { nodeCrypto } from '../../shared/lazy-crypto.js';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/** Bytes or text; text is taken as its UTF-8 bytes. */
export type BytesInput = string | Uint8Array;

export interface EncryptArgs {
  /** Only `"aes"`. */
  type: string;
  message: BytesInput;
  /** 16, 24 or 32 UTF-8 bytes: AES-128, AES-192 or AES-256. */
  key: string;
}
export interface DecryptArgs {
  type: string;
  /** `nonce(12) || ciphertext || tag(16)`, as `encrypt` returns it. */
  message: Uint8Array;
  key: string;
}
export type SignatureScheme = 'pss' | 'pkcs1v15';
export interface SignArgs {
  /** Only `"rsa"`. */
  type: string;
  message: BytesInput;
  /** PEM, PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`). */
  privateKey: string;
  /** Default `"pss"`. */
  scheme?: string | undefined;
}
export interface VerifyArgs {
  type: string;
  message: BytesInput;
  /** PEM, PKCS#1 (`-----BEGIN RSA PUBLIC KEY-----`). */
  publicKey: string;
  signature: Uint8Array;
  scheme?: string | undefined;
}
export interface HmacArgs {
  input: BytesInput;
  secret: BytesInput;
  /** `"sha1"`, `"sha256"` or `"sha512"`. */
  hash: string;
  /** `"hex"` or `"base64"`. */
  output: string;
}
export interface HashArgs {
  /** `"sha1"`, `"sha256"` or `"md5"`. */
  algorithm: string;
  input: BytesInput;
}

/** A JSON object: the claims of a token, or the fields of its JOSE header. */
export type JsonObject = { [key: string]: unknown };

export interface JwtEncodeArgs {
  /** HS256 ... PS512, see {@link JWT_METHODS}. */
  method: string;
  payload: JsonObject;
  /** The HMAC secret (HS*), or a PEM private key (RS*, PS*, ES*). */
  secret: string;
  /** Extra JOSE header fields; `alg` always names `method`. */
  headerFields?: JsonObject | undefined;
}
export interface JwtDecodeArgs {
  jwt: string;
  /** The HMAC secret (HS*), or the PEM public key (or certificate) of the signer. */
  key: string;
  returnHeader?: boolean | undefined;
  /** The methods this call accepts; absent or empty: all of {@link JWT_METHODS}. */
  acceptedMethods?: string[] | undefined;
}
export interface JwtDecoded {
  header: JsonObject;
  payload: JsonObject;
}

/** The signing methods of `utils.jwt` (globals.txt lists these twelve). */
export const JWT_METHODS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const;
export type JwtMethod = (typeof JWT_METHODS)[number];

function fail(message: string): never {
  throw new Error(message);
}

function bytes(value: BytesInput, what: string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  return fail(`${what} must be a string or binary data, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} must be a string, got ${describe(value)}`);
  return value;
}

// ---- utils.crypto ----

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function aesKey(
  type: unknown,
  key: unknown,
): { cipher: 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm'; key: Buffer } {
  if (type !== 'aes')
    fail(`unsupported encryption type ${JSON.stringify(type)}: only "aes" is supported`);
  const raw = Buffer.from(requireString(key, 'key'), 'utf8');
  switch (raw.length) {
    case 16:
      return { cipher: 'aes-128-gcm', key: raw };
    case 24:
      return { cipher: 'aes-192-gcm', key: raw };
    case 32:
      return { cipher: 'aes-256-gcm', key: raw };
    default:
      // Go's crypto/aes wording; the key is the string's UTF-8 bytes, as on the platform.
      return fail(
        `crypto/aes: invalid key size ${raw.length} (an AES key is a 16-, 24- or 32-byte string)`,
      );
  }
}

/** AES-GCM with a random 12-byte nonce: `nonce || ciphertext || tag`. */
export function encrypt(args: EncryptArgs): Uint8Array {
  const { cipher, key } = aesKey(args.type, args.key);
  const nonce = nodeCrypto().randomBytes(NONCE_BYTES);
  const c = nodeCrypto().createCipheriv(cipher, key, nonce);
  const body = Buffer.concat([c.update(bytes(args.message, 'message')), c.final()]);
  return new Uint8Array(Buffer.concat([nonce, body, c.getAuthTag()]));
}

export function decrypt(args: DecryptArgs): Uint8Array {
  const { cipher, key } = aesKey(args.type, args.key);
  const sealed = args.message;
  if (!(sealed instanceof Uint8Array))
    fail(`encrypted message must be binary data, got ${describe(sealed)}`);
  if (sealed.length < NONCE_BYTES + TAG_BYTES)
    fail(
      `ciphertext too short: ${sealed.length} bytes, at least ${NONCE_BYTES + TAG_BYTES} expected (nonce and tag)`,
    );
  const d = nodeCrypto().createDecipheriv(cipher, key, sealed.subarray(0, NONCE_BYTES));
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    const body = d.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
    return new Uint8Array(Buffer.concat([body, d.final()]));
  } catch {
    // Wrong key or altered bytes: Go's crypto/cipher says exactly this.
    return fail('cipher: message authentication failed');
  }
}

function rsaScheme(type: unknown, scheme: unknown): SignatureScheme {
  if (type !== 'rsa')
    fail(`unsupported encryption type ${JSON.stringify(type)}: only "rsa" is supported`);
  if (scheme === undefined || scheme === null || scheme === '') return 'pss';
  if (scheme === 'pss' || scheme === 'pkcs1v15') return scheme;
  return fail(`unsupported signature scheme ${JSON.stringify(scheme)}: use "pss" or "pkcs1v15"`);
}

// PSS as Go's rsa.SignPSS with default options: SHA-256, MGF1-SHA-256, the largest salt when
// signing and any salt length when verifying.
function rsaOptions(scheme: SignatureScheme) {
  return scheme === 'pss'
    ? {
        padding: nodeCrypto().constants.RSA_PKCS1_PSS_PADDING,
        saltLength: nodeCrypto().constants.RSA_PSS_SALTLEN_MAX_SIGN,
      }
    : { padding: nodeCrypto().constants.RSA_PKCS1_PADDING };
}

// The docs: "can only sign messages with a private key that conforms to the standard PKCS#1
// format ... the header -----BEGIN RSA PRIVATE KEY-----" (and RSA PUBLIC KEY to verify).
function pkcs1Key(pem: unknown, kind: 'PRIVATE' | 'PUBLIC'): KeyObject {
  const text = requireString(pem, kind === 'PRIVATE' ? 'private key' : 'public key');
  const header = `-----BEGIN RSA ${kind} KEY-----`;
  if (!text.includes(header))
    fail(`the ${kind.toLowerCase()} key must be a PEM-encoded PKCS#1 RSA key (${header})`);
  try {
    return kind === 'PRIVATE'
      ? nodeCrypto().createPrivateKey({ key: text, format: 'pem' })
      : nodeCrypto().createPublicKey({ key: text, format: 'pem' });
  } catch (error) {
    return fail(`the ${kind.toLowerCase()} key cannot be read: ${(error as Error).message}`);
  }
}

/** An RSA signature of SHA-256(message). */
export function sign(args: SignArgs): Uint8Array {
  const scheme = rsaScheme(args.type, args.scheme);
  const key = pkcs1Key(args.privateKey, 'PRIVATE');
  return new Uint8Array(
    nodeCrypto().sign('sha256', bytes(args.message, 'message'), { key, ...rsaOptions(scheme) }),
  );
}

/** True when `signature` is a valid signature of the message by the key's private half. */
export function verify(args: VerifyArgs): boolean {
  const scheme = rsaScheme(args.type, args.scheme);
  const key = pkcs1Key(args.publicKey, 'PUBLIC');
  if (!(args.signature instanceof Uint8Array))
    fail(`signature must be binary data, got ${describe(args.signature)}`);
  const options =
    scheme === 'pss'
      ? {
          key,
          padding: nodeCrypto().constants.RSA_PKCS1_PSS_PADDING,
          saltLength: nodeCrypto().constants.RSA_PSS_SALTLEN_AUTO,
        }
      : { key, ...rsaOptions(scheme) };
  const message = bytes(args.message, 'message');
  try {
    return nodeCrypto().verify('sha256', message, options, args.signature);
  } catch {
    // A signature of the wrong length for the key is simply not valid.
    return false;
  }
}

const HMAC_HASHES = ['sha1', 'sha256', 'sha512'];
const HASHES = ['sha1', 'sha256', 'md5'];

export function hmac(args: HmacArgs): string {
  if (!HMAC_HASHES.includes(args.hash))
    fail(
      `unsupported hash function ${JSON.stringify(args.hash)}: use "sha1", "sha256" or "sha512"`,
    );
  if (args.output !== 'hex' && args.output !== 'base64')
    fail(`unsupported output format ${JSON.stringify(args.output)}: use "hex" or "base64"`);
  return nodeCrypto()
    .createHmac(args.hash, bytes(args.secret, 'secret'))
    .update(bytes(args.input, 'input'))
    .digest(args.output);
}

export function hash(args: HashArgs): Uint8Array {
  if (!HASHES.includes(args.algorithm))
    fail(
      `unsupported hash function ${JSON.stringify(args.algorithm)}: use "sha1", "sha256" or "md5"`,
    );
  return new Uint8Array(
    nodeCrypto().createHash(args.algorithm).update(bytes(args.input, 'input')).digest(),
  );
}

// ---- utils.jwt ----

function jwtMethod(value: unknown): JwtMethod {
  if (typeof value === 'string' && (JWT_METHODS as readonly string[]).includes(value))
    return value as JwtMethod;
  return fail(
    `unsupported signing method ${JSON.stringify(value)}: use one of ${JWT_METHODS.join(', ')}`,
  );
}

const EC_CURVES: Record<string, string> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

/** Checks that a parsed key can serve `method`, with a message that names both. */
function checkKeyType(method: JwtMethod, key: KeyObject): KeyObject {
  const type = key.asymmetricKeyType;
  if (method.startsWith('ES')) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (type !== 'ec' || curve !== EC_CURVES[method])
      fail(
        `${method} needs an ECDSA ${EC_CURVES[method]} key, got ${type === 'ec' ? `a ${curve} key` : `an ${type} key`}`,
      );
  } else if (type !== 'rsa' && type !== 'rsa-pss') {
    fail(`${method} needs an RSA key, got an ${type} key`);
  }
  return key;
}

// The docs ask for PKCS#8 keys; Go's jwt key parsers also take PKCS#1/SEC1 private keys and
// PKIX, PKCS#1 or certificate public keys, and Node reads all of them from PEM.
function signingKey(method: JwtMethod, secret: unknown): Uint8Array | KeyObject {
  const text = requireString(secret, 'secret');
  if (method.startsWith('HS')) return Buffer.from(text, 'utf8');
  let key: KeyObject;
  try {
    key = nodeCrypto().createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    return fail(`${method} needs a PEM private key (PKCS#8): ${(error as Error).message}`);
  }
  return checkKeyType(method, key);
}

function verifyingKey(method: JwtMethod, key: string): Uint8Array | KeyObject {
  if (method.startsWith('HS')) return Buffer.from(key, 'utf8');
  let parsed: KeyObject;
  try {
    parsed = nodeCrypto().createPublicKey({ key, format: 'pem' });
  } catch (error) {
    return fail(
      `token is unverifiable: ${method} needs a PEM public key: ${(error as Error).message}`,
    );
  }
  return checkKeyType(method, parsed);
}

function isJsonObject(value: unknown): value is JsonObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}

export async function jwtEncode(args: JwtEncodeArgs): Promise<string> {
  const method = jwtMethod(args.method);
  if (!isJsonObject(args.payload)) fail(`payload must be an object, got ${describe(args.payload)}`);
  if (
    args.headerFields !== undefined &&
    args.headerFields !== null &&
    !isJsonObject(args.headerFields)
  )
    fail(`custom header fields must be an object, got ${describe(args.headerFields)}`);
  const key = signingKey(method, args.secret);
  // Header as the docs' example token has it: {"alg":...,"typ":"JWT"}, then the custom fields.
  const header = { alg: method, typ: 'JWT', ...(args.headerFields ?? {}) };
  header.alg = method;
  try {
    return await new SignJWT(args.payload).setProtectedHeader(header).sign(key);
  } catch (error) {
    return fail(`cannot sign the token with ${method}: ${(error as Error).message}`);
  }
}

export async function jwtDecode(args: JwtDecodeArgs): Promise<JsonObject | JwtDecoded> {
  const jwt = requireString(args.jwt, 'token');
  const keyText = requireString(args.key, 'key');
  const accepted = args.acceptedMethods;
  if (accepted !== undefined && accepted !== null && !Array.isArray(accepted))
    fail(`accepted signing methods must be an array of strings, got ${describe(accepted)}`);
  const allowed: string[] = accepted && accepted.length > 0 ? accepted : [...JWT_METHODS];

  if (jwt.split('.').length !== 3)
    fail('token is malformed: token contains an invalid number of segments');
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(jwt).alg;
  } catch (error) {
    return fail(`token is malformed: ${(error as Error).message}`);
  }
  if (typeof alg !== 'string' || !(JWT_METHODS as readonly string[]).includes(alg))
    fail(`token is unverifiable: signing method ${String(alg)} is not supported`);
  if (!allowed.includes(alg))
    fail(
      `token is unverifiable: signing method ${alg} is invalid (accepted: ${allowed.join(', ')})`,
    );
  const key = verifyingKey(alg as JwtMethod, keyText);

  try {
    const { payload, protectedHeader } = await jwtVerify(jwt, key, { algorithms: [alg] });
    // jose returns its own objects; copy them so that only plain JSON crosses the boundary.
    const plainPayload = JSON.parse(JSON.stringify(payload)) as JsonObject;
    if (!args.returnHeader) return plainPayload;
    return {
      header: JSON.parse(JSON.stringify(protectedHeader)) as JsonObject,
      payload: plainPayload,
    };
  } catch (error) {
    return fail(jwtFailure(error));
  }
}

/** jose's errors in golang-jwt's words ("token signature is invalid", "token is expired" ...). */
function jwtFailure(error: unknown): string {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'token signature is invalid: signature is invalid';
  if (error instanceof joseErrors.JWTExpired) return 'token has invalid claims: token is expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'token has invalid claims: token is not valid yet';
    return `token has invalid claims: ${error.message}`;
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
    return `token is malformed: ${error.message}`;
  return `token is unverifiable: ${(error as Error).message}`;
}

/**
 * The ops table: name -> host function. The boundary copies the one argument object in and
 * the result (or the error's name and message) out. `jwtEncode` and `jwtDecode` return
 * Promises; the guest must see them synchronously (see the module comment).
 */
export const cryptoOps = {
  encrypt,
  decrypt,
  sign,
  verify,
  hmac,
  hash,
  jwtEncode,
  jwtDecode,
} as const;

export type CryptoOps = typeof cryptoOps;
export type CryptoOpName = keyof CryptoOps;
