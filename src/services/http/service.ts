/**
 * `context.http` as a host service: the parent-side entry of the op table for
 * services/http/guest.js, which calls it as 'http.request'. Runs in the runner's process with the
 * call's signal, so a request ends when the call does (returned, failed, timed out, crashed).
 */
import type { HostService, ServiceOp } from '../../runtime/boundary/services.js';
import type { HttpRequest, HttpResponse } from './host.js';

const request: ServiceOp<HttpRequest, HttpResponse> = {
  mode: 'async',
  // host.js at the first request: it loads node:http, node:https (with tls) and node:zlib, about
  // 25 ms of the start of every command that runs functions, most of which never fetch anything.
  run: async (arg, { signal }) => (await import('./host.js')).httpRequest(arg, { signal }),
};

export const httpService: HostService = { name: 'http', ops: { request } };
