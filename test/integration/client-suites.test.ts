// Behaviours of real client libraries that their own test suites exercise (node-postgres with pg-cursor
// and pg-query-stream, postgres.js), here on statements duckgate answers from DuckDB: the suites
// themselves only touch generate_series and temporary tables, so through duckgate they test the relay.
// Their DuckDB-routed variants (generate_series replaced by a mirrored table, routed to DuckDB by a
// rule) passed as they do against Postgres (see /work/notes/client-findings.md); the scenarios below
// keep what those variants checked. Every answer is compared with the same client's answer from
// Postgres directly, and where a statement ran is read from duckgate_queries_total (duckgate runs
// in-process).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Cursor from 'pg-cursor';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorDrop } from '../../src/mirror/index.js';
import { createTestDatabase } from '../support/servers.js';
import { queries, onDuck, quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';

/** rows in gs (n = 0 … ROWS-1): enough for several cursor batches, small enough for seconds */
const ROWS = 20_000;
const SETUP = `
  CREATE TABLE gs (n int PRIMARY KEY);
  INSERT INTO gs SELECT g FROM generate_series(0, ${ROWS - 1}) g;
  CREATE TABLE ts_series (ts timestamp PRIMARY KEY);
  INSERT INTO ts_series SELECT generate_series('1983-12-30 00:00'::timestamp, '2013-12-30 00:00', '1 years');
  CREATE TABLE ryw (id int PRIMARY KEY, v int);
  ANALYZE;
`;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const slot = `dgcs_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const pgClients: pg.Client[] = [];
const jsClients: postgres.Sql[] = [];

beforeAll(async () => {
  db = await createTestDatabase('clisuites', SETUP);
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  // Small tables: their scans would go to Postgres on cost alone; the rule sends them to DuckDB (what
  // DuckDB cannot serve faithfully still goes to Postgres, whatever the rule says).
  await writeFile(rules, 'routing:\n  rules:\n    - table: public.gs\n      route: duckdb\n    - table: public.ts_series\n      route: duckdb\n    - table: public.ryw\n      route: duckdb\n');
  dg = await startTestDuckgate(db.url, { rules: [rules], mirror: quickMirror(slot), duckdb: { threads: 1, connections: 2 } });
  await waitForMirrorReady(dg, ['gs', 'ts_series', 'ryw']);
}, 90_000);

afterAll(async () => {
  for (const c of pgClients) await c.end().catch(() => undefined);
  for (const s of jsClients) await s.end({ timeout: 1 }).catch(() => undefined);
  await dg?.close();
  await db?.drop();
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

async function pgClient(via: 'duckgate' | 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: via === 'duckgate' ? dg.url : db.url });
  await c.connect();
  pgClients.push(c);
  return c;
}

function jsClient(via: 'duckgate' | 'postgres', opts: postgres.Options<Record<string, postgres.PostgresType>> = {}): postgres.Sql {
  const s = postgres(via === 'duckgate' ? dg.url : db.url, { max: 1, idle_timeout: 5, onnotice: () => undefined, ...opts });
  jsClients.push(s);
  return s;
}

/** The error fields a client reports, or the value when there is none. */
function outcome<T>(p: Promise<T>): Promise<T | { code: unknown; message: string }> {
  return p.catch((e: { code?: unknown; message: string }) => ({ code: e.code, message: e.message }));
}

describe('pg-cursor on a statement DuckDB answers', () => {
  const text = 'SELECT n AS num FROM gs WHERE n <= $1 ORDER BY n';

  it('read in batches, close() in the middle, then the next query and a second cursor on the same client', async () => {
    const run = async (c: pg.Client): Promise<unknown[]> => {
      const out: unknown[] = [];
      const cursor = c.query(new Cursor(text, [5000]));
      out.push((await cursor.read(100)).map((r: { num: number }) => r.num).slice(-3));
      out.push((await cursor.read(1000)).length);
      // pg-cursor's close() before the end: Close portal + Sync while the portal is suspended
      await cursor.close();
      out.push((await c.query('SELECT count(*)::int AS c FROM gs WHERE n < 10')).rows);
      const second = c.query(new Cursor(text, [3]));
      out.push(await second.read(10), await second.read(10), await second.read(10));
      await second.close();
      return out;
    };
    const want = await run(await pgClient('postgres'));
    const got = await onDuck(async () => run(await pgClient('duckgate')));
    expect(got.value).toEqual(want);
    expect(want[2]).toEqual([{ c: 10 }]);
    expect(got.duckdb).toBe(3);
  });

  it('an error raised while a cursor reads (division by zero): the same error, and the client goes on', async () => {
    const run = async (c: pg.Client): Promise<unknown[]> => {
      const cursor = c.query(new Cursor('SELECT 10 / (n - 5) AS q FROM gs WHERE n < 10 ORDER BY n'));
      const first = await outcome(cursor.read(3));
      const second = await outcome(cursor.read(3));
      // pg-cursor's close() after an error (issue 9, relay defect 1: it used to hang the next query)
      await cursor.close();
      const after = (await c.query('SELECT count(*)::int AS c FROM gs')).rows;
      return [first, second, after];
    };
    const want = await run(await pgClient('postgres'));
    const got = await run(await pgClient('duckgate'));
    expect(got).toEqual(want);
    expect(JSON.stringify(want)).toContain('22012');
    expect(want[2]).toEqual([{ c: ROWS }]);
  });

  it('pg-query-stream\'s pattern (Cursor with a small batch, read until empty, timestamps): the same rows in the same order', async () => {
    // pg-query-stream is pg-cursor read in highWaterMark-sized batches (not a dependency here: the same
    // messages, read the same way)
    const readAll = async (c: pg.Client, sql: string, batch: number): Promise<unknown[]> => {
      const cursor = c.query(new Cursor(sql, [], { rowMode: 'array' }));
      const rows: unknown[] = [];
      for (;;) {
        const got = await cursor.read(batch);
        if (got.length === 0) break;
        rows.push(...got);
      }
      await cursor.close();
      return rows;
    };
    const direct = await pgClient('postgres');
    const viaDg = await pgClient('duckgate');
    for (const [sql, batch] of [
      ['SELECT n AS num FROM gs WHERE n <= 201 ORDER BY n', 16],
      ['SELECT ts AS generate_series FROM ts_series ORDER BY ts', 1],
    ] as const) {
      const want = await readAll(direct, sql, batch);
      const got = await onDuck(() => readAll(viaDg, sql, batch));
      expect(got.value, sql).toEqual(want);
      expect(got.duckdb, sql).toBe(1);
    }
  });
});

describe('postgres.js on statements DuckDB answers', () => {
  it('cursors: batches of n, one row at a time, a callback, a break in the middle, then the next query', async () => {
    const run = async (sql: postgres.Sql): Promise<unknown[]> => {
      const out: unknown[] = [];
      let batches = 0;
      let sum = 0;
      for await (const rows of sql`select n from gs order by n`.cursor(1000)) {
        batches++;
        for (const r of rows) sum += r.n as number;
      }
      out.push(batches, sum);
      const one: number[] = [];
      for await (const [r] of sql`select n as x from gs where n between 1 and 10 order by n`.cursor()) one.push(r!.x as number);
      out.push(one);
      const sizes: number[] = [];
      await sql`select n from gs where n < 25 order by n`.cursor(10, (rows) => void sizes.push(rows.length));
      out.push(sizes);
      for await (const rows of sql`select n from gs order by n`.cursor(10)) if ((rows[0]!.n as number) >= 20) break;
      out.push((await sql`select count(*)::int as c from gs`)[0]!.c);
      return out;
    };
    const want = await run(jsClient('postgres'));
    const got = await onDuck(() => run(jsClient('duckgate')));
    expect(got.value).toEqual(want);
    expect(want.slice(0, 2)).toEqual([ROWS / 1000, (ROWS * (ROWS - 1)) / 2]);
    expect(got.duckdb).toBe(5);
  });

  it('concurrent cursors on one connection and on several (the suite\'s "concurrent cursors")', async () => {
    const run = async (sql: postgres.Sql): Promise<number[]> => {
      const xs: number[] = [];
      await Promise.all(
        [0, 1, 2, 3].map((i) => sql`select ${i}::int as a, n as x from gs where n between 1 and 2 order by n`.cursor(([x]) => void xs.push(x!.a + x!.x))),
      );
      const sums = await Promise.all(
        [0, 1, 2, 3].map(async (k) => {
          let s = 0;
          for await (const b of sql`select n from gs where n % 4 = ${k} order by n`.cursor(500)) for (const r of b) s += r.n as number;
          return s;
        }),
      );
      return [...xs.sort((a, b) => a - b), ...sums];
    };
    expect(await run(jsClient('duckgate'))).toEqual(await run(jsClient('postgres')));
    expect(await run(jsClient('duckgate', { max: 4 }))).toEqual(await run(jsClient('postgres', { max: 4 })));
  });

  it('forEach, values, raw, describe, simple, unsafe with parameters and a whole 20,000-row result', async () => {
    const run = async (sql: postgres.Sql): Promise<unknown[]> => {
      let s = 0;
      const each = await sql`select n from gs where n < 1000 order by n`.forEach((row) => void (s += row.n as number));
      const d = await sql`select n, count(*) over () as c from gs where n < ${3}`.describe();
      const big = await sql`select n from gs order by n`;
      return [
        s,
        each.count,
        each.command,
        await sql`select n, n * 2 as d from gs where n < 3 order by n`.values(),
        (await sql`select n from gs where n < 3 order by n`.raw()).map((r) => r.map((b) => String(b))),
        d.types,
        d.columns.map((c) => [c.name, c.type, c.number]),
        [...(await sql`select count(*) as c, sum(n) as s, avg(n) as a from gs`.simple())],
        [...(await sql.unsafe('select n from gs where n between $1 and $2 order by n', [5, 8]))],
        [big.length, big.count, big[big.length - 1]!.n],
        (await sql`select ts from ts_series order by ts limit 3`).map((r) => (r.ts as Date).toISOString()),
      ];
    };
    const want = await run(jsClient('postgres'));
    const got = await onDuck(() => run(jsClient('duckgate')));
    expect(got.value).toEqual(want);
    expect(want[0]).toBe(499_500);
    // all but describe (Parse/Describe only, answered by Postgres) ran on DuckDB
    expect(got.duckdb).toBe(7);
  });

  it('a pipeline of 300 statements mixing DuckDB answers, Postgres answers and errors: each gets its own answer, in order', async () => {
    const run = async (sql: postgres.Sql): Promise<unknown[]> => {
      const qs: Array<Promise<unknown>> = [];
      for (let i = 0; i < 300; i++) {
        const k = i % 5;
        if (k === 0) qs.push(sql`select count(*)::int as c from gs where n < ${i}`.then((r) => r[0]!.c));
        else if (k === 1) qs.push(sql`select ${i}::int as c`.then((r) => r[0]!.c));
        else if (k === 2) qs.push(sql`select n as c from gs where n = ${i}`.then((r) => r[0]?.c ?? null));
        else if (k === 3) qs.push(sql`select sum(n)::int as c from gs where n < ${i} and n > ${i - 10}`.then((r) => r[0]!.c));
        else qs.push(outcome(sql`select 10 / (n - ${i}) as q from gs where n = ${i}`.then((r) => r[0]!.q)));
      }
      return Promise.all(qs);
    };
    const want = await run(jsClient('postgres'));
    const got = await onDuck(() => run(jsClient('duckgate')));
    expect(got.value).toEqual(want);
    expect(want[4]).toEqual({ code: '22012', message: 'division by zero' });
    expect(got.duckdb).toBeGreaterThan(100);
  });

  it('a cursor over a statement that fails part way (22012): the same error, and the connection goes on', async () => {
    const run = async (sql: postgres.Sql): Promise<unknown[]> => {
      const got: unknown[] = [];
      const r = await outcome(
        (async () => {
          for await (const b of sql`select 10 / (n - 5) as q from gs where n < 10 order by n`.cursor(2)) got.push(b.map((x) => x.q));
        })(),
      );
      // postgres.js (3.4.9) itself gives the first query after a failed cursor a stray empty first row
      // ([undefined, row]), against Postgres as through duckgate: compared as it comes
      const after = [...(await sql`select count(*)::int as c from gs`)];
      return [got, r, after, (await sql`select count(*)::int as c from gs`)[0]!.c];
    };
    const want = await run(jsClient('postgres'));
    expect(await run(jsClient('duckgate'))).toEqual(want);
    expect(want[1]).toEqual({ code: '22012', message: 'division by zero' });
    expect(want[3]).toBe(ROWS);
  });

  it('read-your-writes in a pipeline: an INSERT and a read of the same table sent back to back, before the INSERT is answered', async () => {
    const run = async (sql: postgres.Sql): Promise<unknown[]> => {
      await sql`truncate ryw`;
      const seen: unknown[] = [];
      for (let i = 1; i <= 30; i++) {
        // postgres.js writes both statements before reading any answer
        const [, r] = await Promise.all([sql`insert into ryw values (${i}, ${i})`, sql`select count(*)::int as c, sum(v)::int as s from ryw`]);
        seen.push(r[0]);
      }
      return seen;
    };
    const want = await run(jsClient('postgres'));
    const got = await onDuck(() => run(jsClient('duckgate')));
    expect(got.value).toEqual(want);
    expect(want[29]).toEqual({ c: 30, s: 465 });
    // the reads ran on DuckDB, each after the mirror reached its own session's write
    expect(got.duckdb).toBe(30);
  });
});

describe('LISTEN/NOTIFY on a session whose statements DuckDB answers', () => {
  it('every notification reaches the client, also those that come in the same read as the end of duckgate\'s own round trip', async () => {
    // A relay in front of PostgreSQL that holds Postgres's bytes for 20 ms and delivers them in one write
    // (a slow or busy network): the ReadyForQuery ending duckgate's control round trip (Describe, checks)
    // and a NOTIFY sent meanwhile then arrive together. Frames after that ReadyForQuery were dropped.
    const target = new URL(db.url);
    const relay = createServer((down) => {
      const up = connect(Number(target.port), target.hostname);
      let held: Buffer[] = [];
      let timer: NodeJS.Timeout | null = null;
      up.on('data', (d: Buffer) => {
        held.push(d);
        timer ??= setTimeout(() => {
          timer = null;
          down.write(Buffer.concat(held));
          held = [];
        }, 20);
      });
      down.on('data', (d: Buffer) => up.write(d));
      const end = (): void => {
        up.destroy();
        down.destroy();
      };
      for (const s of [up, down]) {
        s.on('close', end);
        s.on('error', end);
      }
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayUrl = new URL(db.url);
    relayUrl.port = String((relay.address() as AddressInfo).port);
    const slow = await startTestDuckgate(relayUrl.toString(), { rules: dg.config.rules, mirror: quickMirror(`${slot}_n`), duckdb: { threads: 1, connections: 2 }, analytics: { freshnessWaitMs: 5_000 } });
    try {
      await waitForMirrorReady(slow, ['gs']);
      const listener = new pg.Client({ connectionString: slow.url });
      const notifier = new pg.Client({ connectionString: db.url });
      await listener.connect();
      await notifier.connect();
      try {
        let received = 0;
        listener.on('notification', () => received++);
        await listener.query('LISTEN dg_chan');
        let stop = false;
        let sent = 0;
        const sending = (async () => {
          while (!stop) {
            await notifier.query("NOTIFY dg_chan, 'x'");
            sent++;
            await new Promise((r) => setTimeout(r, 3));
          }
        })();
        const before = await queries({ engine: 'duckdb' });
        for (let i = 0; i < 60; i++) await listener.query('SELECT count(*) FROM gs WHERE n < $1', [i]);
        stop = true;
        await sending;
        expect((await queries({ engine: 'duckdb' })) - before).toBe(60);
        // what is still on its way arrives with the next answer at the latest
        await new Promise((r) => setTimeout(r, 200));
        await listener.query('SELECT 1');
        expect(sent).toBeGreaterThan(20);
        expect(received).toBe(sent);
      } finally {
        await listener.end().catch(() => undefined);
        await notifier.end().catch(() => undefined);
      }
    } finally {
      await slow.close();
      relay.close();
      await mirrorDrop({ config: slow.config, upstreamUrl: db.url }).catch(() => undefined);
    }
  });
});
