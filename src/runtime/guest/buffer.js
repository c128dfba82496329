// @ts-check
// Runs inside the sandbox, on first use of Buffer (see prelude.js): the npm `buffer` package,
// bundled by scripts/build.mjs. Apart from bson (libs.js): a package that reads `Buffer` while
// it starts (lodash does) no longer loads bson too (about 20 ms in a new isolate).
import { Buffer } from 'buffer/';

globalThis.__tb_buffer = Buffer;
