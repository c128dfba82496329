// @ts-check
// Runs inside the sandbox, on first use of BSON, EJSON or Buffer (see prelude.js): the bson
// package's browser build and the npm `buffer` package, bundled by scripts/build.mjs.
import * as BSON from 'bson';
import { Buffer } from 'buffer/';

globalThis.__tb_libs = { BSON, Buffer };
