/** `triggerbox values list` and `triggerbox values check`. */
import { formatDiagnostic } from '../../app/load-app.js';
import { checkValueUsage } from '../../app/value-usage.js';
import { openSecretStore } from '../../secrets/store.js';
import { openApp, type GlobalOptions } from '../app-context.js';
import type { CliIO } from '../io.js';
import { Printer } from '../render.js';

/** Every Value with its kind; a Secret-linked Value shows its Secret's name, never its value. */
export function listValues(options: GlobalOptions, io: CliIO): number {
  const { app } = openApp(options, io);
  const printer = new Printer(io, options.outputFormat);
  const secretNames = new Set(openSecretStore({ root: app.root, env: io.env }).names());
  const values = [...app.values.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (values.length === 0) {
    printer.message('No available values to show');
    return 0;
  }
  printer.message(`Found ${values.length} values`, {
    headers: ['Name', 'Kind', 'Secret', 'Secret Exists', 'File'],
    rows: values.map((v) => ({
      Name: v.name,
      Kind: v.kind === 'secret' ? 'secret-linked' : 'plain',
      Secret: v.kind === 'secret' ? v.secretName : '',
      'Secret Exists': v.kind === 'secret' ? String(secretNames.has(v.secretName)) : '',
      File: v.file,
    })),
  });
  return 0;
}

export function checkValues(options: GlobalOptions, io: CliIO): number {
  const { app } = openApp(options, io);
  const secretNames = new Set(openSecretStore({ root: app.root, env: io.env }).names());
  const diagnostics = checkValueUsage(app, secretNames);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  if (options.outputFormat === 'json') {
    io.stdout(
      `${JSON.stringify({ time: new Date().toISOString(), level: errors > 0 ? 'error' : 'info', message: `${errors} error(s), ${diagnostics.length - errors} warning(s)`, diagnostics })}\n`,
    );
    return errors > 0 ? 1 : 0;
  }
  for (const d of diagnostics) io.stdout(`${formatDiagnostic(d)}\n`);
  new Printer(io, 'text').message(
    diagnostics.length === 0
      ? `values are consistent: ${app.values.size} values, every one read, every name found`
      : `${errors} error(s), ${diagnostics.length - errors} warning(s)`,
  );
  return errors > 0 ? 1 : 0;
}
