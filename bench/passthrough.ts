// npm run bench:passthrough -- [--seconds 15] [--scale 10] [--pg-url postgres://...] [--clients 1,8] [--repeat 1] [--cpu-prof] [--tsx]
//
// What duckgate costs on the path it does not accelerate: pgbench select-only (-S) point lookups in
// the three protocol modes (simple, extended, prepared) at 1 and 8 clients, against PostgreSQL
// directly, through duckgate, and through PgBouncer in session mode, in one run. Runs are interleaved
// (direct, pgbouncer, duckgate for each mode and client count) so drift on a shared machine hits all
// three alike; --repeat N runs N such rounds and reports the median of each cell. Prints TPS, average
// latency and ratios; writes bench/results/passthrough.json (every run, plus the summary).
//
// Each server is its own process (duckgate a child node process, PgBouncer a child, PostgreSQL
// embedded or --pg-url); on a 2-core machine they still share cores with pgbench, as in any
// single-host deployment, so read the ratios rather than the absolute numbers. duckgate runs compiled
// (src/ built to .tmp/bench-build first, as `npm run build` would), or with --tsx from the sources.
// Besides TPS and latency, the CPU time each proxy process used per transaction is reported (from
// /proc; Linux only): on a loaded machine it varies less than TPS, and it is what a proxy takes from
// Postgres and the clients when cores are shared.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres, type TestPostgres } from '../test/support/servers.js';
import { formatTable, parseFlags } from './lib/args.js';
import { buildForBench, startDuckgate } from './lib/duckgate.js';
import { endpointFromUrl, pgbenchInit, pgbenchSelectOnly, type Endpoint, type QueryMode } from './lib/pgbench.js';
import { startPgbouncer, type Pgbouncer } from './lib/pgbouncer.js';
import { which } from './lib/processes.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'results');
const MODES: QueryMode[] = ['simple', 'extended', 'prepared'];
type Target = 'direct' | 'pgbouncer' | 'duckgate';
const TARGETS: Target[] = ['direct', 'pgbouncer', 'duckgate'];

interface Run {
  target: Target;
  mode: QueryMode;
  clients: number;
  round: number;
  tps?: number;
  latencyMs?: number;
  /** CPU time (user + system) the proxy process used per transaction, µs */
  cpuUsPerTx?: number;
  transactions?: number;
  failed?: number;
  error?: string;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), {
    seconds: 'number',
    scale: 'number',
    'pg-url': 'string',
    clients: 'string',
    repeat: 'number',
    'cpu-prof': 'boolean',
    tsx: 'boolean',
  });
  const repeat = flags.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a positive integer, got ${flags.repeat}`);
  const seconds = flags.seconds ?? 15;
  const scale = flags.scale ?? 10;
  const clientCounts = (flags.clients ?? '1,8').split(',').map((s) => Number(s.trim()));
  if (clientCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--clients takes a list of positive integers, got ${flags.clients}`);
  if (!which('pgbench')) throw new Error('pgbench not found on PATH (apt-get install -y postgresql-client)');

  const stops: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    while (stops.length) await stops.pop()!().catch((e: unknown) => console.error('cleanup:', e));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    // PostgreSQL
    let upstreamUrl = flags['pg-url'];
    if (!upstreamUrl) {
      console.log('starting an embedded PostgreSQL 15 …');
      const server: TestPostgres = await startEmbeddedPostgres();
      stops.push(() => server.stop());
      upstreamUrl = server.url;
    }
    const direct = endpointFromUrl(upstreamUrl);
    const serverVersion = await pgVersion(upstreamUrl);
    console.log(`PostgreSQL ${serverVersion} at ${direct.host}:${direct.port}; pgbench -i -s ${scale} …`);
    await pgbenchInit(direct, scale);

    // PgBouncer
    const skipped: Partial<Record<Target, string>> = {};
    const endpoints: Partial<Record<Target, Endpoint>> = { direct };
    let bouncer: Pgbouncer | undefined;
    const pgb = await startPgbouncer(direct);
    if (pgb.ok) {
      bouncer = pgb.bouncer;
      stops.push(() => pgb.bouncer.stop());
      endpoints.pgbouncer = pgb.bouncer.endpoint;
      console.log(`${pgb.bouncer.version} (session mode) on port ${pgb.bouncer.endpoint.port}`);
    } else {
      skipped.pgbouncer = pgb.reason;
      console.log(`SKIPPING pgbouncer: ${pgb.reason}`);
    }

    // duckgate
    const cpuProfDir = flags['cpu-prof'] ? resolve(RESULTS, 'prof') : undefined;
    let entry: string | undefined;
    if (!flags.tsx) {
      console.log('building duckgate (tsc → .tmp/bench-build) …');
      entry = await buildForBench();
    }
    console.log(`starting duckgate (child process, ${flags.tsx ? 'sources through tsx' : 'compiled'}) …`);
    const dg = await startDuckgate({ upstreamUrl, client: direct, cpuProfDir, entry });
    if (dg.ok) {
      stops.push(() => dg.duckgate.stop());
      endpoints.duckgate = dg.duckgate.endpoint;
      console.log(`duckgate pid ${dg.duckgate.pid} on port ${dg.duckgate.endpoint.port}${cpuProfDir ? `, CPU profile to ${cpuProfDir}` : ''}`);
    } else {
      skipped.duckgate = dg.reason;
      console.log(`SKIPPING duckgate: it did not start or answer within 30 s:\n${indent(dg.reason)}`);
    }

    const pids: Partial<Record<Target, number>> = {};
    if (dg.ok) pids.duckgate = dg.duckgate.pid;
    if (endpoints.pgbouncer) pids.pgbouncer = listenerPid(endpoints.pgbouncer.port);

    // warm the buffer cache so the first measured run is not the one that reads from disk
    await pgbenchSelectOnly(direct, 'simple', 2, Math.min(5, seconds));

    const runs: Run[] = [];
    const active = TARGETS.filter((t) => endpoints[t]);
    const total = repeat * clientCounts.length * MODES.length * active.length;
    const load = loadavg().map((l) => l.toFixed(2)).join(' ');
    console.log(`\n${total} runs of ${seconds} s (about ${Math.ceil((total * (seconds + 1)) / 60)} min); load average before: ${load}`);
    for (let round = 1; round <= repeat; round++) {
      if (repeat > 1) console.log(`round ${round}/${repeat}`);
      for (const clients of clientCounts) {
        for (const mode of MODES) {
          for (const target of active) {
            const r: Run = { target, mode, clients, round };
            try {
              const pid = pids[target];
              const cpu0 = pid === undefined ? undefined : cpuSeconds(pid);
              Object.assign(r, await pgbenchSelectOnly(endpoints[target]!, mode, clients, seconds));
              const cpu1 = pid === undefined ? undefined : cpuSeconds(pid);
              if (cpu0 !== undefined && cpu1 !== undefined && r.transactions) r.cpuUsPerTx = ((cpu1 - cpu0) * 1e6) / r.transactions;
              const cpu = r.cpuUsPerTx === undefined ? '' : `, proxy CPU ${r.cpuUsPerTx.toFixed(1)} µs/tx`;
              console.log(`  ${target.padEnd(9)} ${mode.padEnd(8)} c=${clients}: ${r.tps!.toFixed(0)} tps, ${r.latencyMs!.toFixed(3)} ms${cpu}${r.failed ? `, ${r.failed} failed` : ''}`);
            } catch (e) {
              r.error = (e as Error).message;
              console.log(`  ${target.padEnd(9)} ${mode.padEnd(8)} c=${clients}: ERROR ${r.error.split('\n')[0]}`);
            }
            runs.push(r);
          }
        }
      }
    }

    const rows = summarise(runs, clientCounts);
    console.log();
    console.log(formatTable(table(rows)));
    console.log('\nratios are of TPS; "+ms" is the latency a proxy adds per query at 1 client (its average latency minus direct);');
    console.log('"µs/tx" is the CPU time (user + system) the proxy process used per transaction.');
    for (const [t, why] of Object.entries(skipped)) console.log(`${t}: skipped (${why.split('\n')[0]})`);

    const out = {
      bench: 'passthrough',
      at: new Date().toISOString(),
      config: { seconds, scale, clients: clientCounts, modes: MODES, repeat, cpuProf: cpuProfDir ?? null, duckgateFrom: flags.tsx ? 'tsx' : 'compiled' },
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, node: process.version, loadAverageBefore: load, loadAverageAfter: loadavg() },
      versions: { postgres: serverVersion, pgbouncer: bouncer?.version ?? null },
      skipped,
      runs,
      summary: rows,
    };
    await mkdir(RESULTS, { recursive: true });
    const file = join(RESULTS, 'passthrough.json');
    await writeFile(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${file}`);
  } finally {
    await cleanup();
  }
}

interface SummaryRow {
  mode: QueryMode;
  clients: number;
  tps: Partial<Record<Target, number>>;
  latencyMs: Partial<Record<Target, number>>;
  cpuUsPerTx: Partial<Record<Target, number>>;
  duckgateVsDirect?: number;
  pgbouncerVsDirect?: number;
  duckgateVsPgbouncer?: number;
  /** at 1 client: average latency added per query, ms */
  addedMsDuckgate?: number;
  addedMsPgbouncer?: number;
}

function summarise(runs: Run[], clientCounts: number[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const clients of clientCounts) {
    for (const mode of MODES) {
      const row: SummaryRow = { mode, clients, tps: {}, latencyMs: {}, cpuUsPerTx: {} };
      for (const target of TARGETS) {
        const ok = runs.filter((r) => r.target === target && r.mode === mode && r.clients === clients && r.tps !== undefined);
        if (!ok.length) continue;
        row.tps[target] = median(ok.map((r) => r.tps!));
        row.latencyMs[target] = median(ok.map((r) => r.latencyMs!));
        const cpu = ok.filter((r) => r.cpuUsPerTx !== undefined);
        if (cpu.length) row.cpuUsPerTx[target] = median(cpu.map((r) => r.cpuUsPerTx!));
      }
      const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : undefined);
      row.duckgateVsDirect = ratio(row.tps.duckgate, row.tps.direct);
      row.pgbouncerVsDirect = ratio(row.tps.pgbouncer, row.tps.direct);
      row.duckgateVsPgbouncer = ratio(row.tps.duckgate, row.tps.pgbouncer);
      if (clients === 1 && row.latencyMs.direct !== undefined) {
        if (row.latencyMs.duckgate !== undefined) row.addedMsDuckgate = row.latencyMs.duckgate - row.latencyMs.direct;
        if (row.latencyMs.pgbouncer !== undefined) row.addedMsPgbouncer = row.latencyMs.pgbouncer - row.latencyMs.direct;
      }
      rows.push(row);
    }
  }
  return rows;
}

function table(rows: SummaryRow[]): string[][] {
  const f = (n: number | undefined, d: number) => (n === undefined ? '-' : n.toFixed(d));
  const tpsCell = (n: number | undefined) => (n === undefined ? '-' : Math.round(n).toString());
  return [
    ['mode', 'c', 'direct tps', 'ms', 'pgbouncer tps', 'ms', 'duckgate tps', 'ms', 'dg/direct', 'pgb/direct', 'dg/pgb', '+ms dg', '+ms pgb', 'dg µs/tx', 'pgb µs/tx'],
    ...rows.map((r) => [
      r.mode,
      String(r.clients),
      tpsCell(r.tps.direct),
      f(r.latencyMs.direct, 3),
      tpsCell(r.tps.pgbouncer),
      f(r.latencyMs.pgbouncer, 3),
      tpsCell(r.tps.duckgate),
      f(r.latencyMs.duckgate, 3),
      f(r.duckgateVsDirect, 2),
      f(r.pgbouncerVsDirect, 2),
      f(r.duckgateVsPgbouncer, 2),
      r.clients === 1 ? f(r.addedMsDuckgate, 3) : '',
      r.clients === 1 ? f(r.addedMsPgbouncer, 3) : '',
      f(r.cpuUsPerTx.duckgate, 1),
      f(r.cpuUsPerTx.pgbouncer, 1),
    ]),
  ];
}

async function pgVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  } finally {
    await c.end();
  }
}

/** CPU seconds (user + system, all threads) a process has used so far; undefined where /proc is not there. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are the 14th and 15th fields
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** The process listening on a local TCP port (PgBouncer runs under runuser, so its pid is not the child's). */
function listenerPid(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`]).toString();
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
