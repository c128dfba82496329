/** `triggerbox validate`: every problem of the app at once, exit 1 when there are errors. */
import { formatDiagnostic } from '../../app/load-app.js';
import { checkApp } from '../../runtime/check-app.js';
import type { Diagnostic } from '../../app/types.js';
import { openSecretStore, STORE_FILE } from '../../secrets/store.js';
import { isTriggerboxError, messageOf } from '../../shared/errors.js';
import { openApp, type GlobalOptions } from '../app-context.js';
import type { CliIO } from '../io.js';
import { Printer } from '../render.js';

export async function validate(
  options: GlobalOptions & { types?: boolean | undefined },
  io: CliIO,
): Promise<number> {
  const printer = new Printer(io, options.outputFormat);
  const loaded = openApp(options, io);
  let secretNames: Set<string> | undefined;
  const storeProblems: Diagnostic[] = [];
  try {
    secretNames = new Set(openSecretStore({ root: loaded.app.root, env: io.env }).names());
  } catch (error) {
    // A broken store is one more problem to report, not a reason to stop checking.
    storeProblems.push({
      severity: 'error',
      file: STORE_FILE,
      message: messageOf(error),
      hint: isTriggerboxError(error) ? error.hint : undefined,
    });
  }
  const diagnostics = [...storeProblems, ...(await checkApp(loaded, secretNames))];
  // --types: TypeScript is loaded only now, and only for this flag.
  const typeProblems =
    options.types === true
      ? await (await import('../../app-types/check.js')).checkAppTypes({ app: loaded.app })
      : [];
  const all: Array<{ severity: 'error' | 'warning' }> = [...diagnostics, ...typeProblems];
  const errors = all.filter((d) => d.severity === 'error').length;
  const warnings = all.length - errors;
  const { app } = loaded;
  if (options.outputFormat === 'json') {
    io.stdout(
      `${JSON.stringify({
        time: new Date().toISOString(),
        level: errors > 0 ? 'error' : 'info',
        message: errors > 0 ? `${errors} error(s), ${warnings} warning(s)` : 'app is valid',
        diagnostics,
        ...(options.types === true ? { typeProblems } : {}),
      })}\n`,
    );
    return errors > 0 ? 1 : 0;
  }
  for (const d of diagnostics) io.stdout(`${formatDiagnostic(d)}\n`);
  if (typeProblems.length > 0) {
    const { formatTypeProblem } = await import('../../app-types/check.js');
    for (const p of typeProblems) io.stdout(`${formatTypeProblem(p)}\n`);
  }
  const counts = `${app.functions.size} functions, ${app.values.size} values, ${app.triggers.size} triggers`;
  if (errors > 0) {
    printer.message(`${errors} error(s), ${warnings} warning(s) in ${app.root} (${counts})`);
    return 1;
  }
  printer.message(
    `app '${app.info.name}' is valid: ${counts}${warnings > 0 ? `, ${warnings} warning(s)` : ''}`,
  );
  return 0;
}
