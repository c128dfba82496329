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

export function processIO(): CliIO {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
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
    stdoutIsTTY: process.stdout.isTTY === true,
  };
}
