// The one DuckDB instance duckgate shares between the mirror (which creates the views/tables over the
// Parquet lake in it, e.g. "public"."cdx_records") and this engine (which reads them).
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../../config/schema.js';

export interface DuckdbInstanceOptions {
  /** file path, or ':memory:' */
  path: string;
  threads?: number;
  memoryLimit?: string;
}

/** Resolves config.duckdb against config.dataDir. */
export function instanceOptionsFromConfig(config: Pick<Config, 'dataDir' | 'duckdb'>): DuckdbInstanceOptions {
  const p = config.duckdb.path;
  const path = p === ':memory:' || isAbsolute(p) ? p : join(config.dataDir, p);
  return { path, threads: config.duckdb.threads, memoryLimit: config.duckdb.memoryLimit };
}

export async function openDuckdbInstance(opts: DuckdbInstanceOptions): Promise<DuckDBInstance> {
  const options: Record<string, string> = {};
  if (opts.threads && opts.threads > 0) options['threads'] = String(opts.threads);
  if (opts.memoryLimit) options['memory_limit'] = opts.memoryLimit;
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  return DuckDBInstance.create(opts.path, options);
}
