/** `--inspect` / `--inspect-brk`: opens the debugger endpoint and says where it is and what it does. */
import type { InspectAddress, InspectorServer } from '../dev/inspector-server.js';
import type { InspectorRelay } from '../runtime/inspector/relay.js';
import { ensureInspectNode, type InspectNode } from '../runtime/inspector/node24.js';
import type { CliIO } from './io.js';

/**
 * The Node the debugger's sandbox runs under when it cannot be this one (Node 26): named by
 * TRIGGERBOX_INSPECT_NODE, in the cache, or fetched now (one line on stderr says so).
 */
export function sandboxNodeForDebugger(io: CliIO): Promise<InspectNode | undefined> {
  return ensureInspectNode({ env: io.env, cwd: io.cwd, log: (line) => io.stderr(`${line}\n`) });
}

/** Which Node the functions run under while debugged, when it is not this process's. */
function sandboxNodeLine(relay: InspectorRelay): string {
  const node = relay.sandboxNode;
  if (node === undefined) return '';
  const why =
    node.source === 'variable'
      ? 'TRIGGERBOX_INSPECT_NODE'
      : node.source === 'option'
        ? 'the runner was given it'
        : `isolated-vm's inspector cannot run under this Node, ${process.versions.node}`;
  return `  The debugger's sandbox runs under Node ${node.version} at ${node.path} (${why})\n`;
}

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
      `  VS Code: an "attach" configuration with "port": ${server.port} (README, Debugging)\n` +
      sandboxNodeLine(relay),
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
