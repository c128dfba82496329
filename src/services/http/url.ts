/**
 * URLs, query strings and header names as Go's net/url and net/textproto write them, since
 * the platform's HTTP service is Go's.
 */
import { HttpRequestError } from './errors.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

interface UrlFields {
  method: Method;
  url?: string | undefined;
  scheme?: string | undefined;
  host?: string | undefined;
  path?: string | undefined;
  query?: Record<string, string[]> | undefined;
  fragment?: string | undefined;
}

/** Go's url.Error names the operation as `Get`, `Post` ... */
export function goOp(method: Method): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * The request's URL from `url` or from its parts. Only http and https: a function must never
 * read local files (file:) or anything else through context.http.
 */
export function buildRequestUrl(request: UrlFields): URL {
  const op = goOp(request.method);
  let text: string;
  if (request.url !== undefined) {
    text = request.url;
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1];
    checkScheme(op, text, scheme ?? '');
  } else {
    const scheme = request.scheme ?? 'http';
    const host = request.host ?? '';
    let path = request.path ?? '';
    // Go's URL.String puts the slash between host and a relative path.
    if (path !== '' && !path.startsWith('/')) path = `/${path}`;
    const query = request.query === undefined ? '' : encodeQuery(request.query);
    text =
      `${scheme}://${host}${escape(path, PATH_KEEP)}` +
      (query === '' ? '' : `?${query}`) +
      (request.fragment === undefined || request.fragment === ''
        ? ''
        : `#${escape(request.fragment, FRAGMENT_KEEP)}`);
    checkScheme(op, text, scheme);
    if (host === '') {
      throw new HttpRequestError(
        'InvalidRequest',
        `${op} "${redact(text)}": http: no Host in request URL`,
      );
    }
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new HttpRequestError('InvalidRequest', `parse "${redact(text)}": invalid URL`, {
      cause: error,
    });
  }
  if (url.hostname === '') {
    throw new HttpRequestError(
      'InvalidRequest',
      `${op} "${redact(text)}": http: no Host in request URL`,
    );
  }
  return url;
}

function checkScheme(op: string, text: string, scheme: string): void {
  const lower = scheme.toLowerCase();
  if (lower !== 'http' && lower !== 'https') {
    throw new HttpRequestError(
      'InvalidRequest',
      `${op} "${redact(text)}": unsupported protocol scheme "${scheme}"`,
    );
  }
}

/** As Go's URL.Redacted: a password in the URL never reaches a message. */
function redact(text: string): string {
  return text.replace(/^([^:/?#]*:\/\/[^:/?#@]*:)[^@/?#]*@/, '$1***@');
}

/** Go's url.Values.Encode: keys sorted, each value its own `key=value`, QueryEscape'd. */
export function encodeQuery(values: Record<string, string[]>): string {
  const pairs: string[] = [];
  for (const key of Object.keys(values).sort()) {
    for (const value of values[key] ?? []) {
      pairs.push(`${queryEscape(key)}=${queryEscape(value)}`);
    }
  }
  return pairs.join('&');
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;
const PATH_KEEP = /[A-Za-z0-9\-_.~$&+,/:;=@]/;
const FRAGMENT_KEEP = /[A-Za-z0-9\-_.~$&+,/:;=@!()*?]/;

function queryEscape(text: string): string {
  let out = '';
  for (const ch of text) {
    if (ch === ' ') out += '+';
    else if (UNRESERVED.test(ch)) out += ch;
    else out += percent(ch);
  }
  return out;
}

function escape(text: string, keep: RegExp): string {
  let out = '';
  for (const ch of text) out += keep.test(ch) ? ch : percent(ch);
  return out;
}

function percent(ch: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(ch)) {
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Go's textproto.CanonicalMIMEHeaderKey: `content-type` -> `Content-Type`,
 * `x-xss-protection` -> `X-Xss-Protection`; a name that is not a valid token stays as it is.
 */
export function canonicalHeaderKey(name: string): string {
  if (!TOKEN.test(name)) return name;
  let out = '';
  let upper = true;
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}
