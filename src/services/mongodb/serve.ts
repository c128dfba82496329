/**
 * The endpoint as `dev` and `db serve` start it: on 127.0.0.1, port 27027 unless told (any free
 * port when 27027 is taken, so two apps' dev can run side by side); an explicit port that is
 * taken is an error that says what to do.
 */
import { TriggerboxError } from '../../shared/errors.js';
import type { Log } from '../../shared/log.js';
import type { Engine } from './engine/types.js';
import { startMongoEndpoint, type MongoEndpoint } from './wire/endpoint.js';

/** mongod's 27017 + 10: no clash with a local mongod. */
export const DEFAULT_DB_PORT = 27027;

export async function serveAppDatabase(options: {
  engine: Engine;
  /** undefined: 27027, or any free port when it is taken; 0: any free port. */
  port?: number | undefined;
  log?: Log | undefined;
}): Promise<{ endpoint: MongoEndpoint; uri: string; warning?: string }> {
  const { engine, log } = options;
  const port = options.port ?? DEFAULT_DB_PORT;
  let endpoint: MongoEndpoint;
  let warning: string | undefined;
  try {
    endpoint = await startMongoEndpoint({ engine, port, log });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    if (options.port !== undefined) {
      throw new TriggerboxError('InvalidInput', `port ${port} on 127.0.0.1 is already in use`, {
        hint: 'pass --db-port <another port>, or --db-port 0 for any free one',
      });
    }
    endpoint = await startMongoEndpoint({ engine, port: 0, log });
    warning = `port ${port} is in use (another triggerbox dev?): the database endpoint took ${endpoint.port} instead (--db-port chooses)`;
  }
  return {
    endpoint,
    uri: `mongodb://127.0.0.1:${endpoint.port}`,
    ...(warning !== undefined ? { warning } : {}),
  };
}
