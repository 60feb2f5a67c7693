// Mirror fault tests against a real PostgreSQL: ordinary events that used to stop the mirror until
// duckgate restarted (issue 9, "The mirror never stops for good"). Each ends with the mirror serving again
// without a restart and `mirror verify` equal (Postgres and the lake at the same LSN).
//
// The first group uses the suite's PostgreSQL (a database per group); the last one starts its own
// embedded PostgreSQL, because it is restarted (wal_level fixed while running, fast and immediate
// shutdowns) and the suite's server is shared with other test files.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { syncPublication } from '../../src/mirror/catalog.js';
import { Mirror, mirrorDrop, mirrorVerify, formatVerifyTable, type MirrorPhase } from '../../src/mirror/index.js';
import { backoffMs } from '../../src/mirror/backoff.js';
import { allowed, nextState, OnceNotices } from '../../src/mirror/lifecycle.js';
import { registry } from '../../src/observability/metrics.js';
import { startHttp } from '../../src/observability/http.js';
import { mirrorSource } from '../../src/session/mirror-source.js';
import { quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';
import { createTestDatabase, freePort, startEmbeddedPostgres, type TestPostgres } from '../support/servers.js';
import { currentLsn, mirrorTestConfig, pgQuery, tempDataDir } from '../support/mirror-helpers.js';

/** Fast retries, so each fault recovers within a second or two. */
const FAST = { retryMinMs: 100, retryMaxMs: 800 };

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Running {
  mirror: Mirror;
  duckdb: DuckDBInstance;
  phases: MirrorPhase[];
  dataDir: string;
}

async function startMirror(config: Config, url: string, dataDir = tempDataDir(), wait = true): Promise<Running & { started: Promise<void> }> {
  const duckdb = await DuckDBInstance.create(':memory:');
  const mirror = new Mirror({ config, upstreamUrl: url, duckdb, dataDir });
  const phases: MirrorPhase[] = [];
  mirror.on('phase', (e: { phase: MirrorPhase }) => phases.push(e.phase));
  const started = mirror.start();
  if (wait) await started;
  return { mirror, duckdb, phases, dataDir, started };
}

async function stopMirror(r: Running | undefined): Promise<void> {
  if (!r) return;
  await r.mirror.stop();
  rmSync(r.dataDir, { recursive: true, force: true });
}

/** The mirror streams again and has applied everything committed so far: every listed table is served. */
async function servingAgain(r: Running, url: string, tables: string[], timeoutMs = 20_000): Promise<void> {
  await until('the mirror streams', () => r.mirror.status().phase === 'streaming', timeoutMs);
  const lsn = await currentLsn(url);
  expect(await r.mirror.waitFor(lsn, timeoutMs)).toBe(true);
  await until(
    `tables served: ${tables.join(', ')}`,
    () => {
      const ready = new Set(r.mirror.tables().filter((t) => t.state === 'ready' && t.appliedLsn !== null).map((t) => `${t.schema}.${t.name}`));
      return tables.every((t) => ready.has(t));
    },
    timeoutMs,
  );
}

async function verifyEqual(config: Config, url: string, dataDir: string): Promise<string[]> {
  const v = await mirrorVerify({ config, upstreamUrl: url, dataDir, timeoutMs: 20_000 });
  expect(v.ok, formatVerifyTable(v)).toBe(true);
  return v.rows.map((x) => x.table);
}

async function duckCount(r: Running, table: string): Promise<number> {
  const c = await r.duckdb.connect();
  try {
    return Number((await c.runAndReadAll(`SELECT count(*)::INT FROM "public"."${table}"`)).getRows()[0]![0]);
  } finally {
    c.closeSync();
  }
}

describe('mirror faults: lifecycle and backoff', () => {
  it('writes the table transitions down and backs off capped, exponential, jittered', () => {
    expect(nextState('snapshotting', 'copied')).toBe('ready');
    expect(nextState('ready', 'failed')).toBe('error');
    expect(nextState('error', 'resync')).toBe('resyncing');
    expect(nextState('resyncing', 'copied')).toBe('ready');
    expect(allowed('ready', 'copied')).toBe(false);
    const p = { minMs: 100, maxMs: 1000 };
    expect(backoffMs(p, 0, () => 0)).toBe(50);
    expect(backoffMs(p, 0, () => 1)).toBe(100);
    expect(backoffMs(p, 3, () => 1)).toBe(800);
    expect(backoffMs(p, 30, () => 1)).toBe(1000);
    expect(backoffMs(p, 30, () => 0)).toBe(500);
    // a warning repeated at every catalog poll is logged once per table and reason
    const n = new OnceNotices();
    expect([n.note('public.t', 'no key'), n.note('public.t', 'no key'), n.note('public.t', 'unlogged'), n.note('public.u', 'no key')]).toEqual([true, false, true, true]);
    n.clear('public.t');
    expect(n.note('public.t', 'unlogged')).toBe(true);
  });
});

describe('mirror faults on the suite PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const SETUP = `
    CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO items SELECT g, g FROM generate_series(1, 500) g;
    CREATE TABLE accounts (code text PRIMARY KEY, balance int);
    INSERT INTO accounts SELECT 'a' || g, g FROM generate_series(1, 50) g;
    CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, v int);
    INSERT INTO scratch VALUES (1, 1);
  `;
  const configs: Config[] = [];
  const cfg = (tag: string, extra: Partial<Config['mirror']> = {}) => {
    const c = mirrorTestConfig(tag, { ...FAST, ...extra });
    configs.push(c);
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase('mfaults', SETUP);
  });
  afterAll(async () => {
    for (const c of configs) await mirrorDrop({ config: c, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
  });

  it('reconnects after its control connection and its walsender are terminated (pg_terminate_backend)', async () => {
    const config = cfg('term');
    const r = await startMirror(config, db.url);
    try {
      expect(r.mirror.problem).toBeNull();
      await servingAgain(r, db.url, ['public.items', 'public.accounts']);
      // the primary key is exposed, whatever its column is called (the router's point-lookup rule uses it)
      expect(r.mirror.tables().find((t) => t.name === 'accounts')!.primaryKey).toEqual(['code']);
      expect(mirrorSource(r.mirror).view()!.tables.get('public.accounts')!.primaryKey).toEqual(['code']);
      for (const which of ["application_name = 'duckgate-mirror' AND backend_type <> 'walsender'", "backend_type = 'walsender'", "application_name LIKE 'duckgate-mirror%'"]) {
        const before = r.phases.length;
        const killed = await pgQuery<{ n: number }>(
          db.url,
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND ${which}`,
        );
        expect(killed[0]!.n).toBeGreaterThan(0);
        await pgQuery(db.url, 'UPDATE items SET v = v + 1 WHERE id <= 100');
        await until('the failure is noticed', () => r.phases.slice(before).includes('retrying'));
        await servingAgain(r, db.url, ['public.items', 'public.accounts']);
        expect(await duckCount(r, 'items')).toBe(500);
      }
      // connections killed while a table is being copied (a new table, and a changed one): both are
      // copied again after the reconnect
      await pgQuery(db.url, `CREATE TABLE big (id int PRIMARY KEY, pad text); INSERT INTO big SELECT g, repeat('y', 40) FROM generate_series(1, 300000) g; ALTER TABLE accounts ADD COLUMN note text`);
      r.mirror.checkCatalog();
      await until(
        'a re-snapshot copies big',
        async () => (await pgQuery(db.url, `SELECT 1 FROM pg_stat_activity WHERE application_name = 'duckgate-mirror-resync' AND query LIKE 'COPY (SELECT%"big"%'`)).length > 0,
      );
      await pgQuery(db.url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'duckgate-mirror%'`);
      await servingAgain(r, db.url, ['public.items', 'public.accounts', 'public.big'], 30_000);
      expect(await duckCount(r, 'big')).toBe(300000);
      expect(r.mirror.tables().find((t) => t.name === 'accounts')!.columns.map((c) => c.name)).toEqual(['code', 'balance', 'note']);
      const sum = await pgQuery<{ s: number }>(db.url, 'SELECT sum(v)::int AS s FROM items');
      const c = await r.duckdb.connect();
      expect(Number((await c.runAndReadAll('SELECT sum(v)::INT FROM "public"."items"')).getRows()[0]![0])).toBe(sum[0]!.s);
      c.closeSync();
      expect(await verifyEqual(config, db.url, r.dataDir)).toEqual(['public.accounts', 'public.big', 'public.items']);
      // the metrics say it too: up again, three retries counted
      const text = await registry.metrics();
      expect(text).toMatch(/^duckgate_mirror_up 1$/m);
      expect(Number(/^duckgate_mirror_retries_total (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
    } finally {
      await stopMirror(r);
      await pgQuery(db.url, 'DROP TABLE IF EXISTS big; ALTER TABLE accounts DROP COLUMN IF EXISTS note');
    }
  });

  it('says why it is not ready on /readyz and /status while it retries', async () => {
    const config = cfg('ready');
    const r = await startMirror(config, db.url);
    const http = await startHttp({
      host: '127.0.0.1',
      port: 0,
      ready: async () => {
        const why = r.mirror.notReadyReason();
        return why === null ? { ready: true } : { ready: false, reason: why };
      },
      status: () => ({ mirror: r.mirror.status() }),
    });
    const base = `http://127.0.0.1:${http.port}`;
    // a lake lock held by a live process keeps every attempt failing until it goes away
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const st = (await (await fetch(`${base}/status`)).json()) as { mirror: { phase: string; tables: Array<{ table: string; state: string }>; skipped: Array<{ table: string; reason: string }> } };
      expect(st.mirror.phase).toBe('streaming');
      expect(st.mirror.tables.map((t) => t.table).sort()).toEqual(['public.accounts', 'public.items']);
      // the UNLOGGED table present at start is skipped with its reason, the mirror runs
      expect(st.mirror.skipped.find((s) => s.table === 'public.scratch')?.reason).toMatch(/UNLOGGED/);

      await r.mirror.stop();
      writeFileSync(join(r.dataDir, 'lake', 'LOCK'), String(sleeper.pid));
      const r2 = await startMirror(config, db.url, r.dataDir);
      try {
        expect(r2.mirror.problem).toMatch(new RegExp(`in use by process ${sleeper.pid}`));
        expect(r2.mirror.whyNotServed('public', 'items')).toMatch(/^mirror not running: the lake .* is in use by process/);
        const h2 = await startHttp({
          host: '127.0.0.1',
          port: 0,
          ready: async () => {
            const why = r2.mirror.notReadyReason();
            return why === null ? { ready: true } : { ready: false, reason: why };
          },
          status: () => ({ mirror: r2.mirror.status() }),
        });
        const res = await fetch(`http://127.0.0.1:${h2.port}/readyz`);
        expect(res.status).toBe(503);
        expect(await res.text()).toMatch(/^not ready: mirror not running: the lake .* is in use by process \d+/);
        const s2 = (await (await fetch(`http://127.0.0.1:${h2.port}/status`)).json()) as { mirror: { phase: string; problem: string; nextRetryAt: number } };
        // waiting for the next attempt (nextRetryAt says when), or in it
        expect(['retrying', 'starting']).toContain(s2.mirror.phase);
        if (s2.mirror.phase === 'retrying') expect(s2.mirror.nextRetryAt).toBeGreaterThan(0);
        expect(s2.mirror.problem).toMatch(/in use by process/);
        // the lock's owner dies: the mirror takes the lake by itself
        sleeper.kill('SIGKILL');
        await servingAgain(r2, db.url, ['public.items', 'public.accounts']);
        expect((await fetch(`http://127.0.0.1:${h2.port}/readyz`)).status).toBe(200);
        await new Promise<void>((res2) => h2.server.close(() => res2()));
        await verifyEqual(config, db.url, r2.dataDir);
      } finally {
        await stopMirror(r2);
      }
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise<void>((res) => http.server.close(() => res()));
    }
  });

  it('duckgate (main.ts): /readyz fails with the reason and /status shows it while its mirror waits, reads still answered', async () => {
    const config = cfg('e2e');
    const other = await startMirror(config, db.url);
    let t: TestDuckgate | undefined;
    try {
      t = await startTestDuckgate(db.url, { mirror: { ...quickMirror(config.mirror.slotName), ...FAST } });
      await until('duckgate notices the slot is held', async () => (await fetch(`${t!.httpUrl}/readyz`)).status === 503);
      expect(await (await fetch(`${t.httpUrl}/readyz`)).text()).toMatch(/^not ready: mirror not running: replication slot \S+ is in use by PostgreSQL backend pid \d+/);
      const st = (await (await fetch(`${t.httpUrl}/status`)).json()) as { mirror: { phase: string; problem: string } };
      // waiting for the next attempt, or in it
      expect(['retrying', 'starting']).toContain(st.mirror.phase);
      expect(st.mirror.problem).toMatch(/is in use by PostgreSQL backend pid/);
      // reads are answered meanwhile (by PostgreSQL)
      const c = new pg.Client({ connectionString: t.url });
      await c.connect();
      try {
        expect((await c.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 500 }]);
        await other.mirror.stop();
        await until('duckgate is ready', async () => (await fetch(`${t!.httpUrl}/readyz`)).status === 200);
        await waitForMirrorReady(t, ['items', 'accounts']);
        const st2 = (await (await fetch(`${t.httpUrl}/status`)).json()) as { mirror: { phase: string; tables: Array<{ table: string; state: string; lastError: string | null }> } };
        expect(st2.mirror.phase).toBe('streaming');
        expect(st2.mirror.tables.find((x) => x.table === 'public.items')).toMatchObject({ state: 'ready', lastError: null });
        expect((await c.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 500 }]);
        // the primary key reaches the router: equality on accounts' key (code, not id) is a point lookup
        // (after the session's view of the mirror has been refreshed: it is kept for 250 ms)
        await new Promise((res) => setTimeout(res, 300));
        const ex = await c.query(`/* duckgate: explain */ SELECT * FROM accounts WHERE code = 'a1'`);
        expect(ex.rows[0]).toMatchObject({ engine: 'postgres', reason: 'point_lookup' });
      } finally {
        await c.end();
      }
    } finally {
      await t?.close();
      await stopMirror(other);
    }
  });

  it('right after a kill -9 of the process that held the lake, takes the lake over by itself', async () => {
    const config = cfg('kill9');
    const dataDir = tempDataDir();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/mirror-child.ts', db.url, dataDir, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DUCKGATE_LOG_LEVEL: 'silent' },
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until('the child mirror streams', () => out.includes('READY'), 30_000);
    await pgQuery(db.url, 'UPDATE items SET v = v + 1 WHERE id <= 10');
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGKILL');
    // at once, while the killed process may still hold the lock and the slot
    const r = await startMirror(config, db.url, dataDir);
    try {
      await exited;
      await pgQuery(db.url, 'UPDATE items SET v = v - 1 WHERE id <= 10');
      await servingAgain(r, db.url, ['public.items', 'public.accounts'], 30_000);
      await verifyEqual(config, db.url, dataDir);
    } finally {
      await stopMirror(r);
    }
  });

  it('takes a lake lock left by a dead process at once', async () => {
    const config = cfg('deadlock');
    const dataDir = tempDataDir();
    const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => dead.once('exit', r));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dataDir, 'lake'), { recursive: true });
    writeFileSync(join(dataDir, 'lake', 'LOCK'), String(dead.pid));
    const r = await startMirror(config, db.url, dataDir);
    try {
      expect(r.mirror.problem).toBeNull();
      expect(r.phases).not.toContain('retrying');
      expect(readFileSync(join(dataDir, 'lake', 'LOCK'), 'utf8')).toBe(String(process.pid));
    } finally {
      await stopMirror(r);
    }
  });

  it('waits for a slot held by another duckgate, says so, and takes over when it is free', async () => {
    const config = cfg('slot');
    const a = await startMirror(config, db.url);
    let b: Running | undefined;
    try {
      expect(a.mirror.problem).toBeNull();
      b = await startMirror(config, db.url);
      expect(b.mirror.problem).toMatch(/replication slot .* is in use by PostgreSQL backend pid \d+ \(another duckgate/);
      expect(b.mirror.status().phase).toBe('retrying');
      expect(b.mirror.notReadyReason()).toMatch(/in use/);
      expect(b.mirror.tables().filter((t) => t.appliedLsn !== null)).toEqual([]);
      await pgQuery(db.url, 'INSERT INTO items VALUES (10001, 1)');
      await a.mirror.stop();
      await servingAgain(b, db.url, ['public.items', 'public.accounts']);
      expect(await duckCount(b, 'items')).toBe(501);
      await verifyEqual(config, db.url, b.dataDir);
    } finally {
      await stopMirror(a);
      await stopMirror(b);
      await pgQuery(db.url, 'DELETE FROM items WHERE id = 10001');
    }
  });

  it('never breaks a write: a table that loses its primary key leaves the publication in the same transaction', async () => {
    await pgQuery(
      db.url,
      `CREATE TABLE losing (id int PRIMARY KEY, v int); INSERT INTO losing SELECT g, g FROM generate_series(1, 20) g;
       CREATE TABLE nothing_ri (id int PRIMARY KEY, v int); INSERT INTO nothing_ri VALUES (1, 1), (2, 2);
       CREATE TABLE idx_ri (id int NOT NULL, v int); CREATE UNIQUE INDEX idx_ri_id ON idx_ri (id); ALTER TABLE idx_ri REPLICA IDENTITY USING INDEX idx_ri_id;
       INSERT INTO idx_ri VALUES (1, 1);
       CREATE ROLE h4owner_${process.pid} LOGIN; GRANT CREATE ON SCHEMA public TO h4owner_${process.pid};
       SET ROLE h4owner_${process.pid}; CREATE TABLE owned (id int PRIMARY KEY, v int); INSERT INTO owned VALUES (1, 1), (2, 2); RESET ROLE;`,
    );
    const ownerUrl = Object.assign(new URL(db.url), { username: `h4owner_${process.pid}`, password: '' }).toString();
    // no catalog poll: only the guard can close the window
    const config = cfg('pkdrop', { catalogPollMs: 0 });
    const r = await startMirror(config, db.url);
    try {
      expect(r.mirror.status().guard).toBe('installed');
      await servingAgain(r, db.url, ['public.losing', 'public.nothing_ri', 'public.idx_ri', 'public.items', 'public.owned']);
      // the table's owner, not a superuser, drops the key: the guard runs as the publication's owner
      await pgQuery(ownerUrl, 'ALTER TABLE owned DROP CONSTRAINT owned_pkey');
      expect((await pgQuery(ownerUrl, 'UPDATE owned SET v = v + 1 RETURNING id')).length).toBe(2);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        // each change of identity, then at once an UPDATE and a DELETE: they work as they do directly
        await c.query('ALTER TABLE losing DROP CONSTRAINT losing_pkey');
        expect((await c.query('UPDATE losing SET v = v + 1 WHERE id <= 5')).rowCount).toBe(5);
        expect((await c.query('DELETE FROM losing WHERE id = 20')).rowCount).toBe(1);
        await c.query('ALTER TABLE nothing_ri REPLICA IDENTITY NOTHING');
        expect((await c.query('UPDATE nothing_ri SET v = 9 WHERE id = 1')).rowCount).toBe(1);
        await c.query('DROP INDEX idx_ri_id');
        expect((await c.query('DELETE FROM idx_ri WHERE id = 1')).rowCount).toBe(1);
        // also inside one transaction
        await c.query('BEGIN');
        await c.query('ALTER TABLE items REPLICA IDENTITY NOTHING');
        await c.query('UPDATE items SET v = v WHERE id = 1');
        await c.query('ROLLBACK');
      } finally {
        await c.end();
      }
      // the mirror stops serving them at that point of the stream
      await until('the mirror stops serving the tables', () => {
        const served = new Set(r.mirror.tables().filter((t) => t.state === 'ready' && t.appliedLsn !== null).map((t) => t.name));
        return !served.has('losing') && !served.has('nothing_ri') && !served.has('idx_ri') && !served.has('owned');
      });
      const lsn = await currentLsn(db.url);
      expect(await r.mirror.waitFor(lsn, 10_000)).toBe(true);
      const served = r.mirror.tables().filter((t) => t.state === 'ready').map((t) => t.name).sort();
      expect(served).toEqual(['accounts', 'items']);
      // what explain can say about each
      expect(r.mirror.whyNotServed('public', 'items')).toBeNull();
      expect(r.mirror.whyNotServed('public', 'losing')).toMatch(/^not mirrored: public.losing has no primary key/);
      expect(r.mirror.whyNotServed('public', 'scratch')).toMatch(/UNLOGGED/);
      expect(r.mirror.whyNotServed('other', 'x')).toMatch(/is not mirrored \(not selected/);
      const pubTables = await pgQuery<{ t: string }>(db.url, 'SELECT tablename::text AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1', [config.mirror.publicationName]);
      expect(pubTables.map((x) => x.t)).toEqual(['accounts', 'items']);
      // the warning for the table without a key now is logged once, not at every poll
      expect(r.mirror.status().skipped.map((s) => s.table)).toEqual(expect.arrayContaining(['public.losing']));
      // a primary key again: mirrored again
      await pgQuery(db.url, 'ALTER TABLE losing ADD PRIMARY KEY (id)');
      r.mirror.checkCatalog();
      await servingAgain(r, db.url, ['public.losing']);
      expect(await duckCount(r, 'losing')).toBe(19);
      await verifyEqual(config, db.url, r.dataDir);
    } finally {
      await stopMirror(r);
      await pgQuery(db.url, `DROP TABLE losing, nothing_ri, idx_ri, owned; REVOKE CREATE ON SCHEMA public FROM h4owner_${process.pid}; DROP ROLE h4owner_${process.pid}`);
    }
    // `mirror drop` removes the guard
    await mirrorDrop({ config, upstreamUrl: db.url });
    expect(await pgQuery(db.url, "SELECT evtname FROM pg_event_trigger WHERE evtname LIKE 'duckgate%' AND evtname LIKE $1", [`%${config.mirror.publicationName}%`])).toEqual([]);
  });

  it('ALTER TABLE … SET UNLOGGED on a mirrored table works as it does directly', async () => {
    await pgQuery(db.url, 'CREATE TABLE going (id int PRIMARY KEY, v int); INSERT INTO going SELECT g, g FROM generate_series(1, 50) g');
    const config = cfg('unlog', { catalogPollMs: 0 });
    const r = await startMirror(config, db.url);
    try {
      await servingAgain(r, db.url, ['public.going', 'public.items']);
      // refused by PostgreSQL for a table in a publication (55000); the guard takes it out first
      await pgQuery(db.url, 'ALTER TABLE going SET UNLOGGED');
      expect((await pgQuery(db.url, 'UPDATE going SET v = 0 WHERE id = 1 RETURNING id')).length).toBe(1);
      await until('going is no longer served', () => !r.mirror.tables().some((t) => t.name === 'going' && t.state === 'ready'));
      await until('going is skipped as UNLOGGED', () => /UNLOGGED/.test(r.mirror.whyNotServed('public', 'going') ?? ''));
      // and back
      await pgQuery(db.url, 'ALTER TABLE going SET LOGGED');
      r.mirror.checkCatalog();
      await servingAgain(r, db.url, ['public.going', 'public.items']);
      expect(await duckCount(r, 'going')).toBe(50);
      await verifyEqual(config, db.url, r.dataDir);
    } finally {
      await stopMirror(r);
      await pgQuery(db.url, 'DROP TABLE going');
    }
  });

  it('a table losing its key while the mirror adds it to the publication is not published (writes keep working)', async () => {
    const config = cfg('addrace', { catalogPollMs: 0 });
    const r = await startMirror(config, db.url);
    const ddl = new pg.Client({ connectionString: db.url });
    await ddl.connect();
    try {
      await pgQuery(db.url, 'CREATE TABLE racing (id int PRIMARY KEY, v int); INSERT INTO racing VALUES (1, 1)');
      // the key is dropped in a transaction still open while the mirror discovers the table (with its
      // key: the drop is not committed) and adds it to its publication (which waits for the DDL's lock)
      await ddl.query('BEGIN');
      await ddl.query('ALTER TABLE racing DROP CONSTRAINT racing_pkey');
      r.mirror.checkCatalog();
      await until(
        'the mirror waits to add racing',
        async () =>
          (await pgQuery(db.url, `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND l.relation = 'racing'::regclass AND a.application_name = 'duckgate-mirror'`)).length > 0,
      );
      await ddl.query('COMMIT');
      await until(
        'the mirror is past the ADD',
        async () =>
          (await pgQuery(db.url, `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND l.relation = 'racing'::regclass AND a.application_name = 'duckgate-mirror'`)).length === 0,
      );
      await new Promise((res) => setTimeout(res, 300));
      expect((await pgQuery(db.url, 'UPDATE racing SET v = 2 RETURNING id')).length).toBe(1);
      await until('the catalog check is done', () => r.mirror.status().skipped.some((s) => s.table === 'public.racing'));
      const pub = await pgQuery<{ t: string }>(db.url, 'SELECT tablename::text AS t FROM pg_publication_tables WHERE pubname = $1', [config.mirror.publicationName]);
      expect(pub.map((x) => x.t)).not.toContain('racing');
      expect(r.mirror.tables().some((t) => t.name === 'racing')).toBe(false);
    } finally {
      await ddl.end();
      await stopMirror(r);
      await pgQuery(db.url, 'DROP TABLE IF EXISTS racing');
    }
  });

  it('with a control role that is not a superuser: says what the risk is, and the catalog check closes it', async () => {
    const role = `h4ctl_${process.pid}`;
    await pgQuery(
      db.url,
      `CREATE ROLE ${role} LOGIN REPLICATION; GRANT CREATE ON DATABASE ${db.name} TO ${role}; CREATE SCHEMA nsu AUTHORIZATION ${role};
       SET ROLE ${role}; CREATE TABLE nsu.t (id int PRIMARY KEY, v int); INSERT INTO nsu.t SELECT g, g FROM generate_series(1, 10) g; RESET ROLE;`,
    );
    const u = new URL(db.url);
    u.username = role;
    u.password = '';
    const roleUrl = u.toString();
    const config = cfg('nsu', { schemas: ['nsu'], catalogPollMs: 300 });
    const r = await startMirror(config, roleUrl);
    try {
      expect(r.mirror.problem).toBeNull();
      expect(r.mirror.status().guard).toMatch(/^not installed: the control role is not a superuser/);
      await servingAgain(r, db.url, ['nsu.t']);
      // the residual risk it logged: until the next catalog check the UPDATE fails as it would with any
      // publication; the check then takes the table out of the publication and the write works
      await pgQuery(db.url, 'ALTER TABLE nsu.t DROP CONSTRAINT t_pkey');
      await until('the catalog check takes nsu.t out', async () => {
        try {
          await pgQuery(db.url, 'UPDATE nsu.t SET v = v + 1 WHERE id = 1');
          return true;
        } catch (e) {
          expect((e as Error).message).toMatch(/does not have a replica identity/);
          return false;
        }
      });
      await until('nsu.t is no longer mirrored', () => !r.mirror.tables().some((t) => t.name === 't'));
      expect(r.mirror.status().skipped.map((s) => s.table)).toContain('nsu.t');
    } finally {
      await stopMirror(r);
      await mirrorDrop({ config, upstreamUrl: roleUrl });
      await pgQuery(db.url, `DROP SCHEMA nsu CASCADE; REVOKE CREATE ON DATABASE ${db.name} FROM ${role}; DROP ROLE ${role}`);
    }
  });

  it('one table whose snapshot fails does not fail its siblings, and it is retried', async () => {
    await pgQuery(
      db.url,
      `CREATE SCHEMA snap; CREATE TABLE snap.a (id int PRIMARY KEY, pad text); INSERT INTO snap.a SELECT g, repeat('x', 40) FROM generate_series(1, 400000) g;
       CREATE TABLE snap.b (id int PRIMARY KEY); INSERT INTO snap.b SELECT generate_series(1, 100);
       CREATE TABLE snap.c (id int PRIMARY KEY); INSERT INTO snap.c SELECT generate_series(1, 100);`,
    );
    const config = cfg('snap', { schemas: ['snap'] });
    const r = await startMirror(config, db.url, tempDataDir(), false);
    try {
      // while the initial snapshot copies a (large), b is dropped: its COPY then fails with 42P01 inside
      // the snapshot transaction shared by a, b and c
      await until(
        'the snapshot copies snap.a',
        async () =>
          (await pgQuery(db.url, `SELECT 1 FROM pg_stat_activity WHERE application_name = 'duckgate-mirror' AND query LIKE 'COPY (SELECT%"snap"."a"%'`)).length > 0,
        30_000,
      );
      await pgQuery(db.url, 'DROP TABLE snap.b');
      await r.started;
      expect(r.mirror.problem).toBeNull();
      await servingAgain(r, db.url, ['snap.a', 'snap.c']);
      const c = await r.duckdb.connect();
      expect((await c.runAndReadAll('SELECT (SELECT count(*) FROM snap.a)::INT, (SELECT count(*) FROM snap.c)::INT')).getRows()).toEqual([[400000, 100]]);
      c.closeSync();
      // b failed alone and, once retried, is found dropped and forgotten
      await until('snap.b is forgotten', () => !r.mirror.tables().some((t) => t.name === 'b'));
      expect(await verifyEqual(config, db.url, r.dataDir)).toEqual(['snap.a', 'snap.c']);
    } finally {
      await stopMirror(r);
      await pgQuery(db.url, 'DROP SCHEMA snap CASCADE');
    }
  });

  it('a table dropped before ALTER PUBLICATION ... ADD TABLE (42P01) is left out, the others are published', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('CREATE PUBLICATION pub42p01');
      const failed: Array<{ table: string; error: Error & { code?: string } }> = [];
      const got = await syncPublication(c, 'pub42p01', [{ schema: 'public', name: 'items' }, { schema: 'public', name: 'gone_already' }, { schema: 'public', name: 'scratch' }], failed);
      expect(got).toEqual([{ schema: 'public', name: 'items' }]);
      expect(failed.map((f) => [f.table, f.error.code])).toEqual([
        ['public.gone_already', '42P01'],
        ['public.scratch', '22023'],
      ]);
    } finally {
      await c.query('DROP PUBLICATION IF EXISTS pub42p01');
      await c.end();
    }
  });

  it('keeps mirroring through create/drop churn of keyed tables and unlogged tables created while running', async () => {
    const config = cfg('churn', { catalogPollMs: 150, schemas: ['churn'] });
    await pgQuery(db.url, `CREATE SCHEMA churn; CREATE TABLE churn.stable (id int PRIMARY KEY, v int); INSERT INTO churn.stable SELECT g, 0 FROM generate_series(1, 200) g;`);
    const r = await startMirror(config, db.url);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      expect(r.mirror.problem).toBeNull();
      const alive = new Set<number>();
      const end = Date.now() + 8_000;
      let n = 0;
      while (Date.now() < end) {
        n++;
        await c.query(`CREATE TABLE churn.t${n} (id int PRIMARY KEY, v text); INSERT INTO churn.t${n} SELECT g, 'x' || g FROM generate_series(1, ${n % 7 === 0 ? 2000 : 20}) g`);
        alive.add(n);
        await c.query('UPDATE churn.stable SET v = v + 1 WHERE id = $1', [1 + (n % 200)]);
        if (n % 3 === 0) {
          const victim = [...alive][Math.floor(alive.size / 2)]!;
          await c.query(`DROP TABLE churn.t${victim}`);
          alive.delete(victim);
        }
        if (n % 10 === 0) await c.query(`CREATE UNLOGGED TABLE churn.u${n} (id int PRIMARY KEY)`);
        // a table that lives a few milliseconds: now and then dropped between discovery and ALTER PUBLICATION
        // (42P01) or between ALTER PUBLICATION and its copy
        await c.query(`CREATE TABLE churn.flash${n} (id int PRIMARY KEY)`);
        await new Promise((res) => setTimeout(res, 10 + (n % 4) * 10));
        await c.query(`DROP TABLE churn.flash${n}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const want = ['churn.stable', ...[...alive].map((i) => `churn.t${i}`)].sort();
      await servingAgain(r, db.url, want, 30_000);
      await until('the mirrored set equals the keyed logged tables', () => {
        const names = r.mirror.tables().map((t) => `${t.schema}.${t.name}`).sort();
        return JSON.stringify(names) === JSON.stringify(want);
      }, 30_000);
      expect(r.mirror.status().phase).toBe('streaming');
      const skipped = r.mirror.status().skipped.map((s) => s.table);
      expect(skipped.length).toBeGreaterThan(0);
      expect(skipped.every((t) => /^churn\.u\d+$/.test(t))).toBe(true);
      expect(await verifyEqual(config, db.url, r.dataDir)).toEqual(want.slice().sort());
      // a skipped unlogged table made logged is mirrored at the next poll
      const u = skipped[0]!;
      await pgQuery(db.url, `ALTER TABLE ${u} SET LOGGED; INSERT INTO ${u} VALUES (1)`);
      await servingAgain(r, db.url, [u]);
    } finally {
      await c.end();
      await stopMirror(r);
      await pgQuery(db.url, 'DROP SCHEMA churn CASCADE');
    }
  });
  it('loses and duplicates nothing when its connections are killed again and again during writes and DDL', async () => {
    const config = cfg('chaos', { catalogPollMs: 200, schemas: ['chaos'] });
    await pgQuery(db.url, `CREATE SCHEMA chaos; CREATE TABLE chaos.acct (id int PRIMARY KEY, v int NOT NULL); INSERT INTO chaos.acct SELECT g, 0 FROM generate_series(1, 1000) g;`);
    const r = await startMirror(config, db.url);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      expect(r.mirror.problem).toBeNull();
      let writing = true;
      const writer = (async () => {
        const w = new pg.Client({ connectionString: db.url });
        await w.connect();
        let n = 0;
        try {
          while (writing) {
            n++;
            await w.query('BEGIN');
            await w.query('UPDATE chaos.acct SET v = v + 1 WHERE id = $1', [1 + ((n * 7919) % 1000)]);
            if (n % 5 === 0) await w.query('INSERT INTO chaos.acct VALUES ($1, $2)', [100_000 + n, n]);
            if (n % 7 === 0) await w.query('DELETE FROM chaos.acct WHERE id = $1', [100_000 + n - 5]);
            await w.query('COMMIT');
          }
        } finally {
          await w.end();
        }
      })();
      let kills = 0;
      const end = Date.now() + 8_000;
      let n = 0;
      while (Date.now() < end) {
        n++;
        await c.query(`CREATE TABLE chaos.t${n} (id int PRIMARY KEY, v int); INSERT INTO chaos.t${n} SELECT g, g FROM generate_series(1, 5000) g`);
        if (n % 2 === 0) await c.query(`DROP TABLE chaos.t${n - 1}`);
        await new Promise((res) => setTimeout(res, 150 + (n % 5) * 60));
        if (n % 3 === 0) {
          await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'duckgate-mirror%'`);
          kills++;
        }
      }
      writing = false;
      await writer;
      expect(kills).toBeGreaterThanOrEqual(4);
      const want = (await pgQuery<{ t: string }>(db.url, `SELECT 'chaos.' || relname AS t FROM pg_class WHERE relnamespace = 'chaos'::regnamespace AND relkind = 'r' ORDER BY 1`)).map((x) => x.t);
      await servingAgain(r, db.url, want, 30_000);
      await until('the mirrored set equals the tables', () => JSON.stringify(r.mirror.tables().map((t) => `${t.schema}.${t.name}`).sort()) === JSON.stringify(want), 30_000);
      const sum = (await pgQuery<{ s: number; n: number }>(db.url, 'SELECT sum(v)::int AS s, count(*)::int AS n FROM chaos.acct'))[0]!;
      const d = await r.duckdb.connect();
      expect((await d.runAndReadAll('SELECT sum(v)::INT, count(*)::INT FROM chaos.acct')).getRows()).toEqual([[sum.s, sum.n]]);
      d.closeSync();
      expect(await verifyEqual(config, db.url, r.dataDir)).toEqual(want);
    } finally {
      await c.end();
      await stopMirror(r);
      await pgQuery(db.url, 'DROP SCHEMA chaos CASCADE');
    }
  });
});

describe('mirror faults on a PostgreSQL of its own (restarts)', () => {
  let server: TestPostgres | undefined;
  let port = 0;
  let base = '';
  let url = '';
  const config = mirrorTestConfig('restart', FAST);
  let r: Running | undefined;

  beforeAll(async () => {
    port = await freePort();
    base = mkdtempSync(join(tmpdir(), 'duckgate-pg-restart-'));
    chmodSync(base, 0o755);
    server = await startEmbeddedPostgres({ dataDir: base, port, walLevel: 'replica' });
    await pgQuery(server.url, 'CREATE DATABASE faults');
    url = server.url.replace(/\/postgres$/, '/faults');
    await pgQuery(url, 'CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g');
  });
  afterAll(async () => {
    await stopMirror(r);
    if (server) await mirrorDrop({ config, upstreamUrl: url }).catch(() => undefined);
    await server?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const restart = async (walLevel: 'replica' | 'logical', mode: 'fast' | 'immediate') => {
    if (mode === 'fast') await server!.stop();
    else {
      // immediate shutdown: SIGQUIT to the postmaster (pg_ctl stop -m immediate); crash recovery at start
      const pid = Number(readFileSync(join(base, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(pid, 'SIGQUIT');
      await until('the postmaster exits', () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      });
      rmSync(join(base, 'data', 'postmaster.pid'), { force: true });
    }
    server = await startEmbeddedPostgres({ dataDir: base, port, walLevel });
  };

  it('starts by itself once wal_level is fixed (restart with logical), without a duckgate restart', async () => {
    r = await startMirror(config, url);
    expect(r.mirror.problem).toMatch(/wal_level is 'replica'/);
    expect(r.mirror.status().phase).toBe('retrying');
    expect(r.mirror.notReadyReason()).toMatch(/wal_level/);
    await restart('logical', 'fast');
    expect(existsSync(join(base, 'data', 'PG_VERSION'))).toBe(true);
    await servingAgain(r, url, ['public.t'], 30_000);
    expect(await duckCount(r, 't')).toBe(1000);
    await verifyEqual(config, url, r.dataDir);
  });

  for (const mode of ['fast', 'immediate'] as const) {
    it(`resumes by itself after a PostgreSQL restart (${mode} shutdown)`, async () => {
      await pgQuery(url, `UPDATE t SET v = v + 1 WHERE id % 3 = 0; INSERT INTO t VALUES (${mode === 'fast' ? 5001 : 5002}, 0)`);
      const before = r!.phases.length;
      await restart('logical', mode);
      await until('the failure is noticed', () => r!.phases.slice(before).includes('retrying'));
      await pgQuery(url, `DELETE FROM t WHERE id = ${mode === 'fast' ? 7 : 8}`);
      await servingAgain(r!, url, ['public.t'], 30_000);
      const n = (await pgQuery<{ n: number }>(url, 'SELECT count(*)::int AS n FROM t'))[0]!.n;
      expect(await duckCount(r!, 't')).toBe(n);
      await verifyEqual(config, url, r!.dataDir);
    });
  }
});
