/** `--inspect` / `--inspect-brk`: opens the debugger endpoint and says where it is and what it does. */
import type { InspectAddress, InspectorServer } from '../dev/inspector-server.js';
import type { InspectorRelay } from '../runtime/inspector/relay.js';
import type { CliIO } from './io.js';

/** Starts the endpoint for `relay` and prints its address and its pauses (on stderr). */
export async function openDebugger(
  relay: InspectorRelay,
  address: InspectAddress,
  io: CliIO,
  title: string,
): Promise<InspectorServer> {
  const { startInspectorServer } = await import('../dev/inspector-server.js');
  const server = await startInspectorServer({ relay, address, title });
  const hostPort = `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
  io.stderr(
    `Debugger listening on ${server.webSocketUrl}\n` +
      `  Chrome: open chrome://inspect (add ${hostPort} under Configure if it is not 9229), or ${server.devtoolsUrl}\n` +
      `  VS Code: an "attach" configuration with "port": ${server.port} (README, Debugging)\n`,
  );
  relay.onEvent((event) => {
    switch (event.type) {
      case 'attached':
        io.stderr('Debugger attached.\n');
        break;
      case 'detached':
        io.stderr('Debugger detached.\n');
        break;
      case 'paused':
        io.stderr(
          `debugger: paused at ${event.where} (${event.reason}); the call's time limit is suspended while paused\n`,
        );
        break;
      case 'resumed':
        io.stderr('debugger: resumed; the time limit counts on\n');
        break;
    }
  });
  return server;
}
