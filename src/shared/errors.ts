/**
 * One error base class for the whole project. Every module declares its codes in this union,
 * one comment per code, so the CLI can render any error as "what, where, how to fix".
 */
export type ErrorCode =
  /** No app root (root_config.json, realm_config.json, config.json, stitch.json) was found. */
  | 'AppNotFound'
  /** `--app` names an app other than the local one. */
  | 'AppMismatch'
  /** `--env` names an environment the app has no file for. */
  | 'EnvironmentNotFound'
  /** A function name that the app does not define. */
  | 'FunctionNotFound'
  /** dev: an HTTP request (not run as system) for a function marked private. */
  | 'FunctionPrivate'
  /** A function file that does not parse, or does not assign a function to `exports`. */
  | 'FunctionSyntaxError'
  /** The function threw, rejected, or returned something that cannot cross as EJSON. */
  | 'FunctionExecutionError'
  /** The call ran past its wall-time limit. */
  | 'ExecutionTimeLimitExceeded'
  /** The call went past its memory limit. */
  | 'ExecutionMemoryLimitExceeded'
  /** The sandbox process died or stopped answering; it was replaced. */
  | 'SandboxCrashed'
  /** Bad command-line or API input. */
  | 'InvalidInput'
  /** The runner was used after dispose(). */
  | 'RunnerDisposed'
  /** --inspect under a Node whose V8 isolated-vm's inspector crashes (Node 26). */
  | 'InspectorUnsupported'
  /** The debugger endpoint's port is taken by another program. */
  | 'InspectorPortInUse'
  /** --inspect names a host that is not a loopback address. */
  | 'InspectorHostNotLoopback'
  /** The secret store exists but no master key was found. */
  | 'SecretKeyMissing'
  /** The master key does not open this secret store. */
  | 'SecretKeyWrong'
  /** TRIGGERBOX_MASTER_KEY or the key file does not hold a 32-byte key. */
  | 'SecretKeyInvalid'
  /** The key file or the app's .env is not a readable regular file inside the app. */
  | 'SecretKeyUnreadable'
  /** The secret store file (or .triggerbox) is not a readable regular file (folder) in the app. */
  | 'SecretStoreUnreadable'
  /** The secret store file is not a readable store (bad JSON, missing fields, bad encoding). */
  | 'SecretStoreCorrupt'
  /** The store is well-formed and the key is right, but its contents were altered. */
  | 'SecretStoreTampered'
  /** Another process held the store's lock for too long. */
  | 'SecretStoreLocked'
  /** No secret with that name or id. */
  | 'SecretNotFound'
  /** A secret with that name already exists. */
  | 'SecretExists'
  /** A secret name or value breaks the platform's rules. */
  | 'SecretInvalid'
  /** A trigger name that the app does not define. */
  | 'TriggerNotFound'
  /** The trigger is disabled (fire it anyway with --force). */
  | 'TriggerDisabled'
  /** The event does not pass the trigger's filters, so nothing ran. */
  | 'TriggerEventFiltered'
  /** A database operation failed as MongoDB fails it (its numeric code and codeName ride along). */
  | 'MongoOperationFailed'
  /** A query, update or pipeline names an operator that would run code ($where, $function ...). */
  | 'MongoScriptRefused'
  /** A stage, operator or command the embedded database does not offer ($search, $out ...). */
  | 'MongoNotSupportedLocally'
  /** A query would return more documents than the platform allows (50,000). */
  | 'MongoResultLimitExceeded'
  /** A file of the local database store is damaged; nothing was changed. */
  | 'MongoStoreCorrupt'
  /** Another process has the local database store open. */
  | 'MongoStoreLocked'
  /** The store was used after close(), or a write could not be made durable. */
  | 'MongoStoreClosed'
  /** A query, projection or pipeline holds $function, $where or $accumulator: refused, never run. */
  | 'QueryCodeOperator'
  /** `--ns` (or a seed file's name) is not `<database>.<collection>` with valid names. */
  | 'DbNamespaceInvalid'
  /** Documents to import, seed or filter by are not JSON/Extended JSON documents (line, column). */
  | 'DbInputMalformed'
  /** A document file (--file, --out, a seed) is not a readable regular file. */
  | 'DbFileUnreadable'
  /** `.triggerbox` or `.triggerbox/db` is not a real folder of the app. */
  | 'DbFolderInvalid'
  /** A command that deletes data had no terminal to ask on and no -y/--yes. */
  | 'DbConfirmationRequired'
  /** `db seed` found no `.triggerbox/seed/<db>/<coll>.json` file. */
  | 'DbSeedsMissing';

export interface ErrorOptions {
  /** How to fix it, shown after the message. */
  hint?: string | undefined;
  /** Extra lines (for example every diagnostic of an invalid app). */
  details?: string[] | undefined;
  cause?: unknown;
}

export class TriggerboxError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: string[];

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TriggerboxError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}

export function isTriggerboxError(error: unknown): error is TriggerboxError {
  return error instanceof TriggerboxError;
}

/** The message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
