// Runs generated statements on PostgreSQL directly and through duckgate (in-process, so the engine that
// answered is read from duckgate_queries_total), in the simple protocol and in the extended protocol with
// text and with binary results; compares RowDescription and DataRows byte for byte (an aggregate's
// float within a relative 1e-12, as test/integration/differential-analytics.test.ts allows), and errors
// by SQLSTATE; and minimises every difference to a small statement, printed as a corpus line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDemo } from '../../src/demo/index.js';
import { DEMO_TABLES } from '../../src/demo/schema.js';
import type { Translate } from '../../src/engines/duckdb/engine.js';
import { registry } from '../../src/observability/metrics.js';
import type { FieldDescription } from '../../src/protocol/backend.js';
import { decodeDataRow, decodeRowDescription } from '../../src/protocol/backend-scan.js';
import { formatTable } from '../../bench/lib/args.js';
import { explain, record, type Step } from '../differential/harness.js';
import { Rng } from '../fuzz/rng.js';
import { quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';
import { createTestDatabase } from '../support/servers.js';
import { errorFields, WireClient } from '../support/wire-client.js';
import { render, reductions, totalOrder, type Query } from './ast.js';
import { SqlGenerator, type GenOptions } from './generator.js';
import { sampleValues, type Samples } from './schema.js';

export type Mode = 'simple' | 'extended text' | 'extended binary';
export const MODES: readonly Mode[] = ['simple', 'extended text', 'extended binary'];

export interface SqlgenEnv {
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  dg: TestDuckgate;
  samples: Samples;
  close(): Promise<void>;
}

/**
 * A database with the demo data (2000 cdx rows), duckgate in front of it with its mirror ready, and every
 * statement allowed on DuckDB whatever its cost (cost_threshold 0; max_lag 1h: the data is static).
 * Needs DUCKGATE_TEST_PG_URL (the suite's global setup sets it; the CLI starts a server and sets it).
 */
export async function startSqlgenEnv(opts: { translate?: Translate; rows?: number } = {}): Promise<SqlgenEnv> {
  const db = await createTestDatabase('sqlgen');
  const rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  let dg: TestDuckgate | undefined;
  try {
    await loadDemo(db.url, { rows: opts.rows ?? 2000 });
    const rules = join(rulesDir, 'rules.yaml');
    await writeFile(rules, 'routing:\n  cost_threshold: 0\n  max_lag: 1h\n');
    const slot = `sqlgen_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
    dg = await startTestDuckgate(db.url, { rules: [rules], mirror: quickMirror(slot), duckdb: { threads: 1, connections: 2 } }, { translate: opts.translate });
    await waitForMirrorReady(dg, DEMO_TABLES);
    const samples = await sampleValues(db.url);
    const started = dg;
    return {
      db,
      dg: started,
      samples,
      async close() {
        await started.close();
        await db.drop();
        await rm(rulesDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await dg?.close();
    await db.drop();
    await rm(rulesDir, { recursive: true, force: true });
    throw e;
  }
}

async function duckdbCount(): Promise<number> {
  const m = await registry.getSingleMetric('duckgate_queries_total')!.get();
  return m.values.filter((v) => v.labels['engine'] === 'duckdb').reduce((a, v) => a + v.value, 0);
}

async function routeCounts(): Promise<Map<string, number>> {
  const m = await registry.getSingleMetric('duckgate_queries_total')!.get();
  return new Map(m.values.map((v) => [`${v.labels['engine']}/${v.labels['reason']}`, v.value]));
}

function stepFor(sql: string, mode: Mode): Step {
  switch (mode) {
    case 'simple':
      return { kind: 'simple', sql };
    case 'extended text':
      return { kind: 'extended', sql };
    case 'extended binary':
      return { kind: 'extended', sql, resultFormats: [1] };
  }
}

// ---- comparison ---------------------------------------------------------------------------------------

export type DiffKind = 'error' | 'description' | 'rows' | 'messages';

export interface Difference {
  kind: DiffKind;
  detail: string;
}

const FLOAT4 = 700;
const FLOAT8 = 701;
/** the float results an aggregate or a window sum may compute in another order (last bits differ),
 *  as test/integration/differential-analytics.test.ts allows */
const ACCUMULATES = /\b(sum|avg|stddev_samp|stddev_pop|var_samp|var_pop|stddev|variance|percentile_cont)\s*\(/i;

function decodeFloat(cell: Buffer, typeOid: number, format: number): number {
  if (format === 1) return typeOid === FLOAT4 ? cell.readFloatBE(0) : cell.readDoubleBE(0);
  return Number(cell.toString('utf8'));
}

const sqlstate = (rendered: string): string => {
  const hex = rendered.slice(2);
  return errorFields({ type: 'E', body: Buffer.from(hex, 'hex') }).C ?? '?';
};

/**
 * null when duckgate's reply is Postgres's: the same SQLSTATE if either failed; else the same
 * RowDescription, CommandComplete and DataRows (in order when `ordered`, else as multisets).
 */
export function compareReplies(sql: string, want: string[], got: string[], ordered: boolean): Difference | null {
  const wantErr = want.find((m) => m.startsWith('E '));
  const gotErr = got.find((m) => m.startsWith('E '));
  if (wantErr || gotErr) {
    if (wantErr && gotErr && sqlstate(wantErr) === sqlstate(gotErr)) return null;
    return {
      kind: 'error',
      detail: `postgres: ${wantErr ? `error ${sqlstate(wantErr)} ${explain(wantErr)}` : 'no error'}; duckgate: ${gotErr ? `error ${sqlstate(gotErr)} ${explain(gotErr)}` : `no error (${got.filter((m) => m.startsWith('D ')).length} rows)`}`.slice(0, 600),
    };
  }
  const restOf = (ms: string[]): string[] => ms.filter((m) => !m.startsWith('D '));
  const wr = restOf(want);
  const gr = restOf(got);
  const wt = wr.find((m) => m.startsWith('T '));
  const gt = gr.find((m) => m.startsWith('T '));
  if (wt !== gt) {
    const show = (t: string | undefined): string => (t ? JSON.stringify(decodeRowDescription(Buffer.from(t.slice(2), 'hex'))) : 'none');
    return { kind: 'description', detail: `postgres: ${show(wt)}\n  duckgate: ${show(gt)}` };
  }
  if (wr.length !== gr.length || wr.some((m, i) => m !== gr[i])) {
    return { kind: 'messages', detail: `postgres: ${wr.map(explain).join(' | ').slice(0, 400)}\n  duckgate: ${gr.map(explain).join(' | ').slice(0, 400)}` };
  }
  const fields: FieldDescription[] = wt ? decodeRowDescription(Buffer.from(wt.slice(2), 'hex')) : [];
  // Without a total ORDER BY, rows are compared as multisets: both sides sorted by a key in which a
  // float is rounded to 10 significant digits, so that values within the tolerance below sort alike
  // (sorting the raw bytes would put 0.359883314229593 and 0.3598833142295931 apart).
  const sortKey = (m: string): string =>
    decodeDataRow(Buffer.from(m.slice(2), 'hex'))
      .map((cell, i) => {
        if (cell === null) return '\u0000';
        const f = fields[i];
        if (f && (f.typeOid === FLOAT4 || f.typeOid === FLOAT8)) {
          const v = decodeFloat(cell, f.typeOid, f.format);
          return Number.isFinite(v) ? v.toPrecision(10) : String(v);
        }
        return cell.toString('hex');
      })
      .join('\u0001');
  const rowsOf = (ms: string[]): string[] => {
    const rows = ms.filter((m) => m.startsWith('D '));
    if (ordered) return rows;
    return rows.map((m) => [sortKey(m), m] as const).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0)).map((x) => x[1]);
  };
  const a = rowsOf(want);
  const b = rowsOf(got);
  if (a.length !== b.length) return { kind: 'rows', detail: `postgres: ${a.length} rows, duckgate: ${b.length} rows${a.length + b.length < 8 ? `: ${a.map(explain).join(' | ')} vs ${b.map(explain).join(' | ')}` : ''}` };
  const tolerant = ACCUMULATES.test(sql);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const wc = decodeDataRow(Buffer.from(a[i]!.slice(2), 'hex'));
    const gc = decodeDataRow(Buffer.from(b[i]!.slice(2), 'hex'));
    for (let c = 0; c < wc.length; c++) {
      const x = wc[c];
      const y = gc[c];
      if (x == null || y == null ? x === y : x.equals(y)) continue;
      const f = fields[c];
      const show = (v: Buffer | null | undefined): string => (v == null ? 'NULL' : f?.format === 1 ? v.toString('hex') : v.toString('utf8'));
      if (f && tolerant && f.tableOid === 0 && (f.typeOid === FLOAT4 || f.typeOid === FLOAT8) && x && y) {
        const p = decodeFloat(x, f.typeOid, f.format);
        const q = decodeFloat(y, f.typeOid, f.format);
        // relative 1e-12; and absolute 1e-12 for results that should be 0 (the stddev of equal values:
        // Postgres's Youngs-Cramer sums leave ~1e-16 where DuckDB's give 0)
        if (p !== q && Math.abs(p - q) <= 1e-12 * Math.max(1, Math.abs(p), Math.abs(q))) continue;
      }
      return { kind: 'rows', detail: `row ${i + 1}${ordered ? '' : ' (sorted)'}, column ${c + 1} (${f?.name} type ${f?.typeOid}): postgres ${show(x)}, duckgate ${show(y)}` };
    }
  }
  return null;
}

// ---- one statement --------------------------------------------------------------------------------------

export interface Clients {
  pg: WireClient;
  dg: WireClient;
}

export interface Execution {
  mode: Mode;
  duckdb: boolean;
  /** Postgres's SQLSTATE when it failed */
  pgError: string | null;
  diff: Difference | null;
}

export async function execute(c: Clients, sql: string, ordered: boolean, mode: Mode): Promise<Execution> {
  const step = { name: 'q', steps: [stepFor(sql, mode)] };
  const before = await duckdbCount();
  const got = (await record(c.dg, [step])).get('q')![0]!;
  const duckdb = (await duckdbCount()) - before === 1;
  const want = (await record(c.pg, [step])).get('q')![0]!;
  const err = want.find((m) => m.startsWith('E '));
  const pgError = err ? sqlstate(err) : null;
  return { mode, duckdb, pgError, diff: pgError === '57014' ? null : compareReplies(sql, want, got, ordered) };
}

export async function connectClients(env: SqlgenEnv): Promise<Clients> {
  const u = new URL(env.db.url);
  const params = { user: 'postgres', database: env.db.name };
  const pg = await WireClient.connect(u.hostname, Number(u.port), params);
  const dg = await WireClient.connect(env.dg.host, env.dg.port, params);
  // a runaway statement (a cross join after minimisation) ends before the client's 10 s wait; a
  // statement Postgres cancels (57014) is not compared (DuckDB may well answer it in time)
  const setup = { name: 'setup', steps: [{ kind: 'simple' as const, sql: "SET statement_timeout = '5s'" }] };
  await record(pg, [setup]);
  await record(dg, [setup]);
  return { pg, dg };
}

// ---- minimisation -----------------------------------------------------------------------------------

export interface Minimised {
  sql: string;
  diff: Difference;
  tests: number;
}

/**
 * Delta debugging over the AST: applies the first reduction (ast.ts reductions) under which the same
 * kind of difference persists, on DuckDB, with Postgres still failing or succeeding as before; repeats
 * until none does or the budget is spent.
 */
export async function minimise(c: Clients, q: Query, first: Execution, budget: { tests: number; ms: number }): Promise<Minimised> {
  let current = q;
  let currentSql = render(q);
  let diff = first.diff!;
  let tests = 0;
  const deadline = Date.now() + budget.ms;
  const seen = new Set<string>([currentSql]);
  outer: for (;;) {
    for (const cand of reductions(current)) {
      if (tests >= budget.tests || Date.now() > deadline) break outer;
      const sql = render(cand);
      if (sql.length >= currentSql.length || seen.has(sql)) continue;
      seen.add(sql);
      tests++;
      const ex = await execute(c, sql, totalOrder(cand), first.mode);
      if (ex.duckdb && ex.diff && ex.diff.kind === diff.kind && ex.pgError === first.pgError) {
        current = cand;
        currentSql = sql;
        diff = ex.diff;
        continue outer;
      }
    }
    break;
  }
  return { sql: currentSql, diff, tests };
}

/**
 * The shape of a minimised statement: literals, column and table names and aliases blanked out, so the
 * many statements that show one class (an avg() ordered by position, over any column of any table) count
 * as one.
 */
export function shapeOf(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, "'?'")
    .replace(/\b(FROM|JOIN) [a-z_]+ ([a-z]\d+)\b/g, '$1 tbl $2')
    .replace(/\b[tis]\d+\.[a-z_]+\b/g, 'col')
    .replace(/\b([tis]|c)\d+\b/g, '$1')
    .replace(/\b\d+(\.\d+)?(e-?\d+)?\b/g, '?');
}

/** The corpus line for a minimised case (test/differential/corpus-analytics.ts). */
export function corpusLine(name: string, sql: string): string {
  return `d(${JSON.stringify(name).replace(/^"|"$/g, "'")}, ${JSON.stringify(sql)});`;
}

// ---- a run ------------------------------------------------------------------------------------------

export interface Finding {
  /** statement index (replay with --seed S --only N) */
  index: number;
  mode: Mode;
  kind: DiffKind;
  sql: string;
  minimised: string;
  detail: string;
  corpusLine: string;
  minimiseTests: number;
}

export interface SqlgenReport {
  seed: number;
  statements: number;
  executions: number;
  onDuckdb: number;
  /** share of executions served by DuckDB */
  duckdbShare: number;
  postgresErrors: number;
  differences: number;
  findings: Finding[];
  /** why statements went to Postgres: engine/reason → executions */
  fallbackReasons: Record<string, number>;
  /** differences grouped by the shape of their minimised statement (shapeOf): a class and how often it showed */
  classes: Array<{ shape: string; differences: number; example: string }>;
  ms: number;
}

export interface RunOptions {
  seed: number;
  /** stop after this many statements */
  statements?: number;
  /** or after this many seconds */
  seconds?: number;
  /** statement indexes to run (replay) */
  only?: number[];
  modes?: readonly Mode[];
  minimise?: boolean;
  gen?: GenOptions;
  /** log every statement before it runs */
  verbose?: boolean;
  /** statements whose difference is not minimised again (same minimised text) are counted once */
  log?: (line: string) => void;
}

export function generate(samples: Samples, seed: number, index: number, gen?: GenOptions): Query {
  return new SqlGenerator(new Rng(seed, index), samples, gen).query();
}

export async function runSqlgen(env: SqlgenEnv, opts: RunOptions): Promise<SqlgenReport> {
  const log = opts.log ?? (() => undefined);
  const modes = opts.modes ?? MODES;
  const started = Date.now();
  const c = await connectClients(env);
  const report: SqlgenReport = { seed: opts.seed, statements: 0, executions: 0, onDuckdb: 0, duckdbShare: 0, postgresErrors: 0, differences: 0, findings: [], fallbackReasons: {}, classes: [], ms: 0 };
  const minimisedSeen = new Set<string>();
  const indexes = opts.only ?? null;
  try {
    for (let i = 0; ; i++) {
      const index = indexes ? indexes[i] : i;
      if (index === undefined) break;
      if (!indexes && opts.statements !== undefined && i >= opts.statements) break;
      if (!indexes && opts.seconds !== undefined && Date.now() - started > opts.seconds * 1000) break;
      if (!indexes && opts.statements === undefined && opts.seconds === undefined) break;
      const q = generate(env.samples, opts.seed, index, opts.gen);
      const sql = render(q);
      const ordered = totalOrder(q);
      report.statements++;
      if (opts.verbose) log(`#${index} ${sql}`);
      let first: Execution | null = null;
      let pgFailed = false;
      for (const mode of modes) {
        const reasons = mode === modes[0] ? await routeCounts() : null;
        const ex = await execute(c, sql, ordered, mode);
        report.executions++;
        if (ex.duckdb) report.onDuckdb++;
        if (ex.pgError) pgFailed = true;
        if (reasons && !ex.duckdb && !ex.pgError) {
          const after = await routeCounts();
          for (const [k, v] of after) if (v !== (reasons.get(k) ?? 0)) report.fallbackReasons[k] = (report.fallbackReasons[k] ?? 0) + 1;
        }
        if (ex.diff && !first) first = ex;
      }
      if (pgFailed) report.postgresErrors++;
      if (!first) continue;
      report.differences++;
      log(`#${index} [${first.mode}] ${first.diff!.kind}: ${sql}\n  ${first.diff!.detail}`);
      const m = opts.minimise === false || !first.duckdb
        ? { sql, diff: first.diff!, tests: 0 }
        : await minimise(c, q, first, { tests: 400, ms: 120_000 });
      const shape = shapeOf(m.sql);
      const cls = report.classes.find((x) => x.shape === shape);
      if (cls) cls.differences++;
      else report.classes.push({ shape, differences: 1, example: m.sql });
      if (minimisedSeen.has(m.sql)) continue;
      minimisedSeen.add(m.sql);
      const name = `sqlgen: seed ${opts.seed} #${index}`;
      const f: Finding = {
        index,
        mode: first.mode,
        kind: first.diff!.kind,
        sql,
        minimised: m.sql,
        detail: m.diff.detail,
        corpusLine: corpusLine(name, m.sql),
        minimiseTests: m.tests,
      };
      report.findings.push(f);
      log(`  minimised (${m.tests} tests): ${m.sql}\n  ${m.diff.detail}\n  ${f.corpusLine}`);
    }
  } finally {
    c.pg.close();
    c.dg.close();
  }
  report.duckdbShare = report.executions ? report.onDuckdb / report.executions : 0;
  report.ms = Date.now() - started;
  return report;
}

/** The run in a few lines: statements, executions, the share DuckDB served, differences. */
export function summaryTable(r: SqlgenReport): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  return formatTable([
    ['sqlgen', 'value'],
    ['seed', String(r.seed)],
    ['statements', String(r.statements)],
    ['executions (3 protocol modes)', String(r.executions)],
    ['served by DuckDB', `${r.onDuckdb} (${pct(r.duckdbShare)})`],
    ['statements Postgres rejected', String(r.postgresErrors)],
    ['statements that differed', String(r.differences)],
    ['distinct minimised findings', String(r.findings.length)],
    ['seconds', (r.ms / 1000).toFixed(1)],
  ]);
}
