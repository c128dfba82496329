import { Script } from 'node:vm';
import type { Diagnostic, FunctionDef } from '../app/types.js';
import { transformImports } from './function-source.js';

export interface SyntaxProblem {
  line: number;
  column: number;
  message: string;
}

/**
 * Checks a function file's syntax with the host's V8 (the same parser version as the sandbox's,
 * but for the debugger's sandbox under Node 26, which runs on Node 24's: inspector/node24.ts),
 * only compiling, never running it, to get the line and column that the sandbox's eval() does
 * not report. Undefined when the file parses.
 */
export function checkFunctionSyntax(file: string, source: string): SyntaxProblem | undefined {
  try {
    new Script(source, { filename: file });
    return undefined;
  } catch (error) {
    if (!(error instanceof SyntaxError)) return undefined;
    // V8 puts "file:line\n<source line>\n   ^^^\n" at the top of a SyntaxError's stack.
    const [head = '', , caret = ''] = String(error.stack).split('\n');
    const line = Number(/:(\d+)$/.exec(head)?.[1] ?? '1');
    const column = caret.indexOf('^') + 1 || 1;
    return { line, column, message: error.message };
  }
}

/** A function file's syntax error as a diagnostic (validate, dev reloads). */
export function functionSyntaxDiagnostic(fn: FunctionDef): Diagnostic | undefined {
  // Import declarations at the top run as requires (function-source.ts): check what runs.
  const problem = checkFunctionSyntax(fn.file, transformImports(fn.source).source);
  if (problem === undefined) return undefined;
  return {
    severity: 'error',
    file: fn.file,
    line: problem.line,
    column: problem.column,
    message: `syntax error: ${problem.message}`,
  };
}
