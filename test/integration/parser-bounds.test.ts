// Issue 9: valid SQL with thousands of nested terms overflowed the stack of the WASM parser on the main
// thread; after a few dozen such statements the parser answered "memory access out of bounds" to every
// statement of every session (all went to Postgres until restart). Through a real client against a
// mirrored table: nested statements get Postgres's own answer, another session's analytical statement
// is still parsed and served by DuckDB afterwards, and the process answers /healthz meanwhile.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/observability/metrics.js';
import { quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';
import { createTestDatabase } from '../support/servers.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const slot = `dgpb_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  db = await createTestDatabase('pbounds', 'CREATE TABLE t (id int PRIMARY KEY, g int NOT NULL); INSERT INTO t SELECT i, i % 7 FROM generate_series(1, 2000) i;');
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  await writeFile(rules, 'routing:\n  cost_threshold: 0\n');
  dg = await startTestDuckgate(db.url, { rules: [rules], mirror: quickMirror(slot), duckdb: { threads: 1, connections: 2 } });
  await waitForMirrorReady(dg, ['t']);
}, 90_000);

afterAll(async () => {
  await dg?.close();
  await db?.drop();
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

async function outcome(c: pg.Client, sql: string): Promise<unknown> {
  try {
    const r = await c.query(sql);
    return { rows: r.rows };
  } catch (e) {
    return { code: (e as { code?: string }).code };
  }
}

async function tooComplexCount(): Promise<number> {
  const m = (await registry.getSingleMetricAsString('duckgate_queries_total')).match(/duckgate_queries_total\{engine="postgres",reason="too_complex"\} (\d+)/);
  return m ? Number(m[1]) : 0;
}

describe('deeply nested statements', () => {
  it('get the same answer as from Postgres, leave the parser working for every session, and the process responsive', async () => {
    const direct = new pg.Client({ connectionString: db.url });
    const nested = new pg.Client({ connectionString: dg.url });
    const other = new pg.Client({ connectionString: dg.url });
    await Promise.all([direct.connect(), nested.connect(), other.connect()]);
    try {
      const before = await tooComplexCount();
      // /healthz is polled throughout: the slowest answer shows whether the event loop was held
      let slowest = 0;
      let polling = true;
      const poll = (async () => {
        while (polling) {
          const t0 = Date.now();
          const h = await fetch(`${dg.httpUrl}/healthz`);
          expect(h.status).toBe(200);
          slowest = Math.max(slowest, Date.now() - t0);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const shapes = [
        (n: number) => `SELECT count(*) FROM t WHERE id > ${Array(n).fill('1').join('+')} - ${n}`,
        (n: number) => `SELECT count(*) FROM t WHERE g < ${Array(n).fill('2').join('*')} / 1`,
        (n: number) => `SELECT count(*) FROM t WHERE id > ${Array(n).fill('1').join('+')} - ${n}`,
        (n: number) => `SELECT count(*) FROM t WHERE ${'NOT '.repeat(n / 5)}(g = 3) AND g = ${'('.repeat(n / 20)}3${')'.repeat(n / 20)}`,
      ];
      // 60 statements with 2,000 to 10,000+ nested terms: 45 of them used to overflow the parser's stack
      // (after about 35 overflows the parser answered "memory access out of bounds" to everything)
      for (let i = 0; i < 60; i++) {
        const sql = shapes[i % shapes.length]!(10_000 + i * 10);
        expect(await outcome(nested, sql), `statement ${i}`).toEqual(await outcome(direct, sql));
      }
      polling = false;
      await poll;
      expect(slowest).toBeLessThan(2_000);

      // another session's analytical statement is still parsed, and served by DuckDB
      const sql = 'SELECT g, count(*) AS n FROM t GROUP BY g ORDER BY g';
      const ex = await other.query(`/* duckgate: explain */ ${sql}`);
      expect(ex.rows[0]).toMatchObject({ engine: 'duckdb', reason: 'analytical', tables: 'public.t' });
      expect((await other.query(sql)).rows).toEqual((await direct.query(sql)).rows);
      // and on the session that sent them too
      expect((await nested.query(`/* duckgate: explain */ ${sql} LIMIT 5`)).rows[0]).toMatchObject({ engine: 'duckdb' });
      // each was refused by the bounds, not parsed
      expect(await tooComplexCount()).toBe(before + 60);
    } finally {
      await Promise.all([direct.end(), nested.end(), other.end()]);
    }
  }, 60_000);
});
