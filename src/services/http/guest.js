// @ts-check
/**
 * `context.http` inside the sandbox: a bare V8 isolate, so no Node APIs here, only the
 * language, the BSON/EJSON handed in and the host call. It checks the request document,
 * EJSON-encodes object bodies, sends plain data to the host (`services/http/host.ts`) and
 * wraps the response body as a BSON.Binary with `.text()`.
 */

/**
 * @typedef {'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'} HttpMethod
 *
 * @typedef {object} HostRequest what crosses to the host (host.ts HttpRequest)
 * @property {HttpMethod} method
 * @property {string} [url]
 * @property {string} [scheme]
 * @property {string} [host]
 * @property {string} [path]
 * @property {Record<string, string[]>} [query]
 * @property {string} [fragment]
 * @property {string} [username]
 * @property {string} [password]
 * @property {Record<string, string[]>} [headers]
 * @property {Record<string, string>} [cookies]
 * @property {string | Uint8Array} [body]
 * @property {Record<string, string[]>} [form]
 * @property {boolean} [followRedirects]
 * @property {boolean} [digestAuth]
 * @property {string} [authUrl]
 *
 * @typedef {object} HostResponse what comes back (host.ts HttpResponse)
 * @property {string} status
 * @property {number} statusCode
 * @property {number} contentLength
 * @property {Record<string, string[]>} headers
 * @property {Record<string, object>} cookies
 * @property {Uint8Array | ArrayBuffer} body
 *
 * @typedef {(op: 'http.request', request: HostRequest) => Promise<HostResponse>} CallHostAsync
 *
 * @typedef {{ Binary: new (bytes: Uint8Array, subType?: number) => any }} BsonLike
 * @typedef {{ stringify: (value: unknown, options?: { relaxed?: boolean }) => string }} EjsonLike
 */

const METHODS = /** @type {const} */ (['get', 'post', 'put', 'patch', 'delete', 'head']);
const URL_PARTS = ['scheme', 'host', 'path', 'query', 'fragment'];

/**
 * @param {CallHostAsync} callHostAsync the generic async host op; resolves with the response,
 *   its body as bytes (a Transfer), and is cancelled by the runtime when the call ends
 * @param {BsonLike} BSON the sandbox's BSON (for Binary)
 * @param {EjsonLike} EJSON the sandbox's EJSON (for encodeBodyAsJSON)
 */
export function createHttp(callHostAsync, BSON, EJSON) {
  /** @type {Record<string, (options: unknown) => Promise<unknown>>} */
  const http = {};
  for (const name of METHODS) {
    const method = /** @type {HttpMethod} */ (name.toUpperCase());
    http[name] = async function (options) {
      const request = toHostRequest(`context.http.${name}`, method, options, EJSON);
      const response = await callHostAsync('http.request', request);
      return fromHostResponse(response, BSON);
    };
  }
  return Object.freeze(http);
}

/**
 * @param {string} where
 * @param {HttpMethod} method
 * @param {unknown} options
 * @param {EjsonLike} EJSON
 * @returns {HostRequest}
 */
function toHostRequest(where, method, options, EJSON) {
  if (!isPlainObject(options)) {
    throw new TypeError(
      `${where}: expected a request document such as { url: "https://example.com" }, got ${describe(options)}`,
    );
  }
  const o = /** @type {Record<string, unknown>} */ (options);
  /** @type {HostRequest} */
  const request = { method };

  const givenParts = URL_PARTS.filter((k) => o[k] !== undefined);
  if (o.url !== undefined) {
    if (typeof o.url !== 'string' || o.url === '') {
      throw new TypeError(`${where}: url must be a non-empty string, got ${describe(o.url)}`);
    }
    if (givenParts.length > 0) {
      throw new TypeError(
        `${where}: give either url or the URL parts (scheme, host, path, query, fragment), not both (got url and ${givenParts.join(', ')})`,
      );
    }
    request.url = o.url;
  } else {
    if (typeof o.host !== 'string' || o.host === '') {
      throw new TypeError(
        `${where}: the request needs a url, or a host (with optional scheme, path, query, fragment)`,
      );
    }
    request.host = o.host;
    for (const key of ['scheme', 'path', 'fragment']) {
      if (o[key] !== undefined) {
        const value = o[key];
        if (typeof value !== 'string') {
          throw new TypeError(`${where}: ${key} must be a string, got ${describe(value)}`);
        }
        Object.assign(request, { [key]: value });
      }
    }
    if (o.query !== undefined) request.query = stringLists(where, 'query', o.query);
  }
  for (const key of ['username', 'password', 'authUrl']) {
    if (o[key] !== undefined) {
      if (typeof o[key] !== 'string') {
        throw new TypeError(`${where}: ${key} must be a string, got ${describe(o[key])}`);
      }
      Object.assign(request, { [key]: o[key] });
    }
  }
  for (const key of ['followRedirects', 'digestAuth', 'encodeBodyAsJSON']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') {
      throw new TypeError(`${where}: ${key} must be true or false, got ${describe(o[key])}`);
    }
  }
  if (o.followRedirects !== undefined)
    request.followRedirects = /** @type {boolean} */ (o.followRedirects);
  if (o.digestAuth !== undefined) request.digestAuth = /** @type {boolean} */ (o.digestAuth);
  if (o.headers !== undefined) request.headers = stringLists(where, 'headers', o.headers);
  if (o.cookies !== undefined) {
    if (!isPlainObject(o.cookies)) {
      throw new TypeError(
        `${where}: cookies must be a document of strings such as { favoriteTeam: "Chicago Cubs" }, got ${describe(o.cookies)}`,
      );
    }
    /** @type {Record<string, string>} */
    const cookies = {};
    for (const [name, value] of Object.entries(/** @type {object} */ (o.cookies))) {
      if (typeof value !== 'string') {
        throw new TypeError(`${where}: cookies.${name} must be a string, got ${describe(value)}`);
      }
      cookies[name] = value;
    }
    request.cookies = cookies;
  }

  const hasBody = o.body !== undefined && o.body !== null;
  if (o.form !== undefined && o.form !== null) {
    if (hasBody) throw new TypeError(`${where}: give either body or form, not both`);
    request.form = formFields(where, o.form);
  }
  if (hasBody) request.body = encodeBody(where, o.body, o.encodeBodyAsJSON === true, EJSON);
  return request;
}

/**
 * @param {string} where
 * @param {unknown} body
 * @param {boolean} asJSON
 * @param {EjsonLike} EJSON
 * @returns {string | Uint8Array}
 */
function encodeBody(where, body, asJSON, EJSON) {
  const bytes = binaryBytes(body);
  if (bytes !== undefined && !asJSON) return bytes;
  if (typeof body === 'string' && !asJSON) return body;
  if (asJSON) {
    // Relaxed EJSON, whatever the sandbox's EJSON.stringify defaults to: numbers stay JSON
    // numbers; Dates and ObjectIds become {"$date": ...} and {"$oid": ...}.
    try {
      return EJSON.stringify(body, { relaxed: true });
    } catch (error) {
      throw new TypeError(
        `${where}: body cannot be encoded as EJSON: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  throw new TypeError(
    `${where}: body is ${describe(body)}; send an object with encodeBodyAsJSON: true, or pass a string (for example JSON.stringify(body))`,
  );
}

/**
 * BSON.Binary, Uint8Array or ArrayBuffer as bytes; undefined for anything else.
 * @param {unknown} value
 * @returns {Uint8Array | undefined}
 */
function binaryBytes(value) {
  if (isBytes(value)) return /** @type {Uint8Array} */ (value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === 'object' && value !== null) {
    const v = /** @type {{ _bsontype?: unknown, buffer?: unknown, position?: unknown }} */ (value);
    if (v._bsontype === 'Binary' && isBytes(v.buffer)) {
      const buffer = /** @type {Uint8Array} */ (v.buffer);
      const length = typeof v.position === 'number' ? v.position : buffer.byteLength;
      return buffer.subarray(0, length);
    }
  }
  return undefined;
}

/**
 * A Uint8Array of this realm or of another (the boundary or a BSON build may hand one over).
 * @param {unknown} value
 * @returns {boolean}
 */
function isBytes(value) {
  return (
    value instanceof Uint8Array || Object.prototype.toString.call(value) === '[object Uint8Array]'
  );
}

/**
 * `{Name: ["v1", "v2"]}`: the platform's headers and query are lists of strings.
 * @param {string} where
 * @param {string} field
 * @param {unknown} value
 * @returns {Record<string, string[]>}
 */
function stringLists(where, field, value) {
  const example =
    field === 'headers' ? '{ "Content-Type": ["application/json"] }' : '{ color: ["red", "blue"] }';
  if (!isPlainObject(value)) {
    throw new TypeError(
      `${where}: ${field} must be a document such as ${example}, got ${describe(value)}`,
    );
  }
  /** @type {Record<string, string[]>} */
  const out = {};
  for (const [key, list] of Object.entries(/** @type {object} */ (value))) {
    if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
      throw new TypeError(
        `${where}: ${field}.${key} must be an array of strings, as in ${example}; got ${describe(list)}`,
      );
    }
    out[key] = [...list];
  }
  return out;
}

/**
 * The docs show form values as strings; lists of strings are accepted too.
 * @param {string} where
 * @param {unknown} value
 * @returns {Record<string, string[]>}
 */
function formFields(where, value) {
  if (!isPlainObject(value)) {
    throw new TypeError(
      `${where}: form must be a document such as { subject: "hello" }, got ${describe(value)}`,
    );
  }
  /** @type {Record<string, string[]>} */
  const out = {};
  for (const [key, field] of Object.entries(/** @type {object} */ (value))) {
    if (typeof field === 'string') out[key] = [field];
    else if (Array.isArray(field) && field.every((v) => typeof v === 'string'))
      out[key] = [...field];
    else {
      throw new TypeError(
        `${where}: form.${key} must be a string or an array of strings, got ${describe(field)}`,
      );
    }
  }
  return out;
}

/**
 * @param {HostResponse} response
 * @param {BsonLike} BSON
 */
function fromHostResponse(response, BSON) {
  const raw = response.body;
  const bytes =
    raw instanceof ArrayBuffer || Object.prototype.toString.call(raw) === '[object ArrayBuffer]'
      ? new Uint8Array(/** @type {ArrayBuffer} */ (raw))
      : /** @type {Uint8Array} */ (raw);
  const body = new BSON.Binary(bytes);
  if (typeof body.text !== 'function') {
    // The sandbox's BSON adds Binary.prototype.text; a bare bson build does not.
    Object.defineProperty(body, 'text', {
      configurable: true,
      writable: true,
      enumerable: false,
      value: function text() {
        return body.toString('utf8');
      },
    });
  }
  return {
    status: response.status,
    statusCode: response.statusCode,
    contentLength: response.contentLength,
    headers: response.headers,
    cookies: response.cookies,
    body,
  };
}

/**
 * @param {unknown} value
 * @returns {boolean}
 */
function isPlainObject(value) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value === 'undefined' ? '' : `${typeof value} `}${String(value)}`;
}
