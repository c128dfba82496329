/**
 * The host side of `context.http`: one outgoing HTTP request per call, as App Services' Go
 * service makes it, from plain (structured-clone-friendly) data to plain data.
 *
 * node:http/node:https rather than fetch: fetch folds repeated headers into one comma-joined
 * value in both directions, and the platform's headers are lists (`{Name: [values]}`). Every
 * call gets its own agents (no keep-alive), destroyed when the call settles, so an aborted or
 * finished request never leaves a socket behind.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { buildRequestUrl, canonicalHeaderKey, encodeQuery, goOp, isRedirect } from './url.js';
import { digestAuthorization, parseChallenges } from './digest.js';
import { parseSetCookie, type HttpCookie } from './cookies.js';
import { HttpRequestError } from './errors.js';

export type { HttpCookie } from './cookies.js';
export { HttpRequestError, type HttpErrorKind } from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

/** What the guest wrapper sends: the platform's request document, already validated and encoded. */
export interface HttpRequest {
  method: HttpMethod;
  /** The whole URL; or, instead, the parts below (scheme defaults to "http"). */
  url?: string;
  scheme?: string;
  host?: string;
  path?: string;
  /** Each key's values in order: `{color: ["red", "blue"]}` -> `color=red&color=blue`. */
  query?: Record<string, string[]>;
  fragment?: string;
  /** Credentials; they override any in the URL. Basic auth unless `digestAuth`. */
  username?: string;
  password?: string;
  headers?: Record<string, string[]>;
  cookies?: Record<string, string>;
  /** A string (sent as UTF-8) or bytes. An EJSON-encoded object arrives here as its text. */
  body?: string | Uint8Array;
  /** application/x-www-form-urlencoded, or multipart/form-data when the headers ask for it. */
  form?: Record<string, string[]>;
  /** Default false, as the platform's. */
  followRedirects?: boolean;
  digestAuth?: boolean;
  /** Fetched (GET) first; the cookies it sets are sent with the request. */
  authUrl?: string;
}

/** What the guest wrapper receives; it wraps `body` as a BSON.Binary. */
export interface HttpResponse {
  /** Go's `Response.Status`: the code and the server's reason phrase, "200 OK". */
  status: string;
  statusCode: number;
  /** The Content-Length the server declared, -1 when unknown (chunked, or decompressed). */
  contentLength: number;
  /** Names in Go's canonical form (`Content-Type`, `X-Xss-Protection`), values as sent. */
  headers: Record<string, string[]>;
  /** The Set-Cookie headers, by cookie name. */
  cookies: Record<string, HttpCookie>;
  body: Uint8Array;
}

export interface HttpRequestOptions {
  /** Aborting it cancels the request at any stage and releases its sockets. */
  signal?: AbortSignal | undefined;
  /** Largest response body accepted, after decompression (default: MAX_BODY_BYTES). */
  maxBodyBytes?: number | undefined;
}

/** The platform's limit on a request's and a response's size: 18 MB. */
export const MAX_BODY_BYTES = 18 * 1024 * 1024;
/** Go's http.Client stops after 10 redirects. */
export const MAX_REDIRECTS = 10;

const GO_USER_AGENT = 'Go-http-client/1.1';
/** "18 MB (18874368 bytes)", or "4096 bytes" for a small cap. */
function limitText(bytes: number): string {
  const mib = bytes / 1024 / 1024;
  return mib >= 1 ? `${Math.round(mib * 10) / 10} MB (${bytes} bytes)` : `${bytes} bytes`;
}

/** One `context.http.<method>(...)` call. Resolves with the final response; never buffers more than the cap. */
export async function httpRequest(
  request: HttpRequest,
  options: HttpRequestOptions = {},
): Promise<HttpResponse> {
  const signal = options.signal;
  const cap = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const method = request.method;
  let url = buildRequestUrl(request);
  const credentials = credentialsOf(request, url);
  if (request.digestAuth === true && credentials === undefined) {
    throw new HttpRequestError(
      'InvalidRequest',
      `${goOp(method)} "${url.href}": digestAuth needs a username and password (as fields of the request or in the URL)`,
    );
  }
  // Credentials travel in headers, never in the request line.
  url.username = '';
  url.password = '';

  const headers = new HeaderList(request.headers);
  let body = requestBody(request, headers);
  if (body !== undefined && body.byteLength > cap) {
    throw new HttpRequestError(
      'BodyTooLarge',
      `${goOp(method)} "${url.href}": the request body (${body.byteLength} bytes) is over the ${limitText(cap)} limit of context.http`,
    );
  }
  if (request.cookies !== undefined) {
    for (const [name, value] of Object.entries(request.cookies)) {
      headers.addCookie(name, value);
    }
  }
  if (credentials !== undefined && request.digestAuth !== true && !headers.has('Authorization')) {
    // Go's client sends Basic credentials found in the URL.
    const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    headers.set('Authorization', `Basic ${basic}`);
  }
  if (!headers.has('User-Agent')) headers.set('User-Agent', GO_USER_AGENT);

  const agents = {
    http: new http.Agent({ keepAlive: false }),
    https: new https.Agent({ keepAlive: false }),
  };
  try {
    if (request.authUrl !== undefined) {
      const authCookies = await fetchAuthCookies(request.authUrl, agents, signal, cap);
      for (const [name, value] of authCookies) headers.addCookie(name, value);
    }
    let currentMethod = method;
    const originalHost = url.host;
    for (let hop = 0; ; hop++) {
      let exchange = await send(currentMethod, url, headers, body, agents, signal);
      if (
        exchange.res.statusCode === 401 &&
        request.digestAuth === true &&
        credentials !== undefined
      ) {
        const challenge = parseChallenges(exchange.headers['Www-Authenticate'] ?? []).find(
          (c) => c.scheme === 'digest',
        );
        if (challenge !== undefined) {
          exchange.res.resume();
          const authorization = digestAuthorization({
            challenge,
            method: currentMethod,
            uri: url.pathname + url.search,
            username: credentials.username,
            password: credentials.password,
            body: body ?? new Uint8Array(0),
          });
          if (authorization instanceof Error) {
            throw new HttpRequestError(
              'InvalidRequest',
              `${goOp(currentMethod)} "${url.href}": ${authorization.message}`,
            );
          }
          const withAuth = headers.clone();
          withAuth.set('Authorization', authorization);
          exchange = await send(currentMethod, url, withAuth, body, agents, signal);
        }
      }
      const location = exchange.headers['Location']?.[0];
      const code = exchange.res.statusCode ?? 0;
      if (request.followRedirects !== true || !isRedirect(code) || location === undefined) {
        return await finish(exchange, currentMethod, url, signal, cap);
      }
      exchange.res.resume();
      if (hop + 1 > MAX_REDIRECTS) {
        throw new HttpRequestError(
          'TooManyRedirects',
          `${goOp(currentMethod)} "${url.href}": stopped after ${MAX_REDIRECTS} redirects`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (error) {
        throw new HttpRequestError(
          'Network',
          `${goOp(currentMethod)} "${url.href}": failed to parse Location header "${location}"`,
          { cause: error },
        );
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        // Never follow a redirect into file:, data: or any other scheme.
        throw new HttpRequestError(
          'InvalidRequest',
          `${goOp(currentMethod)} "${next.href}": unsupported protocol scheme "${next.protocol.slice(0, -1)}"`,
        );
      }
      // Go's redirect rules: 301/302/303 turn into a GET without body (HEAD stays HEAD);
      // 307/308 repeat the method and body.
      if (code !== 307 && code !== 308) {
        if (currentMethod !== 'GET' && currentMethod !== 'HEAD') currentMethod = 'GET';
        body = undefined;
        headers.delete('Content-Type');
      }
      if (next.host !== originalHost) {
        headers.delete('Authorization');
        headers.delete('Www-Authenticate');
        headers.delete('Cookie');
        headers.delete('Cookie2');
      }
      if (!(url.protocol === 'https:' && next.protocol === 'http:'))
        headers.set('Referer', url.href);
      next.hash = '';
      url = next;
    }
  } finally {
    agents.http.destroy();
    agents.https.destroy();
  }
}

interface Exchange {
  res: http.IncomingMessage;
  headers: Record<string, string[]>;
  /** We asked for gzip (the user did not set Accept-Encoding), so we undo it, as Go does. */
  acceptedGzip: boolean;
}

interface Agents {
  http: http.Agent;
  https: https.Agent;
}

function send(
  method: HttpMethod,
  url: URL,
  headerList: HeaderList,
  body: Uint8Array | undefined,
  agents: Agents,
  signal: AbortSignal | undefined,
): Promise<Exchange> {
  const headers = headerList.toNode();
  const acceptedGzip =
    method !== 'HEAD' && !headerList.has('Accept-Encoding') && !headerList.has('Range');
  if (acceptedGzip) headers['Accept-Encoding'] = 'gzip';
  if (body !== undefined) headers['Content-Length'] = String(body.byteLength);
  else if (method === 'POST' || method === 'PUT' || method === 'PATCH')
    headers['Content-Length'] = '0';
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Exchange>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortError(method, url));
      return;
    }
    const req = client.request(url, {
      method,
      headers,
      agent: url.protocol === 'https:' ? agents.https : agents.http,
      signal,
    });
    req.on('error', (error) => reject(networkError(method, url, error, signal)));
    req.on('response', (res) => {
      resolve({ res, headers: responseHeaders(res.rawHeaders), acceptedGzip });
    });
    req.end(
      body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    );
  });
}

async function finish(
  exchange: Exchange,
  method: HttpMethod,
  url: URL,
  signal: AbortSignal | undefined,
  cap: number,
): Promise<HttpResponse> {
  const { res } = exchange;
  const headers = exchange.headers;
  const declared = parseContentLength(headers['Content-Length']?.[0]);
  const tooLarge = (): HttpRequestError =>
    new HttpRequestError(
      'BodyTooLarge',
      `${goOp(method)} "${url.href}": the response body is over the ${limitText(cap)} limit of context.http`,
    );
  let contentLength = declared ?? (res.statusCode === 204 || res.statusCode === 304 ? 0 : -1);
  let stream: Readable = res;
  const gzipped =
    exchange.acceptedGzip && (headers['Content-Encoding']?.[0] ?? '').toLowerCase() === 'gzip';
  if (gzipped) {
    delete headers['Content-Encoding'];
    delete headers['Content-Length'];
    contentLength = -1;
    const gunzip = createGunzip();
    res.on('error', (error) => gunzip.destroy(error));
    stream = res.pipe(gunzip);
  } else if (method !== 'HEAD' && declared !== undefined && declared > cap) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > cap) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    res.destroy();
    stream.destroy();
    if (error instanceof HttpRequestError) throw error;
    throw networkError(method, url, error, signal);
  }
  const setCookies = headers['Set-Cookie'] ?? [];
  const cookies: Record<string, HttpCookie> = {};
  for (const line of setCookies) {
    const cookie = parseSetCookie(line);
    if (cookie !== undefined) cookies[cookie.name] = cookie.cookie;
  }
  const joined = Buffer.concat(chunks, total);
  return {
    status: `${res.statusCode ?? 0} ${res.statusMessage ?? ''}`.trimEnd(),
    statusCode: res.statusCode ?? 0,
    contentLength,
    headers,
    cookies,
    body: new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength),
  };
}

/** GET the authUrl (following its redirects) and return the cookies it sets. */
async function fetchAuthCookies(
  authUrl: string,
  agents: Agents,
  signal: AbortSignal | undefined,
  cap: number,
): Promise<Array<[string, string]>> {
  let url = buildRequestUrl({ method: 'GET', url: authUrl });
  const found: Array<[string, string]> = [];
  const headers = new HeaderList(undefined);
  headers.set('User-Agent', GO_USER_AGENT);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const exchange = await send('GET', url, headers, undefined, agents, signal);
    for (const line of exchange.headers['Set-Cookie'] ?? []) {
      const cookie = parseSetCookie(line);
      if (cookie !== undefined) found.push([cookie.name, cookie.cookie.value]);
    }
    const location = exchange.headers['Location']?.[0];
    if (!isRedirect(exchange.res.statusCode ?? 0) || location === undefined) {
      await finish(exchange, 'GET', url, signal, cap);
      return found;
    }
    exchange.res.resume();
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') break;
    url = next;
  }
  return found;
}

function credentialsOf(
  request: HttpRequest,
  url: URL,
): { username: string; password: string } | undefined {
  if (request.username !== undefined || request.password !== undefined) {
    return { username: request.username ?? '', password: request.password ?? '' };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    };
  }
  return undefined;
}

function requestBody(request: HttpRequest, headers: HeaderList): Uint8Array | undefined {
  if (request.form !== undefined) {
    const contentType = headers.get('Content-Type') ?? '';
    if (/^multipart\/form-data\s*(;|$)/i.test(contentType)) {
      // The docs tell users to set `Content-Type: multipart/form-data` with `form`; a
      // multipart body needs a boundary, so it is added to their Content-Type.
      const boundary = randomBytes(15).toString('hex');
      const parts: string[] = [];
      for (const key of Object.keys(request.form).sort()) {
        for (const value of request.form[key] ?? []) {
          parts.push(
            `--${boundary}\r\nContent-Disposition: form-data; name="${escapeQuoted(key)}"\r\n\r\n${value}\r\n`,
          );
        }
      }
      headers.set('Content-Type', `multipart/form-data; boundary=${boundary}`);
      return new TextEncoder().encode(`${parts.join('')}--${boundary}--\r\n`);
    }
    if (contentType === '') headers.set('Content-Type', 'application/x-www-form-urlencoded');
    return new TextEncoder().encode(encodeQuery(request.form));
  }
  if (request.body === undefined) return undefined;
  return typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body;
}

function escapeQuoted(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ');
}

function parseContentLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function responseHeaders(raw: string[]): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = canonicalHeaderKey(raw[i] ?? '');
    // Go moves Transfer-Encoding out of Response.Header.
    if (name === 'Transfer-Encoding') continue;
    (headers[name] ??= []).push(raw[i + 1] ?? '');
  }
  return headers;
}

/** Request headers in insertion order, keyed by canonical name; values are lists. */
class HeaderList {
  private readonly map = new Map<string, string[]>();

  constructor(initial: Record<string, string[]> | undefined) {
    for (const [name, values] of Object.entries(initial ?? {})) {
      const key = canonicalHeaderKey(name);
      // Go's client takes Host from the URL and ignores a Host header.
      if (key === 'Host') continue;
      this.map.set(key, [...(this.map.get(key) ?? []), ...values]);
    }
  }

  clone(): HeaderList {
    const copy = new HeaderList(undefined);
    for (const [k, v] of this.map) copy.map.set(k, [...v]);
    return copy;
  }

  has(name: string): boolean {
    return this.map.has(canonicalHeaderKey(name));
  }

  get(name: string): string | undefined {
    return this.map.get(canonicalHeaderKey(name))?.[0];
  }

  set(name: string, value: string): void {
    this.map.set(canonicalHeaderKey(name), [value]);
  }

  delete(name: string): void {
    this.map.delete(canonicalHeaderKey(name));
  }

  /** As Go's Request.AddCookie: one Cookie header, pairs joined by "; ". */
  addCookie(name: string, value: string): void {
    const pair = `${name.replace(/[\r\n]/g, '-')}=${sanitizeCookieValue(value)}`;
    const existing = this.map.get('Cookie');
    if (existing === undefined || existing.length === 0) this.map.set('Cookie', [pair]);
    else existing[0] = `${existing[0]}; ${pair}`;
  }

  toNode(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of this.map) out[k] = v.length === 1 ? (v[0] ?? '') : v;
    return out;
  }
}

/** Go's sanitizeCookieValue: drop bytes a cookie value cannot hold; quote one with a space or comma. */
function sanitizeCookieValue(value: string): string {
  let clean = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x20 && c < 0x7f && ch !== '"' && ch !== ';' && ch !== '\\') clean += ch;
  }
  return /[ ,]/.test(clean) ? `"${clean}"` : clean;
}

function abortError(method: HttpMethod, url: URL): HttpRequestError {
  return new HttpRequestError('Aborted', `${goOp(method)} "${url.href}": context canceled`);
}

/** Node's socket errors in the words of Go's net package, which the platform's messages carry. */
function networkError(
  method: HttpMethod,
  url: URL,
  error: unknown,
  signal: AbortSignal | undefined,
): HttpRequestError {
  if (signal?.aborted === true) return abortError(method, url);
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
  const prefix = `${goOp(method)} "${url.href}"`;
  const where = e.address === undefined ? '' : ` ${formatAddress(e.address, e.port)}`;
  let detail: string;
  switch (e.code) {
    case 'ECONNREFUSED':
      detail = `dial tcp${where}: connect: connection refused`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      detail = `dial tcp: lookup ${url.hostname}: no such host`;
      break;
    case 'ETIMEDOUT':
      detail = `dial tcp${where}: i/o timeout`;
      break;
    case 'EHOSTUNREACH':
      detail = `dial tcp${where}: connect: no route to host`;
      break;
    case 'ENETUNREACH':
      detail = `dial tcp${where}: connect: network is unreachable`;
      break;
    case 'ECONNRESET':
      detail = 'read: connection reset by peer';
      break;
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
      detail = 'gzip: invalid header';
      break;
    default:
      detail =
        typeof e.code === 'string' && /CERT|SSL|TLS/.test(e.code)
          ? `tls: ${e.message}`
          : e.message || String(error);
  }
  return new HttpRequestError('Network', `${prefix}: ${detail}`, { cause: error });
}

function formatAddress(address: string, port: number | undefined): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}
