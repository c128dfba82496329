// @ts-check
// The `buffer` module of the built-ins bundle: the sandbox's own Buffer (the prelude's, npm buffer
// 6), set once by createBuiltinRegistry before any module of the bundle loads. scripts/build.mjs
// points every `require('buffer')` of the bundled packages here (and injects `Buffer` for their
// free uses), so that a zlib or stream result is an instance of the Buffer that function code
// sees, not of a second copy.

/** @type {any} */
export let Buffer;
/** @type {any} */
export let SlowBuffer;
/** npm buffer's (and Node 10's 64-bit) largest Buffer. */
export const kMaxLength = 0x7fffffff;
export const kStringMaxLength = (1 << 29) - 24;
export const INSPECT_MAX_BYTES = 50;
export const constants = Object.freeze({
  MAX_LENGTH: kMaxLength,
  MAX_STRING_LENGTH: kStringMaxLength,
});

/**
 * @param {any} SandboxBuffer the prelude's Buffer
 */
export function setBuffer(SandboxBuffer) {
  if (typeof SandboxBuffer !== 'function' || typeof SandboxBuffer.from !== 'function') {
    throw new TypeError('createBuiltinRegistry needs globals.Buffer (the sandbox Buffer)');
  }
  Buffer = SandboxBuffer;
  // As in Node 10: SlowBuffer(size) is an unpooled Buffer.allocUnsafeSlow(size).
  SlowBuffer = function SlowBuffer(/** @type {number} */ size) {
    return SandboxBuffer.allocUnsafeSlow(size);
  };
}
