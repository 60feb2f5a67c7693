// The gates of the analytical path, through a real client (pg) against duckgate and, as the reference,
// straight against PostgreSQL: read-your-writes, table and column privileges, row-level security, a
// DuckDB failure falling back invisibly, SET duckgate.route, the explain hint, and transactions; then
// the extended protocol's row limits and portals read across Execute messages (pg-cursor, raw frames).
// Where a statement ran is read from duckgate_queries_total (duckgate runs in-process).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import Cursor from 'pg-cursor';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/demo/index.js';
import { DEMO_TABLES } from '../../src/demo/schema.js';
import { createTestDatabase, testPostgres } from '../support/servers.js';
import { queries, onDuck, quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';
import { bind, serialize, WireClient, type Msg } from '../support/wire-client.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const tag = `${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const slot = `dgg_${tag}`;
// Role names are cluster-wide: unique per run. (Not md5_*/scram_*: trusted on loopback.)
const roles = { none: `gate_none_${tag}`, cols: `gate_cols_${tag}`, rls: `gate_rls_${tag}` };
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await createTestDatabase('gates');
  await loadDemo(db.url, { rows: 600 });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    await admin.query(`
      CREATE ROLE ${roles.none} LOGIN;
      GRANT SELECT ON projects TO ${roles.none};
      CREATE ROLE ${roles.cols} LOGIN;
      GRANT SELECT (id, archive_date, length) ON cdx_records TO ${roles.cols};
      CREATE ROLE ${roles.rls} LOGIN;
      GRANT SELECT ON events TO ${roles.rls};
      ALTER TABLE events ENABLE ROW LEVEL SECURITY;
      CREATE POLICY first_users ON events FOR SELECT TO ${roles.rls} USING (user_id <= 3);
    `);
    // a column with a collation of its own (any but the default, C and POSIX the server has)
    const coll = (await admin.query<{ collname: string }>(
      "SELECT collname FROM pg_collation WHERE collname NOT IN ('default', 'C', 'POSIX') AND collencoding IN (-1, 6) ORDER BY collprovider DESC, collname LIMIT 1",
    )).rows[0]!.collname;
    await admin.query(`CREATE TABLE labels (id int PRIMARY KEY, name text COLLATE "${coll}", plain text, code char(5));
      INSERT INTO labels SELECT g, chr(64 + g % 26 + 1) || g, chr(96 + g % 26 + 1) || g, repeat('x', g % 4 + 1) FROM generate_series(1, 200) g`);
  } finally {
    await admin.end();
  }
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  await writeFile(rules, 'routing:\n  cost_threshold: 0\n');
  dg = await startTestDuckgate(db.url, {
    rules: [rules],
    mirror: quickMirror(slot),
    // read-your-writes: allow the mirror a generous time to catch up on this busy machine
    analytics: { freshnessWaitMs: 5_000 },
    duckdb: { threads: 1, connections: 2 },
  });
  await waitForMirrorReady(dg, [...DEMO_TABLES, 'labels']);
}, 90_000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await dg?.close();
  if (db) {
    // drop() also drops the database's replication slot (this test's mirror)
    await db.drop();
    const admin = new pg.Client({ connectionString: testPostgres().url });
    await admin.connect();
    for (const r of Object.values(roles)) await admin.query(`DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
    await admin.end();
  }
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

async function connect(via: 'duckgate' | 'postgres', user = 'postgres'): Promise<pg.Client> {
  const u = new URL(via === 'duckgate' ? dg.url : db.url);
  const c = new pg.Client({ host: u.hostname, port: Number(u.port), user, database: db.name, password: user === 'postgres' ? 'postgres' : undefined });
  await c.connect();
  clients.push(c);
  return c;
}

/** Runs sql through duckgate and straight to Postgres: Postgres's rows, answered by `engine`. */
async function expectSameAnswer(viaDg: pg.Client, direct: pg.Client, sql: string, engine: 'duckdb' | 'postgres'): Promise<void> {
  const got = await onDuck(() => viaDg.query(sql));
  expect(got.duckdb, sql).toBe(engine === 'duckdb' ? 1 : 0);
  expect(got.value.rows, sql).toEqual((await direct.query(sql)).rows);
}

/** The error a query raises (code + message + the rest Postgres says), or null. */
async function errorOf(c: pg.Client, sql: string): Promise<Record<string, unknown> | null> {
  try {
    await c.query(sql);
    return null;
  } catch (e) {
    const x = e as pg.DatabaseError;
    return { code: x.code, message: x.message, severity: x.severity, detail: x.detail, hint: x.hint };
  }
}

describe('analytical path gates', () => {
  it('read-your-writes: an aggregate right after the session\'s own INSERT includes the new row', async () => {
    const c = await connect('duckgate');
    const engines: string[] = [];
    for (let i = 0; i < 3; i++) {
      const before = (await c.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n;
      const ins = await c.query<{ id: string }>(
        "INSERT INTO events (user_id, event_type, occurred_at, session_id) VALUES (1, 'gate_rw', timestamptz '2024-12-31 23:00:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') RETURNING id",
      );
      const id = ins.rows[0]!.id;
      const { value, duckdb } = await onDuck(() =>
        c.query<{ n: string; m: string; mine: string }>("SELECT count(*) AS n, max(id) AS m, count(*) FILTER (WHERE event_type = 'gate_rw') AS mine FROM events"),
      );
      engines.push(duckdb === 1 ? 'duckdb' : 'postgres');
      expect(BigInt(value.rows[0]!.n)).toBe(BigInt(before) + 1n);
      expect(value.rows[0]!.m).toBe(id);
      expect(Number(value.rows[0]!.mine)).toBe(i + 1);
    }
    // either engine is correct; say which answered
    console.log(`read-your-writes answered on: ${engines.join(', ')}`);
  });

  it('a user without SELECT on a table gets exactly Postgres\'s permission error; its granted table still works', async () => {
    const viaDg = await connect('duckgate', roles.none);
    const direct = await connect('postgres', roles.none);
    for (const sql of ['SELECT count(*) FROM users', 'SELECT country, count(*) FROM users GROUP BY country ORDER BY country', 'SELECT p.status, count(*) FROM projects p JOIN users u ON u.id = p.user_id GROUP BY 1 ORDER BY 1']) {
      const { value: got, duckdb } = await onDuck(() => errorOf(viaDg, sql));
      const want = await errorOf(direct, sql);
      expect(want?.code, sql).toBe('42501');
      expect(got, sql).toEqual(want);
      expect(duckdb, sql).toBe(0);
    }
    const ok = 'SELECT status, count(*), avg(crawl_depth) FROM projects GROUP BY status ORDER BY status';
    const { value, duckdb } = await onDuck(() => viaDg.query(ok));
    expect(value.rows).toEqual((await direct.query(ok)).rows);
    expect(duckdb).toBe(1);
  });

  it('EXECUTE revoked on a function, an operator\'s function or an implicit cast\'s: Postgres\'s 42501, never rows from DuckDB', async () => {
    const viaDg = await connect('duckgate', roles.none);
    const direct = await connect('postgres', roles.none);
    const admin = await connect('postgres');
    for (const [fn, sql] of [
      ['abs(integer)', 'SELECT status, sum(abs(user_id)) FROM projects GROUP BY status ORDER BY status'],
      ['int4pl(integer, integer)', 'SELECT status, sum(user_id + 1) FROM projects GROUP BY status ORDER BY status'],
      // int4 + numeric: the int4 is cast to numeric by the function numeric(integer), never named
      ['pg_catalog."numeric"(integer)', 'SELECT status, sum(user_id + 1.5) FROM projects GROUP BY status ORDER BY status'],
    ] as const) {
      const served = await onDuck(() => viaDg.query(sql));
      expect(served.duckdb, sql).toBe(1);
      await admin.query(`REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`);
      try {
        const { value: got, duckdb } = await onDuck(() => errorOf(viaDg, sql));
        const want = await errorOf(direct, sql);
        expect(want?.code, sql).toBe('42501');
        expect(got, sql).toEqual(want);
        expect(duckdb, sql).toBe(0);
      } finally {
        await admin.query(`GRANT EXECUTE ON FUNCTION ${fn} TO PUBLIC`);
      }
      expect((await onDuck(() => viaDg.query(sql))).duckdb, sql).toBe(1);
    }
  });

  it('a user with SELECT on some columns: those columns answer (from DuckDB), another column gets Postgres\'s 42501', async () => {
    const viaDg = await connect('duckgate', roles.cols);
    const direct = await connect('postgres', roles.cols);
    const granted = "SELECT CAST(date_trunc('month', archive_date) AS date) AS m, count(id), sum(length) FROM cdx_records GROUP BY 1 ORDER BY 1";
    const g = await onDuck(() => viaDg.query(granted));
    expect(g.value.rows).toEqual((await direct.query(granted)).rows);
    expect(g.value.rows.length).toBeGreaterThan(0);
    expect(g.duckdb).toBe(1);
    for (const sql of ['SELECT mimetype, count(*) FROM cdx_records GROUP BY 1 ORDER BY 1', 'SELECT archive_date, max(original) FROM cdx_records GROUP BY 1 ORDER BY 1']) {
      const { value: got, duckdb } = await onDuck(() => errorOf(viaDg, sql));
      const want = await errorOf(direct, sql);
      expect(want?.code, sql).toBe('42501');
      expect(got, sql).toEqual(want);
      expect(duckdb, sql).toBe(0);
    }
    // count(*) needs no particular column: whatever Postgres says, duckgate says
    const star = 'SELECT count(*) FROM cdx_records';
    const s = await onDuck(() => errorOf(viaDg, star));
    expect(s.value).toEqual(await errorOf(direct, star));
  });

  it('a user under a row-level security policy gets exactly Postgres\'s rows (their rows only), never from DuckDB', async () => {
    const viaDg = await connect('duckgate', roles.rls);
    const direct = await connect('postgres', roles.rls);
    const sql = 'SELECT user_id, count(*), min(occurred_at), max(id) FROM events GROUP BY user_id ORDER BY user_id';
    const { value, duckdb } = await onDuck(() => viaDg.query(sql));
    const want = await direct.query(sql);
    expect(value.rows).toEqual(want.rows);
    expect(value.rows.length).toBeGreaterThan(0);
    expect(value.rows.every((r) => Number(r.user_id) <= 3)).toBe(true);
    expect(duckdb).toBe(0);
    // the owner (superuser, not subject to the policy) sees every user, from DuckDB
    const owner = await connect('duckgate');
    const all = await onDuck(() => owner.query(sql));
    expect(all.value.rows.length).toBeGreaterThan(value.rows.length);
  });

  it('a named prepared statement (Parse once, then Bind/Describe/Execute/Sync) runs on DuckDB each time, with Postgres\'s answer', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    const q = { name: 'gate_named_tld', text: 'SELECT tld, count(*) AS n, min(first_seen) AS first FROM domains WHERE id > $1 GROUP BY tld ORDER BY tld', values: [10] };
    const want = await direct.query(q);
    const first = await onDuck(() => viaDg.query(q));
    // the second execution sends no Parse: duckgate finds the statement's text by its name
    const second = await onDuck(() => viaDg.query({ ...q, values: [20] }));
    const wantSecond = await direct.query({ ...q, values: [20] });
    expect(first.duckdb).toBe(1);
    expect(second.duckdb).toBe(1);
    expect(first.value.rows).toEqual(want.rows);
    expect(second.value.rows).toEqual(wantSecond.rows);
    expect(second.value.fields.map((f) => [f.name, f.dataTypeID])).toEqual(wantSecond.fields.map((f) => [f.name, f.dataTypeID]));
  });

  it('a scan filtered by a parameter asks Postgres\'s EXPLAIN with the bound values, then runs on DuckDB', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    const q = { text: 'SELECT id, length, archive_date FROM cdx_records WHERE domain_id = $1 ORDER BY id', values: [3], rowMode: 'array' as const };
    const want = await direct.query(q);
    const before = await queries({ reason: 'not_analytical' });
    const got = await onDuck(() => viaDg.query(q));
    expect(got.duckdb).toBe(1);
    expect(await queries({ reason: 'not_analytical' })).toBe(before);
    expect(got.value.rows).toEqual(want.rows);
    expect(want.rows.length).toBeGreaterThan(0);
  });

  it('a column with a collation of its own keeps statements reading it on Postgres; the table\'s other columns still run on DuckDB', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    const before = await queries({ engine: 'postgres', reason: 'collation' });
    await expectSameAnswer(viaDg, direct, 'SELECT name, count(*) FROM labels GROUP BY name ORDER BY name', 'postgres');
    expect(await queries({ engine: 'postgres', reason: 'collation' })).toBe(before + 1);
    await expectSameAnswer(viaDg, direct, 'SELECT plain, count(*) FROM labels GROUP BY plain ORDER BY plain', 'duckdb');
  });

  it('char(n) values shorter than n: grouping and output run on DuckDB, comparing or measuring them goes to Postgres (which ignores the padding)', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    for (const [sql, engine] of [
      ['SELECT code, count(*), min(code), max(id) FROM labels GROUP BY code ORDER BY code', 'duckdb'],
      ["SELECT count(*) FROM labels WHERE code = 'xx'", 'postgres'],
      ['SELECT code, length(code), code || \'|\' FROM labels GROUP BY code ORDER BY code', 'postgres'],
      ["SELECT count(*) FILTER (WHERE code LIKE '%x') FROM labels", 'postgres'],
      ['SELECT c, count(*) FROM (SELECT code AS c FROM labels) s GROUP BY c ORDER BY c', 'postgres'],
    ] as const)
      await expectSameAnswer(viaDg, direct, sql, engine);
  });

  it('SET duckgate.route = postgres sends an analytical statement to Postgres; auto brings it back', async () => {
    const c = await connect('duckgate');
    const sql = 'SELECT status_code, count(*), avg(fetch_ms) FROM scrape_pages GROUP BY status_code ORDER BY status_code';
    const first = await onDuck(() => c.query(sql));
    expect(first.duckdb).toBe(1);
    await c.query('SET duckgate.route = postgres');
    expect((await c.query('SHOW duckgate.route')).rows).toEqual([{ 'duckgate.route': 'postgres' }]);
    const before = await queries({ engine: 'postgres', reason: 'session_setting' });
    const forced = await onDuck(() => c.query(sql));
    expect(forced.duckdb).toBe(0);
    expect((await queries({ engine: 'postgres', reason: 'session_setting' })) - before).toBe(1);
    expect(forced.value.rows).toEqual(first.value.rows);
    await c.query('SET duckgate.route = auto');
    expect((await onDuck(() => c.query(sql))).duckdb).toBe(1);
  });

  it('the explain hint returns the route without running the statement', async () => {
    const c = await connect('duckgate');
    const r = await c.query('/* duckgate: explain */ SELECT tld, count(*) FROM domains GROUP BY tld ORDER BY tld');
    expect(r.fields.map((f) => f.name)).toEqual(['engine', 'reason', 'detail', 'tables', 'mirror_lag_ms', 'mirror_lsn', 'fingerprint', 'freshness']);
    expect(r.rows[0]).toMatchObject({ engine: 'duckdb', reason: 'analytical', tables: 'public.domains' });
    expect(r.rows[0]!.mirror_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const w = await c.query("/* duckgate: explain */ DELETE FROM domains WHERE tld = 'com'");
    expect(w.rows[0]).toMatchObject({ engine: 'postgres', reason: 'write' });
    // not run: the rows are still there
    expect(Number((await c.query("SELECT count(*) AS n FROM domains WHERE tld = 'com'")).rows[0]!.n)).toBeGreaterThan(0);
    const t = await c.query('/* duckgate: explain */ SELECT count(*) FROM pg_class');
    expect(t.rows[0]).toMatchObject({ engine: 'postgres' });
  });

  it('explain says why the mirror does not serve a table the statement reads', async () => {
    const c = await connect('duckgate');
    await c.query('CREATE TABLE explain_nokey (a int, b text)');
    try {
      dg.dg.mirror!.checkCatalog();
      let detail = '';
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        const r = await c.query('/* duckgate: explain */ SELECT count(*) FROM explain_nokey');
        expect(r.rows[0]).toMatchObject({ engine: 'postgres', reason: 'not_mirrored' });
        detail = String(r.rows[0]!.detail);
        if (/primary key/.test(detail)) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      // the router's reason, then the mirror's: the table is skipped for want of a key, and what to do
      expect(detail).toMatch(/^explain_nokey: public\.explain_nokey \(first schema of search_path\) is not mirrored; .*public\.explain_nokey has no primary key/);
    } finally {
      await c.query('DROP TABLE explain_nokey');
    }
  });

  it('explain checks a DuckDB route all the way: what DuckDB cannot translate, and what the user may not read, are reported as going to Postgres', async () => {
    const c = await connect('duckgate');
    // the router calls it analytical; the DuckDB translation refuses ntile over a column (Postgres
    // reads the bucket count once per partition)
    const rollup = await c.query('/* duckgate: explain */ SELECT status_code, ntile(depth + 1) OVER (ORDER BY id) FROM scrape_pages');
    expect(rollup.rows[0]).toMatchObject({ engine: 'postgres', reason: 'unsupported_syntax' });
    // roles.none may read projects only
    const lowly = await connect('duckgate', roles.none);
    const denied = await lowly.query('/* duckgate: explain */ SELECT tld, count(*) FROM domains GROUP BY tld');
    expect(denied.rows[0]).toMatchObject({ engine: 'postgres', reason: 'privilege' });
    const allowed = await lowly.query('/* duckgate: explain */ SELECT status, count(*) FROM projects GROUP BY status');
    expect(allowed.rows[0]).toMatchObject({ engine: 'duckdb', reason: 'analytical' });
    // 0 when the mirror has applied the cluster's whole WAL; other test databases writing meanwhile can
    // leave it a little behind, which is still within max_lag (that is why it may run on DuckDB)
    expect(Number(allowed.rows[0]!.mirror_lag_ms)).toBeGreaterThanOrEqual(0);
    expect(Number(allowed.rows[0]!.mirror_lag_ms)).toBeLessThanOrEqual(5_000);
  });

  it('a statement inside BEGIN goes to Postgres (and sees the transaction\'s own uncommitted row)', async () => {
    const c = await connect('duckgate');
    await c.query('BEGIN');
    await c.query("INSERT INTO domains (id, name, tld, first_seen) VALUES (900001, 'gate-tx.test', 'test', date '2024-01-01')");
    const before = await queries({ engine: 'postgres', reason: 'in_transaction' });
    const { value, duckdb } = await onDuck(() => c.query("SELECT tld, count(*) AS n FROM domains WHERE tld = 'test' GROUP BY tld"));
    expect(duckdb).toBe(0);
    expect((await queries({ engine: 'postgres', reason: 'in_transaction' })) - before).toBe(1);
    expect(value.rows).toEqual([{ tld: 'test', n: '1' }]);
    await c.query('ROLLBACK');
  });

  it('a DuckDB failure falls back to Postgres with no client-visible error', async () => {
    // Nested repetitions whose counts multiply beyond 1000 are valid in Postgres's regular expressions
    // but not in RE2 (DuckDB): the engine translates the statement (the pattern is in the syntax both
    // read alike, rewrite.ts regexRefusal), DuckDB fails while preparing it, and Postgres answers instead.
    // (Back-references, and patterns that are not constants, are refused by the translation itself now.)
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    const sqls = ["SELECT depth, count(*) FROM scrape_pages WHERE url !~ '(w{40}){40}' GROUP BY depth ORDER BY depth"];
    for (const sql of sqls) {
      const fallbacks = await queries({ engine: 'postgres', reason: 'fallback' });
      const { value, duckdb } = await onDuck(() => viaDg.query(sql));
      expect(value.rows, sql).toEqual((await direct.query(sql)).rows);
      expect(value.rows.length, sql).toBeGreaterThan(0);
      expect(duckdb, sql).toBe(0);
      expect((await queries({ engine: 'postgres', reason: 'fallback' })) - fallbacks, sql).toBe(1);
      // the same shape again, in the extended protocol: remembered as failed, straight to Postgres
      const again = await viaDg.query({ text: sql, values: [] });
      expect(again.rows, sql).toEqual(value.rows);
    }
  });
});

describe('extended protocol on DuckDB: row limits and portals', () => {
  /** raw protocol sessions to duckgate and to Postgres as the same user */
  async function rawPair(): Promise<{ viaDg: WireClient; direct: WireClient; close: () => void }> {
    const params = { user: 'postgres', database: db.name };
    const d = new URL(dg.url);
    const p = new URL(db.url);
    const viaDg = await WireClient.connect(d.hostname, Number(d.port), params);
    const direct = await WireClient.connect(p.hostname, Number(p.port), params);
    return { viaDg, direct, close: () => (viaDg.close(), direct.close()) };
  }
  /** messages up to the n-th PortalSuspended/CommandComplete/ErrorResponse (a batch ending in Flush has no ReadyForQuery) */
  async function readResults(c: WireClient, n = 1): Promise<Msg[]> {
    const out: Msg[] = [];
    for (let seen = 0; seen < n; ) {
      const m = await c.next();
      if (!m) break;
      out.push(m);
      if (m.type === 's' || m.type === 'C' || m.type === 'E') seen++;
    }
    return out;
  }
  const show = (ms: Msg[]): string[] => ms.map((m) => `${m.type} ${m.body.toString('hex')}`);
  const sql = 'SELECT id, event_type, occurred_at, user_id FROM events ORDER BY id';

  it('pg-cursor reads an analytical statement in batches from DuckDB (Bind/Describe then Execute n/Flush), rows as Postgres gives them', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    const readAll = async (c: pg.Client, batch: number): Promise<unknown[][]> => {
      const cursor = c.query(new Cursor(sql, [], { rowMode: 'array' }));
      const batches: unknown[][] = [];
      for (;;) {
        const rows = await cursor.read(batch);
        batches.push(rows);
        if (rows.length === 0) break;
      }
      await cursor.close();
      return batches;
    };
    const want = await readAll(direct, 37);
    const { value, duckdb } = await onDuck(() => readAll(viaDg, 37));
    expect(duckdb).toBe(1);
    expect(value).toEqual(want);
    expect(want.flat().length).toBeGreaterThan(100);
    // the session is in a clean state afterwards: an ordinary query and another cursor work
    expect((await viaDg.query('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(want.flat().length);
    const again = await onDuck(() => readAll(viaDg, 1000));
    expect(again.value.flat()).toEqual(want.flat());
    expect(again.duckdb).toBe(1);
  });

  it('Execute with a row limit: the same DataRows, PortalSuspended (also at exactly the limit), per-Execute SELECT counts and zero rows after the end', async () => {
    const { viaDg, direct, close } = await rawPair();
    try {
      const total = Number((await (await connect('postgres')).query('SELECT count(*) AS n FROM events')).rows[0].n);
      // one batch with Sync: the first 25 rows, then PortalSuspended; the portal ends with the batch
      const once = [serialize.parse({ text: sql }), bind({}), serialize.describe({ type: 'P' }), serialize.execute({ rows: 25 }), serialize.sync()];
      const want = await direct.roundtrip(once);
      const got = await onDuck(() => viaDg.roundtrip(once));
      expect(got.duckdb).toBe(1);
      expect(show(got.value)).toEqual(show(want));
      expect(want.filter((m) => m.type === 'D').length).toBe(25);
      expect(want.some((m) => m.type === 's')).toBe(true);
      // a named portal read with Flush until it ends: limits that split the result unevenly and one that
      // ends exactly on the last row (PortalSuspended, then 'SELECT 0')
      const rest = total - 40;
      const steps: Array<[Buffer[], number]> = [
        [[serialize.parse({ text: sql }), bind({ portal: 'p1' }), serialize.describe({ type: 'P', name: 'p1' }), serialize.flush()], 0],
        [[serialize.execute({ portal: 'p1', rows: 40 }), serialize.flush()], 1],
        [[serialize.execute({ portal: 'p1', rows: rest }), serialize.flush()], 1],
        [[serialize.execute({ portal: 'p1', rows: 10 }), serialize.flush()], 1],
        [[serialize.execute({ portal: 'p1', rows: 10 }), serialize.flush()], 1],
      ];
      const run = async (c: WireClient): Promise<string[][]> => {
        const out: string[][] = [];
        for (const [msgs, results] of steps) {
          c.send(...msgs);
          // the first batch answers ParseComplete, BindComplete, RowDescription without a result
          out.push(show(results === 0 ? [await c.next(), await c.next(), await c.next()].filter((m): m is Msg => m !== null) : await readResults(c, results)));
        }
        out.push(show(await c.roundtrip([serialize.close({ type: 'P', name: 'p1' }), serialize.sync()])));
        return out;
      };
      const wantSteps = await run(direct);
      const gotSteps = await onDuck(() => run(viaDg));
      expect(gotSteps.duckdb).toBe(1);
      expect(gotSteps.value).toEqual(wantSteps);
      // 40 rows, PortalSuspended; the rest exactly, PortalSuspended; then 'SELECT 0' twice
      expect(wantSteps[2]!.filter((m) => m.startsWith('D ')).length).toBe(rest);
      expect(wantSteps[2]!.at(-1)!.startsWith('s')).toBe(true);
      expect(wantSteps[3]).toEqual([`C ${Buffer.from('SELECT 0\0').toString('hex')}`]);
      // and the session carries on normally
      const after = [serialize.parse({ text: 'SELECT count(*) FROM events' }), bind({}), serialize.execute({}), serialize.sync()];
      expect(show(await viaDg.roundtrip(after))).toEqual(show(await direct.roundtrip(after)));
    } finally {
      close();
    }
  });

  it('postgres.js: prepared or not, with parameters or without, from the first execution on, and its cursors, run on DuckDB with Postgres\'s answer', async () => {
    const conn = (url: string) => {
      const u = new URL(url);
      return postgres({ host: u.hostname, port: Number(u.port), user: 'postgres', password: 'postgres', database: db.name, max: 1, onnotice: () => undefined });
    };
    const viaDg = conn(dg.url);
    const direct = conn(db.url);
    try {
      const q = 'SELECT event_type, count(*)::int AS n, min(occurred_at) AS first, avg(user_id) AS avg_user FROM events GROUP BY 1 ORDER BY 1';
      const withParam = 'SELECT event_type, count(*)::int AS n, max(occurred_at) AS last FROM events WHERE user_id > $1 GROUP BY 1 ORDER BY 1';
      // unsafe() without parameters would use the simple protocol; its (untyped) option simple: false
      // forces the extended one
      const EXTENDED = { simple: false } as unknown as postgres.UnsafeQueryOptions;
      const runs: Array<[string, (s: postgres.Sql) => Promise<postgres.RowList<postgres.Row[]>>]> = [
        // Parse (named), Describe statement, Bind, Execute, Sync; then Bind, Execute, Sync
        ['prepared, first', (s) => s.unsafe(q, [], { ...EXTENDED, prepare: true })],
        ['prepared, again', (s) => s.unsafe(q, [], { ...EXTENDED, prepare: true })],
        // Parse (unnamed), Describe statement, Bind, Execute, Sync
        ['unnamed', (s) => s.unsafe(q, [], EXTENDED)],
        // with a parameter: Parse, Describe statement, Flush; then Bind, Execute, Sync
        ['parameter, prepared, first', (s) => s.unsafe(withParam, [2], { prepare: true })],
        ['parameter, prepared, again', (s) => s.unsafe(withParam, [5], { prepare: true })],
        ['parameter, unnamed', (s) => s.unsafe(withParam, [3])],
      ];
      for (const [name, run] of runs) {
        const want = await run(direct);
        const got = await onDuck(() => run(viaDg));
        expect(got.duckdb, name).toBe(1);
        expect([...got.value], name).toEqual([...want]);
        expect(got.value.columns.map((c) => [c.name, c.type]), name).toEqual(want.columns.map((c) => [c.name, c.type]));
      }
      // a cursor: Execute with a row limit, batch after batch
      const batches = async (s: postgres.Sql): Promise<unknown[][]> => {
        const out: unknown[][] = [];
        await s.unsafe('SELECT id, event_type, occurred_at FROM events ORDER BY id', [], EXTENDED).cursor(40, (rows) => {
          out.push([...rows]);
        });
        return out;
      };
      const wantBatches = await batches(direct);
      const gotBatches = await onDuck(() => batches(viaDg));
      expect(gotBatches.value).toEqual(wantBatches);
      expect(wantBatches.length).toBeGreaterThan(2);
      console.log(`postgres.js cursor: ${wantBatches.length} batches, DuckDB statements: ${gotBatches.duckdb}`);
      // a statement Postgres rejects at Parse: the same error through duckgate, and the session goes on
      const bad = 'SELECT count(*) FROM events WHERE no_such_column > $1';
      const errOf = (p: Promise<unknown>) => p.then(() => null, (e: { code?: string; message?: string }) => `${e.code} ${e.message}`);
      expect(await errOf(viaDg.unsafe(bad, [1]))).toBe(await errOf(direct.unsafe(bad, [1])));
      const count = (s: postgres.Sql) => s.unsafe('SELECT count(*)::int AS n FROM events').then((r) => r[0]!['n']);
      expect(await count(viaDg)).toBe(await count(direct));
    } finally {
      await viaDg.end();
      await direct.end();
    }
  });

  it('binary parameters (pgjdbc, pgx) are read by the type Postgres gives them: the same answer as Postgres, from DuckDB', async () => {
    const { viaDg, direct, close } = await rawPair();
    try {
      const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b; };
      const i64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64BE(v); return b; };
      const f64 = (v: number) => { const b = Buffer.alloc(8); b.writeDoubleBE(v); return b; };
      const i16 = (v: number) => { const b = Buffer.alloc(2); b.writeInt16BE(v); return b; };
      const since2000 = (iso: string) => (BigInt(Date.parse(iso)) - 946_684_800_000n) * 1000n;
      const cases: Array<{ sql: string; types: number[]; params: Buffer[]; formats: number[] }> = [
        {
          sql: 'SELECT event_type, count(*) AS n, min(occurred_at) AS first FROM events WHERE user_id > $1 AND occurred_at >= $2 AND event_type <> $3 AND id > $4 AND session_id <> $5 GROUP BY 1 ORDER BY 1',
          types: [23, 1184, 25, 20, 2950],
          params: [i32(2), i64(since2000('2020-01-01T00:00:00Z')), Buffer.from('zzz'), i64(5n), Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'hex')],
          formats: [1],
        },
        {
          // mixed formats: the date in text, the rest binary; results in binary
          sql: 'SELECT mimetype, count(*) AS n, sum(length) AS bytes, max(captured_at) AS last FROM cdx_records WHERE archive_date >= $1 AND length > $2 AND statuscode <> $3 AND captured_at < $4 GROUP BY 1 ORDER BY 1',
          types: [1082, 701, 21, 1114],
          params: [Buffer.from('2023-06-01'), f64(10.5), i16(404), i64(since2000('2030-01-01T00:00:00Z'))],
          formats: [0, 1, 1, 1],
        },
      ];
      for (const c of cases) {
        for (const resultFormats of [[0], [1]]) {
          const msgs = [serialize.parse({ text: c.sql, types: c.types }), bind({ params: c.params, paramFormats: c.formats, resultFormats }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()];
          const want = await direct.roundtrip(msgs);
          const got = await onDuck(() => viaDg.roundtrip(msgs));
          expect(got.duckdb, c.sql).toBe(1);
          expect(show(got.value), c.sql).toEqual(show(want));
          expect(want.filter((m) => m.type === 'D').length, c.sql).toBeGreaterThan(0);
        }
      }
    } finally {
      close();
    }
  });

  it('a simple Query answered by DuckDB drops the unnamed statement, as Postgres\'s does', async () => {
    const { viaDg, direct, close } = await rawPair();
    try {
      const run = async (c: WireClient): Promise<string[]> => {
        const out: Msg[] = [];
        out.push(...(await c.roundtrip([serialize.parse({ text: 'SELECT count(*) FROM events' }), serialize.sync()])));
        out.push(...(await c.roundtrip([serialize.query('SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1')])));
        // Postgres: "unnamed prepared statement does not exist"
        out.push(...(await c.roundtrip([bind({}), serialize.execute({}), serialize.sync()])));
        return show(out);
      };
      const want = await run(direct);
      const got = await onDuck(() => run(viaDg));
      expect(got.duckdb).toBe(1);
      expect(got.value).toEqual(want);
      expect(want.some((m) => m.startsWith('E '))).toBe(true);
    } finally {
      close();
    }
  });

  it('reading a DuckDB portal while another batch is open upstream is refused with 0A000, and the session recovers at Sync', async () => {
    const { viaDg, close } = await rawPair();
    try {
      viaDg.send(serialize.parse({ text: sql }), bind({ portal: 'p2' }), serialize.describe({ type: 'P', name: 'p2' }), serialize.flush());
      expect([(await viaDg.next())!.type, (await viaDg.next())!.type, (await viaDg.next())!.type]).toEqual(['1', '2', 'T']);
      // another statement, relayed to Postgres and left open with Flush
      viaDg.send(serialize.parse({ text: 'SELECT 1' }), bind({}), serialize.execute({}), serialize.flush());
      expect((await readResults(viaDg)).map((m) => m.type)).toEqual(['1', '2', 'D', 'C']);
      viaDg.send(serialize.execute({ portal: 'p2', rows: 5 }), serialize.flush());
      const err = await readResults(viaDg);
      expect(err.map((m) => m.type)).toEqual(['E']);
      expect(err[0]!.body.toString()).toContain('0A000');
      // as after any error, messages up to the Sync are skipped; the Sync answers ReadyForQuery
      const tail = await viaDg.roundtrip([serialize.execute({ portal: 'p2', rows: 5 }), serialize.flush(), serialize.sync()]);
      expect(tail.map((m) => m.type)).toEqual(['Z']);
      const ok = await viaDg.roundtrip([serialize.query('SELECT count(*) FROM events')]);
      expect(ok.map((m) => m.type)).toEqual(['T', 'D', 'C', 'Z']);
    } finally {
      close();
    }
  });
});

// pgjdbc is Metabase's and DBeaver's driver. It needs a JDK (java in source-file mode) and the driver's
// jar: Debian's libpostgresql-jdbc-java, which .ci/run installs, or DUCKGATE_TEST_PGJDBC_JAR.
const PGJDBC_JAR = process.env['DUCKGATE_TEST_PGJDBC_JAR'] ?? '/usr/share/java/postgresql.jar';
const onPath = (cmd: string): boolean => (process.env['PATH'] ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
const HAVE_PGJDBC = existsSync(PGJDBC_JAR) && onPath('java');

describe.skipIf(!HAVE_PGJDBC)('pgjdbc (Metabase, DBeaver)', () => {
  it('server-prepared statements, binary results, timestamp and integer parameters: the same rows and types as Postgres, from DuckDB', async () => {
    const source = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/jdbc/JdbcDiff.java');
    const jdbc = (url: string) => {
      const u = new URL(url);
      return `jdbc:postgresql://${u.hostname}:${u.port}/${db.name}`;
    };
    const { value, duckdb } = await onDuck(() =>
      promisify(execFile)('java', ['-cp', PGJDBC_JAR, source, jdbc(db.url), jdbc(dg.url), 'postgres'], { timeout: 120_000 }),
    );
    const lines = value.stdout.trim().split('\n');
    expect(lines.filter((l) => !l.startsWith('SAME')), value.stdout + value.stderr).toEqual([]);
    expect(lines).toHaveLength(12);
    // 6 statements x 6 runs x 2 thresholds through duckgate, every one on DuckDB
    expect(duckdb).toBe(72);
  }, 150_000);
});

// Words that code point order and any linguistic collation put in different orders: case, accents,
// punctuation, Greek, a character beyond the BMP, and a trailing space
const WORDS = ['apple', 'Apple', 'Zebra', 'zebra', '_under', 'a-c', 'ab', 'École', 'ecole', 'éclair', 'ä', 'z', 'Ω', 'ω', '😀', '\uFFFD', 'b ', 'b'];

/** A demo database created with the given collation options, mirrored by its own duckgate. */
function collationSuite(title: string, createOptions: string, bytewise: boolean): void {
  describe(title, () => {
    let cdb: Awaited<ReturnType<typeof createTestDatabase>>;
    let cdg: TestDuckgate;
    const slotC = `dgc${bytewise ? 'b' : 'n'}_${tag}`;
    beforeAll(async () => {
      const values = WORDS.map((w, i) => `(${i + 1}, '${w.replace(/'/g, "''")}')`).join(', ');
      cdb = await createTestDatabase('gatescoll', `CREATE TABLE words (id int PRIMARY KEY, w text NOT NULL); INSERT INTO words VALUES ${values}`, createOptions);
      await loadDemo(cdb.url, { rows: 200 });
      cdg = await startTestDuckgate(cdb.url, {
        rules: [join(rulesDir, 'rules.yaml')],
        mirror: quickMirror(slotC),
        duckdb: { threads: 1, connections: 1 },
      });
      await waitForMirrorReady(cdg, [...DEMO_TABLES, 'words']);
    }, 90_000);
    afterAll(async () => {
      await cdg?.close();
      await cdb?.drop();
    });

    it(
      bytewise
        ? 'text is ordered, compared and min/max-ed on DuckDB exactly as Postgres does'
        : 'statements that order text go to Postgres (reason collation); grouping and counting distinct values still run on DuckDB',
      async () => {
        const u = new URL(cdg.url);
        const viaDg = new pg.Client({ host: u.hostname, port: Number(u.port), user: 'postgres', database: cdb.name, password: 'postgres' });
        const direct = new pg.Client({ connectionString: cdb.url });
        await viaDg.connect();
        await direct.connect();
        try {
          const ordering = [
            'SELECT w, count(*) AS n FROM words GROUP BY w ORDER BY w',
            'SELECT w, rank() OVER (ORDER BY w DESC) AS r FROM words ORDER BY r, id',
            "SELECT min(w) AS lo, max(w) AS hi, count(*) FILTER (WHERE w > 'Zebra') AS above, count(*) FILTER (WHERE w BETWEEN 'a' AND 'ab') AS between FROM words",
            'SELECT event_type, count(*) FROM events GROUP BY event_type ORDER BY event_type',
          ];
          const before = await queries({ engine: 'postgres', reason: 'collation' });
          for (const sql of ordering) await expectSameAnswer(viaDg, direct, sql, bytewise ? 'duckdb' : 'postgres');
          expect(await queries({ engine: 'postgres', reason: 'collation' })).toBe(before + (bytewise ? 0 : ordering.length));
          await expectSameAnswer(viaDg, direct, 'SELECT count(DISTINCT event_type) AS types, count(*) AS n FROM events', 'duckdb');
          await expectSameAnswer(viaDg, direct, 'SELECT count(DISTINCT w) AS words, count(*) AS n FROM words', 'duckdb');
        } finally {
          await viaDg.end();
          await direct.end();
        }
      },
    );
  });
}

// C.utf8 (every glibc has it) orders by code point, which is UTF-8 byte order; ICU's root locale is
// linguistic (the Postgres builds duckgate is tested with, embedded and Debian's, have ICU)
collationSuite('a database whose default collation is C.utf8 (code point order)', "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.utf8' LC_CTYPE 'C.utf8'", true);
collationSuite(
  'a database whose default collation is not bytewise (ICU)',
  "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'und' LC_COLLATE 'C' LC_CTYPE 'C'",
  false,
);
