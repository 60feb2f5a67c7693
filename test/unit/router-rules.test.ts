// The `routing:` section of rules files, and what rules do to routing decisions.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  DEFAULT_COST_THRESHOLD,
  DEFAULT_MAX_LAG_MS,
  initRouter,
  parseRoutingRules,
  route,
  RoutingRulesError,
  type DuckdbRoute,
  type MirrorTable,
  type MirrorView,
  type RouteContext,
  type RoutingRules,
} from '../../src/router/index.js';

beforeAll(async () => {
  await initRouter();
});

function table(name: string, cols: string[], pk = ['id']): [string, MirrorTable] {
  return [`public.${name}`, { schema: 'public', name, primaryKey: pk, columns: new Map(cols.map((c) => [c, { exact: true, pgType: 'int4' }])), lagMs: 0, appliedLsn: null }];
}
const MIRROR: MirrorView = { tables: new Map([table('events', ['id', 'user_id', 'kind']), table('orders', ['id', 'user_id', 'total'])]) };

function ctx(rules: RoutingRules, over: Partial<RouteContext> = {}): RouteContext {
  return { mirror: MIRROR, searchPath: ['public'], user: 'u', transactionFailed: false, sessionRoute: 'auto', rules, ...over };
}

describe('parseRoutingRules', () => {
  test('the shipped rules/default.yaml routing section is valid', () => {
    const doc = parseYaml(readFileSync(new URL('../../rules/default.yaml', import.meta.url), 'utf8')) as { routing: unknown };
    const r = parseRoutingRules([doc.routing], ['rules/default.yaml'], { defaultMaxLagMs: 4000 });
    expect(r).toEqual({ defaultMaxLagMs: 4000, costThreshold: 10000, rules: [] });
  });

  test('defaults, empty and null sections', () => {
    expect(parseRoutingRules([])).toEqual({ defaultMaxLagMs: DEFAULT_MAX_LAG_MS, costThreshold: DEFAULT_COST_THRESHOLD, rules: [] });
    expect(parseRoutingRules([null, {}])).toEqual({ defaultMaxLagMs: DEFAULT_MAX_LAG_MS, costThreshold: DEFAULT_COST_THRESHOLD, rules: [] });
    // a section's value beats the caller's default
    expect(parseRoutingRules([{ max_lag: '1s' }], [], { defaultMaxLagMs: 9000, costThreshold: 5 })).toMatchObject({ defaultMaxLagMs: 1000, costThreshold: 5 });
  });

  test('durations, rules, and merging of several files', () => {
    const r = parseRoutingRules(
      [
        { max_lag: '2s', cost_threshold: 500, rules: [{ table: 'public.events', route: 'postgres' }, { table: 'orders', max_lag: '1m' }] },
        { max_lag: 750, rules: [{ fingerprint: 'ABCDEF0123456789', route: 'duckdb', max_lag: '1.5s' }, { pattern: 'from\\s+events', route: 'auto' }] },
      ],
      ['a.yaml', 'b.yaml'],
    );
    expect(r.defaultMaxLagMs).toBe(750);
    expect(r.costThreshold).toBe(500);
    expect(r.rules.map((x) => [x.match.kind, x.route, x.maxLagMs, x.origin])).toEqual([
      ['table', 'postgres', null, 'a.yaml: routing.rules[0]'],
      ['table', null, 60_000, 'a.yaml: routing.rules[1]'],
      ['fingerprint', 'duckdb', 1500, 'b.yaml: routing.rules[0]'],
      ['pattern', 'auto', null, 'b.yaml: routing.rules[1]'],
    ]);
    expect(r.rules[0]!.match).toEqual({ kind: 'table', schema: 'public', name: 'events' });
    expect(r.rules[1]!.match).toEqual({ kind: 'table', schema: null, name: 'orders' });
    expect(r.rules[2]!.match).toEqual({ kind: 'fingerprint', value: 'abcdef0123456789' });
  });

  test.each([
    [[[]], 'x.yaml: routing must be a mapping'],
    [[{ maxlag: '5s' }], 'x.yaml: unknown key routing.maxlag (known: max_lag, cost_threshold, rules)'],
    [[{ max_lag: 'soon' }], 'x.yaml: routing.max_lag must be strict or a duration like 500ms, 5s, 2m, 1h (or milliseconds), got "soon"'],
    [[{ max_lag: -1 }], 'x.yaml: routing.max_lag must be strict or a duration'],
    [[{ cost_threshold: 'big' }], 'x.yaml: routing.cost_threshold must be a number ≥ 0'],
    [[{ rules: { table: 't' } }], 'x.yaml: routing.rules must be a list'],
    [[{ rules: ['t'] }], 'x.yaml: routing.rules[0]: a rule must be a mapping'],
    [[{ rules: [{ table: 't', route: 'postgres', when: 'always' }] }], 'x.yaml: routing.rules[0]: unknown key when (known: table, fingerprint, pattern, route, max_lag)'],
    [[{ rules: [{ route: 'postgres' }] }], 'x.yaml: routing.rules[0]: give exactly one of table, fingerprint, pattern'],
    [[{ rules: [{ table: 't', pattern: 'x', route: 'postgres' }] }], 'x.yaml: routing.rules[0]: give exactly one of table, fingerprint, pattern'],
    [[{ rules: [{ table: 't' }] }], 'x.yaml: routing.rules[0]: give route and/or max_lag'],
    [[{ rules: [{ table: 't', route: 'fast' }] }], 'x.yaml: routing.rules[0]: route must be postgres, duckdb or auto'],
    [[{ rules: [{ table: '', route: 'postgres' }] }], 'x.yaml: routing.rules[0]: table must be a non-empty string'],
    [[{ rules: [{ fingerprint: 'xyz', route: 'postgres' }] }], 'x.yaml: routing.rules[0]: fingerprint must be 16 hex digits'],
    [[{ rules: [{ pattern: '(', route: 'postgres' }] }], 'x.yaml: routing.rules[0]: pattern is not a valid regular expression'],
  ])('rejects %j', (sections, message) => {
    let err: unknown;
    try {
      parseRoutingRules(sections as unknown[], ['x.yaml']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoutingRulesError);
    expect((err as Error).message.startsWith(message)).toBe(true);
  });
});

describe('rules in routing decisions', () => {
  const agg = 'SELECT kind, count(*) FROM events GROUP BY kind';
  const lookup = 'SELECT * FROM events WHERE id = $1';

  test('a table rule holds every statement touching the table to Postgres', () => {
    const rules = parseRoutingRules([{ rules: [{ table: 'public.events', route: 'postgres' }] }]);
    expect(route(agg, ctx(rules))).toMatchObject({ engine: 'postgres', reason: 'rule', detail: 'routing section 1: routing.rules[0]' });
    expect(route('SELECT count(*) FROM events JOIN orders USING (user_id)', ctx(rules))).toMatchObject({ engine: 'postgres', reason: 'rule' });
    expect(route('SELECT count(*) FROM orders', ctx(rules))).toMatchObject({ engine: 'duckdb', reason: 'analytical' });
  });

  test('a table rule without schema matches the table in any schema; a later rule for the table wins', () => {
    const rules = parseRoutingRules([{ rules: [{ table: 'events', route: 'postgres' }] }, { rules: [{ table: 'events', route: 'auto' }] }]);
    expect(route(agg, ctx(rules))).toMatchObject({ engine: 'duckdb', reason: 'analytical' });
  });

  test('a duckdb table rule forces DuckDB past the shape checks, not past faithfulness', () => {
    const rules = parseRoutingRules([{ rules: [{ table: 'events', route: 'duckdb' }] }]);
    expect(route(lookup, ctx(rules))).toMatchObject({ engine: 'duckdb', reason: 'rule', needsCostCheck: false });
    expect(route(`SELECT nextval('s') FROM events`, ctx(rules))).toMatchObject({ engine: 'postgres', reason: 'unsafe_function' });
    expect(route(`SELECT * FROM events FOR UPDATE`, ctx(rules))).toMatchObject({ engine: 'postgres', reason: 'locking' });
    expect(route(agg, ctx(rules, { transactionFailed: true }))).toMatchObject({ engine: 'postgres', reason: 'in_transaction' });
  });

  test('postgres on one table beats duckdb on another', () => {
    const rules = parseRoutingRules([{ rules: [{ table: 'events', route: 'duckdb' }, { table: 'orders', route: 'postgres' }] }]);
    expect(route('SELECT count(*) FROM events JOIN orders USING (user_id)', ctx(rules))).toMatchObject({ engine: 'postgres', reason: 'rule' });
  });

  test('a fingerprint rule matches the statement whatever its constants', () => {
    const fp = (route('SELECT * FROM events WHERE id = 1', ctx(parseRoutingRules([{ rules: [{ table: 'events', route: 'duckdb' }] }]))) as DuckdbRoute).fingerprint;
    const rules = parseRoutingRules([{ rules: [{ fingerprint: fp, route: 'duckdb' }] }]);
    expect(route('SELECT * FROM events WHERE id = 99', ctx(rules))).toMatchObject({ engine: 'duckdb', reason: 'rule' });
    expect(route('SELECT * FROM orders WHERE id = 99', ctx(rules))).toMatchObject({ engine: 'postgres', reason: 'point_lookup' });
  });

  test('a pattern rule, and statement rules beat table rules', () => {
    const rules = parseRoutingRules([{ rules: [{ table: 'events', route: 'postgres' }, { pattern: '^select kind, count', route: 'duckdb' }] }]);
    expect(route(agg, ctx(rules))).toMatchObject({ engine: 'duckdb', reason: 'rule', detail: 'routing section 1: routing.rules[1]' });
    expect(route('SELECT count(*) FROM events', ctx(rules))).toMatchObject({ engine: 'postgres', reason: 'rule' });
  });

  test('session setting beats rules; a hint beats both', () => {
    const rules = parseRoutingRules([{ rules: [{ table: 'events', route: 'postgres' }] }]);
    expect(route(agg, ctx(rules, { sessionRoute: 'duckdb' }))).toMatchObject({ engine: 'duckdb', reason: 'session_setting' });
    expect(route(`/* duckgate: route=postgres */ ${agg}`, ctx(rules, { sessionRoute: 'duckdb' }))).toMatchObject({ engine: 'postgres', reason: 'hint' });
  });

  test('max_lag: default, strictest table rule, statement rule, hint', () => {
    const rules = parseRoutingRules([
      { max_lag: '3s', rules: [{ table: 'events', max_lag: '10s' }, { table: 'orders', max_lag: '1s' }, { pattern: 'sum\\(total\\)', max_lag: '1h' }] },
    ]);
    expect(route('SELECT count(*) FROM events', ctx(rules))).toMatchObject({ engine: 'duckdb', maxLagMs: 10_000 });
    expect(route('SELECT count(*) FROM events JOIN orders USING (user_id)', ctx(rules))).toMatchObject({ engine: 'duckdb', maxLagMs: 1_000 });
    expect(route('SELECT sum(total) FROM orders', ctx(rules))).toMatchObject({ engine: 'duckdb', maxLagMs: 3_600_000 });
    expect(route('/* duckgate: max_lag=250ms */ SELECT sum(total) FROM orders', ctx(rules))).toMatchObject({ engine: 'duckdb', maxLagMs: 250 });
    const plain = parseRoutingRules([{ max_lag: '3s' }]);
    expect(route('SELECT count(*) FROM orders', ctx(plain))).toMatchObject({ engine: 'duckdb', maxLagMs: 3_000 });
    // strict unless a rules file opts in, and `strict` spelled out in a rule holds a table to the fence
    expect(route('SELECT count(*) FROM orders', ctx(parseRoutingRules([])))).toMatchObject({ engine: 'duckdb', maxLagMs: 0, lagOrigin: 'default' });
    const strictEvents = parseRoutingRules([{ max_lag: '1m', rules: [{ table: 'events', max_lag: 'strict' }] }]);
    expect(route('SELECT count(*) FROM events JOIN orders USING (user_id)', ctx(strictEvents))).toMatchObject({ engine: 'duckdb', maxLagMs: 0 });
  });
});
