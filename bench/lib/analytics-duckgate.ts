// duckgate as a child process for bench:analytics. Unlike bench/lib/duckgate.ts (passthrough), the data
// folder is the caller's and survives the stop: the in-process DuckDB leg then reads the very DuckDB
// file duckgate served from. The mirror gets its own slot/publication names per database (a slot
// name is cluster-wide, and one cluster holds a database per row count).
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../../test/support/servers.js';
import { startChild, waitForPort, type ServerChild } from './processes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface AnalyticsDuckgate {
  /** client URL through duckgate (same user/password/database as the upstream URL) */
  url: string;
  httpPort: number;
  pid: number;
  dataDir: string;
  /** the DuckDB file the mirror serves from (duckdb.path default, relative to dataDir) */
  duckdbFile: string;
  /** duckgate's output (pino JSON lines), appended across restarts */
  logFile: string;
  tail(): string;
  stop(): Promise<void>;
}

export async function startAnalyticsDuckgate(opts: { upstreamUrl: string; dataDir: string; slotName: string; threads?: number }): Promise<AnalyticsDuckgate> {
  await mkdir(opts.dataDir, { recursive: true });
  const port = await freePort();
  const httpPort = await freePort();
  const configFile = join(opts.dataDir, 'bench.yaml');
  // JSON is YAML: no quoting pitfalls. Compaction off: the bench writes nothing, and a compaction in
  // the middle of a timing would measure the mirror, not the query path.
  const config = {
    mirror: { slotName: opts.slotName, publicationName: opts.slotName, compactionIntervalMs: 0 },
    ...(opts.threads ? { duckdb: { threads: opts.threads } } : {}),
  };
  await writeFile(configFile, JSON.stringify(config, null, 2) + '\n');
  const args = [
    join(ROOT, 'bin', 'duckgate.js'),
    'start',
    '--config', configFile,
    '--upstream', opts.upstreamUrl,
    '--listen', `127.0.0.1:${port}`,
    '--http', `127.0.0.1:${httpPort}`,
    '--data-dir', opts.dataDir,
  ];
  const proc: ServerChild = startChild(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DUCKGATE_LOG_LEVEL: process.env.DUCKGATE_LOG_LEVEL ?? 'warn' },
  });
  // every line duckgate logs (warn and up: fallbacks and their reasons) kept next to its data
  const logFile = createWriteStream(join(opts.dataDir, 'duckgate.log'), { flags: 'a' });
  proc.child.stdout!.pipe(logFile, { end: false });
  proc.child.stderr!.pipe(logFile, { end: false });
  proc.child.once('exit', () => logFile.end());
  const u = new URL(opts.upstreamUrl);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  try {
    await waitForPort('127.0.0.1', port, 60_000, proc.child);
  } catch (e) {
    await proc.stop(15_000);
    throw new Error(`duckgate did not start: ${(e as Error).message}\n--- duckgate output ---\n${proc.tail()}`);
  }
  return {
    url: u.toString(),
    httpPort,
    pid: proc.child.pid!,
    dataDir: opts.dataDir,
    duckdbFile: join(opts.dataDir, 'duckdb', 'duckgate.duckdb'),
    logFile: join(opts.dataDir, 'duckgate.log'),
    tail: () => proc.tail(),
    // SIGTERM: a graceful stop closes DuckDB (checkpointing its file) and confirms the slot
    stop: () => proc.stop(60_000),
  };
}

/** Counter values of duckgate_queries_total by "engine/reason". */
export type QueryCounts = Map<string, number>;

export async function queryCounts(httpPort: number): Promise<QueryCounts> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseQueryCounts(await res.text());
}

/** duckgate_freshness_fence_wait_seconds: how many strictly fresh DuckDB reads waited, and for how long in all. */
export async function fenceWait(httpPort: number): Promise<{ count: number; sumSeconds: number }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const read = (name: string): number => Number(new RegExp(`^${name}\\s+([0-9.eE+-]+)`, 'm').exec(text)?.[1] ?? 0);
  return { count: read('duckgate_freshness_fence_wait_seconds_count'), sumSeconds: read('duckgate_freshness_fence_wait_seconds_sum') };
}

/** Reads `duckgate_queries_total{engine="duckdb",reason="analytical"} 12` lines from the Prometheus text. */
export function parseQueryCounts(text: string): QueryCounts {
  const out: QueryCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('duckgate_queries_total{')) continue;
    const m = /^duckgate_queries_total\{([^}]*)\}\s+([0-9.eE+-]+)/.exec(line);
    if (!m) continue;
    const labels = new Map<string, string>();
    for (const lm of m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels.set(lm[1]!, lm[2]!);
    out.set(`${labels.get('engine') ?? '?'}/${labels.get('reason') ?? '?'}`, Number(m[2]));
  }
  return out;
}

/** after - before, only the keys that moved */
export function countsDelta(before: QueryCounts, after: QueryCounts): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of after) {
    const diff = v - (before.get(k) ?? 0);
    if (diff > 0) d[k] = diff;
  }
  return d;
}

export interface ExplainRow {
  engine: string;
  reason: string;
  detail: string | null;
  /** every column of the explain row, as text */
  raw: Record<string, string | null>;
}

/** `/* duckgate: explain *\/ <sql>`: where duckgate would run it, and why, without running it. */
export async function explain(client: pg.Client, sql: string): Promise<ExplainRow> {
  const res = await client.query<Record<string, unknown>>(`/* duckgate: explain */ ${sql}`);
  const row = res.rows[0] ?? {};
  const raw: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(row)) raw[k] = v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const pick = (...names: string[]): string | null => {
    for (const n of names) if (raw[n] !== undefined) return raw[n]!;
    return null;
  };
  return { engine: pick('engine', 'route') ?? '?', reason: pick('reason') ?? '?', detail: pick('detail'), raw };
}
