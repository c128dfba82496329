/**
 * The database service's entry for the rest of triggerbox (dev, cli, the sandbox wiring and the
 * wire endpoint import from here, never from engine/ files directly).
 */
export { createMongoService, RESULT_LIMIT, Collection, Database, ServiceCursor } from './client.js';
export type { MongoService, MongoServiceOptions } from './client.js';
export { EmbeddedEngine, type OpenEngineOptions } from './engine/embedded-engine.js';
export { MongoError, isMongoError, MongoCodes } from './engine/errors.js';
export { describeUpdate } from './engine/change-events.js';
export type * from './engine/types.js';
export {
  openAppDatabase,
  importDocuments,
  exportDocuments,
  findDocuments,
  listCollections,
  resetDatabase,
  findSeedFiles,
  seedDatabase,
  seedIfEmpty,
  DB_DIR,
  SEED_DIR,
  type OpenAppDatabaseOptions,
  type ImportOptions,
  type ImportResult,
  type ExportOptions,
  type FindOptions,
  type CollectionSummary,
  type SeedFile,
  type SeedResult,
} from './data.js';
export {
  parseNamespace,
  parseDocuments,
  parseDocumentArgument,
  canonicalLine,
  readableDocument,
  type ParsedDocument,
} from './data-text.js';
export {
  startMongoEndpoint,
  type MongoEndpoint,
  type MongoEndpointOptions,
} from './wire/endpoint.js';
export {
  createDriverEngine,
  DriverEngine,
  type DriverEngineOptions,
} from './driver/driver-engine.js';
export { redactUri, redactText } from './driver/redact.js';
export {
  mongodbService,
  currentWriteOrigin,
  type MongodbServiceOptions,
  type MongoCallRequest,
  type MongoReply,
} from './service.js';
export { LazyAppDatabase } from './lazy.js';
export { serveAppDatabase, DEFAULT_DB_PORT } from './serve.js';
export {
  clusterUris,
  uriVariableFor,
  MONGODB_URI_VARIABLE,
  type ClusterUriOptions,
} from './cluster-uris.js';
