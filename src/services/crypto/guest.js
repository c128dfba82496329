// @ts-check
// The guest side of `utils.crypto` and `utils.jwt`: runs inside the sandbox's bare V8 isolate
// (no Node APIs, no TextEncoder needed), bundled into the prelude by esbuild. It gives the
// platform's argument orders and return types (docs-app-services source/functions/globals.txt)
// and leaves the work to the host ops of host.ts, reached through `callHost`.
//
// `callHost(op, args)` must be synchronous: it returns the op's result or throws its error.
// Every utils method is synchronous on the platform (the docs return utils.jwt.encode(...)
// and utils.crypto.* results directly), so for the asynchronous host ops (jwtEncode,
// jwtDecode) the boundary blocks until they settle, as the prelude does for secrets.

/**
 * The part of BSON.Binary that this file uses (bson 7).
 * @typedef {{ buffer: Uint8Array, position: number, sub_type: number }} BinaryLike
 */
/**
 * The part of the sandbox's BSON global that this file uses.
 * @typedef {{ Binary: new (bytes: Uint8Array, subType?: number) => BinaryLike }} BSONLike
 */
/**
 * @callback CallHost
 * @param {string} op a name of host.ts's cryptoOps
 * @param {Record<string, unknown>} args one plain argument object
 * @returns {unknown} the op's result
 */
/**
 * @typedef {object} UtilsCrypto
 * @property {(encryptionType: string, message: string, key: string) => BinaryLike} encrypt
 * @property {(encryptionType: string, encryptedMessage: BinaryLike, key: string) => BinaryLike} decrypt
 * @property {(encryptionType: string, message: string, privateKey: string, signatureScheme?: string) => BinaryLike} sign
 * @property {(encryptionType: string, message: string, publicKey: string, signature: BinaryLike, signatureScheme?: string) => boolean} verify
 * @property {(input: string, secret: string, hashFunction: string, outputFormat: string) => string} hmac
 * @property {(hashFunction: string, input: string | BinaryLike) => BinaryLike} hash
 */
/**
 * @typedef {object} UtilsJwt
 * @property {(signingMethod: string, payload: object, secret: string, customHeaderFields?: object) => string} encode
 * @property {(jwtString: string, key: string, returnHeader?: boolean, acceptedSigningMethods?: string[]) => object} decode
 */

/**
 * Builds the `utils` global.
 * @param {CallHost} callHost
 * @param {BSONLike} BSON
 * @returns {{ crypto: UtilsCrypto, jwt: UtilsJwt }}
 */
export function createUtils(callHost, BSON) {
  /**
   * @param {unknown} value
   * @returns {value is BinaryLike}
   */
  function isBinary(value) {
    return (
      typeof value === 'object' &&
      value !== null &&
      /** @type {{ _bsontype?: unknown }} */ (value)._bsontype === 'Binary'
    );
  }

  /**
   * Binary data as the Uint8Array the host expects, or undefined when `value` is not binary.
   * @param {unknown} value
   * @returns {Uint8Array | undefined}
   */
  function binaryBytes(value) {
    if (isBinary(value)) return value.buffer.subarray(0, value.position);
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    return undefined;
  }

  /**
   * @param {string} method
   * @param {string} what
   * @param {unknown} value
   * @returns {Uint8Array}
   */
  function requireBinary(method, what, value) {
    const bytes = binaryBytes(value);
    if (bytes === undefined)
      throw new TypeError(`${method}: ${what} must be a BSON.Binary, got ${describe(value)}`);
    return bytes;
  }

  /**
   * A string stays text (the host takes its UTF-8 bytes); binary data goes as bytes.
   * @param {unknown} value
   * @returns {unknown}
   */
  function textOrBytes(value) {
    const bytes = binaryBytes(value);
    return bytes === undefined ? value : bytes;
  }

  /**
   * @param {unknown} value
   * @returns {string}
   */
  function describe(value) {
    if (value === null) return 'null';
    if (Array.isArray(value)) return 'an array';
    return typeof value;
  }

  /**
   * @param {unknown} result
   * @returns {BinaryLike}
   */
  function toBinary(result) {
    // Subtype 0 (generic), as the docs' examples print these values.
    return new BSON.Binary(/** @type {Uint8Array} */ (result), 0);
  }

  /**
   * Plain JSON for the boundary: BSON values become what their toJSON gives (ObjectId -> hex,
   * Date -> ISO string), functions and undefined are dropped, as in a JSON token.
   * @param {unknown} value
   * @returns {unknown}
   */
  function plainJson(value) {
    if (value === undefined || value === null) return value;
    return JSON.parse(JSON.stringify(value));
  }

  /** @type {UtilsCrypto} */
  const crypto = {
    encrypt(encryptionType, message, key) {
      return toBinary(
        callHost('encrypt', { type: encryptionType, message: textOrBytes(message), key }),
      );
    },
    decrypt(encryptionType, encryptedMessage, key) {
      const message = requireBinary('utils.crypto.decrypt', 'encryptedMessage', encryptedMessage);
      return toBinary(callHost('decrypt', { type: encryptionType, message, key }));
    },
    sign(encryptionType, message, privateKey, signatureScheme) {
      const args = {
        type: encryptionType,
        message: textOrBytes(message),
        privateKey,
        scheme: signatureScheme,
      };
      return toBinary(callHost('sign', args));
    },
    verify(encryptionType, message, publicKey, signature, signatureScheme) {
      const bytes = requireBinary('utils.crypto.verify', 'signature', signature);
      const args = {
        type: encryptionType,
        message: textOrBytes(message),
        publicKey,
        signature: bytes,
        scheme: signatureScheme,
      };
      return /** @type {boolean} */ (callHost('verify', args));
    },
    hmac(input, secret, hashFunction, outputFormat) {
      const args = {
        input: textOrBytes(input),
        secret: textOrBytes(secret),
        hash: hashFunction,
        output: outputFormat,
      };
      return /** @type {string} */ (callHost('hmac', args));
    },
    hash(hashFunction, input) {
      return toBinary(callHost('hash', { algorithm: hashFunction, input: textOrBytes(input) }));
    },
  };

  /** @type {UtilsJwt} */
  const jwt = {
    encode(signingMethod, payload, secret, customHeaderFields) {
      const args = {
        method: signingMethod,
        payload: plainJson(payload),
        secret,
        headerFields: plainJson(customHeaderFields),
      };
      return /** @type {string} */ (callHost('jwtEncode', args));
    },
    decode(jwtString, key, returnHeader, acceptedSigningMethods) {
      const args = {
        jwt: jwtString,
        key,
        returnHeader: Boolean(returnHeader),
        acceptedMethods: acceptedSigningMethods,
      };
      return /** @type {object} */ (callHost('jwtDecode', args));
    },
  };

  return { crypto: Object.freeze(crypto), jwt: Object.freeze(jwt) };
}
