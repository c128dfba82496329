/**
 * `require('crypto')` in functions as a host service: the ops of crypto-host.ts, reached as
 * 'nodeCrypto.<op>' by the built-ins registry's synchronous callHost. Cipher handles live on the
 * host, so each call gets its own createNodeCryptoHost(), made on the call's first op and
 * disposed when the call's signal aborts (the call returned, failed, hit a limit or its sandbox
 * crashed): handles never outlive the call that opened them, nor reach another call.
 */
import type { HostService, ServiceCall, ServiceOp } from '../../runtime/boundary/services.js';
import { createNodeCryptoHost, type NodeCryptoHost, type NodeCryptoOpName } from './crypto-host.js';

const hosts = new WeakMap<AbortSignal, NodeCryptoHost>();

function hostOf(call: ServiceCall): NodeCryptoHost {
  const found = hosts.get(call.signal);
  if (found !== undefined) return found;
  if (call.signal.aborted) throw new Error('crypto: the call has ended');
  const host = createNodeCryptoHost();
  hosts.set(call.signal, host);
  call.signal.addEventListener('abort', () => host.dispose(), { once: true });
  return host;
}

// The op names, read once from a table that is then dropped (it holds no handle).
const names = Object.keys(createNodeCryptoHost().ops) as NodeCryptoOpName[];
const ops: Record<string, ServiceOp<never, unknown>> = {};
for (const name of names) {
  ops[name] = {
    mode: 'sync',
    run: (arg: never, call) => (hostOf(call).ops[name] as (arg: unknown) => unknown)(arg ?? {}),
  };
}

export const nodeCryptoService: HostService = { name: 'nodeCrypto', ops };
