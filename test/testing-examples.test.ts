/** The Vitest and Jest examples of README's "Testing your functions", run as a user would. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('the Vitest example passes', async () => {
  const { code, output } = await run([
    path.join(repoRoot, 'node_modules/vitest/vitest.mjs'),
    'run',
    'examples/vitest',
  ]);
  assert.equal(code, 0, output);
  assert.match(output, /2 passed/);
});

test('the Jest example passes (ES modules: --experimental-vm-modules)', async () => {
  const { code, output } = await run([
    '--experimental-vm-modules',
    '--no-node-snapshot',
    path.join(repoRoot, 'node_modules/jest/bin/jest.js'),
    '--config',
    'examples/jest/jest.config.mjs',
    '--rootDir',
    'examples/jest',
  ]);
  assert.equal(code, 0, output);
  assert.match(output, /Tests:\s+2 passed/);
});
