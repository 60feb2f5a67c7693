// Starts duckgate in-process in front of a given upstream, on free ports, with a temporary data dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startDuckgate, type Duckgate, type StartOptions } from '../../src/main.js';
import { registry } from '../../src/observability/metrics.js';

export interface TestDuckgate {
  dg: Duckgate;
  host: string;
  port: number;
  /** the upstream URL with host/port replaced by duckgate's */
  url: string;
  httpUrl: string | null;
  config: Config;
  close(): Promise<void>;
}

/** Rewrites a postgres:// URL to point at another host:port, keeping user, password and database. */
export function viaProxy(url: string, host: string, port: number): string {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  return u.toString();
}

export async function startTestDuckgate(upstreamUrl: string, overrides: Record<string, unknown> = {}, start: StartOptions = {}): Promise<TestDuckgate> {
  const dataDir = await mkdtemp(join(tmpdir(), 'duckgate-test-'));
  const config = loadConfig({
    env: {},
    overrides: {
      upstream: upstreamUrl,
      listen: '127.0.0.1:0',
      http: '127.0.0.1:0',
      dataDir,
      ...overrides,
      // Reads are strictly fresh: each waits for the mirror to reach the WAL position at its start, and
      // the suite's PostgreSQL is shared by test files writing at once on a 2-core machine. A generous
      // wait keeps a read that must run on DuckDB there; tests of the wait itself set their own.
      analytics: { freshnessWaitMs: 5_000, ...((overrides['analytics'] as Record<string, unknown> | undefined) ?? {}) },
    },
  });
  const dg = await startDuckgate(config, start);
  return {
    dg,
    host: dg.address.host,
    port: dg.address.port,
    url: viaProxy(upstreamUrl, dg.address.host, dg.address.port),
    httpUrl: dg.http ? `http://${dg.http.host}:${dg.http.port}` : null,
    config,
    async close() {
      await dg.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Mirror settings for tests: its own slot and publication (cluster-wide names), quick status and batches. */
export function quickMirror(slot: string): Record<string, unknown> {
  return { slotName: slot, publicationName: slot, statusIntervalMs: 100, batchMaxMs: 20, catalogPollMs: 0, compactionIntervalMs: 0 };
}

/** Waits until the mirror serves every named table (state 'ready' with an applied LSN). */
export async function waitForMirrorReady(t: TestDuckgate, tables: readonly string[], timeoutMs = 40_000): Promise<void> {
  const mirror = t.dg.mirror;
  if (!mirror) throw new Error('duckgate runs without a mirror (analytics or mirror disabled)');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = mirror.tables().filter((x) => x.state === 'ready' && x.appliedLsn !== null).map((x) => x.name);
    if (tables.every((name) => ready.includes(name))) return;
    if (Date.now() > deadline) throw new Error(`mirror not ready: ${JSON.stringify(mirror.tables().map((x) => [x.name, x.state]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** duckgate_queries_total of the in-process duckgate, summed over the labels given. */
export async function queries(labels: { engine?: string; reason?: string }): Promise<number> {
  const m = await registry.getSingleMetric('duckgate_queries_total')!.get();
  return m.values
    .filter((v) => (labels.engine === undefined || v.labels['engine'] === labels.engine) && (labels.reason === undefined || v.labels['reason'] === labels.reason))
    .reduce((a, v) => a + v.value, 0);
}

/** Runs fn and returns its result with the number of statements duckgate answered on DuckDB meanwhile. */
export async function onDuck<T>(fn: () => Promise<T>): Promise<{ value: T; duckdb: number }> {
  const before = await queries({ engine: 'duckdb' });
  const value = await fn();
  return { value, duckdb: (await queries({ engine: 'duckdb' })) - before };
}
