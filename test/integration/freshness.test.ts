// Strict freshness and reads inside transaction blocks, through real clients (pg) against duckgate and,
// as the reference, straight against PostgreSQL:
// - a write committed on one connection straight to Postgres is seen by the very next read on another
//   connection through duckgate, answered by DuckDB (the fence on the WAL position at its start);
// - writes whose command tag is SELECT (a data-modifying CTE, a function with side effects) are seen by
//   the next read too;
// - in a READ COMMITTED transaction block reads are served by DuckDB until the transaction's first
//   write (or row lock, or temporary table), by Postgres after it, and never under REPEATABLE READ or
//   SERIALIZABLE however that was set; a control query of duckgate's that fails inside the block does
//   not abort it, and the client's own error leaves it failed exactly as Postgres does;
// - duckgate's settings (duckgate.max_lag, duckgate.route) follow SET / SET LOCAL / ROLLBACK as
//   Postgres's own settings do, and the explain hint says which freshness applies;
// - session settings that change answers and that DuckDB does not follow send statements to Postgres.
// Where a statement ran is read from duckgate_queries_total (duckgate runs in-process).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/demo/index.js';
import { DEMO_TABLES } from '../../src/demo/schema.js';
import { createTestDatabase } from '../support/servers.js';
import { onDuck, queries, quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const slot = `dgf_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await createTestDatabase('fresh');
  await loadDemo(db.url, { rows: 600 });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    // a function with a side effect, called from a SELECT (its command tag is SELECT 1)
    await admin.query(`CREATE FUNCTION add_domain(n int) RETURNS int LANGUAGE sql AS $$
      INSERT INTO domains (id, name, tld, first_seen) VALUES (n, 'fn-' || n || '.test', 'fnfresh', date '2024-01-01') RETURNING id $$`);
  } finally {
    await admin.end();
  }
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  // cost 0: every analytical read may go to DuckDB; freshness stays the default (strict)
  await writeFile(rules, 'routing:\n  cost_threshold: 0\n');
  dg = await startTestDuckgate(db.url, {
    rules: [rules],
    mirror: quickMirror(slot),
    // strict reads wait for the mirror: allow it a generous time on this busy machine, so a read that
    // goes to Postgres here is a routing fault, not a slow mirror
    analytics: { freshnessWaitMs: 10_000 },
    duckdb: { threads: 1, connections: 2 },
  });
  await waitForMirrorReady(dg, DEMO_TABLES);
}, 90_000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await dg?.close();
  await db?.drop();
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

async function connect(via: 'duckgate' | 'postgres'): Promise<pg.Client> {
  const u = new URL(via === 'duckgate' ? dg.url : db.url);
  const c = new pg.Client({ host: u.hostname, port: Number(u.port), user: 'postgres', password: 'postgres', database: db.name });
  await c.connect();
  clients.push(c);
  return c;
}

/** The error a query raises (code and message), or null. */
async function errorOf(c: pg.Client, sql: string, values?: unknown[]): Promise<{ code: string | undefined; message: string } | null> {
  try {
    await c.query(sql, values);
    return null;
  } catch (e) {
    return { code: (e as pg.DatabaseError).code, message: (e as Error).message };
  }
}

const COUNT_TLD = (tld: string): string => `SELECT count(*)::int AS n, max(id) AS m FROM domains WHERE tld = '${tld}'`;

describe('strict freshness', () => {
  it('a write committed on another connection straight to Postgres is always seen by the next read, answered by DuckDB', async () => {
    const writer = await connect('postgres');
    const reader = await connect('duckgate');
    const rounds = 30;
    let duck = 0;
    for (let i = 1; i <= rounds; i++) {
      await writer.query(`INSERT INTO domains (id, name, tld, first_seen) VALUES (${800000 + i}, 'x${i}.test', 'xfresh', date '2024-01-01')`);
      const { value, duckdb } = await onDuck(() => reader.query<{ n: number; m: string }>(COUNT_TLD('xfresh')));
      duck += duckdb;
      expect(value.rows[0]).toEqual({ n: i, m: 800000 + i });
    }
    expect(duck).toBe(rounds);
  });

  it('a write committed with synchronous_commit = off (visible before its commit record is written) is seen too', async () => {
    const writer = await connect('postgres');
    const reader = await connect('duckgate');
    await writer.query('SET synchronous_commit = off');
    for (let i = 1; i <= 30; i++) {
      await writer.query(`INSERT INTO domains (id, name, tld, first_seen) VALUES (${805000 + i}, 'async${i}.test', 'asyncfresh', date '2024-01-01')`);
      const { value } = await onDuck(() => reader.query<{ n: number }>(COUNT_TLD('asyncfresh')));
      expect(value.rows[0]!.n).toBe(i);
    }
  });

  it('writes to tables the mirror does not hold move the WAL on, and reads still run on DuckDB (keepalives carry the mirror forward)', async () => {
    const writer = await connect('postgres');
    const reader = await connect('duckgate');
    // no primary key: not mirrored, but every insert moves the WAL position the next read fences on
    await writer.query('CREATE TABLE IF NOT EXISTS unmirrored_log (at timestamptz DEFAULT now(), n int)');
    let duck = 0;
    for (let i = 1; i <= 20; i++) {
      await writer.query('INSERT INTO unmirrored_log (n) SELECT g FROM generate_series(1, 50) g');
      duck += (await onDuck(() => reader.query(COUNT_TLD('xfresh')))).duckdb;
    }
    expect(duck).toBe(20);
  });

  it('an UPDATE and a DELETE on another connection are seen at once too', async () => {
    const writer = await connect('postgres');
    const reader = await connect('duckgate');
    await writer.query(`INSERT INTO domains (id, name, tld, first_seen) VALUES (810001, 'u.test', 'ufresh', date '2024-01-01')`);
    await writer.query(`UPDATE domains SET tld = 'ufresh2' WHERE id = 810001`);
    const a = await onDuck(() => reader.query(`SELECT tld, count(*)::int AS n FROM domains WHERE tld LIKE 'ufresh%' GROUP BY tld`));
    expect(a.value.rows).toEqual([{ tld: 'ufresh2', n: 1 }]);
    await writer.query(`DELETE FROM domains WHERE id = 810001`);
    const b = await onDuck(() => reader.query(`SELECT count(*)::int AS n FROM domains WHERE tld LIKE 'ufresh%'`));
    expect(b.value.rows).toEqual([{ n: 0 }]);
    expect(a.duckdb + b.duckdb).toBe(2);
  });

  it('writes whose command tag is SELECT (a data-modifying CTE, a function with side effects) are seen by the next read', async () => {
    const c = await connect('duckgate');
    for (let i = 1; i <= 5; i++) {
      await c.query(`WITH ins AS (INSERT INTO domains (id, name, tld, first_seen) VALUES (${820000 + i}, 'c${i}.test', 'ctefresh', date '2024-01-01') RETURNING id) SELECT count(*) FROM ins`);
      const r = await onDuck(() => c.query<{ n: number }>(COUNT_TLD('ctefresh')));
      expect(r.value.rows[0]!.n).toBe(i);
      expect(r.duckdb).toBe(1);
      await c.query(`SELECT add_domain(${830000 + i})`);
      const f = await onDuck(() => c.query<{ n: number }>(COUNT_TLD('fnfresh')));
      expect(f.value.rows[0]!.n).toBe(i);
      expect(f.duckdb).toBe(1);
    }
  });

  it('explain says strict by default, and the opt-in bound with where it came from', async () => {
    const c = await connect('duckgate');
    const sql = `/* duckgate: explain */ ${COUNT_TLD('xfresh')}`;
    expect((await c.query<{ engine: string; freshness: string }>(sql)).rows[0]).toMatchObject({ engine: 'duckdb', freshness: 'strict (default)' });
    await c.query(`SET duckgate.max_lag = '30s'`);
    expect((await c.query<{ freshness: string }>(sql)).rows[0]!.freshness).toBe('max_lag 30000 ms (duckgate.max_lag)');
    expect((await c.query<{ freshness: string }>(`/* duckgate: explain max_lag=strict */ ${COUNT_TLD('xfresh')}`)).rows[0]!.freshness).toBe('strict (hint)');
    expect((await c.query('SHOW duckgate.max_lag')).rows).toEqual([{ 'duckgate.max_lag': '30000ms' }]);
    await c.query('RESET duckgate.max_lag');
    expect((await c.query('SHOW duckgate.max_lag')).rows).toEqual([{ 'duckgate.max_lag': 'default' }]);
    expect(await errorOf(c, `SET duckgate.max_lag = 'later'`)).toEqual({ code: '22023', message: 'invalid value for parameter "duckgate.max_lag": "later"' });
  });

  it('duckgate settings follow transactions as Postgres settings do: SET LOCAL ends with the block, ROLLBACK undoes SET', async () => {
    const c = await connect('duckgate');
    const show = async (): Promise<unknown> => (await c.query('SHOW duckgate.max_lag')).rows[0]!['duckgate.max_lag'];
    await c.query('BEGIN');
    await c.query(`SET LOCAL duckgate.max_lag = '5s'`);
    expect(await show()).toBe('5000ms');
    await c.query('COMMIT');
    expect(await show()).toBe('default');
    await c.query('BEGIN');
    await c.query(`SET duckgate.max_lag = '7s'`);
    await c.query('ROLLBACK');
    expect(await show()).toBe('default');
    await c.query('BEGIN');
    await c.query(`SET duckgate.max_lag = '7s'`);
    await c.query('COMMIT');
    expect(await show()).toBe('7000ms');
    await c.query('BEGIN');
    await c.query('SET duckgate.route = postgres');
    await c.query('SELECT 1/0').catch(() => undefined);
    await c.query('COMMIT'); // of a failed block: Postgres answers ROLLBACK
    expect((await c.query('SHOW duckgate.route')).rows[0]!['duckgate.route']).toBe('auto');
    await c.query('RESET duckgate.max_lag');
  });
});

describe('reads inside transaction blocks', () => {
  it('READ COMMITTED: served by DuckDB before the first write, by Postgres after it (seeing the uncommitted row)', async () => {
    const c = await connect('duckgate');
    const direct = await connect('postgres');
    await c.query('BEGIN');
    const first = await onDuck(() => c.query(COUNT_TLD('txfresh')));
    expect(first.duckdb).toBe(1);
    expect(first.value.rows).toEqual([{ n: 0, m: null }]);
    // committed elsewhere meanwhile: a READ COMMITTED statement sees it
    await direct.query(`INSERT INTO domains (id, name, tld, first_seen) VALUES (840001, 'a.test', 'txfresh', date '2024-01-01')`);
    const second = await onDuck(() => c.query(COUNT_TLD('txfresh')));
    expect(second.duckdb).toBe(1);
    expect(second.value.rows).toEqual([{ n: 1, m: 840001 }]);
    await c.query(`INSERT INTO domains (id, name, tld, first_seen) VALUES (840002, 'b.test', 'txfresh', date '2024-01-01')`);
    const before = await queries({ engine: 'postgres', reason: 'in_transaction' });
    const third = await onDuck(() => c.query(COUNT_TLD('txfresh')));
    expect(third.duckdb).toBe(0);
    expect(third.value.rows).toEqual([{ n: 2, m: 840002 }]);
    expect((await queries({ engine: 'postgres', reason: 'in_transaction' })) - before).toBe(1);
    await c.query('ROLLBACK');
    // after the block, autocommit reads are DuckDB's again, without the rolled-back row
    const after = await onDuck(() => c.query(COUNT_TLD('txfresh')));
    expect(after.duckdb).toBe(1);
    expect(after.value.rows).toEqual([{ n: 1, m: 840001 }]);
  });

  it('a locking read, a temporary table, or a write in a data-modifying CTE ties the block to Postgres', async () => {
    const c = await connect('duckgate');
    for (const tie of [
      'SELECT id FROM domains WHERE id = 1 FOR UPDATE',
      'CREATE TEMP TABLE scratch (x int)',
      `WITH d AS (UPDATE domains SET tld = tld WHERE id = 2 RETURNING 1) SELECT count(*) FROM d`,
      `SELECT add_domain(850001)`,
    ]) {
      await c.query('BEGIN');
      expect((await onDuck(() => c.query(COUNT_TLD('nothing')))).duckdb, tie).toBe(1);
      await c.query(tie);
      expect((await onDuck(() => c.query(COUNT_TLD('nothing')))).duckdb, tie).toBe(0);
      await c.query('ROLLBACK');
    }
  });

  it('never under REPEATABLE READ or SERIALIZABLE, however the level was set; READ ONLY alone does not change that', async () => {
    const c = await connect('duckgate');
    const direct = await connect('postgres');
    let id = 860000;
    for (const begin of [
      ['BEGIN ISOLATION LEVEL REPEATABLE READ'],
      ['BEGIN', 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'],
      ['START TRANSACTION READ ONLY, ISOLATION LEVEL REPEATABLE READ'],
      ["SET default_transaction_isolation = 'repeatable read'", 'BEGIN'],
    ]) {
      for (const s of begin) await c.query(s);
      const snap = await onDuck(() => c.query(COUNT_TLD('rrfresh')));
      expect(snap.duckdb, begin.join('; ')).toBe(0);
      // the transaction's snapshot holds: a row committed elsewhere now is not seen, as on Postgres
      await direct.query(`INSERT INTO domains (id, name, tld, first_seen) VALUES (${++id}, 'r${id}.test', 'rrfresh', date '2024-01-01')`);
      const again = await onDuck(() => c.query(COUNT_TLD('rrfresh')));
      expect(again.duckdb).toBe(0);
      expect(again.value.rows).toEqual(snap.value.rows);
      await c.query('COMMIT');
      await c.query('RESET default_transaction_isolation');
    }
  });

  it('a bad parameter in a block gets Postgres\'s own error (not 25P02), and the block is then failed as on Postgres', async () => {
    const sql = `SELECT count(*)::int AS n FROM domains WHERE id > $1`;
    const run = async (c: pg.Client) => {
      await c.query('BEGIN');
      const ok = (await c.query(sql, ['100'])).rows;
      const bad = await errorOf(c, sql, ['9.5']);
      const next = await errorOf(c, 'SELECT count(*) FROM domains');
      await c.query('ROLLBACK');
      return { ok, bad, next };
    };
    const viaDg = await run(await connect('duckgate'));
    expect(viaDg).toEqual(await run(await connect('postgres')));
    expect(viaDg.bad?.code).toBe('22P02');
    expect(viaDg.next?.code).toBe('25P02');
  });

  it('a statement duckgate answers with an error inside a block (its statement_timeout) fails the block upstream too', async () => {
    const c = await connect('duckgate');
    // seconds of work on either engine; 300 ms leaves duckgate's own round trip (which runs under the
    // session's statement_timeout too) time to finish, so DuckDB starts and is stopped at the deadline
    const heavy = 'SELECT count(*) FROM cdx_records a, cdx_records b, cdx_records c WHERE a.length + b.length > c.length';
    await c.query('BEGIN');
    await c.query(`SET LOCAL statement_timeout = '300ms'`);
    const relayed = await queries({ engine: 'postgres' });
    expect(await errorOf(c, heavy)).toEqual({ code: '57014', message: 'canceling statement due to statement timeout' });
    // answered by duckgate itself (nothing relayed), and yet the block is failed, as Postgres leaves it
    expect((await queries({ engine: 'postgres' })) - relayed).toBe(0);
    expect((await errorOf(c, 'SELECT 1'))?.code).toBe('25P02');
    await c.query('ROLLBACK');
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('session settings DuckDB does not follow', () => {
  it.each([
    ['standard_conforming_strings', 'off', `SELECT count(*)::int AS n FROM domains WHERE name LIKE '%\\\\.test'`],
    ['transform_null_equals', 'on', `SELECT count(*)::int AS n FROM domains WHERE tld = NULL`],
    // (an array literal is not served by DuckDB today: the gate is shown on a plain aggregate)
    ['array_nulls', 'off', `SELECT count(*)::int AS n FROM domains WHERE tld <> 'x'`],
    ['timezone_abbreviations', "'India'", `SELECT count(*)::int AS n FROM domains WHERE tld <> 'x'`],
  ])('%s = %s: the statement goes to Postgres, with its answer', async (name, value, sql) => {
    const c = await connect('duckgate');
    const direct = await connect('postgres');
    const plain = await onDuck(() => c.query(sql));
    expect(plain.duckdb, 'served by DuckDB under the default').toBe(1);
    for (const x of [c, direct]) await x.query(`SET ${name} = ${value}`);
    const before = await queries({ engine: 'postgres', reason: 'setting' });
    const set = await onDuck(() => c.query(sql));
    expect(set.duckdb).toBe(0);
    expect((await queries({ engine: 'postgres', reason: 'setting' })) - before).toBe(1);
    expect(set.value.rows).toEqual((await direct.query(sql)).rows);
    for (const x of [c, direct]) await x.query(`RESET ${name}`);
    // the reference answer under the default differs where the setting matters
    expect(plain.value.rows).toEqual((await direct.query(sql)).rows);
  });
});
