// npm run bench:analytics -- [--rows 1000000,10000000] [--repeat 3] [--pg-url postgres://...] [--keep] [--threads N] [--only a,b]
//                             [--write-rate 1000]
//
// Analytical reads three ways on the same data, per row count of cdx_records:
//   pg       PostgreSQL directly (node-postgres, simple protocol)
//   duckgate through duckgate (same client): routed to DuckDB over the mirror when it can answer exactly
//   duckdb   DuckDB in-process on the very DuckDB file duckgate served from, running the SQL duckgate
//            runs (its rewrite + type-alignment casts): the floor duckgate's overhead is measured against
// duckgate first snapshots the demo database into its mirror and stops; the bench copies duckgate's
// DuckDB file (one process at a time may open a DuckDB file) and restarts duckgate on the same data
// folder, so the three legs then run interleaved in one time window on the same table storage.
// Per statement: one warm-up each, then --repeat rounds of pg, duckgate, duckdb in rotating order (drift
// on a shared machine hits all three alike); the median is reported. duckgate's /metrics delta tells
// where each statement really ran; `/* duckgate: explain */` tells why duckgate chose it.
//
// Postgres: --pg-url (must have wal_level=logical), else the local 127.0.0.1:5432 if logical, else an
// embedded PostgreSQL 15 kept in /tmp (bench/lib/analytics-pg.ts). One database per row count
// (duckgate_bench_1m, …), rebuilt unless --keep finds it complete. Writes bench/results/analytics.json.
//
// Freshness is strict (the default): every DuckDB read waits for the mirror to reach the WAL position at
// its start. The fence's cost per statement is read from duckgate_freshness_fence_wait_seconds, first
// over the timed runs (no writes), then over one more round of every statement through duckgate while
// a writer commits --write-rate rows/s (default 1000, in 10 commits/s) into events on another connection.
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { PgField } from '../src/engines/duckdb/align.js';
import { formatTable, parseFlags } from './lib/args.js';
import { countsDelta, explain, fenceWait, queryCounts, startAnalyticsDuckgate, type AnalyticsDuckgate, type ExplainRow } from './lib/analytics-duckgate.js';
import { openDuckdbLeg, type DuckdbLeg } from './lib/analytics-duckdb.js';
import { benchDatabaseName, dropSlotByUrl, ensureDemoDatabase, openBenchPostgres, redact, type DemoDatabase } from './lib/analytics-pg.js';
import { STATEMENTS, type BenchStatement } from './lib/analytics-queries.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'results');
const WORK_DIR = '/tmp/duckgate-bench-analytics';
const DEMO_TABLES = ['users', 'projects', 'domains', 'scrape_pages', 'content_analytics', 'project_analytics', 'cdx_records', 'events'];

interface StatementResult {
  name: string;
  sql: string;
  expect: 'duckdb' | 'postgres';
  duckdbSql: string | null;
  duckdbUntranslatable: string | null;
  rows: number;
  pgMs: number[];
  duckgateMs: number[];
  duckdbMs: number[];
  pgMedianMs: number;
  duckgateMedianMs: number;
  duckdbMedianMs: number | null;
  /** pg / duckgate */
  speedup: number;
  /** duckgate / in-process duckdb */
  ratio: number | null;
  /** where the timed runs went, from duckgate_queries_total deltas ("engine/reason": count) */
  ranOn: Record<string, number>;
  engine: string;
  explain: ExplainRow;
  /** duckgate's rows equal Postgres's (floats compared to 1e-9 relative) */
  sameRows: boolean;
  flag: string | null;
}

interface SizeResult {
  rows: number;
  database: string;
  databaseSize: string;
  builtSeconds: number | null;
  mirrorReadySeconds: number;
  /** duckgate restarted on the same data folder (after the copy for the in-process leg) until it served from DuckDB */
  restartReadySeconds: number;
  statements: StatementResult[];
  summary: Summary;
  fence: FenceResult;
  loadAverage: { before: number[]; after: number[] };
}

/** The strict-freshness fence's wait per DuckDB read, without writes and under a steady write rate. */
interface FenceResult {
  noWrites: { reads: number; meanWaitMs: number };
  withWrites: { rowsPerSecond: number; rowsWritten: number; reads: number; meanWaitMs: number; duckgateMedianMs: number; medianSpeedup: number; onDuckdb: number; statements: number };
}

interface Summary {
  statements: number;
  onDuckdb: number;
  /** pg / duckgate over every statement (those duckgate sent to Postgres count, at about 1x) */
  medianSpeedup: number;
  medianSpeedupOnDuckdb: number | null;
  /** duckgate / in-process DuckDB over the statements duckgate ran on DuckDB */
  medianRatioOnDuckdb: number | null;
  flagged: string[];
}

async function readEarlierSizes(file: string): Promise<Array<{ rows: number }>> {
  try {
    const prev = JSON.parse(await readFile(file, 'utf8')) as { sizes?: Array<{ rows: number; command?: string }> };
    return (prev.sizes ?? []).filter((x) => typeof x.rows === 'number' && typeof x.command === 'string');
  } catch {
    return [];
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const log = (m: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { rows: 'string', repeat: 'number', 'pg-url': 'string', keep: 'boolean', threads: 'number', only: 'string', 'write-rate': 'number' });
  const writeRate = flags['write-rate'] ?? 1000;
  if (!Number.isFinite(writeRate) || writeRate < 10) throw new Error(`--write-rate takes rows per second (at least 10), got ${flags['write-rate']}`);
  const sizes = (flags.rows ?? '1000000').split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error(`--rows takes a comma-separated list of positive integers, got ${flags.rows}`);
  const repeat = flags.repeat ?? 3;
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a positive integer, got ${flags.repeat}`);
  const threads = flags.threads ?? 0;
  const only = flags.only ? new Set(flags.only.split(',').map((s) => s.trim())) : null;
  const statements = only ? STATEMENTS.filter((s) => only.has(s.name)) : STATEMENTS;
  if (statements.length === 0) throw new Error(`--only matched no statement (known: ${STATEMENTS.map((s) => s.name).join(', ')})`);

  const stops: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    while (stops.length) await stops.pop()!().catch((e: unknown) => console.error('cleanup:', e));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  const results: SizeResult[] = [];
  let pgVersion = '?';
  try {
    const server = await openBenchPostgres(flags['pg-url'], log);
    stops.push(() => server.stop());
    pgVersion = server.version;
    for (const rows of sizes) {
      results.push(await benchSize(server.adminUrl, rows, statements, { repeat, keep: flags.keep ?? false, threads, stops, writeRate }));
    }
  } finally {
    await cleanup();
  }

  const generatedAt = new Date().toISOString();
  const command = `npm run bench:analytics -- ${process.argv.slice(2).join(' ')}`.trim();
  const stamped = results.map((r) => ({ ...r, generatedAt, command, repeat, postgres: pgVersion }));
  await mkdir(RESULTS, { recursive: true });
  const file = join(RESULTS, 'analytics.json');
  // Sizes measured by earlier runs are kept (each carries its own command and date): building 10M rows
  // takes long enough that 1M and 10M are often measured in separate runs. --only runs are partial and
  // replace nothing.
  const earlier = only ? [] : await readEarlierSizes(file);
  const sizesOut = [...earlier.filter((e) => !stamped.some((r) => r.rows === e.rows)), ...stamped].sort((a, b) => a.rows - b.rows);
  const out = {
    generatedAt,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    targets: { medianSpeedupAt10M: 20, maxRatioToInProcessDuckdb: 1.2 },
    sizes: sizesOut,
  };
  if (only) {
    const partial = join(RESULTS, 'analytics-partial.json');
    await writeFile(partial, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${partial} (--only: bench/results/analytics.json left as it was)`);
    return;
  }
  await writeFile(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
}

async function benchSize(
  adminUrl: string,
  rows: number,
  statements: readonly BenchStatement[],
  opts: { repeat: number; keep: boolean; threads: number; stops: Array<() => Promise<void>>; writeRate: number },
): Promise<SizeResult> {
  const slotName = benchDatabaseName(rows);
  console.log();
  log(`=== ${rows.toLocaleString('en-US')} rows in cdx_records ===`);
  const db: DemoDatabase = await ensureDemoDatabase(adminUrl, rows, { keep: opts.keep, slotName, log });

  const dataDir = join(WORK_DIR, `duckgate-${db.name}`);
  const copyDir = join(WORK_DIR, `inprocess-${db.name}`);
  await rm(dataDir, { recursive: true, force: true });
  await rm(copyDir, { recursive: true, force: true });
  const start = () => startAnalyticsDuckgate({ upstreamUrl: db.url, dataDir, slotName, threads: opts.threads || undefined });
  let dg: AnalyticsDuckgate | null = null;
  let leg: DuckdbLeg | null = null;
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    leg?.close();
    await dg?.stop();
    await dropSlotByUrl(adminUrl, slotName).catch((e: unknown) => log(`could not drop slot ${slotName}: ${(e as Error).message}`));
    await rm(copyDir, { recursive: true, force: true });
    // --keep also keeps duckgate's data folder (lake + DuckDB file) for inspection; the next run starts afresh anyway
    if (!opts.keep) await rm(dataDir, { recursive: true, force: true });
  };
  opts.stops.push(finish);

  // 1. Snapshot: duckgate builds the lake and its serving tables, then stops (closing its DuckDB file).
  log(`starting duckgate on ${redact(db.url)} (data dir ${dataDir}; its log: ${join(dataDir, 'duckgate.log')}, kept with --keep)`);
  let t0 = performance.now();
  dg = await start();
  await waitForMirror(dg, rows);
  const mirrorReadySeconds = (performance.now() - t0) / 1000;
  log(`mirror ready ${mirrorReadySeconds.toFixed(1)} s after duckgate started; stopping it to copy its DuckDB file`);
  await dg.stop();
  dg = null;
  // 2. A copy of that file for the in-process leg (DuckDB lets one process at a time open a file), then
  //    duckgate again on the same data folder: it resumes from the lake, so all three legs run
  //    interleaved in the same time window on the same table storage.
  const duckFile = join(dataDir, 'duckdb', 'duckgate.duckdb');
  await mkdir(copyDir, { recursive: true });
  const copyFile = join(copyDir, 'duckgate.duckdb');
  await cp(duckFile, copyFile);
  if (existsSync(`${duckFile}.wal`)) await cp(`${duckFile}.wal`, `${copyFile}.wal`);
  t0 = performance.now();
  dg = await start();
  await waitForMirror(dg, rows);
  const restartReadySeconds = (performance.now() - t0) / 1000;
  log(`duckgate restarted, serving from the mirror after ${restartReadySeconds.toFixed(1)} s`);

  const direct = new pg.Client({ connectionString: db.url, application_name: 'bench-analytics' });
  const through = new pg.Client({ connectionString: dg.url, application_name: 'bench-analytics' });
  await direct.connect();
  await through.connect();
  const loadBefore = loadavg();
  const results: StatementResult[] = [];
  let fence: FenceResult;
  try {
    const pgTimeZone = (await direct.query<{ tz: string }>("SELECT current_setting('TimeZone') AS tz")).rows[0]!.tz;
    leg = await openDuckdbLeg(copyFile, { pgTimeZone, threads: opts.threads || undefined });
    const fence0 = await fenceWait(dg.httpPort);
    for (const st of statements) results.push(await measure(st, { direct, through, leg, dg }, opts.repeat));
    const fence1 = await fenceWait(dg.httpPort);
    const noWrites = { reads: fence1.count - fence0.count, meanWaitMs: fence1.count > fence0.count ? ((fence1.sumSeconds - fence0.sumSeconds) * 1000) / (fence1.count - fence0.count) : 0 };
    fence = { noWrites, withWrites: await measureUnderWrites(db.url, statements, results, { through, dg }, opts.writeRate) };
  } finally {
    await direct.end().catch(() => undefined);
    await through.end().catch(() => undefined);
    log('stopping duckgate');
    await finish();
  }
  const loadAfter = loadavg();
  const summary = summarise(results);
  printSize(rows, results, summary);
  console.log(
    `\nfreshness fence (strict): ${fence.noWrites.meanWaitMs.toFixed(2)} ms mean wait over ${fence.noWrites.reads} DuckDB reads without writes; ` +
      `${fence.withWrites.meanWaitMs.toFixed(2)} ms over ${fence.withWrites.reads} reads while ${fence.withWrites.rowsPerSecond} rows/s were written ` +
      `(${fence.withWrites.rowsWritten} rows; median speedup then ${fence.withWrites.medianSpeedup.toFixed(1)}x, ${fence.withWrites.onDuckdb}/${fence.withWrites.statements} on DuckDB)`,
  );
  return {
    rows,
    database: db.name,
    databaseSize: db.sizePretty,
    builtSeconds: db.buildSeconds,
    mirrorReadySeconds,
    restartReadySeconds,
    statements: results,
    summary,
    fence,
    loadAverage: { before: loadBefore, after: loadAfter },
  };
}

/**
 * One more round of every statement through duckgate while another connection commits `rate` rows/s
 * into events (10 commits a second): what strict freshness costs when the mirror has work to do. The
 * speedup is against the timed Postgres median of the same statement (measured without writes).
 */
async function measureUnderWrites(
  url: string,
  statements: readonly BenchStatement[],
  measured: readonly StatementResult[],
  t: { through: pg.Client; dg: AnalyticsDuckgate },
  rate: number,
): Promise<FenceResult['withWrites']> {
  const writer = new pg.Client({ connectionString: url, application_name: 'bench-analytics-writer' });
  await writer.connect();
  const perCommit = Math.max(1, Math.round(rate / 10));
  let stop = false;
  let written = 0;
  const writing = (async () => {
    while (!stop) {
      const s = performance.now();
      await writer.query(
        `INSERT INTO events (user_id, event_type, occurred_at, session_id) SELECT 1 + g % 100, 'bench_write', now(), gen_random_uuid() FROM generate_series(1, ${perCommit}) g`,
      );
      written += perCommit;
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - s))));
    }
  })();
  const before = await fenceWait(t.dg.httpPort);
  const counts = await queryCounts(t.dg.httpPort);
  const speedups: number[] = [];
  const times: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1000)); // the mirror is following the writes by now
    for (const st of statements) {
      const s = performance.now();
      await t.through.query({ text: st.sql, rowMode: 'array' });
      const ms = performance.now() - s;
      times.push(ms);
      const pgMs = measured.find((m) => m.name === st.name)?.pgMedianMs;
      if (pgMs !== undefined) speedups.push(pgMs / ms);
    }
  } finally {
    stop = true;
    await writing;
    await writer.query(`DELETE FROM events WHERE event_type = 'bench_write'`);
    await writer.end();
  }
  const after = await fenceWait(t.dg.httpPort);
  const ran = countsDelta(counts, await queryCounts(t.dg.httpPort));
  const onDuckdb = Object.entries(ran).filter(([k]) => k.startsWith('duckdb/')).reduce((a, [, v]) => a + v, 0);
  const reads = after.count - before.count;
  return {
    rowsPerSecond: rate,
    rowsWritten: written,
    reads,
    meanWaitMs: reads > 0 ? ((after.sumSeconds - before.sumSeconds) * 1000) / reads : 0,
    duckgateMedianMs: median(times),
    medianSpeedup: median(speedups),
    onDuckdb,
    statements: statements.length,
  };
}

/** Ready when a count(*) over every demo table would run on DuckDB (all tables snapshotted, lag within bounds). */
async function waitForMirror(dg: AnalyticsDuckgate, rows: number): Promise<void> {
  // the snapshot takes roughly as long as a COPY of every table; be generous on a shared machine
  const deadline = Date.now() + Math.max(300_000, rows / 5);
  const pending = new Set(DEMO_TABLES);
  let last = '';
  let polls = 0;
  const c = new pg.Client({ connectionString: dg.url, application_name: 'bench-analytics-wait' });
  await c.connect();
  try {
    for (;;) {
      for (const t of [...pending]) {
        const e = await explain(c, `SELECT count(*) AS n FROM public.${t}`);
        if (e.engine === 'duckdb') pending.delete(t);
        else last = `${t}: ${e.engine}/${e.reason}${e.detail ? ` (${e.detail})` : ''}`;
      }
      if (pending.size === 0) return;
      if (++polls % 15 === 0) log(`waiting for the mirror: ${pending.size} table(s) not on DuckDB yet; ${last}`);
      if (Date.now() > deadline) throw new Error(`the mirror was not ready in time; still waiting for ${[...pending].join(', ')}; last explain: ${last}\n${dg.tail()}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function timed(c: pg.Client, sql: string): Promise<{ ms: number; res: pg.QueryResult }> {
  const s = performance.now();
  const res = await c.query({ text: sql, rowMode: 'array' });
  return { ms: performance.now() - s, res };
}

type Leg = 'pg' | 'duckgate' | 'duckdb';

async function measure(
  st: BenchStatement,
  t: { direct: pg.Client; through: pg.Client; leg: DuckdbLeg; dg: AnalyticsDuckgate },
  repeat: number,
): Promise<StatementResult> {
  const ex = await explain(t.through, st.sql);
  // warm-up of the Postgres leg; its RowDescription is the type oracle for the DuckDB translation
  const pw = await timed(t.direct, st.sql);
  const fields: PgField[] = pw.res.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID, typmod: f.dataTypeModifier, format: 0 }));
  let tr: { ok: true; sql: string } | { ok: false; reason: string };
  try {
    tr = await t.leg.translate(st.sql, fields);
  } catch (e) {
    tr = { ok: false, reason: `DuckDB error: ${(e as Error).message.split('\n')[0]}` };
  }
  let duckRows: number | null = null;
  if (tr.ok) {
    try {
      duckRows = await t.leg.run(tr.sql); // warm-up
    } catch (e) {
      tr = { ok: false, reason: `DuckDB error: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  const before = await queryCounts(t.dg.httpPort);
  const dw = await timed(t.through, st.sql); // warm-up (and the result comparison)
  const ms: Record<Leg, number[]> = { pg: [], duckgate: [], duckdb: [] };
  const legs: Leg[] = tr.ok ? ['pg', 'duckgate', 'duckdb'] : ['pg', 'duckgate'];
  const duckSql = tr.ok ? tr.sql : '';
  for (let i = 0; i < repeat; i++) {
    // rotate the order each round: whatever runs right after another leg's heavy query shares its tail
    for (let k = 0; k < legs.length; k++) {
      const leg = legs[(i + k) % legs.length]!;
      const s = performance.now();
      if (leg === 'pg') await t.direct.query({ text: st.sql, rowMode: 'array' });
      else if (leg === 'duckgate') await t.through.query({ text: st.sql, rowMode: 'array' });
      else await t.leg.run(duckSql);
      ms[leg].push(performance.now() - s);
    }
  }
  const ranOn = countsDelta(before, await queryCounts(t.dg.httpPort));
  const engines = new Set(Object.keys(ranOn).map((k) => k.split('/')[0]!));
  const engine = engines.size === 0 ? 'postgres (uncounted)' : engines.size === 1 ? [...engines][0]! : 'mixed';
  const pgMedianMs = median(ms.pg);
  const duckgateMedianMs = median(ms.duckgate);
  const duckdbMedianMs = ms.duckdb.length ? median(ms.duckdb) : null;
  const sameRows = sameResult(pw.res.rows as unknown[][], dw.res.rows as unknown[][]);

  const flags: string[] = [];
  if (st.expect === 'duckdb' && engine !== 'duckdb')
    flags.push(
      `ran on ${engine} (${Object.keys(ranOn).join(', ')}); explain: ${ex.engine}/${ex.reason}${ex.detail ? ` / ${ex.detail}` : ''}` +
        `${tr.ok ? '' : `; DuckDB path: ${tr.reason}`}`,
    );
  if (st.expect === 'postgres' && engine === 'duckdb') flags.push('expected on postgres, ran on duckdb');
  if (!sameRows) flags.push('rows through duckgate differ from Postgres');
  if (duckRows !== null && duckRows !== pw.res.rows.length) flags.push(`in-process DuckDB returned ${duckRows} rows, Postgres ${pw.res.rows.length}`);
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(1)).padStart(8);
  log(
    `${st.name.padEnd(34)} pg ${f(pgMedianMs)} ms  duckgate ${f(duckgateMedianMs)} ms  duckdb ${f(duckdbMedianMs)} ms  ${engine}` +
      `${engine === 'duckdb' ? '' : ` ${JSON.stringify(ranOn)} (explain: ${ex.engine}/${ex.reason}${ex.detail ? ` / ${ex.detail}` : ''})`}` +
      `${tr.ok ? '' : ` [no in-process time: ${tr.reason}]`}${sameRows ? '' : '  ROWS DIFFER'}`,
  );
  return {
    name: st.name,
    sql: st.sql,
    expect: st.expect,
    duckdbSql: tr.ok ? tr.sql : null,
    duckdbUntranslatable: tr.ok ? null : tr.reason,
    rows: pw.res.rows.length,
    pgMs: ms.pg,
    duckgateMs: ms.duckgate,
    duckdbMs: ms.duckdb,
    pgMedianMs,
    duckgateMedianMs,
    duckdbMedianMs,
    speedup: pgMedianMs / duckgateMedianMs,
    // a statement duckgate sent to Postgres has no duckgate-vs-DuckDB overhead to speak of
    ratio: engine === 'duckdb' && duckdbMedianMs ? duckgateMedianMs / duckdbMedianMs : null,
    ranOn,
    engine,
    explain: ex,
    sameRows,
    flag: flags.length ? flags.join('; ') : null,
  };
}

/** Text values equal, or both numbers within 1e-9 relative (aggregated floats differ in the last bits by summation order). */
function sameResult(a: unknown[][], b: unknown[][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const ra = a[i]!;
    const rb = b[i]!;
    if (ra.length !== rb.length) return false;
    for (let j = 0; j < ra.length; j++) {
      const x = ra[j];
      const y = rb[j];
      const sx = x instanceof Date ? x.toISOString() : JSON.stringify(x);
      const sy = y instanceof Date ? y.toISOString() : JSON.stringify(y);
      if (sx === sy) continue;
      const nx = Number(x);
      const ny = Number(y);
      if (typeof x === 'number' || typeof y === 'number') {
        if (Number.isFinite(nx) && Number.isFinite(ny) && Math.abs(nx - ny) <= 1e-9 * Math.max(Math.abs(nx), Math.abs(ny))) continue;
      }
      return false;
    }
  }
  return true;
}

function summarise(rs: readonly StatementResult[]): Summary {
  const onDuck = rs.filter((r) => r.engine === 'duckdb');
  // duckgate's overhead over in-process DuckDB means something only where duckgate ran DuckDB
  const ratios = onDuck.map((r) => r.ratio).filter((x): x is number => x !== null && Number.isFinite(x));
  return {
    statements: rs.length,
    onDuckdb: onDuck.length,
    medianSpeedup: median(rs.map((r) => r.speedup)),
    medianSpeedupOnDuckdb: onDuck.length ? median(onDuck.map((r) => r.speedup)) : null,
    medianRatioOnDuckdb: ratios.length ? median(ratios) : null,
    flagged: rs.filter((r) => r.flag).map((r) => `${r.name}: ${r.flag}`),
  };
}

function printSize(rows: number, rs: readonly StatementResult[], s: Summary): void {
  const f = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
  console.log(`\n${rows.toLocaleString('en-US')} rows in cdx_records (median of the timed runs)\n`);
  console.log(
    formatTable([
      ['query', 'pg ms', 'duckgate ms', 'duckdb ms', 'pg/duckgate', 'duckgate/duckdb', 'engine'],
      ...rs.map((r) => [r.name, f(r.pgMedianMs), f(r.duckgateMedianMs), f(r.duckdbMedianMs), `${f(r.speedup)}x`, r.ratio === null ? '-' : `${f(r.ratio, 2)}x`, r.flag ? `${r.engine} !` : r.engine]),
    ]),
  );
  console.log(
    `\nmedian speedup pg/duckgate: ${f(s.medianSpeedup)}x over all ${s.statements} statements, ${f(s.medianSpeedupOnDuckdb)}x over the ${s.onDuckdb} duckgate ran on DuckDB` +
      `\nmedian ratio duckgate/in-process DuckDB (statements on DuckDB): ${s.medianRatioOnDuckdb === null ? '-' : `${f(s.medianRatioOnDuckdb, 2)}x`}`,
  );
  if (s.flagged.length) {
    console.log('\nflagged:');
    for (const l of s.flagged) console.log(`  ! ${l}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
