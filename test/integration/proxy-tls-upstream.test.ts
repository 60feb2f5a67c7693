// duckgate in front of a PostgreSQL reached over TLS: the one setup where the upstream really offers
// SCRAM-SHA-256-PLUS, so the mechanism rewrite is exercised for real. A dedicated embedded server is
// started here (the suite's own has no TLS, and turning it on would change every other test's footing).
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSelfSignedCert, type TestCert } from '../fixtures/tls/self-signed.js';
import { startTestDuckgate, type TestDuckgate } from '../support/duckgate.js';
import { startEmbeddedPostgres, testPostgres, type TestPostgres } from '../support/servers.js';
import { serialize, type Msg } from '../support/wire-client.js';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const USER = 'scram_tls_user';
const PASSWORD = 'tls secret';

let server: TestPostgres;
let cert: TestCert;
let dg: TestDuckgate;

/** Reads backend messages from a socket until one matches. */
function readMessages(sock: NodeJS.ReadableStream & { destroy(): void }, stop: (m: Msg) => boolean): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const out: Msg[] = [];
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5 && buf.length >= buf.readInt32BE(1) + 1) {
        const len = buf.readInt32BE(1);
        const m = { type: String.fromCharCode(buf[0]!), body: Buffer.from(buf.subarray(5, len + 1)) };
        buf = buf.subarray(len + 1);
        out.push(m);
        if (stop(m)) return resolve(out);
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(out));
  });
}

/** The SASL mechanisms offered to a startup for USER, optionally over TLS. */
async function mechanisms(host: string, port: number, tls: boolean): Promise<string[]> {
  const raw = netConnect({ host, port });
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  let sock: typeof raw = raw;
  if (tls) {
    const req = Buffer.alloc(8);
    req.writeInt32BE(8, 0);
    req.writeInt32BE(80877103, 4);
    raw.write(req);
    const answer = await new Promise<string>((resolve) => raw.once('data', (d: Buffer) => resolve(d.toString())));
    expect(answer).toBe('S');
    const t = tlsConnect({ socket: raw, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => t.once('secureConnect', resolve).once('error', reject));
    sock = t;
  }
  sock.write(serialize.startup({ user: USER, database: 'postgres' }));
  const msgs = await readMessages(sock, (m) => m.type === 'R' || m.type === 'E');
  sock.destroy();
  const r = msgs.find((m) => m.type === 'R');
  if (!r || r.body.readInt32BE(0) !== 10) throw new Error(`no SASL request: ${msgs.map((m) => m.type).join('')}`);
  return r.body.toString('utf8', 4).split('\0').filter(Boolean);
}

/** psql, asynchronously: duckgate runs in this process and must keep serving while psql waits. */
function psql(conninfo: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('psql', ['-X', '-A', '-t', '-d', conninfo, '-c', 'SELECT current_user'], { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } }, (err, stdout, stderr) => {
      const status = (err as { code?: unknown } | null)?.code;
      resolve({ code: err ? (typeof status === 'number' ? status : -1) : 0, stdout, stderr });
    });
  });
}

// Needs the embedded PostgreSQL binaries the suite uses; skipped when the suite runs on an external server.
describe.skipIf(!testPostgres().embedded)('upstream over TLS', () => {
  beforeAll(async () => {
    server = await startEmbeddedPostgres();
    cert = generateSelfSignedCert();
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      const dataDir = (await admin.query('SHOW data_directory')).rows[0].data_directory as string;
      // The server reads its key only if it owns it with mode 0600 (it runs as "postgres" when we are root).
      for (const [src, dst] of [
        [cert.cert, 'server.crt'],
        [cert.key, 'server.key'],
      ] as const) {
        const path = join(dataDir, dst);
        copyFileSync(src, path);
        chmodSync(path, 0o600);
        if (process.getuid?.() === 0) {
          const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
          const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
          chownSync(path, uid, gid);
        }
      }
      await admin.query('ALTER SYSTEM SET ssl = on');
      await admin.query('SELECT pg_reload_conf()');
      await admin.query(`CREATE ROLE ${USER} LOGIN PASSWORD '${PASSWORD}' IN ROLE scram_auth`);
      // the reload is asynchronous: wait until new connections see ssl = on
      for (let i = 0; i < 100; i++) {
        const c = new pg.Client({ connectionString: server.url });
        await c.connect();
        const on = (await c.query('SHOW ssl')).rows[0].ssl === 'on';
        await c.end();
        if (on) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await admin.end();
    }
    const cfg = { tls: { cert: cert.cert, key: cert.key }, mirror: { enabled: false } };
    dg = await startTestDuckgate(`${server.url}?sslmode=require`, cfg);
  });

  afterAll(async () => {
    await dg?.close();
    await server?.stop();
    cert?.remove();
  });

  const conninfo = (extra: string) => `host=${dg.host} port=${dg.port} dbname=postgres user=${USER} password='${PASSWORD}' ${extra}`;

  it('the upstream itself offers SCRAM-SHA-256-PLUS over TLS (so the rewrite below is not vacuous)', async () => {
    expect(await mechanisms(server.host, server.port, true)).toEqual(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
  });

  it('duckgate removes SCRAM-SHA-256-PLUS, on a plain and on a TLS client connection', async () => {
    expect(await mechanisms(dg.host, dg.port, false)).toEqual(['SCRAM-SHA-256']);
    expect(await mechanisms(dg.host, dg.port, true)).toEqual(['SCRAM-SHA-256']);
  });

  it('SCRAM through duckgate to a TLS upstream: psql on a plain client connection, pg on TLS, log in', async () => {
    const r = await psql(conninfo('sslmode=disable'));
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(USER);
    const c = new pg.Client({ host: dg.host, port: dg.port, database: 'postgres', user: USER, password: PASSWORD, ssl: { rejectUnauthorized: false } });
    await c.connect();
    try {
      expect((await c.query('SELECT current_user AS u, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ u: USER, ssl: true }]);
    } finally {
      await c.end();
    }
  });

  it('psql on TLS with channel_binding=disable logs in', async () => {
    const r = await psql(conninfo('sslmode=require channel_binding=disable'));
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(USER);
  });

  // Known limitation of relayed SCRAM with TLS on both legs: libpq on TLS that is not offered -PLUS sends
  // the gs2 flag "y" ("I support channel binding, I think you do not"); the upstream, on TLS itself,
  // supports it and rejects the exchange as a possible downgrade. The flag is covered by the client's
  // proof, so a proxy cannot rewrite it. Fix: channel_binding=disable on such clients, or proxy-side auth.
  it('psql on TLS with the default channel_binding=prefer is refused by the upstream (documented limitation)', async () => {
    const r = await psql(conninfo('sslmode=require'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/channel binding negotiation error/);
  });

  describe('sslmode as libpq means it (issue 9: verify-full used to connect with verification off)', () => {
    let other: TestCert;
    beforeAll(() => {
      other = generateSelfSignedCert('someone-else');
    });
    afterAll(() => other?.remove());

    /** Starts duckgate with the given upstream URL (host 127.0.0.1 or localhost) and logs in through it. */
    async function loginThrough(upstream: string): Promise<{ ok: true; ssl: boolean } | { ok: false; code: string; message: string }> {
      const d = await startTestDuckgate(upstream, { mirror: { enabled: false } });
      const c = new pg.Client({ host: d.host, port: d.port, user: 'postgres', database: 'postgres' });
      try {
        await c.connect();
        const ssl = (await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl as boolean;
        await c.end();
        return { ok: true, ssl };
      } catch (e) {
        const err = e as { code?: string; message: string };
        return { ok: false, code: err.code ?? '', message: err.message };
      } finally {
        await c.end().catch(() => undefined);
        await d.close();
      }
    }
    const at = (host: string, q: string) => `postgres://postgres:postgres@${host}:${server.port}/postgres?${q}`;

    it('verify-full with the right CA and host name connects over TLS', async () => {
      expect(await loginThrough(at('localhost', `sslmode=verify-full&sslrootcert=${cert.cert}`))).toEqual({ ok: true, ssl: true });
    });

    it('verify-full against a certificate for another host name fails with 08006 naming the host', async () => {
      // the server certificate says CN=localhost; 127.0.0.1 is not among its names
      const r = await loginThrough(at('127.0.0.1', `sslmode=verify-full&sslrootcert=${cert.cert}`));
      expect(r).toMatchObject({ ok: false, code: '08006' });
      expect((r as { message: string }).message).toMatch(/does not match host name "127\.0\.0\.1"/);
    });

    it('verify-full and verify-ca with a CA that did not sign the server certificate fail with 08006', async () => {
      for (const mode of ['verify-full', 'verify-ca']) {
        const r = await loginThrough(at('localhost', `sslmode=${mode}&sslrootcert=${other.cert}`));
        expect(r, mode).toMatchObject({ ok: false, code: '08006' });
        expect((r as { message: string }).message, mode).toMatch(/sslmode=verify-(full|ca)\): .*(certificate|signature)/i);
      }
    });

    it('verify-full without sslrootcert checks against the public CAs: a self-signed server fails', async () => {
      const r = await loginThrough(at('localhost', 'sslmode=verify-full'));
      expect(r).toMatchObject({ ok: false, code: '08006' });
    });

    it('verify-ca checks the chain only: the right CA passes whatever the host name', async () => {
      expect(await loginThrough(at('127.0.0.1', `sslmode=verify-ca&sslrootcert=${cert.cert}`))).toEqual({ ok: true, ssl: true });
    });

    it('require checks nothing without sslrootcert, and the chain with one (libpq compatibility)', async () => {
      expect(await loginThrough(at('127.0.0.1', 'sslmode=require'))).toEqual({ ok: true, ssl: true });
      expect(await loginThrough(at('127.0.0.1', `sslmode=require&sslrootcert=${cert.cert}`))).toEqual({ ok: true, ssl: true });
      expect(await loginThrough(at('127.0.0.1', `sslmode=require&sslrootcert=${other.cert}`))).toMatchObject({ ok: false, code: '08006' });
    });

    it('prefer uses TLS when the server offers it, for sessions and for duckgate\'s own connections', async () => {
      expect(await loginThrough(at('127.0.0.1', 'sslmode=prefer'))).toEqual({ ok: true, ssl: true });
      const d = await startTestDuckgate(at('127.0.0.1', 'sslmode=prefer'), { mirror: { enabled: false } });
      try {
        expect(d.dg.upstreamUrl).toContain('sslmode=require');
        expect((await fetch(`${d.httpUrl}/readyz`)).status).toBe(200);
      } finally {
        await d.close();
      }
    });

    it('a libpq key=value upstream string works like the URL', async () => {
      const d = await startTestDuckgate(at('127.0.0.1', 'sslmode=disable'), { mirror: { enabled: false }, upstream: `host=localhost port=${server.port} user=postgres password='postgres' dbname=postgres sslmode=verify-full sslrootcert='${cert.cert}'` });
      try {
        const c = new pg.Client({ host: d.host, port: d.port, user: 'postgres', database: 'postgres' });
        await c.connect();
        expect((await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ ssl: true }]);
        await c.end();
        const ready = await fetch(`${d.httpUrl}/readyz`);
        expect(ready.status).toBe(200);
      } finally {
        await d.close();
      }
    });
  });
});
