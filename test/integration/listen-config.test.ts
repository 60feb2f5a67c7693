// Issue 9: the upstream connection string as libpq reads it (a malformed one is refused on one line), the
// Unix-domain socket listener (psql with -h <dir>), and connection slots that idle unauthenticated sockets
// cannot fill.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamTarget } from '../../src/engines/postgres/upstream.js';
import { logger } from '../../src/observability/logger.js';
import { ProxyServer } from '../../src/session/server.js';
import { generateSelfSignedCert, type TestCert } from '../fixtures/tls/self-signed.js';
import { startTestDuckgate, type TestDuckgate } from '../support/duckgate.js';
import { createTestDatabase, withClient } from '../support/servers.js';
import { serialize } from '../support/wire-client.js';
import { duckgateCli, type CliRun } from '../support/cli.js';

type Run = CliRun;

const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => duckgateCli(args, { DUCKGATE_LOG_LEVEL: 'warn', ...env });

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } }, (err, stdout, stderr) => {
      const status = (err as { code?: unknown } | null)?.code;
      resolve({ code: err ? (typeof status === 'number' ? status : -1) : 0, stdout, stderr });
    });
  });
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase('listen', 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, \'one\'), (2, \'two\');');
});
afterAll(async () => {
  await db?.drop();
});

describe('--upstream is a URL or a libpq key=value string, nothing else', () => {
  for (const [what, value, message] of [
    ['host:port', 'localhost:7101', /^duckgate: upstream: "localhost:7101" is neither a postgres:\/\/ URL nor a key=value connection string/],
    ['an unterminated quote', "host='db port=5432", /^duckgate: upstream: unterminated quoted string in connection info string$/m],
    ['an unknown keyword', 'host=db frobnicate=1', /^duckgate: upstream: invalid connection option "frobnicate"$/m],
    ['a URL without a host', 'postgres:///app', /^duckgate: upstream: no host given/],
  ] as const) {
    it(`${what} exits 2 with one line, no stack trace`, async () => {
      const r = await cli(['start', '--upstream', value, '--http', '', '--listen', '127.0.0.1:0']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    });
  }

  it('mirror verify refuses it the same way', async () => {
    const r = await cli(['mirror', 'verify', '--upstream', 'localhost:7101']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/neither a postgres:\/\/ URL nor a key=value/);
  });

  it('a key=value string proxies to the server it names (port and database as given)', async () => {
    const u = new URL(db.url);
    const conninfo = `host=${u.hostname} port=${u.port} user=${u.username} password='${decodeURIComponent(u.password)}' dbname=${db.name}`;
    const t = await startTestDuckgate(db.url, { upstream: conninfo, mirror: { enabled: false } });
    try {
      expect(t.dg.upstreamUrl).toBe(`postgres://${u.username}:${u.password}@${u.hostname}:${u.port}/${db.name}`);
      await withClient(t.url, async (c) => {
        expect((await c.query('SELECT current_database() AS d, inet_server_port() AS p')).rows).toEqual([{ d: db.name, p: Number(u.port) }]);
      });
    } finally {
      await t.close();
    }
  });
});

describe('sslmode=prefer against a server without TLS', () => {
  it('sessions and duckgate\'s own connections (/readyz) fall back to plain, as libpq does', async () => {
    const t = await startTestDuckgate(`${db.url}?sslmode=prefer`, { mirror: { enabled: false } });
    try {
      await withClient(t.url.replace('?sslmode=prefer', ''), async (c) => {
        expect((await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ ssl: false }]);
      });
      // node-postgres alone would insist on TLS for prefer and fail: /readyz was 503
      expect((await fetch(`${t.httpUrl}/readyz`)).status).toBe(200);
      expect(t.dg.upstreamUrl).not.toContain('sslmode=prefer');
    } finally {
      await t.close();
    }
  });
});

describe('Unix-domain socket listener (unixSocketDir)', () => {
  let dir: string;
  let t: TestDuckgate;
  let cert: TestCert;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dgsock-'));
    // a socket file left by a process killed with -9: nothing answers on it, so it is replaced
    const stalePort = 40000 + Math.floor(Math.random() * 20000);
    const stale = join(dir, `.s.PGSQL.${stalePort}`);
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(stale)).toBe(true);
    cert = generateSelfSignedCert();
    t = await startTestDuckgate(db.url, { unixSocketDir: dir, listen: `127.0.0.1:${stalePort}`, mirror: { enabled: false }, tls: { cert: cert.cert, key: cert.key } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
    cert?.remove();
  });

  it('listens at <dir>/.s.PGSQL.<port>, replacing a stale socket file', () => {
    expect(t.dg.unixSocket).toBe(join(dir, `.s.PGSQL.${t.port}`));
    expect(existsSync(t.dg.unixSocket!)).toBe(true);
  });

  it('psql -h <dir> -p <port> connects through it and runs statements', async () => {
    const r = await run('psql', ['-X', '-A', '-t', '-h', dir, '-p', String(t.port), '-U', 'postgres', '-d', db.name, '-c', 'SELECT v FROM t ORDER BY id', '-c', 'SELECT 1/0']);
    expect(r.stdout.trim().split('\n')).toEqual(['one', 'two']);
    expect(r.stderr).toMatch(/division by zero/);
  });

  it('TLS is offered on TCP but not on the socket, as PostgreSQL answers SSLRequest there with N', async () => {
    const answer = async (opts: { path: string } | { host: string; port: number }) => {
      const sock = netConnect(opts);
      await new Promise((r) => sock.once('connect', r));
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4);
      sock.write(req);
      const a = await new Promise<string>((r) => sock.once('data', (d: Buffer) => r(d.toString('latin1', 0, 1))));
      sock.destroy();
      return a;
    };
    expect(await answer({ host: t.host, port: t.port })).toBe('S');
    expect(await answer({ path: t.dg.unixSocket! })).toBe('N');
  });

  it('node-postgres with host=<dir> connects through it, including the extended protocol', async () => {
    const c = new pg.Client({ host: dir, port: t.port, user: 'postgres', database: db.name });
    await c.connect();
    try {
      expect((await c.query('SELECT v FROM t WHERE id = $1', [2])).rows).toEqual([{ v: 'two' }]);
    } finally {
      await c.end();
    }
  });

  it('an upstream given as a socket directory (host=<dir>) is reached through <dir>/.s.PGSQL.<port>', async () => {
    // a second duckgate whose upstream is the first one's Unix-domain socket
    const u = new URL(db.url);
    const b = await startTestDuckgate(db.url, { upstream: `host=${dir} port=${t.port} user=postgres password=${decodeURIComponent(u.password)} dbname=${db.name}`, mirror: { enabled: false } });
    try {
      expect(b.dg.upstreamUrl).toBe(`postgres://postgres:${u.password}@${encodeURIComponent(dir)}:${t.port}/${db.name}`);
      await withClient(b.url, async (c) => {
        expect((await c.query('SELECT v FROM t WHERE id = $1', [1])).rows).toEqual([{ v: 'one' }]);
      });
      // /readyz: duckgate's own control connection (node-postgres) reaches it too
      expect((await fetch(`${b.httpUrl}/readyz`)).status).toBe(200);
    } finally {
      await b.close();
    }
  });

  it('a socket a running server answers on is not taken over; shutdown removes the file', async () => {
    const p = new ProxyServer({ target: upstreamTarget(db.url, 1000), limits: t.config.limits, tls: null, log: logger, analytics: null });
    await expect(p.listenUnix(dir, t.port)).rejects.toThrow(/another server is already listening on .*\.s\.PGSQL\./);
    await p.close(0);
    const path = t.dg.unixSocket!;
    expect(existsSync(path)).toBe(true);
    await t.close();
    expect(existsSync(path)).toBe(false);
  });
});

describe('connection slots: unauthenticated sockets cannot keep real clients out', () => {
  const ROLE = 'slots_plain_user';
  beforeAll(async () => {
    await withClient(db.url, async (c) => {
      await c.query(`DROP ROLE IF EXISTS ${ROLE}`);
      await c.query(`CREATE ROLE ${ROLE} LOGIN`);
    });
  });
  afterAll(async () => {
    await withClient(db.url, (c) => c.query(`DROP ROLE IF EXISTS ${ROLE}`)).catch(() => undefined);
  });

  function openIdle(host: string, port: number, n: number): Promise<Socket[]> {
    return Promise.all(
      Array.from({ length: n }, () => new Promise<Socket>((resolve, reject) => {
        const s = netConnect({ host, port });
        s.on('error', () => undefined);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      })),
    );
  }

  it('50 sockets that never send a startup packet do not stop a real client (maxConnections 10)', async () => {
    const t = await startTestDuckgate(db.url, { mirror: { enabled: false }, limits: { maxConnections: 10, maxStartupConnections: 5, reservedConnections: 1 } });
    const idle = await openIdle(t.host, t.port, 50);
    try {
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 3; i++) {
        await withClient(t.url, async (c) => {
          expect((await c.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 2 }]);
        });
      }
      expect(t.dg.proxy.slots.authenticating).toBeLessThanOrEqual(5);
      // while more idle sockets keep arriving, a client still gets in
      const more = openIdle(t.host, t.port, 30);
      await withClient(t.url, async (c) => expect((await c.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]));
      idle.push(...(await more));
      const m = await (await fetch(`${t.httpUrl}/metrics`)).text();
      expect(m).toMatch(/duckgate_connection_slots\{slot="authenticating"\} [0-5]\n/);
      expect(m).toMatch(/duckgate_connections_refused_total\{reason="startup_evicted"\} \d+/);
    } finally {
      for (const s of idle) s.destroy();
      await t.close();
    }
  });

  it('with the default limits, 1,000 trickling idle sockets leave real clients getting in at once', async () => {
    const t = await startTestDuckgate(db.url, { mirror: { enabled: false } });
    const idle: Socket[] = [];
    const latencies: number[] = [];
    try {
      // the attack: 1,000 connections that never authenticate, arriving in a trickle, while
      // real clients keep connecting
      for (let batch = 0; batch < 10; batch++) {
        idle.push(...(await openIdle(t.host, t.port, 100)));
        const t0 = Date.now();
        await withClient(t.url, async (c) => expect((await c.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]));
        latencies.push(Date.now() - t0);
      }
      expect(t.dg.proxy.slots.authenticating).toBeLessThanOrEqual(t.config.limits.maxStartupConnections);
      expect(Math.max(...latencies)).toBeLessThan(2_000);
    } finally {
      for (const s of idle) s.destroy();
      await t.close();
    }
  });

  it('connections stalled in authentication are evicted once older than a second; a burst of young ones refuses the newcomer instead', async () => {
    const SCRAM = 'slots_scram_user';
    await withClient(db.url, async (c) => {
      await c.query(`DROP ROLE IF EXISTS ${SCRAM}`);
      await c.query(`CREATE ROLE ${SCRAM} LOGIN PASSWORD 'pw' IN ROLE scram_auth`);
    });
    const t = await startTestDuckgate(db.url, { mirror: { enabled: false }, limits: { maxStartupConnections: 4 } });
    const stalled = await openIdle(t.host, t.port, 4);
    try {
      // each sends its startup packet, is asked for SCRAM by the upstream, and never answers
      for (const s of stalled) s.write(serialize.startup({ user: SCRAM, database: db.name }));
      const deadline = Date.now() + 5_000;
      while (t.dg.proxy.slots.authenticating < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      // all four are young: a newcomer is refused rather than a real client mid-authentication dropped
      const early = new pg.Client({ connectionString: t.url });
      expect(await early.connect().then(() => null, (e: { code?: string }) => e)).toMatchObject({ code: '53300' });
      await early.end().catch(() => undefined);
      // once they have stalled for over a second, the oldest makes room
      await new Promise((r) => setTimeout(r, 1_100));
      await withClient(t.url, async (c) => expect((await c.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]));
      const m = await (await fetch(`${t.httpUrl}/metrics`)).text();
      expect(m).toMatch(/duckgate_connections_refused_total\{reason="startup_full"\} [1-9]/);
    } finally {
      for (const s of stalled) s.destroy();
      await t.close();
      await withClient(db.url, (c) => c.query(`DROP ROLE IF EXISTS ${SCRAM}`)).catch(() => undefined);
    }
  });

  it('the last reservedConnections slots are for superusers only', async () => {
    const t = await startTestDuckgate(db.url, { mirror: { enabled: false }, limits: { maxConnections: 3, reservedConnections: 1, maxStartupConnections: 10 } });
    const url = (user: string) => {
      const u = new URL(t.url);
      u.username = user;
      u.password = '';
      return u.toString();
    };
    const held: pg.Client[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = new pg.Client({ connectionString: url(ROLE) });
        await c.connect();
        held.push(c);
      }
      const refused = new pg.Client({ connectionString: url(ROLE) });
      const err = await refused.connect().then(() => null, (e: { code?: string; message: string }) => e);
      await refused.end().catch(() => undefined);
      expect(err).toMatchObject({ code: '53300', message: 'remaining connection slots are reserved for roles with the SUPERUSER attribute' });
      const admin = new pg.Client({ connectionString: t.url });
      await admin.connect();
      held.push(admin);
      expect((await admin.query('SELECT current_user AS u')).rows).toEqual([{ u: 'postgres' }]);
      // every slot taken: even a superuser is refused, before authentication
      const full = new pg.Client({ connectionString: t.url });
      const err2 = await full.connect().then(() => null, (e: { code?: string }) => e);
      await full.end().catch(() => undefined);
      expect(err2).toMatchObject({ code: '53300' });
      expect(t.dg.proxy.slots).toEqual({ authenticating: 0, authenticated: 3 });
    } finally {
      for (const c of held) await c.end().catch(() => undefined);
      await t.close();
    }
  });
});
