// The mirror and the disks: a full disk under the data dir holds the mirror's position (nothing marked
// broken, nothing re-copied) and it resumes by itself when space returns; a slot that retains more WAL
// than mirror.maxRetainedWalBytes is given up and the tables copied again.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mirror, mirrorDrop, mirrorVerify, formatVerifyTable } from '../../src/mirror/index.js';
import { createTestDatabase } from '../support/servers.js';
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

// a small tmpfs is the full disk (mounting one needs root)
describe.runIf(isRoot)('mirror: a full disk under the data dir', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const mnt = mkdtempSync(join(tmpdir(), 'duckgate-full-'));
  const dataDir = join(mnt, 'data');
  const config = mirrorTestConfig('full', { durableIntervalMs: 100, retryMinMs: 100, retryMaxMs: 1000 } as never);
  let mirror: Mirror;

  beforeAll(async () => {
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
    const before = manifest();
    const slotLsn = async () => (await pgQuery<{ l: string }>(db.url, 'SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1', [config.mirror.slotName]))[0]?.l;
    fill(join(mnt, 'filler'));
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
