/**
 * The engine interface: what the collection API (functions), the CLI `db` commands, the
 * DATABASE-trigger dispatcher and the MongoDB wire endpoint call, and what both the embedded
 * engine and a real-cluster adapter (official driver) implement. Every method takes one request
 * object naming its namespace, close to the server command it stands for, so a wire command maps
 * onto one call. Documents are bson JS values (ObjectId, Long, Decimal128, Date, Binary ...).
 */
import type { Timestamp } from 'bson';
import type { Doc } from './bson-values.js';

export type { Doc };

export interface Namespace {
  db: string;
  coll: string;
}

export interface NamespacedRequest {
  ns: Namespace;
}

/** Documents in batches; the embedded engine snapshots the result when the cursor is made. */
export interface EngineCursor extends AsyncIterable<Doc> {
  /** The next document, or null when the cursor is exhausted. */
  next(): Promise<Doc | null>;
  /** Up to `size` documents (an empty array when exhausted): what getMore returns. */
  nextBatch(size: number): Promise<Doc[]>;
  toArray(): Promise<Doc[]>;
  close(): Promise<void>;
}

export interface FindRequest extends NamespacedRequest {
  filter?: Doc | undefined;
  projection?: Doc | undefined;
  sort?: Doc | undefined;
  skip?: number | undefined;
  /** 0 or absent: no limit. */
  limit?: number | undefined;
  /** Fail with MongoResultLimitExceeded when the result would hold more documents (functions: 50,000). */
  maxDocuments?: number | undefined;
}

export interface AggregateRequest extends NamespacedRequest {
  pipeline: Doc[];
  let?: Doc | undefined;
  maxDocuments?: number | undefined;
}

export interface InsertOneRequest extends NamespacedRequest {
  document: Doc;
}

export interface InsertManyRequest extends NamespacedRequest {
  documents: Doc[];
  /** Default true: stop at the first failure; earlier documents stay inserted, as on the server. */
  ordered?: boolean | undefined;
}

export interface UpdateRequest extends NamespacedRequest {
  filter: Doc;
  /** Operators ({$set: ...}), a pipeline ([{$set: ...}]) or, for updateOne only, a replacement. */
  update: Doc | Doc[];
  upsert?: boolean | undefined;
  arrayFilters?: Doc[] | undefined;
  /** updateOne: which matching document to update first. */
  sort?: Doc | undefined;
}

export interface ReplaceRequest extends NamespacedRequest {
  filter: Doc;
  replacement: Doc;
  upsert?: boolean | undefined;
  sort?: Doc | undefined;
}

export interface DeleteRequest extends NamespacedRequest {
  filter: Doc;
}

export interface FindOneAndRequest extends NamespacedRequest {
  filter: Doc;
  sort?: Doc | undefined;
  projection?: Doc | undefined;
  upsert?: boolean | undefined;
  /** 'before' (the default, as the platform's returnNewDocument: false) or 'after'. */
  returnDocument?: 'before' | 'after' | undefined;
  arrayFilters?: Doc[] | undefined;
}

export interface FindOneAndUpdateRequest extends FindOneAndRequest {
  update: Doc | Doc[];
}

export interface FindOneAndReplaceRequest extends FindOneAndRequest {
  replacement: Doc;
}

export interface CountRequest extends NamespacedRequest {
  filter?: Doc | undefined;
  skip?: number | undefined;
  limit?: number | undefined;
}

export interface DistinctRequest extends NamespacedRequest {
  key: string;
  filter?: Doc | undefined;
}

export type BulkOperation =
  | { insertOne: { document: Doc } }
  | { updateOne: Omit<UpdateRequest, 'ns'> }
  | { updateMany: Omit<UpdateRequest, 'ns' | 'sort'> }
  | { replaceOne: Omit<ReplaceRequest, 'ns'> }
  | { deleteOne: Omit<DeleteRequest, 'ns'> }
  | { deleteMany: Omit<DeleteRequest, 'ns'> };

export interface BulkWriteRequest extends NamespacedRequest {
  operations: BulkOperation[];
  ordered?: boolean | undefined;
}

export interface InsertOneResult {
  insertedId: unknown;
}

export interface InsertManyResult {
  insertedCount: number;
  /** Index in the request -> _id, as the driver reports it. */
  insertedIds: Record<number, unknown>;
}

export interface UpdateResult {
  matchedCount: number;
  modifiedCount: number;
  upsertedCount: number;
  /** Present only when an upsert inserted a document. */
  upsertedId?: unknown;
}

export interface DeleteResult {
  deletedCount: number;
}

export interface BulkWriteResult {
  insertedCount: number;
  matchedCount: number;
  modifiedCount: number;
  deletedCount: number;
  upsertedCount: number;
  insertedIds: Record<number, unknown>;
  upsertedIds: Record<number, unknown>;
}

export interface IndexSpec {
  v: 2;
  key: Doc;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Doc;
}

export interface CreateIndexRequest extends NamespacedRequest {
  key: Doc;
  name?: string | undefined;
  unique?: boolean | undefined;
  sparse?: boolean | undefined;
  partialFilterExpression?: Doc | undefined;
}

export interface DatabaseInfo {
  name: string;
  sizeOnDisk: number;
  empty: boolean;
}

export interface CollectionInfo {
  name: string;
  type: 'collection';
}

export interface UpdateDescription {
  updatedFields: Doc;
  removedFields: string[];
  truncatedArrays: { field: string; newSize: number }[];
}

/** A change-stream event (https://www.mongodb.com/docs/manual/reference/change-events/). */
export interface ChangeEvent {
  _id: { _data: string };
  operationType: 'insert' | 'update' | 'replace' | 'delete' | 'drop' | 'dropDatabase';
  clusterTime: Timestamp;
  wallTime: Date;
  ns: { db: string; coll?: string };
  documentKey?: { _id: unknown };
  fullDocument?: Doc | null;
  fullDocumentBeforeChange?: Doc | null;
  updateDescription?: UpdateDescription;
}

export interface WatchRequest {
  /** Only events of this database (and collection); absent: the whole deployment. */
  db?: string | undefined;
  coll?: string | undefined;
  /**
   * 'default': fullDocument on insert and replace only; 'updateLookup' / 'whenAvailable' /
   * 'required': also on update (the document as that write left it).
   */
  fullDocument?: 'default' | 'updateLookup' | 'whenAvailable' | 'required' | undefined;
  /** 'off' (default): never; otherwise the pre-image on update, replace and delete. */
  fullDocumentBeforeChange?: 'off' | 'whenAvailable' | 'required' | undefined;
  /**
   * A real cluster's stream only (the embedded engine's subscriptions are live and ignore
   * these): resume after this token (events committed after it are delivered), or start after
   * it (as resumeAfter, and also past an invalidate).
   */
  resumeAfter?: { _data: string } | undefined;
  startAfter?: { _data: string } | undefined;
  /** A real cluster's stream only: each new resume token (after each event, and idle batches). */
  onResumeToken?: ((token: { _data: string }) => void) | undefined;
  /**
   * A real cluster's stream only: the stream stopped on an error the driver could not resume
   * from (its server code kept); without it the engine's `warn` gets the message.
   */
  onError?: ((error: Error & { mongoCode?: number }) => void) | undefined;
}

/** Called after the write is durable, in commit order; a listener's throw never fails a write. */
export type ChangeListener = (event: ChangeEvent) => void;

export interface ChangeSubscription {
  close(): void;
  /**
   * Resolves once events are being captured (a real cluster's change stream opens over the
   * network; the embedded engine's subscription is live at once and leaves this absent).
   */
  ready?: Promise<void>;
}

export interface Engine {
  find(request: FindRequest): Promise<EngineCursor>;
  aggregate(request: AggregateRequest): Promise<EngineCursor>;
  countDocuments(request: CountRequest): Promise<number>;
  estimatedDocumentCount(request: NamespacedRequest): Promise<number>;
  distinct(request: DistinctRequest): Promise<unknown[]>;

  insertOne(request: InsertOneRequest): Promise<InsertOneResult>;
  insertMany(request: InsertManyRequest): Promise<InsertManyResult>;
  updateOne(request: UpdateRequest): Promise<UpdateResult>;
  updateMany(request: UpdateRequest): Promise<UpdateResult>;
  replaceOne(request: ReplaceRequest): Promise<UpdateResult>;
  deleteOne(request: DeleteRequest): Promise<DeleteResult>;
  deleteMany(request: DeleteRequest): Promise<DeleteResult>;
  findOneAndUpdate(request: FindOneAndUpdateRequest): Promise<Doc | null>;
  findOneAndReplace(request: FindOneAndReplaceRequest): Promise<Doc | null>;
  findOneAndDelete(request: FindOneAndRequest): Promise<Doc | null>;
  bulkWrite(request: BulkWriteRequest): Promise<BulkWriteResult>;

  listDatabases(): Promise<DatabaseInfo[]>;
  listCollections(request: { db: string }): Promise<CollectionInfo[]>;
  createCollection(request: NamespacedRequest): Promise<void>;
  /** False when the collection did not exist. */
  dropCollection(request: NamespacedRequest): Promise<boolean>;
  dropDatabase(request: { db: string }): Promise<void>;
  createIndex(request: CreateIndexRequest): Promise<string>;
  listIndexes(request: NamespacedRequest): Promise<IndexSpec[]>;
  dropIndex(request: NamespacedRequest & { name: string }): Promise<void>;

  /** Subscribes to committed changes; events start with the next commit. */
  watch(request: WatchRequest, listener: ChangeListener): ChangeSubscription;
  close(): Promise<void>;
}
