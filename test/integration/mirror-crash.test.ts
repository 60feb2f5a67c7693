// Crash test: the mirror runs as a child process (test/support/mirror-child.ts) and is killed with
// SIGKILL at random moments while writers keep changing the table; after 10 kill/restart cycles,
// mirrorVerify must find Postgres and the lake equal at the same LSN (nothing lost, nothing duplicated).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatVerifyTable, mirrorDrop, mirrorVerify } from '../../src/mirror/index.js';
import { createTestDatabase } from '../support/servers.js';
import { mirrorTestConfig, pgQuery, tempDataDir } from '../support/mirror-helpers.js';
import pg from 'pg';

const SETUP = `
CREATE TABLE acct (id bigint PRIMARY KEY, v int NOT NULL, note text);
INSERT INTO acct SELECT g, 0, 'n' || g FROM generate_series(1, 2000) g;
CREATE TABLE ledger (k text, n int, amount numeric(10,2), PRIMARY KEY (k, n));
`;

function startChild(url: string, dataDir: string, cfg: unknown): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/mirror-child.ts', url, dataDir, JSON.stringify(cfg)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // the serving tables in a DuckDB file in the data dir, as in duckgate, so its size is measured too
    env: { ...process.env, DUCKGATE_LOG_LEVEL: 'silent', DUCKGATE_TEST_DUCKDB_FILE: '1' },
  });
  const ready = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]!);
      if (out.includes('PROBLEM')) reject(new Error(out));
    });
    child.once('exit', () => reject(new Error(`child exited before READY: ${out}`)));
  });
  ready.catch(() => undefined);
  return { child, ready };
}

describe('mirror: kill -9 at random moments', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const config = mirrorTestConfig('crash', { batchMaxMs: 5, statusIntervalMs: 50 });
  const dataDir = tempDataDir();
  let writing = true;
  let writers: Promise<void>[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('mirrorcrash', SETUP);
  });
  afterAll(async () => {
    writing = false;
    await Promise.allSettled(writers);
    await mirrorDrop({ config, upstreamUrl: db.url }).catch(() => undefined);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses and duplicates nothing over 10 SIGKILL cycles', async () => {
    const writer = async (w: number) => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      let n = 0;
      try {
        while (writing) {
          n++;
          const id = 1 + ((n * 7919 + w * 31) % 2000);
          await c.query('BEGIN');
          await c.query('UPDATE acct SET v = v + 1 WHERE id = $1', [id]);
          await c.query('INSERT INTO ledger VALUES ($1, $2, $3)', [`w${w}`, n, (n % 1000) / 10]);
          if (n % 5 === 0) await c.query('DELETE FROM ledger WHERE k = $1 AND n = $2', [`w${w}`, n - 3]);
          if (n % 11 === 0) await c.query('UPDATE ledger SET n = n + 1000000 WHERE k = $1 AND n = $2', [`w${w}`, n - 1]);
          await c.query('COMMIT');
          if (n % 50 === 0) await c.query(`INSERT INTO acct SELECT g, 1, 'bulk' FROM generate_series($1::bigint, $1::bigint + 499) g`, [100_000_000 * (w + 1) + n * 1000]);
        }
      } finally {
        await c.end();
      }
    };
    writers = [0, 1].map(writer);
    for (let cycle = 0; cycle < 10; cycle++) {
      const { child, ready } = startChild(db.url, dataDir, config);
      const exited = new Promise((r) => child.once('exit', r));
      if (cycle % 2 === 0) {
        // anywhere, including during start-up or the initial snapshot
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 1700));
      } else {
        await ready;
        await new Promise((r) => setTimeout(r, Math.random() * 700));
      }
      child.kill('SIGKILL');
      await exited;
    }
    // verify while the writers still write (the comparison is at one LSN), then once more at rest
    const during = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(during.ok, formatVerifyTable(during)).toBe(true);
    writing = false;
    await Promise.all(writers);
    const after = await mirrorVerify({ config, upstreamUrl: db.url, dataDir });
    expect(after.ok, formatVerifyTable(after)).toBe(true);
    const pgRows = (await pgQuery<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM ledger'))[0]!.n;
    expect(after.rows.find((r) => r.table === 'public.ledger')!.mirrorRows).toBe(pgRows);
    expect(pgRows).toBeGreaterThan(100);
    // Storage stays put: whatever the number of kill -9 rounds, the data dir (lake + serving DuckDB file)
    // holds one copy of each (orphans of a crash removed, the serving file rebuilt fresh at start). Before,
    // each restart added a copy of the serving tables to the DuckDB file and kill -9 left its WAL behind.
    // One more start (the last round's leftovers are cleaned by a start), then measured at rest.
    const { child, ready } = startChild(db.url, dataDir, config);
    await ready;
    const stopped = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await stopped;
    const pgBytes = Number((await pgQuery<{ b: string }>(db.url, "SELECT (pg_total_relation_size('acct') + pg_total_relation_size('ledger'))::text AS b"))[0]!.b);
    const lake = duBytes(join(dataDir, 'lake'));
    const duck = duBytes(join(dataDir, 'duckdb'));
    console.log(`after 10 kill -9 rounds: data dir ${lake + duck} bytes (lake ${lake}, DuckDB ${duck}) = ${Math.round((100 * (lake + duck)) / pgBytes)}% of PostgreSQL's ${pgBytes}`);
    // the target (30% of PostgreSQL), plus 1 MiB: on tables this small the DuckDB file is mostly its
    // fixed 256 KiB blocks (~1 MiB here whatever the rows). Measured 13-18% (21% before the reset at start).
    expect(lake + duck).toBeLessThan(pgBytes * 0.3 + (1 << 20));
  }, 240_000);
});

function duBytes(p: string): number {
  let s: ReturnType<typeof statSync>;
  try {
    s = statSync(p);
  } catch {
    return 0;
  }
  return s.isDirectory() ? readdirSync(p).reduce((a, e) => a + duBytes(join(p, e)), 0) : s.size;
}
