import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { connect } from 'node:net';
import {
  parseInspectAddress,
  startInspectorServer,
  type InspectorServer,
} from '../src/dev/inspector-server.js';
import { inspectorRefusal } from '../src/runtime/inspector/support.js';
import { trace } from '../src/runtime/inspector/trace.js';
import { createRunner, loadApp, TriggerboxError, type FunctionRunner } from '../src/index.js';
import { CdpClient, type CdpNotification } from './cdp-client.js';
import { repoRoot, tempApp } from './helpers.js';

const unsupported = inspectorRefusal();
/**
 * Every suite here has a time limit (its tests and hooks inherit it): a debugger test that waits
 * for a pause or a reply that never comes must fail, not hang the run (a run is 2-10 s).
 */
const HANG_LIMIT_MS = 120_000;

const ORDER_TOTAL = [
  'exports = function (order) {',
  '  const subtotal = order.items.reduce((sum, item) => sum + item.price, 0);',
  "  console.log('subtotal', subtotal);",
  '  const total = subtotal * 1.2;',
  '  return { total };',
  '};',
].join('\n');

/** A runner in inspect mode over the app at `root`, and its debugger endpoint on a free port. */
async function inspected(
  root: string,
  options: { timeoutMs?: number } = {},
): Promise<{ runner: FunctionRunner; server: InspectorServer }> {
  const runner = createRunner({ app: loadApp({ root }).app, inspect: true, ...options });
  assert.ok(runner.inspector);
  const server = await startInspectorServer({
    relay: runner.inspector,
    address: { host: '127.0.0.1', port: 0 },
  });
  return { runner, server };
}

describe(
  'debugger (inspect mode)',
  { skip: unsupported !== undefined, timeout: HANG_LIMIT_MS },
  () => {
    let root: string;
    let runner: FunctionRunner;
    let server: InspectorServer;
    before(async () => {
      root = tempApp({ 'functions/orderTotal.js': ORDER_TOTAL });
      ({ runner, server } = await inspected(root));
    });
    after(async () => {
      await server?.close();
      runner?.dispose();
    });

    it('inspector: a breakpoint by file URL pauses on its line with the locals, evaluates, resumes to the result', async () => {
      const list = (await (await fetch(`http://127.0.0.1:${server.port}/json/list`)).json()) as {
        webSocketDebuggerUrl: string;
      }[];
      assert.equal(list[0]?.webSocketDebuggerUrl, server.webSocketUrl);
      const cdp = await CdpClient.connect(server.webSocketUrl);
      try {
        await cdp.send('Runtime.enable');
        await cdp.send('Debugger.enable');
        const fileUrl = pathToFileURL(path.join(root, 'functions/orderTotal.js')).href;
        // Line 4 (0-based 3): `const total = subtotal * 1.2;`, after subtotal is known.
        await cdp.send('Debugger.setBreakpointByUrl', { url: fileUrl, lineNumber: 3 });
        const consoleLine = cdp.next('Runtime.consoleAPICalled');
        const call = runner.execute('orderTotal', [{ items: [{ price: 10 }, { price: 15 }] }]);
        const paused = await cdp.next('Debugger.paused');
        const frames = paused.params['callFrames'] as {
          callFrameId: string;
          location: { lineNumber: number };
          scopeChain: { type: string; object: { objectId: string } }[];
        }[];
        const top = frames[0];
        assert.ok(top);
        assert.equal(top.location.lineNumber, 3);
        const local = top.scopeChain.find((scope) => scope.type === 'local');
        assert.ok(local);
        const properties = (await cdp.send('Runtime.getProperties', {
          objectId: local.object.objectId,
          ownProperties: true,
        })) as { result: { name: string; value?: { value?: unknown } }[] };
        assert.equal(properties.result.find((p) => p.name === 'subtotal')?.value?.value, 25);
        const evaluated = (await cdp.send('Debugger.evaluateOnCallFrame', {
          callFrameId: top.callFrameId,
          expression: 'subtotal * 2 + order.items.length',
        })) as { result: { value: unknown } };
        assert.equal(evaluated.result.value, 52);
        const logged = await consoleLine;
        assert.deepEqual(
          (logged.params['args'] as { value?: unknown }[]).map((arg) => arg.value),
          ['subtotal', 25],
        );
        await cdp.send('Debugger.resume');
        const result = await call;
        assert.deepEqual(result.result, { total: 30 });
      } finally {
        cdp.close();
        await cdp.closed;
      }
    });
  },
);

describe(
  'debugger: debugger statements, call stacks, reloads, time limits',
  { skip: unsupported !== undefined, timeout: HANG_LIMIT_MS },
  () => {
    let root: string;
    let runner: FunctionRunner;
    let server: InspectorServer;
    let cdp: CdpClient;
    before(async () => {
      root = tempApp({
        'functions/outer.js': [
          'exports = async function (n) {',
          "  const doubled = await context.functions.execute('inner', n);",
          '  return doubled + 1;',
          '};',
        ].join('\n'),
        'functions/inner.js': [
          'exports = function (n) {',
          '  const twice = n * 2;',
          '  debugger;',
          '  return twice;',
          '};',
        ].join('\n'),
        'functions/other.js': 'exports = () => "other";',
      });
      // A short time limit: a pause far longer than it must not end the call.
      ({ runner, server } = await inspected(root, { timeoutMs: 300 }));
      cdp = await CdpClient.connect(server.webSocketUrl);
      await cdp.send('Runtime.enable');
      await cdp.send('Debugger.enable');
    });
    after(async () => {
      cdp?.close();
      await server?.close();
      runner?.dispose();
    });

    it('inspector: debugger; pauses with the call stack across context.functions.execute, past the time limit', async () => {
      const events: string[] = [];
      const stop = runner.inspector?.onEvent((event) => events.push(event.type));
      trace('test', 'debugger;: call');
      const call = runner.execute('outer', [20]);
      const paused = await cdp.next('Debugger.paused');
      const frames = paused.params['callFrames'] as {
        functionName: string;
        location: { lineNumber: number; scriptId: string };
      }[];
      assert.equal(frames[0]?.location.lineNumber, 2);
      const scripts = new Map<string, string>();
      // Both files were parsed before the pause: outer.js, then inner.js.
      while (![...scripts.values()].some((url) => url.endsWith('/functions/inner.js'))) {
        const parsed = await cdp.next('Debugger.scriptParsed');
        scripts.set(String(parsed.params['scriptId']), String(parsed.params['url']));
      }
      assert.match(
        scripts.get(frames[0]?.location.scriptId ?? '') ?? '',
        /\/functions\/inner\.js$/,
      );
      // execute() runs the callee synchronously: the caller's frame is further down the stack.
      assert.ok(
        frames.some((f) => scripts.get(f.location.scriptId)?.endsWith('/functions/outer.js')),
        'the caller, outer.js, is on the stack',
      );
      // Stay paused for more than three times the 300 ms limit: the call must still succeed.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      trace('test', 'debugger;: resume');
      await cdp.send('Debugger.resume');
      const result = await call;
      trace('test', 'debugger;: done');
      assert.deepEqual(result.result, 41);
      stop?.();
      assert.deepEqual(events.slice(0, 2), ['paused', 'resumed']);
    });

    it('inspector: a breakpoint survives a reload of another file and re-binds when its own file changes', async () => {
      const url = pathToFileURL(path.join(root, 'functions/other.js')).href;
      trace('test', 'reload: set breakpoint');
      await cdp.send('Debugger.setBreakpointByUrl', { url, lineNumber: 1 });
      trace('test', 'reload: reload inner.js');
      writeFileSync(path.join(root, 'functions/inner.js'), 'exports = (n) => n * 3;');
      runner.reload(loadApp({ root }).app);
      assert.deepEqual((await runner.execute('outer', [1])).result, 4);
      trace('test', 'reload: reload other.js');
      writeFileSync(
        path.join(root, 'functions/other.js'),
        '// moved down a line\nexports = () => {\n  return "changed";\n};',
      );
      runner.reload(loadApp({ root }).app);
      const call = runner.execute('other');
      trace('test', 'reload: wait for pause');
      const paused = await cdp.next('Debugger.paused');
      const top = (paused.params['callFrames'] as { location: { lineNumber: number } }[])[0];
      assert.equal(top?.location.lineNumber, 1);
      trace('test', 'reload: resume');
      await cdp.send('Debugger.resume');
      trace('test', 'reload: wait for result');
      assert.equal((await call).result, 'changed');
      trace('test', 'reload: done');
    });
  },
);

describe(
  'debugger: no call waits for a debugger or a session that is gone',
  { skip: unsupported !== undefined, timeout: HANG_LIMIT_MS },
  () => {
    let runner: FunctionRunner;
    let server: InspectorServer;
    before(async () => {
      const root = tempApp({
        'functions/pause.js': [
          'exports = function (n) {',
          '  const twice = n * 2;',
          '  debugger;',
          '  return twice;',
          '};',
        ].join('\n'),
      });
      ({ runner, server } = await inspected(root));
    });
    after(async () => {
      await server?.close();
      runner?.dispose();
    });

    const attach = async (): Promise<CdpClient> => {
      const cdp = await CdpClient.connect(server.webSocketUrl);
      await cdp.send('Runtime.enable');
      await cdp.send('Debugger.enable');
      return cdp;
    };

    /** At a pause in pause.js: `twice` in the top frame. */
    const twiceAt = async (cdp: CdpClient, paused: CdpNotification): Promise<unknown> => {
      const top = (paused.params['callFrames'] as { callFrameId: string }[])[0];
      const evaluated = (await cdp.send('Debugger.evaluateOnCallFrame', {
        callFrameId: top?.callFrameId,
        expression: 'twice',
      })) as { result: { value: unknown } };
      return evaluated.result.value;
    };

    it('inspector: calls queued behind a paused one each pause in the debugged isolate', async () => {
      // The second call arrives while the first holds the one isolate: it must run in the isolate
      // the debugger's session is on (a second isolate once took the session, and the call that
      // ran in the first one never paused).
      const cdp = await attach();
      try {
        const calls = [1, 2, 3].map((n) => runner.execute('pause', [n]));
        for (const n of [1, 2, 3]) {
          const paused = await cdp.next('Debugger.paused');
          assert.equal(await twiceAt(cdp, paused), n * 2);
          await cdp.send('Debugger.resume');
        }
        assert.deepEqual(
          (await Promise.all(calls)).map((r) => r.result),
          [2, 4, 6],
        );
      } finally {
        cdp.close();
        await cdp.closed;
      }
    });

    it('inspector: a debugger that leaves while a call is paused lets the call go on to its result', async () => {
      const cdp = await attach();
      const call = runner.execute('pause', [4]);
      await cdp.next('Debugger.paused');
      cdp.close();
      await cdp.closed;
      assert.equal((await call).result, 8);
      // Its breakpoints and debugger; pauses went with it: a call without a debugger runs through.
      assert.equal((await runner.execute('pause', [5])).result, 10);
    });

    it('inspector: the sandbox process dying while a call is paused fails the call and tells the debugger; the next call pauses again', async () => {
      const cdp = await attach();
      try {
        const call = runner.execute('pause', [6]);
        await cdp.next('Debugger.paused');
        const pid = runner.sandboxPid;
        assert.ok(pid);
        process.kill(pid, 'SIGKILL');
        await assert.rejects(call, /the sandbox process exited \(SIGKILL\) while running 'pause'/);
        await cdp.next('Debugger.resumed');
        await cdp.next('Runtime.executionContextsCleared');
        // No process, no session: a command is answered at once, not left waiting.
        await assert.rejects(
          cdp.send('Runtime.evaluate', { expression: '1 + 1' }),
          /no function is running/,
        );
        // A new sandbox process gets the debugger's Debugger.enable again: debugger; pauses.
        const again = runner.execute('pause', [7]);
        const paused = await cdp.next('Debugger.paused');
        assert.equal(await twiceAt(cdp, paused), 14);
        await cdp.send('Debugger.resume');
        assert.equal((await again).result, 14);
      } finally {
        cdp.close();
        await cdp.closed;
      }
    });
  },
);

describe(
  'debugger: npm packages as their own files',
  { skip: unsupported !== undefined, timeout: HANG_LIMIT_MS },
  () => {
    let root: string;
    let runner: FunctionRunner;
    let server: InspectorServer;
    before(async () => {
      root = tempApp({
        'functions/node_modules/greeter/package.json': { name: 'greeter', main: 'lib/index.js' },
        'functions/node_modules/greeter/lib/index.js': [
          "'use strict';",
          'exports.greet = function (name) {',
          "  const text = 'Hello, ' + name;",
          '  debugger;',
          '  return text;',
          '};',
        ].join('\n'),
        'functions/hello.js': "exports = (name) => require('greeter').greet(name);",
      });
      ({ runner, server } = await inspected(root));
    });
    after(async () => {
      await server?.close();
      runner?.dispose();
    });

    it("inspector: a package's bundle carries its source map (scriptParsed sourceMapURL), which maps a pause to the package's file and line", async () => {
      const cdp = await CdpClient.connect(server.webSocketUrl);
      try {
        await cdp.send('Runtime.enable');
        await cdp.send('Debugger.enable');
        const parsed = cdp.next('Debugger.scriptParsed', (params) =>
          String(params['url']).endsWith('node_modules/greeter'),
        );
        const call = runner.execute('hello', ['Ada']);
        const script = await parsed;
        const mapUrl = String(script.params['sourceMapURL']);
        const prefix = 'data:application/json;charset=utf-8;base64,';
        assert.ok(mapUrl.startsWith(prefix), `sourceMapURL: ${mapUrl.slice(0, 60)}`);
        const payload = JSON.parse(
          Buffer.from(mapUrl.slice(prefix.length), 'base64').toString('utf8'),
        ) as SourceMapPayload;
        const file = pathToFileURL(path.join(root, 'functions/node_modules/greeter/lib/index.js'));
        const sources = payload.sources.map((s) => new URL(s, payload.sourceRoot).href);
        assert.ok(sources.includes(file.href), sources.join(', '));
        assert.ok(payload.sourcesContent?.some((text) => text.includes("'Hello, ' + name")));
        // The package's debugger; pauses in the bundle; the map takes it to lib/index.js:4.
        const paused = await cdp.next('Debugger.paused');
        const top = (
          paused.params['callFrames'] as {
            location: { scriptId: string; lineNumber: number; columnNumber: number };
          }[]
        )[0];
        assert.equal(top?.location.scriptId, script.params['scriptId']);
        const entry = new SourceMap(payload).findEntry(
          top?.location.lineNumber ?? -1,
          top?.location.columnNumber ?? -1,
        ) as { originalSource?: string; originalLine?: number };
        assert.equal(
          entry.originalSource && new URL(entry.originalSource, payload.sourceRoot).href,
          file.href,
        );
        assert.equal(entry.originalLine, 3);
        await cdp.send('Debugger.resume');
        assert.equal((await call).result, 'Hello, Ada');
      } finally {
        cdp.close();
        await cdp.closed;
      }
    });
  },
);

describe(
  'debugger endpoint: who may connect',
  { skip: unsupported !== undefined, timeout: HANG_LIMIT_MS },
  () => {
    let runner: FunctionRunner;
    let server: InspectorServer;
    before(async () => {
      const root = tempApp({ 'functions/f.js': 'exports = () => 1;' });
      ({ runner, server } = await inspected(root));
    });
    after(async () => {
      await server?.close();
      runner?.dispose();
    });

    it('inspector endpoint: a web page (foreign Origin) and a rebound DNS name (foreign Host) are refused', async () => {
      const list = `http://127.0.0.1:${server.port}/json/list`;
      const foreign = await fetch(list, { headers: { origin: 'https://evil.example' } });
      assert.equal(foreign.status, 403);
      assert.match(
        ((await foreign.json()) as { error: string }).error,
        /Origin 'https:\/\/evil\.example'.*debugger endpoint/,
      );
      const rebound = await new Promise<number | undefined>((resolve, reject) =>
        get(list, { headers: { host: `evil.example:${server.port}` } }, (response) => {
          response.resume();
          resolve(response.statusCode);
        }).on('error', reject),
      );
      assert.equal(rebound, 403);
      const upgrade = await rawUpgrade(
        server.port,
        new URL(server.webSocketUrl).pathname,
        'https://evil.example',
      );
      assert.match(upgrade, /^HTTP\/1\.1 403/);
      assert.match(upgrade, /Origin 'https:\/\/evil\.example'/);
      // DevTools' own page is no web page.
      const devtools = await fetch(list, { headers: { origin: 'devtools://devtools' } });
      assert.equal(devtools.status, 200);
    });

    it('inspector endpoint: a taken port and a non-loopback host are refused with what to do', async () => {
      assert.ok(runner.inspector);
      await assert.rejects(
        startInspectorServer({
          relay: runner.inspector,
          address: { host: '127.0.0.1', port: server.port },
        }),
        (error: unknown) =>
          error instanceof TriggerboxError &&
          error.code === 'InspectorPortInUse' &&
          error.message.includes(`127.0.0.1:${server.port}`) &&
          /--inspect=/.test(error.hint ?? ''),
      );
      assert.throws(
        () => parseInspectAddress('0.0.0.0:9229'),
        (error: unknown) =>
          error instanceof TriggerboxError && error.code === 'InspectorHostNotLoopback',
      );
      assert.throws(
        () => parseInspectAddress('127.0.0.1:99999'),
        (error: unknown) => error instanceof TriggerboxError && error.code === 'InvalidInput',
      );
      assert.deepEqual(parseInspectAddress(''), { host: '127.0.0.1', port: 9229 });
      assert.deepEqual(parseInspectAddress('9230'), { host: '127.0.0.1', port: 9230 });
      assert.deepEqual(parseInspectAddress('[::1]:9231'), { host: '::1', port: 9231 });
    });

    it('inspector endpoint: one debugger at a time', async () => {
      const first = await CdpClient.connect(server.webSocketUrl);
      const second = await CdpClient.connect(server.webSocketUrl);
      const closed = await second.closed;
      assert.equal(closed.code, 1013);
      assert.match(closed.reason, /another debugger is already attached/);
      first.close();
      await first.closed;
    });
  },
);

/** A WebSocket upgrade request with this Origin; the raw response head. */
function rawUpgrade(port: number, pathname: string, origin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `GET ${pathname} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${origin}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');

describe('debugger from the CLI (the built binary)', { timeout: HANG_LIMIT_MS }, () => {
  it(
    unsupported === undefined
      ? 'function run --inspect-brk: waits for the debugger, pauses on the first line, then on a breakpoint set by path; evaluates; prints the result'
      : 'function run --inspect-brk: refused up front under this Node, with the reason and the fix, no crash',
    async () => {
      const root = tempApp({ 'functions/orderTotal.js': ORDER_TOTAL });
      const child = spawn(
        process.execPath,
        [
          BIN,
          'function',
          'run',
          '--name',
          'orderTotal',
          '--args',
          '{"items": [{"price": 10}, {"price": 15}]}',
          '--inspect-brk=127.0.0.1:0',
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      const listening = new Promise<string>((resolve) => {
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          const url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
          if (url !== undefined) resolve(url);
        });
      });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('exit', (code, signal) => resolve([code, signal])),
      );
      if (unsupported !== undefined) {
        const [code, signal] = await exited;
        assert.equal(signal, null);
        assert.equal(code, 1);
        assert.match(stderr, /isolated-vm 7\.0\.1's inspector aborts/);
        assert.match(stderr, /Node 24/);
        return;
      }
      const cdp = await CdpClient.connect(await listening);
      await cdp.send('Runtime.enable');
      await cdp.send('Debugger.enable');
      // A plain absolute path, as an editor names the file.
      await cdp.send('Debugger.setBreakpointByUrl', {
        url: path.join(root, 'functions/orderTotal.js'),
        lineNumber: 3,
      });
      await cdp.send('Runtime.runIfWaitingForDebugger');
      const first = await cdp.next('Debugger.paused');
      const atStart = (first.params['callFrames'] as { location: { lineNumber: number } }[])[0];
      assert.equal(atStart?.location.lineNumber, 0);
      await cdp.send('Debugger.resume');
      const second = await cdp.next('Debugger.paused');
      const top = (
        second.params['callFrames'] as { callFrameId: string; location: { lineNumber: number } }[]
      )[0];
      assert.equal(top?.location.lineNumber, 3);
      const evaluated = (await cdp.send('Debugger.evaluateOnCallFrame', {
        callFrameId: top?.callFrameId,
        expression: 'subtotal',
      })) as { result: { value: unknown } };
      assert.equal(evaluated.result.value, 25);
      await cdp.send('Debugger.resume');
      const [code] = await exited;
      assert.equal(code, 0, stderr);
      assert.match(stdout, /"total": \{\s*"\$numberInt": "30"/);
      assert.match(
        stderr,
        /paused at functions\/orderTotal\.js:4 \(other\); the call's time limit is suspended/,
      );
      cdp.close();
    },
  );
});

describe(
  'debugger under a Node it cannot run on',
  { skip: unsupported === undefined, timeout: HANG_LIMIT_MS },
  () => {
    it('inspector: inspect mode is refused up front with what, why and how to fix', () => {
      const root = tempApp({ 'functions/f.js': 'exports = () => 1;' });
      assert.throws(
        () => createRunner({ app: loadApp({ root }).app, inspect: true }),
        (error: unknown) =>
          error instanceof TriggerboxError &&
          error.code === 'InspectorUnsupported' &&
          /isolated-vm 7\.0\.1's inspector aborts/.test(error.message) &&
          /Node 24/.test(error.hint ?? ''),
      );
    });
  },
);
