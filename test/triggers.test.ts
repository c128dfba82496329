import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ObjectId, Timestamp } from 'bson';
import {
  createRunner,
  loadApp,
  TriggerboxError,
  type FunctionRunner,
  type TriggerDef,
} from '../src/index.js';
import { startDevServer, type CallEvent } from '../src/dev/dev-server.js';
import { generateEvent, updateDescription } from '../src/triggers/events.js';
import { applyFilters } from '../src/triggers/filters.js';
import { ManualClock, Scheduler } from '../src/triggers/scheduler.js';
import { fixturesDir, runCli, tempApp } from './helpers.js';

const FIXTURE = path.join(fixturesDir, 'triggers');
const fixture = loadApp({ root: FIXTURE });
const trigger = (name: string): TriggerDef => {
  const t = fixture.app.triggers.get(name);
  assert.ok(t, name);
  return t;
};
const dbTrigger = (config: Record<string, unknown>): TriggerDef => ({
  name: 't',
  file: 'triggers/t.json',
  type: 'DATABASE',
  disabled: false,
  functionName: 'onOrder',
  config: {
    database: 'db',
    collection: 'c',
    operation_types: ['INSERT', 'UPDATE', 'REPLACE', 'DELETE'],
    ...config,
  },
});

describe('trigger events', () => {
  const now = new Date('2026-03-04T05:06:07.000Z');

  it('generateEvent: a DATABASE insert is a full change-stream event', () => {
    const id = new ObjectId();
    const event = generateEvent(dbTrigger({}), {
      op: 'insert',
      doc: { _id: id, status: 'paid' },
      now,
    }) as Record<string, unknown>;
    assert.equal(event['operationType'], 'insert');
    assert.match((event['_id'] as { _data: string })._data, /^82[0-9A-F]+$/);
    assert.ok(event['clusterTime'] instanceof Timestamp);
    assert.deepEqual(event['wallTime'], now);
    assert.deepEqual(event['ns'], { db: 'db', coll: 'c' });
    assert.deepEqual(event['documentKey'], { _id: id });
    assert.deepEqual(event['fullDocument'], { _id: id, status: 'paid' });
    assert.ok(!('updateDescription' in event));
  });

  it('generateEvent: the full_document rules for each operation', () => {
    const rules: [string, Record<string, unknown>, boolean, boolean][] = [
      // op, config, has fullDocument, has fullDocumentBeforeChange
      ['insert', {}, true, false],
      ['insert', { full_document: true, full_document_before_change: true }, true, false],
      ['update', {}, false, false],
      ['update', { full_document: true }, true, false],
      ['update', { full_document_before_change: true }, false, true],
      ['replace', {}, true, false],
      ['replace', { full_document_before_change: true }, true, true],
      ['delete', { full_document: true }, false, false],
      ['delete', { full_document_before_change: true }, false, true],
    ];
    for (const [op, config, full, beforeChange] of rules) {
      const event = generateEvent(dbTrigger(config), {
        op,
        doc: { status: 'new' },
        before: { status: 'old' },
        now,
      }) as Record<string, unknown>;
      const label = `${op} ${JSON.stringify(config)}`;
      assert.equal('fullDocument' in event, full, label);
      assert.equal('fullDocumentBeforeChange' in event, beforeChange, label);
      assert.equal('updateDescription' in event, op === 'update', label);
    }
  });

  it('generateEvent: updateDescription is computed from --before and --doc, with dotted paths', () => {
    assert.deepEqual(
      updateDescription(
        { _id: 1, a: 1, b: { c: 1, d: 2 }, gone: true, same: [1] },
        { _id: 1, a: 2, b: { c: 1, d: 3 }, added: 'x', same: [1] },
      ),
      {
        updatedFields: { a: 2, 'b.d': 3, added: 'x' },
        removedFields: ['gone'],
        truncatedArrays: [],
      },
    );
  });

  it('generateEvent: AUTHENTICATION gets {operationType, providers, user, time}; SCHEDULED gets nothing', () => {
    const event = generateEvent(trigger('logins'), {
      now,
      user: { data: { email: 'ada@example.com' } },
    }) as Record<string, unknown>;
    assert.deepEqual(Object.keys(event).sort(), ['operationType', 'providers', 'time', 'user']);
    assert.equal(event['operationType'], 'LOGIN');
    assert.deepEqual(event['providers'], ['local-userpass']);
    assert.deepEqual((event['user'] as { data: unknown }).data, { email: 'ada@example.com' });
    assert.equal(generateEvent(trigger('everyFive')), undefined);
    assert.throws(
      () => generateEvent(dbTrigger({}), { op: 'upsert' }),
      /unknown operation 'upsert'/,
    );
  });
});

describe('trigger filters', () => {
  it('filters: operation_types first, then match (mingo $match), then project', () => {
    const t = dbTrigger({
      operation_types: ['INSERT'],
      match: { 'fullDocument.status': 'paid', 'fullDocument.total': { $gte: 10 } },
    });
    const deleteEvent = generateEvent(t, { op: 'delete', doc: { status: 'new' } }) as Record<
      string,
      unknown
    >;
    const first = applyFilters(t, deleteEvent);
    assert.equal(first.fires, false);
    assert.equal(first.fires ? '' : first.stage, 'operation_types');
    const small = applyFilters(
      t,
      generateEvent(t, { op: 'insert', doc: { status: 'paid', total: 5 } }) as Record<
        string,
        unknown
      >,
    );
    assert.equal(small.fires ? '' : small.stage, 'match');
    assert.equal(
      applyFilters(
        t,
        generateEvent(t, { op: 'insert', doc: { status: 'paid', total: 50 } }) as Record<
          string,
          unknown
        >,
      ).fires,
      true,
    );
    const projected = applyFilters(
      trigger('projected'),
      generateEvent(trigger('projected'), { doc: { status: 'paid', secret: 'x' } }) as Record<
        string,
        unknown
      >,
    );
    assert.ok(projected.fires);
    assert.deepEqual(projected.fires && projected.event['fullDocument'], { status: 'paid' });
    assert.deepEqual(projected.fires && Object.keys(projected.event).sort(), [
      '_id',
      'fullDocument',
      'ns',
      'operationType',
    ]);
  });

  it('filters: match expressions are Extended JSON ({"$oid"} is an ObjectId)', () => {
    const id = new ObjectId();
    const t = dbTrigger({ match: { 'documentKey._id': { $oid: id.toHexString() } } });
    assert.equal(
      applyFilters(
        t,
        generateEvent(t, { op: 'insert', doc: { _id: id } }) as Record<string, unknown>,
      ).fires,
      true,
    );
    assert.equal(
      applyFilters(
        t,
        generateEvent(t, { op: 'insert', doc: { _id: new ObjectId() } }) as Record<string, unknown>,
      ).fires,
      false,
    );
  });
});

describe('fireTrigger', () => {
  let runner: FunctionRunner;
  before(() => {
    runner = createRunner({ app: fixture.app });
  });
  after(() => runner.dispose());

  it('fireTrigger: a DATABASE trigger runs its function as the system user with the event as the one argument', async () => {
    const run = await runner.fireTrigger(
      'paidOrders',
      generateEvent(trigger('paidOrders'), { doc: { status: 'paid' } }),
    );
    assert.deepEqual(run.result, {
      args: 1,
      keys: [
        '_id',
        'clusterTime',
        'documentKey',
        'fullDocument',
        'ns',
        'operationType',
        'wallTime',
      ],
      operationType: 'insert',
      status: 'paid',
      system: true,
      userType: 'system',
    });
    assert.deepEqual(run.logs, ['insert on shop.orders']);
  });

  it('fireTrigger: an event that does not pass runs nothing and says which filter stopped it', async () => {
    await assert.rejects(
      runner.fireTrigger(
        'paidOrders',
        generateEvent(trigger('paidOrders'), { doc: { status: 'new' } }),
      ),
      (error: unknown) => {
        assert.ok(error instanceof TriggerboxError);
        assert.equal(error.code, 'TriggerEventFiltered');
        assert.match(error.message, /does not match .*\(match filter\); nothing ran/);
        return true;
      },
    );
    await assert.rejects(
      runner.fireTrigger(
        'paidOrders',
        generateEvent(trigger('deletes'), { doc: { status: 'paid' } }),
      ),
      /operationType 'delete' is not one of the trigger's operation_types INSERT, UPDATE, REPLACE/,
    );
  });

  it('fireTrigger: the function receives the projected event; SCHEDULED gets no argument', async () => {
    const projected = await runner.fireTrigger('projected');
    assert.deepEqual((projected.result as { keys: string[] }).keys, [
      '_id',
      'fullDocument',
      'ns',
      'operationType',
    ]);
    assert.deepEqual((await runner.fireTrigger('everyFive')).result, { args: 0, system: true });
  });

  it('fireTrigger: AUTHENTICATION operation types and providers filter; a generated event passes', async () => {
    assert.deepEqual((await runner.fireTrigger('logins')).result, {
      op: 'LOGIN',
      providers: ['local-userpass'],
      email: 'user@example.com',
      isDate: true,
    });
    const wrongOp = generateEvent(trigger('logins'), { op: 'DELETE' });
    await assert.rejects(
      runner.fireTrigger('logins', wrongOp),
      /operationType 'DELETE' is not one of the trigger's LOGIN, CREATE/,
    );
    const wrongProvider = { ...generateEvent(trigger('logins')), providers: ['api-key'] };
    await assert.rejects(
      runner.fireTrigger('logins', wrongProvider),
      /providers api-key are not among/,
    );
  });

  it('fireTrigger: a disabled trigger is refused unless forced; an unknown one suggests names', async () => {
    await assert.rejects(
      runner.fireTrigger('nightly'),
      (e: unknown) => e instanceof TriggerboxError && e.code === 'TriggerDisabled',
    );
    assert.deepEqual((await runner.fireTrigger('nightly', undefined, { force: true })).result, {
      args: 0,
      system: true,
    });
    await assert.rejects(
      runner.fireTrigger('paidOrder'),
      (e: unknown) =>
        e instanceof TriggerboxError &&
        e.code === 'TriggerNotFound' &&
        /did you mean 'paidOrders'/.test(e.hint ?? ''),
    );
  });

  it('fireTrigger: a trigger whose function is missing is a validate error and a clear failure, not a crash', async () => {
    const root = tempApp({
      'triggers/orphan.json': {
        name: 'orphan',
        type: 'SCHEDULED',
        config: { schedule: '* * * * *' },
        function_name: 'gone',
      },
    });
    const validate = await runCli(['validate'], root);
    assert.equal(validate.code, 1);
    assert.match(validate.stdout, /trigger 'orphan' calls function 'gone', which does not exist/);
    const fire = await runCli(['trigger', 'fire', '--name', 'orphan', '-f', 'json'], root);
    assert.equal(fire.code, 1);
    assert.deepEqual(JSON.parse(fire.stdout), {
      error: "trigger 'orphan' calls function 'gone', which does not exist",
      error_code: 'FunctionNotFound',
      logs: [],
    });
  });
});

describe('trigger commands', () => {
  it('trigger list: type, function, one-line configuration, disabled', async () => {
    const run = await runCli(['trigger', 'list', '--local', FIXTURE], FIXTURE);
    assert.equal(run.code, 0);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'Found 6 triggers');
    assert.match(lines[1] ?? '', /^ {2}Name +Type +Function +Config +Disabled *$/);
    const row = (name: string): string => lines.find((l) => l.startsWith(`  ${name} `)) ?? '';
    assert.match(
      row('paidOrders'),
      /DATABASE +onOrder +shop\.orders INSERT,UPDATE,REPLACE match \{"fullDocument\.status":"paid"\} full_document +false *$/,
    );
    assert.match(
      row('everyFive'),
      /SCHEDULED +tick +schedule "\*\/5 \* \* \* \*" \(UTC\) +false *$/,
    );
    assert.match(row('nightly'), /true *$/);
    assert.match(
      row('logins'),
      /AUTHENTICATION +onLogin +LOGIN,CREATE via local-userpass,anon-user +false *$/,
    );
  });

  it('trigger event -> edit -> trigger fire --event: the Extended JSON output feeds back in', async () => {
    const root = tempApp({});
    const event = await runCli(
      [
        'trigger',
        'event',
        '--name',
        'paidOrders',
        '--local',
        FIXTURE,
        '--op',
        'update',
        '--before',
        '{"status":"new"}',
        '--doc',
        '{"status":"paid","total":{"$numberDecimal":"9.99"}}',
      ],
      root,
    );
    assert.equal(event.code, 0, event.stderr);
    const parsed = JSON.parse(event.stdout) as Record<string, unknown>;
    assert.equal(parsed['operationType'], 'update');
    assert.deepEqual((parsed['updateDescription'] as Record<string, unknown>)['updatedFields'], {
      status: 'paid',
      total: { $numberDecimal: '9.99' },
    });
    const file = path.join(root, 'event.json');
    writeFileSync(file, event.stdout);
    const fired = await runCli(
      [
        'trigger',
        'fire',
        '--name',
        'paidOrders',
        '--local',
        FIXTURE,
        '--event',
        file,
        '-f',
        'json',
      ],
      root,
    );
    assert.equal(fired.code, 0, fired.stdout + fired.stderr);
    assert.equal(
      (JSON.parse(fired.stdout) as { result: { operationType: string } }).result.operationType,
      'update',
    );
    const edited = event.stdout.replace('"status": "paid"', '"status": "refunded"');
    const filtered = await runCli(
      ['trigger', 'fire', '--name', 'paidOrders', '--local', FIXTURE, '--event', '-', '-f', 'json'],
      root,
      { stdin: edited },
    );
    assert.equal(filtered.code, 1);
    const out = JSON.parse(filtered.stdout) as { error: string; error_code: string };
    assert.equal(out.error_code, 'TriggerEventFiltered');
    assert.match(out.error, /match filter/);
  });

  it('trigger event: SCHEDULED triggers have no event; unknown names and bad JSON are clear errors', async () => {
    const scheduled = await runCli(
      ['trigger', 'event', '--name', 'everyFive', '--local', FIXTURE],
      FIXTURE,
    );
    assert.equal(scheduled.code, 0);
    assert.equal(scheduled.stdout, '');
    assert.match(scheduled.stderr, /SCHEDULED: its function gets no argument/);
    const unknown = await runCli(
      ['trigger', 'event', '--name', 'nope', '--local', FIXTURE],
      FIXTURE,
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /trigger not found: 'nope'/);
    const bad = await runCli(
      ['trigger', 'event', '--name', 'paidOrders', '--doc', '{oops', '--local', FIXTURE],
      FIXTURE,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--doc is not \(Extended\) JSON/);
  });

  it('trigger fire: text output is that of function run; a disabled trigger needs --force', async () => {
    const run = await runCli(
      ['trigger', 'fire', '--name', 'paidOrders', '--doc', '{"status":"paid"}', '--local', FIXTURE],
      FIXTURE,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Logs\n {2}insert on shop\.orders\nResult\n\{\n/);
    const disabled = await runCli(
      ['trigger', 'fire', '--name', 'nightly', '--local', FIXTURE],
      FIXTURE,
    );
    assert.equal(disabled.code, 1);
    assert.match(disabled.stderr, /trigger 'nightly' is disabled/);
    assert.match(disabled.stderr, /--force/);
    assert.equal(
      (
        await runCli(
          ['trigger', 'fire', '--name', 'nightly', '--force', '--local', FIXTURE],
          FIXTURE,
        )
      ).code,
      0,
    );
  });
});

describe('scheduled triggers', () => {
  it('scheduler: runs each enabled SCHEDULED trigger at its next CRON time in UTC, then the next', () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:01:30Z'));
    const fired: string[] = [];
    const scheduler = new Scheduler({
      clock,
      onFire: (t, at) => fired.push(`${t.name}@${at.toISOString()}`),
    });
    scheduler.update(fixture.app.triggers.values());
    assert.deepEqual(
      scheduler.nextRuns().map((r) => `${r.name}@${r.at.toISOString()}`),
      ['everyFive@2026-01-01T00:05:00.000Z'],
    );
    clock.advanceTo(Date.parse('2026-01-01T00:04:59Z'));
    assert.deepEqual(fired, []);
    clock.advanceTo(Date.parse('2026-01-01T00:15:00Z'));
    assert.deepEqual(fired, [
      'everyFive@2026-01-01T00:05:00.000Z',
      'everyFive@2026-01-01T00:10:00.000Z',
      'everyFive@2026-01-01T00:15:00.000Z',
    ]);
    scheduler.stop();
    clock.advanceTo(Date.parse('2026-01-01T01:00:00Z'));
    assert.equal(fired.length, 3);
  });

  it('scheduler: a daily CRON is UTC, whatever the local time zone', () => {
    const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
    const scheduler = new Scheduler({ clock, onFire: () => undefined });
    scheduler.update([{ ...trigger('nightly'), disabled: false }]);
    assert.equal(scheduler.nextRuns()[0]?.at.toISOString(), '2026-06-02T02:00:00.000Z');
    scheduler.stop();
  });

  it('validate: a schedule that is not a 5-field CRON is reported', async () => {
    const root = tempApp({
      'functions/tick.js': 'exports = () => 1;',
      'triggers/bad.json': {
        name: 'bad',
        type: 'SCHEDULED',
        config: { schedule: '*/5 * * * * *' },
        function_name: 'tick',
      },
    });
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /triggers\/bad\.json \$\.config\.schedule: '\*\/5 \* \* \* \* \*' has 6 fields; App Services schedules are 5-field CRON expressions/,
    );
  });

  it('dev: SCHEDULED triggers run on their CRON (driven clock), and --no-schedules turns that off', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:30Z'));
    const server = await startDevServer({ root: FIXTURE, port: 0, clock, env: {} });
    try {
      const call = new Promise<CallEvent>((resolve) => server.once('call', resolve));
      clock.advanceTo(Date.parse('2026-01-01T00:05:00Z'));
      const event = await call;
      assert.equal(event.source, 'schedule');
      assert.equal(event.name, 'everyFive');
      assert.equal(event.scheduledFor?.toISOString(), '2026-01-01T00:05:00.000Z');
      assert.deepEqual(event.result?.result, { args: 0, system: true });
      assert.deepEqual(
        server.nextScheduledRuns().map((r) => r.at.toISOString()),
        ['2026-01-01T00:10:00.000Z'],
      );
    } finally {
      await server.close();
    }
    const quiet = await startDevServer({ root: FIXTURE, port: 0, schedules: false, env: {} });
    assert.deepEqual(quiet.nextScheduledRuns(), []);
    await quiet.close();
  });
});
