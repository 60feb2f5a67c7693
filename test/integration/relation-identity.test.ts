// A table name must mean, for the statement DuckDB answers, the very relation (and columns) the mirror
// copied: checked in the per-statement control round trip with to_regclass(<name as written>) (which
// resolves through the session's search_path, pg_temp first) and the columns from pg_attribute.
// Cases from /work/notes/client-findings.md: a temporary table duckgate did not see created
// (pg_temp.name, inside a DO block) shadows the mirrored table; another session's DDL (swap by rename
// in a transaction, columns swapped by rename, drop and create again) must be seen at once, not at the
// next catalog poll. The mirror here never polls the catalog on its own (catalogPollMs 0): only the
// statement's check asking it (Mirror.checkCatalog) brings it up to date.
// Each answer through duckgate (pg client) is compared with Postgres's own; duckdb_queries_total says
// which engine answered.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/servers.js';
import { onDuck, queries, quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const slot = `dgri_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const clients: pg.Client[] = [];
const TABLES = ['gs', 'swapt', 'colsw', 'dropt', 'readd'];

beforeAll(async () => {
  db = await createTestDatabase('relid');
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    await admin.query(`
      CREATE TABLE gs (id int PRIMARY KEY, n int);
      INSERT INTO gs SELECT g, g FROM generate_series(1, 1000) g;
      CREATE TABLE swapt (id int PRIMARY KEY, v int);
      INSERT INTO swapt SELECT g, g FROM generate_series(1, 100) g;
      CREATE TABLE swapt_new (id int PRIMARY KEY, v int);
      INSERT INTO swapt_new SELECT g, g FROM generate_series(1, 7) g;
      CREATE TABLE colsw (id int PRIMARY KEY, a int, b int);
      INSERT INTO colsw SELECT g, 1, 2 FROM generate_series(1, 100) g;
      CREATE TABLE dropt (id int PRIMARY KEY, v int);
      INSERT INTO dropt SELECT g, g FROM generate_series(1, 50) g;
      CREATE TABLE readd (id int PRIMARY KEY, b int);
      INSERT INTO readd SELECT g, 5 FROM generate_series(1, 100) g;
      CREATE TABLE "Odd ""Name""" (id int PRIMARY KEY, "Col ""x"", y" numeric(10,2), ":" text);
      INSERT INTO "Odd ""Name""" SELECT g, g / 4.0, 'v' || g FROM generate_series(1, 40) g;
    `);
  } finally {
    await admin.end();
  }
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  await writeFile(rules, `routing:\n  rules:\n${TABLES.map((t) => `    - table: public.${t}\n      route: duckdb\n`).join('')}`);
  dg = await startTestDuckgate(db.url, { rules: [rules], mirror: quickMirror(slot), duckdb: { threads: 1, connections: 2 } });
  await waitForMirrorReady(dg, [...TABLES, 'Odd "Name"']);
}, 90_000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await dg?.close();
  await db?.drop();
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

async function connect(via: 'duckgate' | 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: via === 'duckgate' ? dg.url : db.url });
  await c.connect();
  clients.push(c);
  return c;
}

/** sql through duckgate and straight to Postgres: the same rows; returns how many DuckDB answered. */
async function compare(viaDg: pg.Client, direct: pg.Client, sql: string): Promise<number> {
  const got = await onDuck(() => viaDg.query(sql));
  expect(got.value.rows, sql).toEqual((await direct.query(sql)).rows);
  return got.duckdb;
}

/** How many statements fn had Postgres answer for `reason`. */
async function relayedFor(reason: string, fn: () => Promise<unknown>): Promise<number> {
  const before = await queries({ engine: 'postgres', reason });
  await fn();
  return (await queries({ engine: 'postgres', reason })) - before;
}

/** Repeats sql (each answer equal to Postgres's) until DuckDB answers it again. */
async function untilDuckdbServes(viaDg: pg.Client, direct: pg.Client, sql: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await compare(viaDg, direct, sql)) === 1) return;
    if (Date.now() > deadline) throw new Error(`DuckDB did not serve again: ${sql}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a table name means the relation the mirror holds', () => {
  it('a temporary table created as pg_temp.name shadows the mirrored table; the qualified name still reads the mirror', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    expect(await compare(viaDg, direct, 'SELECT count(*) FROM gs')).toBe(1);
    await viaDg.query('CREATE TABLE pg_temp.gs (n int)');
    await direct.query('CREATE TABLE pg_temp.gs (n int)');
    expect(await compare(viaDg, direct, 'SELECT count(*) FROM gs')).toBe(0);
    expect(await relayedFor('temp_table', () => viaDg.query('SELECT count(*)::int AS c FROM gs'))).toBe(1);
    // written with its schema, the name is the mirrored table's: DuckDB may answer it
    expect(await compare(viaDg, direct, 'SELECT count(*) FROM public.gs')).toBe(1);
    await viaDg.query('DROP TABLE pg_temp.gs');
    await direct.query('DROP TABLE pg_temp.gs');
    expect(await compare(viaDg, direct, 'SELECT count(*) FROM gs')).toBe(1);
  });

  it('a temporary table created inside a DO block shadows the mirrored table', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    const make = "DO $$ BEGIN EXECUTE 'CREATE TEMP TABLE gs (n int)'; END $$";
    await viaDg.query(make);
    await direct.query(make);
    expect(await compare(viaDg, direct, 'SELECT count(*), sum(n) FROM gs')).toBe(0);
    expect(await relayedFor('temp_table', () => viaDg.query('SELECT count(*)::int AS c FROM gs'))).toBe(1);
    // other sessions still read the mirrored table on DuckDB
    const other = await connect('duckgate');
    expect(await compare(other, await connect('postgres'), 'SELECT count(*) FROM gs')).toBe(1);
  });

  it('a temporary table created by a function shadows the mirrored table, also for a statement with parameters', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    await direct.query("CREATE FUNCTION pg_temp.make_gs() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE TEMP TABLE gs AS SELECT 1 AS id, 7 AS n; END $$");
    await viaDg.query("CREATE FUNCTION pg_temp.make_gs() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE TEMP TABLE gs AS SELECT 1 AS id, 7 AS n; END $$");
    await viaDg.query('SELECT pg_temp.make_gs()');
    await direct.query('SELECT pg_temp.make_gs()');
    const q = { text: 'SELECT count(*), sum(n) FROM gs WHERE n > $1', values: [0] };
    const got = await onDuck(() => viaDg.query(q));
    expect(got.value.rows).toEqual((await direct.query(q)).rows);
    expect(got.value.rows).toEqual([{ count: '1', sum: '7' }]);
    expect(got.duckdb).toBe(0);
  });

  it('a table swapped in by rename inside a transaction (another session) is answered at once, then DuckDB serves it again', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    expect(await compare(viaDg, direct, 'SELECT count(*) FROM swapt')).toBe(1);
    await direct.query('BEGIN; ALTER TABLE swapt RENAME TO swapt_old; ALTER TABLE swapt_new RENAME TO swapt; COMMIT');
    // the first statement after the DDL: Postgres answers, as the name no longer means what the mirror holds
    expect(await relayedFor('stale_mirror', async () => expect(await compare(viaDg, direct, 'SELECT count(*), sum(v) FROM swapt')).toBe(0))).toBe(1);
    await untilDuckdbServes(viaDg, direct, 'SELECT count(*), sum(v) FROM swapt');
  });

  it('columns swapped by rename (a <-> b, another session) are answered at once, then DuckDB serves again', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    expect(await compare(viaDg, direct, 'SELECT sum(a) AS a, sum(b) AS b FROM colsw')).toBe(1);
    await direct.query('ALTER TABLE colsw RENAME COLUMN a TO tmp; ALTER TABLE colsw RENAME COLUMN b TO a; ALTER TABLE colsw RENAME COLUMN tmp TO b');
    // the first statement after the DDL: Postgres answers, as the name no longer means what the mirror holds
    expect(await relayedFor('stale_mirror', async () => expect(await compare(viaDg, direct, 'SELECT sum(a) AS a, sum(b) AS b FROM colsw')).toBe(0))).toBe(1);
    await untilDuckdbServes(viaDg, direct, 'SELECT sum(a) AS a, sum(b) AS b FROM colsw');
  });

  it('a table dropped and created again under the same name is answered at once, then DuckDB serves it again', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    expect(await compare(viaDg, direct, 'SELECT count(*), sum(v) FROM dropt')).toBe(1);
    await direct.query('BEGIN; DROP TABLE dropt; CREATE TABLE dropt (id int PRIMARY KEY, v int); INSERT INTO dropt VALUES (1, 10), (2, 20), (3, 30); COMMIT');
    // the first statement after the DDL: Postgres answers, as the name no longer means what the mirror holds
    expect(await relayedFor('stale_mirror', async () => expect(await compare(viaDg, direct, 'SELECT count(*), sum(v) FROM dropt')).toBe(0))).toBe(1);
    await untilDuckdbServes(viaDg, direct, 'SELECT count(*), sum(v) FROM dropt');
  });

  it('a column dropped and added again under the same name and type (another session) is answered at once, then DuckDB serves again', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    const sql = 'SELECT count(*) AS n, sum(b) AS s, count(b) AS nb FROM readd';
    expect(await compare(viaDg, direct, sql)).toBe(1);
    await direct.query('ALTER TABLE readd DROP COLUMN b; ALTER TABLE readd ADD COLUMN b int');
    // same names, types and order as before: only the attnum says the values are gone (all NULL now)
    expect(await relayedFor('stale_mirror', async () => expect(await compare(viaDg, direct, sql)).toBe(0))).toBe(1);
    await untilDuckdbServes(viaDg, direct, sql);
  });

  it('names and column names that need quoting still prove the mirrored relation: DuckDB answers', async () => {
    const viaDg = await connect('duckgate');
    const direct = await connect('postgres');
    await viaDg.query('SET duckgate.route = duckdb');
    // the same table written unqualified and qualified: both names are checked
    const sql = 'SELECT count(*), sum(o."Col ""x"", y"), max(p.":") FROM "Odd ""Name""" o JOIN public."Odd ""Name""" p ON p.id = o.id';
    expect(await compare(viaDg, direct, sql)).toBe(1);
  });
});
