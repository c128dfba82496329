/** The appservices CLI's habits (realm-cli `internal/commands/...`, SPEC section 5). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Long, ObjectId } from 'bson';
import { parseCliArg } from '../src/cli/commands/function.js';
import { openSecretStore } from '../src/secrets/store.js';
import { repoRoot, runCli, tempApp } from './helpers.js';

const APP = {
  'functions/echo.js': 'exports = function (...args) { return args; };',
  'functions/types.js':
    'exports = function (...args) { return args.map((a) => a === null ? "null" : typeof a === "object" && a._bsontype ? a._bsontype : typeof a); };',
  'functions/html.js': 'exports = () => ({ b: "<a href=\\"x\\">&</a>", a: 1 });',
};

describe('cli: appservices habits', () => {
  it('args: parsed exactly as realm-cli parses them (no trimming, Atoi, ParseFloat, Go JSON)', () => {
    assert.ok(Object.is(parseCliArg('-0'), 0), '-0 is the integer 0');
    assert.equal(parseCliArg('+5'), 5);
    assert.equal(parseCliArg(' 5'), ' 5', 'Atoi and ParseFloat take no spaces');
    assert.equal(parseCliArg('5 '), '5 ');
    assert.equal(parseCliArg('-x'), '-x');
    assert.equal(parseCliArg('.5'), 0.5);
    assert.equal(parseCliArg('5.'), 5);
    assert.equal(parseCliArg('0x1p-2'), 0.25, 'Go reads hex floats with a p exponent');
    assert.equal(parseCliArg('0x10'), '0x10', 'but not hex without one');
    assert.equal(parseCliArg('1e400'), '1e400', 'out of range is not a float in Go');
    assert.equal(parseCliArg('1_000'), '1_000');
    assert.equal(parseCliArg('3000000000'), 3000000000);
    assert.equal(typeof parseCliArg('3000000000'), 'number');
    assert.equal(parseCliArg('null'), null, 'Go unmarshals null into a map without error');
    assert.equal(parseCliArg('true'), 'true');
    assert.deepEqual(parseCliArg(' {"a": 1} '), { a: 1 }, 'JSON whitespace is allowed around JSON');
    const nested = parseCliArg(
      '{"n": 3000000000, "l": {"$numberLong": "7"}, "id": {"$oid": "65aa11bb22cc33dd44ee55ff"}}',
    ) as Record<string, unknown>;
    assert.equal(nested['n'], 3000000000);
    assert.ok(nested['l'] instanceof Long, 'an explicit $numberLong stays a Long');
    assert.ok(nested['id'] instanceof ObjectId);
    for (const bad of ['NaN', 'nan', 'Inf', '+Inf', '-Infinity', 'infinity']) {
      assert.throws(
        () => parseCliArg(bad),
        /^TriggerboxError: json: unsupported value: (NaN|\+Inf|-Inf)$/,
        bad,
      );
    }
    assert.equal(parseCliArg('infin'), 'infin');
    assert.equal(parseCliArg('+nan'), '+nan');
  });

  it('function run: NaN fails the run as appservices does, with how to pass the string', async () => {
    const run = await runCli(['function', 'run', '--name', 'echo', '--args', 'NaN'], tempApp(APP));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^run failed: json: unsupported value: NaN\nhint: .*'"NaN"'/);
  });

  it('function run: numbers reach the function as JS numbers, never BSON.Long', async () => {
    const run = await runCli(
      [
        'function',
        'run',
        '--name',
        'types',
        '--args',
        '3000000000',
        '--args',
        '{"n": 3000000000}',
        '--args',
        'null',
        '-f',
        'json',
      ],
      tempApp(APP),
    );
    assert.deepEqual(JSON.parse(run.stdout).result, ['number', 'object', 'null']);
  });

  it('function run: Result as Go prints JSON (<, >, & escaped; keys sorted)', async () => {
    const root = tempApp(APP);
    const html = await runCli(['function', 'run', '--name', 'html'], root);
    assert.equal(
      html.stdout,
      'Result\n{\n  "a": {\n    "$numberInt": "1"\n  },\n  "b": "\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"\n}\n',
    );
  });

  it('function run: without --name, a terminal asks "Select Function"; one function is taken as is', async () => {
    const root = tempApp(APP);
    const asked = await runCli(['function', 'run', '--args', '7'], root, { answers: ['1'] });
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stderr, /\? Select Function\n {2}1\) echo\n {2}2\) html/);
    assert.match(asked.stdout, /"\$numberInt": "7"/);
    const byName = await runCli(['function', 'run'], root, { answers: ['html'] });
    assert.match(byName.stdout, /\\u003ca/);
    const single = tempApp({ 'functions/only.js': 'exports = () => "only";' });
    const one = await runCli(['function', 'run'], single, { answers: [] });
    assert.match(one.stdout, /^Result\n"only"\n$/);
  });

  it('aliases: functions and secret name the same commands', async () => {
    const root = tempApp(APP);
    const run = await runCli(['functions', 'run', '--name', 'echo', '--args', 'x'], root);
    assert.equal(run.code, 0, run.stderr);
    const list = await runCli(['secret', 'list'], root);
    assert.equal(list.stdout, 'No available secrets to show\n');
  });

  it('global flags: the appservices ones are accepted by every command', async () => {
    const root = tempApp(APP);
    const flags = [
      '--profile',
      'work',
      '--telemetry',
      'off',
      '--project',
      'p1',
      '-y',
      '--disable-colors',
    ];
    for (const argv of [
      ['function', 'list'],
      ['secrets', 'list'],
      ['values', 'list'],
      ['trigger', 'list'],
      ['validate'],
    ]) {
      const run = await runCli([...argv, ...flags], root);
      assert.equal(run.code, 0, `${argv.join(' ')}: ${run.stderr}`);
    }
  });

  it('-o/--output-target: output is appended to the file', async () => {
    const root = tempApp(APP);
    const target = path.join(root, 'out.txt');
    const first = await runCli(['function', 'list', '-o', target], root);
    assert.equal(first.stdout, '');
    await runCli(['function', 'run', '--name', 'echo', '--output-target', 'out.txt'], root);
    const text = readFileSync(target, 'utf8');
    assert.match(text, /^Found 3 functions\n[\s\S]*Result\n\[\]\n$/);
  });

  it('errors: `<command> failed: <message>`, setup errors `<command> setup failed: ...`', async () => {
    const root = tempApp(APP);
    const failed = await runCli(['function', 'run', '--name', 'echo', '--app', 'other'], root);
    assert.match(failed.stderr, /^run setup failed: failed to find app 'other'\n/);
    const json = await runCli(['function', 'list', '--app', 'other', '-f', 'json'], root);
    const line = JSON.parse(json.stderr) as Record<string, unknown>;
    assert.deepEqual(Object.keys(line).slice(0, 3), ['time', 'level', 'err']);
    assert.equal(line['err'], "function list setup failed: failed to find app 'other'");
  });

  it('table JSON lines keep appservices key order: time, level, message, data, headers', async () => {
    const run = await runCli(['function', 'list', '-f', 'json'], tempApp(APP));
    assert.deepEqual(Object.keys(JSON.parse(run.stdout) as object), [
      'time',
      'level',
      'message',
      'data',
      'headers',
    ]);
  });

  it('usage: help once, then the error with a "did you mean" for a command or a flag', async () => {
    const root = tempApp(APP);
    const command = await runCli(['functoin', 'run'], root);
    assert.equal(command.code, 1);
    assert.match(
      command.stderr,
      /Commands:[\s\S]*\n\nerror: unknown command 'functoin'\nhint: did you mean 'function'\?\n$/,
    );
    assert.equal(command.stderr.match(/functoin/g)?.length, 1);
    const flag = await runCli(['function', 'run', '--nmae', 'echo'], root);
    assert.match(
      flag.stderr,
      /\n\nrun failed: unknown flag --nmae\nhint: did you mean '--name'\?\n$/,
    );
    assert.equal(flag.stderr.match(/nmae/g)?.length, 1);
  });

  it('usage: the "did you mean" is there under another language too (LANG=de_DE, fr_FR)', async () => {
    const root = tempApp(APP);
    // yargs picks its language from these when it parses.
    const names = ['LC_ALL', 'LC_MESSAGES', 'LANG', 'LANGUAGE'] as const;
    const saved = names.map((name) => process.env[name]);
    try {
      for (const [lang, commands] of [
        ['de_DE.UTF-8', 'Kommandos:'],
        ['fr_FR.UTF-8', 'Commandes :'],
      ] as const) {
        for (const name of names) delete process.env[name];
        process.env['LANG'] = lang;
        const command = await runCli(['bogus'], root);
        assert.equal(command.code, 1);
        assert.ok(command.stderr.includes(commands), `yargs' help stays translated (${lang})`);
        assert.match(
          command.stderr,
          /\n\nerror: unknown command 'bogus'\nhint: (did you mean '[a-z]+'\?|see the commands above)\n$/,
        );
        const typo = await runCli(['functoin', 'run'], root);
        assert.match(
          typo.stderr,
          /\n\nerror: unknown command 'functoin'\nhint: did you mean 'function'\?\n$/,
        );
        const flag = await runCli(['function', 'run', '--nmae', 'greet'], root);
        assert.equal(flag.code, 1);
        assert.match(
          flag.stderr,
          /\n\nrun failed: unknown flag --nmae\nhint: did you mean '--name'\?\n$/,
        );
      }
    } finally {
      names.forEach((name, i) => {
        const value = saved[i];
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      });
    }
    // And English again afterwards.
    const flag = await runCli(['function', 'run', '--nmae', 'echo'], root);
    assert.match(flag.stderr, /Options:[\s\S]*\n\nrun failed: unknown flag --nmae\n/);
  });

  it('usage: with -f json, a function run usage error is still exactly one JSON object on stdout', async () => {
    const run = await runCli(['function', 'run', '--nmae', 'x', '-f', 'json'], tempApp(APP));
    assert.equal(run.code, 1);
    assert.equal(run.stderr, '');
    assert.deepEqual(JSON.parse(run.stdout), {
      error: 'unknown flag --nmae',
      error_code: 'InvalidInput',
      logs: [],
    });
  });

  it('version: -v and --version print the package version; -h is help', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['-v', '--version']) {
      const run = await runCli([flag], repoRoot);
      assert.deepEqual([run.code, run.stdout], [0, `${version}\n`]);
    }
    const help = await runCli(['-h'], repoRoot);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Commands:/);
    assert.match(
      help.stdout,
      /--profile, --telemetry and --project are accepted by every command and\s+mean nothing locally/,
    );
  });
});

describe('cli: secrets as appservices asks for them', () => {
  it('secrets create: the new master key is announced once, with where it is and to back it up', async () => {
    const root = tempApp({});
    const first = await runCli(['secrets', 'create', '-n', 'a', '-v', 'value-a'], root);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /^warning: created the master key \.triggerbox\/master\.key \(git-ignored\): .*Back it up, and share it with your team/,
    );
    assert.equal(first.stderr.split('\n').filter(Boolean).length, 1);
    const second = await runCli(['secrets', 'create', '-n', 'b', '-v', 'value-b'], root);
    assert.equal(second.stderr, '', 'announced only when the key is created');
  });

  it('secrets update/delete: without --secret a terminal asks "Which secret ..."; without one, the flag to pass', async () => {
    const root = tempApp({});
    for (const name of ['a', 'b', 'c'])
      await runCli(['secrets', 'create', '-n', name, '-v', `value-${name}`], root);
    const update = await runCli(['secrets', 'update', '-v', 'new-b'], root, { answers: ['2'] });
    assert.equal(update.code, 0, update.stderr);
    assert.match(
      update.stderr,
      /\? Which secret would you like to update\?\n {2}1\) [0-9a-f]{24} - a\n/,
    );
    const store = openSecretStore({ root, env: {} });
    assert.equal(await store.resolve('b'), 'new-b');
    const del = await runCli(['secrets', 'delete'], root, { answers: ['1, c'] });
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stderr, /\? Which secret\(s\) would you like to delete\?/);
    assert.match(del.stdout, /^Deleted 2 secret\(s\)\n/);
    assert.deepEqual(
      (await store.list()).map((s) => s.name),
      ['b'],
    );
    const piped = await runCli(['secrets', 'delete'], root, { stdin: '' });
    assert.equal(piped.code, 1);
    assert.match(
      piped.stderr,
      /^secrets delete setup failed: missing --secret\nhint: pass --secret <name or id>.*\(secrets: b\)/,
    );
    const noTerminal = await runCli(['secrets', 'update', '-v', 'x'], root, { stdin: '' });
    assert.match(noTerminal.stderr, /^secret update setup failed: missing --secret\n/);
  });

  it('secrets update: the prompt takes a number, a name, an id or the whole choice', async () => {
    const root = tempApp({});
    for (const name of ['alpha', 'beta', 'gamma'])
      await runCli(['secrets', 'create', '-n', name, '-v', `value-${name}`], root);
    const store = openSecretStore({ root, env: {} });
    const ids = Object.fromEntries((await store.list()).map((s) => [s.name, s.id]));
    const answers: [string, string][] = [
      ['beta', 'beta'],
      [` ${ids['gamma']} `, 'gamma'],
      [`${ids['alpha']} - alpha`, 'alpha'],
      ['2', 'beta'],
    ];
    for (const [answer, name] of answers) {
      const run = await runCli(['secrets', 'update', '--value', `new-${answer}`], root, {
        answers: [answer],
      });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /not one of the choices/);
      assert.equal(await store.resolve(name), `new-${answer}`);
    }
    const wrong = await runCli(['secrets', 'update', '--value', 'x'], root, {
      answers: ['delta', 'alph', '9'],
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /'delta' is not one of the choices\n/);
    assert.match(wrong.stderr, /setup failed: no secret chosen\nhint: pass --secret <secret>\n$/);
  });

  it('without a terminal, the hint lists the first 20 choices and where to see them all', async () => {
    const root = tempApp({});
    const names = Array.from({ length: 25 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    await openSecretStore({ root, env: {} }).importEntries(
      Object.fromEntries(names.map((n) => [n, 'v'])),
    );
    const update = await runCli(['secrets', 'update', '-v', 'x'], root, { stdin: '' });
    assert.equal(update.code, 1);
    assert.match(update.stderr, /- s19, … and 5 more; `triggerbox secrets list` shows them all\)/);
    assert.doesNotMatch(update.stderr, /s20/);
    const del = await runCli(['secrets', 'delete'], root, { stdin: '' });
    assert.equal(del.code, 1);
    assert.match(del.stderr, /s19, … and 5 more; `triggerbox secrets list` shows them all\)/);
    assert.doesNotMatch(del.stderr, /s20/);
  });

  it('end of input (Ctrl-D) at a prompt fails as giving up does: what is missing, and the flag', async () => {
    const root = tempApp(APP);
    const fn = await runCli(['function', 'run', '--args', 'Ada'], root, { answers: [] });
    assert.equal(fn.code, 1);
    assert.match(fn.stderr, /setup failed: no name chosen\nhint: pass --name <name>\n$/);
    await runCli(['secrets', 'create', '-n', 'a', '-v', 'value-a'], root);
    await runCli(['secrets', 'create', '-n', 'b', '-v', 'value-b'], root);
    const update = await runCli(['secrets', 'update', '--value', 'x'], root, { answers: [] });
    assert.equal(update.code, 1);
    assert.match(update.stderr, /setup failed: no secret chosen\nhint: pass --secret <secret>\n$/);
    const value = await runCli(['secrets', 'create', '--name', 'c'], root, { answers: [] });
    assert.equal(value.code, 1);
    assert.match(value.stderr, /setup failed: no secret value given \(end of input\)\nhint: /);
    const name = await runCli(['secrets', 'create'], root, { answers: [] });
    assert.equal(name.code, 1);
    assert.match(name.stderr, /setup failed: no secret name given \(end of input\)\nhint: /);
    const del = await runCli(['secrets', 'delete'], root, { answers: [] });
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /^No secrets to delete\n/);
    assert.deepEqual(
      (await openSecretStore({ root, env: {} }).list()).map((s) => s.name),
      ['a', 'b'],
    );
  });
});
