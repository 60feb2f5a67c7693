// The constructs of the capability list (src/router/capabilities.ts, CONSTRUCT_CAPABILITIES) as the
// rewrite translates or refuses them, and the BI-tool constructs served for issue 10 §5 (grouping sets,
// VALUES, = ANY(ARRAY[…]), GROUPS/EXCLUDE/RANGE-offset frames, AT TIME ZONE, extract(epoch)). Their
// answers are compared with Postgres's by the differential BI corpus (test/differential/corpus-bi.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { initRewriter, rewrite } from '../../src/engines/duckdb/rewrite.js';
import { CONSTRUCT_CAPABILITIES } from '../../src/router/capabilities.js';
import { defaultRoutingRules, initRouter, RefusalMemory, route, type MirrorView, type RouteContext } from '../../src/router/index.js';

// t(a int4, b int4, x float8, y float8, s text, d date, ts timestamptz, n numeric(10,2)), as the
// capability list's examples assume
const COLUMNS: Array<[string, string]> = [['id', 'int4'], ['a', 'int4'], ['b', 'int4'], ['x', 'float8'], ['y', 'float8'], ['s', 'text'], ['d', 'date'], ['ts', 'timestamptz'], ['n', 'numeric']];
const MIRROR: MirrorView = {
  tables: new Map([
    ['public.t', { schema: 'public', name: 't', primaryKey: ['id'], columns: new Map(COLUMNS.map(([c, pgType]) => [c, { pgType, exact: true }])), lagMs: 0, appliedLsn: '0/1' }],
  ]),
};
const ctx = (): RouteContext => ({
  mirror: MIRROR, searchPath: ['public'], user: 'u', transactionFailed: false, sessionRoute: 'auto', rules: defaultRoutingRules(), refusals: new RefusalMemory(),
});
const resolve = (s: string | null, n: string): string | null => (n === 't' && (s === null || s === 'public') ? '"lake"."t"' : null);
const sqlOf = (sql: string): string => {
  const r = rewrite(sql, { resolve });
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.sql;
};
const refusal = (sql: string): string | null => {
  const r = rewrite(sql, { resolve });
  return r.ok ? null : r.reason;
};

beforeAll(async () => {
  await Promise.all([initRouter(), initRewriter()]);
});

describe('construct capabilities: the list and the rewrite agree', () => {
  it('every seamless or conditional example goes to DuckDB and is translated; every never example the rewrite checks is refused', () => {
    const failures: string[] = [];
    for (const [name, cap] of CONSTRUCT_CAPABILITIES) {
      if (cap.ship === 'never') {
        if (cap.checkedIn) continue; // refused by the router, the type alignment or the engine (see its why)
        if (refusal(cap.example) === null) failures.push(`${name}: the rewrite translates ${cap.example}`);
        continue;
      }
      const r = route(cap.example, ctx());
      if (r.engine !== 'duckdb') failures.push(`${name}: router says ${r.engine} (${'reason' in r ? r.reason : ''} ${'detail' in r ? r.detail : ''})`);
      const why = refusal(cap.example);
      if (why !== null) failures.push(`${name}: the rewrite refuses (${why}) ${cap.example}`);
    }
    expect(failures).toEqual([]);
  });
});

describe('grouping sets', () => {
  it('ROLLUP, CUBE, GROUPING SETS (with () and a list) and grouping() pass through', () => {
    expect(sqlOf('SELECT a, b, grouping(a, b), count(*) FROM t GROUP BY ROLLUP (a, b)')).toContain('GROUP BY ROLLUP ("a", "b")');
    expect(sqlOf('SELECT a, b, grouping(a, b), count(*) FROM t GROUP BY ROLLUP (a, b)')).toContain('grouping("a", "b")');
    expect(sqlOf('SELECT a, b, count(*) FROM t GROUP BY CUBE (a, b)')).toContain('GROUP BY CUBE ("a", "b")');
    expect(sqlOf('SELECT a, b, count(*) FROM t GROUP BY GROUPING SETS ((a), (a, b), ())')).toContain('GROUP BY GROUPING SETS (("a"), ("a", "b"), ())');
    expect(sqlOf('SELECT s, a, count(*) FROM t GROUP BY s, ROLLUP (a)')).toContain('GROUP BY "s", ROLLUP ("a")');
  });
  it('a parenthesised list inside ROLLUP/CUBE and a nested grouping set are refused', () => {
    expect(refusal('SELECT a, b, count(*) FROM t GROUP BY ROLLUP ((a, b))')).toBe('a nested list in ROLLUP/CUBE');
    expect(refusal('SELECT a, b, count(*) FROM t GROUP BY GROUPING SETS (ROLLUP (a), b)')).toBe('a nested grouping set');
  });
});

describe('= ANY(array) and <> ALL(array)', () => {
  it('an ARRAY[...] of constants of one kind becomes IN / NOT IN', () => {
    expect(sqlOf("SELECT count(*) FROM t WHERE s = ANY(ARRAY['a', 'b'])")).toContain(`(("s") IN ('a', 'b'))`);
    expect(sqlOf('SELECT count(*) FROM t WHERE a <> ALL(ARRAY[1, -2])')).toContain('(("a") NOT IN (1, -2))');
  });
  it('NULL elements, mixed kinds, array values, parameters and other operators are refused', () => {
    for (const w of ["s = ANY(ARRAY['a', NULL])", "s = ANY('{a,b}')", 'a = ANY(ARRAY[1, 2.5])', 'a < ANY(ARRAY[1, 2])', 'a = ALL(ARRAY[1])', 'a = ANY(ARRAY[b, 2])'])
      expect(refusal(`SELECT count(*) FROM t WHERE ${w}`), w).not.toBeNull();
  });
});

describe('VALUES', () => {
  it('constants of one kind per column, named column1… as in Postgres', () => {
    expect(sqlOf("SELECT v.column2, count(*) FROM t JOIN (VALUES (1, 'one'), (2, NULL)) AS v ON t.a = v.column1 GROUP BY 1")).toContain(
      `(SELECT * FROM (VALUES (1, 'one'), (2, NULL)) AS "dg_values"("column1", "column2")) AS "v"`,
    );
  });
  it('decimals, booleans, big integers, all-NULL or mixed columns and expressions are refused', () => {
    for (const v of ['(1.5), (2.25)', '(true)', '(3000000000)', '(NULL), (NULL)', "(1), ('a')", '(1 + 1)'])
      expect(refusal(`SELECT count(*) FROM t JOIN (VALUES ${v}) AS v(c) ON true`), v).not.toBeNull();
  });
});

describe('window frames', () => {
  const frame = (f: string) => sqlOf(`SELECT sum(a) OVER (ORDER BY d ${f}) FROM t`);
  it('GROUPS with integer offsets, EXCLUDE, RANGE with an integer or interval offset', () => {
    expect(frame('GROUPS BETWEEN 1 PRECEDING AND 2 FOLLOWING')).toContain('GROUPS BETWEEN 1 PRECEDING AND 2 FOLLOWING)');
    expect(frame('ROWS BETWEEN 3 PRECEDING AND 3 FOLLOWING EXCLUDE CURRENT ROW')).toContain('ROWS BETWEEN 3 PRECEDING AND 3 FOLLOWING EXCLUDE CURRENT ROW)');
    expect(frame('RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP')).toContain('EXCLUDE GROUP)');
    expect(frame('RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES')).toContain('RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES)');
    expect(frame("RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW")).toMatch(/RANGE BETWEEN .*INTERVAL.* PRECEDING AND CURRENT ROW\)/);
  });
  it('an interval offset is run only under zones without DST (it may move a timestamptz across days)', () => {
    const r = rewrite("SELECT sum(a) OVER (ORDER BY ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) FROM t", { resolve });
    expect(r.ok && r.subtractsValues).toBe(true);
    const rows = rewrite('SELECT sum(a) OVER (ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t', { resolve });
    expect(rows.ok && rows.subtractsValues).toBe(false);
  });
  it('an offset other than a non-negative integer constant (or a constant interval for RANGE) is refused', () => {
    for (const f of ['ROWS BETWEEN a PRECEDING AND CURRENT ROW', "GROUPS BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW", 'RANGE BETWEEN 1.5 PRECEDING AND CURRENT ROW'])
      expect(refusal(`SELECT sum(a) OVER (ORDER BY d ${f}) FROM t`), f).not.toBeNull();
  });
});

describe('AT TIME ZONE and extract(epoch)', () => {
  it('a constant tzdata zone ID (an alias too) goes through dg_at_zone', () => {
    for (const z of ['UTC', 'America/New_York', 'Asia/Kolkata', 'America/Argentina/Buenos_Aires', 'Etc/GMT+3'])
      expect(sqlOf(`SELECT ts AT TIME ZONE '${z}' FROM t`), z).toContain(`dg_at_zone('${z}', "ts")`);
  });
  it('abbreviations, POSIX specs, numeric offsets, other spellings and non-constant zones are refused', () => {
    for (const z of ["'EST'", "'UTC+3'", "'+05:30'", "'europe/berlin'", "'Mars/Olympus'", 's'])
      expect(refusal(`SELECT ts AT TIME ZONE ${z} FROM t`), z).toBe('AT TIME ZONE with other than a constant IANA zone ID');
  });
  it('make_interval of integer constants (positional or named) is computed; anything else is refused', () => {
    expect(sqlOf('SELECT make_interval(1, 2, 3, 4, 5, 6, 7) FROM t')).toContain(
      '(to_months(CAST(14 AS INTEGER)) + to_days(CAST(25 AS INTEGER)) + to_microseconds(CAST(18367000000 AS BIGINT)))',
    );
    expect(sqlOf('SELECT make_interval(days => -3, mins => 90) FROM t')).toContain('to_days(CAST(-3 AS INTEGER)) + to_microseconds(CAST(5400000000 AS BIGINT))');
    for (const c of ['make_interval(days => a)', 'make_interval(secs => 1.5)', 'make_interval(years => 200000000)', 'make_interval(1, years => 2)'])
      expect(refusal(`SELECT ${c} FROM t`), c).not.toBeNull();
  });
  it('date_bin with a constant stride up to days and a typed constant origin goes through dg_date_bin', () => {
    expect(sqlOf("SELECT date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01') FROM t")).toContain('dg_date_bin(CAST(900000000 AS BIGINT), "ts", ');
    expect(sqlOf("SELECT date_bin(INTERVAL '2 days', ts, TIMESTAMP '2000-01-01') FROM t")).toContain('dg_date_bin(CAST(172800000000 AS BIGINT), "ts", ');
    for (const c of ["date_bin('1 month', ts, TIMESTAMPTZ '2000-01-01')", "date_bin('0 minutes', ts, TIMESTAMPTZ '2000-01-01')", "date_bin('1 hour 30 minutes', ts, TIMESTAMPTZ '2000-01-01')", "date_bin('1 hour', ts, ts)", "date_bin('1 hour', ts, '2000-01-01')", "date_bin('5 m', ts, TIMESTAMPTZ '2000-01-01')"])
      expect(refusal(`SELECT ${c} FROM t`), c).not.toBeNull();
  });
  it('extract(epoch) goes through dg_epoch (numeric, raising where it does not translate)', () => {
    expect(sqlOf('SELECT extract(epoch FROM ts), extract(epoch FROM d) FROM t')).toBe('SELECT dg_epoch("ts"), dg_epoch("d") FROM "lake"."t" AS "t"');
  });
});
