/**
 * `validate --types`: the app's function files type-checked against its generated types, with
 * TypeScript, as `// @ts-check` would in an editor. One Program over every function file and the
 * generated declarations (kept in memory), no emit. TypeScript is not a dependency of triggerbox:
 * it is loaded on demand from the app's node_modules, else from triggerbox's own.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TS from 'typescript';
import type { App } from '../app/types.js';
import { TriggerboxError } from '../shared/errors.js';
import { DEFAULT_TYPES_FILE, generateAppTypes } from './generate.js';

export interface TypeProblem {
  severity: 'error' | 'warning';
  /** Relative to the app root, with forward slashes. */
  file: string;
  /** 1-based; absent for a problem of no file (a compiler option). */
  line?: number | undefined;
  column?: number | undefined;
  /** TypeScript's code: 2345 for TS2345. */
  code: number;
  message: string;
}

/** `functions/x.js:3:24: error TS2345: message`, as tsc prints it (with colons). */
export function formatTypeProblem(p: TypeProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return `${where}: ${p.severity} TS${p.code}: ${p.message}`;
}

/**
 * What strict mode alone forbids. The check treats every file as a module (its own scope, as the
 * platform loads each function file apart), which makes TypeScript apply strict-mode rules;
 * function files run as sloppy scripts, so those are not problems.
 */
const STRICT_MODE_ONLY = new Set([
  1100, // Invalid use of 'arguments' / 'eval' in strict mode
  1101, // 'with' statements are not allowed in strict mode
  1102, // 'delete' cannot be called on an identifier in strict mode
  1212, // Identifier expected: reserved word in strict mode
  1213, // ... in class definitions (strict)
  1214, // ... in modules (strict)
  1250, // Function declarations are not allowed inside blocks in strict mode (ES5)
  1251, // ... (class definitions)
  1252, // ... (modules)
]);

type TypeScript = typeof TS;

/** TypeScript from the app's node_modules (its own version), else the one next to triggerbox. */
async function loadTypeScript(root: string): Promise<TypeScript> {
  const attempts: Array<() => Promise<unknown>> = [
    () =>
      import(
        pathToFileURL(createRequire(path.join(root, 'package.json')).resolve('typescript')).href
      ),
    () => import('typescript'),
  ];
  for (const attempt of attempts) {
    try {
      const mod = (await attempt()) as { default?: TypeScript } & TypeScript;
      const ts = mod.default ?? mod;
      if (typeof ts.createProgram === 'function') return ts;
    } catch {
      // Not installed there: try the next place.
    }
  }
  throw new TriggerboxError(
    'InvalidInput',
    'checking types needs TypeScript, which is not installed in the app or next to triggerbox',
    { hint: 'run `npm i -D typescript` in the app folder (or where triggerbox is installed)' },
  );
}

export interface CheckAppTypesOptions {
  app: App;
}

/** Type-checks every function file of `app`; problems sorted by file, line and column. */
export async function checkAppTypes({ app }: CheckAppTypesOptions): Promise<TypeProblem[]> {
  const ts = await loadTypeScript(app.root);
  const typesFile = path.join(app.root, DEFAULT_TYPES_FILE);
  const sources = new Map<string, string>([[typesFile, generateAppTypes({ app })]]);
  for (const fn of app.functions.values()) sources.set(path.join(app.root, fn.file), fn.source);
  const options: TS.CompilerOptions = {
    allowJs: true,
    checkJs: true,
    noEmit: true,
    strict: false,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    module: ts.ModuleKind.CommonJS,
    moduleDetection: ts.ModuleDetectionKind.Force,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options, true);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (file) => sources.get(path.resolve(file)) ?? readFile(file);
  host.fileExists = (file) => sources.has(path.resolve(file)) || fileExists(file);
  host.getSourceFile = (file, languageVersion, onError, shouldCreate) => {
    const text = sources.get(path.resolve(file));
    return text !== undefined
      ? ts.createSourceFile(file, text, languageVersion, true)
      : getSourceFile(file, languageVersion, onError, shouldCreate);
  };
  const roots = [...sources.keys()].sort();
  const program = ts.createProgram({ rootNames: roots, options, host });
  const problems: TypeProblem[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (STRICT_MODE_ONLY.has(d.code)) continue;
    if (d.category !== ts.DiagnosticCategory.Error && d.category !== ts.DiagnosticCategory.Warning)
      continue;
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n').replace(/\n\s*/g, ' ');
    const severity = d.category === ts.DiagnosticCategory.Error ? 'error' : 'warning';
    if (d.file === undefined || d.start === undefined) {
      problems.push({ severity, file: DEFAULT_TYPES_FILE, code: d.code, message });
      continue;
    }
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    const file = path.relative(app.root, d.file.fileName).split(path.sep).join('/');
    problems.push({ severity, file, line: line + 1, column: character + 1, code: d.code, message });
  }
  return problems.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
}
