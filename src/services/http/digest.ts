/**
 * HTTP Digest access authentication, client side (RFC 7616, and RFC 2617/2069 servers):
 * MD5, SHA-256 and their -sess variants; qop "auth" (preferred) or "auth-int"; userhash.
 */
import { nodeCrypto } from '../../shared/lazy-crypto.js';

export interface Challenge {
  /** Lower-case scheme: "digest", "basic" ... */
  scheme: string;
  /** Lower-case parameter names, unquoted values. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/** Every challenge of the WWW-Authenticate headers (several may share one header). */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const header of values) {
    let i = 0;
    let current: Challenge | undefined;
    const skipSpace = (): void => {
      while (i < header.length && (header[i] === ' ' || header[i] === '\t')) i++;
    };
    const token = (): string => {
      TOKEN.lastIndex = i;
      const m = TOKEN.exec(header);
      if (m === null) return '';
      i += m[0].length;
      return m[0];
    };
    while (i < header.length) {
      skipSpace();
      if (header[i] === ',') {
        i++;
        continue;
      }
      const name = token();
      if (name === '') {
        i++;
        continue;
      }
      skipSpace();
      if (header[i] === '=' && current !== undefined) {
        i++;
        skipSpace();
        let value = '';
        if (header[i] === '"') {
          i++;
          while (i < header.length && header[i] !== '"') {
            if (header[i] === '\\' && i + 1 < header.length) i++;
            value += header[i];
            i++;
          }
          i++;
        } else {
          value = token();
        }
        current.params[name.toLowerCase()] = value;
      } else {
        current = { scheme: name.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

const ALGORITHMS: Record<string, { hash: 'md5' | 'sha256'; session: boolean }> = {
  MD5: { hash: 'md5', session: false },
  'MD5-SESS': { hash: 'md5', session: true },
  'SHA-256': { hash: 'sha256', session: false },
  'SHA-256-SESS': { hash: 'sha256', session: true },
};

export interface DigestInput {
  challenge: Challenge;
  method: string;
  /** The request target: path and query. */
  uri: string;
  username: string;
  password: string;
  body: Uint8Array;
  /** For tests; a random 16-byte hex string otherwise. */
  cnonce?: string;
}

/** The Authorization header answering the challenge, or an Error saying what is unsupported. */
export function digestAuthorization(input: DigestInput): string | Error {
  const { params } = input.challenge;
  const algorithmName = (params['algorithm'] ?? 'MD5').toUpperCase();
  const algorithm = ALGORITHMS[algorithmName];
  if (algorithm === undefined) {
    return new Error(`digest authentication: unsupported algorithm "${params['algorithm']}"`);
  }
  const realm = params['realm'] ?? '';
  const nonce = params['nonce'] ?? '';
  const h = (text: string | Uint8Array): string =>
    nodeCrypto().createHash(algorithm.hash).update(text).digest('hex');
  const offered = (params['qop'] ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter((q) => q !== '');
  let qop: 'auth' | 'auth-int' | undefined;
  if (offered.includes('auth')) qop = 'auth';
  else if (offered.includes('auth-int')) qop = 'auth-int';
  else if (offered.length > 0) {
    return new Error(`digest authentication: unsupported qop "${params['qop']}"`);
  }
  const cnonce = input.cnonce ?? nodeCrypto().randomBytes(16).toString('hex');
  const nc = '00000001';
  let ha1 = h(`${input.username}:${realm}:${input.password}`);
  if (algorithm.session) ha1 = h(`${ha1}:${nonce}:${cnonce}`);
  const ha2 =
    qop === 'auth-int'
      ? h(`${input.method}:${input.uri}:${h(input.body)}`)
      : h(`${input.method}:${input.uri}`);
  const response =
    qop === undefined
      ? h(`${ha1}:${nonce}:${ha2}`)
      : h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
  const userhash = (params['userhash'] ?? '').toLowerCase() === 'true';
  const fields = [
    `username="${quote(userhash ? h(`${input.username}:${realm}`) : input.username)}"`,
    `realm="${quote(realm)}"`,
    `nonce="${quote(nonce)}"`,
    `uri="${quote(input.uri)}"`,
    `algorithm=${params['algorithm'] ?? 'MD5'}`,
    `response="${response}"`,
  ];
  if (params['opaque'] !== undefined) fields.push(`opaque="${quote(params['opaque'])}"`);
  if (qop !== undefined) fields.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (userhash) fields.push('userhash=true');
  return `Digest ${fields.join(', ')}`;
}

function quote(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`);
}
