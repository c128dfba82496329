/**
 * A MongoDB URI holds the user's credentials (and sometimes secret options such as an AWS
 * session token): it must never reach an error message, a log line or a file in clear. These
 * helpers give the shape that is safe to print — scheme, hosts and database, which is what
 * anyone needs to tell which cluster a message is about.
 */

const MONGODB_SCHEME = /^mongodb(?:\+srv)?:\/\//i;
/** Any scheme: a URI given with a wrong one (http://user:pw@host) still has credentials to hide. */
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

interface UriParts {
  scheme: string;
  /** Everything before the last '@' ahead of the options: a password with an unescaped '@' or '/' stays in it. */
  userinfo: string | undefined;
  hosts: string;
  path: string;
  query: string | undefined;
}

/**
 * The parts of a URI, leniently: a password with an unescaped `@`, `/` or `#` is invalid but
 * common, and must be taken as credentials, never shown as a host or a path.
 */
function parseUri(uri: string): UriParts | undefined {
  const scheme = SCHEME.exec(uri)?.[0];
  if (scheme === undefined) return undefined;
  const rest = uri.slice(scheme.length);
  const queryAt = rest.indexOf('?');
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = queryAt < 0 ? undefined : rest.slice(queryAt).replace(/#.*$/, '');
  const at = beforeQuery.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : beforeQuery.slice(0, at);
  const authority = at < 0 ? beforeQuery : beforeQuery.slice(at + 1);
  const slash = authority.search(/[/#]/);
  return {
    scheme,
    userinfo,
    hosts: slash < 0 ? authority : authority.slice(0, slash),
    path: slash < 0 ? '' : authority.slice(slash).replace(/#.*$/, ''),
    query,
  };
}
/** URI options whose values are secrets (others, like retryWrites=true, are left alone in texts). */
const SECRET_OPTIONS = new Set([
  'authmechanismproperties',
  'tlscertificatekeyfilepassword',
  'sslpemkeypassword',
  'password',
]);
/** Any MongoDB URI with user info inside a longer text (a driver message quoting it), up to its last '@'. */
const USERINFO_IN_TEXT = /(mongodb(?:\+srv)?:\/\/)[^\s/'"]*@/gi;

/** The URI without credentials and with its options hidden: mongodb+srv://<credentials>@host/db?<options>. */
export function redactUri(uri: string): string {
  const parts = parseUri(uri);
  if (parts === undefined || !MONGODB_SCHEME.test(parts.scheme))
    return '<a MongoDB URI that is not of the form mongodb://...>';
  const { scheme, userinfo, hosts, path, query } = parts;
  return `${scheme}${userinfo !== undefined ? '<credentials>@' : ''}${hosts}${path}${query ? '?<options>' : ''}`;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A text (an error message) with the URI, its user info, password and options taken out.
 * Passwords and option strings shorter than 4 characters are not searched for on their own:
 * they would mangle ordinary words; the URI forms that carry them are still replaced.
 */
export function redactText(text: string, uri: string): string {
  let out = text;
  const parts = parseUri(uri);
  const secrets = new Set<string>([uri]);
  if (parts) {
    const { userinfo, query } = parts;
    if (userinfo) {
      secrets.add(userinfo);
      secrets.add(decoded(userinfo));
      const colon = userinfo.indexOf(':');
      if (colon >= 0) {
        const password = userinfo.slice(colon + 1);
        secrets.add(password);
        secrets.add(decoded(password));
      }
    }
    if (query && query.length > 1) {
      secrets.add(query.slice(1));
      for (const pair of query.slice(1).split('&')) {
        const eq = pair.indexOf('=');
        if (eq < 0 || !SECRET_OPTIONS.has(pair.slice(0, eq).toLowerCase())) continue;
        const value = pair.slice(eq + 1);
        // authMechanismProperties=AWS_SESSION_TOKEN:<token>,...: each property's value too.
        for (const part of [value, ...decoded(value).split(/[,:]/)]) {
          secrets.add(part);
          secrets.add(decoded(part));
        }
      }
    }
  }
  const ordered = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  for (const secret of ordered)
    out = out.split(secret).join(secret === uri ? redactUri(uri) : '<redacted>');
  return out.replace(USERINFO_IN_TEXT, '$1<credentials>@');
}
