// whatwg-url takes percentEncodeAfterEncoding from @exodus/bytes, with the legacy multi-byte
// encodings of HTML forms behind it (~450 KB of tables). URL and URLSearchParams outside a
// document always encode UTF-8 (the URL standard sets the encoding only for HTML documents), so
// scripts/build.mjs points that import here: the same percent-encoding, for UTF-8 only.
const { Buffer } = require('./buffer.js');

const HEX = '0123456789ABCDEF';

exports.percentEncodeAfterEncoding = function percentEncodeAfterEncoding(
  encoding,
  input,
  percentEncodeSet,
  spaceAsPlus = false,
) {
  if (!/^utf-?8$/i.test(String(encoding))) {
    throw new RangeError(`URL encoding '${encoding}' is not supported (only UTF-8)`);
  }
  let out = '';
  // Lone surrogates become U+FFFD, as the standard's UTF-8 encode does.
  for (const byte of Buffer.from(String(input), 'utf8')) {
    if (byte === 0x20 && spaceAsPlus) out += '+';
    else if (byte < 0x20 || byte > 0x7e || percentEncodeSet.includes(String.fromCharCode(byte))) {
      out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
    } else out += String.fromCharCode(byte);
  }
  return out;
};
