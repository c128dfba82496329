/** Trigger semantics of SPEC section 6 (issue #10): through loadApp/generateEvent/applyFilters/Scheduler/validateApp and the CLI. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EJSON, Int32, Long } from 'bson';
import {
  applyFilters,
  checkSchedule,
  createRunner,
  generateEvent,
  loadApp,
  nextRun,
  ManualClock,
  Scheduler,
  validateApp,
  type TriggerDef,
} from '../src/index.js';
import { decodeResult } from '../src/runtime/ejson.js';
import { generateTriggerEvent } from '../src/triggers/events.js';
import { runCli, tempApp } from './helpers.js';

type Doc = Record<string, unknown>;

const ON_CHANGE = `exports = function (event) {
  return { op: event.operationType, ns: event.ns, doc: event.fullDocument ?? null, system: context.runningAsSystem() };
};`;

function databaseTrigger(name: string, config: Doc): Doc {
  return {
    name,
    type: 'DATABASE',
    config: { service_name: 'mongodb-atlas', database: 'shop', collection: 'orders', ...config },
    event_processors: { FUNCTION: { config: { function_name: 'onChange' } } },
  };
}

/** A temp app with one function onChange and the given trigger files (name -> JSON). */
function appWith(triggers: Record<string, Doc>, functions: Record<string, string> = {}): string {
  const files: Record<string, string | object> = { 'functions/onChange.js': ON_CHANGE };
  for (const [name, fn] of Object.entries(functions)) files[`functions/${name}.js`] = fn;
  for (const [name, trigger] of Object.entries(triggers)) files[`triggers/${name}.json`] = trigger;
  return tempApp(files);
}

function loaded(root: string, name: string): TriggerDef {
  const trigger = loadApp({ root }).app.triggers.get(name);
  assert.ok(trigger, name);
  return trigger;
}

/** A DATABASE trigger as loadApp makes it, from one config (other fields: shop.orders). */
function dbTrigger(config: Doc): TriggerDef {
  return loaded(appWith({ t: databaseTrigger('t', config) }), 't');
}

/** Extended JSON as the CLI reads it (--event, --doc): Long and Decimal128 stay BSON values. */
const decode = (text: string): Doc => decodeResult(text) as Doc;

describe('one normalised trigger config', () => {
  it('loadApp: a string operation_types is an upper-case list for events, filters, list and validate', async () => {
    const root = appWith({
      one: databaseTrigger('one', { operation_types: 'update', full_document: true }),
    });
    const trigger = loaded(root, 'one');
    assert.deepEqual(trigger.settings, {
      type: 'DATABASE',
      serviceName: 'mongodb-atlas',
      database: 'shop',
      collection: 'orders',
      operationTypes: ['UPDATE'],
      match: undefined,
      project: undefined,
      fullDocument: true,
      fullDocumentBeforeChange: false,
      skipCatchupEvents: false,
      unordered: false,
      tolerateResumeErrors: false,
      maximumThroughput: false,
    });
    assert.equal(trigger.config['operation_types'], 'update', 'the raw config stays as written');
    // Events used to ignore a string and generate an insert, which the filters then refused.
    const event = generateEvent(trigger) as Doc;
    assert.equal(event['operationType'], 'update');
    assert.equal(applyFilters(trigger, event).fires, true);

    const list = await runCli(['trigger', 'list'], root);
    assert.match(list.stdout, /one +DATABASE +onChange +shop\.orders UPDATE full_document/);
    const fire = await runCli(['trigger', 'fire', '--name', 'one'], root);
    assert.equal(fire.code, 0, fire.stderr);
    assert.match(fire.stdout, /"op": "update"/);

    const validate = await runCli(['validate'], root);
    assert.equal(validate.code, 0, validate.stdout);
    assert.match(
      validate.stdout,
      /warning: triggers\/one\.json \$\.config\.operation_types: 'operation_types' is one string; the platform's trigger files hold a list \(write "operation_types": \["update"\]\)/,
    );
    assert.match(
      validate.stdout,
      /warning: triggers\/one\.json \$\.config\.operation_types: operation type "update" is read as UPDATE \(write it in upper case/,
    );
  });

  it('validate: unknown operation types, empty lists and non-boolean flags are errors with JSON paths', async () => {
    const root = appWith({
      bad: databaseTrigger('bad', { operation_types: ['INSERT', 'INSRT'], full_document: 'yes' }),
      none: databaseTrigger('none', { operation_types: [] }),
      ddl: databaseTrigger('ddl', { operation_types: ['INSERT', 'DROP_COLLECTION'] }),
    });
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /error: triggers\/bad\.json \$\.config\.operation_types\[1\]: unknown operation type "INSRT" \(use INSERT, UPDATE, REPLACE, DELETE\)/,
    );
    assert.match(
      run.stdout,
      /error: triggers\/bad\.json \$\.config\.full_document: 'full_document' must be true or false/,
    );
    assert.match(
      run.stdout,
      /error: triggers\/none\.json \$\.config\.operation_types: a DATABASE trigger with no operation_types never fires/,
    );
    assert.match(
      run.stdout,
      /warning: triggers\/ddl\.json \$\.config\.operation_types\[1\]: operation type DROP_COLLECTION is valid on the platform but no local event carries it/,
    );
  });

  it('library: a TriggerDef built by hand is read by the same normaliser', () => {
    const trigger: TriggerDef = {
      name: 'byHand',
      file: 'triggers/byHand.json',
      type: 'DATABASE',
      disabled: false,
      functionName: 'onChange',
      config: { database: 'shop', collection: 'orders', operation_types: 'delete' },
    };
    const event = generateEvent(trigger) as Doc;
    assert.equal(event['operationType'], 'delete');
    assert.equal(applyFilters(trigger, event).fires, true);
    const auth: TriggerDef = {
      ...trigger,
      type: 'AUTHENTICATION',
      config: { operation_type: 'create', providers: 'anon-user' },
    };
    const login = generateEvent(auth) as Doc;
    assert.equal(login['operationType'], 'CREATE');
    assert.deepEqual(login['providers'], ['anon-user']);
    assert.equal(applyFilters(auth, login).fires, true);
  });
});

describe('match compares numeric BSON types by value', () => {
  const event = decode(`{
    "operationType": "insert",
    "ns": {"db": "shop", "coll": "orders"},
    "fullDocument": {
      "qty": {"$numberLong": "5"},
      "price": {"$numberDecimal": "9.5"},
      "count": {"$numberInt": "5"},
      "ratio": {"$numberDouble": "5.0"},
      "big": {"$numberLong": "9007199254740993"}
    }
  }`);

  const cases: [string, boolean][] = [
    ['{"fullDocument.qty": 5}', true],
    ['{"fullDocument.qty": {"$numberInt": "5"}}', true],
    ['{"fullDocument.qty": {"$numberDouble": "5.0"}}', true],
    ['{"fullDocument.qty": {"$numberDecimal": "5.00"}}', true],
    ['{"fullDocument.count": {"$numberLong": "5"}}', true],
    ['{"fullDocument.ratio": {"$numberLong": "5"}}', true],
    ['{"fullDocument.qty": {"$in": [{"$numberDecimal": "5"}]}}', true],
    ['{"fullDocument.qty": {"$ne": 5}}', false],
    ['{"fullDocument.price": {"$gt": {"$numberDecimal": "10"}}}', false],
    ['{"fullDocument.price": {"$lt": {"$numberDecimal": "10"}}}', true],
    ['{"fullDocument.price": {"$gt": 9, "$lte": {"$numberLong": "10"}}}', true],
    ['{"fullDocument.price": {"$numberDouble": "9.5"}}', true],
    ['{"fullDocument.big": {"$gt": 9007199254740992}}', true],
    ['{"fullDocument.big": {"$numberDecimal": "9007199254740993"}}', true],
    ['{"$expr": {"$eq": ["$fullDocument.qty", 5]}}', true],
    ['{"$expr": {"$eq": ["$fullDocument.qty", {"$numberLong": "5"}]}}', true],
    ['{"$expr": {"$eq": ["$fullDocument.count", {"$numberDecimal": "5"}]}}', true],
    ['{"$expr": {"$gt": ["$fullDocument.price", {"$numberDecimal": "10"}]}}', false],
    ['{"$expr": {"$lt": ["$fullDocument.price", {"$numberDecimal": "10"}]}}', true],
  ];

  for (const [match, fires] of cases) {
    it(`applyFilters: ${match} ${fires ? 'passes' : 'does not pass'}`, () => {
      const trigger = dbTrigger({ operation_types: ['INSERT'], match: JSON.parse(match) });
      assert.equal(applyFilters(trigger, event).fires, fires);
    });
  }

  it('trigger fire --event: an event file with $numberLong/$numberDecimal is compared by value', async () => {
    const root = appWith({
      five: databaseTrigger('five', {
        operation_types: ['INSERT'],
        match: { 'fullDocument.qty': 5 },
      }),
      pricey: databaseTrigger('pricey', {
        operation_types: ['INSERT'],
        match: { 'fullDocument.price': { $gt: { $numberDecimal: '10' } } },
      }),
    });
    const file = path.join(root, 'event.json');
    writeFileSync(
      file,
      JSON.stringify({
        operationType: 'insert',
        ns: { db: 'shop', coll: 'orders' },
        documentKey: { _id: 1 },
        fullDocument: { _id: 1, qty: { $numberLong: '5' }, price: { $numberDecimal: '9.5' } },
      }),
    );
    const five = await runCli(['trigger', 'fire', '--name', 'five', '--event', 'event.json'], root);
    assert.equal(five.code, 0, five.stderr);
    assert.match(five.stdout, /"qty": \{\s*"\$numberLong": "5"\s*\}/);

    const pricey = await runCli(
      ['trigger', 'fire', '--name', 'pricey', '--event', 'event.json'],
      root,
    );
    assert.equal(pricey.code, 1);
    const output = pricey.stdout + pricey.stderr;
    assert.match(output, /the event in event\.json does not fire trigger 'pricey'/);
    assert.match(output, /"fullDocument\.price":\{"\$gt":\{"\$numberDecimal":"10"\}\}/);
    assert.doesNotMatch(output, /trigger event/);
  });
});

describe('CRON as the platform has it', () => {
  const from = new Date('2026-01-01T00:00:00.000Z');
  const times = (schedule: string, count: number): string[] => {
    const out: string[] = [];
    let at = from;
    for (let i = 0; i < count; i++) {
      at = nextRun(schedule, at);
      out.push(at.toISOString().slice(0, 16));
    }
    return out;
  };

  it('nextRun: a ranged step fires where value % step == 0 (10-50/25 is :25 and :50, not :10 and :35)', () => {
    assert.deepEqual(times('10-50/25 * * * *', 4), [
      '2026-01-01T00:25',
      '2026-01-01T00:50',
      '2026-01-01T01:25',
      '2026-01-01T01:50',
    ]);
    assert.deepEqual(times('0 3-20/6 * * *', 4), [
      '2026-01-01T06:00',
      '2026-01-01T12:00',
      '2026-01-01T18:00',
      '2026-01-02T06:00',
    ]);
  });

  it('nextRun: */7 in minutes fires at 0, 7, ... 56 and again at 0', () => {
    const minutes = times('*/7 * * * *', 10).map((t) => t.slice(11));
    assert.deepEqual(minutes, [
      '00:07',
      '00:14',
      '00:21',
      '00:28',
      '00:35',
      '00:42',
      '00:49',
      '00:56',
      '01:00',
      '01:07',
    ]);
  });

  it('nextRun: names, lists, ranges; UTC; every field must match (Friday the 13th)', () => {
    assert.deepEqual(times('0 7 * * MON-FRI', 2), ['2026-01-01T07:00', '2026-01-02T07:00']);
    assert.deepEqual(times('30 23 1 jan,JUL *', 2), ['2026-01-01T23:30', '2026-07-01T23:30']);
    assert.deepEqual(times('0 0 13 * 5', 2), ['2026-02-13T00:00', '2026-03-13T00:00']);
    assert.deepEqual(times('0 0 29 2 *', 1), ['2028-02-29T00:00']);
  });

  it('Scheduler: fires a ranged-step schedule at the platform times (driven clock)', () => {
    const root = tempApp({
      'functions/tick.js': 'exports = () => 1;',
      'triggers/quarter.json': {
        name: 'quarter',
        type: 'SCHEDULED',
        config: { schedule: '10-50/25 * * * *' },
        function_name: 'tick',
      },
    });
    const clock = new ManualClock(from.getTime());
    const fired: string[] = [];
    const scheduler = new Scheduler({
      clock,
      onFire: (trigger, at) => fired.push(`${trigger.name} ${at.toISOString().slice(11, 16)}`),
    });
    scheduler.update(loadApp({ root }).app.triggers.values());
    clock.advanceTo(Date.parse('2026-01-01T01:30:00.000Z'));
    scheduler.stop();
    assert.deepEqual(fired, ['quarter 00:25', 'quarter 00:50', 'quarter 01:25']);
  });

  it('validate: weekday 7, steps outside minute/hour, 6 fields, ? L W #, never-firing dates are errors with path and fix', async () => {
    const schedules: Record<string, string> = {
      sunday7: '0 0 * * 7',
      dayStep: '0 0 */2 * *',
      seconds: '0 */5 * * * *',
      question: '0 0 ? * *',
      lastDay: '0 0 L * *',
      feb31: '0 0 31 2 *',
      noMinute: '5/20 * * * *',
      backwards: '0 22-2 * * *',
      zeroStep: '*/0 * * * *',
    };
    const files: Record<string, string | object> = { 'functions/tick.js': 'exports = () => 1;' };
    for (const [name, schedule] of Object.entries(schedules))
      files[`triggers/${name}.json`] = {
        name,
        type: 'SCHEDULED',
        config: { schedule },
        function_name: 'tick',
      };
    const run = await runCli(['validate'], tempApp(files));
    assert.equal(run.code, 1);
    const line = (name: string): string =>
      run.stdout.split('\n').find((l) => l.includes(`triggers/${name}.json $.config.schedule`)) ??
      '';
    assert.match(
      line('sunday7'),
      /^error: .*weekday 7 is not a day: App Services weekdays are 0 \(SUN\) to 6 \(SAT\) \(write 0 \(or SUN\) for Sunday\)$/,
    );
    assert.match(
      line('dayStep'),
      /App Services allows steps \(\/\) only in the minute and hour fields, not in dayOfMonth \(list the dayOfMonth values instead/,
    );
    assert.match(line('seconds'), /has 6 fields.*\(there is no seconds field\)/);
    assert.match(line('question'), /'\?' in the dayOfMonth field is not a value.*no \?, L, W or #/);
    assert.match(line('lastDay'), /'L' in the dayOfMonth field is not a value/);
    assert.match(line('feb31'), /'0 0 31 2 \*' never fires/);
    assert.match(line('noMinute'), /the minute field '5\/20' matches no minute/);
    assert.match(
      line('backwards'),
      /the range '22-2' in the hour field runs backwards .*22-23,0-2/,
    );
    assert.match(line('zeroStep'), /the step must be a whole number above 0/);
    assert.match(checkSchedule('0 0 * * 7') ?? '', /weekday 7/);
    assert.equal(checkSchedule('*/25 * * * SUN'), undefined);
  });

  it('validate: a ranged step that differs from standard cron, and both day fields restricted, are warnings', async () => {
    const root = tempApp({
      'functions/tick.js': 'exports = () => 1;',
      'triggers/ranged.json': {
        name: 'ranged',
        type: 'SCHEDULED',
        config: { schedule: '10-50/25 0 13 * FRI' },
        function_name: 'tick',
      },
    });
    const run = await runCli(['validate'], root);
    assert.equal(run.code, 0, run.stdout);
    assert.match(
      run.stdout,
      /warning: triggers\/ranged\.json \$\.config\.schedule: the minute field '10-50\/25' fires at 25, 50 on App Services \(values divisible by the step\), not at 10, 35 as in standard cron/,
    );
    assert.match(run.stdout, /restricts both the day of month and the weekday/);
  });
});

describe('project: inclusive or exclusive, never excluding operationType', () => {
  it('validate: excluding operationType and mixing inclusion with exclusion are errors; _id: 0 and pure exclusion are fine', async () => {
    const root = appWith({
      noOp: databaseTrigger('noOp', {
        operation_types: ['INSERT'],
        project: { operationType: 0, fullDocument: 0 },
      }),
      mixed: databaseTrigger('mixed', {
        operation_types: ['INSERT'],
        project: { operationType: 1, fullDocument: { status: 1, secret: 0 } },
      }),
      withoutId: databaseTrigger('withoutId', {
        operation_types: ['INSERT'],
        project: { _id: 0, operationType: 1, 'fullDocument.status': 1 },
      }),
      exclusive: databaseTrigger('exclusive', {
        operation_types: ['INSERT'],
        project: { fullDocumentBeforeChange: 0, 'fullDocument.secret': 0 },
      }),
    });
    const checked = await validateApp(loadApp({ root }));
    const problems = checked
      .filter((d) => d.jsonPath?.startsWith('$.config.project'))
      .map((d) => `${d.severity} ${d.file} ${d.jsonPath}`);
    assert.deepEqual(problems.sort(), [
      'error triggers/mixed.json $.config.project.fullDocument.secret',
      'error triggers/noOp.json $.config.project.operationType',
    ]);
    const run = await runCli(['validate'], root);
    assert.match(
      run.stdout,
      /error: triggers\/noOp\.json \$\.config\.project\.operationType: trigger 'noOp' excludes operationType .* \(remove "operationType": 0 from project\)/,
    );
    assert.match(
      run.stdout,
      /project mixes inclusion \(operationType, fullDocument\.status\) and exclusion \(fullDocument\.secret\)/,
    );
  });

  it('applyFilters: an exclusive project removes the fields; an inclusive one keeps only those', () => {
    const event = generateEvent(dbTrigger({ operation_types: ['INSERT'] }), {
      doc: { status: 'paid', secret: 's' },
    }) as Doc;
    const exclusive = applyFilters(
      dbTrigger({ operation_types: ['INSERT'], project: { 'fullDocument.secret': 0 } }),
      event,
    );
    assert.ok(exclusive.fires);
    assert.equal((exclusive.event['fullDocument'] as Doc)['secret'], undefined);
    assert.equal((exclusive.event['fullDocument'] as Doc)['status'], 'paid');
    assert.equal(exclusive.event['operationType'], 'insert');
  });
});

describe('whole-database triggers ("collection": "")', () => {
  const root = appWith({
    everything: databaseTrigger('everything', { collection: '', operation_types: ['INSERT'] }),
    orders: databaseTrigger('orders', { operation_types: ['INSERT'] }),
  });

  it('trigger list: shop.* (all collections) instead of "shop."', async () => {
    const run = await runCli(['trigger', 'list'], root);
    assert.match(run.stdout, /everything +DATABASE +onChange +shop\.\* \(all collections\) INSERT/);
    assert.match(run.stdout, /orders +DATABASE +onChange +shop\.orders INSERT/);
  });

  it('trigger event --coll: ns.coll is the collection written; without it a placeholder that says so', async () => {
    const chosen = await runCli(
      ['trigger', 'event', '--name', 'everything', '--coll', 'users'],
      root,
    );
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.deepEqual(decode(chosen.stdout)['ns'], { db: 'shop', coll: 'users' });
    assert.equal(chosen.stderr, '');

    const placeholder = await runCli(['trigger', 'event', '--name', 'everything'], root);
    assert.deepEqual(decode(placeholder.stdout)['ns'], {
      db: 'shop',
      coll: '<any collection: choose one with --coll>',
    });
    assert.match(
      placeholder.stderr,
      /note: trigger 'everything' watches every collection of shop: ns\.coll is a placeholder; choose the collection with --coll <name>/,
    );

    const wrong = await runCli(['trigger', 'event', '--name', 'orders', '--coll', 'users'], root);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /trigger 'orders' watches shop\.orders only, not shop\.users/);
  });

  it('trigger fire --coll: the function sees the real collection', async () => {
    const run = await runCli(['trigger', 'fire', '--name', 'everything', '--coll', 'users'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"coll": "users"/);
  });

  it('applyFilters: any collection of the database passes; another database or collection does not', () => {
    const everything = loaded(root, 'everything');
    const orders = loaded(root, 'orders');
    const on = (db: string, coll: string): Doc => ({
      operationType: 'insert',
      ns: { db, coll },
      fullDocument: { _id: 1 },
    });
    assert.equal(applyFilters(everything, on('shop', 'users')).fires, true);
    assert.equal(applyFilters(everything, on('shop', 'orders')).fires, true);
    const otherDb = applyFilters(everything, on('crm', 'users'));
    assert.equal(otherDb.fires, false);
    assert.equal(otherDb.fires ? '' : otherDb.stage, 'namespace');
    assert.match(
      otherDb.fires ? '' : otherDb.reason,
      /on crm\.users; the trigger watches shop\.\*/,
    );
    assert.equal(applyFilters(orders, on('shop', 'users')).fires, false);
    assert.equal(applyFilters(orders, on('shop', 'orders')).fires, true);
  });
});

describe("generated documents pass the trigger's own match", () => {
  const passing: [string, Doc, string[]?][] = [
    ['equality on a fullDocument field', { 'fullDocument.status': 'paid' }],
    ['$eq', { 'fullDocument.status': { $eq: 'paid' } }],
    ['$in', { 'fullDocument.status': { $in: ['paid', 'shipped'] } }],
    ['$gt/$lte numbers', { 'fullDocument.total': { $gt: 100, $lte: 200 } }],
    ['$gt/$lt with no integer between', { 'fullDocument.total': { $gt: 1, $lt: 2 } }],
    [
      '$gte/$lt with Decimal128 bounds',
      { 'fullDocument.price': { $gte: { $numberDecimal: '9.5' }, $lt: { $numberLong: '10' } } },
    ],
    [
      '$exists true and false',
      { 'fullDocument.coupon': { $exists: true }, 'fullDocument.name': { $exists: false } },
    ],
    [
      'nested fields and $and',
      { $and: [{ 'fullDocument.address.city': 'Paris' }, { 'fullDocument.a.b.c': { $gte: 3 } }] },
    ],
    ['a date bound', { 'fullDocument.when': { $gt: { $date: '2026-01-01T00:00:00Z' } } }],
    [
      'the first workable $or branch',
      { $or: [{ 'fullDocument.x': { $regex: '^a' } }, { 'fullDocument.y': 2 }] },
    ],
    ['operationType chooses the operation', { operationType: 'delete' }, ['INSERT', 'DELETE']],
    [
      'operationType $in and a field',
      { operationType: { $in: ['replace'] }, 'fullDocument.x': 1 },
      ['INSERT', 'REPLACE'],
    ],
    [
      'updatedFields on an UPDATE',
      { 'updateDescription.updatedFields.status': 'shipped' },
      ['UPDATE'],
    ],
    [
      'updatedFields nested',
      {
        'updateDescription.updatedFields.address.city': 'Lyon',
        'fullDocument.address.city': 'Lyon',
      },
      ['UPDATE'],
    ],
    [
      'fullDocumentBeforeChange',
      { 'fullDocumentBeforeChange.status': 'new', 'fullDocument.status': 'paid' },
      ['REPLACE'],
    ],
  ];

  for (const [what, match, types] of passing) {
    it(`generateTriggerEvent: ${what}`, () => {
      const trigger = dbTrigger({
        operation_types: types ?? ['INSERT', 'UPDATE'],
        match,
        full_document: true,
        full_document_before_change: true,
      });
      const { event, notes } = generateTriggerEvent(trigger);
      assert.deepEqual(notes, []);
      const outcome = applyFilters(trigger, event as Doc);
      assert.equal(outcome.fires, true, outcome.fires ? '' : outcome.reason);
    });
  }

  it('trigger fire with no --doc: the fixture-style paid-orders match passes', async () => {
    const root = appWith({
      paid: databaseTrigger('paid', {
        operation_types: ['INSERT'],
        match: { 'fullDocument.status': 'paid', 'fullDocument.total': { $gte: 50 } },
      }),
    });
    const run = await runCli(['trigger', 'fire', '--name', 'paid'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"status": "paid"/);
    assert.equal(run.stderr, '');
  });

  it('trigger event: when no document can be built it says so, naming the condition', async () => {
    const root = appWith({
      regex: databaseTrigger('regex', {
        operation_types: ['INSERT'],
        match: { 'fullDocument.name': { $regex: '^A' } },
      }),
      update: databaseTrigger('update', {
        operation_types: ['UPDATE'],
        match: { 'fullDocument.status': 'paid' },
      }),
    });
    const regex = await runCli(['trigger', 'event', '--name', 'regex'], root);
    assert.equal(regex.code, 0);
    assert.match(
      regex.stderr,
      /note: this event does not pass trigger 'regex's match: \{"fullDocument\.name":\{"\$regex":"\^A"\}\} fails \(cannot build: .*no value found that meets it\)/,
    );
    const update = await runCli(['trigger', 'event', '--name', 'update'], root);
    assert.match(update.stderr, /UPDATE events carry fullDocument only with "full_document": true/);
  });

  it('trigger fire: a filtered-out fire names the failed condition and a --doc that meets it, never the same event', async () => {
    const root = appWith({
      paid: databaseTrigger('paid', {
        operation_types: ['INSERT', 'UPDATE'],
        match: { 'fullDocument.status': 'paid', 'fullDocument.total': { $gt: 100 } },
      }),
      regex: databaseTrigger('regex', {
        operation_types: ['INSERT'],
        match: { 'fullDocument.name': { $regex: '^A' } },
      }),
    });
    const given = await runCli(
      ['trigger', 'fire', '--name', 'paid', '--doc', '{"status": "paid", "total": 7}'],
      root,
    );
    assert.equal(given.code, 1);
    const output = given.stdout + given.stderr;
    assert.match(
      output,
      /the generated event does not fire trigger 'paid': the event does not match \{"fullDocument\.total":\{"\$gt":100\}\} \(part of the match/,
    );
    assert.match(output, /--doc '\{"total":101\}'/);
    assert.doesNotMatch(output, /trigger event/);

    const op = await runCli(['trigger', 'fire', '--name', 'paid', '--op', 'delete'], root);
    assert.equal(op.code, 1);
    assert.match(op.stdout + op.stderr, /operation_types filter.*--op insert/s);

    const regex = await runCli(['trigger', 'fire', '--name', 'regex'], root);
    assert.equal(regex.code, 1);
    const regexOutput = regex.stdout + regex.stderr;
    assert.match(regexOutput, /\{"fullDocument\.name":\{"\$regex":"\^A"\}\}/);
    assert.match(regexOutput, /pass --doc \(and --op\/--before\) with fields that meet it/);
    assert.doesNotMatch(regexOutput, /trigger event/);
  });

  it('applyFilters: the outcome carries the failed condition and a hint with flags', () => {
    const trigger = dbTrigger({
      operation_types: ['INSERT'],
      match: { 'fullDocument.qty': { $gte: { $numberLong: '10' } } },
    });
    const outcome = applyFilters(
      trigger,
      generateEvent(trigger, { doc: { qty: new Int32(3) } }) as Doc,
    );
    assert.equal(outcome.fires, false);
    if (outcome.fires) return;
    assert.equal(outcome.stage, 'match');
    assert.deepEqual(outcome.condition, { 'fullDocument.qty': { $gte: Long.fromNumber(10) } });
    assert.match(outcome.hint, /--doc '\{"qty":10\}'/);
  });
});

describe('run_as_system under context.functions.execute', () => {
  it("a run_as_system callee runs as system when a normal user's function executes it", async () => {
    const root = tempApp({
      'functions/config.json': [
        { name: 'caller', private: false },
        { name: 'systemCallee', private: true, run_as_system: true },
      ],
      'functions/caller.js': `exports = async function () {
          const callee = await context.functions.execute('systemCallee');
          return { callee, callerAfter: context.runningAsSystem() };
        };`,
      'functions/systemCallee.js': `exports = function () {
          return { system: context.runningAsSystem() };
        };`,
    });
    const runner = createRunner({ app: loadApp({ root }).app });
    try {
      const run = await runner.execute('caller', [], { user: 'user-1' });
      assert.deepEqual(run.result, { callee: { system: true }, callerAfter: false });
    } finally {
      await runner.dispose();
    }
  });
});
