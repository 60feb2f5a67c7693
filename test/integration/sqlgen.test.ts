// The randomized differential generator (test/sqlgen/), for a fixed short budget with a fixed seed (one
// that reaches none of the wrong-answer classes still open when it was written; longer runs do): every
// generated statement gives through duckgate exactly Postgres's answer in simple, extended-text and
// extended-binary protocol, and most are served by DuckDB. And the generator is shown to work: in front
// of a duckgate whose DuckDB translation is deliberately wrong (every `<` in the DuckDB SQL made `<=`,
// injected through the engine's translate option at the composition root) it finds a difference and
// minimises it to a small statement that still shows it, and that the correct duckgate answers right.
// Longer runs: `npm run sqlgen -- --seconds 600 --seed N` (README, Testing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Translate } from '../../src/engines/duckdb/engine.js';
import { rewrite } from '../../src/engines/duckdb/rewrite.js';
import { connectClients, execute, runSqlgen, startSqlgenEnv, summaryTable, type SqlgenEnv } from '../sqlgen/runner.js';

/** The real translation with every `<` of the DuckDB SQL turned into `<=`: a wrong answer wherever it matters. */
const wrongLessThan: Translate = (sql, input) => {
  const r = rewrite(sql, input);
  return r.ok ? { ...r, sql: r.sql.replace(/ < /g, ' <= ') } : r;
};

let good: SqlgenEnv;
let bad: SqlgenEnv;

beforeAll(async () => {
  good = await startSqlgenEnv();
  bad = await startSqlgenEnv({ translate: wrongLessThan });
}, 120_000);

afterAll(async () => {
  await good?.close();
  await bad?.close();
});

describe('sqlgen: randomized differential statements', () => {
  it('seed 11, 120 statements: the same answers through duckgate, mostly from DuckDB', async () => {
    const report = await runSqlgen(good, { seed: 11, statements: 120 });
    console.log(summaryTable(report));
    expect(report.findings.map((f) => `${f.kind}: ${f.minimised}\n  ${f.detail}`)).toEqual([]);
    expect(report.executions).toBe(360);
    expect(report.duckdbShare).toBeGreaterThan(0.5);
    // the generator writes valid SQL: Postgres rejects only a few (overflows, units a type lacks)
    expect(report.postgresErrors).toBeLessThan(report.statements * 0.1);
  }, 90_000);

  it('finds a deliberately wrong translation (< made <=) and minimises it', async () => {
    const report = await runSqlgen(bad, { seed: 1, statements: 40 });
    console.log(summaryTable(report));
    expect(report.differences).toBeGreaterThan(0);
    const lessThan = report.findings.filter((x) => /[^<>]<[^=>]/.test(x.minimised));
    expect(lessThan.length, report.findings.map((x) => x.minimised).join('\n')).toBeGreaterThan(0);
    for (const x of lessThan) console.log(`found: ${x.sql}\nminimised (${x.minimiseTests} tests): ${x.minimised}\n${x.corpusLine}`);
    // small, and a ready-to-paste corpus line; the minimiser removed something from at least one
    for (const x of lessThan) {
      expect(x.minimised.length).toBeLessThanOrEqual(Math.min(x.sql.length, 200));
      expect(x.corpusLine).toBe(`d('sqlgen: seed 1 #${x.index}', ${JSON.stringify(x.minimised)});`);
    }
    const f = lessThan.reduce((a, b) => (b.sql.length - b.minimised.length > a.sql.length - a.minimised.length ? b : a));
    expect(f.minimised.length).toBeLessThan(f.sql.length / 2);
    // still wrong through the faulty duckgate, right through the correct one
    for (const [env, differs] of [[bad, true], [good, false]] as const) {
      const c = await connectClients(env);
      try {
        const ex = await execute(c, f.minimised, /ORDER BY/.test(f.minimised), f.mode);
        expect(ex.duckdb).toBe(true);
        expect(ex.diff !== null, `${f.minimised}: ${ex.diff?.detail}`).toBe(differs);
      } finally {
        c.pg.close();
        c.dg.close();
      }
    }
  }, 90_000);
});
