/**
 * Security issue #8, the dev server: web pages in the user's browser can reach its port, so it
 * answers only requests addressed to it (Host), from itself (Origin), with a JSON body type.
 * And hot reload under stress: half-written files, editor droppings, a vanished app folder.
 */
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  startDevServer,
  type DevServer,
  type DevWarning,
  type ReloadEvent,
} from '../src/dev/dev-server.js';
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
    server = await startDevServer({ root, port: 0, dbPort: 0, env: {} });
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

  it('dev HTTP: the verdict on a Host or Origin holds on every request, in any order', async () => {
    // The guard keeps its verdicts by header value: a value seen before is judged the same way,
    // and a refused one never turns into an answered one (or the reverse).
    const sequence = [
      { host: `evil.example:${port}`, status: 403 },
      { host: `localhost:${port}`, status: 200 },
      { host: `evil.example:${port}`, status: 403 },
      { host: `localhost:${port}`, origin: 'http://evil.example', status: 403 },
      { host: `localhost:${port}`, origin: `http://localhost:${port}`, status: 200 },
      { host: `localhost:${port}`, origin: 'http://evil.example', status: 403 },
      { host: `localhost:${port}`, status: 200 },
    ];
    for (const [i, step] of [...sequence, ...sequence].entries()) {
      const reply = await send(server, {
        path: '/functions/hello',
        headers: {
          host: step.host,
          ...(step.origin === undefined ? {} : { origin: step.origin }),
          ...JSON_TYPE,
        },
        body: '["Ada"]',
      });
      assert.equal(reply.status, step.status, `request ${i}: ${reply.text}`);
    }
    // Many distinct foreign values (more than the guard keeps) are each refused.
    for (let i = 0; i < 100; i++) {
      const reply = await send(server, {
        path: '/functions/hello',
        headers: { host: `evil${i}.example:${port}`, ...JSON_TYPE },
        body: '["Ada"]',
      });
      assert.equal(reply.status, 403);
    }
    const after = await send(server, {
      path: '/functions/hello',
      headers: { host: `127.0.0.1:${port}`, ...JSON_TYPE },
      body: '["Ada"]',
    });
    assert.equal(after.status, 200, after.text);
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
    const loopback = await startDevServer({ root, port: 0, dbPort: 0, env: {}, host: 'localhost' });
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

/** The next reload event that satisfies `predicate` (events, never timers). */
function nextReload(
  server: DevServer,
  predicate: (event: ReloadEvent) => boolean,
): Promise<ReloadEvent> {
  return new Promise((resolve) => {
    const listener = (event: ReloadEvent): void => {
      if (!predicate(event)) return;
      server.off('reload', listener);
      resolve(event);
    };
    server.on('reload', listener);
  });
}

function nextWarning(server: DevServer, kind: string): Promise<DevWarning> {
  return new Promise((resolve) => {
    const listener = (warning: DevWarning): void => {
      if (warning.kind !== kind) return;
      server.off('warning', listener);
      resolve(warning);
    };
    server.on('warning', listener);
  });
}

describe('dev hot reload under stress', () => {
  let root: string;
  let server: DevServer;
  const write = (file: string, content: string): void =>
    writeFileSync(path.join(root, file), content);
  const result = async (name: string): Promise<unknown> =>
    (
      await send(server, {
        path: `/functions/${name}`,
        headers: JSON_TYPE,
        body: '["Ada"]',
      })
    ).body['result'] ?? 'no result';
  const touches = (file: string) => (event: ReloadEvent) => event.files.includes(file);

  before(async () => {
    root = tempApp({
      'functions/greet.js': 'exports = (name) => `v1 ${name}`;',
      'functions/other.js': 'exports = () => "o1";',
      'triggers/t.json': {
        name: 't',
        type: 'SCHEDULED',
        config: { schedule: '0 0 1 1 *' },
        function_name: 'other',
      },
    });
    server = await startDevServer({ root, port: 0, dbPort: 0, env: {}, schedules: false });
  });
  after(() => server.close());

  it('dev reload: an empty or exports-less function file (a save in progress) is not a new version', async () => {
    for (const halfway of ['', '// greet, being written\nconst x = 1;']) {
      const reload = nextReload(server, touches('functions/greet.js'));
      write('functions/greet.js', halfway);
      const event = await reload;
      assert.equal(event.applied, false, JSON.stringify(event));
      assert.deepEqual(event.kept, ['functions/greet.js']);
      assert.match(event.summary, /not complete yet/);
      assert.match(event.problems[0]?.message ?? '', /not complete yet/);
      assert.equal(await result('greet'), 'v1 Ada');
    }
    const done = nextReload(server, (e) => e.applied && touches('functions/greet.js')(e));
    write('functions/greet.js', 'exports = (name) => `v2 ${name}`;');
    await done;
    assert.equal(await result('greet'), 'v2 Ada');
  });

  it('dev reload: one broken file does not hold back a fix saved in another', async () => {
    const broken = nextReload(server, touches('functions/other.js'));
    write('functions/other.js', 'exports = () => { return "o2" +; };');
    assert.equal((await broken).applied, false);
    const fixed = nextReload(server, touches('functions/greet.js'));
    write('functions/greet.js', 'exports = (name) => `v3 ${name}`;');
    const event = await fixed;
    assert.equal(event.applied, true, JSON.stringify(event));
    assert.deepEqual(event.kept, ['functions/other.js']);
    assert.equal(event.summary, 'rebuilt greet');
    assert.equal(await result('greet'), 'v3 Ada');
    assert.equal(await result('other'), 'o1');
    const repaired = nextReload(server, (e) => e.applied && touches('functions/other.js')(e));
    write('functions/other.js', 'exports = () => "o3";');
    assert.deepEqual((await repaired).kept, []);
    assert.equal(await result('other'), 'o3');
  });

  it('dev reload: editor and tool temp files are not reported as app changes', async () => {
    const events: ReloadEvent[] = [];
    const collect = (event: ReloadEvent): void => void events.push(event);
    server.on('reload', collect);
    try {
      const trigger = JSON.stringify({
        name: 't',
        type: 'SCHEDULED',
        config: { schedule: '0 0 2 1 *' },
        function_name: 'other',
      });
      // sed -i writes a temp file beside the target, then renames it over the target.
      write('triggers/sed7TrGe4', trigger);
      write('functions/greet.js.swp', 'x');
      write('functions/greet.js~', 'x');
      write('functions/.#greet.js', 'x');
      write('functions/4913', 'x');
      write('functions/x.js___jb_tmp___', 'x');
      const saved = nextReload(server, touches('triggers/t.json'));
      renameSync(path.join(root, 'triggers/sed7TrGe4'), path.join(root, 'triggers/t.json'));
      await saved;
    } finally {
      server.off('reload', collect);
    }
    const reported = events.flatMap((e) => e.files);
    assert.deepEqual(
      reported.filter((f) => f !== 'triggers/t.json'),
      [],
      JSON.stringify(events),
    );
  });

  it('dev reload: the app folder renamed away and back is noticed, said, and watched again', async () => {
    const away = `${root}-away`;
    const lost = nextWarning(server, 'watch-lost');
    renameSync(root, away);
    assert.match((await lost).message, /moved away or deleted/);
    // A save made while the folder is elsewhere is picked up once it is back.
    writeFileSync(path.join(away, 'functions/greet.js'), 'exports = (name) => `v8 ${name}`;');
    const resumed = nextWarning(server, 'watch-resumed');
    const caughtUp = nextReload(server, (e) => e.applied && touches('functions/greet.js')(e));
    renameSync(away, root);
    assert.match((await resumed).message, /watching it again/);
    await caughtUp;
    assert.equal(await result('greet'), 'v8 Ada');
    const live = nextReload(server, (e) => e.applied && touches('functions/greet.js')(e));
    write('functions/greet.js', 'exports = (name) => `v9 ${name}`;');
    await live;
    assert.equal(await result('greet'), 'v9 Ada');
  });
});
