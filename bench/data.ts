// npm run bench:data -- --rows N [--url postgres://...] [--drop]
// Builds the demo schema (src/demo) with N rows in cdx_records and proportional rows elsewhere, in a
// database created if missing. Default URL: $DUCKGATE_BENCH_PG_URL or the local server's duckgate_bench.
import pg from 'pg';
import { loadDemo, demoSizes, type DemoStep } from '../src/demo/index.js';
import { formatTable, parseFlags } from './lib/args.js';

const DEFAULT_URL = process.env.DUCKGATE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/duckgate_bench';

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { rows: 'number', url: 'string', drop: 'boolean', chunk: 'number' });
  const rows = flags.rows ?? 1_000_000;
  const url = flags.url ?? DEFAULT_URL;
  const target = new URL(url);
  const dbName = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  await ensureDatabase(target, dbName, flags.drop ?? false);

  const sz = demoSizes(rows);
  console.log(`loading demo into ${redact(target)}: cdx_records=${sz.cdxRecords} scrape_pages=${sz.scrapePages} events=${sz.events}`);
  const steps: DemoStep[] = [];
  const t0 = performance.now();
  const { created } = await loadDemo(url, { rows, chunkRows: flags.chunk, log: (m) => console.log(`  ${m}`), onStep: (s) => steps.push(s) });
  const total = (performance.now() - t0) / 1000;
  if (!created) {
    console.log('the demo schema is already there (cdx_records exists): nothing loaded; pass --drop to rebuild');
    return;
  }
  console.log();
  console.log(
    formatTable([
      ['step', 'rows', 'seconds', 'rows/s'],
      ...steps.map((s) => [s.step, s.rows ? String(s.rows) : '', (s.ms / 1000).toFixed(2), s.rows ? Math.round(s.rows / (s.ms / 1000)).toLocaleString('en-US') : '']),
      ['total', String(steps.reduce((a, s) => a + s.rows, 0)), total.toFixed(2), ''],
    ]),
  );
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows: size } = await c.query<{ size: string }>('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
    console.log(`\ndatabase size: ${size[0]?.size}`);
  } finally {
    await c.end();
  }
}

/** Creates the database if missing (or drops and recreates it with --drop), through the server's `postgres` database. */
async function ensureDatabase(target: URL, dbName: string, drop: boolean): Promise<void> {
  const adminUrl = new URL(target.toString());
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    const ident = pg.escapeIdentifier(dbName);
    if (drop) {
      console.log(`dropping database ${dbName}`);
      await admin.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
    }
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (!rowCount) {
      console.log(`creating database ${dbName}`);
      await admin.query(`CREATE DATABASE ${ident}`);
    }
  } finally {
    await admin.end();
  }
}

function redact(u: URL): string {
  const c = new URL(u.toString());
  if (c.password) c.password = '***';
  return c.toString();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
