// Injected by scripts/build.mjs into every file of the built-ins bundle that uses `Buffer`,
// `process`, `TextEncoder` or `TextDecoder` as a free variable (util reads process.env.NODE_DEBUG
// at load, path.resolve calls process.cwd(), whatwg-url encodes with TextEncoder): they get the
// bundle's own bindings, never whatever the function put on its global object.
export { Buffer } from './buffer.js';
export { TextDecoder, TextEncoder } from './text-codec.js';
export { internalProcess as process } from './process.js';
