// @ts-check
// The guest side of `require('crypto')`: Node's crypto API (at the platform's Node 10.18.1 level,
// plus randomUUID, randomInt, webcrypto.getRandomValues and the one-shot sign/verify) over the
// host ops of crypto-host.ts, reached through a synchronous `callHost(op, args)`.
//
// Hashes, HMACs and Sign/Verify accumulate their update() data here and send it in one op at
// digest()/sign()/verify(); ciphers are host-side handles (see crypto-host.ts for why), so that
// update() returns what Node's update() returns. Every class is also a stream, as in Node.

const RANDOM_CHUNK = 1024 * 1024; // below crypto-host's per-op cap
const MAX_RANDOM_VALUES = 65536;
const RAND_MAX = 0xffffffffffff; // randomInt's range limit: 2^48 - 1, as Node

/**
 * @typedef {object} CryptoDeps
 * @property {(op: string, args?: Record<string, unknown>) => any} callHost
 * @property {any} Buffer the sandbox Buffer
 * @property {any} stream the `stream` module (Transform, Writable)
 * @property {any} StringDecoder the string_decoder module's class
 * @property {(fn: Function, ...args: unknown[]) => void} nextTick
 */

/**
 * @param {string} code
 * @param {string} message
 * @param {ErrorConstructor} [Kind]
 */
function codedError(code, message, Kind = Error) {
  const error = /** @type {Error & {code?: string}} */ (new Kind(message));
  error.code = code;
  return error;
}

/**
 * @param {string} name
 * @param {string} expected
 * @param {unknown} value
 */
function invalidArgType(name, expected, value) {
  const received = value === null ? 'null' : typeof value;
  return codedError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be one of type ${expected}. Received type ${received}`,
    TypeError,
  );
}

/**
 * @param {CryptoDeps} deps
 */
export function createCrypto({ callHost, Buffer, stream, StringDecoder, nextTick }) {
  const { Transform, Writable } = stream;

  /** A host result (a Uint8Array of this realm) as a Buffer, without copying. */
  const fromHost = (/** @type {Uint8Array} */ bytes) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  /**
   * Bytes for the host: a plain Uint8Array that covers its whole ArrayBuffer, since copying a
   * view across the boundary copies all of the memory behind it.
   * @param {Uint8Array} view
   */
  function forHost(view) {
    if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) {
      return new Uint8Array(view.buffer);
    }
    return new Uint8Array(view);
  }

  /**
   * @param {unknown} data
   * @param {string | undefined} encoding
   * @param {string} name
   * @returns {Uint8Array}
   */
  function toBytes(data, encoding, name) {
    if (typeof data === 'string') {
      return Buffer.from(data, encoding === undefined || encoding === 'buffer' ? 'utf8' : encoding);
    }
    if (ArrayBuffer.isView(data)) {
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }
    throw invalidArgType(name, 'string, Buffer, TypedArray, or DataView', data);
  }

  /** @param {Uint8Array[]} chunks */
  function concat(chunks) {
    if (chunks.length === 1) return /** @type {Uint8Array} */ (chunks[0]);
    let length = 0;
    for (const chunk of chunks) length += chunk.byteLength;
    const out = new Uint8Array(length);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }

  /**
   * @param {any} bytes a Buffer
   * @param {string | undefined} encoding
   */
  function encode(bytes, encoding) {
    return encoding === undefined || encoding === 'buffer' ? bytes : bytes.toString(encoding);
  }

  /** @type {Map<string, unknown>} */
  const cache = new Map();
  /**
   * @param {string} op
   * @returns {any}
   */
  function cached(op) {
    if (!cache.has(op)) cache.set(op, callHost(op, {}));
    return cache.get(op);
  }
  /** @returns {Set<string>} */
  function hashNames() {
    if (!cache.has('hashSet')) {
      cache.set(
        'hashSet',
        new Set(cached('getHashes').map((/** @type {string} */ name) => name.toLowerCase())),
      );
    }
    return /** @type {Set<string>} */ (cache.get('hashSet'));
  }
  /**
   * @param {unknown} algorithm
   * @param {string} message
   * @returns {string}
   */
  function digestName(algorithm, message) {
    if (typeof algorithm !== 'string') throw invalidArgType('algorithm', 'string', algorithm);
    if (!hashNames().has(algorithm.toLowerCase())) throw new Error(message);
    return algorithm;
  }

  /**
   * A key as the host takes it: PEM text, its bytes, or the object form with the same fields.
   * @param {unknown} key
   */
  function keyArg(key) {
    if (typeof key === 'string') return key;
    if (ArrayBuffer.isView(key)) return forHost(toBytes(key, undefined, 'key'));
    if (key !== null && typeof key === 'object') {
      const object = /** @type {Record<string, unknown>} */ (key);
      /** @type {Record<string, unknown>} */
      const out = {};
      for (const field of ['padding', 'saltLength', 'dsaEncoding', 'format', 'type', 'oaepHash']) {
        if (object[field] !== undefined) out[field] = object[field];
      }
      out.key =
        typeof object.key === 'string'
          ? object.key
          : forHost(toBytes(object.key, undefined, 'key'));
      if (object.passphrase !== undefined) {
        out.passphrase =
          typeof object.passphrase === 'string'
            ? object.passphrase
            : forHost(toBytes(object.passphrase, undefined, 'passphrase'));
      }
      return out;
    }
    throw invalidArgType('key', 'string, Buffer, TypedArray, DataView, or Object', key);
  }

  // ---- Hash and Hmac ----

  class Hash extends Transform {
    /**
     * @param {string} algorithm
     * @param {{outputLength?: number} & Record<string, unknown>} [options]
     */
    constructor(algorithm, options) {
      super(options);
      this._algorithm = digestName(algorithm, 'Digest method not supported');
      this._outputLength = options && options.outputLength;
      /** @type {Uint8Array[]} */
      this._chunks = [];
      this._finalized = false;
    }
    /**
     * @param {unknown} data
     * @param {string} [encoding]
     */
    update(data, encoding) {
      if (this._finalized) throw codedError('ERR_CRYPTO_HASH_FINALIZED', 'Digest already called');
      // A copy: the caller may reuse its buffer before digest().
      this._chunks.push(new Uint8Array(toBytes(data, encoding, 'data')));
      return this;
    }
    /** @param {string} [encoding] */
    digest(encoding) {
      if (this._finalized) throw codedError('ERR_CRYPTO_HASH_FINALIZED', 'Digest already called');
      this._finalized = true;
      const args = { algorithm: this._algorithm, data: concat(this._chunks) };
      if (this._outputLength !== undefined)
        Object.assign(args, { outputLength: this._outputLength });
      this._chunks = [];
      return encode(fromHost(callHost('hash', args)), encoding);
    }
    /** @param {{outputLength?: number}} [options] */
    copy(options) {
      if (this._finalized) throw codedError('ERR_CRYPTO_HASH_FINALIZED', 'Digest already called');
      const copy = new Hash(this._algorithm, options ?? { outputLength: this._outputLength });
      copy._chunks = this._chunks.slice();
      return copy;
    }
    /**
     * @param {unknown} chunk
     * @param {string} encoding
     * @param {(error?: Error | null) => void} callback
     */
    _transform(chunk, encoding, callback) {
      this.update(chunk, encoding);
      callback();
    }
    /** @param {(error?: Error | null) => void} callback */
    _flush(callback) {
      this.push(this.digest());
      callback();
    }
  }

  class Hmac extends Transform {
    /**
     * @param {string} algorithm
     * @param {unknown} key
     * @param {Record<string, unknown>} [options]
     */
    constructor(algorithm, key, options) {
      super(options);
      if (typeof algorithm !== 'string') throw invalidArgType('hmac', 'string', algorithm);
      this._algorithm = digestName(algorithm, `Invalid digest: ${algorithm}`);
      this._key = new Uint8Array(toBytes(key, undefined, 'key'));
      /** @type {Uint8Array[]} */
      this._chunks = [];
      this._finalized = false;
    }
    /**
     * @param {unknown} data
     * @param {string} [encoding]
     */
    update(data, encoding) {
      if (this._finalized) throw codedError('ERR_CRYPTO_HASH_FINALIZED', 'Digest already called');
      this._chunks.push(new Uint8Array(toBytes(data, encoding, 'data')));
      return this;
    }
    /** @param {string} [encoding] */
    digest(encoding) {
      // As Node: a second digest() gives an empty result rather than an error.
      if (this._finalized) return encode(Buffer.alloc(0), encoding);
      this._finalized = true;
      const args = { algorithm: this._algorithm, key: this._key, data: concat(this._chunks) };
      this._chunks = [];
      return encode(fromHost(callHost('hmac', args)), encoding);
    }
    /**
     * @param {unknown} chunk
     * @param {string} encoding
     * @param {(error?: Error | null) => void} callback
     */
    _transform(chunk, encoding, callback) {
      this.update(chunk, encoding);
      callback();
    }
    /** @param {(error?: Error | null) => void} callback */
    _flush(callback) {
      this.push(this.digest());
      callback();
    }
  }

  // ---- ciphers: host-side handles ----

  class CipherBase extends Transform {
    /**
     * @param {boolean} decipher
     * @param {unknown} algorithm
     * @param {unknown} key
     * @param {unknown} iv
     * @param {{authTagLength?: number} & Record<string, unknown>} [options]
     */
    constructor(decipher, algorithm, key, iv, options) {
      super(options);
      if (typeof algorithm !== 'string') throw invalidArgType('cipher', 'string', algorithm);
      const args = {
        algorithm,
        key: forHost(toBytes(key, undefined, 'key')),
        iv: iv === null ? null : forHost(toBytes(iv, undefined, 'iv')),
        decipher,
      };
      if (options && options.authTagLength !== undefined) {
        Object.assign(args, { authTagLength: options.authTagLength });
      }
      /** @type {number} */
      this._id = callHost('cipherCreate', args);
      this._decipher = decipher;
      this._finalized = false;
      /** @type {any} */
      this._authTag = null;
      /** @type {any} */
      this._decoder = null;
    }
    /**
     * Output as Node gives it: with an output encoding, through one StringDecoder, so that a
     * base64 or UTF-8 character split across update() calls comes out whole.
     * @param {any} bytes
     * @param {string | undefined} encoding
     * @param {boolean} end
     */
    _output(bytes, encoding, end) {
      if (encoding === undefined || encoding === 'buffer') return bytes;
      if (this._decoder === null) this._decoder = new StringDecoder(encoding);
      return end ? this._decoder.end(bytes) : this._decoder.write(bytes);
    }
    /**
     * @param {unknown} data
     * @param {string} [inputEncoding]
     * @param {string} [outputEncoding]
     */
    update(data, inputEncoding, outputEncoding) {
      if (this._finalized) throw new Error('Trying to add data in unsupported state');
      const bytes = forHost(toBytes(data, inputEncoding, 'data'));
      const out = fromHost(callHost('cipherUpdate', { id: this._id, data: bytes }));
      return this._output(out, outputEncoding, false);
    }
    /** @param {string} [outputEncoding] */
    final(outputEncoding) {
      if (this._finalized) throw new Error('Unsupported state');
      this._finalized = true;
      const result = callHost('cipherFinal', { id: this._id });
      if (result.authTag) this._authTag = fromHost(result.authTag);
      return this._output(fromHost(result.data), outputEncoding, true);
    }
    /**
     * @param {unknown} buffer
     * @param {{plaintextLength?: number}} [options]
     */
    setAAD(buffer, options) {
      if (this._finalized) throw new Error('Attempting to set AAD in unsupported state');
      const args = { id: this._id, data: forHost(toBytes(buffer, undefined, 'buffer')) };
      if (options && options.plaintextLength !== undefined) {
        Object.assign(args, { plaintextLength: options.plaintextLength });
      }
      callHost('cipherSetAAD', args);
      return this;
    }
    /** @param {boolean} [autoPadding] */
    setAutoPadding(autoPadding) {
      if (this._finalized) throw new Error('Attempting to set autoPadding in unsupported state');
      callHost('cipherSetAutoPadding', { id: this._id, autoPadding: autoPadding !== false });
      return this;
    }
    /**
     * @param {unknown} chunk
     * @param {string} encoding
     * @param {(error?: Error | null) => void} callback
     */
    _transform(chunk, encoding, callback) {
      this.push(this.update(chunk, encoding));
      callback();
    }
    /** @param {(error?: Error | null) => void} callback */
    _flush(callback) {
      try {
        this.push(this.final());
      } catch (error) {
        callback(/** @type {Error} */ (error));
        return;
      }
      callback();
    }
  }

  class Cipheriv extends CipherBase {
    /**
     * @param {string} algorithm
     * @param {unknown} key
     * @param {unknown} iv
     * @param {Record<string, unknown>} [options]
     */
    constructor(algorithm, key, iv, options) {
      super(false, algorithm, key, iv, options);
    }
    getAuthTag() {
      if (!this._finalized || this._authTag === null) {
        throw new Error('Attempting to get auth tag in unsupported state');
      }
      return this._authTag;
    }
  }

  class Decipheriv extends CipherBase {
    /**
     * @param {string} algorithm
     * @param {unknown} key
     * @param {unknown} iv
     * @param {Record<string, unknown>} [options]
     */
    constructor(algorithm, key, iv, options) {
      super(true, algorithm, key, iv, options);
    }
    /** @param {unknown} tag */
    setAuthTag(tag) {
      if (this._finalized) throw new Error('Attempting to set auth tag in unsupported state');
      callHost('cipherSetAuthTag', {
        id: this._id,
        tag: forHost(toBytes(tag, undefined, 'buffer')),
      });
      return this;
    }
  }

  // ---- Sign and Verify ----

  /** Sign and Verify: a writable stream that keeps the data for one host op at the end. */
  class SignatureStream extends Writable {
    /**
     * @param {string} algorithm
     * @param {Record<string, unknown>} [options]
     */
    constructor(algorithm, options) {
      super(options);
      this._algorithm = digestName(algorithm, 'Unknown message digest');
      /** @type {Uint8Array[]} */
      this._chunks = [];
    }
    /**
     * @param {unknown} data
     * @param {string} [encoding]
     */
    update(data, encoding) {
      this._chunks.push(new Uint8Array(toBytes(data, encoding, 'data')));
      return this;
    }
    /**
     * @param {unknown} chunk
     * @param {string} encoding
     * @param {(error?: Error | null) => void} callback
     */
    _write(chunk, encoding, callback) {
      this.update(chunk, encoding);
      callback();
    }
  }

  class Sign extends SignatureStream {
    /**
     * @param {unknown} privateKey
     * @param {string} [outputEncoding]
     */
    sign(privateKey, outputEncoding) {
      const args = {
        algorithm: this._algorithm,
        data: concat(this._chunks),
        key: keyArg(privateKey),
      };
      return encode(fromHost(callHost('sign', args)), outputEncoding);
    }
  }

  class Verify extends SignatureStream {
    /**
     * @param {unknown} publicKey
     * @param {unknown} signature
     * @param {string} [signatureEncoding]
     * @returns {boolean}
     */
    verify(publicKey, signature, signatureEncoding) {
      const args = {
        algorithm: this._algorithm,
        data: concat(this._chunks),
        key: keyArg(publicKey),
        signature: forHost(toBytes(signature, signatureEncoding, 'signature')),
      };
      return callHost('verify', args);
    }
  }

  // ---- randomness ----

  /** @param {number} size */
  function randomBytesNow(size) {
    if (size <= RANDOM_CHUNK) return fromHost(callHost('randomBytes', { size }));
    const out = Buffer.allocUnsafe(size);
    for (let offset = 0; offset < size; offset += RANDOM_CHUNK) {
      out.set(callHost('randomBytes', { size: Math.min(RANDOM_CHUNK, size - offset) }), offset);
    }
    return out;
  }

  /**
   * @param {unknown} size
   * @param {string} [name]
   */
  function checkSize(size, name = 'size') {
    if (typeof size !== 'number') throw invalidArgType(name, 'number', size);
    if (!(size >= 0 && size <= 0x7fffffff) || !Number.isInteger(size)) {
      throw codedError(
        'ERR_OUT_OF_RANGE',
        `The value of "${name}" is out of range. It must be >= 0 && <= 2147483647. Received ${size}`,
        RangeError,
      );
    }
    return size;
  }

  /**
   * @param {unknown} callback
   */
  function checkCallback(callback) {
    if (typeof callback !== 'function') {
      throw codedError('ERR_INVALID_CALLBACK', 'Callback must be a function', TypeError);
    }
    return /** @type {Function} */ (callback);
  }

  /**
   * Runs `work` now (the host op blocks the sandbox either way) and reports to `callback` on a
   * later tick, as Node's asynchronous forms do.
   * @param {Function} callback
   * @param {() => unknown} work
   */
  function later(callback, work) {
    let result;
    try {
      result = work();
    } catch (error) {
      nextTick(callback, error);
      return;
    }
    nextTick(callback, null, result);
  }

  /**
   * @param {unknown} size
   * @param {Function} [callback]
   */
  function randomBytes(size, callback) {
    const checked = checkSize(size);
    if (callback === undefined) return randomBytesNow(checked);
    later(checkCallback(callback), () => randomBytesNow(checked));
    return undefined;
  }

  /**
   * @param {any} buffer
   * @param {number} [offset]
   * @param {number} [size]
   */
  function randomFillSync(buffer, offset = 0, size) {
    if (!ArrayBuffer.isView(buffer)) {
      throw invalidArgType('buf', 'Buffer, TypedArray, or DataView', buffer);
    }
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    checkSize(offset, 'offset');
    const length = size === undefined ? bytes.byteLength - offset : checkSize(size);
    if (offset > bytes.byteLength || offset + length > bytes.byteLength) {
      throw codedError(
        'ERR_OUT_OF_RANGE',
        'The value of "size + offset" is out of range.',
        RangeError,
      );
    }
    bytes.set(randomBytesNow(length), offset);
    return buffer;
  }

  /**
   * @param {any} buffer
   * @param {...unknown} rest [offset], [size], callback
   */
  function randomFill(buffer, ...rest) {
    const callback = checkCallback(rest.pop());
    const [offset, size] = /** @type {[number | undefined, number | undefined]} */ (rest);
    later(callback, () => randomFillSync(buffer, offset, size));
  }

  function randomUUID() {
    const bytes = randomBytesNow(16);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /**
   * @param {unknown} min
   * @param {unknown} [max]
   * @param {Function} [callback]
   */
  function randomInt(min, max, callback) {
    if (max === undefined || typeof max === 'function') {
      callback = /** @type {Function | undefined} */ (max);
      max = min;
      min = 0;
    }
    for (const [name, value] of [
      ['min', min],
      ['max', max],
    ]) {
      if (!Number.isSafeInteger(value)) {
        throw codedError(
          'ERR_INVALID_ARG_TYPE',
          `The "${name}" argument must be a safe integer. Received ${typeof value === 'number' ? value : `type ${typeof value}`}`,
          TypeError,
        );
      }
    }
    const low = /** @type {number} */ (min);
    const high = /** @type {number} */ (max);
    if (high <= low) {
      throw codedError(
        'ERR_OUT_OF_RANGE',
        `The value of "max" is out of range. It must be greater than the value of "min" (${low}). Received ${high}`,
        RangeError,
      );
    }
    const range = high - low;
    if (range > RAND_MAX) {
      throw codedError(
        'ERR_OUT_OF_RANGE',
        `The value of "max - min" is out of range. It must be <= ${RAND_MAX}. Received ${range}`,
        RangeError,
      );
    }
    // Rejection sampling over 48 random bits, so that every value is equally likely.
    const limit = RAND_MAX - (RAND_MAX % range);
    const draw = () => {
      for (;;) {
        const x = randomBytesNow(6).readUIntBE(0, 6);
        if (x < limit) return low + (x % range);
      }
    };
    if (callback === undefined) return draw();
    later(checkCallback(callback), draw);
    return undefined;
  }

  const integerArrays = [
    'Int8Array',
    'Uint8Array',
    'Uint8ClampedArray',
    'Int16Array',
    'Uint16Array',
    'Int32Array',
    'Uint32Array',
    'BigInt64Array',
    'BigUint64Array',
  ];
  /** @param {any} array */
  function getRandomValues(array) {
    const tag = Object.prototype.toString.call(array).slice(8, -1);
    if (!integerArrays.includes(tag)) {
      throw codedError(
        'ERR_INVALID_ARG_TYPE',
        'The data argument must be an integer-type TypedArray',
        TypeError,
      );
    }
    if (array.byteLength > MAX_RANDOM_VALUES) {
      const error = new Error(
        `The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (${MAX_RANDOM_VALUES})`,
      );
      error.name = 'QuotaExceededError';
      throw error;
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(
      randomBytesNow(array.byteLength),
    );
    return array;
  }

  // ---- key derivation ----

  /**
   * @param {unknown} password
   * @param {unknown} salt
   * @param {number} iterations
   * @param {number} keylen
   * @param {string} digest
   */
  function pbkdf2Sync(password, salt, iterations, keylen, digest) {
    if (typeof digest !== 'string') throw invalidArgType('digest', 'string', digest);
    const args = {
      password: forHost(toBytes(password, undefined, 'password')),
      salt: forHost(toBytes(salt, undefined, 'salt')),
      iterations,
      keylen,
      digest,
    };
    return fromHost(callHost('pbkdf2', args));
  }

  /**
   * @param {unknown} password
   * @param {unknown} salt
   * @param {number} iterations
   * @param {number} keylen
   * @param {string} digest
   * @param {Function} callback
   */
  function pbkdf2(password, salt, iterations, keylen, digest, callback) {
    if (typeof digest === 'function') {
      callback = digest;
      digest = /** @type {any} */ (undefined);
    }
    later(checkCallback(callback), () => pbkdf2Sync(password, salt, iterations, keylen, digest));
  }

  /**
   * @param {unknown} password
   * @param {unknown} salt
   * @param {number} keylen
   * @param {Record<string, number>} [options]
   */
  function scryptSync(password, salt, keylen, options) {
    const args = {
      password: forHost(toBytes(password, undefined, 'password')),
      salt: forHost(toBytes(salt, undefined, 'salt')),
      keylen,
    };
    if (options !== undefined && options !== null) {
      /** @type {Record<string, number>} */
      const plain = {};
      for (const name of ['N', 'r', 'p', 'cost', 'blockSize', 'parallelization', 'maxmem']) {
        if (options[name] !== undefined) plain[name] = options[name];
      }
      Object.assign(args, { options: plain });
    }
    return fromHost(callHost('scrypt', args));
  }

  /**
   * @param {unknown} password
   * @param {unknown} salt
   * @param {number} keylen
   * @param {...unknown} rest [options], callback
   */
  function scrypt(password, salt, keylen, ...rest) {
    const callback = checkCallback(rest.pop());
    const options = /** @type {Record<string, number> | undefined} */ (rest[0]);
    later(callback, () => scryptSync(password, salt, keylen, options));
  }

  // ---- one-shot sign/verify, RSA encryption ----

  /**
   * @param {string | null | undefined} algorithm
   * @param {unknown} data
   * @param {unknown} key
   * @param {Function} [callback]
   */
  function sign(algorithm, data, key, callback) {
    const run = () =>
      fromHost(
        callHost('sign', {
          algorithm: algorithm ?? null,
          data: forHost(toBytes(data, undefined, 'data')),
          key: keyArg(key),
        }),
      );
    if (callback === undefined) return run();
    later(checkCallback(callback), run);
    return undefined;
  }

  /**
   * @param {string | null | undefined} algorithm
   * @param {unknown} data
   * @param {unknown} key
   * @param {unknown} signature
   * @param {Function} [callback]
   */
  function verify(algorithm, data, key, signature, callback) {
    const run = () =>
      callHost('verify', {
        algorithm: algorithm ?? null,
        data: forHost(toBytes(data, undefined, 'data')),
        key: keyArg(key),
        signature: forHost(toBytes(signature, undefined, 'signature')),
      });
    if (callback === undefined) return run();
    later(checkCallback(callback), run);
    return undefined;
  }

  /** @param {'publicEncrypt' | 'privateDecrypt' | 'privateEncrypt' | 'publicDecrypt'} op */
  const rsa = (op) => (/** @type {unknown} */ key, /** @type {unknown} */ buffer) =>
    fromHost(
      callHost('rsa', {
        op,
        key: keyArg(key),
        data: forHost(toBytes(buffer, undefined, 'buffer')),
      }),
    );

  /**
   * @param {unknown} a
   * @param {unknown} b
   */
  function timingSafeEqual(a, b) {
    if (!ArrayBuffer.isView(a)) throw invalidArgType('buf1', 'Buffer, TypedArray, or DataView', a);
    if (!ArrayBuffer.isView(b)) throw invalidArgType('buf2', 'Buffer, TypedArray, or DataView', b);
    if (a.byteLength !== b.byteLength) {
      throw codedError(
        'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH',
        'Input buffers must have the same length',
        RangeError,
      );
    }
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    let difference = 0;
    for (let i = 0; i < x.length; i++)
      difference |= /** @type {number} */ (x[i]) ^ /** @type {number} */ (y[i]);
    return difference === 0;
  }

  /**
   * @param {string} name
   * @param {boolean} platform true: the platform refuses it too
   */
  function unsupported(name, platform) {
    return () => {
      throw new Error(
        platform
          ? `crypto.${name} is not supported by App Services functions`
          : `crypto.${name} is not supported locally by triggerbox`,
      );
    };
  }

  const subtle = {};
  for (const name of [
    'decrypt',
    'deriveBits',
    'deriveKey',
    'digest',
    'encrypt',
    'exportKey',
    'generateKey',
    'importKey',
    'sign',
    'unwrapKey',
    'verify',
    'wrapKey',
  ]) {
    Object.assign(subtle, { [name]: unsupported(`webcrypto.subtle.${name}`, false) });
  }

  /** @type {Record<string, unknown>} */
  const crypto = {
    Hash,
    Hmac,
    Cipheriv,
    Decipheriv,
    Sign,
    Verify,
    createHash: (/** @type {string} */ algorithm, /** @type {any} */ options) =>
      new Hash(algorithm, options),
    createHmac: (
      /** @type {string} */ algorithm,
      /** @type {unknown} */ key,
      /** @type {any} */ options,
    ) => new Hmac(algorithm, key, options),
    createCipheriv: (
      /** @type {string} */ algorithm,
      /** @type {unknown} */ key,
      /** @type {unknown} */ iv,
      /** @type {any} */ options,
    ) => new Cipheriv(algorithm, key, iv, options),
    createDecipheriv: (
      /** @type {string} */ algorithm,
      /** @type {unknown} */ key,
      /** @type {unknown} */ iv,
      /** @type {any} */ options,
    ) => new Decipheriv(algorithm, key, iv, options),
    createSign: (/** @type {string} */ algorithm, /** @type {any} */ options) =>
      new Sign(algorithm, options),
    createVerify: (/** @type {string} */ algorithm, /** @type {any} */ options) =>
      new Verify(algorithm, options),
    sign,
    verify,
    publicEncrypt: rsa('publicEncrypt'),
    privateDecrypt: rsa('privateDecrypt'),
    privateEncrypt: rsa('privateEncrypt'),
    publicDecrypt: rsa('publicDecrypt'),
    pbkdf2,
    pbkdf2Sync,
    scrypt,
    scryptSync,
    randomBytes,
    pseudoRandomBytes: randomBytes,
    prng: randomBytes,
    rng: randomBytes,
    randomFill,
    randomFillSync,
    randomUUID,
    randomInt,
    getRandomValues,
    webcrypto: { getRandomValues, randomUUID, subtle },
    timingSafeEqual,
    getHashes: () => cached('getHashes').slice(),
    getCiphers: () => cached('getCiphers').slice(),
    getCurves: () => cached('getCurves').slice(),
    createDiffieHellman: unsupported('createDiffieHellman', true),
    createDiffieHellmanGroup: unsupported('createDiffieHellmanGroup', true),
    getDiffieHellman: unsupported('getDiffieHellman', true),
    createECDH: unsupported('createECDH', true),
    DiffieHellman: unsupported('DiffieHellman', true),
    DiffieHellmanGroup: unsupported('DiffieHellmanGroup', true),
    ECDH: unsupported('ECDH', true),
  };
  for (const name of [
    'createCipher',
    'createDecipher',
    'createPrivateKey',
    'createPublicKey',
    'createSecretKey',
    'generateKeyPair',
    'generateKeyPairSync',
    'generateKey',
    'generateKeySync',
    'generatePrime',
    'generatePrimeSync',
    'checkPrime',
    'checkPrimeSync',
    'hkdf',
    'hkdfSync',
    'diffieHellman',
    'getCipherInfo',
    'setEngine',
    'Certificate',
    'KeyObject',
  ]) {
    crypto[name] = unsupported(name, false);
  }
  // node:crypto's numeric constants, read once from the host with the first require.
  crypto.constants = Object.freeze({ ...cached('constants') });
  return crypto;
}
