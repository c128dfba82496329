/**
 * The debugger endpoint of `--inspect` / `--inspect-brk`: the Chrome DevTools Protocol's HTTP
 * discovery (/json/list, /json/version) and its WebSocket, on loopback only, bridged to the
 * runner's relay (runtime/inspector/relay.ts). Requests pass the dev server's Host/Origin rules
 * (request-guard.ts): a web page cannot reach it, whether by a foreign Origin or by a DNS name
 * rebound to 127.0.0.1. DevTools' own pages (Origin devtools://devtools) are no web page.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { InspectorClient, InspectorRelay } from '../runtime/inspector/relay.js';
import { TriggerboxError } from '../shared/errors.js';
import { isLoopbackHostname, RequestGuard } from './request-guard.js';

export const DEFAULT_INSPECT_PORT = 9229;
const DEVTOOLS_ORIGIN = 'devtools://devtools';
/** CDP messages are small; a larger one is not a debugger's. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface InspectAddress {
  host: string;
  port: number;
}

/**
 * `--inspect[=[host:]port]` as Node takes it: nothing (127.0.0.1:9229), a port, a host, or
 * host:port ([::1]:9229 for IPv6). Loopback hosts only.
 */
export function parseInspectAddress(value: string | boolean | undefined): InspectAddress {
  const text = typeof value === 'string' ? value.trim() : '';
  let host = '127.0.0.1';
  let portText = String(DEFAULT_INSPECT_PORT);
  if (/^\d+$/.test(text)) portText = text;
  else if (text !== '') {
    const match = /^(\[[^\]]+\]|[^:]+|::1)(?::(\d*))?$/.exec(text);
    if (match === null)
      throw new TriggerboxError('InvalidInput', `--inspect=${text} is not [host:]port`, {
        hint: 'e.g. --inspect, --inspect=9230 or --inspect=127.0.0.1:9230',
      });
    host = match[1] ?? host;
    if (match[2]) portText = match[2];
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TriggerboxError('InvalidInput', `--inspect port '${portText}' is not a port number`, {
      hint: 'a port from 1024 to 65535 (0: any free port); the default is 9229',
    });
  assertLoopback(host);
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
}

function assertLoopback(host: string): void {
  if (isLoopbackHostname(host)) return;
  throw new TriggerboxError(
    'InspectorHostNotLoopback',
    `--inspect: ${host} is not a loopback address; a debugger can read and run anything in your functions, secrets included, so the endpoint listens on this machine only`,
    {
      hint: 'use --inspect=127.0.0.1:<port> (or localhost, [::1]); reach it from another machine through an SSH tunnel',
    },
  );
}

export interface InspectorServer {
  host: string;
  port: number;
  /** ws://host:port/<id>: what a CDP client connects to. */
  webSocketUrl: string;
  /** The address to open in Chrome (DevTools' own page on the endpoint). */
  devtoolsUrl: string;
  close(): Promise<void>;
}

export interface InspectorServerOptions {
  relay: InspectorRelay;
  /** Default 127.0.0.1:9229 (parseInspectAddress reads --inspect's value). */
  address?: InspectAddress | undefined;
  /** What the debugger lists the target as (the app's name). */
  title?: string | undefined;
}

export async function startInspectorServer(
  options: InspectorServerOptions,
): Promise<InspectorServer> {
  const { relay } = options;
  const { host, port: wanted } = options.address ?? {
    host: '127.0.0.1',
    port: DEFAULT_INSPECT_PORT,
  };
  assertLoopback(host);
  // An unguessable path, as Node's: a local program must first ask /json/list.
  const id = randomUUID();
  const http = createServer();
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let guard: RequestGuard | undefined;
  let info: { webSocketUrl: string; devtoolsUrl: string } | undefined;
  const authority = (p: number): string => `${host.includes(':') ? `[${host}]` : host}:${p}`;

  const refusal = (request: IncomingMessage): { status: number; error: string } | undefined => {
    const headers = { ...request.headers };
    if (headers.origin === DEVTOOLS_ORIGIN) delete headers.origin;
    const refused = guard?.check(request.method, headers);
    if (refused !== undefined) return refused;
    if (request.method !== 'GET')
      return { status: 405, error: `${request.method ?? ''} is not served here: GET only` };
    return undefined;
  };

  http.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const reply = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(body, null, 2));
    };
    const refused = refusal(request);
    if (refused !== undefined) return reply(refused.status, { error: refused.error });
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/json' || path === '/json/list') {
      return reply(200, [
        {
          description: 'triggerbox functions (isolated-vm)',
          devtoolsFrontendUrl: info?.devtoolsUrl,
          devtoolsFrontendUrlCompat: info?.devtoolsUrl,
          faviconUrl: 'https://nodejs.org/static/images/favicons/favicon.ico',
          id,
          title: options.title ?? 'triggerbox',
          type: 'node',
          url: relay.urlOf(''),
          webSocketDebuggerUrl: info?.webSocketUrl,
        },
      ]);
    }
    if (path === '/json/version')
      return reply(200, { Browser: 'triggerbox', 'Protocol-Version': '1.3' });
    return reply(404, {
      error: `no such path: ${path}; the debugger endpoint serves /json/list, /json/version and the WebSocket ${info?.webSocketUrl ?? ''}`,
    });
  });

  http.on('upgrade', (request: IncomingMessage, socket, head) => {
    const path = (request.url ?? '/').split('?')[0];
    const refused =
      refusal(request) ??
      (path === `/${id}`
        ? undefined
        : { status: 404, error: `no debugger target at ${path}: ask /json/list for it` });
    if (refused !== undefined) {
      const body = JSON.stringify({ error: refused.error });
      socket.end(
        `HTTP/1.1 ${refused.status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => attach(ws));
  });

  const attach = (ws: WebSocket): void => {
    const client: InspectorClient = {
      send: (message) => {
        if (ws.readyState === ws.OPEN) ws.send(message);
      },
      // A close reason is at most 123 bytes.
      close: (reason) => ws.close(1001, Buffer.from(reason).subarray(0, 123).toString()),
    };
    const busy = relay.connect(client);
    if (busy !== undefined) {
      ws.close(1013, busy.slice(0, 123));
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (!isBinary) relay.fromClient(client, data.toString());
    });
    ws.on('close', () => relay.disconnect(client));
    ws.on('error', () => ws.terminate());
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new TriggerboxError(
            'InspectorPortInUse',
            `the debugger endpoint cannot listen on ${authority(wanted)}: the port is in use (another triggerbox --inspect, or node --inspect?)`,
            {
              hint: `pick another port: --inspect=${authority(wanted + 1)}, or --inspect=${host.includes(':') ? `[${host}]` : host}:0 for any free one`,
            },
          ),
        );
      } else reject(error);
    });
    http.listen(wanted, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  guard = new RequestGuard(host, port, 'debugger endpoint');
  const webSocketUrl = `ws://${authority(port)}/${id}`;
  info = {
    webSocketUrl,
    devtoolsUrl: `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${authority(port)}/${id}`,
  };
  return {
    host,
    port,
    ...info,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets.clients) ws.terminate();
        sockets.close();
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
