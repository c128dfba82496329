/**
 * Real-cluster mode: which data sources are on a real MongoDB, and at which URI. In order:
 *
 *   TRIGGERBOX_MONGODB_URI_<NAME>   one data source (its name upper-cased, every character
 *                                   other than A-Z and 0-9 as `_`: `mongodb-atlas` ->
 *                                   TRIGGERBOX_MONGODB_URI_MONGODB_ATLAS)
 *   --mongodb-uri <uri>             every data source without its own variable
 *   TRIGGERBOX_MONGODB_URI          the same, when the flag is absent
 *
 * Each variable is read from the environment first, then from the app's `.env` (dotenv).
 * The other data sources stay on the embedded database. The URIs hold credentials: callers
 * print only `redactUri(uri)`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';

export const MONGODB_URI_VARIABLE = 'TRIGGERBOX_MONGODB_URI';

/** `TRIGGERBOX_MONGODB_URI_<NAME>` for a data source name. */
export function uriVariableFor(dataSource: string): string {
  return `${MONGODB_URI_VARIABLE}_${dataSource.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export interface ClusterUriOptions {
  /** The app root (its `.env` is read). */
  root: string;
  dataSources: Iterable<string>;
  /** `--mongodb-uri`. */
  uri?: string | undefined;
  /** The process environment (default: none). */
  env?: Record<string, string | undefined> | undefined;
}

function readDotenv(root: string): Record<string, string> {
  try {
    return parseDotenv(readFileSync(path.join(root, '.env')));
  } catch {
    return {};
  }
}

/** Data source name -> URI, for the data sources on a real cluster (empty: all embedded). */
export function clusterUris(options: ClusterUriOptions): Map<string, string> {
  const file = readDotenv(options.root);
  const lookup = (name: string): string | undefined => {
    const value = options.env?.[name] ?? file[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const all = options.uri?.trim() || lookup(MONGODB_URI_VARIABLE);
  const uris = new Map<string, string>();
  for (const source of options.dataSources) {
    const uri = lookup(uriVariableFor(source)) ?? all;
    if (uri !== undefined) uris.set(source, uri);
  }
  return uris;
}
