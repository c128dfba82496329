/**
 * Function files as real apps write them (SPEC section 2), read without running them:
 *
 * - `transformImports`: ES `import` declarations at the top of a file become requires of the same
 *   packages, on the same lines (the rest of the file runs verbatim, so line numbers stay exact).
 * - `scanFunctionSource`: top-level `require` calls (the platform refuses them; `validate` reports
 *   them with the message `function run` fails with) and what the platform's JavaScript support
 *   table marks unsupported (BigInt, Proxy, Reflect, WeakSet, RegExp `y`/`u`): warnings only.
 *
 * A small tokenizer, not a parser: it follows strings, templates, comments, regular expressions
 * and brackets, which is what these questions need. Where it cannot tell, it stays quiet (a
 * missed warning is better than a false error).
 */
import { topLevelRequireMessage } from './boundary/messages.js';

interface Token {
  type: 'id' | 'num' | 'str' | 'regex' | 'punc' | 'tpl';
  value: string;
  /** 1-based line and column of the token's first character. */
  line: number;
  column: number;
  start: number;
  end: number;
}

const REGEX_AFTER_WORDS = new Set([
  'return',
  'typeof',
  'case',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
  'else',
  'do',
]);
const PUNCTUATORS = [
  '>>>=',
  '...',
  '===',
  '!==',
  '**=',
  '<<=',
  '>>=',
  '>>>',
  '&&=',
  '||=',
  '??=',
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '?.',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '<<',
  '>>',
  '**',
];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  // Template literals open `${` groups; a `}` closing one resumes the template.
  const braces: ('{' | '${')[] = [];
  const push = (type: Token['type'], start: number, startLine: number, startCol: number): void => {
    tokens.push({
      type,
      value: source.slice(start, i),
      line: startLine,
      column: startCol,
      start,
      end: i,
    });
  };
  const advanceOver = (end: number): void => {
    for (; i < end && i < source.length; i++) {
      if (source[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
  };
  const template = (): void => {
    // i is just after a backtick or a template's closing `}`.
    while (i < source.length) {
      const c = source[i];
      if (c === '\\') {
        advanceOver(i + 2);
      } else if (c === '`') {
        i++;
        return;
      } else if (c === '$' && source[i + 1] === '{') {
        i += 2;
        braces.push('${');
        return;
      } else advanceOver(i + 1);
    }
  };
  const regexAllowed = (): boolean => {
    const prev = tokens[tokens.length - 1];
    if (prev === undefined) return true;
    if (prev.type === 'punc') return ![')', ']', '}'].includes(prev.value);
    if (prev.type === 'id') return REGEX_AFTER_WORDS.has(prev.value);
    return false;
  };
  while (i < source.length) {
    const c = source[i] as string;
    const start = i;
    const startLine = line;
    const startCol = i - lineStart + 1;
    if (c === '\n') {
      advanceOver(i + 1);
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && source[i + 1] === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      advanceOver(end < 0 ? source.length : end + 2);
    } else if (c === '"' || c === "'") {
      i++;
      while (i < source.length && source[i] !== c && source[i] !== '\n') {
        i += source[i] === '\\' ? 2 : 1;
      }
      i++;
      push('str', start, startLine, startCol);
    } else if (c === '`') {
      i++;
      template();
      push('tpl', start, startLine, startCol);
    } else if (/[A-Za-z_$\u0080-\uffff]/.test(c)) {
      while (i < source.length && /[\w$\u0080-\uffff]/.test(source[i] as string)) i++;
      push('id', start, startLine, startCol);
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      while (i < source.length && /[\w.]/.test(source[i] as string)) i++;
      push('num', start, startLine, startCol);
    } else if (c === '/' && regexAllowed()) {
      i++;
      let inClass = false;
      while (i < source.length && source[i] !== '\n') {
        const d = source[i];
        if (d === '\\') i++;
        else if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        i++;
      }
      i++;
      while (i < source.length && /[a-z]/.test(source[i] as string)) i++;
      push('regex', start, startLine, startCol);
    } else if (c === '}' && braces[braces.length - 1] === '${') {
      braces.pop();
      i++;
      template();
    } else {
      const punc = PUNCTUATORS.find((p) => source.startsWith(p, i)) ?? c;
      i += punc.length;
      if (punc === '{') braces.push('{');
      else if (punc === '}') braces.pop();
      push('punc', start, startLine, startCol);
    }
  }
  return tokens;
}

/** A JS string literal's value (the tokens this file reads: plain package names). */
function stringValue(token: Token): string {
  try {
    return JSON.parse(
      token.value[0] === "'"
        ? `"${token.value.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"`
        : token.value,
    ) as string;
  } catch {
    return token.value.slice(1, -1);
  }
}

export interface ImportTransform {
  /** The file with its leading import declarations replaced, line for line. */
  source: string;
  /** The last line that holds a transformed import (0 when there is none). */
  importLines: number;
}

/**
 * Turns the import declarations at the top of a function file into requires of the same packages,
 * each on the lines the declaration held: `import x from 'p'` (x is the package's default export,
 * or the CommonJS module itself), `import {a, b as c} from 'p'`, `import * as ns from 'p'`,
 * `import 'p'`. Anything else is left as it is (and fails to parse, as it would on the platform).
 */
export function transformImports(source: string): ImportTransform {
  if (!/(^|[\s;])import[\s{*'"]/.test(source)) return { source, importLines: 0 };
  const tokens = tokenize(source);
  const pieces: { start: number; end: number; text: string }[] = [];
  let importLines = 0;
  let k = 0;
  for (;;) {
    const token = tokens[k];
    if (token === undefined) break;
    // Leading directives ('use strict') and empty statements.
    if (token.type === 'str' && tokens[k + 1]?.value === ';') {
      k += 2;
      continue;
    }
    if (token.type === 'punc' && token.value === ';') {
      k++;
      continue;
    }
    if (token.type !== 'id' || token.value !== 'import') break;
    const next = tokens[k + 1];
    if (next === undefined || next.value === '(' || next.value === '.') break;
    const parsed = parseImport(tokens, k + 1);
    if (parsed === undefined) break;
    let last = tokens[parsed.next - 1] as Token;
    if (tokens[parsed.next]?.value === ';') {
      last = tokens[parsed.next] as Token;
      parsed.next++;
    }
    const lines = last.line - token.line;
    pieces.push({
      start: token.start,
      end: last.end,
      text: `${parsed.code}${'\n'.repeat(lines)}`,
    });
    importLines = last.line;
    k = parsed.next;
  }
  if (pieces.length === 0) return { source, importLines: 0 };
  let out = '';
  let at = 0;
  for (const piece of pieces) {
    out += source.slice(at, piece.start) + piece.text;
    at = piece.end;
  }
  return { source: out + source.slice(at), importLines };
}

function parseImport(tokens: Token[], from: number): { code: string; next: number } | undefined {
  let k = from;
  const at = (offset = 0): Token | undefined => tokens[k + offset];
  const ident = (t: Token | undefined): t is Token => t !== undefined && t.type === 'id';
  if (at()?.type === 'str') {
    return { code: `require(${JSON.stringify(stringValue(at() as Token))});`, next: k + 1 };
  }
  let defaultName: string | undefined;
  let namespace: string | undefined;
  const named: [string, string][] = [];
  if (ident(at()) && at()?.value !== 'from') {
    defaultName = (at() as Token).value;
    k++;
    if (at()?.value === ',') k++;
  }
  if (at()?.value === '*') {
    if (at(1)?.value !== 'as' || !ident(at(2))) return undefined;
    namespace = (at(2) as Token).value;
    k += 3;
  } else if (at()?.value === '{') {
    k++;
    while (at() !== undefined && at()?.value !== '}') {
      const name = at() as Token;
      if (name.type !== 'id' && name.type !== 'str') return undefined;
      const imported = name.type === 'str' ? stringValue(name) : name.value;
      let local = imported;
      k++;
      if (at()?.value === 'as') {
        if (!ident(at(1))) return undefined;
        local = (at(1) as Token).value;
        k += 2;
      }
      named.push([imported, local]);
      if (at()?.value === ',') k++;
    }
    if (at()?.value !== '}') return undefined;
    k++;
  }
  if (at()?.value !== 'from' || at(1)?.type !== 'str') return undefined;
  const spec = JSON.stringify(stringValue(at(1) as Token));
  k += 2;
  const parts: string[] = [];
  if (defaultName !== undefined) {
    parts.push(
      `var ${defaultName} = (function (m) { return m && m.__esModule ? m.default : m; })(require(${spec}));`,
    );
  }
  if (namespace !== undefined) parts.push(`var ${namespace} = require(${spec});`);
  if (named.length > 0) {
    const fields = named
      .map(([imported, local]) =>
        imported === local ? local : `${JSON.stringify(imported)}: ${local}`,
      )
      .join(', ');
    parts.push(`var { ${fields} } = require(${spec});`);
  }
  if (parts.length === 0) parts.push(`require(${spec});`);
  return { code: parts.join(' '), next: k };
}

export interface SourceFinding {
  line: number;
  column: number;
  message: string;
}

export interface SourceScan {
  /** require() calls outside any function: the platform refuses them (an error). */
  topLevelRequires: SourceFinding[];
  /** What the platform's JavaScript support table marks unsupported (warnings). */
  unsupported: SourceFinding[];
}

const CONTROL_WORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'with']);
const UNSUPPORTED_GLOBALS = new Set(['BigInt', 'Proxy', 'Reflect', 'WeakSet']);

function unsupportedMessage(what: string): string {
  return `${what} is not supported by App Services functions (the platform's JavaScript support table marks it unsupported): it runs locally and fails once deployed`;
}

/** Top-level requires and unsupported features of one function file (see the file comment). */
export function scanFunctionSource(file: string, source: string): SourceScan {
  const scan: SourceScan = { topLevelRequires: [], unsupported: [] };
  const interesting =
    source.includes('require') ||
    /BigInt|Proxy|Reflect|WeakSet|\d+n\b|\/[a-z]*[yu][a-z]*/.test(source);
  if (!interesting) return scan;
  const tokens = tokenize(source);
  // Open brackets; `fn` marks a function body.
  const stack: { value: string; fn: boolean; before: Token | undefined }[] = [];
  // Arrow functions with an expression body, as the stack depth they started at.
  const arrows: number[] = [];
  let lastParenBefore: Token | undefined;
  const inFunction = (): boolean => arrows.length > 0 || stack.some((entry) => entry.fn);
  tokens.forEach((token, index) => {
    const prev = tokens[index - 1];
    const next = tokens[index + 1];
    if (token.type === 'punc') {
      const v = token.value;
      if (v === '(' || v === '[' || v === '{' || v === '${') {
        let fn = false;
        if (v === '{' && prev !== undefined) {
          if (prev.value === '=>') fn = true;
          else if (prev.value === ')' && lastParenBefore !== undefined) {
            const b = lastParenBefore;
            fn =
              (b.type === 'id' && !CONTROL_WORDS.has(b.value)) ||
              (b.type === 'punc' && b.value === '*');
          }
        }
        stack.push({ value: v, fn, before: prev });
      } else if (v === ')' || v === ']' || v === '}') {
        const entry = stack.pop();
        if (v === ')') lastParenBefore = entry?.before;
        while (arrows.length > 0 && (arrows[arrows.length - 1] as number) > stack.length) {
          arrows.pop();
        }
      } else if (v === '=>' && next !== undefined && next.value !== '{') {
        arrows.push(stack.length);
      } else if (
        (v === ',' || v === ';') &&
        arrows.length > 0 &&
        arrows[arrows.length - 1] === stack.length
      ) {
        arrows.pop();
      }
      return;
    }
    if (token.type === 'id') {
      const member = prev !== undefined && (prev.value === '.' || prev.value === '?.');
      if (
        token.value === 'require' &&
        !member &&
        next?.value === '(' &&
        !inFunction() &&
        tokens[index + 2]?.type === 'str'
      ) {
        const spec = stringValue(tokens[index + 2] as Token);
        scan.topLevelRequires.push({
          line: token.line,
          column: token.column,
          message: topLevelRequireMessage(spec, file),
        });
      }
      const objectKey =
        next?.value === ':' && prev !== undefined && (prev.value === '{' || prev.value === ',');
      if (UNSUPPORTED_GLOBALS.has(token.value) && !member && !objectKey) {
        scan.unsupported.push({
          line: token.line,
          column: token.column,
          message: unsupportedMessage(token.value),
        });
      }
      return;
    }
    if (token.type === 'num' && /^(0[xob])?[0-9a-f_]*n$/i.test(token.value)) {
      scan.unsupported.push({
        line: token.line,
        column: token.column,
        message: unsupportedMessage(`BigInt (the literal ${token.value})`),
      });
    } else if (token.type === 'regex') {
      const flags = /\/([a-z]*)$/.exec(token.value)?.[1] ?? '';
      for (const flag of ['y', 'u']) {
        if (flags.includes(flag)) {
          scan.unsupported.push({
            line: token.line,
            column: token.column,
            message: unsupportedMessage(`the RegExp flag '${flag}'`),
          });
        }
      }
    }
  });
  return scan;
}
