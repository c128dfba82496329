/**
 * Security issue #8: a trigger's `match` and `project` are data handed to mingo. Nothing in them
 * may run code on the host or reach host objects (constructors, prototypes).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { applyFilters } from '../src/triggers/filters.js';
import type { TriggerDef } from '../src/app/types.js';
import {
  compileFilter,
  pipelineUpdate,
  project,
  runPipeline,
} from '../src/services/mongodb/engine/query.js';
import { repoRoot, runCli, tempApp } from './helpers.js';

const markerDir = mkdtempSync(path.join(tmpdir(), 'triggerbox-marker-'));
after(() => rmSync(markerDir, { recursive: true, force: true }));

/** `{$getField: "constructor"}` twice from any document reaches the host's Function. */
const hostFunction = {
  $getField: {
    field: 'constructor',
    input: { $getField: { field: 'constructor', input: '$$ROOT' } },
  },
};

/** A `$function` whose body is `Function(code)`: runs `code` on the host when evaluated. */
function runsOnHost(code: string): Record<string, unknown> {
  return {
    $function: {
      body: { $function: { body: hostFunction, args: [code], lang: 'js' } },
      args: [],
      lang: 'js',
    },
  };
}

function writesMarker(name: string): { code: string; marker: string } {
  const marker = path.join(markerDir, name);
  return {
    marker,
    code: `process.getBuiltinModule('fs').writeFileSync(${JSON.stringify(marker)}, 'pwned'); return true;`,
  };
}

function databaseTrigger(config: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'evil',
    type: 'DATABASE',
    config: {
      service_name: 'mongodb-atlas',
      database: 'shop',
      collection: 'orders',
      operation_types: ['INSERT'],
      ...config,
    },
    event_processors: { FUNCTION: { config: { function_name: 'onOrder' } } },
  };
}

const onOrder =
  'exports = (event) => ({ got: event.fullDocument ?? null, keys: Object.keys(event) });';

describe('trigger expressions run no code', () => {
  it('trigger fire: a match using $function to reach the host Function constructor is refused, and nothing runs', async () => {
    const { code, marker } = writesMarker('fire-match');
    const root = tempApp({
      'functions/onOrder.js': onOrder,
      'triggers/evil.json': databaseTrigger({ match: { $expr: runsOnHost(code) } }),
    });
    const fire = await runCli(
      ['trigger', 'fire', '--name', 'evil', '--doc', '{"a": 1}', '-f', 'json'],
      root,
    );
    assert.equal(existsSync(marker), false, 'the match ran code on the host');
    assert.equal(fire.code, 1, fire.stdout + fire.stderr);
    const output = JSON.parse(fire.stdout) as { error: string; error_code: string };
    assert.equal(output.error_code, 'QueryCodeOperator');
    assert.match(output.error, /triggers\/evil\.json/);
    assert.match(output.error, /\$\.config\.match\.\$expr\.\$function/);
  });

  it('trigger fire: a project using $function is refused, and nothing runs', async () => {
    const { code, marker } = writesMarker('fire-project');
    const root = tempApp({
      'functions/onOrder.js': onOrder,
      'triggers/evil.json': databaseTrigger({
        project: { operationType: 1, x: runsOnHost(code) },
      }),
    });
    const fire = await runCli(['trigger', 'fire', '--name', 'evil', '--doc', '{"a": 1}'], root);
    assert.equal(existsSync(marker), false, 'the project ran code on the host');
    assert.equal(fire.code, 1);
    assert.match(fire.stderr + fire.stdout, /\$function/);
  });

  it('applyFilters: $where and $accumulator are refused before mingo sees them', () => {
    const { code, marker } = writesMarker('where');
    const trigger = (config: Record<string, unknown>): TriggerDef => ({
      name: 'evil',
      file: 'triggers/evil.json',
      type: 'DATABASE',
      disabled: false,
      functionName: 'onOrder',
      config: { database: 'db', collection: 'c', operation_types: ['INSERT'], ...config },
    });
    const event = { operationType: 'insert', fullDocument: { a: 1 } };
    for (const config of [
      { match: { $where: `function () { ${code} }` } },
      { match: { $or: [{ a: 1 }, { $where: `function () { ${code} }` }] } },
      {
        project: {
          operationType: 1,
          total: { $accumulator: { init: hostFunction, accumulate: hostFunction, lang: 'js' } },
        },
      },
    ]) {
      assert.throws(
        () => applyFilters(trigger(config), event),
        (error: Error & { code?: string }) =>
          error.code === 'QueryCodeOperator' && /runs code/.test(error.message),
        JSON.stringify(config),
      );
    }
    assert.equal(existsSync(marker), false);
  });

  it('applyFilters: $getField on "constructor" or "__proto__" reaches no host object', () => {
    const trigger: TriggerDef = {
      name: 'sneaky',
      file: 'triggers/sneaky.json',
      type: 'DATABASE',
      disabled: false,
      functionName: 'onOrder',
      config: {
        database: 'db',
        collection: 'c',
        operation_types: ['INSERT'],
        project: {
          operationType: 1,
          ctor: { $getField: { field: 'constructor', input: '$$ROOT' } },
          fn: hostFunction,
          proto: { $getField: { field: '__proto__', input: '$fullDocument' } },
          viaLiteral: { $getField: { field: 'constructor', input: { $literal: {} } } },
          own: { $getField: { field: 'a', input: '$fullDocument' } },
        },
      },
    };
    const outcome = applyFilters(trigger, { operationType: 'insert', fullDocument: { a: 1 } });
    assert.equal(outcome.fires, true);
    const event = outcome.fires ? outcome.event : {};
    // Own fields still work; inherited ones are missing, as in MongoDB.
    assert.equal(event['own'], 1);
    for (const key of ['ctor', 'fn', 'proto', 'viaLiteral'])
      assert.equal(event[key], undefined, `${key} reached ${String(event[key])}`);
  });

  it('applyFilters: a match on "constructor" via $getField does not match host objects', () => {
    const trigger: TriggerDef = {
      name: 'probe',
      file: 'triggers/probe.json',
      type: 'DATABASE',
      disabled: false,
      functionName: 'onOrder',
      config: {
        database: 'db',
        collection: 'c',
        operation_types: ['INSERT'],
        match: {
          $expr: {
            $ne: [{ $type: { $getField: { field: 'constructor', input: '$$ROOT' } } }, 'missing'],
          },
        },
      },
    };
    const outcome = applyFilters(trigger, { operationType: 'insert', fullDocument: { a: 1 } });
    assert.equal(outcome.fires, false);
  });

  it('validate: $function, $where and $accumulator anywhere in match/project are errors with file, JSON path and why', async () => {
    const root = tempApp({
      'functions/onOrder.js': onOrder,
      'triggers/evil.json': databaseTrigger({
        match: {
          $and: [
            { 'fullDocument.status': 'paid' },
            { $expr: { $gt: [{ $function: { body: 'return 1', args: [], lang: 'js' } }, 0] } },
          ],
          fullDocument: { nested: { $where: 'return true' } },
        },
        project: {
          operationType: 1,
          totals: [{ deep: { $accumulator: { init: 'x' } } }],
        },
      }),
    });
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const output = run.stdout + run.stderr;
    assert.match(
      output,
      /triggers\/evil\.json \$\.config\.match\.\$and\[1\]\.\$expr\.\$gt\[0\]\.\$function: .*runs code/,
    );
    assert.match(output, /triggers\/evil\.json \$\.config\.match\.fullDocument\.nested\.\$where: /);
    assert.match(
      output,
      /triggers\/evil\.json \$\.config\.project\.totals\[0\]\.deep\.\$accumulator: /,
    );
  });

  it('validate: a match and project without code operators are still valid', async () => {
    const root = tempApp({
      'functions/onOrder.js': onOrder,
      'triggers/ok.json': databaseTrigger({
        match: { 'fullDocument.function': 'x', $expr: { $eq: ['$fullDocument.where', 1] } },
        project: { operationType: 1, fullDocument: 1 },
      }),
    });
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });
});

describe('the one query engine (services/mongodb/engine/query.ts)', () => {
  it('query engine: every entry point refuses code operators and reads no inherited field', () => {
    const { code, marker } = writesMarker('engine');
    const docs = (): Record<string, unknown>[] => [{ _id: 1, a: 1, tags: ['x'] }];
    const refused = (run: () => unknown): void =>
      assert.throws(run, (e: Error & { code?: string }) => e.code === 'MongoScriptRefused');
    refused(() =>
      runPipeline({ docs: docs(), pipeline: [{ $addFields: { x: runsOnHost(code) } }] }),
    );
    refused(() =>
      runPipeline({
        docs: docs(),
        pipeline: [{ $group: { _id: null, n: { $accumulator: { init: hostFunction } } } }],
      }),
    );
    refused(() => compileFilter({ $where: code }));
    refused(() => project(docs(), { x: runsOnHost(code) }));
    refused(() => pipelineUpdate({ _id: 1 }, [{ $set: { x: runsOnHost(code) } }]));
    assert.equal(existsSync(marker), false);

    const [added] = runPipeline({
      docs: docs(),
      pipeline: [{ $addFields: { ctor: hostFunction, own: { $getField: 'a' } } }],
    });
    assert.equal(added?.['ctor'], undefined);
    assert.equal(added?.['own'], 1);
    const updated = pipelineUpdate({ _id: 1, a: 1 }, [{ $set: { ctor: hostFunction, b: 2 } }]);
    assert.equal(updated['ctor'], undefined);
    assert.equal(updated['b'], 2);
    assert.equal(compileFilter({ tags: 'x' })(docs()[0] ?? {}), true);
  });

  it('query engine: no other module imports mingo', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (/\.(ts|js)$/.test(entry.name) && /from ['"]mingo/.test(readFileSync(file, 'utf8')))
          offenders.push(path.relative(repoRoot, file));
      }
    };
    walk(path.join(repoRoot, 'src'));
    assert.deepEqual(offenders, ['src/services/mongodb/engine/query.ts']);
  });
});
