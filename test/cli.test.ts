import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseCliArg } from '../src/cli/commands/function.js';
import { runCli, tempApp } from './helpers.js';

const APP = {
  'root_config.json': { name: 'cli-app', environment: 'development' },
  '.mdb/meta.json': { app_id: '65aa11bb22cc33dd44ee55ff', client_app_id: 'cli-app-abcde' },
  'functions/config.json': [
    { name: 'hidden', private: true },
    { name: 'sys', run_as_system: true },
  ],
  'functions/sum.js':
    'exports = function (...args) { console.log("adding", args.length, "numbers"); return args.reduce((a, b) => a + b, 0); };',
  'functions/echo.js': 'exports = function (...args) { return args; };',
  'functions/hidden.js': 'exports = () => "hidden";',
  'functions/sys.js': 'exports = () => context.runningAsSystem();',
  'functions/who.js': 'exports = () => context.user.id ?? "system";',
  'functions/env.js': 'exports = () => context.environment.tag;',
  'functions/fails.js':
    'exports = function () {\n  console.log("about to fail");\n  throw new Error("it broke");\n};',
  'functions/slow.js': 'exports = () => new Promise(() => {});',
  'environments/development.json': { values: {} },
  'environments/production.json': { values: {} },
};

describe('cli: function run', () => {
  it('function run: prints Logs, then Result as indented canonical EJSON with keys sorted', async () => {
    const root = tempApp(APP);
    const run = await runCli(
      ['function', 'run', '--name', 'sum', '--args', '2', '--args', '3.5'],
      root,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Logs\n  adding 2 numbers\nResult\n{\n  "$numberDouble": "5.5"\n}\n');
    const echo = await runCli(
      [
        'function',
        'run',
        '--name',
        'echo',
        '--args',
        '{"b": 1, "a": {"$oid": "65aa11bb22cc33dd44ee55ff"}}',
      ],
      root,
    );
    assert.equal(
      echo.stdout,
      'Result\n[\n  {\n    "a": {\n      "$oid": "65aa11bb22cc33dd44ee55ff"\n    },\n    "b": {\n      "$numberInt": "1"\n    }\n  }\n]\n',
    );
  });

  it('function run: parses each --args as JSON object/array, else integer, else float, else string', () => {
    assert.deepEqual(parseCliArg('{"a":[1,2]}'), { a: [1, 2] });
    assert.deepEqual(parseCliArg('[1,"x"]'), [1, 'x']);
    assert.equal(parseCliArg('42'), 42);
    assert.equal(parseCliArg('-7'), -7);
    assert.equal(parseCliArg('2.5'), 2.5);
    assert.equal(parseCliArg('1e3'), 1000);
    assert.equal(parseCliArg('true'), 'true');
    assert.equal(parseCliArg('"quoted"'), '"quoted"');
    assert.equal(parseCliArg('{not json'), '{not json');
    assert.equal(parseCliArg('hello world'), 'hello world');
  });

  it('function run: runs from any folder inside the app, or with --local from outside', async () => {
    const root = tempApp(APP);
    assert.equal(
      (await runCli(['function', 'run', '--name', 'hidden'], path.join(root, 'functions'))).code,
      0,
    );
    const outside = await runCli(
      ['function', 'run', '--name', 'env', '--local', root, '-f', 'json'],
      path.dirname(root),
    );
    assert.equal(JSON.parse(outside.stdout).result, 'development');
  });

  it('function run: --env switches the environment; an unknown one says which exist', async () => {
    const root = tempApp(APP);
    const run = await runCli(
      ['function', 'run', '--name', 'env', '--env', 'production', '-f', 'json'],
      root,
    );
    assert.equal(JSON.parse(run.stdout).result, 'production');
    const bad = await runCli(['function', 'run', '--name', 'env', '--env', 'staging'], root);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^run setup failed: environment 'staging' not found/);
    assert.match(bad.stderr, /use one of: development, production/);
  });

  it('function run: --user runs as that user; without it, the system user', async () => {
    const root = tempApp(APP);
    assert.equal(
      JSON.parse(
        (await runCli(['function', 'run', '--name', 'who', '--user', 'u1', '-f', 'json'], root))
          .stdout,
      ).result,
      'u1',
    );
    assert.equal(
      JSON.parse((await runCli(['function', 'run', '--name', 'who', '-f', 'json'], root)).stdout)
        .result,
      'system',
    );
  });

  it('function run -f json: exactly one JSON object on success', async () => {
    const root = tempApp(APP);
    const run = await runCli(
      ['function', 'run', '--name', 'sum', '--args', '1', '--args', '2', '-f', 'json'],
      root,
    );
    assert.equal(run.code, 0);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.deepEqual(out['result'], { $numberInt: '3' });
    assert.deepEqual(out['logs'], ['adding 2 numbers']);
    assert.deepEqual(out['error_logs'], []);
    assert.equal(typeof (out['stats'] as Record<string, unknown>)['execution_time_ms'], 'number');
  });

  it('function run -f json: exactly one JSON object with error and error_code on every failure', async () => {
    const root = tempApp(APP);
    const cases: [string[], string, RegExp][] = [
      [['--name', 'fails'], 'FunctionExecutionError', /^it broke$/],
      [['--name', 'nope'], 'FunctionNotFound', /failed to find function 'nope'/],
      [['--name', 'slow', '--timeout', '200'], 'ExecutionTimeLimitExceeded', /more than 200 ms/],
      [['--name', 'sum', '--app', 'other'], 'AppMismatch', /^failed to find app 'other'$/],
    ];
    for (const [args, code, pattern] of cases) {
      const run = await runCli(['function', 'run', ...args, '-f', 'json'], root);
      assert.equal(run.code, 1, args.join(' '));
      const lines = run.stdout.trim().split('\n');
      assert.equal(lines.length, 1, run.stdout);
      const out = JSON.parse(lines[0] ?? '') as {
        error: string;
        error_code: string;
        logs: string[];
      };
      assert.equal(out.error_code, code);
      assert.match(out.error, pattern);
      assert.ok(Array.isArray(out.logs));
    }
    const failed = JSON.parse(
      (await runCli(['function', 'run', '--name', 'fails', '-f', 'json'], root)).stdout,
    ) as { logs: string[] };
    assert.deepEqual(failed.logs, ['about to fail']);
  });

  it("function run: a failure in text mode shows the logs, the error with its code, and the user's file and line", async () => {
    const root = tempApp(APP);
    const run = await runCli(['function', 'run', '--name', 'fails'], root);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, 'Logs\n  about to fail\n');
    assert.match(
      run.stderr,
      /^run failed: it broke \(FunctionExecutionError\)\n\s+at exports \(functions\/fails\.js:3:9\)/,
    );
    assert.doesNotMatch(run.stderr, /triggerbox:prelude|isolated-vm/);
  });

  it("function run: --app accepts the local app's name or id", async () => {
    const root = tempApp(APP);
    for (const app of ['cli-app', '65aa11bb22cc33dd44ee55ff', 'cli-app-abcde']) {
      assert.equal(
        (await runCli(['function', 'run', '--name', 'hidden', '--app', app], root)).code,
        0,
        app,
      );
    }
  });

  it('function run: a missing --name is a usage error', async () => {
    const root = tempApp(APP);
    const run = await runCli(['function', 'run'], root);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^run setup failed: missing --name\nhint: pass --name <name> \(choices: echo, env/,
    );
  });

  it('function run: outside any app, says how to point at one', async () => {
    const dir = tempApp({}, false);
    const run = await runCli(['function', 'run', '--name', 'x'], dir);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no App Services app found/);
    assert.match(run.stderr, /--local <dir>/);
  });
});

describe('cli: function list and validate', () => {
  it('function list: a table of the functions with their private and system flags', async () => {
    const root = tempApp(APP);
    const run = await runCli(['function', 'list'], root);
    assert.equal(run.code, 0);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'Found 8 functions');
    // appservices pads every cell, the last column's too (trailing spaces kept).
    assert.match(lines[1] ?? '', /^ {2}Name {2,}Private {2}System {2}File +$/);
    assert.match(lines[2] ?? '', /^ {2}-+ {2}-{7} {2}-{6} {2}-+$/);
    assert.equal(new Set(lines.slice(1, -1).map((l) => l.length)).size, 1);
    assert.ok(
      lines.some((line) => /^ {2}hidden +true +false +functions\/hidden\.js *$/.test(line)),
    );
    assert.ok(lines.some((line) => /^ {2}sys +false +true +functions\/sys\.js *$/.test(line)));
    const json = await runCli(['function', 'list', '-f', 'json'], root);
    const line = JSON.parse(json.stdout) as {
      message: string;
      headers: string[];
      data: Record<string, string>[];
    };
    assert.equal(line.message, 'Found 8 functions');
    assert.deepEqual(line.headers, ['Name', 'Private', 'System', 'File']);
    assert.deepEqual(
      line.data.find((row) => row['Name'] === 'hidden'),
      { Name: 'hidden', Private: 'true', System: 'false', File: 'functions/hidden.js' },
    );
  });

  it('validate: a valid app exits 0 and says so', async () => {
    const root = tempApp(APP);
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /app 'cli-app' is valid: 8 functions, 0 values, 0 triggers/);
  });

  it('validate: prints every problem with file and position, and exits 1', async () => {
    const root = tempApp({
      'functions/bad.js': 'exports = function () {\n  return (;\n};',
      'functions/needsPkg.js': 'exports = function () { return require("left-pad"); };',
      'values/broken.json': '{ "name": "broken", }',
      'triggers/t.json': {
        name: 't',
        type: 'SCHEDULED',
        config: { schedule: '* * * * *' },
        function_name: 'gone',
      },
    });
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /error: functions\/bad\.js:2:11: syntax error: Unexpected token ';'/);
    assert.match(run.stdout, /error: functions\/needsPkg\.js:1:40: cannot find package 'left-pad'/);
    assert.match(run.stdout, /error: values\/broken\.json:1:21: malformed JSON/);
    assert.match(run.stdout, /error: triggers\/t\.json .*function 'gone', which does not exist/);
    assert.match(run.stdout, /4 error\(s\), 0 warning\(s\)/);
    const json = await runCli(['validate', '-f', 'json'], root);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { diagnostics: unknown[] }).diagnostics.length, 4);
  });

  it('help: --help lists the commands and exits 0', async () => {
    const run = await runCli(['--help'], tempApp(APP));
    assert.equal(run.code, 0);
    assert.match(run.stdout, /function/);
    assert.match(run.stdout, /validate/);
  });

  it('usage: an unknown command is an error with exit code 1', async () => {
    const run = await runCli(['frobnicate'], tempApp(APP));
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^error: unknown command 'frobnicate'\nhint: see the commands above\n$/m,
    );
    assert.equal(run.stderr.match(/frobnicate/g)?.length, 1, 'the message is printed once');
  });
});
