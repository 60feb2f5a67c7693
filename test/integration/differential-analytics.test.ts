// The analytical path, differentially: every statement of the analytics corpus runs through duckgate
// (answered from the DuckDB mirror) and straight against PostgreSQL, in simple protocol (text) and in
// extended protocol with text and with binary results. RowDescription and DataRows must be identical
// byte for byte; the one exception is a float4/float8 value computed by an aggregate, which may differ
// in the last bits (summation order), compared within a relative 1e-12 after decoding. And each
// statement must have run where the corpus says: a statement expected on DuckDB that silently fell back
// to Postgres fails, read from duckgate_queries_total{engine="duckdb"} (duckgate runs in-process).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/demo/index.js';
import { DEMO_TABLES } from '../../src/demo/schema.js';
import { registry } from '../../src/observability/metrics.js';
import type { FieldDescription } from '../../src/protocol/backend.js';
import { decodeDataRow, decodeRowDescription } from '../../src/protocol/backend-scan.js';
import { explain, record, type Case, type Step } from '../differential/harness.js';
import { analyticsCorpus, type AnalyticsCase } from '../differential/corpus-analytics.js';
import { BI_MIN_DUCKDB_SHARE, biCorpus, biGenerated } from '../differential/corpus-bi.js';
import { createTestDatabase } from '../support/servers.js';
import { quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';
import { WireClient } from '../support/wire-client.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const slot = `dga_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  db = await createTestDatabase('diffana');
  await loadDemo(db.url, { rows: 2000 });
  // The demo is small: a cost threshold of 0 lets scans and filtered aggregates (whose shape alone
  // does not decide) run on DuckDB too, so the corpus compares them as well.
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  // cost_threshold 0: scans reach DuckDB too. max_lag 1h: the data is static once the mirror is ready,
  // so a mirror briefly behind other databases' WAL on a loaded machine must not move statements to
  // Postgres here (freshness itself is tested in analytics-gates.test.ts).
  await writeFile(rules, 'routing:\n  cost_threshold: 0\n  max_lag: 1h\n');
  dg = await startTestDuckgate(db.url, {
    rules: [rules],
    mirror: quickMirror(slot),
    duckdb: { threads: 1, connections: 2 },
  });
  await waitForMirrorReady(dg, DEMO_TABLES);
}, 90_000);

afterAll(async () => {
  await dg?.close();
  if (db) {
    // drop() also drops the database's replication slot (this test's mirror)
    await db.drop();
  }
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

/** Every engine/reason counter, to name the reason a statement went where it did. */
async function routeCounts(): Promise<Map<string, number>> {
  const m = await registry.getSingleMetric('duckgate_queries_total')!.get();
  return new Map(m.values.map((v) => [`${v.labels['engine']}/${v.labels['reason']}`, v.value]));
}

function changed(before: Map<string, number>, after: Map<string, number>): string {
  return [...after].filter(([k, v]) => v !== (before.get(k) ?? 0)).map(([k]) => k).join(', ') || 'nothing counted';
}

/** Statements DuckDB ran over pre-aggregated groups (src/engines/duckdb/preaggregate.ts). */
async function preaggregatedCount(): Promise<number> {
  const m = await registry.getSingleMetric('duckgate_duckdb_preaggregated_total')!.get();
  return m.values.reduce((a, v) => a + v.value, 0);
}

async function duckdbCount(): Promise<number> {
  const m = await registry.getSingleMetric('duckgate_queries_total')!.get();
  return m.values.filter((v) => v.labels['engine'] === 'duckdb').reduce((a, v) => a + v.value, 0);
}

type Mode = 'simple' | 'extended text' | 'extended binary';
const MODES: Mode[] = ['simple', 'extended text', 'extended binary'];

function stepFor(k: AnalyticsCase, mode: Mode): Step {
  const params = k.params ?? [];
  switch (mode) {
    case 'simple':
      return { kind: 'simple', sql: k.sql };
    case 'extended text':
      return { kind: 'extended', sql: k.sql, params };
    case 'extended binary':
      // parameters too in binary where the case gives them so (Postgres reads them with its *recv)
      if (k.binary) return { kind: 'extended', sql: k.sql, params: k.binary.values, paramFormats: [1], paramTypes: k.binary.types, resultFormats: [1] };
      return { kind: 'extended', sql: k.sql, params, resultFormats: [1] };
  }
}

/** Parameterised statements exist only in the extended protocol. */
const modesOf = (k: AnalyticsCase): Mode[] => (k.params ? MODES.filter((m) => m !== 'simple') : MODES);

const fieldsOf = (rowDescriptionHex: string): FieldDescription[] => decodeRowDescription(Buffer.from(rowDescriptionHex, 'hex'));
const cellsOf = (dataRowHex: string): Array<Buffer | null> => decodeDataRow(Buffer.from(dataRowHex, 'hex'));

const FLOAT4 = 700;
const FLOAT8 = 701;
const AGGREGATE = /\b(sum|avg|stddev|stddev_samp|stddev_pop|variance|var_samp|var_pop|corr|covar_pop|covar_samp)\s*\(/i;

function decodeFloat(cell: Buffer, typeOid: number, format: number): number {
  if (format === 1) return typeOid === FLOAT4 ? cell.readFloatBE(0) : cell.readDoubleBE(0);
  return Number(cell.toString('utf8').replace(/^(-?)Infinity$/, '$1Infinity'));
}

/**
 * Compares one step's messages. Returns null when equivalent, else a description. Float columns that
 * an aggregate computed (no table column behind them, and the statement aggregates) may differ within a
 * relative 1e-12, but not print the same value differently (that would be an encoding bug).
 */
function compareStep(sql: string, want: string[], got: string[]): string | null {
  if (want.length !== got.length || want.some((w, i) => w.split(' ')[0] !== got[i]!.split(' ')[0])) {
    return `messages differ:\n  postgres: ${want.map(explain).join(' | ').slice(0, 800)}\n  duckgate: ${got.map(explain).join(' | ').slice(0, 800)}`;
  }
  let fields: FieldDescription[] = [];
  const tolerant = AGGREGATE.test(sql);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith('T ')) fields = fieldsOf(w.slice(2));
    if (w === g) continue;
    if (!w.startsWith('D ')) return `message ${i} differs:\n  postgres: ${explain(w)}\n  duckgate: ${explain(g)}`;
    const wc = cellsOf(w.slice(2));
    const gc = cellsOf(g.slice(2));
    for (let c = 0; c < wc.length; c++) {
      const a = wc[c];
      const b = gc[c];
      if (a === null || a === undefined || b === null || b === undefined ? a === b : a.equals(b)) continue;
      const f = fields[c];
      const show = (x: Buffer | null | undefined) => (x == null ? 'NULL' : f?.format === 1 ? x.toString('hex') : x.toString('utf8'));
      const where = `row message ${i}, column ${c + 1} (${f?.name} type ${f?.typeOid})`;
      if (f && tolerant && f.tableOid === 0 && (f.typeOid === FLOAT4 || f.typeOid === FLOAT8) && a && b) {
        const x = decodeFloat(a, f.typeOid, f.format);
        const y = decodeFloat(b, f.typeOid, f.format);
        if (x === y) return `${where}: same value ${x} encoded differently: postgres ${show(a)}, duckgate ${show(b)}`;
        if (Math.abs(x - y) <= 1e-12 * Math.max(Math.abs(x), Math.abs(y))) continue;
      }
      return `${where}: postgres ${show(a)}, duckgate ${show(b)}`;
    }
  }
  return null;
}

function endpoints() {
  const u = new URL(db.url);
  return { direct: { host: u.hostname, port: Number(u.port) }, proxy: { host: dg.host, port: dg.port }, params: { user: 'postgres', database: db.name } };
}

/** The explain hint's answer for a statement (engine, reason, detail), through duckgate. */
async function explainRoute(c: WireClient, sql: string): Promise<string> {
  const steps = await record(c, [{ name: 'explain', steps: [{ kind: 'simple', sql: `/* duckgate: explain */ ${sql}` }] }]);
  const row = steps.get('explain')![0]!.find((m) => m.startsWith('D '));
  if (!row) return `no explain row: ${steps.get('explain')![0]!.map(explain).join(' | ')}`;
  const cells = cellsOf(row.slice(2)).map((x) => (x === null ? '' : x.toString('utf8')));
  return `${cells[0]} (${cells[1]}${cells[2] ? `: ${cells[2]}` : ''})`;
}

/**
 * Runs each statement of a corpus through duckgate and straight against Postgres in every mode: the
 * problems found (a difference, or the wrong engine), executions, those DuckDB ran, and the statements
 * that ran over pre-aggregated groups.
 */
async function runCorpus(corpus: readonly AnalyticsCase[]) {
  const e = endpoints();
  const a = await WireClient.connect(e.direct.host, e.direct.port, e.params);
  const b = await WireClient.connect(e.proxy.host, e.proxy.port, e.params);
  const problems: string[] = [];
  let onDuck = 0;
  let executions = 0;
  const preaggregated = new Set<string>();
  try {
    for (const k of corpus) {
      const route = await explainRoute(b, k.sql);
      if (k.expect === 'duckdb' && !route.startsWith('duckdb')) problems.push(`${k.name}: explain says ${route}`);
      for (const mode of modesOf(k)) {
        const c: Case = { name: k.name, steps: [stepFor(k, mode)] };
        const before = await duckdbCount();
        const preBefore = await preaggregatedCount();
        const reasonsBefore = await routeCounts();
        const got = (await record(b, [c])).get(k.name)![0]!;
        const ran = (await duckdbCount()) - before;
        if ((await preaggregatedCount()) > preBefore) preaggregated.add(k.name);
        const reasons = changed(reasonsBefore, await routeCounts());
        const want = (await record(a, [c])).get(k.name)![0]!;
        executions++;
        if (ran === 1) onDuck++;
        if (!want.some((m) => m.startsWith('T '))) problems.push(`${k.name} [${mode}]: Postgres gave no rows description: ${want.map(explain).join(' | ').slice(0, 300)}`);
        const where = ran === 1 ? 'duckdb' : 'postgres';
        if (where !== k.expect) problems.push(`${k.name} [${mode}]: expected on ${k.expect}, ran on ${where} as ${reasons} (explain: ${route})`);
        const diff = compareStep(k.sql, want, got);
        if (diff) problems.push(`${k.name} [${mode}] on ${where}: ${diff}`);
      }
    }
  } finally {
    a.close();
    b.close();
  }
  return { problems, onDuck, executions, preaggregated };
}

describe('differential: analytics corpus', () => {
  it('corpus has at least 200 statements, most expected on DuckDB, with unique names', () => {
    expect(analyticsCorpus.length).toBeGreaterThanOrEqual(200);
    expect(new Set(analyticsCorpus.map((c) => c.name)).size).toBe(analyticsCorpus.length);
    const onDuck = analyticsCorpus.filter((c) => c.expect === 'duckdb').length;
    // most of the corpus runs on DuckDB; the rest are the refusals each wrong-answer class and its
    // siblings must show (regex, math errors, float4, window defaults, whole-row values, …)
    expect(onDuck / analyticsCorpus.length).toBeGreaterThan(0.75);
    for (const c of analyticsCorpus) if (c.expect === 'postgres') expect(c.why, c.name).toBeTruthy();
  });

  it(`runs ${analyticsCorpus.length} statements through duckgate and Postgres (simple, extended text, extended binary): same bytes, expected engine`, async () => {
    const { problems, onDuck, executions, preaggregated } = await runCorpus(analyticsCorpus);
    const expectedDuck = analyticsCorpus.filter((k) => k.expect === 'duckdb').reduce((n, k) => n + modesOf(k).length, 0);
    console.log(
      `analytics corpus: ${analyticsCorpus.length} statements, ${executions} executions, ${onDuck} on DuckDB (expected ${expectedDuck}), ${preaggregated.size} statements over pre-aggregated groups`,
    );
    expect(problems, problems.join('\n\n')).toEqual([]);
    expect(onDuck).toBe(expectedDuck);
    // the pre-aggregated shapes are compared above like every other: make sure they were exercised
    console.log(`pre-aggregated: ${[...preaggregated].join(', ')}`);
    expect(preaggregated.size).toBeGreaterThanOrEqual(30);
    // the corpus's own pre-aggregation section: each shape meant for it took it, the others did not
    for (const k of analyticsCorpus.filter((c) => c.name.startsWith('preagg: '))) {
      expect(preaggregated.has(k.name), k.name).toBe(!k.name.includes('not pre-aggregated'));
    }
  }, 240_000); // about 70 s alone; the whole suite on a shared machine took it past 120 s

  // The BI corpus (statements as Metabase, Grafana, Superset and DBeaver write them): the same
  // comparison, and the share of its statements answered from DuckDB, which may not fall.
  it(`runs the ${biCorpus.length} statements of the BI corpus: same bytes, expected engine, share on DuckDB`, async () => {
    expect(new Set(biCorpus.map((c) => c.name)).size).toBe(biCorpus.length);
    for (const c of biCorpus) if (c.expect === 'postgres') expect(c.why, c.name).toBeTruthy();
    const { problems, onDuck, executions } = await runCorpus(biCorpus);
    const expectedDuck = biCorpus.filter((k) => k.expect === 'duckdb').reduce((n, k) => n + modesOf(k).length, 0);
    const generated = biCorpus.filter(biGenerated);
    const share = generated.filter((k) => k.expect === 'duckdb').length / generated.length;
    console.log(
      `BI corpus: ${generated.length} tool-generated statements, ${(share * 100).toFixed(1)}% on DuckDB; with the siblings ${biCorpus.length} statements, ` +
        `${executions} executions, ${onDuck} on DuckDB (expected ${expectedDuck})`,
    );
    expect(problems, problems.join('\n\n')).toEqual([]);
    expect(onDuck).toBe(expectedDuck);
    expect(share).toBeGreaterThanOrEqual(BI_MIN_DUCKDB_SHARE);
  }, 120_000);

  // Session settings change the answer: timestamptz text and date_trunc/extract follow TimeZone (with
  // DST), float text follows extra_float_digits. The statements touching times or floats run again
  // under a zone with DST and shortest-but-rounded floats.
  const SESSION_SENSITIVE = /now\(\)|current_date|localtimestamp|scraped_at|occurred_at|analyzed_at|created_at|updated_at|last_login_at|date_trunc|extract|date_part|archive_date|captured_at|first_seen|readability|page_rank|sentiment|error_rate|avg\(/i;
  const sensitive = analyticsCorpus.filter((k) => SESSION_SENSITIVE.test(k.sql));

  // A zone with DST (DuckDB's ICU calendar path) and a fixed offset west of UTC (the calendar macros'
  // epoch-arithmetic path; the default run covers UTC).
  it.each([
    { zone: 'America/New_York', efd: 0 },
    { zone: 'UTC+3', efd: 1 },
  ])(`runs ${sensitive.length} time/float statements under TimeZone $zone and extra_float_digits $efd`, async ({ zone, efd }) => {
    let dstRefusals = 0;
    const e = endpoints();
    const a = await WireClient.connect(e.direct.host, e.direct.port, e.params);
    const b = await WireClient.connect(e.proxy.host, e.proxy.port, e.params);
    const problems: string[] = [];
    try {
      const set: Case = {
        name: 'settings',
        steps: [
          { kind: 'simple', sql: `SET TimeZone = '${zone}'` },
          { kind: 'simple', sql: `SET extra_float_digits = ${efd}` },
        ],
      };
      expect((await record(b, [set])).get('settings')).toEqual((await record(a, [set])).get('settings'));
      for (const k of sensitive) {
        // Under a zone with DST a subtraction of two values (maybe timestamptz - timestamptz, elapsed
        // 24-hour days in Postgres, calendar days in DuckDB) goes to Postgres: explain must say so.
        let expected = k.expect;
        if (expected === 'duckdb' && zone === 'America/New_York') {
          const route = await explainRoute(b, k.sql);
          if (route.startsWith('postgres') && /subtraction of two values/.test(route)) {
            expected = 'postgres';
            dstRefusals++;
          }
        }
        for (const mode of modesOf(k).filter((m) => m !== 'extended text')) {
          const c: Case = { name: k.name, steps: [stepFor(k, mode)] };
          const before = await duckdbCount();
          const got = (await record(b, [c])).get(k.name)![0]!;
          const where = (await duckdbCount()) - before === 1 ? 'duckdb' : 'postgres';
          const want = (await record(a, [c])).get(k.name)![0]!;
          if (where !== expected) problems.push(`${k.name} [${mode}]: expected on ${expected}, ran on ${where} (explain: ${await explainRoute(b, k.sql)})`);
          const diff = compareStep(k.sql, want, got);
          if (diff) problems.push(`${k.name} [${mode}] on ${where}: ${diff}`);
        }
      }
    } finally {
      a.close();
      b.close();
    }
    expect(problems, problems.join('\n\n')).toEqual([]);
    // the corpus has two such statements (date minus date, a month-over-month CTE)
    if (zone === 'America/New_York') expect(dstRefusals).toBe(2);
  }, 120_000);
});
