// Mirror data safety against the suite's real PostgreSQL: hostile table and schema names stay inside the
// lake; corrupted or truncated Parquet files are detected at start and the table re-snapshotted; values the
// mirror cannot hold exactly make one column unservable, not the table.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mirror, mirrorDrop, mirrorVerify, formatVerifyTable } from '../../src/mirror/index.js';
import { pgIdent } from '../../src/mirror/types.js';
import pg from 'pg';
import { createTestDatabase } from '../support/servers.js';
import { quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';
import { currentLsn, mirrorTestConfig, pgQuery, startTestMirror, stopTestMirror, type TestMirror } from '../support/mirror-helpers.js';

async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const NAMES = ['..', '.', '/', '%2e%2e', 'a/../..'];
const SCHEMAS = ['public', '..', '.', '/'];

describe('mirror: hostile table and schema names stay inside the lake', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let m: TestMirror | undefined;
  let conn: DuckDBConnection;
  let mirror: Mirror;
  const root = lazyDir('duckgate-safety-');
  const dataDir = join(root, 'data');
  const config = mirrorTestConfig('names', { catalogPollMs: 200, schemas: SCHEMAS });
  const tables = SCHEMAS.flatMap((s) => NAMES.map((n) => ({ s, n, q: `${pgIdent(s)}.${pgIdent(n)}` })));

  beforeAll(async () => {
    const setup = [
      ...SCHEMAS.filter((s) => s !== 'public').map((s) => `CREATE SCHEMA ${pgIdent(s)};`),
      ...tables.map((t, i) => `CREATE TABLE ${t.q} (id int PRIMARY KEY, v int); INSERT INTO ${t.q} SELECT g, g * ${i + 1} FROM generate_series(1, ${10 + i}) g;`),
      'CREATE TABLE keep (id int PRIMARY KEY, v int); INSERT INTO keep SELECT g, g FROM generate_series(1, 100) g;',
    ].join('\n');
    db = await createTestDatabase('safenames', setup);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(root, 'outside.txt'), 'outside the data dir');
    writeFileSync(join(dataDir, 'inside.txt'), 'in the data dir, outside the lake');
    m = await startTestMirror(config, db.url, dataDir);
    ({ mirror, conn } = m);
  });

  afterAll(async () => {
    await stopTestMirror(m, config, db?.url);
    await db?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  const count = async (ref: string) => Number((await conn.runAndReadAll(`SELECT count(*) FROM ${ref}`)).getRowsJson()[0]![0]);

  it('mirrors and serves every table, snapshot and changes, and verify is equal', async () => {
    const ready = mirror.tables().filter((t) => t.state === 'ready');
    expect(ready).toHaveLength(tables.length + 1);
    for (const [i, t] of tables.entries()) {
      const m = ready.find((x) => x.schema === t.s && x.name === t.n)!;
      expect(m, t.q).toBeDefined();
      expect(await count(m.duckdbRef)).toBe(10 + i);
    }
    await pgQuery(db.url, tables.map((t) => `INSERT INTO ${t.q} VALUES (1000, 1);`).join(' '));
    expect(await mirror.waitFor(await currentLsn(db.url), 20_000)).toBe(true);
    for (const [i, t] of tables.entries()) expect(await count(mirror.tables().find((x) => x.schema === t.s && x.name === t.n)!.duckdbRef)).toBe(11 + i);
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
    expect(r.rows).toHaveLength(tables.length + 1);
  });

  it('drops them without removing anything outside their own folders', async () => {
    const manifest = join(dataDir, 'lake', '_manifest.json');
    await pgQuery(db.url, tables.map((t) => `DROP TABLE ${t.q};`).join(' '));
    await until('the dropped tables to leave the mirror', () => mirror.tables().length === 1);
    await pgQuery(db.url, SCHEMAS.filter((s) => s !== 'public').map((s) => `DROP SCHEMA ${pgIdent(s)};`).join(' '));
    expect(readFileSync(join(root, 'outside.txt'), 'utf8')).toBe('outside the data dir');
    expect(existsSync(join(dataDir, 'inside.txt'))).toBe(true);
    expect(existsSync(manifest)).toBe(true);
    expect(await count('"public"."keep"')).toBe(100);
    await pgQuery(db.url, 'INSERT INTO keep VALUES (101, 1)');
    expect(await mirror.waitFor(await currentLsn(db.url), 20_000)).toBe(true);
    expect(await count('"public"."keep"')).toBe(101);
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
    expect(r.rows.map((x) => x.table)).toEqual(['public.keep']);
  });
});

describe('mirror: damaged lake files are detected at start and the table re-snapshotted', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const dataDir = lazyDir('duckgate-damage-');
  const config = mirrorTestConfig('damage');
  const SETUP = `
    CREATE TABLE flipped (id int PRIMARY KEY, v int8 NOT NULL);
    INSERT INTO flipped SELECT g, (hashint8(g) >> 1) FROM generate_series(1, 50000) g;
    CREATE TABLE cut (id int PRIMARY KEY, v int8 NOT NULL);
    INSERT INTO cut SELECT g, (hashint8(g * 7) >> 1) FROM generate_series(1, 50000) g;
    CREATE TABLE intact (id int PRIMARY KEY, v int8 NOT NULL);
    INSERT INTO intact SELECT g, g FROM generate_series(1, 1000) g;`;

  beforeAll(async () => {
    db = await createTestDatabase('damage', SETUP);
  });
  afterAll(async () => {
    await mirrorDrop({ config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const run = async <T>(f: (m: Mirror, conn: DuckDBConnection) => Promise<T>): Promise<T> => {
    const duckdb = await DuckDBInstance.create(':memory:');
    const conn = await duckdb.connect();
    const m = new Mirror({ config, upstreamUrl: db.url, duckdb, dataDir });
    await m.start();
    try {
      expect(m.problem).toBeNull();
      return await f(m, conn);
    } finally {
      await m.stop();
      conn.closeSync();
    }
  };
  const stats = (rows: unknown[][]) => rows.map((r) => r.map(String));
  const pgStats = async (t: string) => stats((await pgQuery(db.url, `SELECT count(*)::text AS n, sum(v)::text AS s FROM ${t}`)).map((r) => [r.n, r.s]));
  const duckStats = async (conn: DuckDBConnection, t: string) => stats((await conn.runAndReadAll(`SELECT count(*)::VARCHAR, sum(v)::VARCHAR FROM "public"."${t}"`)).getRowsJson());

  it('flipped bytes in a data page and a truncated file: the answers stay those of Postgres', async () => {
    await run(async (m) => {
      await pgQuery(db.url, 'UPDATE flipped SET v = v + 1 WHERE id <= 100; UPDATE cut SET v = v - 1 WHERE id <= 100');
      expect(await m.waitFor(await currentLsn(db.url), 20_000)).toBe(true);
    });
    const manifest = () => JSON.parse(readFileSync(join(dataDir, 'lake', '_manifest.json'), 'utf8')) as { tables: Record<string, { base: string[]; deltas: unknown[] }> };
    const before = manifest();
    const flippedFile = join(dataDir, 'lake', before.tables['public.flipped']!.base[0]!);
    const cutFile = join(dataDir, 'lake', before.tables['public.cut']!.base[0]!);
    // the middle of the file is inside the value column's data page (incompressible values: stored raw)
    const b = readFileSync(flippedFile);
    for (let i = 0; i < 8; i++) b[Math.floor(b.length * 0.75) + i]! ^= 0x5a;
    writeFileSync(flippedFile, b);
    writeFileSync(cutFile, readFileSync(cutFile).subarray(0, Math.floor(statSizeOf(cutFile) / 2)));
    await run(async (m, conn) => {
      expect(await m.waitFor(await currentLsn(db.url), 20_000)).toBe(true);
      await until('the re-snapshotted tables to be served', () => m.tables().every((x) => x.state === 'ready'));
      for (const t of ['flipped', 'cut', 'intact']) {
        expect(m.tables().find((x) => x.name === t)!.state, t).toBe('ready');
        expect(await duckStats(conn, t), t).toEqual(await pgStats(t));
      }
      const after = manifest();
      expect(after.tables['public.flipped']!.base).not.toEqual(before.tables['public.flipped']!.base);
      expect(after.tables['public.cut']!.base).not.toEqual(before.tables['public.cut']!.base);
      expect(after.tables['public.intact']!.base).toEqual(before.tables['public.intact']!.base);
      const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
      expect(r.ok, formatVerifyTable(r)).toBe(true);
    });
  });
});

function statSizeOf(f: string): number {
  return readFileSync(f).length;
}

describe('mirror: values it cannot hold exactly make one column unservable, not the table', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dg: TestDuckgate;
  let viaDg: pg.Client;
  let direct: pg.Client;
  const rulesDir = lazyDir('duckgate-rules-');
  const slot = `dgt_odd_${process.pid}`;
  const SETUP = `
    CREATE TABLE odd (id int PRIMARY KEY, d date, ts timestamptz, a int[], v int NOT NULL);
    INSERT INTO odd VALUES (1, '2024-01-01', '2024-01-01 00:00:00+00', '{1,2}', 10),
      (2, '0044-03-15 BC', 'infinity', '{{1,2},{3,4}}', 20), (3, '2024-02-29', '-infinity', '{3}', 30);
    CREATE TABLE later (id int PRIMARY KEY, d date, a int[], v int NOT NULL);
    INSERT INTO later SELECT g, DATE '2024-01-01' + g, ARRAY[g], g FROM generate_series(1, 100) g;`;

  beforeAll(async () => {
    db = await createTestDatabase('odd', SETUP);
    mkdirSync(rulesDir, { recursive: true });
    writeFileSync(join(rulesDir, 'rules.yaml'), 'routing:\n  cost_threshold: 0\n');
    dg = await startTestDuckgate(db.url, { rules: [join(rulesDir, 'rules.yaml')], mirror: quickMirror(slot), duckdb: { threads: 1, connections: 2 } });
    await waitForMirrorReady(dg, ['odd', 'later']);
    viaDg = new pg.Client({ connectionString: dg.url });
    direct = new pg.Client({ connectionString: db.url });
    await viaDg.connect();
    await direct.connect();
  }, 60_000);
  afterAll(async () => {
    await viaDg?.end().catch(() => undefined);
    await direct?.end().catch(() => undefined);
    await dg?.close();
    await mirrorDrop({ config: dg.config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    rmSync(rulesDir, { recursive: true, force: true });
  });

  const route = async (sql: string) => (await viaDg.query(`/* duckgate: explain */ ${sql}`)).rows[0] as { engine: string; reason: string };
  const same = async (sql: string, engine: 'duckdb' | 'postgres') => {
    expect((await route(sql)).engine, sql).toBe(engine);
    expect((await viaDg.query(sql)).rows, sql).toEqual((await direct.query(sql)).rows);
  };
  const inexact = (name: string) =>
    dg.dg.mirror!.tables().find((t) => t.name === name)!.columns.filter((c) => !c.exact).map((c) => c.name).sort();
  const verifyEqual = async () => {
    const r = await mirrorVerify({ config: dg.config, upstreamUrl: db.url, dataDir: dg.config.dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
  };

  it('from the snapshot: a BC date, infinities and a 2-D array', async () => {
    expect(inexact('odd')).toEqual(['a', 'd', 'ts']);
    await same('SELECT count(*), sum(v) FROM odd', 'duckdb');
    await same('SELECT id, v FROM odd WHERE v > 15 ORDER BY id', 'duckdb');
    await same('SELECT id, d, ts, a FROM odd ORDER BY id', 'postgres');
    await same('SELECT count(*) FROM odd WHERE d < DATE \'2000-01-01\'', 'postgres');
    await verifyEqual();
  });

  it('from the change stream: the table keeps being served, the column goes to Postgres', async () => {
    expect(inexact('later')).toEqual([]);
    await direct.query(`INSERT INTO later VALUES (101, '0001-01-01 BC', '{{5,6}}', 101)`);
    await until('the column to fall back', () => {
      const t = dg.dg.mirror!.tables().find((x) => x.name === 'later');
      return t?.state === 'ready' && t.appliedLsn !== null && inexact('later').length === 2;
    });
    expect(inexact('later')).toEqual(['a', 'd']);
    await same('SELECT count(*), sum(v) FROM later', 'duckdb');
    await same('SELECT id, d, a FROM later WHERE id > 98 ORDER BY id', 'postgres');
    await verifyEqual();
  });
});

describe('mirror: a non-superuser control role hears every missing privilege with the statement to run', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const role = `dg_lp_${process.pid}`;
  const dataDir = lazyDir('duckgate-priv-');
  const config = mirrorTestConfig('priv', { schemas: ['public', 'priv'], catalogPollMs: 200 });
  const mirrors: Mirror[] = [];
  const SETUP = `
    CREATE ROLE ${role} LOGIN;
    CREATE TABLE mine (id int PRIMARY KEY, v int); INSERT INTO mine VALUES (1, 1);
    ALTER TABLE mine OWNER TO ${role};
    CREATE TABLE theirs (id int PRIMARY KEY, v int); INSERT INTO theirs VALUES (1, 2);
    GRANT SELECT ON theirs TO ${role};
    CREATE TABLE hidden (id int PRIMARY KEY, v int); INSERT INTO hidden VALUES (1, 3);
    CREATE SCHEMA priv; CREATE TABLE priv.t (id int PRIMARY KEY, v int); INSERT INTO priv.t VALUES (1, 4);`;

  beforeAll(async () => {
    db = await createTestDatabase('priv', SETUP);
  });
  afterAll(async () => {
    for (const m of mirrors) await m.stop();
    await mirrorDrop({ config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    await pgQuery(new URL('/postgres', db.url).toString(), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const asRole = () => {
    const u = new URL(db.url);
    u.username = role;
    u.password = '';
    return u.toString();
  };
  const startAsRole = async () => {
    const duckdb = await DuckDBInstance.create(':memory:');
    const m = new Mirror({ config, upstreamUrl: asRole(), duckdb, dataDir });
    mirrors.push(m);
    void m.start();
    return m;
  };

  it('lists REPLICATION and CREATE on the database together, then each table it may not copy or publish', async () => {
    const m1 = await startAsRole();
    await until('the precondition problem', () => m1.problem !== null);
    const dbName = new URL(db.url).pathname.slice(1);
    expect(m1.problem).toContain(`ALTER ROLE "${role}" REPLICATION;`);
    expect(m1.problem).toContain(`GRANT CREATE ON DATABASE "${dbName}" TO "${role}";`);
    expect(m1.problem).not.toContain('permission denied');
    await m1.stop();
    mirrors.pop();
    // the statements it gave, run as a superuser
    await pgQuery(db.url, `ALTER ROLE "${role}" REPLICATION; GRANT CREATE ON DATABASE "${dbName}" TO "${role}"`);
    const m2 = await startAsRole();
    await until('the mirror to serve the table it may mirror', () => m2.tables().some((t) => t.name === 'mine' && t.state === 'ready' && t.appliedLsn !== null));
    const skipped = new Map(m2.status().skipped.map((s) => [s.table, s.reason]));
    expect(m2.tables().map((t) => t.name)).toEqual(['mine']);
    expect(skipped.get('public.theirs')).toContain(`ALTER TABLE "public"."theirs" OWNER TO "${role}";`);
    expect(skipped.get('public.theirs')).not.toContain('GRANT SELECT');
    expect(skipped.get('public.hidden')).toContain(`GRANT SELECT ON "public"."hidden" TO "${role}";`);
    expect(skipped.get('public.hidden')).toContain(`ALTER TABLE "public"."hidden" OWNER TO "${role}";`);
    expect(skipped.get('priv.t')).toContain(`GRANT USAGE ON SCHEMA "priv" TO "${role}";`);
    // granted while running: picked up at the next catalog check
    await pgQuery(db.url, `ALTER TABLE theirs OWNER TO "${role}"; GRANT "postgres" TO "${role}"`);
    await until('every table to be mirrored', () => m2.tables().filter((t) => t.state === 'ready' && t.appliedLsn !== null).length === 4);
    const r = await mirrorVerify({ config, upstreamUrl: asRole(), dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
  });
});

/** A fresh temp path, created only by the tests that run (a filtered run leaves nothing behind). */
function lazyDir(prefix: string): string {
  return join(tmpdir(), `${prefix}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}
