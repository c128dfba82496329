/** `triggerbox types`: writes the app's `.d.ts` (and a jsconfig.json when the app has none). */
import path from 'node:path';
import { writeAppTypes } from '../../app-types/generate.js';
import { openApp, type GlobalOptions } from '../app-context.js';
import type { CliIO } from '../io.js';
import { Printer } from '../render.js';

export function types(options: GlobalOptions & { out?: string | undefined }, io: CliIO): number {
  const printer = new Printer(io, options.outputFormat);
  // openApp: the same --local/--app/--env handling (and setup errors) as every command.
  const { app } = openApp(options, io);
  const out = options.out !== undefined ? path.resolve(io.cwd, options.out) : undefined;
  const result = writeAppTypes({ root: app.root, out, environment: options.env });
  const rel = (file: string) => path.relative(io.cwd, file) || file;
  printer.message(
    `${result.changed ? 'wrote' : 'unchanged:'} ${rel(result.file)} (${app.values.size} values, ${app.functions.size} functions, ${app.dataSources.size} data sources)`,
  );
  if (result.jsconfig !== undefined) {
    printer.message(
      `wrote ${rel(result.jsconfig)}: editors now check functions/**/*.js against it`,
    );
  } else if (result.ownConfig) {
    printer.message(
      `the app has its own jsconfig.json/tsconfig.json: add "${path.relative(app.root, result.file).split(path.sep).join('/')}" to its "include" (or start function files with /// <reference path="..."/>)`,
    );
  }
  return 0;
}
