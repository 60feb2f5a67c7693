// npm run fuzz -- [--sessions 2000] [--seed 42] [--jobs 2] [--only 17,23] [--start N] [--families simple,extended]
//                 [--mutate-rate 0.4] [--hang-ms 10000] [--idle-ms 1000] [--pause 10] [--no-minimize]
//                 [--pg-url postgres://...] [--out bench/results/fuzz.json] [--ref HEAD] [--max-rss-growth-mb 150]
//
// The protocol fuzzer: every session is sent straight to PostgreSQL and through duckgate (a child
// process, so a crash and its RSS are visible), and the two replies compared (test/fuzz/runner.ts says
// what counts as the same). Postgres: --pg-url (a superuser URL of a server with wal_level=logical and
// trust authentication for its user on 127.0.0.1), else an embedded PostgreSQL started here. Prints a
// table and each finding with a reproduction; writes JSON (default bench/results/fuzz.json) and keeps
// duckgate's log under .tmp/fuzz/. `--seed S --only N` replays session N of seed S and prints both
// replies message by message. `--ref <commit>` fuzzes that commit (exported with git archive into
// .tmp/fuzz/tree-<sha>) instead of the working tree, which may be mid-edit. Exit code 1 when anything
// differed, hung or crashed.
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, parseFlags } from '../../bench/lib/args.js';
import { run } from '../../bench/lib/processes.js';
import { startEmbeddedPostgres, type TestPostgres } from '../support/servers.js';
import { FAMILIES, generateSession, uidFor, type Family } from './generator.js';
import { findingsText, runFuzz, startFuzzEnv, type FuzzReport } from './harness.js';
import { compare, describeSession, fullToken, runSession, summarize } from './runner.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<number> {
  const argv = process.argv.slice(2).filter((a) => a !== '--');
  const noMinimize = argv.includes('--no-minimize');
  const flags = parseFlags(
    argv.filter((a) => a !== '--no-minimize'),
    {
      sessions: 'number',
      seed: 'number',
      jobs: 'number',
      only: 'string',
      start: 'number',
      families: 'string',
      'mutate-rate': 'number',
      'hang-ms': 'number',
      'idle-ms': 'number',
      pause: 'number',
      'pg-url': 'string',
      out: 'string',
      ref: 'string',
      'max-rss-growth-mb': 'number',
      verbose: 'boolean',
    },
  );
  const seed = flags.seed ?? 42;
  const families = flags.families ? (flags.families.split(',') as Family[]) : FAMILIES;
  for (const f of families) if (!FAMILIES.includes(f)) throw new Error(`unknown family ${f} (known: ${FAMILIES.join(', ')})`);
  const only = flags.only ? flags.only.split(',').map((x) => Number(x.trim())) : undefined;
  const timing = { hangMs: flags['hang-ms'] ?? 10_000, idleMs: flags['idle-ms'] ?? 1_000 };

  let server: TestPostgres | null = null;
  let adminUrl = flags['pg-url'];
  if (!adminUrl) {
    process.stderr.write('starting an embedded PostgreSQL…\n');
    server = await startEmbeddedPostgres();
    adminUrl = server.url;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const workDir = join(ROOT, '.tmp', 'fuzz', stamp);
  const root = flags.ref ? await exportTree(flags.ref) : undefined;
  const env = await startFuzzEnv({ adminUrl, workDir, root, log: (s) => process.stderr.write(`${s}\n`) });
  try {
    if (only && only.length === 1 && flags.verbose !== false) {
      // a replay: both replies in full
      const index = only[0]!;
      const gen = { families, mutateRate: flags['mutate-rate'] };
      const sPg = generateSession(seed, index, { database: env.database, user: env.user, uid: uidFor(index) }, gen);
      const sDg = generateSession(seed, index, { database: env.database, user: env.user, uid: uidFor(index) }, gen);
      console.log(describeSession(sPg));
      const t = { ...timing, waitingForClient: (pid: number) => env.waitingForClient(pid) };
      await env.resetRows(uidFor(index));
      const a = await runSession(env.pg, sPg, t);
      await env.resetRows(uidFor(index));
      const b = await runSession(env.dg, sDg, t, a);
      console.log(`\npostgres (${a.end}, ${a.ms} ms): ${summarize(a.messages.map(fullToken), 400)}`);
      console.log(`duckgate (${b.end}, ${b.ms} ms): ${summarize(b.messages.map(fullToken), 400)}`);
      const d = compare(a, b);
      console.log(d ? `\nDIFFERENT [${d.kind}] ${d.signature}\n${d.detail}` : '\nsame outcome and bytes');
      return d ? 1 : 0;
    }
    const total = only ? only.length : (flags.sessions ?? 2000);
    const t0 = Date.now();
    const report = await runFuzz(env, {
      seed,
      sessions: total,
      start: flags.start,
      only,
      jobs: flags.jobs ?? 2,
      timing,
      families,
      mutateRate: flags['mutate-rate'],
      minimize: !noMinimize,
      pauseS: flags.pause ?? 10,
      log: (s) => process.stderr.write(`${s}\n`),
      onSession: (n) => {
        if (n % 100 === 0) process.stderr.write(`${n}/${total} sessions, ${Math.round((Date.now() - t0) / 1000)} s\n`);
      },
    });
    print(report);
    const out = flags.out ? resolve(flags.out) : join(ROOT, 'bench', 'results', 'fuzz.json');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(report, null, 2) + '\n');
    console.log(`\nJSON: ${out}\nduckgate log: ${env.logFile}`);
    // RSS must come back near where it started: after the pause, at most this much above the start
    const growthMb = report.rss.afterPauseKb !== null && report.rss.startKb !== null ? (report.rss.afterPauseKb - report.rss.startKb) / 1024 : 0;
    const maxGrowth = flags['max-rss-growth-mb'] ?? 150;
    if (growthMb > maxGrowth) console.log(`\nRSS after the pause is ${growthMb.toFixed(0)} MB above the start (allowed: ${maxGrowth} MB)`);
    return report.failed > 0 || report.crashes.length > 0 || report.fuzzerErrors.length > 0 || growthMb > maxGrowth ? 1 : 0;
  } finally {
    await env.stop();
    await server?.stop();
  }
}

/** A commit's bin/, src/ and rules/ in .tmp/fuzz/tree-<sha>, sharing this checkout's node_modules. */
async function exportTree(ref: string): Promise<string> {
  const sha = (await run('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: ROOT })).stdout.trim();
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new Error(`--ref ${ref}: not a commit`);
  const dir = join(ROOT, '.tmp', 'fuzz', `tree-${sha.slice(0, 12)}`);
  if (!existsSync(join(dir, 'bin', 'duckgate.js'))) {
    await mkdir(dir, { recursive: true });
    const r = await run('sh', ['-c', `git archive ${sha} bin src rules package.json tsconfig.json | tar -x -C '${dir}'`], { cwd: ROOT });
    if (r.code !== 0) throw new Error(`git archive failed: ${r.stderr}`);
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  }
  process.stderr.write(`fuzzing commit ${sha.slice(0, 12)} from ${dir}\n`);
  return dir;
}

function print(r: FuzzReport): void {
  const mb = (kb: number | null) => (kb === null ? '-' : `${(kb / 1024).toFixed(0)} MB`);
  console.log(
    '\n' +
      formatTable([
        ['fuzz run', 'value'],
        ['seed', String(r.seed)],
        ['sessions', String(r.sessions)],
        ['jobs', String(r.jobs)],
        ['seconds', String(r.seconds)],
        ['families', Object.entries(r.families).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['mutated', String(r.mutated)],
        ['Postgres ended', Object.entries(r.pgEnds).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['same outcome and bytes', String(r.ok)],
        ['failed (confirmed)', String(r.failed)],
        ['unconfirmed (not on replay)', String(r.unconfirmed)],
        ['crashes', String(r.crashes.length)],
        ['fuzzer errors (its own bugs)', String(r.fuzzerErrors.length)],
        ['hangs', String(r.findings.filter((f) => f.kind === 'hang').reduce((a, f) => a + f.confirmed, 0))],
        ['outcome differences', String(r.findings.filter((f) => f.kind === 'outcome').reduce((a, f) => a + f.confirmed, 0))],
        ['byte differences', String(r.findings.filter((f) => f.kind === 'bytes').reduce((a, f) => a + f.confirmed, 0))],
        ['duckgate RSS start / peak / end / after pause', `${mb(r.rss.startKb)} / ${mb(r.rss.peakKb)} / ${mb(r.rss.endKb)} / ${mb(r.rss.afterPauseKb)} (${r.rss.pauseS} s)`],
        ['statements by engine', Object.entries(r.duckgate.queriesByEngine).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['DuckDB statements by outcome', Object.entries(r.duckgate.duckdbStatementsByOutcome).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['connections closed by error', Object.entries(r.duckgate.connectionErrorsBySqlstate).map(([k, v]) => `${k} ${v}`).join(', ') || '-'],
        ['duckgate connections open after', String(r.duckgate.connectionsActiveAfter ?? '-')],
        ['Postgres client backends after', String(r.pgClientBackendsAfter ?? '-')],
        ['ms per session p50/p99 (same outcome)', r.sessionMs ? `Postgres ${r.sessionMs.postgres.p50}/${r.sessionMs.postgres.p99}, duckgate ${r.sessionMs.duckgate.p50}/${r.sessionMs.duckgate.p99}` : '-'],
      ]),
  );
  if (r.findings.length) {
    console.log(
      '\n' +
        formatTable([
          ['kind', 'confirmed', 'unconfirmed', 'first session', 'signature'],
          ...r.findings.map((f) => [f.kind, String(f.confirmed), String(f.unconfirmed), String(f.first.index), f.signature]),
        ]),
    );
  }
  const text = findingsText(r);
  if (text) console.log(`\n${text}`);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
