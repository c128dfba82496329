import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import * as bson from 'bson';
import {
  httpRequest,
  HttpRequestError,
  MAX_BODY_BYTES,
  type HttpRequest,
  type HttpResponse,
} from '../src/services/http/host.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const guestSource = readFileSync(path.join(here, '../../src/services/http/guest.js'), 'utf8');

interface Echo {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: string;
}

/** Every request the server saw, and the sockets it closed, so tests can wait on either. */
const seen: Echo[] = [];
const closedSockets = new Set<Socket>();
let onHang: ((socket: Socket) => void) | undefined;

const digestNonce = 'dcd98b7102dd2f0e8b11d0f600bfb0c093';

function digestHandler(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const algorithm = url.searchParams.get('alg') ?? 'MD5';
  const qop = url.searchParams.get('qop') ?? 'auth';
  const hashName = algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
  const h = (text: string | Buffer): string => createHash(hashName).update(text).digest('hex');
  const challenge = (): void => {
    res.writeHead(401, {
      'WWW-Authenticate': `Digest realm="tb@test", qop="${qop}", algorithm=${algorithm}, nonce="${digestNonce}", opaque="5ccc069c"`,
    });
    res.end('unauthorized');
  };
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Digest ')) return challenge();
  const fields: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    fields[m[1] ?? ''] = m[2] ?? m[3] ?? '';
  }
  let ha1 = h(`alice:tb@test:s3cret`);
  if (algorithm.endsWith('-sess')) ha1 = h(`${ha1}:${digestNonce}:${fields['cnonce']}`);
  const ha2 =
    qop === 'auth-int'
      ? h(`${req.method}:${fields['uri']}:${h(body)}`)
      : h(`${req.method}:${fields['uri']}`);
  const expected = h(
    `${ha1}:${digestNonce}:${fields['nc']}:${fields['cnonce']}:${fields['qop']}:${ha2}`,
  );
  const ok =
    fields['username'] === 'alice' &&
    fields['uri'] === req.url &&
    fields['opaque'] === '5ccc069c' &&
    fields['qop'] === qop &&
    fields['response'] === expected;
  if (!ok) return challenge();
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`welcome ${req.method}`);
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
    }
    const echo: Echo = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers,
      body: body.toString(),
    };
    seen.push(echo);
    switch (url.pathname) {
      case '/echo': {
        // Repeated headers and cookies, in Node's lower case, to come back as lists in Go's casing.
        res.setHeader('x-multi', ['one', 'two']);
        res.setHeader('set-cookie', [
          'session=abc123; Path=/; Domain=.example.test; HttpOnly; Max-Age=60',
          'theme="dark"; Expires=Mon, 10-Feb-2031 08:00:59 GMT; Secure',
        ]);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(echo));
        return;
      }
      case '/redirect': {
        const code = Number(url.searchParams.get('code') ?? '302');
        const hops = Number(url.searchParams.get('hops') ?? '1');
        const target = hops > 1 ? `/redirect?code=${code}&hops=${hops - 1}` : '/echo';
        res.writeHead(code, { Location: target });
        res.end('moved');
        return;
      }
      case '/to-file':
        res.writeHead(302, { Location: 'file:///etc/passwd' });
        res.end();
        return;
      case '/digest':
        digestHandler(req, res, body);
        return;
      case '/gzip':
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'text/plain' });
        res.end(gzipSync('unzipped text'));
        return;
      case '/big': {
        const n = Number(url.searchParams.get('n'));
        if (url.searchParams.has('cl')) res.setHeader('Content-Length', String(n));
        res.write(Buffer.alloc(n, 97));
        res.end();
        return;
      }
      case '/hang':
        // Headers and one chunk, then nothing: the body never ends.
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('partial', () => onHang?.(req.socket));
        return;
      case '/announce':
        // Announces more than the default cap, sends a little, and waits.
        res.writeHead(200, { 'Content-Length': String(19_000_000) });
        res.write('start');
        return;
      case '/login':
        res.setHeader('Set-Cookie', 'auth=token42; Path=/');
        res.end('logged in');
        return;
      default:
        res.writeHead(404);
        res.end('not found');
    }
  });
});
server.on('connection', (socket) => socket.on('close', () => closedSockets.add(socket)));

let origin = '';
let port = 0;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function lastSeen(): Echo {
  const last = seen.at(-1);
  assert.ok(last !== undefined, 'the server saw no request');
  return last;
}
function text(response: HttpResponse): string {
  return Buffer.from(response.body).toString('utf8');
}
function headerValues(echo: Echo, name: string): string[] {
  return echo.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}
async function rejectsKind(
  promise: Promise<unknown>,
  kind: string,
  pattern: RegExp,
): Promise<HttpRequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HttpRequestError, `expected HttpRequestError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail('expected the request to fail');
}

describe('services/http host: httpRequest', () => {
  it('httpRequest: every method reaches the server with its name, and HEAD has no body', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const) {
      const response = await httpRequest({ method, url: `${origin}/echo` });
      assert.equal(lastSeen().method, method);
      assert.equal(response.statusCode, 200);
      assert.equal(response.status, '200 OK');
      if (method === 'HEAD') assert.equal(response.body.byteLength, 0);
      else assert.equal((JSON.parse(text(response)) as Echo).method, method);
    }
  });

  it('httpRequest: URL parts build the URL as Go does (default scheme http, slash added, query lists sorted and escaped)', async () => {
    await httpRequest({
      method: 'GET',
      host: `127.0.0.1:${port}`,
      path: 'echo',
      query: { z: ['last'], color: ['red', 'blue'], q: ['a b&c'] },
      fragment: 'ignored',
    });
    assert.equal(lastSeen().url, '/echo?color=red&color=blue&q=a+b%26c&z=last');
  });

  it('httpRequest: headers go out as lists (one line per value) and come back in canonical casing as lists', async () => {
    const response = await httpRequest({
      method: 'GET',
      url: `${origin}/echo`,
      headers: { 'x-custom': ['a', 'b'], Accept: ['text/plain'] },
    });
    const echo = lastSeen();
    assert.deepEqual(headerValues(echo, 'X-Custom'), ['a', 'b']);
    assert.deepEqual(headerValues(echo, 'Accept'), ['text/plain']);
    assert.deepEqual(headerValues(echo, 'User-Agent'), ['Go-http-client/1.1']);
    assert.deepEqual(response.headers['X-Multi'], ['one', 'two']);
    assert.deepEqual(response.headers['Content-Type'], ['application/json']);
    assert.equal(response.headers['Set-Cookie']?.length, 2);
    assert.equal(response.headers['content-type'], undefined);
    assert.equal(response.contentLength, response.body.byteLength);
  });

  it('httpRequest: cookies go out in one Cookie header and come back parsed by name', async () => {
    const response = await httpRequest({
      method: 'GET',
      url: `${origin}/echo`,
      cookies: { favoriteTeam: 'Chicago Cubs', plain: 'v1' },
    });
    assert.deepEqual(headerValues(lastSeen(), 'Cookie'), ['favoriteTeam="Chicago Cubs"; plain=v1']);
    assert.deepEqual(response.cookies['session'], {
      value: 'abc123',
      path: '/',
      domain: '.example.test',
      maxAge: 60,
      secure: false,
      httpOnly: true,
    });
    assert.deepEqual(response.cookies['theme'], {
      value: 'dark',
      path: '',
      domain: '',
      expires: 'Mon, 10 Feb 2031 08:00:59 GMT',
      maxAge: 0,
      secure: true,
      httpOnly: false,
    });
  });

  it('httpRequest: string and byte bodies are sent as they are, with Content-Length', async () => {
    await httpRequest({ method: 'POST', url: `${origin}/echo`, body: 'héllo' });
    assert.equal(lastSeen().body, 'héllo');
    assert.deepEqual(headerValues(lastSeen(), 'Content-Length'), ['6']);
    await httpRequest({ method: 'PUT', url: `${origin}/echo`, body: new Uint8Array([104, 105]) });
    assert.equal(lastSeen().body, 'hi');
  });

  it('httpRequest: form is url-encoded (sorted keys, list values) with its Content-Type', async () => {
    await httpRequest({
      method: 'POST',
      url: `${origin}/echo`,
      form: { subject: ['hi there'], to: ['a@x.test', 'b@x.test'] },
    });
    assert.equal(lastSeen().body, 'subject=hi+there&to=a%40x.test&to=b%40x.test');
    assert.deepEqual(headerValues(lastSeen(), 'Content-Type'), [
      'application/x-www-form-urlencoded',
    ]);
  });

  it('httpRequest: form with a multipart/form-data Content-Type (as the docs advise) is sent as multipart with a boundary', async () => {
    await httpRequest({
      method: 'POST',
      url: `${origin}/echo`,
      headers: { 'Content-Type': ['multipart/form-data'] },
      form: { subject: ['hello'] },
    });
    const contentType = headerValues(lastSeen(), 'Content-Type')[0] ?? '';
    const boundary = /boundary=(\w+)/.exec(contentType)?.[1];
    assert.ok(boundary !== undefined, contentType);
    assert.equal(
      lastSeen().body,
      `--${boundary}\r\nContent-Disposition: form-data; name="subject"\r\n\r\nhello\r\n--${boundary}--\r\n`,
    );
  });

  it('httpRequest: redirects are not followed by default (the 3xx comes back) and are followed with followRedirects', async () => {
    const manual = await httpRequest({ method: 'GET', url: `${origin}/redirect?code=302` });
    assert.equal(manual.statusCode, 302);
    assert.equal(manual.status, '302 Found');
    assert.deepEqual(manual.headers['Location'], ['/echo']);
    assert.equal(text(manual), 'moved');

    const followed = await httpRequest({
      method: 'GET',
      url: `${origin}/redirect?code=302&hops=3`,
      followRedirects: true,
    });
    assert.equal(followed.statusCode, 200);
    assert.equal(lastSeen().url, '/echo');
  });

  it('httpRequest: a followed 303 turns POST into GET without body; a 307 repeats method and body', async () => {
    await httpRequest({
      method: 'POST',
      url: `${origin}/redirect?code=303`,
      body: 'data',
      followRedirects: true,
    });
    assert.equal(lastSeen().method, 'GET');
    assert.equal(lastSeen().body, '');
    await httpRequest({
      method: 'POST',
      url: `${origin}/redirect?code=307`,
      body: 'data',
      followRedirects: true,
    });
    assert.equal(lastSeen().method, 'POST');
    assert.equal(lastSeen().body, 'data');
  });

  it('httpRequest: more than 10 redirects fail as Go does', async () => {
    await rejectsKind(
      httpRequest({ method: 'GET', url: `${origin}/redirect?hops=20`, followRedirects: true }),
      'TooManyRedirects',
      /^Get "http:\/\/127\.0\.0\.1:\d+\/redirect\?code=302&hops=\d+": stopped after 10 redirects$/,
    );
  });

  for (const [alg, qop] of [
    ['MD5', 'auth'],
    ['SHA-256', 'auth'],
    ['MD5-sess', 'auth'],
    ['SHA-256', 'auth-int'],
  ] as const) {
    it(`httpRequest: digestAuth answers the 401 challenge (${alg}, qop ${qop})`, async () => {
      const response = await httpRequest({
        method: 'POST',
        url: `${origin}/digest?alg=${alg}&qop=${qop}`,
        username: 'alice',
        password: 's3cret',
        digestAuth: true,
        body: 'payload',
      });
      assert.equal(response.statusCode, 200, text(response));
      assert.equal(text(response), 'welcome POST');
    });
  }

  it('httpRequest: digestAuth takes credentials from the URL, and wrong ones end with the 401', async () => {
    const ok = await httpRequest({
      method: 'GET',
      url: `http://alice:s3cret@127.0.0.1:${port}/digest`,
      digestAuth: true,
    });
    assert.equal(ok.statusCode, 200);
    const denied = await httpRequest({
      method: 'GET',
      url: `${origin}/digest`,
      username: 'alice',
      password: 'wrong',
      digestAuth: true,
    });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.status, '401 Unauthorized');
  });

  it('httpRequest: digestAuth without credentials is refused before any request', async () => {
    const before = seen.length;
    await rejectsKind(
      httpRequest({ method: 'GET', url: `${origin}/digest`, digestAuth: true }),
      'InvalidRequest',
      /digestAuth needs a username and password/,
    );
    assert.equal(seen.length, before);
  });

  it('httpRequest: username/password without digestAuth are sent as Basic credentials', async () => {
    await httpRequest({ method: 'GET', url: `${origin}/echo`, username: 'bob', password: 'pw' });
    assert.deepEqual(headerValues(lastSeen(), 'Authorization'), [
      `Basic ${Buffer.from('bob:pw').toString('base64')}`,
    ]);
  });

  it('httpRequest: authUrl is fetched first and its cookies are sent with the request', async () => {
    await httpRequest({ method: 'GET', url: `${origin}/echo`, authUrl: `${origin}/login` });
    assert.equal(seen.at(-2)?.url, '/login');
    assert.deepEqual(headerValues(lastSeen(), 'Cookie'), ['auth=token42']);
  });

  it('httpRequest: a gzip body it asked for is decompressed, as Go does (no Content-Encoding, length -1)', async () => {
    const response = await httpRequest({ method: 'GET', url: `${origin}/gzip` });
    assert.deepEqual(headerValues(lastSeen(), 'Accept-Encoding'), ['gzip']);
    assert.equal(text(response), 'unzipped text');
    assert.equal(response.headers['Content-Encoding'], undefined);
    assert.equal(response.contentLength, -1);
  });

  it('httpRequest: aborting the signal mid-body rejects and closes the socket', async () => {
    const controller = new AbortController();
    const serverSocket = new Promise<Socket>((resolve) => {
      onHang = resolve;
    });
    const pending = httpRequest(
      { method: 'GET', url: `${origin}/hang` },
      { signal: controller.signal },
    );
    const socket = await serverSocket;
    controller.abort();
    await rejectsKind(
      pending,
      'Aborted',
      /^Get "http:\/\/127\.0\.0\.1:\d+\/hang": context canceled$/,
    );
    if (!closedSockets.has(socket)) {
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    }
    assert.ok(closedSockets.has(socket));
    onHang = undefined;
  });

  it('httpRequest: an already aborted signal sends nothing', async () => {
    const before = seen.length;
    await rejectsKind(
      httpRequest({ method: 'GET', url: `${origin}/echo` }, { signal: AbortSignal.abort() }),
      'Aborted',
      /context canceled/,
    );
    assert.equal(seen.length, before);
  });

  it('httpRequest: a body over the cap fails naming the cap, whether announced (Content-Length) or streamed', async () => {
    assert.equal(MAX_BODY_BYTES, 18 * 1024 * 1024);
    await rejectsKind(
      httpRequest({ method: 'GET', url: `${origin}/big?n=5000&cl=1` }, { maxBodyBytes: 4096 }),
      'BodyTooLarge',
      /the response body is over the 4096 bytes limit of context\.http$/,
    );
    await rejectsKind(
      httpRequest({ method: 'GET', url: `${origin}/big?n=50000` }, { maxBodyBytes: 4096 }),
      'BodyTooLarge',
      /over the 4096 bytes limit/,
    );
    await rejectsKind(
      httpRequest({ method: 'GET', url: `${origin}/announce` }),
      'BodyTooLarge',
      /^Get "http:\/\/127\.0\.0\.1:\d+\/announce": the response body is over the 18 MB \(18874368 bytes\) limit of context\.http$/,
    );
    const fits = await httpRequest(
      { method: 'GET', url: `${origin}/big?n=4096` },
      { maxBodyBytes: 4096 },
    );
    assert.equal(fits.body.byteLength, 4096);
    await rejectsKind(
      httpRequest(
        { method: 'POST', url: `${origin}/echo`, body: 'x'.repeat(5000) },
        { maxBodyBytes: 4096 },
      ),
      'BodyTooLarge',
      /the request body \(5000 bytes\) is over the 4096 bytes limit/,
    );
  });

  it("httpRequest: connection refused has the shape of Go's error", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await rejectsKind(
      httpRequest({ method: 'POST', url: `http://127.0.0.1:${deadPort}/x` }),
      'Network',
      new RegExp(
        `^Post "http://127\\.0\\.0\\.1:${deadPort}/x": dial tcp 127\\.0\\.0\\.1:${deadPort}: connect: connection refused$`,
      ),
    );
  });

  it('httpRequest: only http and https: file: URLs, other schemes and scheme-less URLs are refused before any I/O', async () => {
    const cases: Array<[HttpRequest, RegExp]> = [
      [
        { method: 'GET', url: 'file:///etc/passwd' },
        /^Get "file:\/\/\/etc\/passwd": unsupported protocol scheme "file"$/,
      ],
      [{ method: 'GET', url: 'FILE:///etc/passwd' }, /unsupported protocol scheme "FILE"/],
      [{ method: 'GET', url: 'ftp://127.0.0.1/x' }, /unsupported protocol scheme "ftp"/],
      [{ method: 'GET', url: '127.0.0.1/echo' }, /unsupported protocol scheme ""/],
      [
        { method: 'GET', scheme: 'file', host: 'localhost', path: '/etc/passwd' },
        /unsupported protocol scheme "file"/,
      ],
      [{ method: 'GET', scheme: 'http', host: '' }, /http: no Host in request URL/],
      [{ method: 'GET', url: 'http://' }, /no Host in request URL|invalid URL/],
      [
        { method: 'GET', url: 'ftp://bob:hunter2@127.0.0.1/' },
        /^Get "ftp:\/\/bob:\*\*\*@127\.0\.0\.1\/": /,
      ],
    ];
    for (const [request, pattern] of cases) {
      await rejectsKind(httpRequest(request), 'InvalidRequest', pattern);
    }
  });

  it('httpRequest: a redirect to a file: URL is refused, never followed', async () => {
    await rejectsKind(
      httpRequest({ method: 'GET', url: `${origin}/to-file`, followRedirects: true }),
      'InvalidRequest',
      /^Get "file:\/\/\/etc\/passwd": unsupported protocol scheme "file"$/,
    );
  });
});

/** The guest wrapper, evaluated in a fresh node:vm context (no Node APIs), with the real bson. */
function loadGuest(): (
  call: (op: string, request: HttpRequest) => Promise<HttpResponse>,
  BSON: unknown,
  EJSON: unknown,
) => Record<string, (options: unknown) => Promise<Record<string, unknown>>> {
  const context = vm.createContext({});
  const script = `${guestSource.replace(/^export function /m, 'function ')}\ncreateHttp;`;
  return vm.runInContext(script, context, { filename: 'guest.js' }) as ReturnType<typeof loadGuest>;
}

describe('services/http guest: createHttp', () => {
  const calls: Array<{ op: string; request: HttpRequest }> = [];
  const createHttp = loadGuest();
  const contextHttp = createHttp(
    async (op, request) => {
      // What crosses the boundary is structured-cloned.
      const copy = structuredClone(request);
      calls.push({ op, request: copy });
      return httpRequest(copy);
    },
    bson.BSON,
    bson.EJSON,
  );

  async function guestRejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
    try {
      await promise;
    } catch (error) {
      assert.match((error as Error).message, pattern);
      return;
    }
    assert.fail('expected a rejection');
  }

  it('createHttp: has get/post/put/patch/delete/head, each sending its method', async () => {
    assert.deepEqual(Object.keys(contextHttp).sort(), [
      'delete',
      'get',
      'head',
      'patch',
      'post',
      'put',
    ]);
    for (const name of ['get', 'post', 'put', 'patch', 'delete', 'head']) {
      await contextHttp[name]!({ url: `${origin}/echo` });
      assert.equal(calls.at(-1)?.op, 'http.request');
      assert.equal(lastSeen().method, name.toUpperCase());
    }
  });

  it('createHttp: the response has the platform shape and body is a BSON.Binary with text()', async () => {
    const response = await contextHttp['get']!({
      scheme: 'http',
      host: `127.0.0.1:${port}`,
      path: '/echo',
      query: { a: ['1', '2'] },
      headers: { 'X-Custom': ['v'] },
    });
    assert.deepEqual(Object.keys(response).sort(), [
      'body',
      'contentLength',
      'cookies',
      'headers',
      'status',
      'statusCode',
    ]);
    assert.equal(response['status'], '200 OK');
    assert.equal(response['statusCode'], 200);
    const body = response['body'] as bson.Binary & { text(): string };
    assert.equal(body._bsontype, 'Binary');
    const echo = JSON.parse(body.text()) as Echo;
    assert.equal(echo.url, '/echo?a=1&a=2');
    assert.deepEqual(headerValues(echo, 'X-Custom'), ['v']);
    assert.deepEqual((response['headers'] as Record<string, string[]>)['X-Multi'], ['one', 'two']);
    assert.equal(
      (response['cookies'] as Record<string, { value: string }>)['session']?.value,
      'abc123',
    );
  });

  it('createHttp: an object body with encodeBodyAsJSON is sent as relaxed EJSON text', async () => {
    await contextHttp['post']!({
      url: `${origin}/echo`,
      body: { n: 1, id: new bson.ObjectId('5f8880d666acb94471fd87c9'), when: new Date(0) },
      encodeBodyAsJSON: true,
    });
    assert.equal(
      lastSeen().body,
      '{"n":1,"id":{"$oid":"5f8880d666acb94471fd87c9"},"when":{"$date":"1970-01-01T00:00:00Z"}}',
    );
    assert.equal(typeof calls.at(-1)?.request.body, 'string');
  });

  it('createHttp: string, Binary and form bodies reach the host as text, bytes and lists', async () => {
    await contextHttp['put']!({ url: `${origin}/echo`, body: 'plain' });
    assert.equal(lastSeen().body, 'plain');
    await contextHttp['patch']!({
      url: `${origin}/echo`,
      body: new bson.Binary(new TextEncoder().encode('bytes')),
    });
    assert.equal(lastSeen().body, 'bytes');
    await contextHttp['post']!({ url: `${origin}/echo`, form: { a: 'x y', b: ['1', '2'] } });
    assert.equal(lastSeen().body, 'a=x+y&b=1&b=2');
    assert.deepEqual(calls.at(-1)?.request.form, { a: ['x y'], b: ['1', '2'] });
  });

  it('createHttp: digestAuth, cookies and followRedirects pass through', async () => {
    const response = await contextHttp['get']!({
      url: `${origin}/digest`,
      username: 'alice',
      password: 's3cret',
      digestAuth: true,
    });
    assert.equal(response['statusCode'], 200);
    const redirected = await contextHttp['get']!({
      url: `${origin}/redirect`,
      followRedirects: true,
      cookies: { a: 'b' },
    });
    assert.equal(redirected['statusCode'], 200);
    assert.deepEqual(headerValues(lastSeen(), 'Cookie'), ['a=b']);
  });

  it('createHttp: bad request documents fail with clear errors before reaching the host', async () => {
    const before = calls.length;
    const get = contextHttp['get']!;
    const post = contextHttp['post']!;
    await guestRejects(
      get('https://example.com'),
      /context\.http\.get: expected a request document/,
    );
    await guestRejects(get({}), /needs a url, or a host/);
    await guestRejects(get({ url: 42 }), /url must be a non-empty string, got number 42/);
    await guestRejects(
      get({ url: `${origin}/echo`, path: '/x' }),
      /either url or the URL parts .* not both \(got url and path\)/,
    );
    await guestRejects(
      get({ url: `${origin}/echo`, headers: { 'Content-Type': 'application/json' } }),
      /headers\.Content-Type must be an array of strings/,
    );
    await guestRejects(get({ host: 'h', query: { a: 1 } }), /query\.a must be an array of strings/);
    await guestRejects(
      get({ url: `${origin}/echo`, cookies: { a: 1 } }),
      /cookies\.a must be a string/,
    );
    await guestRejects(
      get({ url: `${origin}/echo`, followRedirects: 'yes' }),
      /followRedirects must be true or false/,
    );
    await guestRejects(
      post({ url: `${origin}/echo`, body: { a: 1 } }),
      /body is an object; send an object with encodeBodyAsJSON: true/,
    );
    await guestRejects(
      post({ url: `${origin}/echo`, body: 'x', form: { a: 'b' } }),
      /either body or form/,
    );
    assert.equal(calls.length, before);
  });

  it('createHttp: host errors reach the function as rejections with the host message', async () => {
    await guestRejects(
      contextHttp['get']!({ url: 'file:///etc/passwd' }),
      /unsupported protocol scheme "file"/,
    );
  });
});
