import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Decimal128, Long, ObjectId } from 'bson';
import {
  exportDocuments,
  importDocuments,
  openAppDatabase,
  parseDocuments,
  seedIfEmpty,
  type Doc,
} from '../src/services/mongodb/index.js';
import { runCli, tempApp, repoRoot } from './helpers.js';

const db = (root: string, ...argv: string[]) => runCli(['db', ...argv], root);

/** What the local database holds, read through the library (the CLI runs have closed it). */
async function contents(root: string, ns = { db: 'shop', coll: 'orders' }): Promise<Doc[]> {
  const engine = await openAppDatabase({ root });
  try {
    return await (await engine.find({ ns })).toArray();
  } finally {
    await engine.close();
  }
}

const ORDERS = [
  { _id: 1, status: 'paid', total: 10 },
  { _id: 2, status: 'new', total: 25 },
  { _id: 3, status: 'paid', total: 5 },
];

describe('db commands', () => {
  it('db import / list / find: data persists across separate CLI runs', async () => {
    const root = tempApp({ 'orders.json': ORDERS });
    const imported = await db(root, 'import', '--ns', 'shop.orders', '--file', 'orders.json');
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(imported.stdout, 'Imported 3 documents into shop.orders\n');
    const list = await db(root, 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /Found 1 collection in \.triggerbox\/db\n/);
    assert.match(list.stdout, /shop +orders +3/);
    const found = await db(
      root,
      'find',
      '--ns',
      'shop.orders',
      '--filter',
      '{"status": "paid"}',
      '--sort',
      '{"total": -1}',
      '--projection',
      '{"status": 0}',
    );
    assert.equal(found.code, 0, found.stderr);
    assert.equal(
      found.stdout,
      'Found 2 documents in shop.orders matching the filter\n' +
        '{\n  "_id": 1,\n  "total": 10\n}\n{\n  "_id": 3,\n  "total": 5\n}\n',
    );
    assert.match(readFileSync(path.join(root, '.gitignore'), 'utf8'), /^\.triggerbox\/db\/$/m);
  });

  it('db find: shows 20 by default and says so, --limit 0 shows all, -f json prints canonical lines', async () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ _id: i, n: i }));
    const root = tempApp({ 'many.json': many });
    assert.equal((await db(root, 'import', '--ns', 'a.b', '--file', 'many.json')).code, 0);
    const first = await db(root, 'find', '--ns', 'a.b');
    assert.match(first.stdout, /^Showing 20 of 25 documents in a\.b \(--limit 0 shows all\)\n/);
    assert.equal(first.stdout.match(/"_id"/g)?.length, 20);
    const all = await db(root, 'find', '--ns', 'a.b', '--limit', '0');
    assert.equal(all.stdout.match(/"_id"/g)?.length, 25);
    const json = await db(root, 'find', '--ns', 'a.b', '--limit', '2', '-f', 'json');
    assert.equal(
      json.stdout,
      '{"_id":{"$numberInt":"0"},"n":{"$numberInt":"0"}}\n{"_id":{"$numberInt":"1"},"n":{"$numberInt":"1"}}\n',
    );
    const missing = await db(root, 'find', '--ns', 'a.nothing');
    assert.equal(missing.code, 0);
    assert.match(missing.stderr, /warning: a\.nothing does not exist in the local database/);
  });

  it('db find: a malformed or non-document --filter fails with its column, before opening anything', async () => {
    const root = tempApp({});
    const bad = await db(root, 'find', '--ns', 'shop.orders', '--filter', '{"a": }');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /db find setup failed: --filter column 7: malformed JSON/);
    const array = await db(root, 'find', '--ns', 'shop.orders', '--sort', '[1]');
    assert.match(array.stderr, /--sort: the value is an array, not a document/);
    const ejson = await db(
      root,
      'find',
      '--ns',
      'shop.orders',
      '--filter',
      '{"_id": {"$oid": "x"}}',
    );
    assert.match(ejson.stderr, /--filter: invalid Extended JSON/);
  });

  it('db import: mongoexport lines (CRLF, blank lines, BOM), pretty-printed documents, and stdin', () => {
    const lines = parseDocuments(
      '\ufeff{"_id": 1}\r\n\r\n{"_id": 2, "d": {"$date": "2024-01-01T00:00:00Z"}}\r\n',
      'f',
    );
    assert.deepEqual(
      lines.map((d) => d.line),
      [1, 3],
    );
    assert.ok(lines[1]?.doc['d'] instanceof Date);
    const pretty = parseDocuments('{\n  "_id": 1\n}\n{\n  "_id": 2,\n  "s": "a}"\n}\n', 'f');
    assert.deepEqual(
      pretty.map((d) => [d.doc['_id'], d.line]),
      [
        [1, 1],
        [2, 4],
      ],
    );
    return (async () => {
      const root = tempApp({});
      const run = await runCli(['db', 'import', '--ns', 'shop.orders', '--file', '-'], root, {
        stdin: '{"_id": 1}\n{"_id": 2}\n',
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal((await contents(root)).length, 2);
    })();
  });

  it('db import: a bad line fails the whole import, naming line and column; nothing changes', async () => {
    const root = tempApp({
      'good.json': ORDERS,
      'bad.jsonl': '{"_id": 10}\n{"_id": 11}\n{"_id": 12,, }\n',
      'array.json': '[\n  {"_id": 20},\n  [1, 2]\n]',
      'oid.jsonl': '{"_id": 30}\n{"$oid": "65a000000000000000000001"}\n',
      'ejson.jsonl': '{"_id": {"$oid": "nope"}}\n',
      'dup.jsonl': '{"_id": 40}\n{"_id": 40}\n',
      'clash.jsonl': '{"_id": 50}\n{"_id": 1}\n',
    });
    assert.equal((await db(root, 'import', '--ns', 'shop.orders', '--file', 'good.json')).code, 0);
    const cases: [string, RegExp][] = [
      ['bad.jsonl', /bad\.jsonl:3:12: malformed JSON/],
      ['array.json', /array\.json:3:3: element 1 is an array, not a document/],
      ['oid.jsonl', /oid\.jsonl:2:1: the document on line 2 is an ObjectId in Extended JSON/],
      ['ejson.jsonl', /ejson\.jsonl:1:1: invalid Extended JSON/],
      ['dup.jsonl', /dup\.jsonl:2: E11000 duplicate key error/],
      ['clash.jsonl', /clash\.jsonl:2: E11000 duplicate key error .* dup key: \{ _id: 1 \}/],
    ];
    for (const [file, message] of cases) {
      const run = await db(root, 'import', '--ns', 'shop.orders', '--file', file);
      assert.equal(run.code, 1, file);
      assert.match(run.stderr, /^db import failed: /);
      assert.match(run.stderr, message);
      assert.deepEqual(
        (await contents(root)).map((d) => d['_id']),
        [1, 2, 3],
        `${file} changed nothing`,
      );
    }
    const replaced = await db(
      root,
      'import',
      '--ns',
      'shop.orders',
      '--file',
      'clash.jsonl',
      '--drop',
    );
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal(
      replaced.stdout,
      'Imported 2 documents into shop.orders (replacing 3 documents)\n',
    );
    assert.deepEqual(
      (await contents(root)).map((d) => d['_id']),
      [50, 1],
    );
  });

  it('db import: a missing file, a folder, a FIFO and a bad namespace are refused before anything is opened', async () => {
    const root = tempApp({ 'dir/x.json': '[]' });
    execFileSync('mkfifo', [path.join(root, 'pipe.json')]);
    const cases: [string[], RegExp][] = [
      [['--ns', 'shop.orders', '--file', 'nope.json'], /the file nope\.json does not exist/],
      [
        ['--ns', 'shop.orders', '--file', 'dir'],
        /the file dir is a directory; nothing was imported/,
      ],
      [['--ns', 'shop.orders', '--file', 'pipe.json'], /the file pipe\.json is a FIFO/],
      [
        ['--ns', 'shop', '--file', 'dir/x.json'],
        /invalid namespace 'shop': it is not <database>\.<collection>/,
      ],
      [['--ns', '.orders', '--file', 'dir/x.json'], /invalid namespace '\.orders'/],
      [['--ns', 'sh$op.orders', '--file', 'dir/x.json'], /invalid namespace 'sh\$op\.orders'/],
      [['--ns', 'shop.system.x', '--file', 'dir/x.json'], /system collections/],
    ];
    for (const [argv, message] of cases) {
      const run = await db(root, 'import', ...argv);
      assert.equal(run.code, 1, argv.join(' '));
      assert.match(run.stderr, message);
    }
    const list = await db(root, 'list');
    assert.match(list.stdout, /is empty/);
  });

  it('db export: canonical lines (or --array) that re-import with every BSON type intact', async () => {
    const original: Doc[] = [
      {
        _id: new ObjectId('65a000000000000000000001'),
        at: new Date('2024-05-06T07:08:09.123Z'),
        big: Long.fromString('9007199254740993'),
        price: Decimal128.fromString('19.99'),
        n: 3,
        x: 1.5,
        wide: 3_000_000_000,
        nested: { list: [Long.fromNumber(1), new Date(0)] },
      },
      { _id: 'two', empty: {} },
    ];
    const root = tempApp({});
    const ns = { db: 'shop', coll: 'orders' };
    const engine = await openAppDatabase({ root, durable: false });
    let text: string;
    try {
      await engine.insertMany({ ns, documents: original });
      text = (await exportDocuments({ engine, ns })).text;
    } finally {
      await engine.close();
    }
    assert.equal(text.split('\n').length, 3);
    assert.match(text, /"big":\{"\$numberLong":"9007199254740993"\}/);
    assert.match(
      text,
      /"wide":\{"\$numberDouble":"3000000000\.0"\}|"wide":\{"\$numberDouble":"3000000000"\}/,
    );
    const out = await db(root, 'export', '--ns', 'shop.orders', '--out', 'orders.json');
    assert.equal(out.stdout, 'Exported 2 documents from shop.orders to orders.json\n');
    assert.equal(readFileSync(path.join(root, 'orders.json'), 'utf8'), text);
    const array = await db(root, 'export', '--ns', 'shop.orders', '--array');
    assert.equal((JSON.parse(array.stdout) as unknown[]).length, 2);
    writeFileSync(path.join(root, 'array.json'), array.stdout);
    for (const file of ['orders.json', 'array.json']) {
      const run = await db(root, 'import', '--ns', 'copy.orders', '--file', file, '--drop');
      assert.equal(run.code, 0, run.stderr);
      const copy = await contents(root, { db: 'copy', coll: 'orders' });
      assert.deepEqual(copy, original);
      assert.ok(copy[0]?.['big'] instanceof Long);
      assert.ok(copy[0]?.['price'] instanceof Decimal128);
      assert.ok(copy[0]?.['_id'] instanceof ObjectId);
      assert.equal(typeof copy[0]?.['wide'], 'number');
    }
  });

  it('db find: shows BSON values on one line each, Longs beyond 2^53 exactly', async () => {
    const root = tempApp({
      'o.json': [
        {
          _id: { $oid: '65a000000000000000000001' },
          at: { $date: '2024-01-02T03:04:05Z' },
          big: { $numberLong: '9007199254740993' },
          small: { $numberLong: '5' },
          items: [{ sku: 'a' }],
        },
      ],
    });
    await db(root, 'import', '--ns', 'shop.orders', '--file', 'o.json');
    const run = await db(root, 'find', '--ns', 'shop.orders');
    assert.equal(
      run.stdout,
      'Found 1 document in shop.orders\n{\n  "_id": {"$oid": "65a000000000000000000001"},\n  "at": {"$date": "2024-01-02T03:04:05Z"},\n  "big": {"$numberLong": "9007199254740993"},\n  "small": 5,\n  "items": [\n    {\n      "sku": "a"\n    }\n  ]\n}\n',
    );
  });

  it('db reset: asks on a terminal, refuses without one unless -y, and --ns drops one collection', async () => {
    const root = tempApp({ 'o.json': ORDERS });
    await db(root, 'import', '--ns', 'shop.orders', '--file', 'o.json');
    await db(root, 'import', '--ns', 'shop.users', '--file', 'o.json');
    const refused = await db(root, 'reset');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /db reset setup failed: deleting data needs a confirmation/);
    assert.match(refused.stderr, /hint: pass -y \(--yes\)/);
    const no = await runCli(['db', 'reset'], root, { answers: ['n'] });
    assert.match(
      no.stderr,
      /\? Delete the whole local database \(2 collections, 6 documents\)\? \(y\/N\)/,
    );
    assert.equal(no.stdout, 'Nothing was deleted\n');
    assert.equal((await contents(root)).length, 3);
    const one = await runCli(['db', 'reset', '--ns', 'shop.users'], root, { answers: ['y'] });
    assert.equal(one.stdout, 'Deleted shop.users (3 documents)\n');
    assert.doesNotMatch((await db(root, 'list')).stdout, /users/);
    const all = await db(root, 'reset', '-y');
    assert.equal(all.stdout, 'Deleted the whole local database (1 collection, 3 documents)\n');
    assert.match((await db(root, 'list')).stdout, /is empty/);
    assert.equal(
      (await db(root, 'reset', '--yes')).stdout,
      'The local database is already empty\n',
    );
  });

  it('db seed: loads .triggerbox/seed/<db>/<coll>.json, replacing those collections; a bad seed loads nothing', async () => {
    const root = tempApp({
      '.triggerbox/seed/shop/orders.json': ORDERS,
      '.triggerbox/seed/shop/users.json': '{"_id": "ann"}\n{"_id": "bob"}\n',
      'extra.json': [{ _id: 99 }],
    });
    await db(root, 'import', '--ns', 'shop.orders', '--file', 'extra.json');
    const run = await db(root, 'seed');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Loaded 2 seed files from \.triggerbox\/seed/);
    assert.match(run.stdout, /shop\.orders +3 +\.triggerbox\/seed\/shop\/orders\.json/);
    assert.deepEqual(
      (await contents(root)).map((d) => d['_id']),
      [1, 2, 3],
    );
    writeFileSync(path.join(root, '.triggerbox/seed/shop/orders.json'), '[{"_id": 7}]');
    writeFileSync(path.join(root, '.triggerbox/seed/shop/users.json'), '{"_id": "x"}\n{"_id": }\n');
    const bad = await db(root, 'seed');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\.triggerbox\/seed\/shop\/users\.json:2:9: malformed JSON/);
    assert.deepEqual(
      (await contents(root)).map((d) => d['_id']),
      [1, 2, 3],
    );
    const none = await db(tempApp({}), 'seed');
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /db seed failed: no seed files in .*\.triggerbox\/seed\nhint: add \.triggerbox\/seed\/<database>\/<collection>\.json/,
    );
  });

  it('seedIfEmpty: seeds a fresh database once, and leaves one with data alone', async () => {
    const root = tempApp({ '.triggerbox/seed/shop/orders.json': ORDERS });
    const engine = await openAppDatabase({ root, durable: false });
    try {
      const first = await seedIfEmpty({ engine, root });
      assert.deepEqual(first?.loaded, [
        { ns: { db: 'shop', coll: 'orders' }, file: '.triggerbox/seed/shop/orders.json', count: 3 },
      ]);
      await engine.deleteOne({ ns: { db: 'shop', coll: 'orders' }, filter: { _id: 1 } });
      assert.equal(await seedIfEmpty({ engine, root }), undefined);
      assert.equal(await engine.countDocuments({ ns: { db: 'shop', coll: 'orders' } }), 2);
    } finally {
      await engine.close();
    }
    const bare = tempApp({});
    const engine2 = await openAppDatabase({ root: bare, durable: false });
    try {
      assert.equal(await seedIfEmpty({ engine: engine2, root: bare }), undefined);
    } finally {
      await engine2.close();
    }
  });

  it('importDocuments: the library call is all or nothing too', async () => {
    const root = tempApp({});
    const engine = await openAppDatabase({ root, durable: false });
    const ns = { db: 'shop', coll: 'orders' };
    try {
      await engine.createIndex({ ns, key: { email: 1 }, unique: true });
      await engine.insertOne({ ns, document: { _id: 1, email: 'a@x' } });
      await assert.rejects(
        importDocuments({
          engine,
          ns,
          text: '{"_id": 2, "email": "b@x"}\n{"_id": 3, "email": "a@x"}\n',
          source: 'in.jsonl',
        }),
        /in\.jsonl:2: E11000 duplicate key error .*email_1/,
      );
      assert.equal(await engine.countDocuments({ ns }), 1);
      const result = await importDocuments({
        engine,
        ns,
        text: '[{"_id": 2, "email": "b@x"}]',
        source: 'in.json',
      });
      assert.deepEqual(result, { ns, inserted: 1, dropped: 0 });
    } finally {
      await engine.close();
    }
  });

  it('openAppDatabase: a database open elsewhere is reported with its owner and how to proceed', async () => {
    const root = tempApp({});
    const engine = await openAppDatabase({ root, durable: false });
    try {
      const run = await db(root, 'list');
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /db list failed: the app's local database \.triggerbox\/db is already open in this process/,
      );
    } finally {
      await engine.close();
    }
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { openAppDatabase } = await import(${JSON.stringify(path.join(repoRoot, 'dist/src/services/mongodb/index.js'))});
         await openAppDatabase({ root: process.argv[1] });
         process.stdout.write('ready\\n');
         setInterval(() => {}, 1000);`,
        root,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) resolve();
        });
        holder.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      const run = await db(root, 'import', '--ns', 'a.b', '--file', '-');
      assert.equal(run.code, 1);
      const locked = await runCli(['db', 'list'], root);
      assert.match(
        locked.stderr,
        new RegExp(
          `db list failed: the app's local database \\.triggerbox/db is in use by another process: pid ${holder.pid}`,
        ),
      );
      assert.match(
        locked.stderr,
        new RegExp(`hint: .*stop that one \\(Ctrl-C in its terminal, or kill ${holder.pid}\\)`),
      );
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // The lock of a killed owner is taken over.
    assert.equal((await db(root, 'list')).code, 0);
  });

  it('openAppDatabase: .triggerbox/db as a symlink is refused; an existing .gitignore gets one line, once', async () => {
    const root = tempApp({ '.gitignore': 'node_modules/' });
    await db(root, 'list');
    await db(root, 'list');
    assert.equal(
      readFileSync(path.join(root, '.gitignore'), 'utf8'),
      "node_modules/\n# triggerbox local database: each developer's own data (commit seeds in .triggerbox/seed/ instead)\n.triggerbox/db/\n",
    );
    const other = tempApp({});
    mkdirSync(path.join(other, '.triggerbox'));
    symlinkSync(path.join(root, '.triggerbox/db'), path.join(other, '.triggerbox/db'));
    const run = await db(other, 'list');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\.triggerbox\/db is a symlink; it was not opened/);
  });
});
