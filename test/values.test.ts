import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRunner, FunctionExecutionFailure, loadApp } from '../src/index.js';
import { openSecretStore } from '../src/secrets/store.js';
import { runCli, tempApp } from './helpers.js';

const APP = {
  'values/greeting.json': { name: 'greeting', value: 'hello' },
  'values/apiKey.json': { name: 'apiKey', value: 'apiKeySecret', from_secret: true },
  'values/dbPass.json': { name: 'dbPass', value: 'dbSecret', from_secret: true },
  'values/unused.json': { name: 'unused', value: 1 },
  'environments/no-environment.json': { values: { region: 'eu' } },
  'functions/reads.js': [
    'exports = function () {',
    '  const out = [context.values.get("greeting"), context.values.get("apiKey").length];',
    '  out.push(context.values.get(\'greting\'), context.values.get(`region`), context.values.get("apiKeySecret"));',
    '  return context.functions.execute("helper", out);',
    '};',
  ].join('\n'),
  'functions/helper.js':
    'exports = (out) => { out.push(context.values.get("greeting")); return out; };',
  'functions/missingSecret.js': 'exports = () => context.values.get("dbPass");',
};

async function appWithStore(): Promise<string> {
  const root = tempApp(APP);
  await openSecretStore({ root, env: {} }).create('apiKeySecret', 'k-123456');
  return root;
}

describe('Secret-linked Values', () => {
  it('context.values.get: a Secret-linked Value resolves from the encrypted store', async () => {
    const root = await appWithStore();
    const store = openSecretStore({ root, env: {} });
    const runner = createRunner({
      app: loadApp({ root }).app,
      secrets: { resolve: (n) => store.resolve(n), names: () => store.names() },
    });
    try {
      const { result } = await runner.execute('reads');
      assert.deepEqual(result, ['hello', 8, null, null, null, 'hello']);
      await assert.rejects(runner.execute('missingSecret'), (error: unknown) => {
        assert.ok(error instanceof FunctionExecutionFailure);
        assert.match(
          error.message,
          /value 'dbPass' \(values\/dbPass\.json\) is linked to secret 'dbSecret', which cannot be resolved: secret 'dbSecret' does not exist/,
        );
        return true;
      });
    } finally {
      runner.dispose();
    }
  });

  it('--trace-values: each call with its function, location, and what it resolved to, with hints', async () => {
    const root = await appWithStore();
    const run = await runCli(['function', 'run', '--name', 'reads', '--trace-values'], root);
    assert.equal(run.code, 0, run.stderr);
    const trace = run.stdout.split('Values\n')[1]?.split('Result\n')[0] ?? '';
    const lines = trace
      .trimEnd()
      .split('\n')
      .map((l) => l.trim());
    assert.deepEqual(
      lines.map((l) => l.replace(/:\d+:\d+\)/, ')')),
      [
        'reads (functions/reads.js): context.values.get("greeting") -> plain Value from values/greeting.json',
        'reads (functions/reads.js): context.values.get("apiKey") -> Secret-linked Value from values/apiKey.json: secret \'apiKeySecret\' (value masked)',
        'reads (functions/reads.js): context.values.get("greting") -> no such Value (undefined); did you mean \'greeting\'?',
        'reads (functions/reads.js): context.values.get("region") -> no such Value (undefined); \'region\' is an environment value: read it with context.environment.values.region',
        'reads (functions/reads.js): context.values.get("apiKeySecret") -> no such Value (undefined); did you mean \'apiKey\'?; \'apiKeySecret\' is a Secret\'s own name: values.get only reads Values; link a Value to it ({"name": "...", "value": "apiKeySecret", "from_secret": true})',
        'helper (functions/helper.js): context.values.get("greeting") -> plain Value from values/greeting.json',
      ],
    );
    assert.ok(!run.stdout.includes('k-123456'));
    const json = JSON.parse(
      (await runCli(['function', 'run', '--name', 'reads', '--trace-values', '-f', 'json'], root))
        .stdout,
    ) as {
      value_trace: { function: string; name: string; outcome: string; location: string }[];
    };
    assert.deepEqual(
      json.value_trace.map((t) => [t.function, t.name, t.outcome]),
      [
        ['reads', 'greeting', 'plain'],
        ['reads', 'apiKey', 'secret'],
        ['reads', 'greting', 'missing'],
        ['reads', 'region', 'missing'],
        ['reads', 'apiKeySecret', 'missing'],
        ['helper', 'greeting', 'plain'],
      ],
    );
    assert.match(json.value_trace[0]?.location ?? '', /^functions\/reads\.js:2:\d+$/);
  });

  it('values list: every Value with its kind and Secret, whether the Secret exists, never a value', async () => {
    const root = await appWithStore();
    const run = await runCli(['values', 'list'], root);
    assert.equal(run.code, 0);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'Found 4 values');
    assert.match(lines[1] ?? '', /^ {2}Name +Kind +Secret +Secret Exists +File +$/);
    assert.ok(
      lines.some((l) =>
        /^ {2}apiKey +secret-linked +apiKeySecret +true +values\/apiKey\.json *$/.test(l),
      ),
    );
    assert.ok(
      lines.some((l) =>
        /^ {2}dbPass +secret-linked +dbSecret +false +values\/dbPass\.json *$/.test(l),
      ),
    );
    assert.ok(lines.some((l) => /^ {2}greeting +plain +values\/greeting\.json *$/.test(l)));
    assert.ok(!run.stdout.includes('k-123456'));
  });

  it('values check: unknown names with file and line, Values linked to missing Secrets, unread Values', async () => {
    const root = await appWithStore();
    const run = await runCli(['values', 'check'], root);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /error: functions\/reads\.js:3:12: context\.values\.get\('greting'\) matches no Value: it returns undefined \(did you mean 'greeting'\?\)/,
    );
    assert.match(
      run.stdout,
      /error: functions\/reads\.js:3:\d+: context\.values\.get\('region'\) matches no Value.*'region' is an environment value/,
    );
    assert.match(
      run.stdout,
      /error: functions\/reads\.js:3:\d+: context\.values\.get\('apiKeySecret'\) matches no Value.*a Secret's own name/,
    );
    assert.match(
      run.stdout,
      /error: values\/dbPass\.json \$\.value: value 'dbPass' is linked to secret 'dbSecret', which does not exist/,
    );
    assert.match(
      run.stdout,
      /warning: values\/unused\.json: value 'unused' is not read by any function/,
    );
    assert.match(run.stdout, /4 error\(s\), 1 warning\(s\)/);
  });

  it('validate: a Value linked to a missing Secret is an error, found without running anything', async () => {
    const root = await appWithStore();
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /error: values\/dbPass\.json \$\.value: value 'dbPass' is linked to secret 'dbSecret', which does not exist in the local secret store \(create it with: triggerbox secrets create --name dbSecret\)/,
    );
    await openSecretStore({ root, env: {} }).create('dbSecret', 'pw-0001');
    assert.equal((await runCli(['validate'], root)).code, 0);
  });
});
