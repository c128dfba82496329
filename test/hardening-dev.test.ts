/**
 * Security issue #8, the dev server: web pages in the user's browser can reach its port, so it
 * answers only requests addressed to it (Host), from itself (Origin), with a JSON body type.
 * And hot reload under stress: half-written files, editor droppings, a vanished app folder.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startDevServer, type DevServer } from '../src/dev/dev-server.js';
import { dev } from '../src/cli/commands/dev.js';
import { openSecretStore } from '../src/secrets/store.js';
import { tempApp } from './helpers.js';

interface Reply {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** A raw HTTP request to the server's socket, with whatever Host and Origin a page could send. */
function send(
  server: DevServer,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Reply> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'POST',
        path: options.path,
        headers: options.headers,
        setHost: options.headers?.['host'] === undefined,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // asserted by the caller through `text`
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe('dev server: only its own pages', () => {
  let server: DevServer;
  let port: string;

  before(async () => {
    const root = tempApp({
      'functions/config.json': [{ name: 'hello' }, { name: 'leak', private: true }],
      'functions/hello.js': 'exports = (name) => `hi ${name ?? "you"}`;',
      'functions/leak.js': 'exports = () => context.values.get("token");',
      'values/token.json': { name: 'token', value: 'tokenSecret', from_secret: true },
    });
    await openSecretStore({ root, env: {} }).create('tokenSecret', 'the-secret-value');
    server = await startDevServer({ root, port: 0, env: {} });
    port = new URL(server.url).port;
  });
  after(() => server.close());

  it('dev HTTP: a foreign Host (DNS rebinding) is refused with 403, even running as system', async () => {
    for (const host of [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`]) {
      const reply = await send(server, {
        path: '/functions/leak',
        headers: { host, 'x-triggerbox-run-as-system': 'true', ...JSON_TYPE },
        body: '[]',
      });
      assert.equal(reply.status, 403, `${host}: ${reply.text}`);
      assert.equal(reply.body['error_code'], 'ForbiddenHost');
      assert.match(String(reply.body['error']), /Host .*evil\.example/);
      assert.match(String(reply.body['error']), /--host/);
      assert.doesNotMatch(reply.text, /the-secret-value/);
    }
    const list = await send(server, {
      method: 'GET',
      path: '/functions',
      headers: { host: `evil.example:${port}` },
    });
    assert.equal(list.status, 403);
  });

  it('dev HTTP: loopback Host values with the server port are answered', async () => {
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `127.8.9.10:${port}`,
      `[::1]:${port}`,
      `LocalHost:${port}`,
    ]) {
      const reply = await send(server, {
        path: '/functions/hello',
        headers: { host, ...JSON_TYPE },
        body: '["Ada"]',
      });
      assert.equal(reply.status, 200, `${host}: ${reply.text}`);
      assert.equal(reply.body['result'], 'hi Ada');
    }
    const otherPort = await send(server, {
      path: '/functions/hello',
      headers: { host: `localhost:${Number(port) + 1}`, ...JSON_TYPE },
      body: '[]',
    });
    assert.equal(otherPort.status, 403);
  });

  it('dev HTTP: a request whose Origin is not the server itself is refused with 403; its own origin is fine', async () => {
    for (const origin of ['http://evil.example', 'null', `http://localhost:${Number(port) + 1}`]) {
      const reply = await send(server, {
        path: '/functions/hello',
        headers: { origin, ...JSON_TYPE },
        body: '["Ada"]',
      });
      assert.equal(reply.status, 403, `${origin}: ${reply.text}`);
      assert.equal(reply.body['error_code'], 'ForbiddenOrigin');
      assert.match(String(reply.body['error']), /Origin/);
    }
    const own = await send(server, {
      path: '/functions/hello',
      headers: { origin: `http://localhost:${port}`, ...JSON_TYPE },
      body: '["Ada"]',
    });
    assert.equal(own.status, 200, own.text);
  });

  it('dev HTTP: a cross-site text/plain POST is refused with 415 and runs nothing', async () => {
    const calls: string[] = [];
    const onCall = (event: { name: string }): void => void calls.push(event.name);
    server.on('call', onCall);
    try {
      for (const type of [
        'text/plain',
        'text/plain;charset=UTF-8',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
      ]) {
        const reply = await send(server, {
          path: '/functions/hello',
          headers: { 'content-type': type },
          body: '["Ada"]',
        });
        assert.equal(reply.status, 415, `${type}: ${reply.text}`);
        assert.equal(reply.body['error_code'], 'UnsupportedMediaType');
        assert.match(String(reply.body['error']), /Content-Type: application\/json/);
      }
      const none = await send(server, { path: '/functions/hello', body: '["Ada"]' });
      assert.equal(none.status, 415);
      assert.deepEqual(calls, []);
    } finally {
      server.off('call', onCall);
    }
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/EJSON;charset=UTF-8',
    ]) {
      const reply = await send(server, {
        path: '/functions/hello',
        headers: { 'content-type': type },
        body: '["Ada"]',
      });
      assert.equal(reply.status, 200, `${type}: ${reply.text}`);
    }
  });

  it('dev HTTP: a malformed percent-escape in the path is a 400, not a 500', async () => {
    for (const path of ['/functions/%E0%A4%A', '/functions/%', '/functions/a%zz']) {
      const reply = await send(server, { path, headers: JSON_TYPE, body: '[]' });
      assert.equal(reply.status, 400, `${path}: ${reply.text}`);
      assert.equal(reply.body['error_code'], 'InvalidInput');
      assert.match(String(reply.body['error']), /percent/);
    }
    const unparsable = await send(server, { path: '//[', headers: JSON_TYPE, body: '[]' });
    assert.equal(unparsable.status, 400, unparsable.text);
    assert.equal(
      (await send(server, { path: '/functions/hello', headers: JSON_TYPE })).status,
      200,
    );
  });
});

describe('dev server: --host', () => {
  it('dev: a --host that is not loopback is warned about, by the library and the CLI', async () => {
    const root = tempApp({ 'functions/hello.js': 'exports = () => "hi";' });
    const loopback = await startDevServer({ root, port: 0, env: {}, host: 'localhost' });
    assert.deepEqual(loopback.warnings, []);
    await loopback.close();

    let stdout = '';
    let stderr = '';
    const code = await dev(
      { port: 0, host: '0.0.0.0', args: [], outputFormat: 'text', local: root },
      {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
        cwd: root,
        env: {},
      },
      Promise.resolve(),
    );
    assert.equal(code, 0, stderr);
    assert.match(stderr, /--host 0\.0\.0\.0 is not a loopback address/);
    assert.match(stderr, /other machines/);
  });
});
