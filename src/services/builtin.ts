/**
 * The host services every runner that cli/, dev/ and the library's createRunner make gets.
 * A new service (the database) is one more entry here, plus its guest wrapper in the prelude;
 * nothing in runtime/ changes.
 */
import type { HostService } from '../runtime/boundary/services.js';
import { cryptoService } from './crypto/service.js';
import { httpService } from './http/service.js';
import { nodeCryptoService } from './node-builtins/service.js';

export function builtinServices(): HostService[] {
  return [httpService, cryptoService, nodeCryptoService];
}
