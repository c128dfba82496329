import assert from 'node:assert/strict';
import {
  constants,
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import vm from 'node:vm';
import { guestRealm } from './guest-realm.js';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import * as jose from 'jose';
import {
  cryptoOps,
  decrypt,
  encrypt,
  hash,
  hmac,
  JWT_METHODS,
  jwtDecode,
  jwtEncode,
  sign,
  verify,
  type JwtMethod,
} from '../src/services/crypto/host.js';

const utf8 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const fromB64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

// ---- vectors of SPEC section 3 and of docs-app-services source/functions/globals.txt ----

const AES_KEY = '603082712271C525E087BD999A4E0738';
const AES_SEALED = 'WPBuIvJ6Bity43Uh822dW8QlVYVJaFUiDeUjlTiJXzptUuTYIKPlXekBQAJb';
const DOCS_JWT =
  'eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvZSBTY2htb2UiLCJpYXQiOjE1NjU3MjEyMjMxODd9.-QL15ldu2BYuJokNWT6YRiwZQIiIpvq6Kyv-C6qslNdNiUVxo8zqLJZ1iEkNf2yZKMIrQuMCtIC1tzd2H31AxA';
// The docs' example prints "Joe Example" in the claims but the token carries "Joe Schmoe".
const DOCS_CLAIMS = { sub: '1234567890', name: 'Joe Schmoe', iat: 1565721223187 };
const DOCS_RSA_PRIVATE = `-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDVsEjse2qO4v3p8RM/q8Rqzloc1lee34yoYuKZ2cemuUu8Jpc7
KFO1+aJpXdbSPZNhGLdANn8f2oMIZ1R9hgEJRn/Qm/YyC4RPTGg55nzHqSlziNZJ
JAyEUyU7kx5+Kb6ktgojhk8ocZRkorM8FEylkrKzgSrfay0PcWHPsKlmeQIDAQAB
AoGAHlVK1L7kLmpMbuP4voYMeLjYE9XdVEEZf2GiFwLSE3mkJY44033y/Bb2lgxr
DScOf675fFUAEK59ATlhxfu6s6rgx+g9qQQ+mL74YZWPqiZHBPjyMRaBalDVC4QF
YJ+DopFcB8hY2ElXnbK70ALmVYNjw3RdmC97h0YfOsQcWW0CQQD18aeuPNicVnse
Ku22vvhvQYlabaQh4xdkEIxz1TthZj48f61wZwEMipYqOAc5XEtDlNnxgeipv0yF
RHstUjwXAkEA3m0Br/U/vC9evuXppWbONana08KLgfELyd3Uw9jG7VKJZTBH5mS8
7CB68aEF8egrJpo8Ss8BkWrvCxYDb4Y77wJAUlbOMZozVtvpKidrIFR9Lho91uWA
Hsw9h4W20AzibXBig7SnJ0uE4WMAdS/+0yhgFkceVCmO8E2YW8Gaj4jJjwJASxtg
AHy+ItuUEL4uIW4Pn8tVW0BMP3qX0niXyfI/ag/+2S5uePv3V3y4RzNqgH83Yved
+FziWKpVQdcTHeuj/QJBAJl1G3WFruk0llIoKKbKljaEiCm1WCTcuEPbdOtkJYvO
9ZYQg/fji70FERkq2KHtY7aLhCHzy0d4n9xgE/pjV+I=
-----END RSA PRIVATE KEY-----`;
const DOCS_RSA_PUBLIC = `-----BEGIN RSA PUBLIC KEY-----
MIGJAoGBANWwSOx7ao7i/enxEz+rxGrOWhzWV57fjKhi4pnZx6a5S7wmlzsoU7X5
omld1tI9k2EYt0A2fx/agwhnVH2GAQlGf9Cb9jILhE9MaDnmfMepKXOI1kkxDIRT
JTuTHn4pvqS2CiOGTyhxlGSiszwUTKWSsrOBKt9rLQ9xYc+wqWZ5AgMBAAE=
-----END RSA PUBLIC KEY-----`;

const DOCS_PSS_SIGNATURE =
  'SpfXcJwPbypArt+XuYQyuZqU52YCAY/sZj2kiuin2b6/RzyM4Ek3n3spOtqZJqxn1tfQavxIX4V+prbs74/pOaQkCLekl9Hoa1xOzSKcGoRd8U+n1+UBY3d3cyODGMpyr8Tim2HZAeLPE/D3Q36/K+jpgjvrJFXsJoAy5/PV7iEGV1fkzogmZtXWDcUUBBTTNPY4qZTzjNhL4RAFOc7Mfci+ojE/lLsNaumUVU1/Eky4vasmyjqunm+ULCcRmgWtGDMGHaQV4OXC2LMUe9GOqd3Q9ghCe0Vlhn25oTh8cXoGpd1Fr8wolNa//9dUqSM+QYDpZJXGLShX/Oa8mPwJZKDKHtqrS+2vE6S4dDWR7zKDza+DeovOeCih71QyuSYMXSz+WWGgfLzv/syhmUXP/mjqgLmJU6Kwg5htajDoylpzLC0BLGT4zDZEwBrq/AjwRs/EPjYdFgGCt1WCbbVlDyXvvH1ekDrzACzumhiMSZNNa+ZH3JmMJxTCQWDfiTeAfkauaaZHKIj2q2/QE7vuAhNcVPJ2YgpXnvnQHJpEZBc/Y3Q6JLxom6+cGC4P//9d++r2cwzXIkqD+wSGZVSVtpm5CLtWMRSK5FX2dv16bM+LE8ozoRvtMUDTrQ8SSSDGxyuYbvN9b2fYYPcWpCMchqOBXV6eZGoMldaHX3Qy5h8=';
/** The PKCS#1 public half of the docs' private key. */
const DOCS_RSA_PRIVATE_PUBLIC_HALF = createPublicKey(DOCS_RSA_PRIVATE)
  .export({ type: 'pkcs1', format: 'pem' })
  .toString();

// ---- keys made once for the whole file ----

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pkcs1Private = (key: KeyObject): string =>
  key.export({ type: 'pkcs1', format: 'pem' }).toString();
const pkcs1Public = (key: KeyObject): string =>
  key.export({ type: 'pkcs1', format: 'pem' }).toString();
const pkcs8 = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();
const ec = {
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ES384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ES512: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
};
const HS_SECRET = 'a shared secret of some length';

/** The encode secret and decode key of each method, as PEM text or the HMAC string. */
function keysFor(method: JwtMethod): { secret: string; key: string } {
  if (method.startsWith('HS')) return { secret: HS_SECRET, key: HS_SECRET };
  const pair = method.startsWith('ES') ? ec[method as keyof typeof ec] : rsa;
  return { secret: pkcs8(pair.privateKey), key: spki(pair.publicKey) };
}

/** A key for jose itself, so that jose checks our tokens independently of host.ts. */
async function joseVerifyKey(method: JwtMethod): Promise<jose.CryptoKey | Uint8Array> {
  const { key } = keysFor(method);
  return method.startsWith('HS') ? new TextEncoder().encode(key) : jose.importSPKI(key, method);
}
async function joseSignKey(method: JwtMethod): Promise<jose.CryptoKey | Uint8Array> {
  const { secret } = keysFor(method);
  return method.startsWith('HS')
    ? new TextEncoder().encode(secret)
    : jose.importPKCS8(secret, method);
}

/** Asserts that `action` throws (or rejects with) an Error whose message matches `pattern`. */
async function fails(action: () => unknown, pattern: RegExp): Promise<void> {
  try {
    await action();
  } catch (error) {
    assert.ok(error instanceof Error, `not an Error: ${String(error)}`);
    assert.match(error.message, pattern);
    return;
  }
  assert.fail(`expected a failure matching ${pattern}`);
}

describe('services/crypto host: SPEC section 3 vectors', () => {
  it('decrypt: the docs AES vector gives "MongoDB is great!"', () => {
    const plain = decrypt({ type: 'aes', message: fromB64(AES_SEALED), key: AES_KEY });
    assert.equal(utf8(plain), 'MongoDB is great!');
  });

  it('hmac: hello! / super-secret / sha256 / base64 is the docs signature', () => {
    const mac = hmac({ input: 'hello!', secret: 'super-secret', hash: 'sha256', output: 'base64' });
    assert.equal(mac, 'SUXd6PRMaTXXgBGaGsIHzaDWgTSa6C3D44lRGrvRak0=');
  });

  it('hash: sha256 of hello! is the docs digest, as bytes', () => {
    const digest = hash({ algorithm: 'sha256', input: 'hello!' });
    assert.ok(digest instanceof Uint8Array);
    assert.equal(b64(digest), 'zgYJL7lI2f+sfRo3bkBLJrdXW8wR7gWkYV/vT+w6MIs=');
  });

  it('jwtEncode: the docs claims with HS512 and "SuperSecret" give the docs token byte for byte', async () => {
    const token = await jwtEncode({ method: 'HS512', payload: DOCS_CLAIMS, secret: 'SuperSecret' });
    assert.equal(token, DOCS_JWT);
  });

  it('jwtDecode: the docs token decodes with ["HS512"] (an iat in milliseconds is not refused)', async () => {
    const payload = await jwtDecode({
      jwt: DOCS_JWT,
      key: 'SuperSecret',
      acceptedMethods: ['HS512'],
    });
    assert.deepEqual(payload, DOCS_CLAIMS);
  });

  it('sign/verify: the docs private key signs, and its public half verifies, in both schemes', () => {
    for (const scheme of ['pss', 'pkcs1v15']) {
      const message = 'MongoDB is great!';
      const signature = sign({ type: 'rsa', message, privateKey: DOCS_RSA_PRIVATE, scheme });
      assert.equal(signature.length, 128, 'a 1024-bit key signs in 128 bytes');
      const args = {
        type: 'rsa',
        message,
        publicKey: DOCS_RSA_PRIVATE_PUBLIC_HALF,
        signature,
        scheme,
      };
      assert.equal(verify(args), true, scheme);
    }
  });

  it('verify: the docs example is not reproducible and gives false, not an error', () => {
    // Its signature is 512 bytes (a 4096-bit key's) and its public key differs from the
    // private key's modulus in one byte: the docs mixed up two keys.
    const signature = fromB64(DOCS_PSS_SIGNATURE);
    assert.equal(signature.length, 512);
    const args = {
      type: 'rsa',
      message: 'MongoDB is great!',
      publicKey: DOCS_RSA_PUBLIC,
      signature,
      scheme: 'pss',
    };
    assert.equal(verify(args), false);
    assert.notEqual(
      createPublicKey(DOCS_RSA_PUBLIC).export({ format: 'jwk' }).n,
      createPublicKey(DOCS_RSA_PRIVATE).export({ format: 'jwk' }).n,
    );
  });
});

describe('services/crypto host: encrypt and decrypt (AES-GCM)', () => {
  it('round trips with 16-, 24- and 32-byte keys; output is nonce(12) || ciphertext || tag(16)', () => {
    for (const key of ['0123456789abcdef', '0123456789abcdef01234567', AES_KEY]) {
      const sealed = encrypt({ type: 'aes', message: 'héllo wörld', key });
      assert.equal(sealed.length, 12 + Buffer.byteLength('héllo wörld') + 16);
      assert.equal(utf8(decrypt({ type: 'aes', message: sealed, key })), 'héllo wörld');
    }
  });

  it('uses a fresh nonce each time, and takes binary messages as they are', () => {
    const a = encrypt({ type: 'aes', message: 'same', key: AES_KEY });
    const b = encrypt({ type: 'aes', message: 'same', key: AES_KEY });
    assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
    const bytes = new Uint8Array([0, 255, 1, 254]);
    assert.deepEqual(
      decrypt({
        type: 'aes',
        message: encrypt({ type: 'aes', message: bytes, key: AES_KEY }),
        key: AES_KEY,
      }),
      bytes,
    );
  });

  it('fails clearly: wrong key, altered bytes, short input, bad key size, unknown type', async () => {
    const sealed = fromB64(AES_SEALED);
    await fails(
      () => decrypt({ type: 'aes', message: sealed, key: AES_KEY.toLowerCase() }),
      /^cipher: message authentication failed$/,
    );
    const altered = sealed.slice();
    altered[14]! ^= 1;
    await fails(
      () => decrypt({ type: 'aes', message: altered, key: AES_KEY }),
      /^cipher: message authentication failed$/,
    );
    await fails(
      () => decrypt({ type: 'aes', message: sealed.subarray(0, 20), key: AES_KEY }),
      /ciphertext too short: 20 bytes/,
    );
    await fails(
      () => encrypt({ type: 'aes', message: 'x', key: 'short' }),
      /crypto\/aes: invalid key size 5/,
    );
    await fails(
      () => encrypt({ type: 'des', message: 'x', key: AES_KEY }),
      /unsupported encryption type "des": only "aes"/,
    );
  });
});

describe('services/crypto host: hmac and hash', () => {
  it('hmac: sha1/sha256/sha512 in hex and base64 agree with node:crypto', () => {
    for (const algorithm of ['sha1', 'sha256', 'sha512'])
      for (const output of ['hex', 'base64'] as const) {
        const expected = createHmac(algorithm, 'key').update('input').digest(output);
        assert.equal(hmac({ input: 'input', secret: 'key', hash: algorithm, output }), expected);
      }
  });

  it('hash: sha1 and md5, and binary input hashes the same as its text', () => {
    for (const algorithm of ['sha1', 'md5', 'sha256']) {
      const expected = createHash(algorithm).update('hello!').digest('base64');
      assert.equal(b64(hash({ algorithm, input: 'hello!' })), expected);
      assert.equal(b64(hash({ algorithm, input: new TextEncoder().encode('hello!') })), expected);
    }
  });

  it('fails clearly on functions and formats the platform does not list', async () => {
    await fails(
      () => hmac({ input: 'a', secret: 'b', hash: 'md5', output: 'hex' }),
      /unsupported hash function "md5": use "sha1", "sha256" or "sha512"/,
    );
    await fails(
      () => hmac({ input: 'a', secret: 'b', hash: 'sha256', output: 'binary' }),
      /unsupported output format "binary"/,
    );
    await fails(
      () => hash({ algorithm: 'sha512', input: 'a' }),
      /unsupported hash function "sha512": use "sha1", "sha256" or "md5"/,
    );
  });
});

describe('services/crypto host: sign and verify (RSA, PKCS#1 keys)', () => {
  const privateKey = pkcs1Private(rsa.privateKey);
  const publicKey = pkcs1Public(rsa.publicKey);

  it('pss (the default) and pkcs1v15 signatures verify here and with node:crypto over SHA-256', () => {
    const pss = sign({ type: 'rsa', message: 'm', privateKey });
    assert.equal(verify({ type: 'rsa', message: 'm', publicKey, signature: pss }), true);
    assert.ok(
      nodeVerify(
        'sha256',
        Buffer.from('m'),
        {
          key: rsa.publicKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_AUTO,
        },
        pss,
      ),
    );
    const v15 = sign({ type: 'rsa', message: 'm', privateKey, scheme: 'pkcs1v15' });
    assert.equal(
      verify({ type: 'rsa', message: 'm', publicKey, signature: v15, scheme: 'pkcs1v15' }),
      true,
    );
    assert.ok(nodeVerify('sha256', Buffer.from('m'), rsa.publicKey, v15));
    assert.equal(
      verify({ type: 'rsa', message: 'm', publicKey, signature: v15, scheme: 'pss' }),
      false,
    );
  });

  it('verify is false for another message, another key, or a signature of the wrong length', () => {
    const signature = sign({ type: 'rsa', message: 'm', privateKey });
    assert.equal(verify({ type: 'rsa', message: 'n', publicKey, signature }), false);
    const other = pkcs1Public(otherRsa.publicKey);
    assert.equal(verify({ type: 'rsa', message: 'm', publicKey: other, signature }), false);
    assert.equal(
      verify({ type: 'rsa', message: 'm', publicKey, signature: signature.subarray(1) }),
      false,
    );
  });

  it('fails clearly on non-PKCS#1 keys, unknown schemes and types', async () => {
    await fails(
      () => sign({ type: 'rsa', message: 'm', privateKey: pkcs8(rsa.privateKey) }),
      /PKCS#1 RSA key \(-----BEGIN RSA PRIVATE KEY-----\)/,
    );
    await fails(
      () =>
        verify({
          type: 'rsa',
          message: 'm',
          publicKey: spki(rsa.publicKey),
          signature: new Uint8Array(256),
        }),
      /-----BEGIN RSA PUBLIC KEY-----/,
    );
    await fails(
      () => sign({ type: 'rsa', message: 'm', privateKey, scheme: 'oaep' }),
      /unsupported signature scheme "oaep": use "pss" or "pkcs1v15"/,
    );
    await fails(
      () => sign({ type: 'ecdsa', message: 'm', privateKey }),
      /unsupported encryption type "ecdsa": only "rsa"/,
    );
    await fails(
      () =>
        sign({
          type: 'rsa',
          message: 'm',
          privateKey: '-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----',
        }),
      /private key cannot be read/,
    );
  });
});

describe('services/crypto host: jwtEncode and jwtDecode', () => {
  const claims = { sub: 'user-1', admin: true, n: 42, list: [1, 'two'], nested: { a: null } };

  for (const method of JWT_METHODS) {
    it(`${method}: encode -> decode round trips, and jose verifies the token independently`, async () => {
      const { secret, key } = keysFor(method);
      const token = await jwtEncode({
        method,
        payload: claims,
        secret,
        headerFields: { kid: 'k1' },
      });
      assert.deepEqual(await jwtDecode({ jwt: token, key }), claims);
      assert.deepEqual(
        await jwtDecode({ jwt: token, key, returnHeader: true, acceptedMethods: [method] }),
        {
          header: { alg: method, typ: 'JWT', kid: 'k1' },
          payload: claims,
        },
      );
      const checked = await jose.jwtVerify(token, await joseVerifyKey(method), {
        algorithms: [method],
      });
      assert.deepEqual(checked.payload, claims);
      assert.deepEqual(checked.protectedHeader, { alg: method, typ: 'JWT', kid: 'k1' });
    });

    it(`${method}: a token signed by jose decodes`, async () => {
      const token = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: method })
        .sign(await joseSignKey(method));
      assert.deepEqual(
        await jwtDecode({ jwt: token, key: keysFor(method).key, acceptedMethods: [method] }),
        claims,
      );
    });
  }

  it('custom header fields cannot change alg', async () => {
    const token = await jwtEncode({
      method: 'HS256',
      payload: {},
      secret: 's',
      headerFields: { alg: 'none', typ: 'at+jwt' },
    });
    assert.deepEqual(jose.decodeProtectedHeader(token), { alg: 'HS256', typ: 'at+jwt' });
  });

  it('decode fails on a wrong key or a tampered token with "token signature is invalid"', async () => {
    const hs = await jwtEncode({ method: 'HS256', payload: { a: 1 }, secret: 'right' });
    await fails(() => jwtDecode({ jwt: hs, key: 'wrong' }), /^token signature is invalid/);
    const rs = await jwtEncode({
      method: 'RS256',
      payload: { a: 1 },
      secret: pkcs8(rsa.privateKey),
    });
    await fails(
      () => jwtDecode({ jwt: rs, key: spki(otherRsa.publicKey) }),
      /^token signature is invalid/,
    );
    const [h, , s] = hs.split('.');
    const forged = `${h}.${Buffer.from('{"a":2}').toString('base64url')}.${s}`;
    await fails(() => jwtDecode({ jwt: forged, key: 'right' }), /^token signature is invalid/);
  });

  it('decode refuses a method outside acceptedMethods, before looking at the key', async () => {
    // The classic confusion: an HS256 token "signed" with the text of an RSA public key.
    const publicPem = spki(rsa.publicKey);
    const token = await jwtEncode({ method: 'HS256', payload: { admin: true }, secret: publicPem });
    await fails(
      () => jwtDecode({ jwt: token, key: publicPem, acceptedMethods: ['RS256'] }),
      /signing method HS256 is invalid \(accepted: RS256\)/,
    );
  });

  it('decode refuses expired and not-yet-valid tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await jwtEncode({ method: 'HS256', payload: { exp: now - 60 }, secret: 's' });
    await fails(() => jwtDecode({ jwt: expired, key: 's' }), /token is expired/);
    const early = await jwtEncode({ method: 'HS256', payload: { nbf: now + 3600 }, secret: 's' });
    await fails(() => jwtDecode({ jwt: early, key: 's' }), /token is not valid yet/);
  });

  it('decode fails clearly on malformed tokens, alg none, and keys of the wrong kind', async () => {
    await fails(
      () => jwtDecode({ jwt: 'not a token', key: 's' }),
      /^token is malformed: token contains an invalid number of segments/,
    );
    await fails(() => jwtDecode({ jwt: '!!.e30.sig', key: 's' }), /^token is malformed/);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.e30.`;
    await fails(() => jwtDecode({ jwt: none, key: 's' }), /signing method none is not supported/);
    const es = await jwtEncode({
      method: 'ES256',
      payload: {},
      secret: pkcs8(ec.ES256.privateKey),
    });
    await fails(
      () => jwtDecode({ jwt: es, key: spki(ec.ES384.publicKey) }),
      /ES256 needs an ECDSA prime256v1 key, got a secp384r1 key/,
    );
    await fails(() => jwtDecode({ jwt: es, key: 'not pem' }), /ES256 needs a PEM public key/);
  });

  it('encode fails clearly on unknown methods, non-object payloads and unusable keys', async () => {
    await fails(
      () => jwtEncode({ method: 'HS1', payload: {}, secret: 's' }),
      /unsupported signing method "HS1": use one of HS256, HS384/,
    );
    await fails(
      () => jwtEncode({ method: 'HS256', payload: [1] as never, secret: 's' }),
      /payload must be an object, got an array/,
    );
    await fails(
      () => jwtEncode({ method: 'RS256', payload: {}, secret: 'not pem' }),
      /RS256 needs a PEM private key/,
    );
    await fails(
      () => jwtEncode({ method: 'RS256', payload: {}, secret: pkcs8(ec.ES256.privateKey) }),
      /RS256 needs an RSA key, got an ec key/,
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await fails(
      () => jwtEncode({ method: 'RS256', payload: {}, secret: pkcs8(small.privateKey) }),
      /cannot sign the token with RS256: .*2048 bits/,
    );
  });
});

// ---- guest.js in a bare V8 context, its host ops behind a blocking call ----

/**
 * A synchronous `callHost` over cryptoOps run in a worker thread: the caller blocks on
 * Atomics.wait until the op settles, as the sandbox blocks on the host with applySyncPromise.
 * Replies are structured clones, as isolated-vm copies.
 */
function blockingHost(): {
  call: (op: string, args: unknown) => unknown;
  close: () => Promise<number>;
} {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const hostUrl = new URL('../src/services/crypto/host.js', import.meta.url).href;
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const { port, signal, hostUrl } = workerData;
     const wake = () => { Atomics.store(signal, 0, 1); Atomics.notify(signal, 0); };
     const failed = (error) => { port.postMessage({ ok: false, name: 'Error', message: String(error) }); wake(); };
     import(hostUrl).then(({ cryptoOps }) => {
       port.on('message', async ({ op, args }) => {
         try { port.postMessage({ ok: true, value: await cryptoOps[op](args) }); }
         catch (error) { port.postMessage({ ok: false, name: error.name, message: error.message }); }
         wake();
       });
       wake();
     }, failed);`,
    { eval: true, workerData: { port: port2, signal, hostUrl }, transferList: [port2] },
  );
  // Never what keeps the test process alive, whatever happens to the suite.
  worker.unref();
  port1.unref();
  const waitForReply = (): void => {
    Atomics.wait(signal, 0, 0);
    Atomics.store(signal, 0, 0);
  };
  waitForReply();
  return {
    call(op, args) {
      port1.postMessage({ op, args });
      waitForReply();
      const reply = receiveMessageOnPort(port1)?.message as
        { ok: true; value: unknown } | { ok: false; name: string; message: string };
      if (!reply) throw new Error(`no reply to ${op}`);
      if (!reply.ok) throw Object.assign(new Error(reply.message), { name: reply.name });
      return reply.value;
    },
    close: () => {
      port1.close();
      return worker.terminate();
    },
  };
}

/** A fresh context with only V8's built-ins, the bson browser build and guest.js. */
function guestContext(host: ReturnType<typeof blockingHost>): vm.Context {
  const guestPath = new URL('../../src/services/crypto/guest.js', import.meta.url);
  const source = readFileSync(guestPath, 'utf8');
  // Self-contained, so that esbuild can inline it into the prelude: no imports, one export.
  assert.doesNotMatch(source, /^\s*import\s/m);
  assert.equal(source.match(/^export /gm)?.length, 1);
  const context = vm.createContext({});
  // The prelude gives the sandbox these before BSON loads; bson's browser build uses them.
  Object.assign(context, { TextEncoder, TextDecoder, atob, btoa });
  const require = createRequire(import.meta.url);
  vm.runInContext(
    readFileSync(path.join(path.dirname(require.resolve('bson')), 'bson.bundle.js'), 'utf8'),
    context,
  );
  vm.runInContext(
    source.replace(/^export function createUtils/m, 'function createUtils'),
    context,
    {
      filename: guestPath.pathname,
    },
  );
  const { realm, toGuest } = guestRealm(context);
  context.__callHost = (op: string, args: unknown) => {
    try {
      return toGuest(host.call(op, args));
    } catch (error) {
      throw Object.assign(new realm.Error((error as Error).message), {
        name: (error as Error).name,
      });
    }
  };
  vm.runInContext(
    'globalThis.utils = createUtils(__callHost, BSON); delete globalThis.__callHost;',
    context,
  );
  return context;
}

describe('services/crypto guest.js: the utils global in a bare context', () => {
  const host = blockingHost();
  after(() => host.close());
  const context = guestContext(host);
  // Each snippet in its own block; the result as JSON, since its objects are of the guest realm.
  const run = (code: string): unknown => {
    const value: unknown = vm.runInContext(`{ ${code} }`, context);
    return value === undefined ? value : JSON.parse(JSON.stringify(value));
  };

  it('has no Node APIs to lean on, and utils.crypto / utils.jwt have the platform methods', () => {
    assert.equal(
      run('typeof require + typeof Buffer + typeof process'),
      'undefinedundefinedundefined',
    );
    assert.deepEqual(
      run('Object.keys(utils.crypto).join()'),
      'encrypt,decrypt,sign,verify,hmac,hash',
    );
    assert.deepEqual(run('Object.keys(utils.jwt).join()'), 'encode,decode');
  });

  it('decrypt: the docs example (base64 -> BSON.Binary -> decrypt -> text) gives "MongoDB is great!"', () => {
    const code = `const m = BSON.Binary.createFromBase64(${JSON.stringify(AES_SEALED)});
      const out = utils.crypto.decrypt("aes", m, ${JSON.stringify(AES_KEY)});
      [out._bsontype, out.sub_type, out.toString("utf8")]`;
    assert.deepEqual(run(code), ['Binary', 0, 'MongoDB is great!']);
  });

  it('encrypt returns a BSON.Binary that decrypt takes back', () => {
    const code = `const key = ${JSON.stringify(AES_KEY)};
      const sealed = utils.crypto.encrypt("aes", "MongoDB is great!", key);
      [sealed instanceof BSON.Binary, sealed.length(), utils.crypto.decrypt("aes", sealed, key).toString("utf8")]`;
    assert.deepEqual(run(code), [true, 45, 'MongoDB is great!']);
  });

  it('hmac returns the docs string; hash returns a BSON.Binary of the docs digest, for text or Binary input', () => {
    assert.equal(
      run('utils.crypto.hmac("hello!", "super-secret", "sha256", "base64")'),
      'SUXd6PRMaTXXgBGaGsIHzaDWgTSa6C3D44lRGrvRak0=',
    );
    const code = `const h = utils.crypto.hash("sha256", "hello!");
      const hb = utils.crypto.hash("sha256", BSON.Binary.createFromBase64("aGVsbG8h"));
      [h instanceof BSON.Binary, h.toString("base64"), hb.toString("base64")]`;
    const digest = 'zgYJL7lI2f+sfRo3bkBLJrdXW8wR7gWkYV/vT+w6MIs=';
    assert.deepEqual(run(code), [true, digest, digest]);
  });

  it('sign returns a BSON.Binary and verify a boolean, with the docs argument orders', () => {
    const code = `const priv = ${JSON.stringify(DOCS_RSA_PRIVATE)}, pub = ${JSON.stringify(DOCS_RSA_PRIVATE_PUBLIC_HALF)};
      const s = utils.crypto.sign("rsa", "MongoDB is great!", priv, "pss");
      const d = utils.crypto.sign("rsa", "MongoDB is great!", priv);
      [s instanceof BSON.Binary, s.length(), utils.crypto.verify("rsa", "MongoDB is great!", pub, s, "pss"),
       utils.crypto.verify("rsa", "MongoDB is great!", pub, d), utils.crypto.verify("rsa", "other", pub, s, "pss")]`;
    assert.deepEqual(run(code), [true, 128, true, true, false]);
  });

  it('jwt.encode is synchronous and returns the docs token; decode returns the payload, or {header, payload}', () => {
    const code = `const t = utils.jwt.encode("HS512", ${JSON.stringify(DOCS_CLAIMS)}, "SuperSecret");
      [t, utils.jwt.decode(t, "SuperSecret", false, ["HS512"]), utils.jwt.decode(t, "SuperSecret", true)]`;
    const [token, payload, full] = run(code) as [string, unknown, unknown];
    assert.equal(token, DOCS_JWT);
    assert.deepEqual(payload, DOCS_CLAIMS);
    assert.deepEqual(full, {
      header: { alg: 'HS512', typ: 'JWT' },
      payload: DOCS_CLAIMS,
    });
  });

  it('jwt.encode takes BSON values in the payload as their JSON (ObjectId -> hex string)', () => {
    const code = `const t = utils.jwt.encode("HS256", { id: new BSON.ObjectId("5f1f1f1f1f1f1f1f1f1f1f1f"), at: new Date(0) }, "s", { kid: "k" });
      utils.jwt.decode(t, "s", true)`;
    assert.deepEqual(run(code), {
      header: { alg: 'HS256', typ: 'JWT', kid: 'k' },
      payload: { id: '5f1f1f1f1f1f1f1f1f1f1f1f', at: '1970-01-01T00:00:00.000Z' },
    });
  });

  it('host failures arrive as Errors of the guest realm with the host message; bad argument types are TypeErrors', () => {
    const code = (expr: string) =>
      `try { ${expr}; "no error" } catch (e) { [e instanceof Error, e.name, e.message] }`;
    assert.deepEqual(
      run(
        code(
          `utils.crypto.decrypt("aes", BSON.Binary.createFromBase64(${JSON.stringify(AES_SEALED)}), "0123456789abcdef")`,
        ),
      ),
      [true, 'Error', 'cipher: message authentication failed'],
    );
    const tampered = DOCS_JWT.slice(0, -2) + 'AA';
    assert.deepEqual(run(code(`utils.jwt.decode(${JSON.stringify(tampered)}, "SuperSecret")`)), [
      true,
      'Error',
      'token signature is invalid: signature is invalid',
    ]);
    assert.deepEqual(
      run(code(`utils.jwt.decode(${JSON.stringify(DOCS_JWT)}, "SuperSecret", false, ["RS256"])`)),
      [true, 'Error', 'token is unverifiable: signing method HS512 is invalid (accepted: RS256)'],
    );
    assert.deepEqual(run(code(`utils.crypto.decrypt("aes", ${JSON.stringify(AES_SEALED)}, "k")`)), [
      true,
      'TypeError',
      'utils.crypto.decrypt: encryptedMessage must be a BSON.Binary, got string',
    ]);
  });
});

describe('services/crypto: the ops table', () => {
  it('names every op once, each a function of one argument object', () => {
    assert.deepEqual(Object.keys(cryptoOps), [
      'encrypt',
      'decrypt',
      'sign',
      'verify',
      'hmac',
      'hash',
      'jwtEncode',
      'jwtDecode',
    ]);
    for (const op of Object.values(cryptoOps)) assert.equal(op.length, 1);
  });

  it('jwt keys: PKCS#1 RSA keys sign and verify as PKCS#8 and SPKI do', async () => {
    const token = await jwtEncode({
      method: 'RS256',
      payload: { a: 1 },
      secret: pkcs1Private(rsa.privateKey),
    });
    assert.deepEqual(await jwtDecode({ jwt: token, key: pkcs1Public(rsa.publicKey) }), { a: 1 });
    assert.deepEqual(await jwtDecode({ jwt: token, key: spki(createPublicKey(rsa.privateKey)) }), {
      a: 1,
    });
  });
});
