// Pure parts of the DuckDB engine: the rewrite's translations and refusals, Postgres's numeric division
// scale, float and interval formatting (cross-checked against a real Postgres in test/integration/duckdb-*.test.ts).
import type { RelationFacts } from '../../src/engines/duckdb/preaggregate.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { duckdbTimeZone, starNamesDiffer } from '../../src/engines/duckdb/engine.js';
import { formatFloat, formatInterval, pgAvg } from '../../src/engines/duckdb/format.js';
import { initRewriter, rewrite } from '../../src/engines/duckdb/rewrite.js';
import { fixedOffsetSeconds, utcOffsetSeconds } from '../../src/engines/duckdb/timezone.js';
import { binaryParamText } from '../../src/engines/duckdb/params.js';

const resolve = (s: string | null, n: string): string | null => (n === 't' && (s === null || s === 'public') ? '"lake"."t"' : null);
/** t's columns, as the engine reads them from DuckDB: a bare name in a subquery is then known to be t's */
const tFacts = (ref: string): RelationFacts | undefined => (ref === '"lake"."t"' ? { columns: new Map(['x', 'y', 'z', 'v', 'id'].map((c) => [c, 'INTEGER'])), rows: 10 } : undefined);

beforeAll(async () => {
  await initRewriter();
});

describe('SELECT * name check', () => {
  const f = (name: string) => ({ name, typeOid: 23, typmod: -1, format: 0 as const });
  it('accepts the same names in order and refuses anything else', () => {
    expect(starNamesDiffer(['a', 'b'], [f('a'), f('b')])).toBeNull();
    expect(starNamesDiffer(['b', 'a'], [f('a'), f('b')])).toMatch(/column 1/);
    expect(starNamesDiffer(['a'], [f('a'), f('b')])).toMatch(/1 columns/);
  });
});

describe('rewrite', () => {
  it('resolves tables, writes NULLS order, guards division, escapes LIKE', () => {
    // integer columns (DuckDB's types of the relation): no float overflow guard
    const relation = (): RelationFacts => ({ columns: new Map([['a', 'INTEGER'], ['b', 'INTEGER'], ['c', 'VARCHAR']]), rows: 10 });
    const r = rewrite("SELECT a / b FROM t WHERE c LIKE 'x%' ORDER BY a DESC", { resolve, relation });
    expect(r).toEqual({
      ok: true,
      kinds: ['integral'],
      scales: [null],
      checkNames: false,
      clock: false,
      caseMapping: false,
      subtractsValues: false,
      preAggregated: 0,
      sql: `SELECT (("a") / dg_nz(("b"))) FROM "lake"."t" AS "t" WHERE (like_escape(("c"), ('x%'), '\\')) ORDER BY "a" DESC NULLS FIRST`,
    });
  });
  it('ships a top-level numeric division as numerator and denominator, and guards casts to numeric(p,s)', () => {
    const r = rewrite('SELECT sum(x) / count(*) FROM t', { resolve, fieldTypeOids: [1700] });
    expect(r.ok && r.sql).toBe(`SELECT CASE WHEN (sum("x")) IS NULL OR (count(*)) IS NULL THEN NULL ELSE {'n': sum("x"), 'd': dg_nz(count(*))} END FROM "lake"."t" AS "t"`);
    expect(r.ok && r.kinds).toEqual(['div']);
    // below the top level, or over a division, it stays as DuckDB computes it (and the alignment refuses a DOUBLE)
    const nested = rewrite('SELECT floor(x / 2.5) FROM t', { resolve, fieldTypeOids: [1700] });
    expect(nested.ok && nested.kinds).toEqual(['integral']);
    const cast = rewrite('SELECT CAST(x AS numeric(10,2)) FROM t', { resolve, fieldTypeOids: [1700] });
    expect(cast.ok && cast.sql).toContain("THEN error('duckgate: only integers and decimals are cast to numeric alike') ELSE CAST(\"x\" AS DECIMAL(10,2)) END");
  });
  it('ships a top-level numeric avg as sum and count', () => {
    const r = rewrite('SELECT avg(x) FROM public.t', { resolve, fieldTypeOids: [1700] });
    expect(r.ok && r.sql).toContain("{'s': sum(\"x\"), 'c': count(\"x\")}");
    expect(r.ok && r.kinds).toEqual(['avg']);
  });
  it('lets an integer stand for numeric only where no division over a derived column could differ', () => {
    const ok = rewrite('SELECT sum(x) OVER (ORDER BY y), (SELECT sum(x) FROM t) FROM t', { resolve, relation: tFacts, fieldTypeOids: [1700, 1700] });
    expect(ok.ok && ok.kinds).toEqual(['integral', 'integral']);
    const cte = rewrite('WITH m AS (SELECT sum(x) AS b FROM t) SELECT b, b / 2 FROM m', { resolve, fieldTypeOids: [1700, 1700] });
    expect(cte.ok && cte.kinds).toEqual(['other', 'other']);
    expect(rewrite('SELECT sum(x) / 2 FROM t', { resolve }).ok).toBe(false);
  });
  it('translates round(x, n) and round(avg(x), n) at the top level only, with display scale n', () => {
    const r = rewrite('SELECT round(x, 2), round(avg(x), 3), round(y::numeric(10,2)) FROM t', { resolve, fieldTypeOids: [1700, 1700, 1700] });
    expect(r.ok && r.sql).toContain('round("x", 2)');
    expect(r.ok && r.kinds).toEqual(['integral', 'avg', 'integral']);
    expect(r.ok && r.scales).toEqual([2, 3, null]);
    expect(rewrite('SELECT sum(r) FROM (SELECT round(x, 2) AS r FROM t) s', { resolve, fieldTypeOids: [1700] }).ok).toBe(false);
    expect(rewrite('SELECT round(x, y) FROM t', { resolve, fieldTypeOids: [1700] }).ok).toBe(false);
    expect(rewrite('SELECT round(x, -1) FROM t', { resolve, fieldTypeOids: [1700] }).ok).toBe(false);
  });
  it('expands a top-level * in DuckDB and asks the engine to check the names', () => {
    const r = rewrite('SELECT *, x AS y FROM t', { resolve, fieldTypeOids: [23, 1700, 23] });
    expect(r.ok && r.checkNames).toBe(true);
    expect(r.ok && r.kinds).toEqual(['integral', 'integral', 'integral']);
    expect(rewrite('SELECT * FROM t', { resolve }).ok).toBe(false);
    expect(rewrite('SELECT x FROM (SELECT * FROM t) s', { resolve, fieldTypeOids: [23] })).toMatchObject({ ok: true, checkNames: false });
  });
  it('writes explicit window frames out and translates generate_series in FROM', () => {
    const r = rewrite('SELECT sum(x) OVER (ORDER BY y ROWS 2 PRECEDING) FROM t', { resolve });
    expect(r.ok && r.sql).toContain('ROWS BETWEEN 2 PRECEDING AND CURRENT ROW');
    const g = rewrite("SELECT g FROM generate_series(date '2024-01-01', date '2024-01-03', interval '1 day') g", { resolve });
    expect(g.ok && g.sql).toContain('AS TIMESTAMPTZ)');
    expect(g.ok && g.sql).toContain('AS "g"("g")');
  });
  it('keeps CTE names local and refuses unmirrored tables', () => {
    expect(rewrite('WITH t2 AS (SELECT 1 AS a FROM t) SELECT a FROM t2', { resolve }).ok).toBe(true);
    expect(rewrite('SELECT 1 FROM other', { resolve })).toEqual({ ok: false, reason: 'relation other is not mirrored', byValue: true });
  });
  it('reads now()/current_date/localtimestamp from per-statement constants and flags the clock', () => {
    const r = rewrite("SELECT count(*) FROM t WHERE x > now() - interval '1 day' AND d <= current_date AND y < localtimestamp", { resolve });
    expect(r.ok && r.sql).toMatch(/dg_now\(\).*dg_current_date\(\).*dg_localtimestamp\(\)/);
    expect(r.ok && r.clock).toBe(true);
    expect(rewrite('SELECT count(*) FROM t', { resolve })).toMatchObject({ ok: true, clock: false });
  });
  it('maps case the C ctype\'s way (ASCII letters only) for lower, upper, ILIKE and ~*, and flags it', () => {
    const r = rewrite("SELECT lower(a), upper(b) FROM t WHERE c ILIKE 'x%' AND d ~* '^AB|c'", { resolve });
    expect(r.ok && r.caseMapping).toBe(true);
    expect(r.ok && r.sql).toContain(`translate("a", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`);
    expect(r.ok && r.sql).toContain(`translate("b", 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')`);
    expect(r.ok && r.sql).toContain(`'^ab|c', 's'`);
    expect(rewrite("SELECT a FROM t WHERE a LIKE 'X%' AND a ~ 'Y'", { resolve })).toMatchObject({ ok: true, caseMapping: false });
    for (const p of ['\\D+', '[A-Z]x', '[[:upper:]]']) expect(rewrite(`SELECT a FROM t WHERE a ~* '${p}'`, { resolve }).ok, p).toBe(false);
    expect(rewrite('SELECT a FROM t WHERE a ~* b', { resolve }).ok).toBe(false);
  });
  it('sends date_trunc and extract through the calendar macros', () => {
    const r = rewrite("SELECT date_trunc('hour', x), extract(dow FROM x), date_part('year', x) FROM t", { resolve });
    expect(r.ok && r.sql).toContain(`dg_date_trunc('hour', "x")`);
    expect(r.ok && r.sql).toContain(`dg_date_part('dow', "x")`);
    expect(r.ok && r.sql).toContain(`dg_date_part('year', "x")`);
  });
  it.each(['SELECT now(1)', 'SELECT current_timestamp(3) FROM t', 'SELECT current_time FROM t', "SELECT date_trunc('century', x) FROM t", 'SELECT localtime FROM t', 'SELECT random() FROM t', 'SELECT x FROM t FOR SHARE', 'SELECT 1e3', "SELECT to_char(x, 'YYYY-DDD') FROM t", 'SELECT x::numeric FROM t', 'UPDATE t SET x = 1', 'SELECT generate_series(1, 3)', 'SELECT sum(x) OVER (ORDER BY x RANGE 1.5 PRECEDING) FROM t', 'SELECT * FROM generate_series(1, x) g'])(
    'refuses %s',
    (sql) => {
      expect(rewrite(sql, { resolve }).ok).toBe(false);
    },
  );
});

describe('formatting', () => {
  it('numeric avg scale follows select_div_scale', () => {
    expect(pgAvg({ unscaled: 6n, scale: 0 }, 3n)).toEqual({ unscaled: 20000000000000000n, scale: 16 });
    expect(pgAvg({ unscaled: 7n, scale: 0 }, 3n)).toEqual({ unscaled: 23333333333333333n, scale: 16 });
  });
  it('floats like float8out/float4out', () => {
    expect(formatFloat(1e15, false, 1)).toBe('1e+15');
    expect(formatFloat(1e14, false, 1)).toBe('100000000000000');
    expect(formatFloat(1e-5, false, 1)).toBe('1e-05');
    expect(formatFloat(0.1, false, 0)).toBe('0.1');
    expect(formatFloat(1 / 3, false, 0)).toBe('0.333333333333333');
    expect(formatFloat(Math.fround(1e6), true, 1)).toBe('1e+06');
    expect(formatFloat(Math.fround(0.1), true, 1)).toBe('0.1');
  });
  it('intervals like IntervalStyle postgres', () => {
    expect(formatInterval(14, 3, 14706000000n)).toBe('1 year 2 mons 3 days 04:05:06');
    expect(formatInterval(0, -1, 7200000000n)).toBe('-1 days +02:00:00');
    expect(formatInterval(0, 0, 0n)).toBe('00:00:00');
  });
  it('time zones: named, ISO offsets, POSIX', () => {
    expect(utcOffsetSeconds('Europe/Berlin', Date.UTC(2024, 6, 1) / 1000)).toBe(7200);
    expect(utcOffsetSeconds('Europe/Berlin', Date.UTC(2024, 0, 1) / 1000)).toBe(3600);
    expect(utcOffsetSeconds('+02', 0)).toBe(7200);
    expect(utcOffsetSeconds('<+02>-02', 0)).toBe(7200);
    expect(utcOffsetSeconds('UTC+3', 0)).toBe(-10800);
    expect(duckdbTimeZone('+02')).toBe('Etc/GMT-2');
    expect(duckdbTimeZone('America/New_York')).toBe('America/New_York');
    expect(duckdbTimeZone('+05:30')).toBeNull();
  });
});

describe('binary parameters as text', () => {
  const be = (n: number, f: (b: Buffer) => void) => {
    const b = Buffer.alloc(n);
    f(b);
    return b;
  };
  it('reads integers, floats, booleans, text, uuid', () => {
    expect(binaryParamText(23, be(4, (b) => b.writeInt32BE(-7)))).toBe('-7');
    expect(binaryParamText(20, be(8, (b) => b.writeBigInt64BE(9007199254740993n)))).toBe('9007199254740993');
    expect(binaryParamText(21, be(2, (b) => b.writeInt16BE(404)))).toBe('404');
    expect(binaryParamText(701, be(8, (b) => b.writeDoubleBE(0.1)))).toBe('0.1');
    expect(binaryParamText(701, be(8, (b) => b.writeDoubleBE(-Infinity)))).toBe('-Infinity');
    expect(binaryParamText(701, be(8, (b) => b.writeDoubleBE(-0)))).toBe('-0');
    expect(Number(binaryParamText(700, be(4, (b) => b.writeFloatBE(0.1))))).toBe(Math.fround(0.1));
    expect(binaryParamText(16, Buffer.from([1]))).toBe('true');
    expect(binaryParamText(25, Buffer.from('héllo'))).toBe('héllo');
    expect(binaryParamText(2950, Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'hex'))).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  });
  it('reads dates and timestamps from Postgres\'s 2000-01-01 epoch, infinities too; refuses BC and odd sizes', () => {
    expect(binaryParamText(1082, be(4, (b) => b.writeInt32BE(-1)))).toBe('1999-12-31');
    expect(binaryParamText(1082, be(4, (b) => b.writeInt32BE(0x7fffffff)))).toBe('infinity');
    expect(binaryParamText(1114, be(8, (b) => b.writeBigInt64BE(1_500_000n)))).toBe('2000-01-01 00:00:01.5');
    expect(binaryParamText(1184, be(8, (b) => b.writeBigInt64BE(-1n)))).toBe('1999-12-31 23:59:59.999999+00');
    expect(binaryParamText(1184, be(8, (b) => b.writeBigInt64BE(-0x8000000000000000n)))).toBe('-infinity');
    expect(() => binaryParamText(1082, be(4, (b) => b.writeInt32BE(-800_000)))).toThrow(/BC/);
    expect(() => binaryParamText(23, Buffer.alloc(3))).toThrow(/3 bytes/);
    expect(() => binaryParamText(1790, Buffer.alloc(8))).toThrow(/OID 1790/);
  });
  it('reads times (24:00:00 too) and intervals (months, days and microseconds kept apart); refuses infinite intervals', () => {
    expect(binaryParamText(1083, be(8, (b) => b.writeBigInt64BE(81_000_123_457n)))).toBe('22:30:00.123457');
    expect(binaryParamText(1083, be(8, (b) => b.writeBigInt64BE(86_400_000_000n)))).toBe('24:00:00');
    const iv = (micros: bigint, days: number, months: number) =>
      be(16, (b) => {
        b.writeBigInt64BE(micros, 0);
        b.writeInt32BE(days, 8);
        b.writeInt32BE(months, 12);
      });
    expect(binaryParamText(1186, iv(-7n, 5, -3))).toBe('-3 months 5 days -7 microseconds');
    expect(() => binaryParamText(1186, iv(0x7fffffffffffffffn, 0x7fffffff, 0x7fffffff))).toThrow(/infinite/);
  });
  it('reads numerics (base-10000 digits, weight, sign, display scale); refuses NaN, infinities and more than 10 decimals', () => {
    const num = (digits: number[], weight: number, sign: number, dscale: number) =>
      be(8 + 2 * digits.length, (b) => {
        b.writeUInt16BE(digits.length, 0);
        b.writeInt16BE(weight, 2);
        b.writeUInt16BE(sign, 4);
        b.writeUInt16BE(dscale, 6);
        digits.forEach((d, i) => b.writeUInt16BE(d, 8 + 2 * i));
      });
    expect(binaryParamText(1700, num([123, 4500], 0, 0, 2))).toBe('123.45');
    expect(binaryParamText(1700, num([1], -1, 0x4000, 4))).toBe('-0.0001');
    expect(binaryParamText(1700, num([1], -2, 0, 8))).toBe('0.00000001');
    expect(binaryParamText(1700, num([1], 2, 0, 0))).toBe('100000000');
    expect(binaryParamText(1700, num([], 0, 0, 3))).toBe('0.000');
    expect(binaryParamText(1700, num([12, 3456, 7800], 1, 0, 3))).toBe('123456.780');
    expect(() => binaryParamText(1700, num([], 0, 0xc000, 0))).toThrow(/NaN/);
    expect(() => binaryParamText(1700, num([1], -3, 0, 11))).toThrow(/10 decimals/);
  });
  it('knows which zones have one fixed offset', () => {
    expect(fixedOffsetSeconds('Etc/UTC')).toBe(0);
    expect(fixedOffsetSeconds('Etc/GMT-2')).toBe(7200);
    expect(fixedOffsetSeconds('UTC+3')).toBe(-10800);
    expect(fixedOffsetSeconds('+05')).toBe(18000);
    expect(fixedOffsetSeconds('Europe/Berlin')).toBeNull();
    expect(fixedOffsetSeconds('no/such_zone')).toBeNull();
  });
});

describe('pre-aggregation (preaggregate.ts)', () => {
  const facts = new Map<string, RelationFacts>([
    ['"lake"."f"', { rows: 1_000_000, columns: new Map([['day', 'DATE'], ['at', 'TIMESTAMP'], ['dim_id', 'INTEGER'], ['n', 'BIGINT'], ['kind', 'VARCHAR'], ['ok', 'BOOLEAN']]) }],
    ['"lake"."dim"', { rows: 2_000, columns: new Map([['id', 'INTEGER'], ['name', 'VARCHAR'], ['grp', 'VARCHAR']]) }],
    ['"lake"."big"', { rows: 900_000, columns: new Map([['id', 'INTEGER'], ['name', 'VARCHAR']]) }],
  ]);
  const input = { resolve: (s: string | null, n: string) => (['f', 'dim', 'big'].includes(n) && (s === null || s === 'public') ? `"lake"."${n}"` : null), relation: (ref: string) => facts.get(ref) };
  const pre = (sql: string, fieldTypeOids?: number[]) => {
    const r = rewrite(sql, { ...input, fieldTypeOids });
    if (!r.ok) throw new Error(r.reason);
    return r;
  };

  it('groups a DATE column first when the statement groups by a function of it', () => {
    const r = pre("SELECT date_trunc('month', day) AS m, count(*), sum(n), max(kind) FROM f WHERE kind = 'x' GROUP BY 1 ORDER BY 1");
    expect(r.preAggregated).toBe(1);
    expect(r.sql).toBe(
      `SELECT dg_date_trunc('month', "day") AS "m", CAST(sum("f"."_dg_p0") AS BIGINT), sum("f"."_dg_p1"), max("f"."_dg_p2") ` +
        `FROM (SELECT "day", count(*) AS "_dg_p0", sum("n") AS "_dg_p1", max("kind") AS "_dg_p2" FROM "lake"."f" AS "f" WHERE ((("kind") = ('x'))) GROUP BY "day") AS "f" ` +
        `GROUP BY 1 ORDER BY 1 ASC NULLS LAST`,
    );
  });

  it('ships a top-level numeric avg as the sums of the groups\' sums and counts', () => {
    const r = pre("SELECT date_trunc('year', day), avg(n) FROM f GROUP BY 1", [1184, 1700]);
    expect(r.preAggregated).toBe(1);
    expect(r.sql).toContain(`CASE WHEN CAST(sum("f"."_dg_p1") AS BIGINT) = 0 THEN NULL ELSE {'s': sum("f"."_dg_p0"), 'c': CAST(sum("f"."_dg_p1") AS BIGINT)} END`);
    expect(r.kinds[1]).toBe('avg');
  });

  it('aggregates the larger table of an inner join by its join column, below the join', () => {
    const r = pre('SELECT d.grp, count(*), count(DISTINCT f.dim_id), min(f.day) FROM f JOIN dim d ON d.id = f.dim_id WHERE d.name <> \'\' AND f.ok GROUP BY d.grp');
    expect(r.preAggregated).toBe(1);
    expect(r.sql).toBe(
      `SELECT "d"."grp", CAST(sum("f"."_dg_p0") AS BIGINT), count(DISTINCT "f"."dim_id"), min("f"."_dg_p1") ` +
        `FROM ((SELECT "dim_id", count(*) AS "_dg_p0", min("f"."day") AS "_dg_p1" FROM "lake"."f" AS "f" WHERE ("f"."ok") GROUP BY "dim_id") AS "f" ` +
        `JOIN "lake"."dim" AS "d" ON (("d"."id") = ("f"."dim_id"))) WHERE ((("d"."name") <> (''))) GROUP BY "d"."grp"`,
    );
  });

  it('leaves statements as written where two steps would not pay or not be exact', () => {
    const asWritten = [
      // a timestamp has as many values as rows
      "SELECT date_trunc('month', at), count(*) FROM f GROUP BY 1",
      // grouping by the column itself: nothing to save
      'SELECT day, count(*) FROM f GROUP BY day',
      'SELECT day, count(*) FROM f GROUP BY 1',
      // the other table is not a dimension
      'SELECT b.name, count(*) FROM f JOIN big b ON b.id = f.dim_id GROUP BY b.name',
      // a fact column outside aggregates that is not the join column
      'SELECT d.grp, f.kind, count(*) FROM f JOIN dim d ON d.id = f.dim_id GROUP BY 1, 2',
      // a WHERE condition across both tables, an aggregate of the dimension, an outer join
      'SELECT d.grp, count(*) FROM f JOIN dim d ON d.id = f.dim_id WHERE d.name = f.kind GROUP BY 1',
      'SELECT d.grp, max(d.name) FROM f JOIN dim d ON d.id = f.dim_id GROUP BY 1',
      'SELECT d.grp, count(*) FROM f LEFT JOIN dim d ON d.id = f.dim_id GROUP BY 1',
      // DISTINCT over a non-key column, avg below the top level, a subquery
      "SELECT date_trunc('month', day), count(DISTINCT kind) FROM f GROUP BY 1",
      "SELECT date_trunc('month', day) FROM f GROUP BY 1 HAVING avg(n) > 1",
      "SELECT date_trunc('month', day), count(*) FROM f WHERE n > (SELECT 1) GROUP BY 1",
      // no GROUP BY: an empty table still has one row of aggregates
      'SELECT count(*), min(day) FROM f',
    ];
    for (const sql of asWritten) expect(pre(sql).preAggregated, sql).toBe(0);
    // and without table facts nothing is pre-aggregated
    const r = rewrite("SELECT date_trunc('month', day), count(*) FROM f GROUP BY 1", { resolve: input.resolve });
    expect(r.ok && r.preAggregated).toBe(0);
  });
});

describe('scopes: whole-row values and outer-level aggregates (issue 10, classes 4 and 5)', () => {
  const input = { resolve, relation: tFacts, fieldTypeOids: [20] };
  const refused = (sql: string, i: object = input) => {
    const r = rewrite(sql, { resolve, ...i });
    return r.ok ? `translated: ${r.sql}` : r.reason;
  };
  it('refuses a whole-row value anywhere but as a select-list expansion', () => {
    for (const sql of [
      'SELECT count(u.*) FROM t LEFT JOIN t u ON u.id = t.x',
      'SELECT count(u) FROM t LEFT JOIN t u ON u.id = t.x',
      'SELECT count(*) FILTER (WHERE u.* IS NULL) FROM t LEFT JOIN t u ON u.id = t.x',
      'SELECT count(*) FROM t WHERE t IS NOT NULL',
      'SELECT (SELECT count(s) FROM (SELECT x FROM t) s)',
      'SELECT count(g) FROM generate_series(1, 3) AS g(n)',
    ]) expect(refused(sql), sql).toMatch(/whole-row/);
    // a ROW constructor or row comparison is not translated at all
    expect(refused('SELECT count(ROW(x, y)) FROM t')).toMatch(/RowExpr/);
    expect(refused('SELECT count(*) FROM t WHERE (x, y) < (1, 2)')).toMatch(/RowExpr|operator/);
    // expansions and columns named like their range are columns
    for (const sql of ['SELECT t.* FROM t', 'SELECT u.*, t.x FROM t JOIN t u ON u.id = t.x', 'SELECT count(g) FROM generate_series(1, 3) g', 'SELECT max(x) FROM (SELECT x AS x FROM t) x']) {
      expect(rewrite(sql, { ...input, fieldTypeOids: [23, 23, 23, 23, 23, 23] }).ok, sql).toBe(true);
    }
  });
  it('refuses an aggregate that belongs to an outer query level, at any depth', () => {
    for (const sql of [
      'SELECT (SELECT max(o.v)) FROM t o',
      'SELECT (SELECT max((SELECT i.v FROM t i WHERE i.id = o.id))) FROM t o',
      'SELECT (SELECT sum(o.x) FROM t i WHERE i.id = o.id) FROM t o',
      'SELECT (SELECT count(o.x) FILTER (WHERE o.y > 0) FROM t i) FROM t o',
      'SELECT x FROM t o WHERE EXISTS (SELECT 1 FROM t i WHERE i.id = o.id HAVING max(o.v) > 1)',
      'SELECT (SELECT (SELECT max(o.v) FROM t j) FROM t i LIMIT 1) FROM t o',
      'SELECT (SELECT max(x) FROM (SELECT 1 AS q) s) FROM t o',
    ]) expect(refused(sql), sql).toMatch(/outer query/);
    // its own level: a column of it (bare or qualified) anywhere in the arguments or FILTER, or none
    for (const sql of [
      'SELECT (SELECT max(i.v) FROM t i WHERE i.id = o.id) FROM t o',
      'SELECT (SELECT max(v) FROM t i WHERE i.id = o.id) FROM t o',
      'SELECT (SELECT max(o.v + i.v) FROM t i WHERE i.id = o.id) FROM t o',
      'SELECT (SELECT sum(o.x) FILTER (WHERE i.y > 0) FROM t i) FROM t o',
      'SELECT (SELECT count(*) FROM t i WHERE i.id = o.id) FROM t o',
      'SELECT max(o.v) FROM t o',
      'WITH m AS (SELECT sum(x) AS s FROM t) SELECT (SELECT max(s) FROM m) FROM t',
      // a subquery's columns named as Postgres names them (FigureColname): a cast of a CASE takes the type's name
      'SELECT (SELECT max(int4) + max(x) FROM (SELECT CASE WHEN x > 0 THEN 1 END::int, x::int8 FROM t) s) FROM t o',
    ]) expect(refused(sql), sql).toMatch(/^translated/);
    // and DuckDB is told those names (its own for y::int8 is "CAST(y AS BIGINT)": an outer y would bind)
    const named = rewrite('SELECT (SELECT max(y) FROM (SELECT y::int8, count(*), x + 1 FROM t GROUP BY y, x) s) FROM t o', { ...input, fieldTypeOids: [20] });
    expect(named.ok && named.sql).toContain('SELECT CAST("y" AS BIGINT) AS "y", count(*) AS "count", (("x") + (1)) AS "?column?" FROM');
    // a bare name whose level cannot be told (no column list) is refused in a subquery only
    expect(refused('SELECT (SELECT max(v) FROM t i WHERE i.id = o.id) FROM t o', { relation: undefined })).toMatch(/cannot be told/);
    expect(refused('SELECT max(v) FROM t o', { relation: undefined })).toMatch(/^translated/);
  });
});

describe('window function arguments (issue 10, class 3)', () => {
  const input = { resolve, relation: tFacts };
  it('writes lag/lead defaults out as a CASE typed from both branches, and marks the column as mixing scales', () => {
    const r = rewrite('SELECT lag(x, 1, 0.7) OVER (ORDER BY id), lead(x, y, z) OVER (PARTITION BY y ORDER BY id), lag(x) OVER (ORDER BY id), lag(x, 2) OVER (ORDER BY id) FROM t', { ...input, fieldTypeOids: [1700, 23, 23, 23] });
    expect(r.ok && r.sql).toContain(`(CASE WHEN lag(1, 1) OVER (ORDER BY "id" ASC NULLS LAST) IS NOT NULL THEN lag("x", 1) OVER (ORDER BY "id" ASC NULLS LAST) WHEN (1) IS NULL THEN NULL ELSE 0.7 END)`);
    expect(r.ok && r.sql).toContain('lag("x") OVER');
    expect(r.ok && r.sql).toContain('lag("x", 2) OVER');
    expect(r.ok && r.kinds[0]).toBe('mixed_scale');
  });
  it("guards nth_value's position and takes ntile's bucket count only as a constant", () => {
    const r = rewrite('SELECT nth_value(x, y) OVER (ORDER BY id), ntile(4) OVER (ORDER BY id), ntile($1) OVER (ORDER BY id) FROM t', { ...input, paramTypeOids: [23] });
    expect(r.ok && r.sql).toContain(`nth_value("x", CASE WHEN ("y") <= 0 THEN error('argument of nth_value must be greater than zero') ELSE ("y") END)`);
    expect(rewrite('SELECT ntile(y) OVER (ORDER BY id) FROM t', input)).toMatchObject({ ok: false, reason: expect.stringMatching(/ntile/) });
  });
  it('treats a numeric of varying scale below the top level as mixing scales in every numeric column', () => {
    const r = rewrite('SELECT c, c + 1 FROM (SELECT coalesce(sum(x), 0) AS c FROM t) s', { ...input, fieldTypeOids: [1700, 1700] });
    expect(r.ok && r.kinds).toEqual(['mixed_scale', 'mixed_scale']);
    const l = rewrite('SELECT sum(p) FROM (SELECT lag(x, 1, 0) OVER (ORDER BY id) AS p FROM t) s', { ...input, fieldTypeOids: [1700] });
    expect(l.ok && l.kinds).toEqual(['mixed_scale']);
    const plain = rewrite('SELECT c FROM (SELECT sum(x) AS c FROM t) s', { ...input, fieldTypeOids: [1700] });
    expect(plain.ok && plain.kinds).toEqual(['integral']);
  });
});

describe('sort keys (issue 10, class 12)', () => {
  const floats = (ref: string): RelationFacts | undefined => (ref === '"lake"."t"' ? { columns: new Map([['x', 'INTEGER'], ['f', 'DOUBLE'], ['r', 'FLOAT']]), rows: 10 } : undefined);
  const input = { resolve, relation: floats };
  it('refuses a key that is a numeric avg or division shipped as a struct, or any other numeric avg', () => {
    for (const sql of [
      'SELECT x, avg(x) AS a FROM t GROUP BY x ORDER BY a',
      'SELECT x, avg(x) AS a FROM t GROUP BY x ORDER BY 2 DESC',
      'SELECT x, round(avg(x), 2) AS a FROM t GROUP BY x ORDER BY a, x',
      'SELECT x, sum(x) / count(*) AS a FROM t GROUP BY x ORDER BY a',
      'SELECT x FROM t GROUP BY x ORDER BY avg(x)',
      'SELECT x, rank() OVER (ORDER BY avg(x)) FROM t GROUP BY x',
    ]) expect(rewrite(sql, { ...input, fieldTypeOids: [23, 1700] }).ok, sql).toBe(false);
    // a float avg orders as DuckDB computes it
    expect(rewrite('SELECT x, avg(f) AS a FROM t GROUP BY x ORDER BY a', { ...input, fieldTypeOids: [23, 701] }).ok).toBe(true);
  });
  it('sorts a float key apart from the column (DuckDB gives a sorted -0 back as 0)', () => {
    const r = rewrite('SELECT x, f AS g, r FROM t ORDER BY g, 3 DESC, f, x, row_number() OVER (ORDER BY r)', { ...input, fieldTypeOids: [23, 701, 700, 20] });
    expect(r.ok && r.sql).toContain('ORDER BY ("f") + 0 ASC NULLS LAST, ("r") + 0 DESC NULLS FIRST, ("f") + 0 ASC NULLS LAST, "x" ASC NULLS LAST, row_number() OVER (ORDER BY ("r" + 0) ASC NULLS LAST) ASC NULLS LAST');
    // a float column that is not an output column, by the tables' types; other keys as written
    const d = rewrite('SELECT id, row_number() OVER (PARTITION BY y ORDER BY y2, b) FROM (SELECT x AS id, f * 2 AS y, abs(r) AS y2, f > 1 AS b FROM t) s', { ...input, fieldTypeOids: [23, 20] });
    expect(d.ok && d.sql).toContain('OVER (PARTITION BY ("y" + 0) ORDER BY ("y2" + 0) ASC NULLS LAST, "b" ASC NULLS LAST)');
    const c = rewrite('SELECT x FROM t ORDER BY f DESC, t.r, x', { ...input, fieldTypeOids: [23] });
    expect(c.ok && c.sql).toContain('ORDER BY ("f" + 0) DESC NULLS FIRST, ("t"."r" + 0) ASC NULLS LAST, "x" ASC NULLS LAST');
    const w = rewrite('SELECT x, row_number() OVER (ORDER BY f DESC) FROM t ORDER BY x', { ...input, fieldTypeOids: [23, 20] });
    expect(w.ok && w.sql).toContain('OVER (ORDER BY ("f" + 0) DESC NULLS FIRST)');
  });
});
