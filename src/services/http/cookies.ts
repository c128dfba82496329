/**
 * Set-Cookie parsing as Go's net/http readSetCookies does it, into the shape the platform's
 * response has: `{name: {value, path, domain, expires, maxAge, secure, httpOnly}}` (the field
 * names of the Stitch SDKs' HttpResponse decoders and of a captured platform response).
 */

export interface HttpCookie {
  value: string;
  /** "" when the cookie has no Path (Go's zero value). */
  path: string;
  /** As sent, leading dot included (".example.com"); "" when absent. */
  domain: string;
  /** In Go's http.TimeFormat ("Mon, 10 Feb 2020 08:00:59 GMT"); absent when none or unparseable. */
  expires?: string;
  /** Go's MaxAge: 0 = no Max-Age attribute, -1 = Max-Age 0 or negative, else seconds. */
  maxAge: number;
  secure: boolean;
  httpOnly: boolean;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseSetCookie(line: string): { name: string; cookie: HttpCookie } | undefined {
  const parts = line.trim().split(';');
  const first = (parts[0] ?? '').trim();
  const eq = first.indexOf('=');
  if (eq < 0) return undefined;
  const name = first.slice(0, eq).trim();
  if (!COOKIE_NAME.test(name)) return undefined;
  const value = cookieValue(first.slice(eq + 1));
  if (value === undefined) return undefined;
  const cookie: HttpCookie = {
    value,
    path: '',
    domain: '',
    maxAge: 0,
    secure: false,
    httpOnly: false,
  };
  for (const raw of parts.slice(1)) {
    const part = raw.trim();
    if (part === '') continue;
    const at = part.indexOf('=');
    const attr = (at < 0 ? part : part.slice(0, at)).trim().toLowerCase();
    const val = cookieValue(at < 0 ? '' : part.slice(at + 1));
    if (val === undefined) continue;
    switch (attr) {
      case 'secure':
        cookie.secure = true;
        break;
      case 'httponly':
        cookie.httpOnly = true;
        break;
      case 'domain':
        cookie.domain = val;
        break;
      case 'path':
        cookie.path = val;
        break;
      case 'max-age': {
        if (!/^-?\d+$/.test(val) || (val.startsWith('0') && Number(val) !== 0)) break;
        const seconds = Number(val);
        cookie.maxAge = seconds <= 0 ? -1 : seconds;
        break;
      }
      case 'expires': {
        const expires = parseExpires(val);
        if (expires !== undefined) cookie.expires = expires;
        else delete cookie.expires;
        break;
      }
    }
  }
  return { name, cookie };
}

/** Go's parseCookieValue: surrounding quotes dropped, only cookie-octets (and space, comma) kept. */
function cookieValue(raw: string): string | undefined {
  let value = raw.trim();
  if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1);
  }
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c >= 0x7f || ch === '"' || ch === ';' || ch === '\\') return undefined;
  }
  return value;
}

// Go accepts RFC 1123 ("Mon, 10 Feb 2020 08:00:59 GMT") and the Netscape form with dashes.
const EXPIRES =
  /^[A-Za-z]{3}, (\d{2})[ -]([A-Za-z]{3})[ -](\d{4}) (\d{2}):(\d{2}):(\d{2}) ([A-Za-z]{3,4})$/;

function parseExpires(text: string): string | undefined {
  const m = EXPIRES.exec(text);
  if (m === null) return undefined;
  const time = Date.parse(`${m[1]} ${m[2]} ${m[3]} ${m[4]}:${m[5]}:${m[6]} GMT`);
  return Number.isNaN(time) ? undefined : new Date(time).toUTCString();
}
