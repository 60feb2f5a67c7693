// The fuzz run: a fresh database with the fuzz schema on a PostgreSQL server, duckgate started as a
// child process in front of it (so a crash is an exit we can see, and its RSS is its own), the mirror
// waited for, then sessions run `jobs` at a time: each one first straight against Postgres, then
// through duckgate, and the two records compared (runner.ts). A difference is replayed to confirm it;
// the first of each kind is minimized. Used by the CLI (cli.ts, `npm run fuzz`) and by the short run
// in `npm test` (test/integration/fuzz.test.ts).
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../support/servers.js';
import { startChild, waitForPort, type ServerChild } from '../../bench/lib/processes.js';
import { FAMILIES, generateSession, uidFor, type Family, type FuzzSession, type GenerateOptions } from './generator.js';
import { compare, describeSession, runSession, type Difference, type RunRecord, type RunTiming, type Target } from './runner.js';
import { FUZZ_TABLES, SETUP_SQL } from './schema.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DuckgateProcess {
  pid: number;
  port: number;
  httpPort: number;
  child: ServerChild;
  /** resolves with the exit code/signal when the process exits */
  exited: Promise<string>;
  hasExited(): boolean;
}

export interface FuzzEnv {
  adminUrl: string;
  dbUrl: string;
  database: string;
  user: string;
  pg: Target;
  dg: Target;
  duckgate: DuckgateProcess;
  workDir: string;
  logFile: string;
  /** deletes a session's fz_log id block (uid … uid+7), so each run of it starts from the same rows */
  resetRows(uid: number): Promise<void>;
  /** true when this Postgres backend is waiting to read from its client (see RunTiming) */
  waitingForClient(pid: number): Promise<boolean>;
  /** restarts duckgate (after a crash) on a fresh data dir and waits for the mirror */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Creates the fuzz database and starts duckgate in front of it; resolves once the mirror serves. */
export async function startFuzzEnv(opts: {
  adminUrl: string;
  workDir?: string;
  log?: (s: string) => void;
  /** the duckgate checkout to run (default: this one); see cli.ts --ref */
  root?: string;
}): Promise<FuzzEnv> {
  const root = opts.root ?? ROOT;
  const log = opts.log ?? (() => undefined);
  const tag = `${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const database = `fuzz_${tag}`;
  const admin = new pg.Client({ connectionString: opts.adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const u = new URL(opts.adminUrl);
  u.pathname = `/${database}`;
  const dbUrl = u.toString();
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    await c.query(SETUP_SQL);
  } finally {
    await c.end();
  }
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'duckgate-fuzz-')));
  await mkdir(workDir, { recursive: true });
  const logFile = join(workDir, 'duckgate.log');
  const slot = `dgfuzz_${tag}`;
  // cost_threshold 0: every analytical read over a mirrored table goes to DuckDB, however small
  const rules = join(workDir, 'rules.yaml');
  await writeFile(rules, 'routing:\n  cost_threshold: 0\n');
  const configFile = join(workDir, 'duckgate.yaml');
  // JSON is YAML. A quick mirror (the gates test's settings); one DuckDB thread on a shared machine;
  // a generous read-your-writes wait so that a read after a write is still DuckDB's on a busy box.
  await writeFile(
    configFile,
    JSON.stringify(
      {
        rules: [rules],
        mirror: { slotName: slot, publicationName: slot, statusIntervalMs: 100, batchMaxMs: 20, catalogPollMs: 0, compactionIntervalMs: 0 },
        analytics: { freshnessWaitMs: 2000 },
        // Postgres's own limit for a Query/Parse/Bind (PQ_LARGE_MESSAGE_LIMIT, 1 GiB - 1): a bit flip in a
        // length's high byte then gets the same answer from both (Postgres waits for the bytes). Below it,
        // duckgate's lower default (64 MiB) is a documented deviation, not a finding.
        limits: { maxMessageBytes: 0x3fffffff },
        duckdb: { threads: 1 },
      },
      null,
      2,
    ) + '\n',
  );
  const user = decodeURIComponent(u.username || 'postgres');
  const activity = new pg.Pool({ connectionString: opts.adminUrl, max: 2 });
  activity.on('error', () => undefined);
  const rows = new pg.Pool({ connectionString: dbUrl, max: 2 });
  rows.on('error', () => undefined);
  const env: FuzzEnv = {
    adminUrl: opts.adminUrl,
    dbUrl,
    database,
    user,
    pg: { name: 'postgres', host: u.hostname, port: Number(u.port || 5432), user, database },
    dg: { name: 'duckgate', host: '127.0.0.1', port: 0, user, database },
    duckgate: undefined as unknown as DuckgateProcess,
    workDir,
    logFile,
    async resetRows(uid: number) {
      const del = await rows.query('DELETE FROM fz_log WHERE id BETWEEN $1 AND $2', [uid, uid + 7]);
      if (!del.rowCount) return;
      // The next run may read the block from DuckDB: wait until the mirror has applied the delete.
      // (Today a DuckDB read does not wait for writes committed by other connections, only for the
      // session's own: fuzz-findings, class 15. The fuzzer must not depend on that either way.)
      const c = new pg.Client({ host: '127.0.0.1', port: env.dg.port, user, database, password: u.password || undefined });
      try {
        await c.connect();
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const r = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM fz_log WHERE id BETWEEN $1 AND $2', [uid, uid + 7]);
          if (r.rows[0]!.n === 0) return;
          await new Promise((res) => setTimeout(res, 20));
        }
      } catch {
        // duckgate down (a crash is being handled): the run will tell
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    async waitingForClient(pid: number) {
      const r = await activity.query<{ w: string | null }>('SELECT wait_event AS w FROM pg_stat_activity WHERE pid = $1', [pid]);
      // gone: it closed (the socket says so next)
      return r.rows.length === 0 || r.rows[0]!.w === 'ClientRead';
    },
    async restart() {
      await env.duckgate.child.stop(5_000).catch(() => undefined);
      env.duckgate = await launch(root, configFile, dbUrl, join(workDir, `data-${Date.now()}`), logFile);
      env.dg.port = env.duckgate.port;
      await waitForMirror(env, 120_000);
    },
    async stop() {
      await env.duckgate?.child.stop(15_000).catch(() => undefined);
      await activity.end().catch(() => undefined);
      await rows.end().catch(() => undefined);
      const a = new pg.Client({ connectionString: opts.adminUrl });
      await a.connect();
      try {
        await a.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active', [database]).catch(() => undefined);
        await a.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await a.end();
      }
      if (!opts.workDir) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  log(`database ${database}; starting duckgate (log: ${logFile})`);
  env.duckgate = await launch(root, configFile, dbUrl, join(workDir, 'data'), logFile);
  env.dg.port = env.duckgate.port;
  try {
    await waitForMirror(env, 120_000);
  } catch (e) {
    await env.stop();
    throw e;
  }
  return env;
}

async function launch(root: string, configFile: string, upstream: string, dataDir: string, logFile: string): Promise<DuckgateProcess> {
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const httpPort = await freePort();
  const child = startChild(
    process.execPath,
    [join(root, 'bin', 'duckgate.js'), 'start', '--config', configFile, '--upstream', upstream, '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, '--data-dir', dataDir],
    { cwd: root, env: { ...process.env, DUCKGATE_LOG_LEVEL: process.env.DUCKGATE_LOG_LEVEL ?? 'warn' } },
  );
  const out = createWriteStream(logFile, { flags: 'a' });
  child.child.stdout!.pipe(out, { end: false });
  child.child.stderr!.pipe(out, { end: false });
  let exitedFlag = false;
  const exited = new Promise<string>((resolve) => {
    child.child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  });
  try {
    await waitForPort('127.0.0.1', port, 60_000, child.child);
  } catch (e) {
    await child.stop(5_000);
    throw new Error(`duckgate did not start: ${(e as Error).message}\n${child.tail()}`);
  }
  return { pid: child.child.pid!, port, httpPort, child, exited, hasExited: () => exitedFlag };
}

/** Until `/* duckgate: explain *\/` says every fuzz table's count goes to DuckDB. */
async function waitForMirror(env: FuzzEnv, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (env.duckgate.hasExited()) throw new Error(`duckgate exited while the mirror started:\n${env.duckgate.child.tail()}`);
    const c = new pg.Client({ host: '127.0.0.1', port: env.dg.port, user: env.user, database: env.database, password: new URL(env.dbUrl).password || undefined });
    try {
      await c.connect();
      const engines: string[] = [];
      for (const t of FUZZ_TABLES) {
        const r = await c.query<{ engine: string; reason: string }>(`/* duckgate: explain */ SELECT count(*) FROM ${t}`);
        engines.push(`${t}:${r.rows[0]?.engine}/${r.rows[0]?.reason}`);
      }
      last = engines.join(' ');
      if (engines.every((e) => e.includes(':duckdb/'))) return;
    } catch (e) {
      last = (e as Error).message;
    } finally {
      await c.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`the mirror did not serve the fuzz tables within ${timeoutMs / 1000} s: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// ---- measurements ----------------------------------------------------------------------------------

export function rssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function metricsText(env: FuzzEnv): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${env.duckgate.httpPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return await res.text();
  } catch {
    return '';
  }
}

/** Sums of a metric's samples by one label (e.g. duckgate_queries_total by engine). */
function metricBy(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const lm = new RegExp(`${label}="([^"]*)"`).exec(line);
    const key = lm ? lm[1]! : '';
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) out[key] = (out[key] ?? 0) + v;
  }
  return out;
}

/** Client backends of the fuzz database on Postgres (duckgate's own mirror/control ones excluded). */
async function pgBackends(env: FuzzEnv): Promise<number> {
  const c = new pg.Client({ connectionString: env.adminUrl });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND coalesce(application_name, '') NOT LIKE 'duckgate%'",
      [env.database],
    );
    return Number(r.rows[0]!.n);
  } finally {
    await c.end();
  }
}

// ---- the run -------------------------------------------------------------------------------------

export interface FuzzOptions {
  seed: number;
  sessions: number;
  /** first session index (default 0): `--only N` runs just N */
  start?: number;
  only?: number[];
  jobs: number;
  timing: RunTiming;
  families?: readonly Family[];
  mutateRate?: number;
  /** replay a difference this many times to confirm it (default 2) */
  confirm?: number;
  /** minimize the first confirmed session of each signature (default true) */
  minimize?: boolean;
  /** at most this many signatures, the most frequent first (default 15) */
  minimizeMax?: number;
  /** seconds to wait after the run before the last RSS reading (default 10) */
  pauseS?: number;
  log?: (s: string) => void;
  /** called with every finished session (progress) */
  onSession?: (done: number) => void;
}

export interface Finding {
  kind: Difference['kind'] | 'crash';
  signature: string;
  count: number;
  /** sessions that showed it (first 50) */
  indices: number[];
  families: Record<string, number>;
  confirmed: number;
  unconfirmed: number;
  first: { index: number; family: string; mutated: boolean; detail: string; reproduction: string; minimized: string | null };
}

export interface FuzzReport {
  seed: number;
  sessions: number;
  jobs: number;
  startedAt: string;
  seconds: number;
  families: Record<string, number>;
  mutated: number;
  /** how Postgres's runs ended (marker / closed / idle) */
  pgEnds: Record<string, number>;
  ok: number;
  /** sessions with a confirmed difference, hang or crash */
  failed: number;
  /** differences seen once and not again on replay (timing on a busy machine) */
  unconfirmed: number;
  /** sessions the fuzzer itself failed on (its own bug; they count as failed) */
  fuzzerErrors: Array<{ index: number; error: string }>;
  crashes: Array<{ at: string; exit: string; inFlight: number[]; culprit: number | null; logTail: string }>;
  findings: Finding[];
  rss: { startKb: number | null; peakKb: number | null; endKb: number | null; afterPauseKb: number | null; pauseS: number };
  duckgate: { queriesByEngine: Record<string, number>; duckdbStatementsByOutcome: Record<string, number>; connectionsActiveAfter: number | null; connectionErrorsBySqlstate: Record<string, number> };
  pgClientBackendsAfter: number | null;
  /** how long one run of a session took (sessions with the same outcome only): median and 99th percentile */
  sessionMs: { postgres: { p50: number; p99: number }; duckgate: { p50: number; p99: number } } | null;
}

interface Outcome {
  session: FuzzSession;
  pg: RunRecord;
  dg: RunRecord;
  diff: Difference | null;
}

export async function runFuzz(env: FuzzEnv, opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => undefined);
  const gen: GenerateOptions = { families: opts.families ?? FAMILIES, mutateRate: opts.mutateRate };
  const ctx = (index: number) => ({ database: env.database, user: env.user, uid: uidFor(index) });
  const started = Date.now();
  opts = { ...opts, timing: { ...opts.timing, waitingForClient: (pid) => env.waitingForClient(pid) } };
  const report: FuzzReport = {
    seed: opts.seed,
    sessions: 0,
    jobs: opts.jobs,
    startedAt: new Date().toISOString(),
    seconds: 0,
    families: {},
    mutated: 0,
    pgEnds: {},
    ok: 0,
    failed: 0,
    unconfirmed: 0,
    fuzzerErrors: [],
    crashes: [],
    findings: [],
    rss: { startKb: rssKb(env.duckgate.pid), peakKb: null, endKb: null, afterPauseKb: null, pauseS: opts.pauseS ?? 10 },
    duckgate: { queriesByEngine: {}, duckdbStatementsByOutcome: {}, connectionsActiveAfter: null, connectionErrorsBySqlstate: {} },
    pgClientBackendsAfter: null,
    sessionMs: null,
  };
  const okMs: { pg: number[]; dg: number[] } = { pg: [], dg: [] };
  // /metrics of each duckgate process (a crash restarts it): the first and the latest scrape of each
  const scrapes: Array<{ first: string; last: string }> = [{ first: await metricsText(env), last: '' }];
  let peak = report.rss.startKb ?? 0;
  let scraping = false;
  const sampler = setInterval(() => {
    const r = rssKb(env.duckgate.pid);
    if (r !== null && r > peak) peak = r;
    if (scraping || env.duckgate.hasExited()) return;
    scraping = true;
    const gen0 = generation;
    void metricsText(env).then((t) => {
      scraping = false;
      if (t && gen0 === generation) scrapes[scrapes.length - 1]!.last = t;
    });
  }, 2000);

  /** One run of a session on both sides; attempt picks fresh fz_log ids. */
  const once = async (index: number, attempt: number, keep?: (steps: FuzzSession['steps']) => FuzzSession['steps'], timing = opts.timing, alone = false): Promise<Outcome> => {
    // while a crash is handled its suspects run alone (a replay from a worker would muddle the culprit)
    while (restarting && !alone) await restarting;
    const sPg = generateSession(opts.seed, index, ctx(index), gen);
    const sDg = generateSession(opts.seed, index, ctx(index), gen);
    if (keep) {
      sPg.steps = keep(sPg.steps);
      sDg.steps = keep(sDg.steps);
      sPg.splits = sDg.splits = [];
    }
    await env.resetRows(uidFor(index));
    const pgRec = await runSession(env.pg, sPg, timing);
    await env.resetRows(uidFor(index));
    const dgRec = await runSession(env.dg, sDg, timing, pgRec);
    return { session: sPg, pg: pgRec, dg: dgRec, diff: compare(pgRec, dgRec) };
  };

  const findings = new Map<string, Finding>();
  const record = async (o: Outcome, confirmed: boolean) => {
    const d = o.diff!;
    const key = `${d.kind}|${d.signature}`;
    let f = findings.get(key);
    if (!f) {
      f = {
        kind: d.kind,
        signature: d.signature,
        count: 0,
        indices: [],
        families: {},
        confirmed: 0,
        unconfirmed: 0,
        first: { index: o.session.index, family: o.session.family, mutated: o.session.mutated, detail: d.detail, reproduction: describeSession(o.session), minimized: null },
      };
      findings.set(key, f);
      log(`\n[${d.kind}] ${d.signature}\n${describeSession(o.session)}\n${d.detail}\n`);
    }
    f.count++;
    if (f.indices.length < 50) f.indices.push(o.session.index);
    f.families[o.session.family] = (f.families[o.session.family] ?? 0) + 1;
    if (confirmed) f.confirmed++;
    else f.unconfirmed++;
  };

  // crash handling: a dead duckgate fails every session in flight; they are retried one by one after
  // the restart, to find the one that kills it
  const inFlight = new Set<number>();
  /** sessions finished lately: the one that killed duckgate may have seen its connection close first */
  const recent = new Map<number, number>();
  let generation = 0;
  let restarting: Promise<void> | null = null;
  const onCrash = async (): Promise<void> => {
    const exit = await env.duckgate.exited;
    const now = Date.now();
    const suspects = [...new Set([...inFlight, ...[...recent].filter(([, t]) => now - t < 3000).map(([i]) => i)])].sort((a, b) => a - b);
    const tail = env.duckgate.child.tail();
    log(`\nduckgate died (${exit}) with sessions ${suspects.join(', ')} in flight\n${tail}\n`);
    const crash = { at: new Date().toISOString(), exit, inFlight: suspects, culprit: null as number | null, logTail: tail };
    report.crashes.push(crash);
    generation++;
    await env.restart();
    scrapes.push({ first: await metricsText(env), last: '' });
    for (const idx of suspects) {
      const o = await once(idx, 15, undefined, opts.timing, true);
      if (env.duckgate.hasExited()) {
        crash.culprit = idx;
        const s = o.session;
        log(`session ${idx} kills duckgate:\n${describeSession(s)}`);
        await env.restart();
        scrapes.push({ first: await metricsText(env), last: '' });
        break;
      }
    }
    watchCrash();
  };
  const watchCrash = () => {
    const gen0 = generation;
    void env.duckgate.exited.then(() => {
      if (gen0 !== generation || stopped) return;
      restarting = onCrash().finally(() => (restarting = null));
    });
  };
  let stopped = false;
  watchCrash();

  const indices = opts.only ?? Array.from({ length: opts.sessions }, (_, i) => (opts.start ?? 0) + i);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      if (restarting) await restarting;
      if (next >= indices.length) return;
      const index = indices[next++]!;
      const gen0 = generation;
      inFlight.add(index);
      let o: Outcome;
      try {
        o = await once(index, 0);
      } catch (e) {
        // a bug of the fuzzer itself (generator, runner): say so and go on, a long run is not lost
        report.fuzzerErrors.push({ index, error: (e as Error).stack ?? String(e) });
        log(`fuzzer error in session ${index}: ${(e as Error).stack ?? e}`);
        done++;
        continue;
      } finally {
        inFlight.delete(index);
        recent.set(index, Date.now());
        for (const [i, t] of recent) if (Date.now() - t > 5000) recent.delete(i);
      }
      // a connection closed by a dying process may be seen before the exit: look again a moment later
      if (o.diff) await new Promise((r) => setTimeout(r, 300));
      if (gen0 !== generation || env.duckgate.hasExited()) {
        // lost to a crash: counted under the crash (its suspects are retried there)
        if (restarting) await restarting;
        done++;
        continue;
      }
      report.families[o.session.family] = (report.families[o.session.family] ?? 0) + 1;
      if (o.session.mutated) report.mutated++;
      const pgEnd = o.pg.end === 'idle' ? `idle${o.pg.closedAfterFin ? '' : ' (open)'}` : o.pg.end;
      report.pgEnds[pgEnd] = (report.pgEnds[pgEnd] ?? 0) + 1;
      report.sessions++;
      if (!o.diff) {
        report.ok++;
        okMs.pg.push(o.pg.ms);
        okMs.dg.push(o.dg.ms);
      } else {
        // replay: a difference that comes back is confirmed
        let confirmed = false;
        // (a hang costs hangMs per replay: once is enough to confirm it)
        const replays = o.diff.kind === 'hang' ? Math.min(1, opts.confirm ?? 2) : (opts.confirm ?? 2);
        for (let a = 1; a <= replays && !confirmed; a++) {
          const r = await once(index, a);
          if (r.diff && r.diff.kind === o.diff.kind) confirmed = true;
        }
        if (confirmed) report.failed++;
        else report.unconfirmed++;
        await record(o, confirmed);
      }
      done++;
      opts.onSession?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker));
  if (restarting) await restarting;
  stopped = true;

  // minimize the first confirmed session of each finding: drop messages while the same signature stays
  if (opts.minimize ?? true) {
    const worst = [...findings.values()].filter((f) => f.confirmed > 0).sort((a, b) => b.confirmed - a.confirmed);
    for (const f of worst.slice(0, opts.minimizeMax ?? 15)) {
      f.first.minimized = await minimize(f, once, opts.timing, log);
    }
  }

  report.rss.endKb = rssKb(env.duckgate.pid);
  report.rss.peakKb = Math.max(peak, report.rss.endKb ?? 0);
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, (opts.pauseS ?? 10) * 1000));
  report.rss.afterPauseKb = rssKb(env.duckgate.pid);
  // sessions just ended may still be closing: give them up to 5 s to be gone on both sides
  let metricsAfter = await metricsText(env);
  for (let i = 0; i < 25 && (metricBy(metricsAfter, 'duckgate_connections_active', 'x')[''] ?? 0) > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    metricsAfter = await metricsText(env);
  }
  scrapes[scrapes.length - 1]!.last = metricsAfter;
  // summed over every duckgate process of the run (up to its last scrape for one that crashed)
  const delta = (name: string, label: string) => {
    const out: Record<string, number> = {};
    for (const sc of scrapes) {
      const a = metricBy(sc.last, name, label);
      const b = metricBy(sc.first, name, label);
      for (const [k, v] of Object.entries(a)) if (v - (b[k] ?? 0) > 0) out[k] = (out[k] ?? 0) + v - (b[k] ?? 0);
    }
    return out;
  };
  report.duckgate.queriesByEngine = delta('duckgate_queries_total', 'engine');
  report.duckgate.duckdbStatementsByOutcome = delta('duckgate_duckdb_statements_total', 'outcome');
  report.duckgate.connectionErrorsBySqlstate = delta('duckgate_connection_errors_total', 'sqlstate');
  const active = metricBy(metricsAfter, 'duckgate_connections_active', 'x')[''];
  report.duckgate.connectionsActiveAfter = active ?? null;
  report.pgClientBackendsAfter = await pgBackends(env).catch(() => null);
  const pct = (xs: number[], p: number) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length ? v[Math.min(v.length - 1, Math.floor((v.length * p) / 100))]! : 0;
  };
  if (okMs.pg.length) report.sessionMs = { postgres: { p50: pct(okMs.pg, 50), p99: pct(okMs.pg, 99) }, duckgate: { p50: pct(okMs.dg, 50), p99: pct(okMs.dg, 99) } };
  report.findings = [...findings.values()].sort((a, b) => b.confirmed - a.confirmed || b.count - a.count);
  report.seconds = Math.round((Date.now() - started) / 100) / 10;
  return report;
}

/** Drops messages one at a time (last first) while the finding's signature still reproduces. */
async function minimize(
  f: Finding,
  once: (index: number, attempt: number, keep?: (steps: FuzzSession['steps']) => FuzzSession['steps'], timing?: RunTiming) => Promise<Outcome>,
  timing: RunTiming,
  log: (s: string) => void,
): Promise<string | null> {
  const index = f.first.index;
  const full = await once(index, 3);
  if (!full.diff || `${full.diff.kind}|${full.diff.signature}` !== `${f.kind}|${f.signature}`) return null;
  let keep = full.session.steps.map((_, i) => i);
  // a hang costs hangMs per attempt: minimize hangs with a shorter wait
  const t: RunTiming = f.kind === 'hang' ? { hangMs: Math.min(timing.hangMs, 3000), idleMs: timing.idleMs } : timing;
  let attempt = 4;
  let last = full;
  for (let i = keep.length - 1; i >= 0; i--) {
    const trial = keep.filter((_, k) => k !== i);
    if (trial.length === 0) continue;
    const o = await once(index, attempt++ % 16, (steps) => trial.map((k) => steps[k]!), t);
    if (o.diff && `${o.diff.kind}|${o.diff.signature}` === `${f.kind}|${f.signature}`) {
      keep = trial;
      last = o;
    }
  }
  const text = `${describeSession(last.session)}\n${last.diff?.detail ?? ''}`;
  log(`\nminimized [${f.kind}] ${f.signature}:\n${text}\n`);
  return text;
}

/** Every crash and confirmed finding with its reproduction (what a failing test prints). */
export function findingsText(r: FuzzReport): string {
  const out: string[] = [];
  for (const e of r.fuzzerErrors) out.push(`FUZZER ERROR in session ${e.index}: ${e.error}`);
  for (const c of r.crashes) out.push(`CRASH (${c.exit}): sessions in flight ${c.inFlight.join(', ')}; culprit ${c.culprit ?? 'not found on replay'}\n${c.logTail}`);
  for (const f of r.findings.filter((x) => x.confirmed > 0)) {
    out.push(
      `[${f.kind}] ${f.signature}: ${f.confirmed} session(s), e.g. ${f.indices.slice(0, 8).join(', ')} ` +
        `(replay: npm run fuzz -- --seed ${r.seed} --only ${f.first.index})\n${f.first.minimized ?? `${f.first.reproduction}\n${f.first.detail}`}`,
    );
  }
  return out.join('\n\n');
}
