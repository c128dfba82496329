// @ts-check
// TextEncoder/TextDecoder for the packages of the built-ins bundle (whatwg-url reads them as
// globals when it loads): the sandbox's own, passed to createBuiltinRegistry before function code
// could replace the globals, and injected by scripts/build.mjs.

/** @type {any} */
export let TextEncoder;
/** @type {any} */
export let TextDecoder;

/**
 * @param {any} Encoder
 * @param {any} Decoder
 */
export function setTextCodec(Encoder, Decoder) {
  if (typeof Encoder !== 'function' || typeof Decoder !== 'function') {
    throw new TypeError(
      'createBuiltinRegistry needs globals.TextEncoder and globals.TextDecoder (the sandbox ones)',
    );
  }
  TextEncoder = Encoder;
  TextDecoder = Decoder;
}
