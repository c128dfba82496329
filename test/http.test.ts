import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  type FunctionRunner,
} from '../src/index.js';
import { runCli, tempApp } from './helpers.js';

/** The requests the server saw, the sockets still open, and waiters for the /hang requests. */
const hangs: Socket[] = [];
let hangWaiters: Array<() => void> = [];
const openSockets = new Set<Socket>();

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/echo': {
        const headers: Record<string, string[]> = {};
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          (headers[req.rawHeaders[i] ?? ''] ??= []).push(req.rawHeaders[i + 1] ?? '');
        }
        res.setHeader('x-multi', ['one', 'two']);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            headers,
            body: `${Buffer.concat(chunks)}`,
          }),
        );
        return;
      }
      case '/text':
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end('héllo from the test server');
        return;
      case '/hang':
        // Never answered: the call that made it must close it.
        hangs.push(req.socket);
        for (const wake of hangWaiters.splice(0)) wake();
        return;
      case '/after-hang':
        // Answers once a /hang request is in: a function awaits this to know its request is out.
        if (hangs.length > 0) res.end('ok');
        else hangWaiters.push(() => res.end('ok'));
        return;
      default:
        res.statusCode = 404;
        res.end();
    }
  });
});
server.on('connection', (socket) => {
  openSockets.add(socket);
  socket.on('close', () => openSockets.delete(socket));
});

let origin = '';
let refusedOrigin = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port that was just free: nothing listens there.
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  refusedOrigin = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});
after(() => {
  server.closeAllConnections();
  server.close();
});

function socketClosed(socket: Socket): Promise<void> {
  if (!openSockets.has(socket)) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** The next /hang request's socket, once it has reached the server. */
function nextHang(): Promise<Socket> {
  const count = hangs.length;
  return new Promise((resolve) => {
    const check = (): void => {
      const socket = hangs[count];
      if (socket !== undefined) resolve(socket);
      else hangWaiters.push(check);
    };
    check();
  });
}

const FUNCTIONS = {
  'functions/getEcho.js': `exports = async function (url) {
    const response = await context.http.get({
      url,
      headers: { 'X-Multi-Value': ['first', 'second'], 'X-Single': ['one'] },
    });
    return {
      status: response.status,
      statusCode: response.statusCode,
      multi: response.headers['X-Multi'],
      contentType: response.headers['Content-Type'],
      echo: JSON.parse(response.body.text()),
    };
  };`,
  'functions/postJson.js': `exports = async function (url) {
    const response = await context.http.post({
      url,
      body: { n: 1, list: [1, 'two'], id: new BSON.ObjectId('5f8880d666acb94471fd87c9') },
      encodeBodyAsJSON: true,
    });
    return JSON.parse(response.body.text());
  };`,
  'functions/getText.js': `exports = async function (url) {
    const response = await context.http.get({ url });
    return { text: response.body.text(), isBinary: response.body._bsontype === 'Binary' };
  };`,
  'functions/refused.js': `exports = async function (url) {
    try {
      await context.http.get({ url });
      return 'no error';
    } catch (error) {
      return { isError: error instanceof Error, name: error.name, message: error.message };
    }
  };`,
  'functions/uncaught.js': `exports = function (url) { return context.http.get({ url }); };`,
  'functions/hang.js': `exports = function (url) { return context.http.get({ url }); };`,
  'functions/notAwaited.js': `exports = async function (hangUrl, afterUrl) {
    context.http.get({ url: hangUrl }).catch(() => {});
    await context.http.get({ url: afterUrl });
    return 'returned';
  };`,
  'functions/badRequest.js': `exports = function (url) {
    return context.http.get({ url, headers: { 'Content-Type': 'application/json' } });
  };`,
};

describe('context.http through createRunner', () => {
  let runner: FunctionRunner;
  before(() => {
    runner = createRunner({ app: loadApp({ root: tempApp(FUNCTIONS) }).app });
  });
  after(() => runner.dispose());

  it('context.http.get: headers go out as lists and come back as lists; the body is a Binary with text()', async () => {
    const { result } = await runner.execute('getEcho', [`${origin}/echo`]);
    const r = result as {
      status: string;
      statusCode: number;
      multi: string[];
      contentType: string[];
      echo: { method: string; headers: Record<string, string[]> };
    };
    assert.equal(r.status, '200 OK');
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.multi, ['one', 'two']);
    assert.deepEqual(r.contentType, ['application/json']);
    assert.equal(r.echo.method, 'GET');
    assert.deepEqual(r.echo.headers['X-Multi-Value'], ['first', 'second']);
    assert.deepEqual(r.echo.headers['X-Single'], ['one']);
  });

  it('context.http.post: encodeBodyAsJSON sends the object as relaxed EJSON', async () => {
    const { result } = await runner.execute('postJson', [`${origin}/echo`]);
    const echo = result as { method: string; body: string };
    assert.equal(echo.method, 'POST');
    assert.equal(echo.body, '{"n":1,"list":[1,"two"],"id":{"$oid":"5f8880d666acb94471fd87c9"}}');
  });

  it('context.http: response.body.text() decodes UTF-8', async () => {
    const { result } = await runner.execute('getText', [`${origin}/text`]);
    assert.deepEqual(result, { text: 'héllo from the test server', isBinary: true });
  });

  it("context.http: a refused connection rejects with an Error in Go's words, which the function can catch", async () => {
    const { result } = await runner.execute('refused', [`${refusedOrigin}/`]);
    const r = result as { isError: boolean; name: string; message: string };
    assert.equal(r.isError, true);
    assert.equal(r.name, 'Error');
    assert.match(
      r.message,
      /^Get "http:\/\/127\.0\.0\.1:\d+\/": dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/,
    );
  });

  it('context.http: an uncaught request failure fails the call with its message; a bad request document fails before any I/O', async () => {
    await assert.rejects(runner.execute('uncaught', ['file:///etc/passwd']), (error) => {
      assert.ok(error instanceof FunctionExecutionFailure);
      assert.equal(error.errorCode, 'FunctionExecutionError');
      assert.match(error.message, /unsupported protocol scheme "file"/);
      return true;
    });
    await assert.rejects(runner.execute('badRequest', [`${origin}/echo`]), (error) => {
      assert.ok(error instanceof FunctionExecutionFailure);
      assert.match(error.message, /headers\.Content-Type must be an array of strings/);
      return true;
    });
  });

  it('context.http: a call that times out while its request hangs closes the socket', async () => {
    const hang = nextHang();
    const call = runner.execute('hang', [`${origin}/hang`], { timeoutMs: 1500 });
    const socket = await hang;
    await assert.rejects(call, (error) => {
      assert.ok(error instanceof FunctionExecutionFailure);
      assert.equal(error.errorCode, 'ExecutionTimeLimitExceeded');
      return true;
    });
    await socketClosed(socket);
    assert.equal(openSockets.has(socket), false);
  });

  it('context.http: a call that returns without awaiting its request aborts it', async () => {
    const hang = nextHang();
    const { result } = await runner.execute('notAwaited', [
      `${origin}/hang`,
      `${origin}/after-hang`,
    ]);
    assert.equal(result, 'returned');
    const socket = await hang;
    await socketClosed(socket);
    assert.equal(openSockets.has(socket), false);
  });
});

describe('context.http through the CLI', () => {
  const root = tempApp(FUNCTIONS);

  it('function run: a function calling context.http.get prints the response it built', async () => {
    const run = await runCli(
      ['function', 'run', '--name', 'getEcho', '--args', `${origin}/echo`, '-f', 'json'],
      root,
    );
    assert.equal(run.code, 0, run.stderr);
    // -f json prints canonical Extended JSON, as appservices does.
    const out = JSON.parse(run.stdout) as { result: { statusCode: unknown; multi: string[] } };
    assert.deepEqual(out.result.statusCode, { $numberInt: '200' });
    assert.deepEqual(out.result.multi, ['one', 'two']);
  });

  it('function run: a failed request is a FunctionExecutionError with the request error', async () => {
    const run = await runCli(
      ['function', 'run', '--name', 'uncaught', '--args', `${refusedOrigin}/`, '-f', 'json'],
      root,
    );
    assert.equal(run.code, 1);
    const out = JSON.parse(run.stdout) as { error: string; error_code: string };
    assert.equal(out.error_code, 'FunctionExecutionError');
    assert.match(out.error, /connect: connection refused/);
  });

  it('function run: a call that times out while its request hangs leaves no open socket', async () => {
    const hang = nextHang();
    const run = runCli(
      ['function', 'run', '--name', 'hang', '--args', `${origin}/hang`, '--timeout', '1500'],
      root,
    );
    const socket = await hang;
    const done = await run;
    assert.equal(done.code, 1);
    assert.match(done.stderr, /ExecutionTimeLimitExceeded/);
    await socketClosed(socket);
    assert.equal(openSockets.has(socket), false);
  });
});
