/** `triggerbox dev`: renders the dev server's events until Ctrl-C or SIGTERM. */
import { formatDiagnostic } from '../../app/load-app.js';
import { startDevServer, type CallEvent, type DevServer } from '../../dev/dev-server.js';
import { FunctionExecutionFailure } from '../../runtime/runner.js';
import { DB_DIR } from '../../services/mongodb/data.js';
import type { GlobalOptions } from '../app-context.js';
import type { CliIO } from '../io.js';
import { openDebugger, sandboxNodeForDebugger } from '../inspect.js';
import type { InspectorServer } from '../../dev/inspector-server.js';
import { Printer } from '../render.js';
import { firingText, logsText, successText, traceText, userFrames } from '../render-result.js';

export interface DevOptions extends GlobalOptions {
  port: number;
  host: string;
  run?: string | undefined;
  args: unknown[];
  user?: string | undefined;
  traceValues?: boolean | undefined;
  timeout?: number | undefined;
  memory?: number | undefined;
  schedules?: boolean | undefined;
  /** The MongoDB endpoint's port (default 27027, or any free one when taken; 0: any). */
  dbPort?: number | undefined;
  /** Real-cluster mode: the URI of every data source without its own TRIGGERBOX_MONGODB_URI_<NAME>. */
  mongodbUri?: string | undefined;
  /** `--inspect[=[host:]port]`: a debugger endpoint for the functions. */
  inspect?: string | undefined;
}

const ms = (n: number): string => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`;

function renderCall(event: CallEvent, io: CliIO): void {
  if (event.source === 'database' && event.firing !== undefined) {
    io.stdout(firingText(event.firing));
    return;
  }
  if (event.source === 'http') {
    const error = event.error
      ? `: ${event.error.message} (${event.error instanceof FunctionExecutionFailure ? event.error.errorCode : event.error.code})`
      : '';
    io.stdout(
      `POST /functions/${event.name} ${event.status ?? ''} in ${ms(event.durationMs)}${error}\n`,
    );
    return;
  }
  io.stdout(
    event.source === 'schedule'
      ? `--- scheduled trigger ${event.name} (${event.scheduledFor?.toISOString() ?? ''}, ${ms(event.durationMs)})\n`
      : `--- run ${event.name} (${ms(event.durationMs)})\n`,
  );
  if (event.result !== undefined) {
    io.stdout(successText(event.result));
    return;
  }
  const error = event.error;
  if (error instanceof FunctionExecutionFailure) {
    if (error.logs.length > 0) io.stdout(logsText(error.logs));
    if (error.valueTrace.length > 0) io.stdout(traceText(error.valueTrace));
    const stack = userFrames(error.functionStack);
    io.stdout(`error: ${error.message} (${error.errorCode})${stack ? `\n${stack}` : ''}\n`);
  } else if (error !== undefined) {
    io.stdout(`error: ${error.message}\n`);
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function dev(
  options: DevOptions,
  io: CliIO,
  stop: Promise<unknown> = untilSignal(),
): Promise<number> {
  const printer = new Printer(io, options.outputFormat);
  if (options.app !== undefined) {
    // --app is checked the same way as in every other command.
    (await import('../app-context.js')).openApp(options, io);
  }
  const inspectAddress =
    options.inspect === undefined
      ? undefined
      : (await import('../../dev/inspector-server.js')).parseInspectAddress(options.inspect);
  const inspectNode = inspectAddress === undefined ? undefined : await sandboxNodeForDebugger(io);
  const server: DevServer = await startDevServer({
    root: options.local,
    cwd: io.cwd,
    environment: options.env,
    port: options.port,
    host: options.host,
    env: io.env,
    timeoutMs: options.timeout,
    memoryMb: options.memory,
    schedules: options.schedules,
    dbPort: options.dbPort,
    mongodbUri: options.mongodbUri,
    inspect: inspectAddress !== undefined,
    inspectNode: inspectNode?.path,
    run:
      options.run === undefined
        ? undefined
        : {
            name: options.run,
            args: options.args,
            user: options.user,
            traceValues: options.traceValues,
          },
  });
  server.on('reload', (event) => {
    const files = event.files.join(', ') || 'the app';
    if (event.applied) {
      io.stdout(`${files} changed: ${event.summary} in ${ms(event.durationMs)}\n`);
      if (event.kept.length > 0)
        io.stderr(
          `${event.problems.map((d) => `  ${formatDiagnostic(d)}\n`).join('')}  kept the last good version of ${event.kept.join(', ')}; fix it and save again\n`,
        );
    } else {
      io.stderr(
        `${files} changed, but:\n${event.problems.map((d) => `  ${formatDiagnostic(d)}\n`).join('')}  kept the last good version running; fix it and save again\n`,
      );
    }
  });
  server.on('log', ({ name, line }) => io.stdout(`[${name}] ${line.message}\n`));
  server.on('call', (event) => renderCall(event, io));
  server.on('secrets', () => io.stdout('secrets changed: the next call reads them\n'));
  server.on('warning', (warning) => printer.warn(warning.message));
  server.on('cluster', (event) => {
    if (event.kind === 'ready')
      io.stdout(
        `data source '${event.dataSource}': change streams open on ${event.target}; its writes fire DATABASE triggers\n`,
      );
    else if (event.kind === 'stopped')
      printer.warn(
        `${event.message}. Not retried: save a trigger file or restart dev once it has change streams`,
      );
    else
      printer.warn(
        `${event.message}; retrying in ${event.delayMs / 1000} s (attempt ${event.attempt})`,
      );
  });
  for (const warning of server.warnings) printer.warn(warning.message);
  const { app } = server;
  let debuggerEndpoint: InspectorServer | undefined;
  if (inspectAddress !== undefined && server.inspector !== undefined) {
    try {
      debuggerEndpoint = await openDebugger(server.inspector, inspectAddress, io, app.info.name);
    } catch (error) {
      await server.close();
      throw error;
    }
  }
  io.stdout(
    `triggerbox dev: app '${app.info.name}' with ${app.functions.size} functions on ${server.url} (POST /functions/<name>, GET /functions)\n`,
  );
  io.stdout(
    `database: ${server.dbUri} (the app's local database ${DB_DIR}; loopback only, no authentication); writes fire DATABASE triggers\n`,
  );
  for (const { dataSource, target } of server.clusters)
    io.stdout(
      `data source '${dataSource}': real cluster ${target} (functions read and write it; DATABASE triggers from its change streams)\n`,
    );
  for (const { ns, file, count } of server.seeded?.loaded ?? [])
    io.stdout(`seeded ${ns.db}.${ns.coll} with ${count} documents from ${file}\n`);
  io.stdout(`watching ${app.root}; Ctrl-C to stop\n`);
  for (const problem of server.problems) printer.warn(formatDiagnostic(problem));
  for (const { name, at } of server.nextScheduledRuns())
    io.stdout(`scheduled trigger ${name}: next run ${at.toISOString()}\n`);
  if (options.run !== undefined) await server.runOnce();
  await stop;
  await debuggerEndpoint?.close();
  await server.close();
  io.stdout('triggerbox dev: stopped\n');
  return 0;
}
