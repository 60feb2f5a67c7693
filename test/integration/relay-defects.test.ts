// Wire defects of the relay (issue 9), each reproduced through a real client or, where no client can
// express it, the raw wire client, and compared with PostgreSQL itself: a batch without Sync followed by
// a simple Query, errors held back in long pipelines, a cancel landing on the next statement, 32768+
// parameters, the process id a client sees, a bad startup packet length, COPY FROM STDIN the way
// tokio-postgres sends it, a client giving up, a malformed message behind a DuckDB answer, and protocol
// errors Postgres answers with an ERROR (and keeps the session) where duckgate used to close it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Cursor from 'pg-cursor';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/observability/metrics.js';
import { quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';
import { createTestDatabase, withClient } from '../support/servers.js';
import { bind, errorFields, rawMessage, serialize, WireClient, type Msg, rawExchange } from '../support/wire-client.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const slot = `dgrd_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  db = await createTestDatabase(
    'relaydef',
    `CREATE TABLE m (id int PRIMARY KEY, v int);
     INSERT INTO m SELECT g, g % 7 FROM generate_series(1, 500) g;
     CREATE SCHEMA plain;
     CREATE TABLE plain.u (k int PRIMARY KEY);
     CREATE TABLE plain.cp (n int, s text);
     CREATE TABLE plain.wide (a int, b int);
     DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = public, plain', current_database()); END $$;`,
  );
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  await writeFile(rules, 'routing:\n  cost_threshold: 0\n');
  dg = await startTestDuckgate(db.url, {
    rules: [rules],
    mirror: quickMirror(slot),
    duckdb: { threads: 1, connections: 2 },
  });
  await waitForMirrorReady(dg, ['m']);
}, 90_000);

afterAll(async () => {
  await dg?.close();
  await db?.drop();
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

// ---- helpers --------------------------------------------------------------------------------------

const params = () => ({ user: 'postgres', database: db.name });
const dgAddr = () => ({ host: dg.host, port: dg.port });
const pgAddr = () => {
  const u = new URL(db.url);
  return { host: u.hostname, port: Number(u.port) };
};

function wire(via: 'duckgate' | 'postgres', extra: Record<string, string> = {}): Promise<WireClient> {
  const a = via === 'duckgate' ? dgAddr() : pgAddr();
  return WireClient.connect(a.host, a.port, { ...params(), ...extra });
}

/** A message as compared between servers: its type, and for an error its severity and SQLSTATE. */
function shape(m: Msg): string {
  if (m.type === 'E') {
    const f = errorFields(m);
    return `E:${f.V}:${f.C}`;
  }
  return m.type;
}

/** Sends the same bytes to Postgres and to duckgate; returns both replies (shapes) up to the n-th ReadyForQuery. */
async function bothWays(msgs: Buffer[], readyCount = 1, timeoutMs = 5000): Promise<{ pg: string[]; dg: string[] }> {
  const out: Record<string, string[]> = {};
  for (const via of ['postgres', 'duckgate'] as const) {
    const c = await wire(via);
    try {
      c.send(...msgs);
      const got: string[] = [];
      let seen = 0;
      while (seen < readyCount) {
        const m = await c.next(timeoutMs).catch((e: Error) => ({ type: `timeout(${e.message})`, body: Buffer.alloc(0) }));
        if (!m) {
          got.push('closed');
          break;
        }
        got.push(shape(m));
        if (m.type.startsWith('timeout')) break;
        if (m.type === 'Z') seen++;
      }
      out[via] = got;
      // the session is still in step (unless the server closed it)
      if (!got.includes('closed') && !got.some((s) => s.startsWith('timeout'))) {
        const again = await c.roundtrip([serialize.query('SELECT 7')]);
        out[via]!.push('|', ...again.map(shape));
      }
    } finally {
      c.close();
    }
  }
  return { pg: out.postgres!, dg: out.duckgate! };
}

/** duckgate_queries_total for the DuckDB engine. */
async function duckdbAnswers(): Promise<number> {
  const m = await registry.getSingleMetric('duckgate_queries_total')!.get();
  return m.values.filter((v) => v.labels['engine'] === 'duckdb').reduce((a, v) => a + v.value, 0);
}

function direct<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(db.url, fn);
}

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A CancelRequest on a new connection; resolves once the server closed that connection. */
function cancelRequest(host: string, port: number, pid: number, secret: number, halfClose = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port, allowHalfOpen: true });
    s.on('error', reject);
    s.on('connect', () => {
      const b = Buffer.alloc(16);
      b.writeInt32BE(16, 0);
      b.writeInt32BE(80877102, 4);
      b.writeInt32BE(pid, 8);
      b.writeInt32BE(secret | 0, 12);
      if (halfClose) s.end(b);
      else s.write(b);
    });
    s.resume();
    s.on('end', () => s.end());
    s.on('close', () => resolve());
  });
}

const MIRRORED_COUNT = 'SELECT count(*) AS n FROM m';

// ---- 1. a batch without Sync followed by a simple Query ------------------------------------------------

describe('an extended batch without Sync, then a simple Query', () => {
  it('Parse then Query: answered at once, as Postgres does', async () => {
    const r = await bothWays([serialize.parse({ name: 's1', text: 'select 1' }), serialize.query('select 2 as x')]);
    expect(r.dg).toEqual(r.pg);
    expect(r.pg.slice(0, 5)).toEqual(['1', 'T', 'D', 'C', 'Z']);
  });

  it('Close (portal and statement) then Query, and the same naming a mirrored table', async () => {
    for (const q of ['select 2 as x', MIRRORED_COUNT]) {
      const r = await bothWays([serialize.close({ type: 'P', name: 'c1' }), serialize.close({ type: 'S', name: 'nope' }), serialize.query(q)]);
      expect(r.dg, q).toEqual(r.pg);
    }
    const r = await bothWays([serialize.parse({ name: 's2', text: MIRRORED_COUNT }), serialize.query(MIRRORED_COUNT), serialize.sync()], 2);
    expect(r.dg).toEqual(r.pg);
  });

  it("pg-cursor: close() after an error, then the next query on that connection answers", async () => {
    const c = new pg.Client({ connectionString: dg.url });
    await c.connect();
    try {
      const cursor = c.query(new Cursor('SELECT 1 / (g - 3) FROM generate_series(1, 5) g'));
      await expect(cursor.read(10)).rejects.toMatchObject({ code: '22012' });
      await cursor.close();
      const next = await Promise.race([c.query('SELECT 42 AS n'), new Promise((_, rej) => setTimeout(() => rej(new Error('hang')), 5000))]);
      expect((next as pg.QueryResult).rows).toEqual([{ n: 42 }]);
    } finally {
      await c.end();
    }
  });
});

// ---- 2. errors in long pipelines come back at once ---------------------------------------------------

describe('pipelined extended messages without Sync', () => {
  /** Inserts key 1 twice by Bind/Execute with no Sync; returns the ms until the 23505 arrived. */
  async function dupInsert(via: 'duckgate' | 'postgres', table: string): Promise<{ ms: number; first: string[] }> {
    const c = await wire(via);
    try {
      await c.roundtrip([serialize.query(`DELETE FROM ${table} WHERE ${table === 'u' ? 'k' : 'id'} = -1`)]);
      const cols = table === 'u' ? '(k)' : '(id, v)';
      const vals = table === 'u' ? '($1)' : '($1, 0)';
      await c.roundtrip([serialize.parse({ name: 'ins', text: `INSERT INTO ${table} ${cols} VALUES ${vals}` }), serialize.sync()]);
      const t0 = Date.now();
      for (let i = 0; i < 2; i++) c.send(bind({ statement: 'ins', params: ['-1'] }), serialize.execute({}));
      const got = await c.readUntil((m) => m.type === 'E', 5000).catch(() => [] as Msg[]);
      const ms = Date.now() - t0;
      c.send(serialize.sync());
      const rest = await c.readUntil((m) => m.type === 'Z');
      return { ms, first: [...got, ...rest].map(shape) };
    } finally {
      await direct((d) => d.query(`DELETE FROM ${table} WHERE ${table === 'u' ? 'k' : 'id'} = -1`));
      c.close();
    }
  }

  for (const table of ['u', 'm']) {
    it(`a unique-key error comes back before the Sync (${table === 'm' ? 'mirrored' : 'plain'} table)`, async () => {
      const p = await dupInsert('postgres', table);
      const d = await dupInsert('duckgate', table);
      expect(d.first).toEqual(p.first);
      expect(p.first).toEqual(['2', 'C', '2', 'E:ERROR:23505', 'Z']);
      expect(d.ms).toBeLessThan(2000);
    });
  }

  it('a batch naming a mirrored table left unfinished goes upstream after a moment: its error comes, as from Postgres', async () => {
    // Bind of a date Postgres rejects (22008); then an Execute whose length announces more than ever comes
    const msgs = [
      serialize.parse({ name: 'd0', text: 'SELECT id FROM m WHERE id = $1', types: [23] }),
      serialize.describe({ type: 'S', name: 'd0' }),
      bind({ statement: 'd0', params: ['x'] }),
      serialize.describe({ type: 'P', name: '' }),
      rawMessage('E', Buffer.from('\0\0\0\0\0'), 521),
    ];
    const r = await bothWays(msgs, 1, 2000);
    expect(r.pg.slice(0, 4)).toEqual(['1', 't', 'T', 'E:ERROR:22P02']);
    expect(r.dg.slice(0, 4)).toEqual(r.pg.slice(0, 4));
  });

  it('a single Parse naming no mirrored table goes upstream without waiting for Sync (its error comes at once)', async () => {
    for (const via of ['postgres', 'duckgate'] as const) {
      const c = await wire(via);
      try {
        c.send(serialize.parse({ text: 'SELEC oops' }), serialize.flush());
        const m = await c.next(2000);
        expect(shape(m!), via).toBe('E:ERROR:42601');
        // and without a Flush: Postgres flushes an error at once too
        await c.roundtrip([serialize.sync()]);
        c.send(serialize.parse({ text: 'SELEC oops' }));
        expect(shape((await c.next(2000))!), via).toBe('E:ERROR:42601');
        const z = await c.roundtrip([serialize.sync()]);
        expect(z.map(shape), via).toEqual(['Z']);
      } finally {
        c.close();
      }
    }
  });

  it('the analytical path still answers a whole batch (Parse/Bind/Execute/Sync sent in pieces)', async () => {
    const c = await wire('duckgate');
    try {
      const before = await duckdbAnswers();
      c.send(serialize.parse({ text: MIRRORED_COUNT }));
      await new Promise((r) => setTimeout(r, 30));
      c.send(bind({}), serialize.describe({ type: 'P', name: '' }));
      await new Promise((r) => setTimeout(r, 30));
      c.send(serialize.execute({}), serialize.sync());
      const got = await c.readUntil((m) => m.type === 'Z');
      expect(got.map((m) => m.type).join('')).toBe('12TDCZ');
      expect(got[3]!.body.subarray(6).toString()).toBe('500');
      expect((await duckdbAnswers()) - before).toBe(1);
    } finally {
      c.close();
    }
  });
});

// ---- 3. a cancel must not hit the next statement ------------------------------------------------------

describe('CancelRequest', () => {
  it('the cancel connection closes only once the signal was delivered: the next statement is never canceled', async () => {
    const c = new pg.Client({ connectionString: dg.url });
    await c.connect();
    const k = c as pg.Client & { processID: number; secretKey: number };
    try {
      let canceledNext = 0;
      for (let i = 0; i < 20; i++) {
        if (i % 2 === 0) {
          // a cancel of a running statement, then the next statement at once
          const sleeping = c.query('SELECT pg_sleep(5)').catch((e: pg.DatabaseError) => e);
          await waitFor(async () => direct(async (d) => (await d.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'")).rows[0].n === 1), 'pg_sleep');
          await cancelRequest(dg.host, dg.port, k.processID, k.secretKey);
          expect(((await sleeping) as pg.DatabaseError).code).toBe('57014');
        } else {
          // a cancel that arrives when nothing runs is ignored (Postgres ignores it while reading a
          // command); some clients half-close the cancel connection once the request is written
          await cancelRequest(dg.host, dg.port, k.processID, k.secretKey, i % 4 === 3);
        }
        try {
          await c.query('SELECT pg_sleep(0.05)');
        } catch (e) {
          if ((e as pg.DatabaseError).code === '57014') canceledNext++;
          else throw e;
        }
      }
      expect(canceledNext).toBe(0);
    } finally {
      await c.end();
    }
  });
});

describe('an upstream FATAL during a control round trip', () => {
  it("pg_terminate_backend while duckgate's own check waits on a lock: the client gets Postgres's 57P01, as directly", async () => {
    const codes: Record<string, string | undefined> = {};
    for (const via of ['postgres', 'duckgate'] as const) {
      const app = `dg_ctl_fatal_${via}`;
      const locker = new pg.Client({ connectionString: db.url });
      await locker.connect();
      const c = new pg.Client({ connectionString: via === 'duckgate' ? dg.url : db.url, application_name: app });
      c.on('error', () => undefined);
      await c.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE m IN ACCESS EXCLUSIVE MODE');
        const running = c.query(MIRRORED_COUNT).then(
          () => undefined,
          (e: pg.DatabaseError) => e.code,
        );
        await waitFor(
          async () => direct(async (d) => (await d.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [app])).rows[0].n === 1),
          'the statement to wait on the lock',
        );
        await direct((d) => d.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]));
        codes[via] = await running;
      } finally {
        await locker.query('ROLLBACK').catch(() => undefined);
        await locker.end();
        await c.end().catch(() => undefined);
      }
    }
    expect(codes).toEqual({ postgres: '57P01', duckgate: '57P01' });
  });
});

// ---- 4. 32768 parameters or more ----------------------------------------------------------------------

describe('parameter counts are unsigned 16-bit', () => {
  it('postgres.js inserts 40,000 parameters in one statement', async () => {
    const sql = postgres(dg.url, { max: 1, onnotice: () => undefined });
    try {
      const rows = Array.from({ length: 20_000 }, (_, i) => ({ a: i, b: -i }));
      await sql`DELETE FROM wide`;
      await sql`INSERT INTO wide ${sql(rows, 'a', 'b')}`;
      const [r] = await sql`SELECT count(*)::int AS n, sum(a)::int8 AS s FROM wide`;
      expect(r).toEqual({ n: 20_000, s: String((19_999 * 20_000) / 2) });
      // and the session is still in step, with a named statement of 40,000 parameter types remembered
      await sql`INSERT INTO wide ${sql(rows.slice(0, 20_000), 'a', 'b')}`;
      expect((await sql`SELECT count(*)::int AS n FROM wide`)[0]).toEqual({ n: 40_000 });
    } finally {
      await sql.end();
    }
  });

  it('a statement naming a mirrored table with 40,000 parameters (the analytical path decodes it)', async () => {
    const sql = postgres(dg.url, { max: 1, onnotice: () => undefined });
    try {
      const ids = Array.from({ length: 40_000 }, (_, i) => i + 1);
      const [r] = await sql`SELECT count(*)::int AS n FROM m WHERE id IN ${sql(ids)}`;
      expect(r).toEqual({ n: 500 });
    } finally {
      await sql.end();
    }
  });
});

// ---- 5. the process id is the upstream backend's --------------------------------------------------------

describe('BackendKeyData', () => {
  it("the client's process id is its backend's: pg_backend_pid, NOTIFY, pg_stat_activity, pg_terminate_backend", async () => {
    const c = new pg.Client({ connectionString: dg.url, application_name: 'dg_pid_check' });
    c.on('error', () => undefined);
    await c.connect();
    const pid = (c as pg.Client & { processID: number }).processID;
    expect((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p).toBe(pid);
    // a LISTEN/NOTIFY client recognises its own notifications by the pid
    const own = new Promise<number>((resolve) => c.on('notification', (n) => resolve(n.processId)));
    await c.query('LISTEN dg_pid');
    await c.query("NOTIFY dg_pid, 'me'");
    expect(await own).toBe(pid);
    expect(await direct(async (d) => (await d.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'dg_pid_check'")).rows.map((r) => r.pid))).toEqual([pid]);
    // pg_terminate_backend(processID) from another session ends exactly this one
    const ended = new Promise<void>((resolve) => c.on('end', () => resolve()));
    const other = new pg.Client({ connectionString: dg.url });
    await other.connect();
    try {
      expect((await other.query('SELECT pg_terminate_backend($1) AS ok', [pid])).rows[0].ok).toBe(true);
    } finally {
      await other.end();
    }
    await ended;
    // the pid is free again in duckgate's cancel registry once the session ended
    await waitFor(() => dg.dg.proxy.registry.find(pid, 0) === undefined && !dg.dg.proxy.registry.all().some((s) => s.key?.pid === pid), 'the registry slot');
  });

  it('sessions hand out distinct pids and secrets; a cancel with a right pid and wrong secret is ignored', async () => {
    const cs = await Promise.all([0, 1, 2].map(async () => {
      const c = new pg.Client({ connectionString: dg.url });
      await c.connect();
      return c as pg.Client & { processID: number; secretKey: number };
    }));
    try {
      const pids = new Set(cs.map((c) => c.processID));
      expect(pids.size).toBe(3);
      for (const c of cs) expect((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p).toBe(c.processID);
      const sleeping = cs[0]!.query('SELECT pg_sleep(0.3) AS s');
      await new Promise((r) => setTimeout(r, 50));
      await cancelRequest(dg.host, dg.port, cs[0]!.processID, cs[0]!.secretKey ^ 1);
      await expect(sleeping).resolves.toBeTruthy();
    } finally {
      for (const c of cs) await c.end();
    }
  });
});

// ---- 6. an invalid startup packet length ----------------------------------------------------------------

describe('startup packet', () => {
  const silentClose = rawExchange;

  it('an invalid length is closed silently, as Postgres does (a Terminate before the startup, a huge length)', async () => {
    for (const bytes of [Buffer.from([0x58, 0, 0, 0, 4]), Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 3, 0, 0])]) {
      expect((await silentClose(pgAddr().host, pgAddr().port, bytes)).length).toBe(0);
      expect((await silentClose(dg.host, dg.port, bytes)).length).toBe(0);
    }
  });

  it('node-postgres: connect() followed at once by end() raises no error (an unhandled one would end the process)', async () => {
    for (const url of [db.url, dg.url]) {
      const errors: unknown[] = [];
      const c = new pg.Client({ connectionString: url });
      c.on('error', (e) => errors.push(e));
      // pg then sends its Terminate before the startup packet: to the server, a startup packet of a
      // bad length. Against Postgres, connect() never settles and nothing is raised.
      c.connect().catch((e: unknown) => errors.push(e));
      await c.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      expect(errors.map(String), url === dg.url ? 'duckgate' : 'postgres').toEqual([]);
    }
  });
});

// ---- 7. COPY FROM STDIN the tokio-postgres way ----------------------------------------------------------

describe('COPY FROM STDIN by the extended protocol', () => {
  const copyData = (s: string) => rawMessage('d', Buffer.from(s));
  const copyDone = () => rawMessage('c', Buffer.alloc(0));

  it('Bind/Execute/Sync, CopyData, CopyDone, Sync: one ReadyForQuery, and the session goes on (also to DuckDB)', async () => {
    for (const via of ['postgres', 'duckgate'] as const) {
      const c = await wire(via);
      try {
        await c.roundtrip([serialize.parse({ name: 'cp', text: 'COPY cp (n, s) FROM STDIN' }), serialize.describe({ type: 'S', name: 'cp' }), serialize.sync()]);
        c.send(bind({ statement: 'cp' }), serialize.execute({}), serialize.sync());
        const head = await c.readUntil((m) => m.type === 'G');
        expect(head.map((m) => m.type).join(''), via).toBe('2G');
        c.send(copyData('1\ta\n2\tb\n'), copyDone(), serialize.sync());
        const tail = await c.readUntil((m) => m.type === 'Z');
        expect(tail.map(shape), via).toEqual(['C', 'Z']);
        // all at once, without waiting for CopyInResponse
        c.send(bind({ statement: 'cp' }), serialize.execute({}), serialize.sync(), copyData('3\tc\n'), copyDone(), serialize.sync());
        const all = await c.readUntil((m) => m.type === 'Z');
        expect(all.map(shape), via).toEqual(['2', 'G', 'C', 'Z']);
        // no further ReadyForQuery is due: the next statements (one answered by DuckDB) answer at once
        const q = await c.roundtrip([serialize.query(MIRRORED_COUNT)], 1);
        expect(q.map(shape), via).toEqual(['T', 'D', 'C', 'Z']);
        const ext = await c.roundtrip([serialize.parse({ text: MIRRORED_COUNT }), bind({}), serialize.describe({ type: 'P', name: '' }), serialize.execute({}), serialize.sync()]);
        expect(ext.map(shape), via).toEqual(['1', '2', 'T', 'D', 'C', 'Z']);
      } finally {
        c.close();
        await direct((d) => d.query('TRUNCATE cp'));
      }
    }
  });

  it('a simple-Query COPY with a stray Sync in the data: one ReadyForQuery', async () => {
    const r = await bothWays([serialize.query('COPY cp (n, s) FROM STDIN'), copyData('1\ta\n'), serialize.sync(), copyDone(), serialize.query(MIRRORED_COUNT)], 2);
    expect(r.dg).toEqual(r.pg);
    await direct((d) => d.query('TRUNCATE cp'));
  });

  it('a COPY that fails before it starts (invalid UTF-8), then its CopyData/CopyDone: nothing stays owed, DuckDB answers next', async () => {
    const bad = rawMessage('Q', Buffer.concat([Buffer.from('COPY cp (n, s) FRO'), Buffer.from([0xff]), Buffer.from('M STDIN\0')]));
    const r = await bothWays([bad, copyData('1\ta\n'), copyDone(), serialize.query(MIRRORED_COUNT)], 2);
    expect(r.dg).toEqual(r.pg);
    const c = await wire('duckgate');
    try {
      const before = await duckdbAnswers();
      c.send(bad, copyData('1\ta\n'), copyDone(), serialize.query(MIRRORED_COUNT));
      const got = await c.readUntil((m) => m.type === 'Z');
      expect(got.map(shape)).toEqual(['E:ERROR:22021', 'Z']);
      expect((await c.readUntil((m) => m.type === 'Z', 3000)).map(shape)).toEqual(['T', 'D', 'C', 'Z']);
      expect((await duckdbAnswers()) - before).toBe(1);
    } finally {
      c.close();
    }
  });

  it('a COPY by the extended protocol that fails on its data makes Postgres skip a Query up to the next Sync: DuckDB does not answer it either', async () => {
    // The Sync after Execute is read during COPY (dropped), so when the error comes every relayed Sync is
    // consumed and Postgres skips the Query sent meanwhile (fuzzer seed 11, session 1417)
    const msgs = [
      serialize.parse({ text: 'COPY cp (n, s) FROM STDIN' }),
      bind({}),
      serialize.execute({}),
      serialize.sync(),
      copyData('x\ty\n'),
      serialize.query(MIRRORED_COUNT),
      copyDone(),
      serialize.sync(),
    ];
    const r = await bothWays(msgs, 1);
    expect(r.pg.slice(0, 5)).toEqual(['1', '2', 'G', 'E:ERROR:22P02', 'Z']);
    expect(r.dg).toEqual(r.pg);
  });

  it('an error in an extended batch makes Postgres skip a Query up to the Sync: no ReadyForQuery is owed for it', async () => {
    // Parse fails; the Query and FunctionCall-free rest is skipped until Sync, which gives the one ReadyForQuery
    const r = await bothWays([serialize.parse({ text: 'SELEC oops' }), serialize.query('select 1'), serialize.sync(), serialize.query(MIRRORED_COUNT)], 2);
    expect(r.dg).toEqual(r.pg);
    // and the session can still be answered on DuckDB (duckgate waits for nothing more from upstream)
    const c = await wire('duckgate');
    try {
      c.send(serialize.parse({ text: 'SELEC oops' }), serialize.query('select 1'), serialize.sync());
      await c.readUntil((m) => m.type === 'Z');
      const before = await duckdbAnswers();
      const q = await c.roundtrip([serialize.query(MIRRORED_COUNT)]);
      expect(q.map(shape)).toEqual(['T', 'D', 'C', 'Z']);
      expect((await duckdbAnswers()) - before).toBe(1);
    } finally {
      c.close();
    }
  });
});

// ---- answers from duckgate itself come after the replies due before them ---------------------------------

describe('a local answer pipelined behind relayed statements', () => {
  it('SHOW duckgate.route after a slow statement: answered after it, in order', async () => {
    const c = await wire('duckgate');
    try {
      c.send(serialize.query('SELECT pg_sleep(0.3) AS slept'), serialize.query('SHOW duckgate.route'), serialize.query(MIRRORED_COUNT));
      const got = await c.readUntil((m) => m.type === 'Z');
      const second = await c.readUntil((m) => m.type === 'Z');
      const third = await c.readUntil((m) => m.type === 'Z');
      expect(got.map(shape)).toEqual(['T', 'D', 'C', 'Z']);
      expect(got[0]!.body.toString('utf8', 2, 7)).toBe('slept');
      expect(second[1]!.body.toString('utf8', 6)).toBe('auto');
      expect(third.map(shape)).toEqual(['T', 'D', 'C', 'Z']);
    } finally {
      c.close();
    }
  });

  it('in a transaction that failed upstream, the ReadyForQuery of a local answer says E', async () => {
    const c = await wire('duckgate');
    try {
      c.send(serialize.query('BEGIN'), serialize.query('SELECT 1/0'), serialize.query('SHOW duckgate.route'), serialize.query('ROLLBACK'));
      const replies: Msg[] = [];
      for (let i = 0; i < 4; i++) replies.push(...(await c.readUntil((m) => m.type === 'Z')));
      const statuses = replies.filter((m) => m.type === 'Z').map((m) => m.body.toString());
      expect(statuses).toEqual(['T', 'E', 'E', 'I']);
    } finally {
      c.close();
    }
  });
});

// ---- 8. a client that gives up --------------------------------------------------------------------------

describe('a client that gives up', () => {
  it('closing while a DuckDB-routed statement waits behind a long upstream one ends the session at once', async () => {
    const c = await wire('duckgate', { application_name: 'dg_gives_up' });
    const before = dg.dg.proxy.connectionCount;
    c.send(serialize.query('SELECT pg_sleep(3)'), serialize.query(MIRRORED_COUNT));
    await new Promise((r) => setTimeout(r, 200));
    // more behind it, then the client gives up
    c.send(serialize.query('SELECT 1'));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    c.socket.destroy();
    await waitFor(() => dg.dg.proxy.connectionCount === before - 1, 'the session to close', 2000);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

describe('a client that half-closes (FIN) in the middle of a COPY', () => {
  it('gets what Postgres says about it before the connection ends, as from Postgres', async () => {
    const out: Record<string, string[]> = {};
    for (const via of ['postgres', 'duckgate'] as const) {
      const c = await wire(via);
      c.send(serialize.query('COPY cp (n, s) FROM STDIN'));
      await c.readUntil((m) => m.type === 'G');
      c.send(rawMessage('d', Buffer.from('1\ta\n')));
      c.socket.end();
      out[via] = (await c.readUntil(() => false)).map(shape);
      expect(await c.waitClosed()).toBe(true);
    }
    expect(out.duckgate).toEqual(out.postgres);
    expect(out.postgres!.length).toBeGreaterThan(0);
  });
});

// ---- 9. the process must survive a malformed message behind a DuckDB answer ---------------------------

describe('a malformed message queued behind a statement DuckDB answers', () => {
  it('is judged by Postgres (ERROR, session kept), and the process lives on', async () => {
    const truncatedParse = rawMessage('P', Buffer.from(`\0${MIRRORED_COUNT}\0\0`));
    const r = await bothWays([serialize.query(MIRRORED_COUNT), truncatedParse, serialize.sync()], 2);
    expect(r.dg).toEqual(r.pg);
    expect(r.pg).toContain('E:ERROR:08P01');
    const c = new pg.Client({ connectionString: dg.url });
    await c.connect();
    expect((await c.query(MIRRORED_COUNT)).rows).toEqual([{ n: '500' }]);
    await c.end();
  });
});

// ---- 10. errors Postgres answers and carries on from ------------------------------------------------------

describe('protocol errors Postgres answers with an ERROR keep the session', () => {
  const bad = Buffer.from([0x27, 0xff, 0xfe, 0x27]); // '\xff\xfe': not UTF-8
  const cases: Array<[string, Buffer[], number?]> = [
    ['invalid UTF-8 in a Query', [rawMessage('Q', Buffer.concat([Buffer.from('SELECT '), bad, Buffer.from(' FROM m\0')]))]],
    ['invalid UTF-8 in a SET', [rawMessage('Q', Buffer.concat([Buffer.from('SET application_name = '), bad, Buffer.from('\0')]))]],
    ['invalid UTF-8 in a Parse naming a mirrored table', [rawMessage('P', Buffer.concat([Buffer.from('\0SELECT count(*), '), bad, Buffer.from(' FROM m\0\0\0')])), bind({}), serialize.execute({}), serialize.sync()]],
    ['invalid UTF-8 in a named Parse', [rawMessage('P', Buffer.concat([Buffer.from('n1\0SELECT '), bad, Buffer.from('\0\0\0')])), serialize.sync()]],
    ['a truncated Query', [rawMessage('Q', Buffer.from('SELECT 1'))]],
    ['a truncated Query naming a mirrored table', [rawMessage('Q', Buffer.from(MIRRORED_COUNT))]],
    ['a Parse with its parameter count cut off', [rawMessage('P', Buffer.from('s1\0SELECT 1\0\0')), serialize.sync()]],
    ['an Execute of an unknown portal', [serialize.execute({ portal: 'nope' }), serialize.sync()]],
    ['a Describe of an unknown portal', [serialize.describe({ type: 'P', name: 'nope' }), serialize.sync()]],
    ['a Describe with a bad target', [rawMessage('D', Buffer.from('Xn\0')), serialize.sync()]],
    ['a Close with a bad target', [rawMessage('C', Buffer.from('Xn\0')), serialize.sync()]],
    ['a Bind with a negative parameter length (mirrored)', [serialize.parse({ text: 'SELECT count(*) FROM m WHERE id > $1' }), rawMessage('B', Buffer.from('\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0')), serialize.execute({}), serialize.sync()]],
    ['a Bind with a bad text parameter (mirrored)', [serialize.parse({ text: 'SELECT count(*) FROM m WHERE id > $1' }), bind({ params: ['x'] }), serialize.execute({}), serialize.sync()]],
    ['a Bind with more format codes than parameters (mirrored)', [serialize.parse({ text: 'SELECT count(*) FROM m WHERE id > $1' }), bind({ params: ['1'], paramFormats: [0, 0] }), serialize.execute({}), serialize.sync()]],
    ['a Sync with a body after a batch naming a mirrored table', [serialize.parse({ text: MIRRORED_COUNT }), bind({}), serialize.execute({}), rawMessage('S', Buffer.from('xx'))]],
    ['a Flush with a body after a batch naming a mirrored table', [serialize.parse({ text: MIRRORED_COUNT }), bind({}), serialize.execute({}), rawMessage('H', Buffer.from('xx')), serialize.sync()]],
    ['a Bind with a format code 7 (mirrored)', [serialize.parse({ text: 'SELECT count(*) FROM m WHERE id >= $1' }), bind({ params: ['1'], paramFormats: [7] }), serialize.execute({}), serialize.sync()]],
    ['a Close of a statement named in invalid UTF-8', [rawMessage('C', Buffer.from([0x53, 0xff, 0])), serialize.sync()]],
    ['a Query with a byte after its terminator (mirrored)', [rawMessage('Q', Buffer.from(`${MIRRORED_COUNT}\0I`))]],
    ['a SET duckgate.route with a NUL inside', [rawMessage('Q', Buffer.from('SET duckgate.route = pos\0tgres\0'))]],
    ['an Execute with bytes after its row limit', [serialize.parse({ text: MIRRORED_COUNT }), bind({}), rawMessage('E', Buffer.from('\0\0\0\0\0\0')), serialize.sync()]],
  ];
  for (const [name, msgs, n] of cases) {
    it(name, async () => {
      const r = await bothWays(msgs, n ?? 1);
      expect(r.dg).toEqual(r.pg);
    });
  }

  it('garbage after complete messages: Postgres answers them first, then its FATAL (the bytes are judged by Postgres)', async () => {
    const garbage = Buffer.from([0xd7, 0xa1, 0x3a, 0xf7, 0xd9, 0x82, 0x18]);
    for (const via of ['postgres', 'duckgate'] as const) {
      const c = await wire(via);
      try {
        c.send(serialize.parse({ name: 'g1', text: MIRRORED_COUNT }), bind({ statement: 'g1' }), serialize.execute({}), serialize.close({ type: 'S', name: 'g1' }), serialize.sync(), garbage);
        const got = (await c.readUntil(() => false)).map(shape);
        expect(got.slice(0, 6), via).toEqual(['1', '2', 'D', 'C', '3', 'Z']);
        expect(got.slice(6).every((m) => m === 'E:FATAL:08P01'), via).toBe(true);
      } finally {
        c.close();
      }
    }
  });

  it('a password message after authentication is an unknown type, as in Postgres (not a frame to wait for)', async () => {
    // a 'p' announcing 5 MB: Postgres refuses the type at once; duckgate must not wait for the body
    const r = await bothWays([serialize.query('SELECT 1'), Buffer.from([0x70, 0x00, 0x51, 0x00, 0x00, 0x01])], 2, 3000);
    for (const got of [r.pg, r.dg]) {
      expect(got.slice(0, 4)).toEqual(['T', 'D', 'C', 'Z']);
      expect(got.at(-1)).toBe('closed');
      expect(got.slice(4, -1).every((m) => m === 'E:FATAL:08P01')).toBe(true);
    }
  });

  it('a Query naming a mirrored table sent in the middle of COPY FROM STDIN: Postgres\'s protocol error, not a hang', async () => {
    for (const via of ['postgres', 'duckgate'] as const) {
      const c = await wire(via);
      try {
        c.send(serialize.query('COPY cp (n, s) FROM STDIN'), rawMessage('d', Buffer.from('1\ta\n')), serialize.query(MIRRORED_COUNT), rawMessage('c', Buffer.alloc(0)));
        const got = (await c.readUntil(() => false, 5000)).map(shape);
        expect(got[0], via).toBe('G');
        expect(got.slice(1).every((m) => m === 'E:ERROR:08P01' || m === 'E:FATAL:08P01'), `${via}: ${got.join(' ')}`).toBe(true);
        expect(await c.waitClosed(), via).toBe(true);
      } finally {
        c.close();
      }
    }
  });

  it('an Execute longer than Postgres allows (10,000 bytes): closed at its header, not waited for', async () => {
    const r = await bothWays([serialize.query('SELECT 1'), rawMessage('E', Buffer.from('\0\0\0\0\0'), 10_070)], 2, 3000);
    expect(r.dg).toEqual(r.pg);
    expect(r.pg).toEqual(['T', 'D', 'C', 'Z', 'closed']);
  });

  it('fatal protocol violations stay fatal, as in Postgres (unknown message type, bad length)', async () => {
    // Postgres closes with unread bytes left, so its FATAL may be lost to the reset: compare what is certain
    for (const msgs of [[rawMessage('y', Buffer.from('x'))], [rawMessage('Q', Buffer.from('SELECT 1\0'), 2)]]) {
      const r = await bothWays(msgs, 1);
      for (const got of [r.pg, r.dg]) {
        expect(got.at(-1)).toBe('closed');
        expect(got.filter((m) => m !== 'closed').every((m) => m === 'E:FATAL:08P01')).toBe(true);
      }
    }
  });
});
