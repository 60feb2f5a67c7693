// duckgate as a separate process for benches: the proxy must not share a JavaScript thread with the
// load generator, or the numbers would measure the bench harness.
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../../test/support/servers.js';
import { run, startChild, waitForPort } from './processes.js';
import type { Endpoint } from './pgbench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DuckgateChild {
  endpoint: Endpoint;
  httpPort: number;
  pid: number;
  stop(): Promise<void>;
}

export type DuckgateStart = { ok: true; duckgate: DuckgateChild } | { ok: false; reason: string };

export interface DuckgateOptions {
  upstreamUrl: string;
  /** the endpoint clients use, minus host/port (user, password, database) */
  client: Endpoint;
  /** write a V8 CPU profile of the proxy into this folder on exit */
  cpuProfDir?: string;
  startTimeoutMs?: number;
  extraArgs?: string[];
  /** the script node runs (default bin/duckgate.js: dist/ if built, else the sources through tsx) */
  entry?: string;
}

/**
 * Compiles src/ to plain JavaScript in .tmp/bench-build (gitignored) and returns its cli.js, so a bench
 * measures the proxy as deployed (npm run build) rather than through the tsx loader, without creating
 * the dist/ that bin/duckgate.js would then prefer over the sources for everyone working in this tree.
 */
export async function buildForBench(): Promise<string> {
  const out = join(ROOT, '.tmp', 'bench-build');
  await rm(out, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(out, 'dist'), '--sourceMap', 'false'], { cwd: ROOT });
  // tsc emits despite type errors (exit 2): a type error elsewhere in the tree must not stop a bench
  const cli = join(out, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`build for the bench failed (${r.code}):\n${(r.stdout || r.stderr).trim().split('\n').slice(0, 10).join('\n')}`);
  // dist/config/rules.js finds the shipped rules at ../../rules, as in the package
  await symlink(join(ROOT, 'rules'), join(out, 'rules'));
  return cli;
}

export async function startDuckgate(opts: DuckgateOptions): Promise<DuckgateStart> {
  const port = await freePort();
  const httpPort = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'duckgate-bench-'));
  const nodeArgs: string[] = [];
  if (opts.cpuProfDir) {
    await mkdir(opts.cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
  }
  const args = [
    ...nodeArgs,
    opts.entry ?? join(ROOT, 'bin', 'duckgate.js'),
    'start',
    '--upstream', opts.upstreamUrl,
    '--listen', `127.0.0.1:${port}`,
    '--http', `127.0.0.1:${httpPort}`,
    '--data-dir', dataDir,
    ...(opts.extraArgs ?? []),
  ];
  const proc = startChild(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DUCKGATE_LOG_LEVEL: process.env.DUCKGATE_LOG_LEVEL ?? 'warn' },
  });
  const cleanup = async () => {
    await proc.stop(15_000);
    await rm(dataDir, { recursive: true, force: true });
  };
  const endpoint: Endpoint = { ...opts.client, host: '127.0.0.1', port };
  try {
    await waitForPort('127.0.0.1', port, opts.startTimeoutMs ?? 30_000, proc.child);
    await probe(endpoint);
  } catch (e) {
    await cleanup();
    return { ok: false, reason: `${(e as Error).message}${proc.tail() ? `\n--- duckgate output ---\n${proc.tail()}` : ''}` };
  }
  return { ok: true, duckgate: { endpoint, httpPort, pid: proc.child.pid!, stop: cleanup } };
}

/** A listening port is not a working proxy: one real query must come back. */
async function probe(e: Endpoint): Promise<void> {
  const c = new pg.Client({ host: e.host, port: e.port, user: e.user, password: e.password, database: e.database, connectionTimeoutMillis: 10_000, query_timeout: 10_000 });
  try {
    await c.connect();
    const { rows } = await c.query('SELECT 1 AS one');
    if (rows[0]?.one !== 1) throw new Error(`probe SELECT 1 returned ${JSON.stringify(rows)}`);
  } catch (e2) {
    throw new Error(`duckgate accepted the connection but did not answer SELECT 1: ${(e2 as Error).message}`);
  } finally {
    await c.end().catch(() => undefined);
  }
}
