// Shadow execution, against a real PostgreSQL and DuckDB: with analytics.shadowSampleRate = 1 every
// DuckDB answer is run again on Postgres off the client's path and compared.
// - Answers that agree count as 'same'; while another connection keeps changing the table, samples
//   whose two runs may have read different committed states count as 'inconclusive', never 'different'.
// - A fault injected under DuckDB (the table is dropped from duckgate's publication, so the mirror
//   silently stops receiving its changes while still serving it: DuckDB's answer is then wrong) is
//   found: counted 'different', logged without values, and the statement shape goes to Postgres from
//   then on (reason shadow_difference), with Postgres's answer.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/observability/metrics.js';
import { createTestDatabase } from '../support/servers.js';
import { onDuck, queries, quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
const slot = `dgsh_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await createTestDatabase(
    'shadow',
    `CREATE TABLE t (id int PRIMARY KEY, g int NOT NULL, x numeric(10,2) NOT NULL, f float8 NOT NULL);
     INSERT INTO t SELECT i, i % 7, i * 1.25, i / 3.0 FROM generate_series(1, 5000) i;
     CREATE TABLE u (id int PRIMARY KEY, v int NOT NULL);
     INSERT INTO u SELECT i, i % 11 FROM generate_series(1, 3000) i;`,
  );
  dg = await startTestDuckgate(db.url, {
    mirror: quickMirror(slot),
    analytics: { shadowSampleRate: 1 },
    duckdb: { threads: 1, connections: 2 },
  });
  await waitForMirrorReady(dg, ['t', 'u']);
}, 90_000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await dg?.close();
  await db?.drop();
});

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  clients.push(c);
  return c;
}

async function outcomes(): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('duckgate_shadow_total')!.get();
  const out: Record<string, number> = { same: 0, different: 0, inconclusive: 0, error: 0 };
  for (const v of m.values) out[String(v.labels['outcome'])] = v.value;
  return out;
}

/** Waits until `n` more samples have been compared than in `before`. */
async function settled(before: Record<string, number>, n: number): Promise<Record<string, number>> {
  const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = await outcomes();
    if (total(now) - total(before) >= n) return Object.fromEntries(Object.keys(now).map((k) => [k, now[k]! - (before[k] ?? 0)]));
    if (Date.now() > deadline) throw new Error(`shadow comparisons did not finish: ${JSON.stringify(now)} after ${JSON.stringify(before)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('shadow execution', () => {
  it('answers that agree count as same (aggregates, floats, parameters)', async () => {
    const c = await connect(dg.url);
    const statements: Array<[string, unknown[]]> = [
      ['SELECT g, count(*), sum(x), avg(f) FROM t GROUP BY g ORDER BY g', []],
      ['SELECT v, count(*) FROM u WHERE v > $1 GROUP BY v ORDER BY v', [3]],
      ['SELECT count(*) FROM t JOIN u USING (id) WHERE t.g = u.v % 7', []],
    ];
    for (const [sql, params] of statements) {
      const before = await outcomes();
      const r = await onDuck(() => c.query(sql, params));
      expect(r.duckdb, sql).toBe(1);
      expect(await settled(before, 1), sql).toMatchObject({ same: 1, different: 0 });
    }
  });

  it('while another connection keeps writing, samples are same or inconclusive, never different', async () => {
    const c = await connect(dg.url);
    const writer = await connect(db.url);
    let stop = false;
    let id = 100_000;
    const writing = (async () => {
      while (!stop) {
        await writer.query('INSERT INTO t VALUES ($1, $2, 1.5, 0.5)', [++id, id % 7]);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const before = await outcomes();
    try {
      for (let i = 0; i < 15; i++) {
        // one comparison at a time (a sample taken while one runs is dropped): wait for each
        const b = await outcomes();
        await c.query('SELECT g, count(*), sum(x) FROM t GROUP BY g ORDER BY g');
        await settled(b, 1);
      }
    } finally {
      stop = true;
      await writing;
    }
    const got = await settled(before, 15);
    expect(got['different']).toBe(0);
    expect(got['same']! + got['inconclusive']!).toBe(15);
    console.log(`shadow under writes: ${JSON.stringify(got)}`);
  });

  it('a wrong DuckDB answer (the mirror silently stops receiving a table\'s changes) is found, and its shape goes to Postgres', async () => {
    const c = await connect(dg.url);
    const admin = await connect(db.url);
    const sql = 'SELECT v, count(*) AS n FROM u GROUP BY v ORDER BY v';
    // the injected fault: the mirror keeps serving u, but no longer hears of its changes
    await admin.query(`ALTER PUBLICATION ${slot} DROP TABLE u`);
    await admin.query('UPDATE u SET v = 100 WHERE id <= 50');
    const before = await outcomes();
    const wrong = await onDuck(() => c.query(sql));
    expect(wrong.duckdb).toBe(1);
    // (the client did get DuckDB's stale answer once: that is the fault shadow execution exists to catch)
    expect(wrong.value.rows).not.toEqual((await admin.query(sql)).rows);
    expect(await settled(before, 1)).toMatchObject({ different: 1 });
    const shadowed = await queries({ engine: 'postgres', reason: 'shadow_difference' });
    const again = await onDuck(() => c.query(sql));
    expect(again.duckdb).toBe(0);
    expect(again.value.rows).toEqual((await admin.query(sql)).rows);
    expect((await queries({ engine: 'postgres', reason: 'shadow_difference' })) - shadowed).toBe(1);
    // other shapes over the same table are not banned by it (each shape is judged by its own samples)
    expect((await onDuck(() => c.query('SELECT count(*) FROM u WHERE v < 5'))).duckdb).toBe(1);
  });
});
