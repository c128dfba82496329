import type { Diagnostic, LoadedApp } from '../app/types.js';
import { missingSecretLinks } from '../app/value-usage.js';
import { scanDependencies } from './bundle.js';
import { triggerDiagnostics } from '../triggers/expression-check.js';
import { functionSyntaxDiagnostic } from './syntax.js';
import { scanFunctionSource } from './function-source.js';

/**
 * Every problem of a loaded app that can be found without running it: what the loader found,
 * Secret-linked Values whose Secret is missing, function files that do not parse, and require()s
 * of missing packages or unsupported built-ins, and trigger problems (match/project expressions
 * that run code, projections the platform refuses, CRON schedules as the platform reads them).
 */
export async function checkApp(
  loaded: LoadedApp,
  /**
   * The names the secret store holds: Secret-linked Values to other names are errors. Undefined
   * when the store could not be read (then links are not checked).
   */
  secretNames: ReadonlySet<string> | undefined = new Set(),
): Promise<Diagnostic[]> {
  const diagnostics = [...loaded.diagnostics];
  if (secretNames !== undefined) diagnostics.push(...missingSecretLinks(loaded.app, secretNames));
  for (const fn of loaded.app.functions.values()) {
    const problem = functionSyntaxDiagnostic(fn);
    if (problem !== undefined) diagnostics.push(problem);
    // The platform refuses a top-level require (function run fails with the same message), and
    // lacks what its JavaScript support table marks unsupported (a warning: it runs locally).
    const scan = scanFunctionSource(fn.file, fn.source);
    for (const found of scan.topLevelRequires)
      diagnostics.push({ severity: 'error', file: fn.file, ...found });
    for (const found of scan.unsupported)
      diagnostics.push({ severity: 'warning', file: fn.file, ...found });
  }

  for (const trigger of loaded.app.triggers.values())
    diagnostics.push(...triggerDiagnostics(trigger));
  diagnostics.push(...(await scanDependencies(loaded.app)));
  return diagnostics;
}
