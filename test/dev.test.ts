import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  startDevServer,
  type CallEvent,
  type DevServer,
  type ReloadEvent,
} from '../src/dev/dev-server.js';
import { decodeUserJson } from '../src/runtime/ejson.js';
import { openSecretStore } from '../src/secrets/store.js';
import { repoRoot, tempApp } from './helpers.js';

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');
/** Only a guard against a hang: no test asserts how long anything takes. */
const HANG_GUARD_MS = 60_000;

function nextReload(
  server: DevServer,
  predicate: (event: ReloadEvent) => boolean = () => true,
): Promise<ReloadEvent> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('no matching reload event')), HANG_GUARD_MS);
    const listener = (event: ReloadEvent): void => {
      if (!predicate(event)) return;
      clearTimeout(guard);
      server.off('reload', listener);
      resolve(event);
    };
    server.on('reload', listener);
  });
}

async function call(
  server: DevServer,
  name: string,
  args: unknown[] = [],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/functions/${name}`, {
    method: 'POST',
    body: JSON.stringify(args),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('triggerbox dev', () => {
  let root: string;
  let server: DevServer;
  const write = (file: string, content: string): void =>
    writeFileSync(path.join(root, file), content);

  before(async () => {
    root = tempApp({
      'functions/config.json': [{ name: 'greet' }, { name: 'inner', private: true }],
      'functions/greet.js': 'exports = (name) => `v1 ${name}`;',
      'functions/inner.js': 'exports = () => "inner";',
      'functions/value.js': 'exports = () => context.values.get("setting");',
      'functions/env.js': 'exports = () => context.environment.values.mode;',
      'functions/secret.js': 'exports = () => context.values.get("token");',
      'functions/secretIs.js': 'exports = (expected) => context.values.get("token") === expected;',
      'functions/fails.js': 'exports = () => { throw new Error("nope"); };',
      'functions/echo.js': 'exports = (...args) => args;',
      'functions/tamper.js':
        'exports = () => { JSON.stringify = () => \'1, "injected": 2\'; return { id: new BSON.ObjectId() }; };',
      'functions/kinds.js':
        'exports = (...args) => args.map((a) => (a && a._bsontype) || typeof a).concat(Object.values(args[1] ?? {}).map((a) => (a && a._bsontype) || typeof a));',
      'values/setting.json': { name: 'setting', value: 'one' },
      'values/token.json': { name: 'token', value: 'tokenSecret', from_secret: true },
      'environments/no-environment.json': { values: { mode: 'a' } },
    });
    await openSecretStore({ root, env: {} }).create('tokenSecret', 'first-token');
    server = await startDevServer({ root, port: 0, dbPort: 0, env: {} });
  });
  after(() => server.close());

  it('dev: serves POST /functions/<name> and GET /functions on loopback', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const { status, body } = await call(server, 'greet', ['Ada']);
    assert.equal(status, 200);
    assert.deepEqual(body, { result: 'v1 Ada', logs: [], error_logs: [], stats: body['stats'] });
    const list = (await (await fetch(`${server.url}/functions`)).json()) as {
      name: string;
      private: boolean;
    }[];
    assert.deepEqual(list.map((f) => f.name).sort(), [
      'echo',
      'env',
      'fails',
      'greet',
      'inner',
      'kinds',
      'secret',
      'secretIs',
      'tamper',
      'value',
    ]);
  });

  it('dev: a saved function file is live on the next call, with one line saying what was rebuilt', async () => {
    const reload = nextReload(server);
    write('functions/greet.js', 'exports = (name) => `v2 ${name}`;');
    const event = await reload;
    assert.equal(event.applied, true);
    assert.deepEqual(event.files, ['functions/greet.js']);
    assert.equal(event.summary, 'rebuilt greet');
    assert.equal((await call(server, 'greet', ['Ada'])).body['result'], 'v2 Ada');
  });

  it("dev: an editor's temp-file-and-rename save is picked up", async () => {
    const reload = nextReload(server, (e) => e.applied && e.summary.includes('greet'));
    write('functions/.greet.js.swp.tmp', 'exports = (name) => `v3 ${name}`;');
    renameSync(
      path.join(root, 'functions/.greet.js.swp.tmp'),
      path.join(root, 'functions/greet.js'),
    );
    await reload;
    assert.equal((await call(server, 'greet', ['Ada'])).body['result'], 'v3 Ada');
  });

  it('dev: a save that breaks a function keeps the last good version and says where; the fix is picked up', async () => {
    const broken = nextReload(server);
    write('functions/greet.js', 'exports = (name) => {\n  return `v4 ${name}` +;\n};');
    const event = await broken;
    assert.equal(event.applied, false);
    assert.deepEqual(
      event.problems.map((p) => [p.file, p.line, p.column]),
      [['functions/greet.js', 2, 24]],
    );
    assert.equal((await call(server, 'greet', ['Ada'])).body['result'], 'v3 Ada');
    const fixed = nextReload(server, (e) => e.applied);
    write('functions/greet.js', 'exports = (name) => `v5 ${name}`;');
    await fixed;
    assert.equal((await call(server, 'greet', ['Ada'])).body['result'], 'v5 Ada');
  });

  it('dev: a malformed value file keeps the last good value; fixing it applies the new one', async () => {
    const broken = nextReload(server);
    write('values/setting.json', '{ "name": "setting", "value": }');
    const event = await broken;
    assert.equal(event.applied, false);
    assert.equal(event.problems[0]?.file, 'values/setting.json');
    assert.equal(event.problems[0]?.line, 1);
    assert.equal((await call(server, 'value')).body['result'], 'one');
    const fixed = nextReload(server, (e) => e.applied);
    write('values/setting.json', '{ "name": "setting", "value": "two" }');
    assert.equal((await fixed).summary, 'reloaded values setting');
    assert.equal((await call(server, 'value')).body['result'], 'two');
  });

  it('dev: environment files, new functions, deleted functions and functions/config.json', async () => {
    let reload = nextReload(server, (e) => e.applied);
    write('environments/no-environment.json', '{ "values": { "mode": "b" } }');
    await reload;
    assert.equal((await call(server, 'env')).body['result'], 'b');

    reload = nextReload(server, (e) => e.applied);
    write('functions/added.js', 'exports = () => "new";');
    assert.equal((await reload).summary, 'added added');
    assert.equal((await call(server, 'added')).body['result'], 'new');

    reload = nextReload(server, (e) => e.applied);
    rmSync(path.join(root, 'functions/added.js'));
    assert.equal((await reload).summary, 'removed added');
    const gone = await call(server, 'added');
    assert.equal(gone.status, 404);
    assert.equal(gone.body['error_code'], 'FunctionNotFound');

    reload = nextReload(server, (e) => e.applied);
    write(
      'functions/config.json',
      JSON.stringify([
        { name: 'greet', private: true },
        { name: 'inner', private: true },
      ]),
    );
    await reload;
    assert.equal((await call(server, 'greet', ['x'])).status, 403);
  });

  it('dev: private functions are refused over HTTP unless the request runs as system', async () => {
    const events: CallEvent[] = [];
    const onCall = (event: CallEvent) => events.push(event);
    server.on('call', onCall);
    const refused = await call(server, 'inner');
    server.off('call', onCall);
    assert.equal(refused.status, 403);
    assert.equal(refused.body['error_code'], 'FunctionPrivate');
    // The terminal's log line shows the event's code: the same one as the body.
    const logged = events.find((e) => e.name === 'inner');
    assert.equal(logged?.status, 403);
    assert.equal((logged?.error as { code?: string } | undefined)?.code, 'FunctionPrivate');
    const allowed = await call(server, 'inner', [], { 'x-triggerbox-run-as-system': 'true' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.body['result'], 'inner');
  });

  it('dev: a secret changed from another terminal is what the next call sees', async () => {
    // HTTP bodies mask secret values (issue #8): the function reports what it read instead.
    assert.equal((await call(server, 'secretIs', ['first-token'])).body['result'], true);
    assert.equal((await call(server, 'secret')).body['result'], '********');
    const update = spawnSync(
      process.execPath,
      [BIN, 'secrets', 'update', '--secret', 'tokenSecret', '--value', 'second-token'],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(update.status, 0, update.stderr);
    assert.equal((await call(server, 'secretIs', ['second-token'])).body['result'], true);
  });

  it('dev: plain JSON numbers in a request body reach the function as numbers, never BSON.Long; wrappers keep their types', async () => {
    const kinds = await call(server, 'kinds', [
      3000000000,
      {
        n: 3000000000,
        l: { $numberLong: '5' },
        t: { $timestamp: { t: 1, i: 2 } },
        d: { $date: '2024-01-02T03:04:05Z' },
      },
    ]);
    assert.deepEqual(kinds.body['result'], [
      'number',
      'object',
      'number',
      'Long',
      'Timestamp',
      'object',
    ]);
  });

  it('dev: a request body reaches the function exactly as the Extended JSON reader gives it', async () => {
    // Plain JSON bodies skip the Extended JSON reader; the function must not see a difference:
    // -0, __proto__ keys, large and tiny numbers, wrappers nested in plain data, bad numbers.
    const bodies = [
      '["Ada", 1, 1.5, -0, 3000000000, 1e21, 5e-324, true, null, "", [], {}]',
      '[{"a": [1, {"b": -0, "c": "x"}], "d": {"e": null}}]',
      '[{"__proto__": {"x": 1}, "y": 2}]',
      '[{"nested": {"deep": {"$numberLong": "5"}}}]',
      '[{"k": {"$oid": "65aa11bb22cc33dd44ee55ff"}}, {"$date": "2024-01-02T03:04:05Z"}]',
      '[{"$numberDouble": "-0.0"}]',
      ' [ "spaced" ] ',
      '[1e400]',
      '["unterminated',
      '{"not": "an array"}',
      '',
    ];
    for (const body of bodies) {
      const response = await fetch(`${server.url}/functions/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const reply = (await response.json()) as Record<string, unknown>;
      let expected: { status: number; result?: unknown; error_code?: string };
      try {
        const args = body.trim() === '' ? [] : decodeUserJson(body);
        if (!Array.isArray(args)) throw new Error('not an array');
        const result = await server.functionRunner.execute('echo', args);
        expected = { status: 200, result: JSON.parse(result.resultEJSON) };
      } catch {
        expected = { status: 400, error_code: 'InvalidInput' };
      }
      assert.equal(response.status, expected.status, `${body}: ${JSON.stringify(reply)}`);
      if (expected.status === 200) assert.deepEqual(reply['result'], expected.result, body);
      else assert.equal(reply['error_code'], expected.error_code, body);
    }
  });

  it('dev: the response body is valid JSON even when a function replaces JSON.stringify in its sandbox', async () => {
    const response = await fetch(`${server.url}/functions/tamper`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    const text = await response.text();
    const body = JSON.parse(text) as Record<string, unknown>;
    assert.equal(body['injected'], undefined, text);
    assert.equal(response.status, 500, text);
    assert.equal(body['error_code'], 'FunctionExecutionError', text);
  });

  it("dev: HTTP errors use the platform's shape and fitting statuses; arguments are Extended JSON", async () => {
    const failed = await call(server, 'fails');
    assert.equal(failed.status, 500);
    assert.deepEqual(failed.body, { error: 'nope', error_code: 'FunctionExecutionError' });
    const bad = await fetch(`${server.url}/functions/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not": "an array"}',
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as Record<string, unknown>)['error_code'], 'InvalidInput');
    const echo = await call(server, 'echo', [
      { $oid: '65aa11bb22cc33dd44ee55ff' },
      { $numberLong: '12' },
    ]);
    assert.deepEqual(echo.body['result'], [
      { $oid: '65aa11bb22cc33dd44ee55ff' },
      { $numberLong: '12' },
    ]);
    assert.equal((await fetch(`${server.url}/nowhere`)).status, 404);
  });

  it('dev: a burst of saves ends with the last one live', async () => {
    const last = nextReload(
      server,
      (e) => e.applied && server.app.functions.get('echo')?.source.includes('burst 9') === true,
    );
    for (let i = 0; i < 10; i++) write('functions/echo.js', `exports = () => "burst ${i}";`);
    await last;
    assert.equal((await call(server, 'echo')).body['result'], 'burst 9');
  });
});

/** Starts `triggerbox dev` and resolves with its first lines, up to "Ctrl-C to stop". */
async function startDevProcess(
  args: string[],
  cwd: string,
): Promise<{ child: ReturnType<typeof spawn>; stdout: () => string }> {
  const child = spawn(process.execPath, [BIN, 'dev', '--port', '0', '--db-port', '0', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    const guard = setTimeout(
      () => reject(new Error(`dev did not start: ${stdout}`)),
      HANG_GUARD_MS,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Ctrl-C to stop')) {
        clearTimeout(guard);
        resolve();
      }
    });
  });
  return { child, stdout: () => stdout };
}

describe('triggerbox dev process', () => {
  it('dev: lists when each SCHEDULED trigger runs next; --no-schedules turns schedules off', async () => {
    const fixture = path.join(repoRoot, 'test/fixtures/apps/triggers');
    for (const [args, expected] of [
      [[], true],
      [['--no-schedules'], false],
    ] as const) {
      const { child, stdout } = await startDevProcess([...args], fixture);
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => resolve(code)),
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(
        /scheduled trigger everyFive: next run \d{4}-\d{2}-\d{2}T\d{2}:\d[05]:00\.000Z/.test(
          stdout(),
        ),
        expected,
        stdout(),
      );
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`dev: ${signal} releases everything and exits 0`, async () => {
      const root = tempApp({ 'functions/hello.js': 'exports = () => "hi";' });
      const { child, stdout: output } = await startDevProcess([], root);
      const url = /on (http:\/\/[^ ]+) /.exec(output())?.[1] ?? '';
      const response = await fetch(`${url}/functions/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '[]',
      });
      assert.equal(((await response.json()) as Record<string, unknown>)['result'], 'hi');
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => resolve(code)),
      );
      child.kill(signal);
      assert.equal(await exited, 0);
      assert.match(output(), /POST \/functions\/hello 200 in/);
      assert.match(output(), /triggerbox dev: stopped/);
    });
  }
});
