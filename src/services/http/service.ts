/**
 * `context.http` as a host service: the parent-side entry of the op table for
 * services/http/guest.js, which calls it as 'http.request'. Runs in the runner's process with the
 * call's signal, so a request ends when the call does (returned, failed, timed out, crashed).
 */
import type { HostService, ServiceOp } from '../../runtime/boundary/services.js';
import { httpRequest, type HttpRequest, type HttpResponse } from './host.js';

const request: ServiceOp<HttpRequest, HttpResponse> = {
  mode: 'async',
  run: (arg, { signal }) => httpRequest(arg, { signal }),
};

export const httpService: HostService = { name: 'http', ops: { request } };
