// Every listed type through the snapshot and the change stream, and schema changes followed (or the
// table re-snapshotted), with mirrorVerify equal after each step.
import { rmSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatVerifyTable, mirrorVerify, type Mirror } from '../../src/mirror/index.js';
import { createTestDatabase } from '../support/servers.js';
import { currentLsn, mirrorTestConfig, pgQuery, tempDataDir, startTestMirror, stopTestMirror, type TestMirror } from '../support/mirror-helpers.js';

const ROW = `(
  $1, 32767, 2147483647, 9223372036854775807, 1234567890.12, 3.14159::numeric, 1.5, 0.1, 'Infinity', 'NaN',
  'text "quoted", with, commas
and a newline', 'varchar', 'ab', true, '2024-02-29', '23:59:59.999999', '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.123456+02', '1 year 2 mons -3 days 04:05:06.5', '-00:00:01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"b": [1, 2], "a": "x"}', '{"b": [1, 2], "a": "x"}', '\\xdeadbeef00', '{1,NULL,3}', '{"a b",NULL,"c\\"d", ""}', 'happy',
  '{1.50,2.25}', '12:00+03', '{"2024-01-01 00:00:00+00"}'
)`;

const SETUP = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE t (
  id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric(12,2), nu numeric, f4 float4, f8 float8, finf float8, fnan float8,
  tx text, vc varchar(20), ch char(5), b bool, d date, tm time, ts timestamp, tstz timestamptz, iv interval, iv2 interval, u uuid,
  js json, jb jsonb, byt bytea, ia int[], ta text[], e mood, na numeric(5,2)[], ttz timetz, tsa timestamptz[]
);
CREATE TABLE nulls (id int PRIMARY KEY, a int, b text, c timestamptz, d int[]);
INSERT INTO nulls VALUES (1, NULL, NULL, NULL, NULL), (2, 1, '', NULL, '{}');
CREATE TABLE evolve (id int PRIMARY KEY, a int);
INSERT INTO evolve SELECT g, g FROM generate_series(1, 50) g;
`;

// Each check is a DuckDB boolean over one row: the value must be exactly what Postgres holds.
const CHECKS: Record<string, string> = {
  i2: 'i2 = 32767',
  i4: 'i4 = 2147483647',
  i8: 'i8 = 9223372036854775807',
  n: "n = 1234567890.12::DECIMAL(12,2) AND typeof(n) = 'DECIMAL(12,2)'",
  nu: "nu = '3.14159'",
  f4: 'f4 = 1.5::FLOAT',
  f8: 'f8 = 0.1::DOUBLE',
  finf: "finf = 'infinity'::DOUBLE",
  fnan: 'isnan(fnan)',
  tx: `tx = 'text "quoted", with, commas' || chr(10) || 'and a newline'`,
  vc: "vc = 'varchar'",
  ch: "ch = 'ab   '",
  b: 'b = true',
  d: "d = DATE '2024-02-29'",
  tm: "tm = TIME '23:59:59.999999'",
  ts: "ts = TIMESTAMP '2024-01-02 03:04:05.123456'",
  tstz: "tstz = TIMESTAMPTZ '2024-01-02 01:04:05.123456+00'",
  // DuckDB's = normalises intervals (30 days = 1 month): compare the parts through the text form
  iv: "iv::VARCHAR = '1 year 2 months -3 days 04:05:06.5'",
  iv2: "iv2::VARCHAR = '-00:00:01'",
  u: "u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID",
  js: `js = '{"b": [1, 2], "a": "x"}'`,
  jb: `jb = '{"a": "x", "b": [1, 2]}'`,
  byt: "byt = from_hex('deadbeef00')",
  ia: 'ia = [1, NULL, 3]::INTEGER[]',
  ta: `ta = ['a b', NULL, 'c"d', '']`,
  e: "e = 'happy'",
  na: 'na = [1.50, 2.25]::DECIMAL(5,2)[]',
  ttz: "ttz = '12:00:00+03'",
  tsa: "tsa = [TIMESTAMPTZ '2024-01-01 00:00:00+00']",
};

describe('mirror: types and schema changes', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let m: TestMirror | undefined;
  let conn: DuckDBConnection;
  let mirror: Mirror;
  const config = mirrorTestConfig('types', { catalogPollMs: 300 });
  const dataDir = tempDataDir();
  const sync = async () => expect(await mirror.waitFor(await currentLsn(db.url), 20_000)).toBe(true);
  const verify = async () => {
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
  };
  const rows = async (sql: string) => (await conn.runAndReadAll(sql)).getRowsJson();
  const until = async (cond: () => Promise<boolean>) => {
    const end = Date.now() + 20_000;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error('condition not reached in 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase('mirrortypes', SETUP);
    await pgQuery(db.url, `INSERT INTO t VALUES ${ROW}`, [1]);
    m = await startTestMirror(config, db.url, dataDir);
    ({ mirror, conn } = m);
  });
  afterAll(async () => {
    await stopTestMirror(m, config, db?.url);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('holds every listed type exactly, from the snapshot (id 1) and from the change stream (id 2)', async () => {
    await pgQuery(db.url, `INSERT INTO t VALUES ${ROW}`, [2]);
    await sync();
    for (const [col, check] of Object.entries(CHECKS)) {
      expect([col, await rows(`SELECT id, ${check} FROM "public"."t" ORDER BY id`)]).toEqual([col, [[1, true], [2, true]]]);
    }
    const cols = Object.fromEntries(mirror.tables().find((t) => t.name === 't')!.columns.map((c) => [c.name, c]));
    expect(cols.nu).toMatchObject({ pgType: 'numeric', exact: false });
    expect(cols.ttz).toMatchObject({ pgType: 'time with time zone', exact: false });
    expect(cols.tstz).toMatchObject({ pgType: 'timestamp with time zone', typeOid: 1184, exact: true });
    expect(cols.e).toMatchObject({ pgType: 'mood', exact: true });
    expect(cols.ia).toMatchObject({ pgType: 'integer[]', typeOid: 1007, exact: true });
    await expect(rows(`SELECT id, a, b, c, d FROM "public"."nulls" ORDER BY id`)).resolves.toEqual([
      [1, null, null, null, null],
      [2, 1, '', null, []],
    ]);
    await verify();
  });

  it('updates of every type through the change stream', async () => {
    await pgQuery(db.url, `UPDATE t SET i8 = -9223372036854775808, tstz = '1999-12-31 23:00:00-01', ta = '{}', byt = '\\x', iv = '0' WHERE id = 2`);
    await sync();
    expect(await rows(`SELECT i8 = -9223372036854775808, tstz = TIMESTAMPTZ '2000-01-01 00:00:00+00', ta = [], byt = ''::BLOB, iv = INTERVAL 0 SECOND FROM "public"."t" WHERE id = 2`)).toEqual([
      [true, true, true, true, true],
    ]);
    await verify();
  });

  it('follows an added column with a default, a changed type and a dropped column', async () => {
    await pgQuery(db.url, `ALTER TABLE evolve ADD COLUMN c text DEFAULT 'dflt'; INSERT INTO evolve VALUES (51, 51, 'new')`);
    await until(async () => mirror.tables().find((t) => t.name === 'evolve')?.columns.some((c) => c.name === 'c') === true && mirror.tables().find((t) => t.name === 'evolve')?.state === 'ready');
    await sync();
    expect(await rows(`SELECT count(*)::INT, count(*) FILTER (WHERE c = 'dflt')::INT FROM "public"."evolve"`)).toEqual([[51, 50]]);
    await verify();
    await pgQuery(db.url, `ALTER TABLE evolve ALTER COLUMN a TYPE bigint; ALTER TABLE evolve DROP COLUMN c; UPDATE evolve SET a = a * 10000000000 WHERE id = 1`);
    await until(async () => {
      const t = mirror.tables().find((x) => x.name === 'evolve');
      return t?.state === 'ready' && t.columns.length === 2 && t.columns[1]!.pgType === 'bigint';
    });
    await sync();
    expect(await rows(`SELECT a::VARCHAR FROM "public"."evolve" WHERE id = 1`)).toEqual([['10000000000']]);
    await verify();
  });

  it('follows a renamed table, a dropped table and a new table', async () => {
    await pgQuery(db.url, `ALTER TABLE evolve RENAME TO evolved; DROP TABLE nulls; CREATE TABLE fresh (id int PRIMARY KEY, v text); INSERT INTO fresh VALUES (1, 'x')`);
    await until(async () => {
      const names = mirror.tables().filter((t) => t.state === 'ready').map((t) => t.name).sort();
      return JSON.stringify(names) === JSON.stringify(['evolved', 'fresh', 't']);
    });
    await pgQuery(db.url, `INSERT INTO fresh VALUES (2, 'y'); INSERT INTO evolved VALUES (52, 52)`);
    await sync();
    expect(await rows(`SELECT count(*)::INT FROM "public"."fresh"`)).toEqual([[2]]);
    expect(await rows(`SELECT count(*)::INT FROM "public"."evolved"`)).toEqual([[52]]);
    await verify();
  });
});
