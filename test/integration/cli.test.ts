// The command line contract (issue 2): `duckgate --help`, flag errors, and a started child process that
// takes its settings from flags > environment > YAML file and serves /healthz and /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { options } from '../../src/config/load.js';
import { viaProxy } from '../support/duckgate.js';
import { createTestDatabase, freePort } from '../support/servers.js';
import { duckgateCli } from '../support/cli.js';

const cli = duckgateCli;

describe('duckgate --help and argument errors', () => {
  it('--help lists every flag and the environment variable of each', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const flag of ['--upstream', '--listen', '--http', '--data-dir', '--config', '--redis', '--help', '--version', 'start']) {
      expect(r.stdout, flag).toContain(flag);
    }
    for (const env of ['DUCKGATE_UPSTREAM', 'DUCKGATE_LISTEN', 'DUCKGATE_HTTP', 'DUCKGATE_DATA_DIR', 'DUCKGATE_CONFIG', 'DUCKGATE_REDIS']) {
      expect(r.stdout, env).toContain(env);
    }
    // and every environment variable the config schema reads
    for (const o of options()) if (o.option.env) expect(r.stdout, o.path).toContain(o.option.env);
  });

  it('an unknown flag exits 2 naming it', async () => {
    const r = await cli(['start', '--bogus-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--bogus-flag'/);
    expect(r.stdout).toBe('');
  });

  it('an unknown command exits 2 naming it', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('a bad --listen value exits 2 with a config error, not a stack trace', async () => {
    const r = await cli(['start', '--upstream', 'postgres://postgres@127.0.0.1:1/x', '--listen', 'not-an-address', '--http', '']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^duckgate: .*listen/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe('duckgate start (child process)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let child: ChildProcess | null = null;
  let dir = '';
  let out = '';
  let exited: Promise<number | null>;
  const ports = { yamlListen: 0, envListen: 0, flagListen: 0, yamlHttp: 0, envHttp: 0 };

  beforeAll(async () => {
    db = await createTestDatabase('cli');
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'duckgate-cli-'));
    const yaml = join(dir, 'duckgate.yaml');
    writeFileSync(yaml, `listen: 127.0.0.1:${ports.yamlListen}\nhttp: 127.0.0.1:${ports.yamlHttp}\nmirror:\n  enabled: false\n`);
    // upstream, data dir and config from the environment; listen from env AND flag (the flag wins);
    // http from the YAML file AND env (env wins)
    const proc = spawn(process.execPath, ['bin/duckgate.js', 'start', '--listen', `127.0.0.1:${ports.flagListen}`], {
      env: {
        ...process.env,
        DUCKGATE_UPSTREAM: db.url,
        DUCKGATE_DATA_DIR: join(dir, 'data'),
        DUCKGATE_CONFIG: yaml,
        DUCKGATE_LISTEN: `127.0.0.1:${ports.envListen}`,
        DUCKGATE_HTTP: `127.0.0.1:${ports.envHttp}`,
        DUCKGATE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!out.includes('duckgate is listening') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    if (!out.includes('duckgate is listening')) throw new Error(`duckgate did not start: ${out}`);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints where it listens and how to connect; flags beat env, env beats the YAML file', () => {
    expect(out).toContain(`duckgate is listening on 127.0.0.1:${ports.flagListen}`);
    expect(out).toContain(`metrics on http://127.0.0.1:${ports.envHttp}/metrics`);
    expect(out).toMatch(new RegExp(`psql postgres://postgres@127\\.0\\.0\\.1:${ports.flagListen}/${db.name}`));
  });

  it('proxies on the flag address', async () => {
    const c = new pg.Client({ connectionString: viaProxy(db.url, '127.0.0.1', ports.flagListen) });
    await c.connect();
    try {
      expect((await c.query('SELECT current_database() AS d')).rows).toEqual([{ d: db.name }]);
    } finally {
      await c.end();
    }
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    const base = `http://127.0.0.1:${ports.envHttp}`;
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('ok\n');
    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(200);
    const m = await fetch(`${base}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await m.text();
    // the connection made by the previous test was counted
    const total = /^duckgate_connections_total (\d+)/m.exec(text);
    expect(total, text.slice(0, 500)).not.toBeNull();
    expect(Number(total![1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^# TYPE duckgate_bytes_relayed_total counter/m);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('exits 0 on SIGTERM', async () => {
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
