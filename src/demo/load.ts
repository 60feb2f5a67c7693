// Loads the demo schema and data into a database, once: if cdx_records already exists nothing is done.
// The whole load is one transaction under an advisory lock, so two loaders racing (two duckgate
// processes starting on one database) give one complete load, and a load interrupted half way
// leaves nothing behind to be mistaken for a finished one.
import pg from 'pg';
import { CREATE_SCHEMA_SQL, DEMO_TABLES, FOREIGN_KEYS_SQL, INDEXES_SQL, type DemoTable } from './schema.js';
import {
  cdxRecordsSql,
  contentAnalyticsSql,
  demoSizes,
  domainsSql,
  eventsSql,
  projectAnalyticsSql,
  projectsSql,
  scrapePagesSql,
  usersSql,
  type DemoSizes,
} from './generate.js';

/** One timed step of a load, reported through onStep (bench:data prints them as a table). */
export interface DemoStep {
  step: DemoTable | 'schema' | 'indexes' | 'foreign keys' | 'analyze';
  rows: number;
  ms: number;
}

export interface LoadDemoOptions {
  /** rows of cdx_records; the other tables are sized from it (see demoSizes) */
  rows: number;
  log?: (msg: string) => void;
  /** called after each step with its timing */
  onStep?: (step: DemoStep) => void;
  /** rows per INSERT for the big tables (default 1M); the data does not depend on it */
  chunkRows?: number;
}

// Arbitrary fixed key: serialises concurrent demo loads on one database.
const ADVISORY_LOCK_KEY = 0x6475636b; // 'duck'

export async function loadDemo(url: string, opts: LoadDemoOptions): Promise<{ created: boolean }> {
  const { rows } = opts;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`demo rows must be a positive integer, got ${rows}`);
  const chunk = opts.chunkRows ?? 1_000_000;
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`chunkRows must be a positive integer, got ${chunk}`);
  const log = opts.log ?? (() => undefined);
  const client = new pg.Client({ connectionString: url, application_name: 'duckgate-demo-loader' });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCK_KEY]);
    const { rows: found } = await client.query<{ present: boolean }>("SELECT to_regclass('cdx_records') IS NOT NULL AS present");
    if (found[0]?.present) {
      await client.query('COMMIT');
      log('demo data already present (cdx_records exists); nothing to do');
      return { created: false };
    }
    // Local to this transaction: the generation is written to be time-zone independent anyway, and
    // a failed load is rolled back whole, so it needs no synchronous commit.
    await client.query("SET LOCAL TimeZone = 'UTC'");
    await client.query('SET LOCAL synchronous_commit = off');
    await client.query("SET LOCAL maintenance_work_mem = '512MB'");
    await client.query("SET LOCAL work_mem = '256MB'");
    await generate(client, demoSizes(rows), chunk, log, opts.onStep ?? (() => undefined));
    await client.query('COMMIT');
    log('demo data committed');
    return { created: true };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function generate(client: pg.Client, sz: DemoSizes, chunk: number, log: (m: string) => void, onStep: (s: DemoStep) => void): Promise<void> {
  const timed = async (step: DemoStep['step'], work: () => Promise<number>): Promise<void> => {
    const t0 = performance.now();
    const n = await work();
    const ms = performance.now() - t0;
    log(`${step}: ${n} rows in ${(ms / 1000).toFixed(2)} s`);
    onStep({ step, rows: n, ms });
  };
  const insert = async (sql: string): Promise<number> => (await client.query(sql)).rowCount ?? 0;
  const chunked = async (table: string, total: number, sql: (lo: number, hi: number) => string): Promise<number> => {
    let n = 0;
    for (let lo = 1; lo <= total; lo += chunk) {
      const hi = Math.min(total, lo + chunk - 1);
      n += await insert(sql(lo, hi));
      if (total > chunk) log(`  ${table}: ${hi}/${total}`);
    }
    return n;
  };

  await timed('schema', async () => {
    await client.query(CREATE_SCHEMA_SQL);
    return 0;
  });
  await timed('users', () => insert(usersSql(sz.users)));
  await timed('projects', () => insert(projectsSql(sz.projects, sz.users)));
  await timed('domains', () => insert(domainsSql(sz.domains)));
  await timed('scrape_pages', () => chunked('scrape_pages', sz.scrapePages, (lo, hi) => scrapePagesSql(lo, hi, sz)));
  await timed('content_analytics', () => chunked('content_analytics', sz.scrapePages, (lo, hi) => contentAnalyticsSql(lo, hi)));
  await timed('project_analytics', () => insert(projectAnalyticsSql()));
  await timed('cdx_records', () => chunked('cdx_records', sz.cdxRecords, (lo, hi) => cdxRecordsSql(lo, hi, sz)));
  await timed('events', async () => {
    const n = await chunked('events', sz.events, (lo, hi) => eventsSql(lo, hi, sz));
    // ids were given explicitly; the next application insert must not collide with them
    await client.query("SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))");
    return n;
  });
  await timed('indexes', async () => {
    for (const ix of INDEXES_SQL) await client.query(ix.sql);
    return 0;
  });
  await timed('foreign keys', async () => {
    for (const fk of FOREIGN_KEYS_SQL) await client.query(fk.sql);
    return 0;
  });
  await timed('analyze', async () => {
    await client.query(`ANALYZE ${DEMO_TABLES.join(', ')}`);
    return 0;
  });
}
