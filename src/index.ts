/** The public library API of triggerbox: the only barrel. */
import {
  createRunner as createBareRunner,
  type FunctionRunner,
  type RunnerOptions,
} from './runtime/runner.js';
import { builtinServices } from './services/builtin.js';
export { loadApp, formatDiagnostic, type LoadAppOptions } from './app/load-app.js';
export { findAppRoot } from './app/find-root.js';
export type {
  App,
  AppInfo,
  Diagnostic,
  EnvironmentDef,
  FunctionDef,
  LoadedApp,
  TriggerDef,
  ValueDef,
} from './app/types.js';
export {
  FunctionRunner,
  FunctionExecutionFailure,
  DEFAULT_MEMORY_MB,
  DEFAULT_TIMEOUT_MS,
  type ExecuteOptions,
  type FireOptions,
  type TriggerRun,
  type ExecutionResult,
  type ExecutionStats,
  type RunnerOptions,
  type SecretResolver,
  type SecretSource,
  type UserObject,
} from './runtime/runner.js';
export type { ExecutionErrorCode, LogLine } from './runtime/protocol.js';
export type {
  HostService,
  ServiceCall,
  ServiceOp,
  ServiceOpMode,
} from './runtime/boundary/services.js';
export type { TransferData } from './runtime/boundary/host-ops.js';
export { builtinServices };
export { httpService } from './services/http/service.js';

/**
 * A FunctionRunner wired to the built-in host services (context.http), unless `services` gives
 * the list; as `triggerbox function run` and `dev` make it.
 */
export function createRunner(options: RunnerOptions): FunctionRunner {
  return createBareRunner({ ...options, services: options.services ?? builtinServices() });
}
export type { ValueTraceEntry } from './runtime/value-trace.js';
export {
  ensureInspectNode,
  type EnsureInspectNodeOptions,
  type InspectNode,
} from './runtime/inspector/node24.js';
export { scanDependencies } from './runtime/bundle.js';
export { checkApp as validateApp } from './runtime/check-app.js';
export {
  openSecretStore,
  SecretStore,
  type OpenSecretStoreOptions,
  type SecretSummary,
} from './secrets/store.js';
export { TriggerboxError, isTriggerboxError, type ErrorCode } from './shared/errors.js';
export { RecordingLog, silentLog, type Log, type LogEntry, type LogLevel } from './shared/log.js';
export {
  startDevServer,
  DevServer,
  type DevServerOptions,
  type ReloadEvent,
  type CallEvent,
} from './dev/dev-server.js';
export { generateEvent, updateDescription, type EventOptions } from './triggers/events.js';
export { applyFilters, type FilterOutcome } from './triggers/filters.js';
export {
  ManualClock,
  Scheduler,
  checkSchedule,
  nextRun,
  systemClock,
  type Clock,
} from './triggers/scheduler.js';
export {
  mongodbService,
  LazyAppDatabase,
  openAppDatabase,
  seedIfEmpty,
  serveAppDatabase,
  startMongoEndpoint,
  EmbeddedEngine,
  DEFAULT_DB_PORT,
  type MongodbServiceOptions,
  type Engine,
  type ChangeEvent,
} from './services/mongodb/index.js';
export {
  TriggerDispatcher,
  MAX_TRIGGER_DEPTH,
  type DispatcherOptions,
  type TriggerFiring,
} from './triggers/dispatcher.js';
export type { CallOrigin } from './runtime/boundary/services.js';
