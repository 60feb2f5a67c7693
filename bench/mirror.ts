// npm run bench:mirror [-- --rows N] [-- --upstream URL]
// Snapshot throughput, commit→visible lag at 1k and 10k rows/s, lake size vs pg_total_relation_size, and
// the serving choice (native DuckDB table vs a view over the lake's Parquet). Prints a table and writes
// bench/results/mirror.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { defaults } from '../src/config/load.js';
import { Mirror, mirrorDrop } from '../src/mirror/index.js';
import { lakeSizeBytes, readManifest } from '../src/mirror/lake.js';
import { startEmbeddedPostgres } from '../test/support/servers.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const ROWS = Number(arg('rows', '1000000'));
const LAG_SECONDS = Number(arg('lag-seconds', '10'));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function main() {
  const server = arg('upstream', '') ? null : await startEmbeddedPostgres();
  const base = arg('upstream', '') || server!.url;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const dbName = `bench_mirror_${process.pid}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(base);
  u.pathname = `/${dbName}`;
  const url = u.toString();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  console.log(`loading ${ROWS} rows…`);
  await c.query(`CREATE TABLE cdx_records (id bigint PRIMARY KEY, project_id int NOT NULL, archive_date date NOT NULL, url text NOT NULL,
    status int, size bigint, digest text, mime text, created_at timestamptz NOT NULL DEFAULT now())`);
  await c.query(`INSERT INTO cdx_records (id, project_id, archive_date, url, status, size, digest, mime, created_at)
    SELECT g, g % 50, DATE '2020-01-01' + (g % 1500), 'https://example.org/p/' || (g % 100000) || '/item?' || g, (ARRAY[200,301,404,500])[1 + g % 4],
      (g::bigint * 7919) % 1000000, md5(g::text), (ARRAY['text/html','image/png','application/json'])[1 + g % 3], TIMESTAMPTZ '2024-01-01' + g * INTERVAL '1 second'
    FROM generate_series(1, ${ROWS}) g`);
  await c.query('VACUUM ANALYZE cdx_records');
  const pgSize = Number((await c.query(`SELECT pg_total_relation_size('cdx_records') AS s`)).rows[0].s);

  const dataDir = mkdtempSync(join(tmpdir(), 'duckgate-bench-mirror-'));
  const config = defaults();
  config.mirror = { ...config.mirror, slotName: `bench_${process.pid}`, publicationName: 'bench_mirror', catalogPollMs: 0, compactionIntervalMs: 0, statusIntervalMs: 200, batchMaxMs: 50 };
  const duckdb = await DuckDBInstance.create(':memory:');
  const mirror = new Mirror({ config, upstreamUrl: url, duckdb, dataDir });
  const t0 = performance.now();
  await mirror.start();
  const snapSecs = (performance.now() - t0) / 1000;
  if (mirror.problem) throw new Error(mirror.problem);
  const lake = join(dataDir, 'lake');
  const lakeSize = lakeSizeBytes(lake);
  const duck = await duckdb.connect();

  // lag: writers at a target rate; a row is visible when the serving table's max(id) reaches it
  async function lagAt(rate: number): Promise<{ p50: number; p95: number; p99: number; n: number }> {
    const w = new pg.Client({ connectionString: url });
    await w.connect();
    const pending: Array<{ id: number; at: number }> = [];
    const lags: number[] = [];
    let nextId = 10_000_000_000 + rate * 1000;
    const onApplied = async () => {
      const r = (await duck.runAndReadAll(`SELECT max(id)::BIGINT FROM "public"."cdx_records" WHERE id >= ${10_000_000_000 + rate * 1000}`)).getRowsJS()[0]![0];
      const vis = r === null ? 0 : Number(r);
      const now = performance.now();
      while (pending.length && pending[0]!.id <= vis) lags.push(now - pending.shift()!.at);
    };
    mirror.on('applied', onApplied);
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const end = performance.now() + LAG_SECONDS * 1000;
    let next = performance.now();
    while (performance.now() < end) {
      const first = nextId;
      nextId += perTick;
      await w.query(
        `INSERT INTO cdx_records (id, project_id, archive_date, url, status, size, digest, mime) SELECT g, g % 50, DATE '2024-01-01', 'https://x/' || g, 200, g, md5(g::text), 'text/html' FROM generate_series($1::bigint, $2::bigint) g`,
        [first, nextId - 1],
      );
      pending.push({ id: nextId - 1, at: performance.now() });
      next += tickMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const deadline = performance.now() + 10_000;
    while (pending.length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    mirror.off('applied', onApplied);
    await w.end();
    return { p50: pct(lags, 50), p95: pct(lags, 95), p99: pct(lags, 99), n: lags.length };
  }
  const lag1k = await lagAt(1000);
  const lag10k = await lagAt(10000);

  // serving: native table vs view over the lake's Parquet (merge-on-read not even needed right after compaction)
  await mirror.compact(1);
  const m = readManifest(lake)!;
  const files = m.tables['public.cdx_records']!.base.map((f) => `'${join(lake, f)}'`).join(', ');
  await duck.run(`CREATE OR REPLACE VIEW lake_view AS SELECT * FROM read_parquet([${files}])`);
  const q = (rel: string) => `SELECT project_id, count(*), sum(size), avg(status) FROM ${rel} WHERE archive_date >= DATE '2020-06-01' GROUP BY 1 ORDER BY 1`;
  const time = async (sql: string) => {
    const ts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await duck.runAndReadAll(sql);
      ts.push(performance.now() - s);
    }
    return pct(ts, 50);
  };
  const nativeMs = await time(q('"public"."cdx_records"'));
  const parquetMs = await time(q('lake_view'));
  const pgStart = performance.now();
  await c.query(q('cdx_records'));
  const pgMs = performance.now() - pgStart;

  await mirror.stop();
  await mirrorDrop({ config, upstreamUrl: url }).catch(() => undefined);
  await c.end();
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.end();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });

  const result = {
    rows: ROWS,
    snapshot: { seconds: snapSecs, rowsPerSec: Math.round(ROWS / snapSecs) },
    lagMs: { at1k: lag1k, at10k: lag10k },
    size: { pgTotalRelationBytes: pgSize, lakeBytes: lakeSize, ratio: lakeSize / pgSize },
    servingAggregateMs: { nativeDuckdbTable: nativeMs, viewOverParquet: parquetMs, postgres: pgMs },
  };
  const rowsOut: Array<[string, string]> = [
    ['rows', String(ROWS)],
    ['snapshot (incl. serving load)', `${snapSecs.toFixed(2)} s, ${result.snapshot.rowsPerSec.toLocaleString('en')} rows/s (target ≥ 500k)`],
    ['lag @1k rows/s p50/p95/p99', `${lag1k.p50.toFixed(0)} / ${lag1k.p95.toFixed(0)} / ${lag1k.p99.toFixed(0)} ms (n=${lag1k.n})`],
    ['lag @10k rows/s p50/p95/p99', `${lag10k.p50.toFixed(0)} / ${lag10k.p95.toFixed(0)} / ${lag10k.p99.toFixed(0)} ms (n=${lag10k.n}, target p95 ≤ 250)`],
    ['lake / pg_total_relation_size', `${(lakeSize / 1e6).toFixed(1)} MB / ${(pgSize / 1e6).toFixed(1)} MB = ${(result.size.ratio * 100).toFixed(1)}% (target ≤ 15%)`],
    ['aggregate: native DuckDB table', `${nativeMs.toFixed(1)} ms`],
    ['aggregate: view over Parquet', `${parquetMs.toFixed(1)} ms`],
    ['aggregate: PostgreSQL', `${pgMs.toFixed(1)} ms`],
  ];
  const w = Math.max(...rowsOut.map((r) => r[0].length));
  console.log(rowsOut.map(([k, v]) => `${k.padEnd(w)} | ${v}`).join('\n'));
  mkdirSync(join(process.cwd(), 'bench', 'results'), { recursive: true });
  writeFileSync(join(process.cwd(), 'bench', 'results', 'mirror.json'), JSON.stringify(result, null, 2));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
