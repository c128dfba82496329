/**
 * Hot reload per file: which changed files are not fit to run yet (broken, or half-written by an
 * editor), and the app to run with the last good version of exactly those files. One broken file
 * must not hold back a fix saved in another.
 */
import type { App, Diagnostic, FunctionDef, LoadedApp } from '../app/types.js';
import { functionSyntaxDiagnostic } from '../runtime/syntax.js';
import { triggerExpressionDiagnostics } from '../triggers/expression-check.js';

/** `exports = ...`, `exports.x = ...`, `module.exports = ...`: the file has defined its function. */
const ASSIGNS_EXPORTS = /\bexports\s*(?:=(?!=)|\.|\[)/;

/**
 * A function file saved halfway: empty, or parsing but not (yet) assigning `exports`. Editors and
 * tools write in steps; such a file is not a new version, the last good one keeps running.
 */
export function incompleteFunction(fn: FunctionDef): Diagnostic | undefined {
  const why =
    fn.source.trim() === ''
      ? 'it is empty'
      : ASSIGNS_EXPORTS.test(fn.source)
        ? undefined
        : 'it does not assign exports';
  if (why === undefined) return undefined;
  return {
    severity: 'warning',
    file: fn.file,
    message: `not complete yet: ${why} (a save in progress?); the last good version keeps running`,
    hint: 'finish the file with exports = function (...) { ... } and save it',
  };
}

/** Problems that keep a file from going live, for the files in `files` (all when undefined). */
export function blockingProblems(
  loaded: LoadedApp,
  files: ReadonlySet<string> | undefined,
  incomplete: boolean,
): Diagnostic[] {
  const wanted = (file: string): boolean => files === undefined || files.has(file);
  const problems = loaded.diagnostics.filter((d) => d.severity === 'error' && wanted(d.file));
  for (const fn of loaded.app.functions.values()) {
    if (!wanted(fn.file)) continue;
    const problem =
      functionSyntaxDiagnostic(fn) ?? (incomplete ? incompleteFunction(fn) : undefined);
    if (problem !== undefined) problems.push(problem);
  }
  for (const trigger of loaded.app.triggers.values()) {
    if (wanted(trigger.file)) problems.push(...triggerExpressionDiagnostics(trigger));
  }
  return problems;
}

function mergeEntities<T extends { file: string }>(
  running: Map<string, T>,
  next: Map<string, T>,
  blocked: ReadonlySet<string>,
): Map<string, T> {
  const merged = new Map<string, T>();
  for (const [name, entity] of next) {
    if (!blocked.has(entity.file)) merged.set(name, entity);
    else if (running.has(name)) merged.set(name, running.get(name) as T);
  }
  // A broken file may make the loader drop what it defined: the last good version stays.
  for (const [name, entity] of running) {
    if (blocked.has(entity.file) && !merged.has(name)) merged.set(name, entity);
  }
  return merged;
}

/**
 * The app to run: `next` with the last good (`running`) version of every blocked file. A file
 * that configures many things at once (functions/config.json) keeps all of them; a root config
 * problem keeps the whole running app. Undefined when nothing new can go live.
 */
export function mergeLastGood(
  running: App,
  next: App,
  blocked: ReadonlySet<string>,
): App | undefined {
  if (blocked.size === 0) return next;
  // root_config.json and its kin shape the whole app: nothing new goes live while one is broken.
  if ([...blocked].some((f) => !/^(functions|values|triggers|environments)\//.test(f)))
    return undefined;
  const environmentFile = (f: string): boolean =>
    f === running.environment.file || f === next.environment.file;
  // functions/config.json (or a legacy functions/<name>/config.json) sets every function's
  // private and run-as flags: while it is broken, no function changes.
  const functionsConfig = [...blocked].some((f) => /^functions\/(.+\/)?config\.json$/.test(f));
  return {
    ...next,
    environment: [...blocked].some(environmentFile) ? running.environment : next.environment,
    functions: functionsConfig
      ? running.functions
      : mergeEntities(running.functions, next.functions, blocked),
    values: mergeEntities(running.values, next.values, blocked),
    triggers: mergeEntities(running.triggers, next.triggers, blocked),
  };
}
