/**
 * The part of the generated `.d.ts` that is the same for every app: the shapes of SPEC sections
 * 3, 3a and 3b as functions see them (runtime/guest/prelude.js, services/*\/guest.js,
 * services/mongodb/client.ts). The app-specific names (Values, functions, data sources, the
 * environment) are filled in by generate.ts. Kept self-contained: no DOM lib, no @types/node,
 * so that the names below never clash with another declaration of `exports` or `require`.
 */
export const GLOBALS_DTS = `declare namespace Triggerbox {
  /** A document as functions read and write it: any field, any BSON value. */
  type Document = Record<string, any>;

  interface Cursor {
    toArray(): Promise<Document[]>;
    /** The next document, or undefined after the last. */
    next(): Promise<Document | undefined>;
    sort(sort: Document): Cursor;
    skip(amount: number): Cursor;
    limit(amount: number): Cursor;
  }
  interface InsertOneResult {
    insertedId: any;
  }
  interface InsertManyResult {
    insertedIds: any[];
  }
  interface UpdateResult {
    matchedCount: number;
    modifiedCount: number;
    upsertedId?: any;
  }
  interface DeleteResult {
    deletedCount: number;
  }
  interface UpdateOptions {
    upsert?: boolean;
    arrayFilters?: Document[];
  }
  interface FindOneAndOptions {
    projection?: Document;
    sort?: Document;
    upsert?: boolean;
    /** Return the document as it is after the change (default: before). */
    returnNewDocument?: boolean;
    arrayFilters?: Document[];
  }
  type BulkWriteOperation =
    | { insertOne: { document: Document } }
    | { updateOne: { filter: Document; update: Document | Document[]; upsert?: boolean; arrayFilters?: Document[] } }
    | { updateMany: { filter: Document; update: Document | Document[]; upsert?: boolean; arrayFilters?: Document[] } }
    | { replaceOne: { filter: Document; replacement: Document; upsert?: boolean } }
    | { deleteOne: { filter: Document } }
    | { deleteMany: { filter: Document } };

  interface MongoDBCollection {
    find(query?: Document, projection?: Document): Cursor;
    findOne(query?: Document, projection?: Document, options?: Document): Promise<Document | null>;
    insertOne(document: Document): Promise<InsertOneResult>;
    insertMany(documents: Document[], options?: { ordered?: boolean }): Promise<InsertManyResult>;
    updateOne(query: Document, update: Document | Document[], options?: UpdateOptions): Promise<UpdateResult>;
    updateMany(query: Document, update: Document | Document[], options?: UpdateOptions): Promise<UpdateResult>;
    replaceOne(query: Document, replacement: Document, options?: { upsert?: boolean }): Promise<UpdateResult>;
    deleteOne(query: Document): Promise<DeleteResult>;
    deleteMany(query: Document): Promise<DeleteResult>;
    findOneAndUpdate(query: Document, update: Document | Document[], options?: FindOneAndOptions): Promise<Document | null>;
    findOneAndReplace(query: Document, replacement: Document, options?: FindOneAndOptions): Promise<Document | null>;
    findOneAndDelete(query: Document, options?: FindOneAndOptions): Promise<Document | null>;
    aggregate(pipeline: Document[], options?: Document): Cursor;
    count(query?: Document, options?: Document): Promise<number>;
    countDocuments(query?: Document, options?: Document): Promise<number>;
    distinct(field: string, query?: Document): Promise<any[]>;
    bulkWrite(operations: BulkWriteOperation[], options?: { ordered?: boolean }): Promise<null>;
  }
  interface MongoDBDatabase {
    collection(name: string): MongoDBCollection;
    getCollectionNames(): Promise<string[]>;
  }
  interface MongoDBService {
    db(name: string): MongoDBDatabase;
  }

  interface HttpRequestOptions {
    url?: string;
    scheme?: string;
    host?: string;
    path?: string;
    /** \`{name: ["value"]}\` */
    query?: Record<string, string[]>;
    fragment?: string;
    username?: string;
    password?: string;
    /** \`{Name: ["value"]}\`: each header is a list. */
    headers?: Record<string, string[]>;
    cookies?: Record<string, string>;
    body?: string | Document;
    /** EJSON-encode an object body. */
    encodeBodyAsJSON?: boolean;
    form?: Record<string, string | string[]>;
    followRedirects?: boolean;
    digestAuth?: boolean;
    authUrl?: string;
  }
  interface HttpResponse {
    status: string;
    statusCode: number;
    contentLength: number;
    headers: Record<string, string[]>;
    cookies: Record<string, any>;
    /** Read with \`body.text()\`. */
    body: BSON.Binary;
  }
  interface Http {
    get(options: HttpRequestOptions): Promise<HttpResponse>;
    post(options: HttpRequestOptions): Promise<HttpResponse>;
    put(options: HttpRequestOptions): Promise<HttpResponse>;
    patch(options: HttpRequestOptions): Promise<HttpResponse>;
    delete(options: HttpRequestOptions): Promise<HttpResponse>;
    head(options: HttpRequestOptions): Promise<HttpResponse>;
  }

  interface User {
    /** Absent for the system user. */
    id?: string;
    type: "normal" | "server" | "system";
    data: Document;
    identities: any[];
    custom_data: Document;
  }
  interface Request {
    remoteIPAddress?: string;
    /** \`{Name: ["value"]}\` */
    requestHeaders?: Record<string, string[]>;
    webhookUrl?: string;
    httpMethod?: string;
    rawQueryString?: string;
    httpReferrer?: string;
    httpUserAgent?: string;
    service?: string;
    action?: string;
  }
  interface AppInfo {
    id: string;
    clientAppId: string;
    name: string;
    projectId: string;
    deployment: { model: string; providerRegion: string };
    lastDeployed: string;
  }

  interface Context {
    values: {
      /** The Value's JSON; a Secret-linked Value gives the Secret's string. */
      get<N extends ValueName>(name: N): Values[N];
    };
    environment: {
      tag: string;
      values: EnvironmentValues;
    };
    functions: {
      /**
       * Runs another function of the app in the same sandbox and returns what it returns: a
       * plain value for a synchronous function, a Promise for an async one.
       */
      execute(name: FunctionName, ...args: unknown[]): any;
    };
    services: {
      get(name: DataSourceName): MongoDBService;
    };
    http: Http;
    user: User;
    request: Request;
    app: AppInfo;
    runningAsSystem(): boolean;
  }

  interface Utils {
    crypto: {
      encrypt(encryptionType: "aes", message: string, key: string): BSON.Binary;
      decrypt(encryptionType: "aes", encryptedMessage: BSON.Binary, key: string): BSON.Binary;
      sign(encryptionType: "rsa", message: string, privateKey: string, signatureScheme?: "pss" | "pkcs1v15"): BSON.Binary;
      verify(encryptionType: "rsa", message: string, publicKey: string, signature: BSON.Binary, signatureScheme?: "pss" | "pkcs1v15"): boolean;
      hmac(input: string, secret: string, hashFunction: "sha1" | "sha256" | "sha512", outputFormat: "hex" | "base64"): string;
      hash(hashFunction: "sha1" | "sha256" | "md5", input: string | BSON.Binary): BSON.Binary;
    };
    jwt: {
      encode(signingMethod: string, payload: Document, secret: string, customHeaderFields?: Document): string;
      decode(jwtString: string, key: string, returnHeader?: boolean, acceptedSigningMethods?: string[]): any;
    };
  }

  interface Console {
    log(...data: any[]): void;
    info(...data: any[]): void;
    warn(...data: any[]): void;
    error(...data: any[]): void;
    debug(...data: any[]): void;
  }
}

/** BSON types. Each constructor is callable with or without \`new\`, as on the platform. */
declare namespace BSON {
  interface ObjectId {
    readonly id: Uint8Array;
    toHexString(): string;
    toString(): string;
    toJSON(): string;
    equals(other: ObjectId | string): boolean;
    getTimestamp(): Date;
  }
  interface Int32 {
    readonly value: number;
    valueOf(): number;
    toJSON(): number;
  }
  interface Double {
    readonly value: number;
    valueOf(): number;
    toJSON(): number;
  }
  interface Long {
    readonly low: number;
    readonly high: number;
    readonly unsigned: boolean;
    toNumber(): number;
    toString(radix?: number): string;
    equals(other: Long | number | string): boolean;
  }
  interface Decimal128 {
    toString(): string;
    toJSON(): { $numberDecimal: string };
  }
  interface Binary {
    readonly buffer: Uint8Array;
    readonly sub_type: number;
    length(): number;
    toString(encoding?: "hex" | "base64" | "utf8" | "utf-8"): string;
    toBase64(): string;
    toHex(): string;
    /** The bytes as UTF-8 text. */
    text(): string;
  }
  interface BSONRegExp {
    readonly pattern: string;
    readonly options: string;
  }
  interface MinKey {
    readonly _bsontype: "MinKey";
  }
  interface MaxKey {
    readonly _bsontype: "MaxKey";
  }
  interface Timestamp {
    readonly t: number;
    readonly i: number;
    toString(): string;
  }
  interface BSONConstructor<T, A extends any[]> {
    new (...args: A): T;
    (...args: A): T;
    readonly prototype: T;
  }
  const ObjectId: BSONConstructor<ObjectId, [id?: string | number | Uint8Array | ObjectId]> & {
    createFromHexString(hex: string): ObjectId;
    createFromTime(seconds: number): ObjectId;
    isValid(id: unknown): boolean;
  };
  const Int32: BSONConstructor<Int32, [value: number | string]>;
  const Double: BSONConstructor<Double, [value: number | string]>;
  const Long: BSONConstructor<Long, [low?: number | string | bigint, high?: number | boolean, unsigned?: boolean]> & {
    fromNumber(value: number, unsigned?: boolean): Long;
    fromString(value: string, unsigned?: boolean, radix?: number): Long;
    fromInt(value: number, unsigned?: boolean): Long;
    fromBits(low: number, high: number, unsigned?: boolean): Long;
  };
  const Decimal128: BSONConstructor<Decimal128, [value: string | Uint8Array]> & {
    fromString(value: string): Decimal128;
  };
  const Binary: BSONConstructor<Binary, [bytes?: Uint8Array | number[] | string, subType?: number]> & {
    fromBase64(base64: string, subType?: number): Binary;
    fromHex(hex: string, subType?: number): Binary;
    createFromBase64(base64: string, subType?: number): Binary;
    createFromHexString(hex: string, subType?: number): Binary;
  };
  const BSONRegExp: BSONConstructor<BSONRegExp, [pattern: string, options?: string]>;
  const MinKey: BSONConstructor<MinKey, []>;
  const MaxKey: BSONConstructor<MaxKey, []>;
  const Timestamp: BSONConstructor<Timestamp, [value?: { t: number; i: number } | Long]>;
}

declare namespace EJSON {
  /** Canonical Extended JSON text unless \`relaxed: true\`. */
  function stringify(value: any, replacer?: ((key: string, value: any) => any) | (string | number)[] | null, space?: string | number, options?: { relaxed?: boolean }): string;
  function stringify(value: any, options?: { relaxed?: boolean }): string;
  /** Keeps \`{"$numberLong": ...}\` as a Long unless \`relaxed: true\`. */
  function parse(text: string, options?: { relaxed?: boolean }): any;
  function serialize(value: any, options?: { relaxed?: boolean }): any;
  function deserialize(value: any, options?: { relaxed?: boolean }): any;
}

declare var context: Triggerbox.Context;
declare var utils: Triggerbox.Utils;
declare var console: Triggerbox.Console;
/** The function's entry point: assign it (\`exports = function (...) {...}\`). */
declare var exports: (...args: any[]) => any;
/** An alias of the global object. */
declare var global: typeof globalThis;
/** A package of functions/node_modules or a supported Node built-in; inside function bodies only. */
declare function require(name: string): any;
declare var Buffer: any;
declare var URL: any;
declare var URLSearchParams: any;
declare var TextEncoder: any;
declare var TextDecoder: any;
declare function atob(data: string): string;
declare function btoa(data: string): string;
declare function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]): any;
declare function setInterval(callback: (...args: any[]) => void, ms?: number, ...args: any[]): any;
declare function setImmediate(callback: (...args: any[]) => void, ...args: any[]): any;
declare function clearTimeout(handle: any): void;
declare function clearInterval(handle: any): void;
declare function clearImmediate(handle: any): void;
declare function queueMicrotask(callback: () => void): void;
`;

/**
 * The Node built-ins functions may require (SPEC section 3a), typed loosely; a module not listed
 * (child_process, vm ...) is then "Cannot find module", as it fails on the platform.
 */
export const NODE_BUILTINS = [
  'assert',
  'buffer',
  'crypto',
  'dns',
  'events',
  'fs',
  'http',
  'https',
  'net',
  'os',
  'path',
  'process',
  'punycode',
  'querystring',
  'stream',
  'string_decoder',
  'timers',
  'tls',
  'url',
  'util',
  'zlib',
];
