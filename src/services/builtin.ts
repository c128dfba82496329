/**
 * The host services every runner that cli/, dev/ and the library's createRunner make gets.
 * A new service (utils.crypto, the database) is one more entry here, plus its guest wrapper
 * in the prelude; nothing in runtime/ changes.
 */
import type { HostService } from '../runtime/boundary/services.js';
import { httpService } from './http/service.js';

export function builtinServices(): HostService[] {
  return [httpService];
}
