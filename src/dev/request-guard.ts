/**
 * Which HTTP requests the dev server answers. Every web page the user opens can send requests
 * to a port on 127.0.0.1: a page on another site (a foreign Origin, or a `text/plain` POST that
 * needs no CORS preflight), and a page whose DNS name was rebound to 127.0.0.1 (a foreign Host).
 * The server answers only requests addressed to itself by a loopback name (or the configured
 * --host), from no page or its own, with a JSON body type.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { networkInterfaces } from 'node:os';

export interface Refusal {
  status: number;
  error_code: string;
  error: string;
}

/** `localhost`, `::1`, or any 127.x.y.z: names that never leave the machine. */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  const parts = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return parts !== null && parts.slice(1).every((p) => Number(p) <= 255);
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** A `host[:port]` (Host header, or --host) as URL parsing normalizes it, or undefined. */
function parseAuthority(authority: string): URL | undefined {
  // A bare IPv6 address (--host ::1) needs brackets to be an authority.
  const text =
    authority.includes(':') && !authority.includes('[') && authority.split(':').length > 2
      ? `[${authority}]`
      : authority;
  if (text === '' || /[/?#@\\\s]/.test(text)) return undefined;
  try {
    return new URL(`http://${text}`);
  } catch {
    return undefined;
  }
}

/** How many distinct Host and Origin values keep their verdict (a client sends one or two). */
const VERDICTS_KEPT = 64;

export class RequestGuard {
  private readonly names = new Set<string>();
  private readonly loopbackOnly: boolean;
  /**
   * Host and Origin verdicts by header value: parsing them as URLs was most of the guard's cost
   * per request, and a client sends the same values on every request. Bounded: a client
   * sending ever new values only refills it.
   */
  private readonly ownHosts = new Map<string, boolean>();
  private readonly ownOrigins = new Map<string, boolean>();

  constructor(
    private readonly configuredHost: string,
    private readonly port: number,
    /** What the refusals call this server (the debugger endpoint reuses these rules). */
    private readonly serverName = 'dev server',
  ) {
    const configured = parseAuthority(configuredHost)?.hostname;
    if (configured !== undefined) this.names.add(configured);
    if (WILDCARDS.has(configuredHost)) {
      // Bound to every interface: the machine's own addresses name it too (IP literals, which
      // DNS rebinding cannot forge).
      for (const list of Object.values(networkInterfaces())) {
        for (const entry of list ?? []) {
          const url = parseAuthority(entry.address);
          if (url !== undefined) this.names.add(url.hostname);
        }
      }
    }
    this.loopbackOnly = configured !== undefined && isLoopbackHostname(configured);
  }

  /** Null when --host is loopback; otherwise why listening there is risky. */
  hostWarning(): string | null {
    if (this.loopbackOnly) return null;
    return `--host ${this.configuredHost} is not a loopback address: other machines on the network can call your functions, which read your secrets; use --host 127.0.0.1 (the default) unless you mean it`;
  }

  private ownOrigin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private isOwn(url: URL | undefined): boolean {
    if (url === undefined) return false;
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    if (port !== this.port) return false;
    return isLoopbackHostname(url.hostname) || this.names.has(url.hostname);
  }

  private remember(cache: Map<string, boolean>, key: string, verdict: () => boolean): boolean {
    let known = cache.get(key);
    if (known === undefined) {
      known = verdict();
      if (cache.size >= VERDICTS_KEPT) cache.clear();
      cache.set(key, known);
    }
    return known;
  }

  private isOwnOrigin(origin: string): boolean {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    return url !== undefined && url.protocol === 'http:' && this.isOwn(url);
  }

  /** Why this request is not answered, or undefined when it is. Checked before routing. */
  check(method: string | undefined, headers: IncomingHttpHeaders): Refusal | undefined {
    const host = headers.host ?? '';
    if (!this.remember(this.ownHosts, host, () => this.isOwn(parseAuthority(host)))) {
      return {
        status: 403,
        error_code: 'ForbiddenHost',
        error: `request refused: Host '${host}' is not this ${this.serverName} (it answers to localhost, 127.0.0.1 or [::1] on port ${this.port}${this.loopbackOnly ? '' : ` and to --host ${this.configuredHost}`}); a web page whose DNS name points here (DNS rebinding) sends such a Host. Use ${this.ownOrigin()}, or start dev with --host <that name> if you really serve it under that name`,
      };
    }
    const origin = headers.origin;
    if (origin !== undefined) {
      if (!this.remember(this.ownOrigins, origin, () => this.isOwnOrigin(origin))) {
        return {
          status: 403,
          error_code: 'ForbiddenOrigin',
          error: `request refused: it comes from a web page at Origin '${origin}', not from this ${this.serverName}; only pages it serves itself (${this.ownOrigin()}) and clients without an Origin header (curl, scripts, tests) may call functions`,
        };
      }
    }
    // The usual Content-Type needs no splitting.
    if (method === 'POST' && headers['content-type'] !== 'application/json') {
      const type = headers['content-type'] ?? '';
      const [media = '', ...params] = type.split(';').map((p) => p.trim().toLowerCase());
      const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length);
      const json = media === 'application/json' || media === 'application/ejson';
      if (!json || (charset !== undefined && !/^"?utf-?8"?$/.test(charset))) {
        return {
          status: 415,
          error_code: 'UnsupportedMediaType',
          error: `request refused: the body's Content-Type is ${type === '' ? 'missing' : `'${type}'`}; send the arguments as an Extended JSON array with Content-Type: application/json (or application/ejson; charset utf-8 if any), e.g. curl -H 'Content-Type: application/json' -d '["Ada"]'`,
        };
      }
    }
    return undefined;
  }
}
