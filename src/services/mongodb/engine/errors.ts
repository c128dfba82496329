/**
 * Errors as MongoDB gives them. Function code branches on `code === 11000` and on messages
 * like "E11000 duplicate key error", so every database failure carries the server's numeric
 * code and codeName next to the project's TriggerboxError code; the sandbox and the wire
 * endpoint copy `mongoCode`/`codeName` onto what their callers see.
 */
import { TriggerboxError, type ErrorCode } from '../../../shared/errors.js';

/** The MongoDB server codes this engine raises (names as the server's error_codes.yml). */
export const MongoCodes = {
  BadValue: 2,
  FailedToParse: 9,
  TypeMismatch: 14,
  InvalidLength: 16,
  IllegalOperation: 20,
  PathNotViable: 28,
  ConflictingUpdateOperators: 40,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  InvalidIdField: 53,
  DollarPrefixedFieldName: 52,
  ImmutableField: 66,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  CommandNotSupported: 115,
  InvalidNamespace: 73,
  Location40324: 40324,
  Location28746: 28746,
  Location28747: 28747,
  DuplicateKey: 11000,
  BSONObjectTooLarge: 10334,
  // Codes of the wire endpoint and the driver adapter.
  InternalError: 1,
  Unauthorized: 13,
  AuthenticationFailed: 18,
  CursorNotFound: 43,
  NamespaceExists: 48,
  CommandNotFound: 59,
  InvalidResumeToken: 260,
  ChangeStreamHistoryLost: 286,
  UnsupportedOpQueryCommand: 352,
  HostUnreachable: 6,
} as const;

export type MongoCodeName = keyof typeof MongoCodes;

export class MongoError extends TriggerboxError {
  /** MongoDB's numeric error code (11000 for a duplicate key). */
  readonly mongoCode: number;
  readonly codeName: string;
  /** Extra fields the server puts on the error (keyPattern/keyValue for E11000, writeErrors ...). */
  readonly info: Record<string, unknown>;

  constructor(
    codeName: MongoCodeName,
    message: string,
    options: {
      code?: ErrorCode;
      hint?: string;
      info?: Record<string, unknown>;
      like?: unknown;
      /** A code this table does not name (a real server's error passed on by the driver adapter). */
      server?: { code: number; codeName: string };
    } = {},
  ) {
    // `like`: a bulk error takes the code of its first write error, as the server's does.
    const like = options.like instanceof MongoError ? options.like : undefined;
    super(like?.code ?? options.code ?? 'MongoOperationFailed', message, {
      hint: like?.hint ?? options.hint,
    });
    this.name = 'MongoError';
    this.mongoCode = like?.mongoCode ?? options.server?.code ?? MongoCodes[codeName];
    // The server reports 40324 etc. without a name; keep the bare number then, as it does.
    this.codeName =
      like?.codeName ??
      options.server?.codeName ??
      (codeName.startsWith('Location') ? '' : codeName);
    this.info = { ...like?.info, ...options.info };
  }
}

export function isMongoError(error: unknown): error is MongoError {
  return error instanceof MongoError;
}

export function badValue(message: string): MongoError {
  return new MongoError('BadValue', message);
}

export function failedToParse(message: string): MongoError {
  return new MongoError('FailedToParse', message);
}

export function notSupportedLocally(what: string, hint?: string): MongoError {
  return new MongoError('CommandNotSupported', `${what} is not supported locally`, {
    code: 'MongoNotSupportedLocally',
    hint:
      hint ??
      'run this against a real cluster (docs/database.md lists what the local engine offers)',
  });
}
