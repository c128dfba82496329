/** The secret store across processes: concurrent writers and writers killed mid-write. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openSecretStore } from '../src/secrets/store.js';
import { repoRoot, tempApp } from './helpers.js';

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');

function exitOf(
  child: ReturnType<typeof spawn>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
}

describe('secret store across processes', () => {
  it('concurrency: 20 `secrets create` processes started at once leave 20 secrets', async () => {
    const root = tempApp({});
    const runs = Array.from({ length: 20 }, (_, i) =>
      exitOf(
        spawn(
          process.execPath,
          [BIN, 'secrets', 'create', '--name', `s${i}`, '--value', `value-${i}`],
          { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
        ),
      ),
    );
    const results = await Promise.all(runs);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const store = openSecretStore({ root, env: {} });
    const names = (await store.list()).map((s) => s.name).sort();
    assert.deepEqual(names, Array.from({ length: 20 }, (_, i) => `s${i}`).sort());
    for (let i = 0; i < 20; i++) assert.equal(await store.resolve(`s${i}`), `value-${i}`);
  });

  it('crash safety: a writer killed at any moment leaves a readable store holding a value it wrote', async () => {
    const root = tempApp({});
    const store = openSecretStore({ root, env: {} });
    await store.create('counter', 'value-0');
    const writer = path.join(root, 'writer.mjs');
    writeFileSync(
      writer,
      `import { openSecretStore } from ${JSON.stringify(path.join(repoRoot, 'dist/src/secrets/store.js'))};
const store = openSecretStore({ root: ${JSON.stringify(root)}, env: {} });
const round = process.argv[2];
for (let i = 1; ; i++) {
  await store.update('counter', { value: 'value-' + i });
  if (i % 3 === 0) await store.create('extra-' + round + '-' + i, 'x' + i);
  if (i % 3 === 2 && i > 3) await store.delete(['extra-' + round + '-' + (i - 2)]);
}
`,
    );
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, [writer, String(round)], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = exitOf(child);
      // Kill after a varying delay: before, during and between writes.
      await new Promise((resolve) => setTimeout(resolve, 60 + ((round * 37) % 150)));
      child.kill('SIGKILL');
      const { signal, stderr } = await exited;
      assert.equal(signal, 'SIGKILL', stderr);
      const fresh = openSecretStore({ root, env: {} });
      const value = await fresh.resolve('counter');
      assert.match(value, /^value-\d+$/);
      for (const { name } of await fresh.list()) assert.ok(await fresh.resolve(name));
    }
    // Leftovers of writers killed mid-attempt (a pid that cannot exist): a lock-attempt temp file,
    // and a store temp file.
    writeFileSync(path.join(root, '.triggerbox/secrets.lock.2147483646.0badcafe'), '2147483646');
    writeFileSync(path.join(root, '.triggerbox/.secrets.json.2147483646.0badcafe.tmp'), '{}');
    // The next writer takes over the dead writer's lock and clears its temp files.
    await store.update('counter', { value: 'after' });
    assert.equal(await store.resolve('counter'), 'after');
    assert.deepEqual(readdirSync(path.join(root, '.triggerbox')).sort(), [
      'master.key',
      'secrets.json',
    ]);
  });
});
