// Snapshot + CDC against the suite's real PostgreSQL: every change kind, verified by reading the DuckDB
// serving table and by mirrorVerify (Postgres vs lake at the same LSN).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorVerify, formatVerifyTable, type Mirror } from '../../src/mirror/index.js';
import { createTestDatabase } from '../support/servers.js';
import { currentLsn, mirrorTestConfig, pgQuery, tempDataDir, startTestMirror, stopTestMirror, type TestMirror } from '../support/mirror-helpers.js';

const SETUP = `
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int, price numeric(12,2), doc text, tags text[]);
ALTER TABLE items ALTER COLUMN doc SET STORAGE EXTERNAL;
INSERT INTO items SELECT g, 'item ' || g, g % 7, g * 1.25, NULL, ARRAY['a' || g, 'b'] FROM generate_series(1, 1000) g;
CREATE TABLE nopk (a int, b text);
INSERT INTO nopk VALUES (1, 'x');
CREATE TABLE composite (a int, b text, v text, PRIMARY KEY (a, b));
INSERT INTO composite VALUES (1, 'x', 'one'), (2, 'y', 'two');
`;

describe('mirror: snapshot and change data capture', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let m: TestMirror | undefined;
  let conn: DuckDBConnection;
  let mirror: Mirror;
  const config = mirrorTestConfig('cdc');
  const dataDir = tempDataDir();

  const sync = async () => {
    const lsn = await currentLsn(db.url);
    expect(await mirror.waitFor(lsn, 20_000)).toBe(true);
  };
  const duckRows = async (sql: string) => (await conn.runAndReadAll(sql)).getRowsJson();
  const verify = async () => {
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
    return r;
  };

  beforeAll(async () => {
    db = await createTestDatabase('mirror', SETUP);
    m = await startTestMirror(config, db.url, dataDir);
    ({ mirror, conn } = m);
  });

  afterAll(async () => {
    await stopTestMirror(m, config, db?.url);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('snapshots tables with a key and skips tables without one', async () => {
    const names = mirror.tables().map((t) => `${t.schema}.${t.name}`).sort();
    expect(names).toEqual(['public.composite', 'public.items']);
    const items = mirror.tables().find((t) => t.name === 'items')!;
    expect(items.state).toBe('ready');
    expect(items.duckdbRef).toBe('"public"."items"');
    expect(items.columns.find((c) => c.name === 'price')).toMatchObject({ pgType: 'numeric(12,2)', typeOid: 1700, exact: true });
    expect(items.columns.find((c) => c.name === 'tags')).toMatchObject({ pgType: 'text[]', exact: true });
    expect(await duckRows('SELECT count(*)::INT, sum(price)::VARCHAR FROM "public"."items"')).toEqual([[1000, '625625.00']]);
    expect(mirror.appliedLsn()).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const r = await verify();
    expect(r.rows.map((x) => x.table)).toEqual(['public.composite', 'public.items']);
  });

  it('applies inserts, updates, deletes and emits applied events', async () => {
    const events: Array<{ lsn: string; tables: string[] }> = [];
    mirror.on('applied', (e) => events.push(e));
    await pgQuery(db.url, `INSERT INTO items VALUES (1001, 'new', 1, 9.99, NULL, '{"x y",NULL,"q\\"uote"}')`);
    await pgQuery(db.url, `UPDATE items SET qty = qty + 100 WHERE id <= 10`);
    await pgQuery(db.url, `DELETE FROM items WHERE id BETWEEN 11 AND 20`);
    await sync();
    expect(events.some((e) => e.tables.includes('public.items'))).toBe(true);
    expect(await duckRows('SELECT count(*)::INT FROM "public"."items"')).toEqual([[991]]);
    expect(await duckRows('SELECT qty, tags FROM "public"."items" WHERE id IN (1, 1001) ORDER BY id')).toEqual([
      [101, ['a1', 'b']],
      [1, ['x y', null, 'q"uote']],
    ]);
    await verify();
  });

  it('follows primary key changes, also on a composite key', async () => {
    await pgQuery(db.url, `UPDATE items SET id = id + 5000 WHERE id BETWEEN 21 AND 25`);
    await pgQuery(db.url, `UPDATE composite SET b = 'z' WHERE a = 1`);
    await sync();
    expect(await duckRows('SELECT count(*)::INT FROM "public"."items" WHERE id BETWEEN 21 AND 25')).toEqual([[0]]);
    expect(await duckRows('SELECT count(*)::INT FROM "public"."items" WHERE id BETWEEN 5021 AND 5025')).toEqual([[5]]);
    expect(await duckRows('SELECT a, b, v FROM "public"."composite" ORDER BY a')).toEqual([
      [1, 'z', 'one'],
      [2, 'y', 'two'],
    ]);
    await verify();
  });

  it('keeps unchanged TOAST values (not resent by pgoutput), also across a key change', async () => {
    const big = 'x'.repeat(100_000);
    await pgQuery(db.url, `UPDATE items SET doc = $1 || id WHERE id BETWEEN 30 AND 32`, [big]);
    await sync();
    // these updates do not touch doc: pgoutput sends it as 'unchanged'
    await pgQuery(db.url, `UPDATE items SET qty = -1 WHERE id BETWEEN 30 AND 32`);
    await pgQuery(db.url, `BEGIN; UPDATE items SET qty = -2 WHERE id = 31; UPDATE items SET qty = -3 WHERE id = 31; UPDATE items SET id = 9032 WHERE id = 32; COMMIT`);
    await sync();
    expect(await duckRows(`SELECT id, qty, length(doc)::INT, doc = '${big}' || CASE WHEN id = 9032 THEN 32 ELSE id END FROM "public"."items" WHERE id IN (30, 31, 9032) ORDER BY id`)).toEqual([
      [30, -1, 100_002, true],
      [31, -3, 100_002, true],
      [9032, -1, 100_002, true],
    ]);
    await verify();
  });

  it('applies truncate, also with inserts in the same transaction', async () => {
    await pgQuery(db.url, `BEGIN; INSERT INTO composite VALUES (3, 'w', 'three'); TRUNCATE composite; INSERT INTO composite VALUES (7, 'q', 'seven'); COMMIT`);
    await sync();
    expect(await duckRows('SELECT a, b, v FROM "public"."composite"')).toEqual([[7, 'q', 'seven']]);
    await verify();
  });

  it('applies a large transaction and concurrent writers', async () => {
    await pgQuery(db.url, `INSERT INTO items SELECT g, 'bulk', g % 3, 1.5, NULL, NULL FROM generate_series(100000, 299999) g`);
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < 20; i++) await pgQuery(db.url, `INSERT INTO items VALUES ($1, 'w', $2, 0, NULL, NULL)`, [400000 + w * 100 + i, w]);
      }),
    );
    await sync();
    const pgCount = (await pgQuery<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM items'))[0]!.n;
    expect(await duckRows('SELECT count(*)::INT FROM "public"."items"')).toEqual([[pgCount]]);
    await verify();
  });

  it('compacts delta files into base files without changing the data', async () => {
    await mirror.compact(1);
    await verify();
    expect(await duckRows('SELECT count(*)::INT FROM "public"."items" WHERE name = \'bulk\'')).toEqual([[200000]]);
  });

  it('resumes after a stop from the durable LSN, catching up what changed meanwhile', async () => {
    await mirror.stop();
    await pgQuery(db.url, `INSERT INTO items VALUES (777777, 'while stopped', 0, 0, NULL, NULL); DELETE FROM items WHERE id = 1`);
    conn.closeSync();
    m = await startTestMirror(config, db.url, dataDir);
    ({ mirror, conn } = m);
    await sync();
    expect(await duckRows('SELECT count(*)::INT FROM "public"."items" WHERE id IN (1, 777777)')).toEqual([[1]]);
    await verify();
  });
});

describe('mirror verify: its own connections', () => {
  it('a verify whose backends are terminated while it waits for the lake fails with an error, not a crash', async () => {
    const db = await createTestDatabase('mirror_verify_kill', 'CREATE TABLE t (id int PRIMARY KEY)');
    const dataDir = tempDataDir();
    try {
      // A lake owned by a live process (this one) with nothing applied: verify waits for that owner to reach
      // the comparison point, idle on its connections.
      mkdirSync(join(dataDir, 'lake'), { recursive: true });
      writeFileSync(join(dataDir, 'lake', 'LOCK'), String(process.pid));
      const run = mirrorVerify({ config: mirrorTestConfig('verify_kill'), upstreamUrl: db.url, dataDir, timeoutMs: 5_000 });
      const outcome = run.then(
        () => 'resolved',
        (e: Error) => e.message,
      );
      const deadline = Date.now() + 4_000;
      let killed = 0;
      while (killed === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        const rows = await pgQuery<{ n: number }>(
          db.url,
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'duckgate-mirror-verify' AND pid <> pg_backend_pid()`,
        );
        killed = rows[0]!.n;
      }
      expect(killed).toBeGreaterThan(0);
      expect(await outcome).toMatch(/did not reach|terminat|connection/i);
    } finally {
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
