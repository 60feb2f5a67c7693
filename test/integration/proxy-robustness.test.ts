// Bad input and failures around duckgate: each must end in a clear ErrorResponse with a real SQLSTATE
// (08P01 for protocol violations) and a closed connection where Postgres closes it (an ERROR and the
// session kept where Postgres keeps it), never a crash or a hang, while other sessions carry on.
// Upstream failures come back as Postgres itself reports them (57P01, 08006).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDuckgate, viaProxy, type TestDuckgate } from '../support/duckgate.js';
import { createTestDatabase, freePort, testPostgres, withClient } from '../support/servers.js';
import { errorFields, rawMessage, serialize, WireClient, rawExchange } from '../support/wire-client.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
/** duckgate with small limits, shared by the tests that do not need their own */
let dg: TestDuckgate;
/** a healthy session kept open through every test: bad clients must not disturb it */
let bystander: pg.Client;

const LIMITS = { maxMessageBytes: 1024, startupTimeoutMs: 500 };

beforeAll(async () => {
  db = await createTestDatabase('proxyrob', 'CREATE TABLE copy_target (n int, s text); CREATE TABLE t (n int)');
  dg = await startTestDuckgate(db.url, { limits: LIMITS });
  bystander = new pg.Client({ connectionString: dg.url });
  bystander.on('error', () => undefined);
  await bystander.connect();
});

afterAll(async () => {
  await bystander?.end().catch(() => undefined);
  await dg?.close();
  await db?.drop();
});

// ---- helpers --------------------------------------------------------------------------------------

const params = () => ({ user: 'postgres', database: db.name });

/** Reads to the end of the connection and returns the ErrorResponse fields it sent; the connection must close. */
async function expectErrorAndClose(w: WireClient, sqlstate: string, severity = 'FATAL'): Promise<Record<string, string>> {
  const msgs = await w.readUntil((m) => m.type === 'E');
  const e = msgs.at(-1);
  expect(e?.type, `messages: ${msgs.map((m) => m.type).join('')}`).toBe('E');
  const f = errorFields(e!);
  expect(f.C, f.M).toBe(sqlstate);
  expect(f.V).toBe(severity);
  expect(await w.waitClosed(), 'connection closed').toBe(true);
  expect(await w.next(100)).toBeNull();
  return f;
}

/** Other sessions carry on: the bystander still answers, and a brand-new connection works. */
async function othersStillServed(target = dg): Promise<void> {
  expect((await bystander.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  const c = new pg.Client({ connectionString: target.url });
  await c.connect();
  try {
    expect((await c.query('SELECT 2 AS ok')).rows).toEqual([{ ok: 2 }]);
  } finally {
    await c.end();
  }
}

function direct<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(db.url, fn);
}

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const activeBackends = (app: string) =>
  direct(async (c) => (await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0].n as number);


function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

// ---- malformed input -------------------------------------------------------------------------------

describe('malformed client input', () => {
  it('garbage after startup: 08P01 and closed', async () => {
    const w = await WireClient.connect(dg.host, dg.port, params());
    w.send(Buffer.from('this is not the postgres protocol\n'));
    const f = await expectErrorAndClose(w, '08P01');
    expect(f.M).toMatch(/invalid frontend message type/);
    await othersStillServed();
  });

  it('garbage instead of a startup packet (an HTTP request): closed without a reply, as Postgres does (it only logs it)', async () => {
    const w = await WireClient.open(dg.host, dg.port);
    w.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await w.waitClosed(), 'connection closed').toBe(true);
    expect(await w.next(100)).toBeNull();
    await othersStillServed();
  });

  /** Postgres answers a message body it cannot read with an ERROR and carries on: so must duckgate. */
  async function expectErrorAndCarryOn(w: WireClient, message: RegExp): Promise<void> {
    const msgs = await w.readUntil((m) => m.type === 'Z');
    expect(msgs.map((m) => m.type).join('')).toBe('EZ');
    const f = errorFields(msgs[0]!);
    expect([f.C, f.V]).toEqual(['08P01', 'ERROR']);
    expect(f.M).toMatch(message);
    const ok = await w.roundtrip([serialize.query('SELECT 7')]);
    expect(ok.map((m) => m.type).join('')).toBe('TDCZ');
    w.close();
  }

  it('a truncated Query (no string terminator): ERROR 08P01, and the session goes on (as in Postgres)', async () => {
    const w = await WireClient.connect(dg.host, dg.port, params());
    w.send(rawMessage('Q', Buffer.from('SELECT 1')));
    await expectErrorAndCarryOn(w, /invalid string in message/);
    await othersStillServed();
  });

  it('a truncated Parse (parameter count cut off): ERROR 08P01, and the session goes on (as in Postgres)', async () => {
    const w = await WireClient.connect(dg.host, dg.port, params());
    w.send(rawMessage('P', Buffer.from('s1\0SELECT 1\0\0')), serialize.sync());
    await expectErrorAndCarryOn(w, /insufficient data left in message/);
    await othersStillServed();
  });

  it('a negative message length: closed without a reply, as Postgres does (pq_getmessage only logs it)', async () => {
    const w = await WireClient.connect(dg.host, dg.port, params());
    w.send(rawMessage('Q', Buffer.from('SELECT 1\0'), -5));
    expect(await w.waitClosed(), 'connection closed').toBe(true);
    expect(await w.next(100)).toBeNull();
    await othersStillServed();
  });

  it('a truncated Bind: 08P01, and either closed (FATAL) or, as Postgres answers it, ERROR then ReadyForQuery', async () => {
    // duckgate decodes Bind only when its analytical path may take the batch; otherwise the upstream
    // judges the bytes and answers ERROR 08P01 "insufficient data left in message", session intact.
    const w = await WireClient.connect(dg.host, dg.port, params());
    try {
      w.send(serialize.parse({ text: 'SELECT $1::int' }), rawMessage('B', Buffer.from('\0\0\0\x01\0\0\0\x01')), serialize.sync());
      const msgs = await w.readUntil((m) => m.type === 'Z' || (m.type === 'E' && errorFields(m).V === 'FATAL'));
      const e = msgs.find((m) => m.type === 'E')!;
      expect(errorFields(e).C).toBe('08P01');
      expect(errorFields(e).M).toBe('insufficient data left in message');
      if (errorFields(e).V === 'FATAL') {
        expect(await w.waitClosed()).toBe(true);
      } else {
        expect(msgs.at(-1)?.type).toBe('Z');
        const ok = await w.roundtrip([serialize.query('SELECT 7')]);
        expect(ok.map((m) => m.type).join('')).toBe('TDCZ');
      }
      await othersStillServed();
    } finally {
      w.close();
    }
  });

  it('an oversized message: 08P01 as soon as its header arrives, and closed', async () => {
    const w = await WireClient.connect(dg.host, dg.port, params());
    w.send(serialize.query(`SELECT '${'x'.repeat(2000)}'`));
    const f = await expectErrorAndClose(w, '08P01');
    expect(f.M).toMatch(/exceeds the limit of 1024 bytes/);
    // only a header announcing 512 MB: rejected without waiting for (or buffering) the body
    const w2 = await WireClient.connect(dg.host, dg.port, params());
    w2.send(Buffer.concat([Buffer.from('Q'), int32(1 << 29)]));
    await expectErrorAndClose(w2, '08P01');
    // beyond Postgres's own limit (1 GB - 1 for a Query), Postgres closes without a word: so does duckgate
    const w3 = await WireClient.connect(dg.host, dg.port, params());
    w3.send(Buffer.concat([Buffer.from('Q'), int32(1 << 30)]));
    expect(await w3.waitClosed()).toBe(true);
    expect(await w3.next(100)).toBeNull();
    // a message within the limit is fine
    expect((await bystander.query(`SELECT length('${'y'.repeat(900)}') AS n`)).rows).toEqual([{ n: 900 }]);
    await othersStillServed();
  });

  it('a client that sends half a message and disconnects leaves nothing behind', async () => {
    const w = await WireClient.connect(dg.host, dg.port, { ...params(), application_name: 'dg_half_msg' });
    expect(await activeBackends('dg_half_msg')).toBe(1);
    w.send(serialize.query('SELECT 1').subarray(0, 7));
    w.socket.destroy();
    await waitFor(async () => (await activeBackends('dg_half_msg')) === 0, 'the upstream backend to go');
    await othersStillServed();
  });
});

describe('startup', () => {
  it('a startup that never completes: 08P01 after startupTimeoutMs, and closed', async () => {
    const silent = await WireClient.open(dg.host, dg.port);
    const f = await expectErrorAndClose(silent, '08P01');
    expect(f.M).toMatch(/startup did not complete within 500 ms/);
    // half a startup packet is the same
    const half = await WireClient.open(dg.host, dg.port);
    half.send(serialize.startup(params()).subarray(0, 10));
    await expectErrorAndClose(half, '08P01');
    await othersStillServed();
  });

  it('protocol 2.0: FATAL naming the versions, in the 2.0 format a client of that protocol reads (the bytes Postgres sends)', async () => {
    const body = Buffer.from('user\0postgres\0\0');
    const packet = Buffer.concat([int32(8 + body.length), int32(2 << 16), body]);
    const upstream = new URL(db.url);
    const [viaDg, direct] = await Promise.all([rawExchange(dg.host, dg.port, packet), rawExchange(upstream.hostname, Number(upstream.port), packet)]);
    expect(viaDg.toString()).toBe('EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n\0');
    expect(viaDg).toEqual(direct);
    await othersStillServed();
  });

  it('unencrypted bytes right after an SSLRequest are refused (CVE-2021-23214)', async () => {
    const w = await WireClient.open(dg.host, dg.port);
    w.send(Buffer.concat([int32(8), int32(80877103), serialize.startup(params())]));
    await expectErrorAndClose(w, '08P01');
  });

  it('GSSENCRequest is answered N and the startup continues in the clear', async () => {
    const s = netConnect({ host: dg.host, port: dg.port });
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
    s.on('error', () => undefined);
    s.write(Buffer.concat([int32(8), int32(80877104)]));
    await waitFor(() => buf.length >= 1, 'the answer byte');
    expect(buf.toString()).toBe('N');
    buf = Buffer.alloc(0);
    s.write(serialize.startup(params()));
    // ReadyForQuery ('Z', length 5, status) ends the startup replies
    await waitFor(() => buf.length >= 6 && buf.subarray(-6, -1).equals(Buffer.from([0x5a, 0, 0, 0, 5])), 'ReadyForQuery');
    expect(buf[0]).toBe(0x52); // AuthenticationOk first
    s.end(serialize.end());
  });

  it.skipIf(!testPostgres().embedded)('a message other than a password response before authentication completes: 08P01 and closed', async () => {
    const role = `md5_dgr_${process.pid}`;
    await direct(async (c) => {
      await c.query("SET password_encryption = 'md5'");
      await c.query(`DROP ROLE IF EXISTS ${role}`);
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw' IN ROLE md5_auth`);
    });
    try {
      const w = await WireClient.open(dg.host, dg.port);
      w.send(serialize.startup({ user: role, database: db.name }));
      const auth = await w.readUntil((m) => m.type === 'R');
      expect(auth.at(-1)!.body.readInt32BE(0)).toBe(5); // md5 password requested
      w.send(serialize.query('SELECT 1'));
      const f = await expectErrorAndClose(w, '08P01');
      expect(f.M).toMatch(/expected password response/);
      await othersStillServed();
    } finally {
      await direct((c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });
});

// ---- failures mid-session ---------------------------------------------------------------------------

describe('failures mid-session', () => {
  it('a client that disconnects mid-COPY FROM STDIN: the upstream rolls back and its backend goes away', async () => {
    const app = 'dg_copy_abort';
    const w = await WireClient.connect(dg.host, dg.port, { ...params(), application_name: app });
    w.send(serialize.query('COPY copy_target (n, s) FROM STDIN'));
    const g = await w.readUntil((m) => m.type === 'G' || m.type === 'E');
    expect(g.at(-1)?.type).toBe('G');
    for (let i = 0; i < 20; i++) w.send(serialize.copyData(Buffer.from(`${i}\trow ${i}\n`)));
    // let the rows reach the upstream before vanishing
    await waitFor(
      async () =>
        (await direct(async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'COPY%'", [app])).rows[0].n)) === 1,
      'the COPY to be running',
    );
    w.socket.destroy();
    await waitFor(async () => (await activeBackends(app)) === 0, 'the upstream backend to go');
    expect(await direct(async (c) => (await c.query('SELECT count(*)::int AS n FROM copy_target')).rows[0].n)).toBe(0);
    await othersStillServed();
  });

  it('the upstream backend terminated mid-query: the client gets the upstream\'s 57P01 and is closed', async () => {
    const app = 'dg_kill_me';
    const c = new pg.Client({ connectionString: dg.url, application_name: app });
    const clientErrors: Error[] = [];
    c.on('error', (e) => clientErrors.push(e));
    const ended = new Promise<void>((resolve) => c.on('end', () => resolve()));
    await c.connect();
    const sleeping = c.query('SELECT pg_sleep(30)').then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    await waitFor(
      async () => (await direct(async (d) => (await d.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [app])).rows[0].n)) === 1,
      'pg_sleep to run',
    );
    const killed = await direct(async (d) => (await d.query('SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE application_name = $1', [app])).rows);
    expect(killed).toEqual([{ k: true }]);
    const err = await sleeping;
    expect(err?.code).toBe('57P01');
    expect(err?.severity).toBe('FATAL');
    expect(err?.message).toBe('terminating connection due to administrator command');
    await ended;
    await waitFor(() => dg.dg.proxy.connectionCount === 1, 'the session to be closed (only the bystander left)');
    await othersStillServed();
  });

  it('the upstream connection lost without a word (network cut): 08006 naming the upstream, and closed', async () => {
    // A plain TCP forwarder between duckgate and the real PostgreSQL, so the test can cut the wire the way
    // a network failure or a crashed server would: no FATAL from Postgres, the socket just goes.
    const upstream = new URL(db.url);
    const pipes = new Set<Socket>();
    const forwarder = createServer((inbound) => {
      const outbound = netConnect({ host: upstream.hostname, port: Number(upstream.port) });
      for (const s of [inbound, outbound]) {
        pipes.add(s);
        s.on('error', () => undefined);
        s.on('close', () => (inbound.destroy(), outbound.destroy()));
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
    const fport = (forwarder.address() as { port: number }).port;
    const u = new URL(db.url);
    u.port = String(fport);
    const cut = await startTestDuckgate(u.toString());
    try {
      const c = new pg.Client({ connectionString: cut.url, application_name: 'dg_cut' });
      c.on('error', () => undefined);
      await c.connect();
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      const sleeping = c.query('SELECT pg_sleep(30)').then(
        () => null,
        (e: pg.DatabaseError) => e,
      );
      await waitFor(
        async () => (await direct(async (d) => (await d.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'dg_cut' AND state = 'active'")).rows[0].n)) === 1,
        'pg_sleep to run',
      );
      for (const s of pipes) s.destroy();
      const err = await sleeping;
      expect(err?.code).toBe('08006');
      expect(err?.message).toBe(`connection to upstream server at 127.0.0.1:${fport} was lost`);
      await waitFor(() => cut.dg.proxy.connectionCount === 0, 'the session to close');
      await othersStillServed();
    } finally {
      await cut.close();
      await new Promise((r) => forwarder.close(r));
    }
  });

  it('an unreachable upstream: 08006 naming the upstream address, not a hang', async () => {
    const port = await freePort();
    const dead = await startTestDuckgate(`postgres://postgres@127.0.0.1:${port}/nowhere`);
    try {
      const c = new pg.Client({ connectionString: dead.url });
      const err = (await c.connect().then(
        () => null,
        (e: pg.DatabaseError) => e,
      )) as pg.DatabaseError | null;
      expect(err?.code).toBe('08006');
      expect(err?.message).toContain(`127.0.0.1:${port}`);
      await c.end().catch(() => undefined);
      // psql shows the same message and exits 2
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn('psql', ['-X', '-d', dead.url, '-c', 'SELECT 1'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`could not connect to upstream server at 127.0.0.1:${port}`);
    } finally {
      await dead.close();
    }
  });

  it('max connections: the next client gets 53300, and a slot frees when a session ends', async () => {
    const small = await startTestDuckgate(db.url, { limits: { maxConnections: 2 } });
    const open: WireClient[] = [];
    try {
      for (let i = 0; i < 2; i++) open.push(await WireClient.connect(small.host, small.port, params()));
      const c = new pg.Client({ connectionString: small.url });
      const err = (await c.connect().then(
        () => null,
        (e: pg.DatabaseError) => e,
      )) as pg.DatabaseError | null;
      expect(err?.code).toBe('53300');
      expect(err?.message).toBe('sorry, too many clients already');
      await c.end().catch(() => undefined);
      open.shift()!.close();
      await waitFor(() => small.dg.proxy.connectionCount === 1, 'a slot to free');
      await othersStillServed(small);
    } finally {
      for (const w of open) w.close();
      await small.close();
    }
  });
});

// ---- SIGTERM ----------------------------------------------------------------------------------------

describe('SIGTERM on the duckgate process', () => {
  let child: ChildProcess | null = null;
  let dataDir = '';
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('lets a running statement finish, closes idle sessions with 57P01, refuses new connections, exits 0', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), 'duckgate-sigterm-'));
    const proc = spawn(
      process.execPath,
      ['bin/duckgate.js', 'start', '--upstream', db.url, '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, '--data-dir', dataDir],
      { cwd: process.cwd(), env: { ...process.env, DUCKGATE_LOG_LEVEL: 'warn', DUCKGATE_MIRROR: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    await waitFor(() => out.includes('duckgate is listening'), `duckgate to start (output so far: ${out})`, 30_000);
    const url = viaProxy(db.url, '127.0.0.1', port);

    const idle = new pg.Client({ connectionString: url });
    const idleError = new Promise<pg.DatabaseError>((resolve) => idle.on('error', (e) => resolve(e as pg.DatabaseError)));
    await idle.connect();
    const busy = new pg.Client({ connectionString: url, application_name: 'dg_sigterm_busy' });
    busy.on('error', () => undefined);
    await busy.connect();
    const running = busy.query("SELECT pg_sleep(1), 'finished' AS r");
    await waitFor(
      async () =>
        (await direct(async (d) => (await d.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'dg_sigterm_busy' AND state = 'active'")).rows[0].n)) === 1,
      'the busy statement to run',
    );

    proc.kill('SIGTERM');
    const e = await idleError;
    expect(e.code).toBe('57P01');
    // the listener is closed: a new connection is refused
    const refused = await new Promise<string>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port });
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('ECONNREFUSED');
    // the statement that was running completes normally
    expect((await running).rows).toEqual([{ pg_sleep: '', r: 'finished' }]);
    expect(await exited).toBe(0);
    child = null;
    await idle.end().catch(() => undefined);
    await busy.end().catch(() => undefined);
  });
});
