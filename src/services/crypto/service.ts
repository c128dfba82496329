/**
 * `utils.crypto` and `utils.jwt` as a host service: the parent-side entries of the op table for
 * services/crypto/guest.js, reached as 'crypto.<op>'. Every op is synchronous for the function
 * (the platform's utils return their results directly): the guest calls them with callHostSync,
 * the isolate waits, and the parent awaits the JWT ops (jose is asynchronous) before answering.
 */
import type { HostService, ServiceOp } from '../../runtime/boundary/services.js';
import { cryptoOps, type CryptoOpName } from './host.js';

function op<K extends CryptoOpName>(
  name: K,
): ServiceOp<Parameters<(typeof cryptoOps)[K]>[0], unknown> {
  const run = cryptoOps[name] as (arg: Parameters<(typeof cryptoOps)[K]>[0]) => unknown;
  return { mode: 'sync', run: (arg) => run(arg) };
}

const ops: Record<string, ServiceOp<never, unknown>> = {};
for (const name of Object.keys(cryptoOps) as CryptoOpName[]) ops[name] = op(name);

export const cryptoService: HostService = { name: 'crypto', ops };
