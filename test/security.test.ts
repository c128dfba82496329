import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  type FunctionRunner,
} from '../src/index.js';
import { tempApp } from './helpers.js';

/** Each attempt returns what it reached; none may reach the host's process, require or fs. */
const ATTEMPTS: Record<string, string> = {
  functionConstructor:
    'exports = function () { return this.constructor.constructor("return typeof process.binding")(); };',
  viaContext:
    'exports = function () { return context.values.get.constructor("return typeof process.binding + typeof require.main")(); };',
  viaConsole:
    'exports = function () { return console.log.constructor.constructor("return typeof process.binding")(); };',
  viaExecute:
    'exports = function () { return context.functions.execute.constructor("return typeof globalThis.process.binding")(); };',
  viaBuffer:
    'exports = function () { return Buffer.constructor("return typeof process.binding")(); };',
  // Structured stack frames taken inside code that the host (or the prelude on its behalf) calls
  // into: a timer callback fired by the host, a toString the prelude calls from values.get, and a
  // setter run by the BSON bundle that the host evaluates from inside a host callback. Each frame
  // is reported as "file this-type function-type".
  viaError: `exports = async function () {
  const frames = [];
  const capture = () => {
    const previous = Error.prepareStackTrace;
    Error.prepareStackTrace = (e, s) => s;
    const stack = new Error().stack;
    Error.prepareStackTrace = previous;
    for (const f of stack) frames.push(String(f.getScriptNameOrSourceURL()) + " " + typeof f.getThis() + " " + typeof f.getFunction());
  };
  await new Promise((resolve) => setTimeout(() => { capture(); resolve(); }, 0));
  context.values.get({ toString() { capture(); return "x"; } });
  Object.defineProperty(globalThis, "__tb_libs", { configurable: true, set(v) { capture(); Object.defineProperty(globalThis, "__tb_libs", { value: v, configurable: true, writable: true }); } });
  BSON.ObjectId;
  Object.defineProperty(globalThis, "__tb_buffer", { configurable: true, set(v) { capture(); Object.defineProperty(globalThis, "__tb_buffer", { value: v, configurable: true, writable: true }); } });
  Buffer.from("x");
  return frames;
};`,
  globals:
    'exports = function () { return Object.getOwnPropertyNames(globalThis).filter((k) => /^__|^ivm|^_ivm/.test(k)); };',
  references:
    'exports = function () { const seen = new Set(); const found = []; const walk = (o, path, depth) => { if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o) || depth > 4) return; seen.add(o); for (const k of Object.getOwnPropertyNames(o)) { let v; try { v = o[k]; } catch { continue; } if (v && (typeof v.applySync === "function" || typeof v.derefInto === "function" || typeof v.copyInto === "function")) found.push(path + "." + k); walk(v, path + "." + k, depth + 1); } }; walk(globalThis, "globalThis", 0); return found; };',
  dynamicImport:
    'exports = async function () { try { await import("fs"); return "imported"; } catch (e) { return "refused"; } };',
  requireFs: 'exports = function () { return require("fs").readFileSync("/etc/passwd", "utf8"); };',
  requireChildProcess: 'exports = function () { return require("child_process"); };',
  processEnv:
    'exports = function () { return [Object.keys(process).sort().join(), Object.keys(process.env).length, global === globalThis]; };',
};

describe('sandbox isolation', () => {
  let runner: FunctionRunner;
  before(() => {
    runner = createRunner({
      app: loadApp({
        root: tempApp(
          Object.fromEntries(Object.entries(ATTEMPTS).map(([k, v]) => [`functions/${k}.js`, v])),
        ),
      }).app,
    });
  });
  after(() => runner.dispose());

  it('escape: Function constructors reached from any object handed in run inside the isolate', async () => {
    assert.equal((await runner.execute('functionConstructor')).result, 'undefined');
    assert.equal((await runner.execute('viaConsole')).result, 'undefined');
    assert.equal((await runner.execute('viaExecute')).result, 'undefined');
    assert.equal((await runner.execute('viaBuffer')).result, 'undefined');
  });

  it("escape: context.values.get's constructor yields the sandbox require, never the host's", async () => {
    // `typeof require.main` is "undefined" for the sandbox's require (Node's has require.main).
    assert.equal((await runner.execute('viaContext')).result, 'undefinedundefined');
  });

  it('escape: stack frames of host callbacks expose nothing', async () => {
    const frames = (await runner.execute('viaError')).result as string[];
    // First that frames were captured at all, in each of the three places, below the user's code.
    const others = frames.filter((f) => !f.startsWith('functions/viaError.js '));
    assert.ok(frames.length >= 6 && others.length >= 3, JSON.stringify(frames));
    assert.ok(
      others.some((f) => f.startsWith('triggerbox:prelude ')),
      JSON.stringify(frames),
    );
    assert.ok(
      others.some((f) => f.startsWith('triggerbox:bson ')),
      JSON.stringify(frames),
    );
    // Then that no frame outside the user's file hands out its receiver or its function.
    for (const frame of others)
      assert.match(frame, / undefined undefined$/, JSON.stringify(frames));
    assert.ok(!frames.join().includes('process'));
  });

  it('escape: no host references or internal globals are reachable from function code', async () => {
    assert.deepEqual((await runner.execute('globals')).result, []);
    assert.deepEqual((await runner.execute('references')).result, []);
  });

  it("escape: no dynamic import, no host file, no child_process, only the platform's process", async () => {
    assert.equal((await runner.execute('dynamicImport')).result, 'refused');
    await assert.rejects(
      runner.execute('requireFs'),
      (e: unknown) => e instanceof FunctionExecutionFailure && /ENOENT/.test(e.message),
    );
    await assert.rejects(
      runner.execute('requireChildProcess'),
      (e: unknown) =>
        e instanceof FunctionExecutionFailure &&
        /'child_process' is not supported by App Services/.test(e.message),
    );
    // The platform's process members and an empty env; `global` is the sandbox's global object.
    assert.deepEqual((await runner.execute('processEnv')).result, [
      'env,hrtime,nextTick,version,versions',
      0,
      true,
    ]);
  });
});
