// The url package (legacy url.parse/format) reads query strings with qs, which nests `a[b]=1`
// into objects; Node's url uses querystring, which keeps `a[b]` as a key. scripts/build.mjs points
// the url package's `qs` here so that url.parse(..., true).query is Node's.
const querystring = require('querystring-es3');

module.exports = {
  parse: (text) => querystring.parse(text),
  stringify: (object) => querystring.stringify(object),
};
