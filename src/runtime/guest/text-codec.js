// @ts-check
// Minimal UTF-8 TextEncoder/TextDecoder and atob/btoa for the sandbox: a bare isolate has none of
// them, and the bson browser build needs them all.
export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }
  /** @param {unknown} [input] */
  encode(input = '') {
    const s = String(input);
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else
        out.push(
          0xf0 | (c >> 18),
          0x80 | ((c >> 12) & 63),
          0x80 | ((c >> 6) & 63),
          0x80 | (c & 63),
        );
    }
    return new Uint8Array(out);
  }
}

export class TextDecoder {
  /**
   * @param {string} [label] only UTF-8 is supported
   * @param {{ fatal?: boolean }} [options]
   */
  constructor(label = 'utf-8', options = {}) {
    this.fatal = Boolean(options.fatal);
  }
  get encoding() {
    return 'utf-8';
  }
  /** @param {ArrayBuffer | ArrayBufferView} [input] */
  decode(input) {
    if (input === undefined) return '';
    const bytes =
      input instanceof Uint8Array
        ? input
        : ArrayBuffer.isView(input)
          ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
          : new Uint8Array(input);
    let out = '';
    let i = 0;
    const bad = () => {
      if (this.fatal) throw new TypeError('The encoded data was not valid for encoding utf-8');
      return 0xfffd;
    };
    while (i < bytes.length) {
      const b = bytes[i++];
      let c;
      if (b < 0x80) c = b;
      else if (b >= 0xc2 && b < 0xe0 && i < bytes.length) c = ((b & 31) << 6) | (bytes[i++] & 63);
      else if (b >= 0xe0 && b < 0xf0 && i + 1 < bytes.length) {
        c = ((b & 15) << 12) | ((bytes[i] & 63) << 6) | (bytes[i + 1] & 63);
        i += 2;
      } else if (b >= 0xf0 && b < 0xf5 && i + 2 < bytes.length) {
        c =
          ((b & 7) << 18) |
          ((bytes[i] & 63) << 12) |
          ((bytes[i + 1] & 63) << 6) |
          (bytes[i + 2] & 63);
        i += 3;
      } else c = bad();
      if (c > 0xffff) {
        c -= 0x10000;
        out += String.fromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
      } else out += String.fromCharCode(c);
    }
    return out;
  }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Binary string -> base64, as the web's btoa.
 * @param {unknown} input
 */
export function btoa(input) {
  const s = String(input);
  let out = '';
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i);
    const b = i + 1 < s.length ? s.charCodeAt(i + 1) : NaN;
    const c = i + 2 < s.length ? s.charCodeAt(i + 2) : NaN;
    if (a > 255 || b > 255 || c > 255)
      throw new Error('btoa: the string contains characters outside Latin1');
    const n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += BASE64[(n >> 18) & 63] + BASE64[(n >> 12) & 63];
    out += Number.isNaN(b) ? '=' : BASE64[(n >> 6) & 63];
    out += Number.isNaN(c) ? '=' : BASE64[n & 63];
  }
  return out;
}

/**
 * base64 -> binary string, as the web's atob.
 * @param {unknown} input
 */
export function atob(input) {
  const s = String(input)
    .replace(/[\t\n\f\r ]/g, '')
    .replace(/=+$/, '');
  if (/[^A-Za-z0-9+/]/.test(s) || s.length % 4 === 1) throw new Error('atob: invalid base64');
  let out = '';
  let bits = 0;
  let value = 0;
  for (const ch of s) {
    value = (value << 6) | BASE64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((value >> bits) & 255);
    }
  }
  return out;
}
