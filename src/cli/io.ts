/** What a command may touch of the outside world; tests pass their own to capture output. */

export interface CliStdin {
  /** True when stdin is a terminal: values are then asked for with a masked prompt. */
  isTTY: boolean;
  /** Everything on stdin (for values piped in). */
  read(): Promise<string>;
}

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
  env: Record<string, string | undefined>;
  stdin?: CliStdin | undefined;
  /**
   * Asks a question on the terminal; `masked` echoes `*` instead of what is typed. Resolves
   * `undefined` at the end of input (Ctrl-D, stdin closed): callers then fail as if the user gave
   * up, since no answer will ever come.
   */
  prompt?: ((question: string, masked: boolean) => Promise<string | undefined>) | undefined;
  /** True when stdout is a terminal (table headers are then bold, as appservices prints them). */
  stdoutIsTTY?: boolean | undefined;
  /**
   * Set by main() once a command is selected: its name as appservices prints it in errors
   * (`run failed: ...`, `secrets create failed: ...`), and whether colours are off.
   */
  command?: string | undefined;
  disableColors?: boolean | undefined;
}

function readAll(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
    });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

function terminalPrompt(question: string, masked: boolean): Promise<string | undefined> {
  streamsUsed.stderr = true;
  quietOnEpipe(process.stderr);
  return new Promise((resolve) => {
    // node:readline at the first prompt: most commands never ask.
    const { createInterface } = process.getBuiltinModule('node:readline');
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    // End of input closes the interface without an answer: settle, or the pending promise would
    // leave Node to exit 13 with "unsettled top-level await".
    rl.on('close', () => {
      if (answered) return;
      process.stderr.write('\n');
      resolve(undefined);
    });
    if (masked) {
      // Echo one * per typed character instead of the character itself.
      const output = rl as unknown as { _writeToOutput: (text: string) => void };
      output._writeToOutput = (text: string) => {
        if (text.startsWith(question))
          process.stderr.write(question + '*'.repeat(Math.max(0, text.length - question.length)));
        else if (text === '\r\n' || text === '\n') process.stderr.write(text);
        else process.stderr.write('*'.repeat(text.length));
      };
    }
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      if (masked) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** Set once output went through a stream (process.stdout or process.stderr): run() flushes it. */
export const streamsUsed = { stdout: false, stderr: false };

/** `triggerbox function list | head -1`: the reader went away; stop quietly, as Unix tools do. */
function quietOnEpipe(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  if (stream.listenerCount('error') === 0) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return stream;
}

/**
 * Writes to fd 1 or 2 with write(2) itself when it is a file or a terminal, not through
 * process.stdout or process.stderr: building those streams loads Node's stream modules (and tty),
 * 3-9 ms of every command, and Node writes to files and terminals synchronously too. A pipe or a
 * socket keeps Node's stream, which queues what a slow reader has not taken (`triggerbox dev |
 * less`) instead of stopping the process. Once the descriptor refuses a write (EAGAIN: made
 * non-blocking by someone else), that write and every later one go through the stream, in order.
 * Windows keeps the streams: its console wants UTF-16, which libuv's tty stream converts to.
 */
function writer(name: 'stdout' | 'stderr'): (text: string) => void {
  const fd = name === 'stdout' ? 1 : 2;
  const stream = (): NodeJS.WriteStream => {
    streamsUsed[name] = true;
    return quietOnEpipe(process[name]);
  };
  let direct: boolean | undefined;
  return (text) => {
    direct ??= process.platform !== 'win32' && fileOrTerminal(fd);
    if (direct) {
      const { writeSync } = process.getBuiltinModule('node:fs');
      const bytes = Buffer.from(text, 'utf8');
      let done = 0;
      try {
        while (done < bytes.length) done += writeSync(fd, bytes, done);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
        if (code !== 'EAGAIN') throw error;
        direct = false;
        stream().write(bytes.subarray(done));
        return;
      }
    }
    stream().write(text);
  };
}

/** Whether `fd` is a regular file or a character device (a terminal, /dev/null). */
function fileOrTerminal(fd: number): boolean {
  try {
    const stat = process.getBuiltinModule('node:fs').fstatSync(fd);
    return stat.isFile() || stat.isCharacterDevice();
  } catch {
    return false;
  }
}

/** Whether fd 1 is a terminal, without loading node:tty when it is a file or a pipe. */
function stdoutIsTerminal(): boolean {
  if (streamsUsed.stdout || process.platform === 'win32') return process.stdout.isTTY === true;
  const { fstatSync, statSync } = process.getBuiltinModule('node:fs');
  try {
    const stat = fstatSync(1);
    // A file, a pipe, or /dev/null (a character device too, and where scripts send output).
    if (!stat.isCharacterDevice() || stat.rdev === statSync('/dev/null').rdev) return false;
  } catch {
    return false;
  }
  return process.getBuiltinModule('node:tty').isatty(1);
}

export function processIO(): CliIO {
  return {
    stdout: writer('stdout'),
    stderr: writer('stderr'),
    cwd: process.cwd(),
    env: process.env,
    // A getter: process.stdin builds its stream (and loads Node's fs streams, about 5 ms) on
    // first use, and most commands never read it.
    stdin: {
      get isTTY() {
        return process.stdin.isTTY === true;
      },
      read: readAll,
    },
    prompt: terminalPrompt,
    // Asked when a table is printed (its headers are bold on a terminal), not at every start.
    get stdoutIsTTY() {
      return stdoutIsTerminal();
    },
  };
}
