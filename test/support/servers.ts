// Real servers for tests: an embedded PostgreSQL (wal_level=logical) and a redis-server child, each on a
// free port. DUCKGATE_TEST_PG_URL / DUCKGATE_TEST_REDIS_URL point the suite at existing servers instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, appendFile, chmod, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkReachableAsPostgresUser, loadEmbeddedPostgres } from '../../src/embedded.js';
import pg from 'pg';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestPostgres {
  /** superuser URL, e.g. postgres://postgres:postgres@127.0.0.1:PORT/postgres */
  url: string;
  host: string;
  port: number;
  /** true when this suite started the server itself (pg_hba is then ours: md5/SCRAM users work) */
  embedded: boolean;
  stop(): Promise<void>;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Starts an embedded PostgreSQL with logical replication enabled. pg_hba: members of the roles md5_auth
 * and scram_auth (e.g. `CREATE ROLE md5_alice LOGIN PASSWORD 'x' IN ROLE md5_auth`) must authenticate
 * with that method; everyone else is trusted on loopback.
 */
export async function startEmbeddedPostgres(
  opts: { dataDir?: string; port?: number; log?: boolean; /** default 'logical' (the mirror fault tests start one with 'replica') */ walLevel?: 'logical' | 'replica' } = {},
): Promise<TestPostgres> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'duckgate-pg-')));
  const dataDir = join(dir, 'data');
  // mkdtemp makes the folder 0700; when running as root the server runs as the postgres user and must get in.
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  await checkReachableAsPostgresUser([dir]);
  const log = opts.log ? (m: unknown) => process.stderr.write(String(m)) : () => undefined;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: opts.dataDir !== undefined,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', `wal_level=${opts.walLevel ?? 'logical'}`,
      '-c', 'max_wal_senders=20',
      '-c', 'max_replication_slots=20',
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'fsync=off',
      '-c', 'max_connections=300',
      '-c', 'shared_buffers=256MB',
    ],
    onLog: log,
    onError: log,
  });
  const { existsSync } = await import('node:fs');
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await server.initialise();
    await writeFile(
      join(dataDir, 'pg_hba.conf'),
      [
        '# written by duckgate tests',
        // PostgreSQL 15's pg_hba has no regular expressions for user names (they came in 16): a role
        // authenticates with md5 / SCRAM by being a member of md5_auth / scram_auth (created below).
        'host all +md5_auth 127.0.0.1/32 md5',
        'host all +scram_auth 127.0.0.1/32 scram-sha-256',
        'host all all 127.0.0.1/32 trust',
        'host replication all 127.0.0.1/32 trust',
        '',
      ].join('\n'),
    );
    await appendFile(join(dataDir, 'postgresql.conf'), "\npassword_encryption = 'scram-sha-256'\n");
  }
  await server.start();
  const admin = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  try {
    await admin.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'md5_auth') THEN CREATE ROLE md5_auth NOLOGIN; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scram_auth') THEN CREATE ROLE scram_auth NOLOGIN; END IF;
    END $$`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    embedded: true,
    async stop() {
      await server.stop().catch(() => undefined);
      if (opts.dataDir === undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** The suite's PostgreSQL: DUCKGATE_TEST_PG_URL if set, else the one globalSetup started. */
export function testPostgres(): TestPostgres {
  const url = process.env.DUCKGATE_TEST_PG_URL;
  if (!url) throw new Error('DUCKGATE_TEST_PG_URL is not set (test/support/global-setup.ts sets it)');
  const u = new URL(url);
  return {
    url,
    host: u.hostname,
    port: Number(u.port || 5432),
    embedded: process.env.DUCKGATE_TEST_PG_EMBEDDED === '1',
    stop: async () => undefined,
  };
}

/** Creates a fresh database (optionally from SQL) and returns its superuser URL. */
export async function createTestDatabase(
  prefix = 'dg',
  setupSql?: string,
  /** appended to CREATE DATABASE, e.g. TEMPLATE template0 LC_COLLATE 'C.utf8' */
  createOptions = '',
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const base = testPostgres();
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: base.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} ${createOptions}`);
  } finally {
    await admin.end();
  }
  const u = new URL(base.url);
  u.pathname = `/${name}`;
  const url = u.toString();
  if (setupSql) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(setupSql);
    } finally {
      await c.end();
    }
  }
  return {
    url,
    name,
    async drop() {
      const a = new pg.Client({ connectionString: base.url });
      await a.connect();
      try {
        // A logical replication slot (a mirror's) keeps a database from being dropped: drop the slots first.
        await a.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active', [name]);
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Runs fn with a fresh pg client connected to url, closing it afterwards. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

/** Starts a redis-server child on a free port (no persistence). */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start in 10s')), 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
    },
  };
}

export function testRedisUrl(): string {
  const url = process.env.DUCKGATE_TEST_REDIS_URL;
  if (!url) throw new Error('DUCKGATE_TEST_REDIS_URL is not set (test/support/global-setup.ts sets it)');
  return url;
}
