// Helpers for the mirror tests: a config with a per-test slot/publication (slot names are cluster-wide).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import pg from 'pg';
import { defaults } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Mirror, mirrorDrop } from '../../src/mirror/index.js';

export function mirrorTestConfig(tag: string, extra: Partial<Config['mirror']> = {}): Config {
  const c = defaults();
  const id = `${tag}_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
  c.mirror = { ...c.mirror, slotName: `dgt_${id}`, publicationName: `dgt_${id}`, statusIntervalMs: 100, catalogPollMs: 0, compactionIntervalMs: 0, batchMaxMs: 20, ...extra };
  return c;
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'duckgate-mirror-'));
}

export async function pgQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

export async function currentLsn(url: string): Promise<string> {
  return (await pgQuery<{ l: string }>(url, 'SELECT pg_current_wal_lsn()::text AS l'))[0]!.l;
}

export interface TestMirror {
  mirror: Mirror;
  duckdb: DuckDBInstance;
  conn: DuckDBConnection;
}

/** A Mirror on an in-memory DuckDB, started; fails when it reports a problem. conn reads its serving tables. */
export async function startTestMirror(config: Config, upstreamUrl: string, dataDir: string): Promise<TestMirror> {
  const duckdb = await DuckDBInstance.create(':memory:');
  const conn = await duckdb.connect();
  const mirror = new Mirror({ config, upstreamUrl, duckdb, dataDir });
  await mirror.start();
  if (mirror.problem !== null) {
    await mirror.stop();
    conn.closeSync();
    throw new Error(`the mirror did not start: ${mirror.problem}`);
  }
  return { mirror, duckdb, conn };
}

/** Stops a test mirror (if it started), drops its slot and publication, and closes its DuckDB connection. */
export async function stopTestMirror(m: TestMirror | undefined, config: Config, upstreamUrl: string | undefined): Promise<void> {
  await m?.mirror.stop();
  if (upstreamUrl) await mirrorDrop({ config, upstreamUrl }).catch(() => undefined);
  m?.conn.closeSync();
}
