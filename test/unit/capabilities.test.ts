// The capability list (src/router/capabilities.ts) is the one table the router and the DuckDB rewrite
// read: whatever the router lets through must be something the rewrite translates, and what the list
// says is never shipped must be refused by both. Also the refusal memory (src/router/refusals.ts) as the
// router consults it.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRewriter, regexRefusal, rewrite } from '../../src/engines/duckdb/rewrite.js';
import {
  defaultRoutingRules,
  FUNCTION_CAPABILITIES,
  initRouter,
  OPERATOR_CAPABILITIES,
  RefusalMemory,
  route,
  SAFE_FUNCTIONS,
  SEAMLESS_FUNCTIONS,
  type MirrorView,
  type RouteContext,
} from '../../src/router/index.js';

// t(a int4, b int4, x float8, y float8, s text, d date, ts timestamptz, n numeric(10,2)), as the
// examples of the capability list assume
const COLUMNS: Array<[string, string]> = [['id', 'int4'], ['a', 'int4'], ['b', 'int4'], ['x', 'float8'], ['y', 'float8'], ['s', 'text'], ['d', 'date'], ['ts', 'timestamptz'], ['n', 'numeric']];
const MIRROR: MirrorView = {
  tables: new Map([
    ['public.t', { schema: 'public', name: 't', primaryKey: ['id'], columns: new Map(COLUMNS.map(([c, pgType]) => [c, { pgType, exact: true }])), lagMs: 0, appliedLsn: '0/1' }],
  ]),
};
const RULES = defaultRoutingRules();
const ctx = (refusals = new RefusalMemory()): RouteContext => ({
  mirror: MIRROR, searchPath: ['public'], user: 'u', transactionFailed: false, sessionRoute: 'auto', rules: RULES, refusals,
});
const resolve = (s: string | null, n: string): string | null => (n === 't' && (s === null || s === 'public') ? '"lake"."t"' : null);

/** A statement calling the example, as the router and the rewrite see it. */
function statementFor(example: string, kind: string): string {
  if (kind === 'set_returning') return `SELECT count(*) FROM ${example} AS g, t`;
  const grouped = kind === 'aggregate' ? '' : ' GROUP BY a';
  return `SELECT ${example} AS v, count(*) FROM t${grouped}`;
}

beforeAll(async () => {
  await Promise.all([initRouter(), initRewriter()]);
});

describe('capability list: the router and the rewrite agree', () => {
  it('the router accepts exactly the shippable entries', () => {
    for (const [name, cap] of FUNCTION_CAPABILITIES) expect(SAFE_FUNCTIONS.has(name), name).toBe(cap.ship !== 'never');
    for (const name of SAFE_FUNCTIONS) expect(FUNCTION_CAPABILITIES.has(name), name).toBe(true);
  });

  it('every shippable entry has an example the router sends to DuckDB and the rewrite translates', () => {
    const failures: string[] = [];
    for (const [name, cap] of FUNCTION_CAPABILITIES) {
      if (cap.ship === 'never') continue;
      const sql = statementFor(cap.example, cap.kind);
      const r = route(sql, ctx());
      if (r.engine !== 'duckdb') failures.push(`${name}: router says ${r.engine} (${'reason' in r ? r.reason : ''} ${'detail' in r ? r.detail : ''})`);
      // Postgres's RowDescription as for a numeric first column (round(x, n) is translated at the top level for numeric only)
      const w = rewrite(sql, { resolve, fieldTypeOids: [1700, 20] });
      if (!w.ok) failures.push(`${name}: rewrite refuses (${w.reason}) ${sql}`);
    }
    expect(failures).toEqual([]);
  });

  it('a seamless entry is passed through by name; a conditional one says its condition; a never one why', () => {
    for (const [name, cap] of FUNCTION_CAPABILITIES) {
      expect(SEAMLESS_FUNCTIONS.has(name), name).toBe(cap.ship === 'seamless');
      if (cap.ship === 'conditional') expect(cap.when.length, name).toBeGreaterThan(10);
      if (cap.ship === 'never') expect(cap.why.length, name).toBeGreaterThan(10);
    }
  });

  it('every shippable operator has an example the router sends to DuckDB and the rewrite translates; the others stay on Postgres', () => {
    const failures: string[] = [];
    for (const [op, cap] of OPERATOR_CAPABILITIES) {
      if (cap.ship === 'never') {
        const sql = op.includes('BETWEEN') ? `SELECT count(*) FROM t WHERE a ${op} 1 AND 2` : `SELECT count(*) FROM t WHERE s ${op} s`;
        const r = route(sql, ctx());
        if (!(r.engine === 'postgres' && r.reason === 'unsafe_function')) failures.push(`${op}: router says ${r.engine}`);
        continue;
      }
      const sql = `SELECT count(*) FROM t WHERE ${cap.example}`;
      const r = route(sql, ctx());
      if (r.engine !== 'duckdb') failures.push(`${op}: router says ${r.engine} (${'detail' in r ? r.detail : ''})`);
      const w = rewrite(sql, { resolve, fieldTypeOids: [20] });
      if (!w.ok) failures.push(`${op}: rewrite refuses (${w.reason}) ${sql}`);
    }
    expect(failures).toEqual([]);
  });

  it('a never entry keeps the statement on Postgres in the router, and the rewrite refuses it too', () => {
    const samples: Record<string, string> = {
      regr_slope: 'regr_slope(y, x)', width_bucket: 'width_bucket(x, 0, 10, 5)', cbrt: 'cbrt(x)', isfinite: 'isfinite(ts)',
      make_date: 'make_date(a, b, 1)', unnest: "unnest('{1}'::int[])", mode: 'mode() WITHIN GROUP (ORDER BY a)', regexp_replace: "regexp_replace(s, 'a', 'b')",
      log: 'log(x)', trunc: 'trunc(x)', translate: "translate(s, 'a', 'b')", like_escape: "like_escape(s, '#')",
    };
    for (const [name, call] of Object.entries(samples)) {
      expect(FUNCTION_CAPABILITIES.get(name)?.ship, name).toBe('never');
      const sql = `SELECT ${call}, count(*) FROM t GROUP BY 1`;
      const r = route(sql, ctx());
      expect(r.engine === 'postgres' && r.reason, name).toBe('unsafe_function');
      expect(rewrite(sql, { resolve }).ok, name).toBe(false);
    }
  });
});

describe('regular expressions both engines read alike', () => {
  it('ships literals, ., ^, $, |, groups, quantifiers, bracket ranges and escaped punctuation', () => {
    for (const p of ['abc', '^/(blog|news)/', 'a.*tail', 'x{2,3}y', '[a-z0-9_-]+\\.html$', 'a\\.b\\/c', 'é+', '[^/]+$']) expect(regexRefusal(p), p).toBeNull();
  });
  it('refuses escapes with letters or digits, classes, (?, directors and bad braces', () => {
    for (const p of ['\\bTitle', 'a\\B', '\\w+', '\\d', '\\s', '\\y', '\\m', '(a)\\1', '[[:alpha:]]', '[\\d]', '(?i)a', '***=a', 'a{', 'a{300}', 'a{2,1}', '[]a]', '\\x41', 'a\\'])
      expect(regexRefusal(p), p).not.toBeNull();
  });
  it('the rewrite refuses a non-constant or unsafe pattern and ships a safe one as a constant', () => {
    expect(rewrite("SELECT count(*) FROM t WHERE s ~ '\\bTitle'", { resolve })).toMatchObject({ ok: false, byValue: true });
    expect(rewrite('SELECT count(*) FROM t WHERE s ~ s', { resolve }).ok).toBe(false);
    expect(rewrite("SELECT count(*) FROM t WHERE s !~* 'ab\\w'", { resolve }).ok).toBe(false);
    const ok = rewrite("SELECT count(*) FROM t WHERE s ~ '^a(b|c)'", { resolve });
    expect(ok.ok && ok.sql).toContain(`regexp_matches(("s"), '^a(b|c)', 's')`);
  });
});

describe('translations that keep Postgres errors and orders', () => {
  it('mod() divides through dg_nz, float math through the dg_ guards', () => {
    const r = rewrite('SELECT mod(a, b), sqrt(x), exp(x), ln(x), power(x, y) FROM t', { resolve });
    expect(r.ok && r.sql).toBe('SELECT mod("a", dg_nz("b")), dg_sqrt("x"), dg_exp("x"), dg_ln("x"), dg_power("x", "y") FROM "lake"."t" AS "t"');
  });
  it('+ - * / with an operand that may be float go through the overflow guards; integer ones do not', () => {
    const relation = () => ({ columns: new Map([['id', 'INTEGER'], ['a', 'INTEGER'], ['b', 'INTEGER'], ['x', 'DOUBLE'], ['y', 'DOUBLE'], ['s', 'VARCHAR']]), rows: 10 });
    const r = rewrite('SELECT a * b, a + 1, x * 2, x - y, a / 2.5, x / a, a::float8 + 1 FROM t', { resolve, relation });
    expect(r.ok && r.sql).toBe(
      'SELECT (("a") * ("b")), (("a") + (1)), dg_fmul("x", 2), dg_fsub("x", "y"), (("a") / dg_nz((2.5))), dg_fdiv("x", "a", ("x" / dg_nz("a"))), dg_fadd(CAST("a" AS DOUBLE), 1) FROM "lake"."t" AS "t"',
    );
    // a column of a derived table may be float: guarded
    const d = rewrite('SELECT v * 2 FROM (SELECT sum(a) AS v FROM t) s', { resolve, relation });
    expect(d.ok && d.sql).toContain('dg_fmul("v", 2)');
    // each level copies its operands into its checks: deeper nesting is refused
    expect(rewrite('SELECT (x * 2) + 1 FROM t', { resolve, relation }).ok).toBe(true);
    expect(rewrite('SELECT ((x * 2) + 1) * 3 FROM t', { resolve, relation })).toMatchObject({ ok: false, reason: 'float arithmetic nested too deep for its overflow checks' });
  });
  it('array_agg/string_agg(DISTINCT) get Postgres\'s sort order written out', () => {
    const r = rewrite("SELECT array_agg(DISTINCT s), string_agg(DISTINCT s, ','), array_agg(DISTINCT a ORDER BY a DESC) FROM t", { resolve });
    expect(r.ok && r.sql).toBe(
      `SELECT list_sort(array_agg(DISTINCT "s"), 'ASC', 'NULLS LAST'), string_agg(DISTINCT "s", ',' ORDER BY "s" ASC NULLS LAST), array_agg(DISTINCT "a" ORDER BY "a" DESC NULLS FIRST) FROM "lake"."t" AS "t"`,
    );
    expect(rewrite('SELECT string_agg(DISTINCT s, s) FROM t', { resolve }).ok).toBe(false);
  });
});

describe('refusal memory', () => {
  it('a remembered shape goes to Postgres with the reason; other shapes and other literals of no memory do not', () => {
    const memory = new RefusalMemory();
    const sql = 'SELECT a, count(*) FROM t GROUP BY a';
    const first = route(sql, ctx(memory));
    expect(first.engine).toBe('duckdb');
    if (first.engine !== 'duckdb') return;
    memory.remember(first.fingerprint, 'function frob');
    const again = route(sql, ctx(memory));
    expect(again).toMatchObject({ engine: 'postgres', reason: 'unsupported_syntax', detail: 'refused before: function frob' });
    // the same shape written with another literal or spacing has the same fingerprint
    expect(route('SELECT a,  count(*) FROM t  GROUP BY a', ctx(memory)).engine).toBe('postgres');
    expect(route('SELECT b, count(*) FROM t GROUP BY b', ctx(memory)).engine).toBe('duckdb');
    // explain shows it
    const ex = route(`/* duckgate: explain */ ${sql}`, ctx(memory));
    expect(ex.engine === 'explain' && ex.route).toMatchObject({ engine: 'postgres', reason: 'unsupported_syntax' });
    // an empty memory leaves the decision alone
    expect(route(sql, ctx(new RefusalMemory())).engine).toBe('duckdb');
  });
  it('is bounded and expires', async () => {
    const memory = new RefusalMemory({ max: 2, ttlMs: 30 });
    memory.remember('a', 'x');
    memory.remember('b', 'x');
    memory.remember('c', 'x');
    expect(memory.size).toBe(2);
    expect(memory.lookup('a')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 60));
    expect(memory.lookup('c')).toBeUndefined();
  });
});
