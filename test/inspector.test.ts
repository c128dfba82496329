import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startInspectorServer, type InspectorServer } from '../src/dev/inspector-server.js';
import { inspectorRefusal } from '../src/runtime/inspector/cdp.js';
import { createRunner, loadApp, TriggerboxError, type FunctionRunner } from '../src/index.js';
import { CdpClient } from './cdp-client.js';
import { tempApp } from './helpers.js';

const unsupported = inspectorRefusal();

const ORDER_TOTAL = [
  'exports = function (order) {',
  '  const subtotal = order.items.reduce((sum, item) => sum + item.price, 0);',
  "  console.log('subtotal', subtotal);",
  '  const total = subtotal * 1.2;',
  '  return { total };',
  '};',
].join('\n');

describe('debugger (inspect mode)', { skip: unsupported !== undefined }, () => {
  let root: string;
  let runner: FunctionRunner;
  let server: InspectorServer;
  before(async () => {
    root = tempApp({ 'functions/orderTotal.js': ORDER_TOTAL });
    runner = createRunner({ app: loadApp({ root }).app, inspect: true });
    assert.ok(runner.inspector);
    server = await startInspectorServer({
      relay: runner.inspector,
      address: { host: '127.0.0.1', port: 0 },
    });
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
});

describe('debugger under a Node it cannot run on', { skip: unsupported === undefined }, () => {
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
});
