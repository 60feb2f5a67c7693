// float4 as Postgres's operator resolution types it (src/engines/duckdb/float4.ts), through rewrite():
// a real with an integer or numeric is widened to DOUBLE with the numeric read from its text, a real
// with a real (or an untyped literal) stays FLOAT, common-type contexts keep float4, and an operand of
// unknown type next to a real is refused. Values are checked end to end by the differential corpus.
import { beforeAll, describe, expect, it } from 'vitest';
import type { RelationFacts } from '../../src/engines/duckdb/preaggregate.js';
import { initRewriter, rewrite } from '../../src/engines/duckdb/rewrite.js';

const TABLES: Record<string, Array<[string, string]>> = {
  '"lake"."m"': [['id', 'INTEGER'], ['r', 'FLOAT'], ['r2', 'FLOAT'], ['d', 'DOUBLE'], ['n', 'DECIMAL(5,2)'], ['t', 'VARCHAR']],
  '"lake"."plain"': [['id', 'INTEGER'], ['d', 'DOUBLE'], ['n', 'DECIMAL(5,2)']],
};
const resolve = (s: string | null, n: string): string | null => ((s === null || s === 'public') && `"lake"."${n}"` in TABLES ? `"lake"."${n}"` : null);
const relation = (ref: string): RelationFacts | undefined => (TABLES[ref] ? { columns: new Map(TABLES[ref]), rows: 1000 } : undefined);
const sql = (text: string, paramTypeOids: number[] = []): string => {
  const r = rewrite(text, { resolve, relation, paramTypeOids });
  if (!r.ok) throw new Error(r.reason);
  return r.sql;
};
const refusal = (text: string): string => {
  const r = rewrite(text, { resolve, relation });
  return r.ok ? `translated: ${r.sql}` : r.reason;
};

beforeAll(async () => {
  await initRewriter();
});

describe('float4 operands', () => {
  it('widens a real compared with or computed with an integer or numeric, reading the numeric as float8', () => {
    expect(sql('SELECT count(*) FROM m WHERE r = 0.1')).toContain(`(CAST("r" AS DOUBLE)) = (CAST('0.1' AS DOUBLE))`);
    expect(sql('SELECT r * 100 FROM m')).toBe(`SELECT dg_fmul(CAST("r" AS DOUBLE), 100) FROM "lake"."m" AS "m"`);
    expect(sql('SELECT count(*) FROM m WHERE 2 < m.r')).toContain(`(2) < (CAST("m"."r" AS DOUBLE))`);
    expect(sql('SELECT count(*) FROM m WHERE r > n')).toContain(`(CAST("r" AS DOUBLE)) > ("n")`);
    expect(sql('SELECT count(*) FROM m WHERE r BETWEEN -0.5 AND 1')).toContain(`(CAST("r" AS DOUBLE)) BETWEEN (CAST('-0.5' AS DOUBLE)) AND (1)`);
    expect(sql('SELECT count(*) FROM m WHERE r IN (0.5)')).toContain(`CAST("r" AS DOUBLE)`);
  });

  it('widens the argument of float8-only functions and the operands of arithmetic nested in them', () => {
    expect(sql('SELECT sqrt(r), ceil(r) FROM m')).toBe(`SELECT dg_sqrt(CAST("r" AS DOUBLE)), ceil(CAST("r" AS DOUBLE)) FROM "lake"."m" AS "m"`);
    expect(sql('SELECT avg(r * 2), avg(r) FROM m')).toContain(`avg(dg_fmul(CAST("r" AS DOUBLE), 2)), avg(CAST("r" AS DOUBLE))`);
  });

  it('leaves real with real, with an untyped literal, with float8, and in common-type contexts as FLOAT', () => {
    expect(sql("SELECT r * r2, r + '1.5', r < d, abs(r) FROM m")).toBe(`SELECT dg_fmul("r", "r2"), dg_fadd("r", '1.5'), (("r") < ("d")), abs("r") FROM "lake"."m" AS "m"`);
    // numeric constants made float4 are read from their text (float4in), not converted from a DECIMAL
    expect(sql('SELECT coalesce(r, 0.1), greatest(r, 0) FROM m')).toBe(`SELECT coalesce("r", CAST('0.1' AS FLOAT)), (CASE WHEN ("r") IS NULL THEN (0) WHEN (0) IS NOT NULL AND (0) > ("r") THEN (0) ELSE ("r") END) FROM "lake"."m" AS "m"`);
    expect(sql('SELECT count(*) FROM m WHERE r IN (0.1, 0.2)')).toContain(`IN (CAST('0.1' AS FLOAT), CAST('0.2' AS FLOAT))`);
  });

  it('types columns through subqueries and CTEs, and float4 parameters', () => {
    expect(sql('WITH s AS (SELECT r AS x FROM m) SELECT q.y * 10 FROM (SELECT x AS y FROM s) q')).toContain(`dg_fmul(CAST("q"."y" AS DOUBLE), 10)`);
    expect(sql('SELECT count(*) FROM m WHERE $1 > 0.5', [700])).toContain(`(CAST(CAST($1 AS FLOAT) AS DOUBLE)) > (CAST('0.5' AS DOUBLE))`);
    expect(sql('SELECT count(*) FROM m WHERE r = $1', [700])).toContain(`("r") = (CAST($1 AS FLOAT))`);
  });

  it('changes nothing in a statement where no float4 can occur', () => {
    expect(sql('SELECT d * 100, n + 0.5 FROM plain WHERE d = 0.1')).toBe(`SELECT dg_fmul("d", 100), (("n") + (0.5)) FROM "lake"."plain" AS "plain" WHERE (("d") = (0.1))`);
  });

  it('refuses where a real meets an operand whose type is not known, or a numeric made float4 by conversion', () => {
    expect(sql('SELECT count(*) FROM m WHERE r = (SELECT max(n) FROM m)')).toContain(`(CAST("r" AS DOUBLE)) = ((SELECT max("n")`);
    expect(refusal('SELECT count(*) FROM m, generate_series(1, 3) g WHERE r = g')).toMatch(/not known/);
    expect(refusal('SELECT coalesce(r, n) FROM m')).toMatch(/made float4/);
    expect(refusal('SELECT count(*) FROM m WHERE r IN (n, 0.5)')).toMatch(/IN list/);
    expect(refusal('SELECT sum(r) > 1 FROM m')).toMatch(/sum\(real\)/);
    expect(refusal('SELECT CAST(n AS real) FROM m')).toMatch(/cast to real/);
    expect(sql('SELECT r FROM m UNION ALL SELECT 0.1 FROM m')).toContain(`(SELECT CAST('0.1' AS FLOAT) AS "?column?" FROM "lake"."m" AS "m")`);
    expect(refusal('SELECT r FROM m UNION SELECT n FROM m')).toMatch(/set operation/);
    expect(sql("SELECT CAST(0.1 AS real), CAST('0.1' AS real) FROM m")).toBe(`SELECT CAST(CAST('0.1' AS FLOAT) AS FLOAT), CAST('0.1' AS FLOAT) FROM "lake"."m" AS "m"`);
    expect(refusal('SELECT nullif(r, 0.5) * r2 FROM m')).toMatch(/NULLIF/);
    expect(refusal("SELECT CASE r WHEN 0.5 THEN 1 WHEN '0.25' THEN 2 END FROM m")).toMatch(/mixed/);
    expect(refusal('SELECT count(*) FROM m a JOIN (SELECT id AS r FROM plain) b USING (r)')).toMatch(/USING/);
    // an unknown relation may hold float4 columns: an integer comparison with its column is refused
    expect(refusal('SELECT count(*) FROM m JOIN unknown u ON true WHERE u.x > 1')).not.toMatch(/^translated/);
  });
});

describe('numeric parameters', () => {
  it('are bound where the value alone decides (compared with an integer or numeric column), refused elsewhere', () => {
    expect(sql('SELECT count(*) FROM m WHERE n > $1 AND $2 <= id', [1700, 1700])).toContain(`(("n") > (CAST($1 AS DECIMAL(38,10))))) AND (((CAST($2 AS DECIMAL(38,10))) <= ("id")))`);
    for (const q of ['SELECT $1 * 2 FROM m', 'SELECT count(*) FROM m WHERE d > $1', 'SELECT count(*) FROM m WHERE n * 2 > $1']) {
      const r = rewrite(q, { resolve, relation, paramTypeOids: [1700] });
      expect(r.ok ? r.sql : r.reason, q).toMatch(/numeric parameter/);
    }
  });
});
