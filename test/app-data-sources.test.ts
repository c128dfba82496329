import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { formatDiagnostic, loadApp } from '../src/index.js';
import { runCli, tempApp } from './helpers.js';

const atlas = (name: string, clusterName = 'Cluster0') => ({
  name,
  type: 'mongodb-atlas',
  config: { clusterName, readPreference: 'primary', wireProtocolEnabled: false },
  version: 1,
});

const dbTrigger = (service: string) => ({
  name: 'onOrder',
  type: 'DATABASE',
  config: {
    service_name: service,
    database: 'shop',
    collection: 'orders',
    operation_types: ['INSERT'],
  },
  event_processors: { FUNCTION: { config: { function_name: 'handle' } } },
});

describe('app data sources', () => {
  it('data sources: data_sources/<dir>/config.json gives name, type, cluster and file', () => {
    const root = tempApp({
      'data_sources/mongodb-atlas/config.json': atlas('mongodb-atlas'),
      'data_sources/Cluster1/config.json': atlas('Cluster1', 'Cluster1'),
    });
    const { app, diagnostics } = loadApp({ root });
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      [...app.dataSources.values()].sort((a, b) => a.name.localeCompare(b.name)),
      [
        {
          name: 'Cluster1',
          type: 'mongodb-atlas',
          clusterName: 'Cluster1',
          file: 'data_sources/Cluster1/config.json',
          implicit: false,
        },
        {
          name: 'mongodb-atlas',
          type: 'mongodb-atlas',
          clusterName: 'Cluster0',
          file: 'data_sources/mongodb-atlas/config.json',
          implicit: false,
        },
      ],
    );
  });

  it('data sources: an older export’s services/<name>/config.json of a MongoDB type is one; http and other services are not', () => {
    const root = tempApp({
      'services/mongodb-atlas/config.json': { id: '5d21', ...atlas('mongodb-atlas') },
      'services/http/config.json': { id: '5d22', name: 'http', type: 'http', config: {} },
      'services/lake/config.json': {
        name: 'lake',
        type: 'datalake',
        config: { dataLakeName: 'Lake0' },
      },
    });
    const { app, diagnostics } = loadApp({ root });
    assert.deepEqual(diagnostics, []);
    assert.deepEqual([...app.dataSources.keys()].sort(), ['lake', 'mongodb-atlas']);
    assert.equal(app.dataSources.get('lake')?.clusterName, 'Lake0');
    assert.equal(app.dataSources.get('mongodb-atlas')?.file, 'services/mongodb-atlas/config.json');
  });

  it('data sources: an app that defines none gets the implicit mongodb-atlas', () => {
    const { app, diagnostics } = loadApp({ root: tempApp({}) });
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      [...app.dataSources.values()],
      [
        {
          name: 'mongodb-atlas',
          type: 'mongodb-atlas',
          clusterName: undefined,
          file: undefined,
          implicit: true,
        },
      ],
    );
  });

  it('data sources: malformed configs are reported with file, JSON path or line:column, and give no implicit one', () => {
    const root = tempApp({
      'data_sources/broken/config.json': '{\n  "name": "broken",\n  "type": \n}',
      'data_sources/list/config.json': [],
      'data_sources/noname/config.json': { type: 'mongodb-atlas' },
      'data_sources/notype/config.json': { name: 'notype' },
      'data_sources/badconfig/config.json': { name: 'badconfig', type: 'mongodb-atlas', config: 3 },
      'data_sources/badcluster/config.json': {
        name: 'badcluster',
        type: 'mongodb-atlas',
        config: { clusterName: 7 },
      },
      'data_sources/odd/config.json': { name: 'odd', type: 'mysql' },
      'data_sources/dup/config.json': atlas('odd'),
      'data_sources/empty/readme.txt': 'no config here',
    });
    const { app, diagnostics } = loadApp({ root });
    const lines = diagnostics.map(formatDiagnostic);
    const has = (text: string) =>
      assert.ok(
        lines.some((line) => line.includes(text)),
        `expected ${text} in:\n${lines.join('\n')}`,
      );
    has('error: data_sources/broken/config.json:4:1: malformed JSON');
    has('error: data_sources/list/config.json: a data source config must hold a JSON object');
    has("error: data_sources/noname/config.json $.name: a data source needs a 'name' string");
    has("error: data_sources/notype/config.json $.type: data source 'notype' needs a 'type'");
    has("error: data_sources/badconfig/config.json $.config: data source 'badconfig'");
    has('error: data_sources/badcluster/config.json $.config.clusterName');
    has("warning: data_sources/odd/config.json $.type: data source 'odd' has the unknown type");
    has("error: data_sources/odd/config.json $.name: duplicate data source name 'odd'");
    has('warning: data_sources/empty: this data source folder has no config.json');
    assert.deepEqual([...app.dataSources.keys()], ['odd']);
  });

  it('data sources: a config that is a FIFO is refused, never opened', () => {
    const root = tempApp({ 'data_sources/pipe/readme.txt': '' });
    execFileSync('mkfifo', [path.join(root, 'data_sources/pipe/config.json')]);
    const { app, diagnostics } = loadApp({ root });
    assert.match(
      diagnostics.map(formatDiagnostic).join('\n'),
      /data_sources\/pipe\/config\.json: this file is a FIFO/,
    );
    assert.equal(app.dataSources.size, 0);
  });

  it('validate: a DATABASE trigger whose service_name names no data source is a warning', async () => {
    const root = tempApp({
      'functions/handle.js': 'exports = () => 1;',
      'data_sources/Cluster0/config.json': atlas('Cluster0'),
      'triggers/onOrder.json': dbTrigger('Cluster1'),
    });
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /warning: triggers\/onOrder\.json \$\.config\.service_name: trigger 'onOrder' watches data source 'Cluster1', which the app does not define \(did you mean 'Cluster0'\?\)/,
    );
    assert.match(run.stdout, /is valid: .*1 warning/);
  });

  it('validate: with no data source defined, a trigger on mongodb-atlas is fine and one on Cluster0 is told about the implicit one', async () => {
    const good = tempApp({
      'functions/handle.js': 'exports = () => 1;',
      'triggers/onOrder.json': dbTrigger('mongodb-atlas'),
    });
    assert.deepEqual(loadApp({ root: good }).diagnostics, []);
    const other = tempApp({
      'functions/handle.js': 'exports = () => 1;',
      'triggers/onOrder.json': dbTrigger('Cluster0'),
    });
    const [warning] = loadApp({ root: other }).diagnostics;
    assert.equal(warning?.severity, 'warning');
    assert.match(warning?.message ?? '', /only the implicit 'mongodb-atlas'/);
    assert.match(warning?.hint ?? '', /create data_sources\/Cluster0\/config\.json/);
  });

  it('db sources: lists the data sources as a table, and as a json line with -f json', async () => {
    const root = tempApp({ 'data_sources/mongodb-atlas/config.json': atlas('Cluster0') });
    const run = await runCli(['db', 'sources'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Found 1 data source /);
    assert.match(
      run.stdout,
      /Cluster0 +mongodb-atlas +Cluster0 +data_sources\/mongodb-atlas\/config\.json/,
    );
    const implicit = await runCli(['db', 'sources', '-f', 'json'], tempApp({}));
    const line = JSON.parse(implicit.stdout) as { data: Record<string, string>[] };
    assert.equal(line.data[0]?.['Name'], 'mongodb-atlas');
    assert.match(line.data[0]?.['File'] ?? '', /implicit/);
  });
});
