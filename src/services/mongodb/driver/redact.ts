/**
 * A MongoDB URI holds the user's credentials (and sometimes secret options such as an AWS
 * session token): it must never reach an error message, a log line or a file in clear. These
 * helpers give the shape that is safe to print — scheme, hosts and database, which is what
 * anyone needs to tell which cluster a message is about.
 */

const URI = /^(mongodb(?:\+srv)?:\/\/)(?:([^@/]*)@)?([^/?#]*)([^?#]*)(\?[^#]*)?/i;
/** URI options whose values are secrets (others, like retryWrites=true, are left alone in texts). */
const SECRET_OPTIONS = new Set([
  'authmechanismproperties',
  'tlscertificatekeyfilepassword',
  'sslpemkeypassword',
  'password',
]);
/** Any MongoDB URI with user info inside a longer text (a driver message quoting it). */
const USERINFO_IN_TEXT = /(mongodb(?:\+srv)?:\/\/)[^@\s/'"]+@/gi;

/** The URI without credentials and with its options hidden: mongodb+srv://<credentials>@host/db?<options>. */
export function redactUri(uri: string): string {
  const match = URI.exec(uri);
  if (!match) return '<a MongoDB URI that is not of the form mongodb://...>';
  const [, scheme, userinfo, hosts, path, query] = match;
  return `${scheme}${userinfo !== undefined ? '<credentials>@' : ''}${hosts}${path ?? ''}${query ? '?<options>' : ''}`;
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
  const match = URI.exec(uri);
  const secrets = new Set<string>([uri]);
  if (match) {
    const [, , userinfo, , , query] = match;
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
