// The mirror and the disks: a full disk under the data dir holds the mirror's position (nothing marked
// broken, nothing re-copied) and it resumes by itself when space returns; a slot that retains more WAL
// than mirror.maxRetainedWalBytes is given up and the tables copied again.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mirror, mirrorDrop, mirrorVerify, formatVerifyTable } from '../../src/mirror/index.js';
import { parseLsn } from '../../src/mirror/lsn.js';
import { registry } from '../../src/observability/metrics.js';
import { createTestDatabase, startEmbeddedPostgres, type TestPostgres } from '../support/servers.js';
import { currentLsn, mirrorTestConfig, pgQuery } from '../support/mirror-helpers.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes zeros to `file` until the file system is full. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const buf = Buffer.alloc(64 << 10);
  try {
    for (;;) writeSync(fd, buf);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

/** duckgate_mirror_slot_invalidations_total{reason="ceiling"}: slots given up past mirror.maxRetainedWalBytes */
async function ceilingInvalidations(): Promise<number> {
  const v = (await registry.getSingleMetric('duckgate_mirror_slot_invalidations_total')!.get()).values;
  return v.filter((x) => x.labels['reason'] === 'ceiling').reduce((a, x) => a + x.value, 0);
}

// a small tmpfs is the full disk (mounting one needs root)
describe.runIf(isRoot)('mirror: a full disk under the data dir', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const mnt = lazyDir('duckgate-full-');
  const dataDir = join(mnt, 'data');
  const config = mirrorTestConfig('full', { durableIntervalMs: 100, retryMinMs: 100, retryMaxMs: 1000 } as never);
  let mirror: Mirror;

  beforeAll(async () => {
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
    db = await createTestDatabase('full', 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g;');
    const duckdb = await DuckDBInstance.create(':memory:');
    mirror = new Mirror({ config, upstreamUrl: db.url, duckdb, dataDir });
    await mirror.start();
    expect(mirror.problem).toBeNull();
  });
  afterAll(async () => {
    await mirror?.stop();
    await mirrorDrop({ config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    try {
      execFileSync('umount', ['-l', mnt]);
    } catch {
      /* not mounted */
    }
    rmSync(mnt, { recursive: true, force: true });
  });

  it('holds its position while the disk is full and resumes when space returns, re-copying nothing', async () => {
    const manifest = () => JSON.parse(readFileSync(join(dataDir, 'lake', '_manifest.json'), 'utf8')) as { appliedLsn: string; tables: Record<string, { base: string[] }> };
    const slotLsn = async () => (await pgQuery<{ l: string }>(db.url, 'SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1', [config.mirror.slotName]))[0]?.l;
    fill(join(mnt, 'filler'));
    // from here nothing can be written: the manifest is frozen as it is now
    const before = manifest();
    const states = new Set<string>();
    const watch = setInterval(() => {
      for (const x of mirror.tables()) states.add(x.state);
    }, 20);
    try {
      for (let i = 0; i < 10; i++) await pgQuery(db.url, `INSERT INTO t SELECT g, repeat(md5(g::text), 20) FROM generate_series(${3000 + i * 500}, ${3499 + i * 500}) g`);
      await new Promise((r) => setTimeout(r, 1500));
      const full = manifest();
      expect(full.appliedLsn).toBe(before.appliedLsn);
      const held = await slotLsn();
      // space returns
      rmSync(join(mnt, 'filler'));
      await until('the mirror to catch up', async () => mirror.tables().every((x) => x.state === 'ready' && x.appliedLsn !== null) && (await mirror.waitFor(await currentLsn(db.url), 500)));
      await until('the lake to be durable again', () => manifest().appliedLsn !== before.appliedLsn);
      expect(states.has('error'), [...states].join(',')).toBe(false);
      expect(manifest().tables['public.t']!.base).toEqual(before.tables['public.t']!.base);
      expect(held).toBeDefined();
    } finally {
      clearInterval(watch);
    }
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
    expect(r.rows[0]!.pgRows).toBe(7000);
  }, 90_000);
});

// The group-commit flush itself on a full disk: a tiny full tmpfs mounted on one table's _delta folder,
// so the change stream's staging files still fit and only the delta Parquet write fails for lack of space.
describe.runIf(isRoot)('mirror: a delta file that cannot be written for lack of space', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const dataDir = lazyDir('duckgate-delta-');
  const config = mirrorTestConfig('delta', { durableIntervalMs: 100, retryMinMs: 100, retryMaxMs: 500 } as never);
  let mirror: Mirror;
  const deltaDir = () => join(dataDir, 'lake', 'public', 't', '_delta');

  beforeAll(async () => {
    db = await createTestDatabase('delta', 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g; CREATE TABLE u (id int PRIMARY KEY, v int); INSERT INTO u VALUES (1, 1);');
    mirror = new Mirror({ config, upstreamUrl: db.url, duckdb: await DuckDBInstance.create(':memory:'), dataDir });
    await mirror.start();
    expect(mirror.problem).toBeNull();
  });
  afterAll(async () => {
    await mirror?.stop();
    try {
      execFileSync('umount', ['-l', deltaDir()]);
    } catch {
      /* not mounted */
    }
    await mirrorDrop({ config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('changes nothing in the lake, marks nothing broken, and is written once space returns', async () => {
    const manifest = () => JSON.parse(readFileSync(join(dataDir, 'lake', '_manifest.json'), 'utf8')) as { appliedLsn: string; tables: Record<string, { base: string[]; deltas: unknown[] }> };
    const before = manifest();
    mkdirSync(deltaDir(), { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', deltaDir()]);
    fill(join(deltaDir(), 'filler'));
    const states = new Set<string>();
    const watch = setInterval(() => {
      for (const x of mirror.tables()) states.add(`${x.name}:${x.state}`);
    }, 20);
    try {
      // (the durable position may still move up to here: other databases' WAL, idle keepalives)
      const beforeUpdate = parseLsn(await currentLsn(db.url));
      await pgQuery(db.url, 'UPDATE t SET v = v || 1 WHERE id <= 500; UPDATE u SET v = 2');
      await new Promise((r) => setTimeout(r, 1500));
      // nothing became durable: the slot still holds the changes, the manifest names no half flush
      expect(parseLsn(manifest().appliedLsn) <= beforeUpdate, `${manifest().appliedLsn} moved past the update`).toBe(true);
      expect(manifest().tables['public.u']!.deltas).toEqual(before.tables['public.u']!.deltas);
      rmSync(join(deltaDir(), 'filler'));
      await until('the changes to be durable', () => manifest().tables['public.t']!.deltas.length > before.tables['public.t']!.deltas.length);
      await until('the mirror to serve', async () => mirror.tables().every((x) => x.state === 'ready' && x.appliedLsn !== null) && (await mirror.waitFor(await currentLsn(db.url), 500)));
    } finally {
      clearInterval(watch);
    }
    expect([...states].filter((x) => x.endsWith(':error'))).toEqual([]);
    expect(manifest().tables['public.t']!.base).toEqual(before.tables['public.t']!.base);
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
  }, 90_000);
});

// the case: a full disk kept the mirror from confirming anything while its slot retained WAL
describe.runIf(isRoot)('mirror: a full disk does not let the slot retain WAL without bound', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const mnt = lazyDir('duckgate-fullwal-');
  const dataDir = join(mnt, 'data');
  const config = mirrorTestConfig('fullwal', { durableIntervalMs: 100, retryMinMs: 100, retryMaxMs: 500, maxRetainedWalBytes: 16 << 20, walCheckMs: 200 } as never);
  let mirror: Mirror;

  beforeAll(async () => {
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
    db = await createTestDatabase('fullwal', 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g; CREATE TABLE churn (id int, pad text);');
    mirror = new Mirror({ config, upstreamUrl: db.url, duckdb: await DuckDBInstance.create(':memory:'), dataDir });
    await mirror.start();
    expect(mirror.problem).toBeNull();
  });
  afterAll(async () => {
    await mirror?.stop();
    await mirrorDrop({ config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    try {
      execFileSync('umount', ['-l', mnt]);
    } catch {
      /* not mounted */
    }
    rmSync(mnt, { recursive: true, force: true });
  });

  it('gives the slot up past the ceiling while the disk is full, and copies the tables again once space returns', async () => {
    const slot = async () => (await pgQuery<{ r: string }>(db.url, 'SELECT (pg_current_wal_lsn() - restart_lsn)::int8::text AS r FROM pg_replication_slots WHERE slot_name = $1', [config.mirror.slotName]))[0];
    const invalidatedBefore = await ceilingInvalidations();
    fill(join(mnt, 'filler'));
    await pgQuery(db.url, 'INSERT INTO t SELECT g, md5(g::text) FROM generate_series(2001, 2500) g');
    // ~45 MB of WAL the stuck mirror cannot confirm
    await pgQuery(db.url, "INSERT INTO churn SELECT g, repeat('x', 1000) FROM generate_series(1, 40000) g");
    // Given up: the ceiling's invalidation is counted. The mirror's next attempt makes a new slot at
    // once (and its copy fails again while the disk is full), so the gap without a slot may be too short
    // to see; what matters is that the slot there now holds no more than the ceiling.
    await until('the slot to be given up', async () => (await ceilingInvalidations()) > invalidatedBefore, 20_000);
    const after = await slot();
    if (after) expect(Number(after.r)).toBeLessThan(16 << 20);
    rmSync(join(mnt, 'filler'));
    await until('the slot to be back', async () => (await slot()) !== undefined, 20_000);
    await until('the mirror to serve again', async () => mirror.tables().some((x) => x.state === 'ready' && x.appliedLsn !== null) && (await mirror.waitFor(await currentLsn(db.url), 500)));
    expect(Number((await slot())!.r)).toBeLessThan(16 << 20);
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
    expect(r.rows.find((x) => x.table === 'public.t')!.pgRows).toBe(2500);
  }, 90_000);
});

describe('mirror: WAL retained for the slot has a ceiling', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const dataDir = lazyDir('duckgate-wal-');
  const config = mirrorTestConfig('wal', { maxRetainedWalBytes: 16 << 20, walCheckMs: 200 });

  beforeAll(async () => {
    db = await createTestDatabase('wal', 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g; CREATE TABLE churn (id int, pad text);');
  });
  afterAll(async () => {
    await mirrorDrop({ config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const run = async (f: (m: Mirror) => Promise<void>) => {
    const m = new Mirror({ config, upstreamUrl: db.url, duckdb: await DuckDBInstance.create(':memory:'), dataDir });
    await m.start();
    try {
      expect(m.problem).toBeNull();
      await f(m);
    } finally {
      await m.stop();
    }
  };
  const invalidations = ceilingInvalidations;
  const manifest = () => JSON.parse(readFileSync(join(dataDir, 'lake', '_manifest.json'), 'utf8')) as { tables: Record<string, { validFrom: string }> };

  it('a slot left behind while duckgate was down is given up at start and the tables copied again', async () => {
    await run(async () => undefined);
    const before = manifest().tables['public.t']!.validFrom;
    // ~45 MB of WAL while no mirror consumes the slot (churn is not mirrored: it has no key)
    await pgQuery(db.url, "INSERT INTO churn SELECT g, repeat('x', 1000) FROM generate_series(1, 40000) g");
    await pgQuery(db.url, 'UPDATE t SET v = v || 1 WHERE id <= 10');
    const retained = Number((await pgQuery<{ r: string }>(db.url, 'SELECT (pg_current_wal_lsn() - restart_lsn)::int8::text AS r FROM pg_replication_slots WHERE slot_name = $1', [config.mirror.slotName]))[0]!.r);
    expect(retained).toBeGreaterThan(16 << 20);
    const n0 = await invalidations();
    await run(async (m) => {
      // (at least once: on a busy shared cluster the new slot may pass the ceiling again)
      expect(await invalidations()).toBeGreaterThanOrEqual(n0 + 1);
      expect(manifest().tables['public.t']!.validFrom).not.toEqual(before);
      expect(await m.waitFor(await currentLsn(db.url), 20_000)).toBe(true);
    });
    const r = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
    const after = Number((await pgQuery<{ r: string }>(db.url, 'SELECT (pg_current_wal_lsn() - restart_lsn)::int8::text AS r FROM pg_replication_slots WHERE slot_name = $1', [config.mirror.slotName]))[0]!.r);
    expect(after).toBeLessThan(16 << 20);
  }, 60_000);

  it('decides from the slot state: lost is recreated, past the ceiling given up, unreserved warned', async () => {
    const { retentionVerdict } = await import('../../src/mirror/retention.js');
    const s = { activePid: null, retained: 100, walStatus: 'reserved', safeWalSize: null, confirmed: null };
    expect(retentionVerdict('s', s, 1000).action).toBe('keep');
    expect(retentionVerdict('s', { ...s, retained: 1001 }, 1000)).toMatchObject({ action: 'give-up', reason: 'ceiling' });
    expect(retentionVerdict('s', { ...s, retained: 1e12 }, 0).action).toBe('keep');
    expect(retentionVerdict('s', { ...s, walStatus: 'lost', retained: null }, 0)).toMatchObject({ action: 'give-up', reason: 'lost' });
    expect(retentionVerdict('s', { ...s, walStatus: 'unreserved', safeWalSize: 5 }, 0).action).toBe('warn');
    // catching up (progress since the last check): warned up to twice the ceiling, then given up
    expect(retentionVerdict('s', { ...s, retained: 1500 }, 1000, true).action).toBe('warn');
    expect(retentionVerdict('s', { ...s, retained: 2001 }, 1000, true)).toMatchObject({ action: 'give-up', reason: 'ceiling' });
    expect(retentionVerdict('s', { ...s, retained: 1500 }, 1000, false)).toMatchObject({ action: 'give-up', reason: 'ceiling' });
  });
});

// PostgreSQL's own bound: a server of its own (max_slot_wal_keep_size is cluster-wide) invalidates the slot
// while the mirror is stopped; the mirror finds it 'lost' at start, drops it and copies the tables again.
describe('mirror: a slot PostgreSQL invalidated (max_slot_wal_keep_size)', () => {
  let server: TestPostgres;
  let url: string;
  const dataDir = lazyDir('duckgate-lost-');
  const config = mirrorTestConfig('lost', { maxRetainedWalBytes: 0, walCheckMs: 200 });

  beforeAll(async () => {
    server = await startEmbeddedPostgres();
    await pgQuery(server.url, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    await pgQuery(server.url, 'SELECT pg_reload_conf()');
    url = server.url;
    await pgQuery(url, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g; CREATE TABLE churn (id int, pad text);');
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const run = async (f: (m: Mirror) => Promise<void>) => {
    const m = new Mirror({ config, upstreamUrl: url, duckdb: await DuckDBInstance.create(':memory:'), dataDir });
    await m.start();
    try {
      expect(m.problem).toBeNull();
      await f(m);
    } finally {
      await m.stop();
    }
  };
  const lost = async () => {
    const { registry } = await import('../../src/observability/metrics.js');
    const v = (await registry.getSingleMetric('duckgate_mirror_slot_invalidations_total')!.get()).values;
    return v.filter((x) => x.labels['reason'] === 'lost').reduce((a, x) => a + x.value, 0);
  };

  it('is detected at start, dropped and recreated, and the tables copied again', async () => {
    await run(async () => undefined);
    // ~45 MB of WAL and checkpoints: past max_slot_wal_keep_size the checkpointer invalidates the slot
    await pgQuery(url, "INSERT INTO churn SELECT g, repeat('x', 1000) FROM generate_series(1, 40000) g; UPDATE t SET v = 'after' WHERE id <= 10");
    await pgQuery(url, 'SELECT pg_switch_wal()');
    await pgQuery(url, 'CHECKPOINT');
    await pgQuery(url, 'CHECKPOINT');
    const status = (await pgQuery<{ s: string }>(url, 'SELECT wal_status AS s FROM pg_replication_slots WHERE slot_name = $1', [config.mirror.slotName]))[0]!.s;
    expect(status).toBe('lost');
    const n0 = await lost();
    await run(async (m) => {
      expect(await lost()).toBe(n0 + 1);
      expect(await m.waitFor(await currentLsn(url), 20_000)).toBe(true);
      const s = (await pgQuery<{ s: string }>(url, 'SELECT wal_status AS s FROM pg_replication_slots WHERE slot_name = $1', [config.mirror.slotName]))[0]!.s;
      expect(s).not.toBe('lost');
    });
    const r = await mirrorVerify({ config, upstreamUrl: url, dataDir });
    expect(r.ok, formatVerifyTable(r)).toBe(true);
    await mirrorDrop({ config, upstreamUrl: url });
  }, 90_000);
});

describe('mirror: the serving DuckDB file stays put across restarts', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const dataDir = lazyDir('duckgate-restarts-');
  const slot = `dgt_rs_${process.pid}`;

  beforeAll(async () => {
    db = await createTestDatabase('restarts', "CREATE TABLE t (id int PRIMARY KEY, k int, s text); INSERT INTO t SELECT g, g % 1000, 'row ' || (g % 5000) FROM generate_series(1, 300000) g;");
  });
  afterAll(async () => {
    await pgQuery(db.url, 'SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is one copy of the serving tables however often duckgate starts', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const { startDuckgate } = await import('../../src/main.js');
    const { quickMirror } = await import('../support/duckgate.js');
    const file = join(dataDir, 'duckdb', 'duckgate.duckdb');
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const cfg = loadConfig({ env: {}, overrides: { upstream: db.url, listen: '127.0.0.1:0', http: '', dataDir, mirror: quickMirror(slot), duckdb: { threads: 1 } } });
      const dg = await startDuckgate(cfg);
      try {
        await until('the mirror to serve t', () => dg.mirror!.tables().some((x) => x.name === 't' && x.state === 'ready' && x.appliedLsn !== null));
      } finally {
        await dg.close();
      }
      let bytes = 0;
      for (const f of [file, `${file}.wal`]) bytes += statSizeOr0(f);
      sizes.push(bytes);
    }
    // before: each start built the tables again beside the old ones (2 copies), the WAL held another
    expect(Math.max(...sizes), sizes.join(', ')).toBeLessThan(sizes[0]! * 1.3);
  }, 120_000);
});

function statSizeOr0(f: string): number {
  try {
    return readFileSync(f).length;
  } catch {
    return 0;
  }
}

/** A fresh temp path, created only by the tests that run (a filtered run leaves nothing behind). */
function lazyDir(prefix: string): string {
  return join(tmpdir(), `${prefix}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}
