export type HttpErrorKind =
  /** The request document cannot make a request (bad URL, scheme, missing credentials). */
  | 'InvalidRequest'
  /** DNS, connect, TLS or transfer failure. */
  | 'Network'
  /** More than MAX_REDIRECTS redirects. */
  | 'TooManyRedirects'
  /** The response (or request) body is over the size cap. */
  | 'BodyTooLarge'
  /** The signal aborted the request (the call ended or hit its time limit). */
  | 'Aborted';

/**
 * A failed request. The message has the shape of Go's `*url.Error`
 * (`Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`), since the
 * platform's service is Go's net/http; the platform's exact text is undocumented.
 */
export class HttpRequestError extends Error {
  readonly kind: HttpErrorKind;
  constructor(kind: HttpErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpRequestError';
    this.kind = kind;
  }
}
