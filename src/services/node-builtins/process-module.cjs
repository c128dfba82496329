// `require('process')` / `require('process/')` of the bundled packages (readable-stream), pointed
// here by scripts/build.mjs.
module.exports = require('./process.js').internalProcess;
