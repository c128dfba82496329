import { Script } from 'node:vm';

/**
 * Checks a function file's syntax with the host's V8 (the same parser version as the sandbox's),
 * only compiling, never running it, to get the line and column that the sandbox's eval() does
 * not report. Returns `file:line:column: message`, or undefined when the file parses.
 */
export function checkFunctionSyntax(file: string, source: string): string | undefined {
  try {
    new Script(source, { filename: file });
    return undefined;
  } catch (error) {
    if (!(error instanceof SyntaxError)) return undefined;
    // V8 puts "file:line\n<source line>\n   ^^^\n" at the top of a SyntaxError's stack.
    const [head = '', , caret = ''] = String(error.stack).split('\n');
    const line = /:(\d+)$/.exec(head)?.[1] ?? '1';
    const column = caret.indexOf('^') + 1 || 1;
    return `${file}:${line}:${column}: ${error.message}`;
  }
}
