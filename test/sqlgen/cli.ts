// npm run sqlgen -- [--statements 300 | --seconds 600] [--seed 1] [--only 17,23] [--no-minimise]
//                   [--depth 3] [--rows 2000] [--pg-url postgres://...] [--out bench/results/sqlgen.json]
//
// The randomized differential SQL generator: statements generated from the grammar duckgate claims to
// serve run on PostgreSQL and through duckgate (in-process), in simple, extended-text and
// extended-binary protocol; every difference is minimised and printed as a corpus line. Postgres:
// --pg-url (a superuser URL of a server with wal_level=logical, trust on 127.0.0.1), else an embedded
// PostgreSQL started here. `--seed S --only N` replays statement N of seed S. Exit code 1 when anything
// differed.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, parseFlags } from '../../bench/lib/args.js';
import { startEmbeddedPostgres, type TestPostgres } from '../support/servers.js';
import { render } from './ast.js';
import { generate, runSqlgen, startSqlgenEnv, summaryTable } from './runner.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<number> {
  const argv = process.argv.slice(2).filter((a) => a !== '--');
  const noMinimise = argv.includes('--no-minimise');
  const flags = parseFlags(argv.filter((a) => a !== '--no-minimise'), {
    statements: 'number',
    seconds: 'number',
    seed: 'number',
    only: 'string',
    depth: 'number',
    rows: 'number',
    'pg-url': 'string',
    out: 'string',
    print: 'boolean',
    verbose: 'boolean',
  });
  const seed = flags.seed ?? 1;
  const only = flags.only ? flags.only.split(',').map((x) => Number(x.trim())) : undefined;
  const gen = { depth: flags.depth };
  let server: TestPostgres | null = null;
  if (flags['pg-url']) {
    process.env.DUCKGATE_TEST_PG_URL = flags['pg-url'];
  } else if (!process.env.DUCKGATE_TEST_PG_URL) {
    process.stderr.write('starting an embedded PostgreSQL…\n');
    server = await startEmbeddedPostgres();
    process.env.DUCKGATE_TEST_PG_URL = server.url;
  }
  process.stderr.write('loading the demo data and waiting for the mirror…\n');
  const env = await startSqlgenEnv({ rows: flags.rows });
  try {
    if (flags.print) {
      // the statements only, no run: to read what a seed generates
      const n = flags.statements ?? 20;
      for (const i of only ?? Array.from({ length: n }, (_, k) => k)) console.log(`#${i} ${render(generate(env.samples, seed, i, gen))}`);
      return 0;
    }
    const statements = flags.statements ?? (flags.seconds === undefined ? 300 : undefined);
    const report = await runSqlgen(env, { seed, statements, seconds: flags.seconds, only, minimise: !noMinimise, gen, verbose: flags.verbose, log: (s) => console.log(s) });
    console.log('');
    console.log(summaryTable(report));
    if (Object.keys(report.fallbackReasons).length) {
      console.log('\nwhy statements went to Postgres (statements, first mode):');
      const rows = Object.entries(report.fallbackReasons).sort((a, b) => b[1] - a[1]);
      console.log(formatTable([['engine/reason', 'n'], ...rows.map(([k, v]) => [k, String(v)])]));
    }
    if (report.classes.length) {
      console.log('\nclasses of differences (minimised statements of one shape):');
      const rows = [...report.classes].sort((a, b) => b.differences - a.differences);
      console.log(formatTable([['example (minimised)', 'differences'], ...rows.map((c) => [c.example.slice(0, 160), String(c.differences)])]));
    }
    if (report.findings.length) {
      console.log('\nminimised differences (corpus lines):');
      for (const f of report.findings) console.log(`  #${f.index} [${f.mode}] ${f.kind}: ${f.detail.split('\n')[0]}\n  ${f.corpusLine}`);
    }
    const out = flags.out ?? join(ROOT, 'bench', 'results', 'sqlgen.json');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify({ at: new Date().toISOString(), ...report }, null, 2) + '\n');
    console.log(`\nreport: ${out}`);
    return report.differences ? 1 : 0;
  } finally {
    await env.close();
    await server?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
