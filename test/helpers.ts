/** Test helpers: temp apps built inline, and the CLI run in-process with captured output. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import { FunctionExecutionFailure } from '../src/runtime/runner.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = path.join(repoRoot, 'test/fixtures/apps');

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (path -> text, or an object written as JSON) under a fresh temp folder. */
export function tempApp(files: Record<string, string | object>, withRootConfig = true): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggerbox-test-'));
  made.push(dir);
  const all: Record<string, string | object> = withRootConfig
    ? { 'root_config.json': { name: 'test-app', environment: '' }, ...files }
    : files;
  for (const [file, content] of Object.entries(all)) {
    const abs = path.join(dir, file);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Piped stdin content (stdin is then not a terminal). */
  stdin?: string;
  /**
   * Answers to terminal prompts (stdin is then a terminal). Once they run out, input has ended
   * (Ctrl-D): the prompt gets no answer, as from a closed terminal.
   */
  answers?: string[];
}

/** Runs the CLI in-process, as `triggerbox <argv>` from `cwd`. */
export async function runCli(
  argv: string[],
  cwd: string,
  options: CliOptions = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const answers = [...(options.answers ?? [])];
  const code = await main(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    cwd,
    env: options.env ?? {},
    stdin: {
      isTTY: options.answers !== undefined,
      read: () => Promise.resolve(options.stdin ?? ''),
    },
    prompt: (question) => {
      stderr += question;
      return Promise.resolve(answers.shift());
    },
  });
  return { code, stdout, stderr };
}

let unprivilegedNode: string | undefined;

/**
 * A node binary that an unprivileged user (uid 65534, for tests of permission errors, which root
 * never meets) can run. The Node that scripts/node.sh brings lives under root's home, which
 * others cannot enter: then a copy in a world-readable temp folder.
 */
export function nodeForUnprivileged(): string {
  if (unprivilegedNode !== undefined) return unprivilegedNode;
  const othersCanRun = (file: string): boolean => {
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (dir === path.dirname(dir)) break;
    }
    return (statSync(file).mode & 0o005) === 0o005;
  };
  if (othersCanRun(process.execPath)) {
    unprivilegedNode = process.execPath;
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), 'triggerbox-node-'));
    made.push(dir);
    chmodSync(dir, 0o755);
    unprivilegedNode = path.join(dir, 'node');
    copyFileSync(process.execPath, unprivilegedNode);
    chmodSync(unprivilegedNode, 0o755);
    accessSync(unprivilegedNode, constants.X_OK);
  }
  return unprivilegedNode;
}

/**
 * Runs node with `args`, as an unprivileged user (uid 65534) when `unprivileged` is set and this
 * process is root: root reads anything, so permission errors are only seen that way.
 */
export function runNode(
  args: string[],
  cwd: string,
  options: { unprivileged?: boolean; env?: Record<string, string> } = {},
): Promise<CliRun & { code: number | null }> {
  const unprivileged = options.unprivileged === true && process.getuid?.() === 0;
  const child = spawn(unprivileged ? nodeForUnprivileged() : process.execPath, args, {
    cwd,
    env:
      options.env === undefined ? process.env : { PATH: process.env['PATH'] ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(unprivileged ? { uid: 65534, gid: 65534 } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code: code as number, stdout, stderr })),
  );
}

/** The failure a call ends with; fails the test when the call succeeds or fails otherwise. */
export async function failure(promise: Promise<unknown>): Promise<FunctionExecutionFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FunctionExecutionFailure, String(error));
    return error;
  }
  assert.fail('expected the call to fail');
}
