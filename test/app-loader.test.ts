import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { formatDiagnostic, loadApp, TriggerboxError } from '../src/index.js';
import { tempApp } from './helpers.js';

describe('loadApp', () => {
  it('loadApp: finds the app root by walking up from a nested folder', () => {
    const root = tempApp({ 'functions/utils/add.js': 'exports = (a, b) => a + b;' });
    const { app } = loadApp({ cwd: path.join(root, 'functions', 'utils') });
    assert.equal(app.root, root);
    assert.equal(app.configFile, 'root_config.json');
    assert.deepEqual([...app.functions.keys()], ['utils/add']);
  });

  it('loadApp: accepts realm_config.json and reads the app id from .mdb/meta.json', () => {
    const root = tempApp(
      {
        'realm_config.json': {
          config_version: 20210101,
          app_id: 'old-abcde',
          name: 'old',
          environment: '',
        },
        '.mdb/meta.json': { app_id: '64a0c0ffee', client_app_id: 'old-abcde', group_id: 'g1' },
      },
      false,
    );
    const { app } = loadApp({ root });
    assert.equal(app.configFile, 'realm_config.json');
    assert.equal(app.info.name, 'old');
    assert.equal(app.info.id, '64a0c0ffee');
    assert.equal(app.info.clientAppId, 'old-abcde');
    assert.equal(app.info.projectId, 'g1');
  });

  it('loadApp: reads flat, nested and legacy folder-per-function layouts with their configs', () => {
    const root = tempApp({
      'functions/config.json': [
        { name: 'flat', private: true, run_as_system: true },
        { name: 'nested/deep/fn', disable_arg_logs: true },
      ],
      'functions/flat.js': 'exports = () => 1;',
      'functions/nested/deep/fn.js': 'exports = () => 2;',
      'functions/legacy/config.json': { name: 'legacy', private: true },
      'functions/legacy/source.js': 'exports = () => 3;',
      'functions/unconfigured.js': 'exports = () => 4;',
      'functions/node_modules/pkg/index.js': 'module.exports = 1;',
    });
    const { app, diagnostics } = loadApp({ root });
    assert.deepEqual(diagnostics, []);
    assert.deepEqual([...app.functions.keys()].sort(), [
      'flat',
      'legacy',
      'nested/deep/fn',
      'unconfigured',
    ]);
    const flat = app.functions.get('flat');
    assert.equal(flat?.private, true);
    assert.equal(flat?.runAsSystem, true);
    assert.equal(app.functions.get('nested/deep/fn')?.disableArgLogs, true);
    assert.equal(app.functions.get('legacy')?.private, true);
    assert.equal(app.functions.get('legacy')?.file, 'functions/legacy/source.js');
    const unconfigured = app.functions.get('unconfigured');
    assert.equal(unconfigured?.private, false);
    assert.equal(unconfigured?.configured, false);
  });

  it('loadApp: loads values, the active environment, and an --env override', () => {
    const root = tempApp({
      'root_config.json': { name: 'envs', environment: 'development' },
      'values/plain.json': { name: 'plain', value: { a: [1, 2] } },
      'values/linked.json': { name: 'linked', value: 'mySecret', from_secret: true },
      'environments/development.json': { values: { tier: 'dev' } },
      'environments/production.json': { values: { tier: 'prod' } },
    });
    const { app } = loadApp({ root });
    assert.deepEqual(app.environment, {
      tag: 'development',
      file: 'environments/development.json',
      values: { tier: 'dev' },
    });
    assert.deepEqual(app.values.get('plain'), {
      kind: 'plain',
      name: 'plain',
      file: 'values/plain.json',
      value: { a: [1, 2] },
    });
    assert.deepEqual(app.values.get('linked'), {
      kind: 'secret',
      name: 'linked',
      file: 'values/linked.json',
      secretName: 'mySecret',
    });
    assert.equal(loadApp({ root, environment: 'production' }).app.environment.tag, 'production');
    assert.throws(
      () => loadApp({ root, environment: 'staging' }),
      (error: unknown) =>
        error instanceof TriggerboxError &&
        error.code === 'EnvironmentNotFound' &&
        /development, production/.test(error.hint ?? ''),
    );
  });

  it('loadApp: with no environment, environments/no-environment.json applies with tag ""', () => {
    const root = tempApp({ 'environments/no-environment.json': { values: { x: 1 } } });
    assert.deepEqual(loadApp({ root }).app.environment, {
      tag: '',
      file: 'environments/no-environment.json',
      values: { x: 1 },
    });
  });

  it('loadApp: collects every problem with its file, JSON path, line and column', () => {
    const long = 'x'.repeat(65);
    const root = tempApp({
      'functions/config.json': [
        { name: 'ok' },
        { name: 'ok' },
        { name: 'missing' },
        { name: 'bad name!' },
        { name: 'flagged', private: 'yes' },
      ],
      'functions/ok.js': 'exports = () => 1;',
      'functions/flagged.js': 'exports = () => 1;',
      'values/broken.json': '{\n  "name": "broken",\n  "value": 1,\n}',
      [`values/${long}.json`]: { name: long, value: 1 },
      'values/dup1.json': { name: 'dup', value: 1 },
      'values/dup2.json': { name: 'dup', value: 2 },
      'values/nosecret.json': { name: 'nosecret', value: 42, from_secret: true },
      'triggers/weird.json': { name: 'weird', type: 'HTTP', config: {} },
      'triggers/orphan.json': {
        name: 'orphan',
        type: 'SCHEDULED',
        config: { schedule: '* * * * *' },
        event_processors: { FUNCTION: { config: { function_name: 'nope' } } },
      },
    });
    const { diagnostics } = loadApp({ root });
    const lines = diagnostics.map(formatDiagnostic);
    const expect = (pattern: RegExp): void => {
      assert.ok(
        lines.some((line) => pattern.test(line)),
        `expected a diagnostic matching ${pattern}, got:\n${lines.join('\n')}`,
      );
    };
    expect(/functions\/config\.json \$\[1\]\.name: duplicate function name 'ok'/);
    expect(
      /functions\/config\.json \$\[2\]\.name: function 'missing' is configured but has no source file/,
    );
    expect(/functions\/config\.json \$\[3\]\.name: invalid function name 'bad name!'/);
    expect(/functions\/config\.json \$\[4\]\.private: 'private' must be true or false/);
    expect(/values\/broken\.json:4:1: malformed JSON/);
    expect(/\$\.name: invalid name 'x{65}': names must be at most 64 characters/);
    expect(
      /values\/dup2\.json \$\.name: duplicate value name 'dup' \(also in values\/dup1\.json\)/,
    );
    expect(/values\/nosecret\.json \$\.value: value 'nosecret' has from_secret: true/);
    expect(/triggers\/weird\.json \$\.type: unknown trigger type "HTTP"/);
    expect(/triggers\/orphan\.json .*function 'nope', which does not exist/);
    assert.ok(diagnostics.every((d) => d.severity === 'error'));
    // 'bad name!' is also reported as configured without a source file.
    assert.equal(diagnostics.length, 11);
  });

  it('loadApp: accepts both trigger forms (event_processors and top-level function_name)', () => {
    const root = tempApp({
      'functions/onInsert.js': 'exports = () => 1;',
      'triggers/new.json': {
        name: 'new',
        type: 'DATABASE',
        config: { database: 'db', collection: 'c', operation_types: ['INSERT'] },
        event_processors: { FUNCTION: { config: { function_name: 'onInsert' } } },
      },
      'triggers/old.json': {
        name: 'old',
        type: 'AUTHENTICATION',
        function_name: 'onInsert',
        config: { operation_type: 'LOGIN' },
        disabled: true,
      },
    });
    const { app, diagnostics } = loadApp({ root });
    assert.deepEqual(diagnostics, []);
    assert.equal(app.triggers.get('new')?.functionName, 'onInsert');
    assert.equal(app.triggers.get('old')?.functionName, 'onInsert');
    assert.equal(app.triggers.get('old')?.disabled, true);
  });

  it('loadApp: no app anywhere is an AppNotFound error that says how to fix it', () => {
    const dir = tempApp({}, false);
    mkdirSync(path.join(dir, 'sub'));
    assert.throws(
      () => loadApp({ cwd: path.join(dir, 'sub') }),
      (error: unknown) =>
        error instanceof TriggerboxError &&
        error.code === 'AppNotFound' &&
        /--local/.test(error.hint ?? ''),
    );
  });

  it('loadApp: lists every file it read (what a watcher must watch)', () => {
    const root = tempApp({
      'functions/a.js': 'exports = () => 1;',
      'values/v.json': { name: 'v', value: 1 },
    });
    const { files } = loadApp({ root });
    assert.ok(files.includes(path.join(root, 'functions/a.js')));
    assert.ok(files.includes(path.join(root, 'values/v.json')));
    assert.ok(files.includes(path.join(root, 'root_config.json')));
  });
});

describe('parseJsonText', () => {
  it('parseJsonText: every kind of JSON syntax error gets the line and column of the offending character', async () => {
    const { parseJsonText } = await import('../src/app/json-file.js');
    const cases: [string, number, number][] = [
      ['{"name": }', 1, 10],
      ['{\n  "a": 1,\n}', 3, 1],
      ['{"a": tru}', 1, 10],
      ['[1, 2', 1, 6],
      ['{"a": "x\ny"}', 1, 9],
      ['{"a": 01}', 1, 8],
      ['{} extra', 1, 4],
    ];
    for (const [text, line, column] of cases) {
      const read = parseJsonText(text, 'f.json');
      assert.equal(read.ok, false, text);
      if (!read.ok)
        assert.deepEqual(
          [read.diagnostic.line, read.diagnostic.column],
          [line, column],
          JSON.stringify(text),
        );
    }
  });
});
