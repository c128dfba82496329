// @ts-check
// Runs inside the sandbox, on first use of BSON or EJSON (see prelude.js): the bson package's
// browser build, bundled by scripts/build.mjs. Buffer is buffer.js, loaded on its own.
import * as BSON from 'bson';

globalThis.__tb_libs = { BSON };
