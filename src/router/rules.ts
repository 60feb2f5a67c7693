// The `routing:` section of rules files (rules/default.yaml, then config.rules in order; src/config/rules.ts
// reads and splits them). Validated here; unknown keys are rejected with the path that was wrong.
//
//   routing:
//     max_lag: strict          # freshness of DuckDB reads: strict (default; every transaction committed
//                              # before the statement began is seen) or an opt-in bound ('500ms', '5s', '2m',
//                              # '1h', or a number of milliseconds) for dashboards that prefer speed
//     cost_threshold: 10000    # Postgres EXPLAIN total cost below which a scan stays on Postgres
//     rules:
//       - table: public.events # 'schema.table', or 'table' for that name in any schema
//         route: postgres      # postgres | duckdb | auto
//       - fingerprint: 1f0c…   # 16 hex digits, as `/* duckgate: explain */` shows it
//         route: duckdb
//         max_lag: 30s
//       - pattern: '^select .* from cdx_records'   # JS regular expression over the statement text,
//         route: auto                               # case-insensitive, `.` matches newlines
//
// Later sections' scalars override earlier ones; their rules are appended. Which rule wins is in decide.ts.
import { parseDuration } from './text.js';
import type { RoutingRule, RoutingRules, RuleMatch, SessionRoute } from './types.js';

export class RoutingRulesError extends Error {
  override name = 'RoutingRulesError';
}

/** 0: strict freshness (the LSN fence), as a READ COMMITTED statement on Postgres sees its data. */
export const DEFAULT_MAX_LAG_MS = 0;
export const DEFAULT_COST_THRESHOLD = 10_000;

export function defaultRoutingRules(): RoutingRules {
  return { defaultMaxLagMs: DEFAULT_MAX_LAG_MS, costThreshold: DEFAULT_COST_THRESHOLD, rules: [] };
}

const SECTION_KEYS = ['max_lag', 'cost_threshold', 'rules'];
const RULE_KEYS = ['table', 'fingerprint', 'pattern', 'route', 'max_lag'];

function isMapping(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validates and merges `routing:` sections. `origins` names each section in error messages (file names).
 *  `defaults`: values used when no section sets them (e.g. config mirror.maxLagMs). */
export function parseRoutingRules(
  sections: unknown[],
  origins: string[] = [],
  defaults: Partial<Pick<RoutingRules, 'defaultMaxLagMs' | 'costThreshold'>> = {},
): RoutingRules {
  const out = { ...defaultRoutingRules(), ...defaults, rules: [] as RoutingRule[] };
  sections.forEach((section, i) => {
    const where = origins[i] ?? `routing section ${i + 1}`;
    if (section === null || section === undefined) return;
    if (!isMapping(section)) throw new RoutingRulesError(`${where}: routing must be a mapping (max_lag, cost_threshold, rules)`);
    for (const k of Object.keys(section)) {
      if (!SECTION_KEYS.includes(k)) throw new RoutingRulesError(`${where}: unknown key routing.${k} (known: ${SECTION_KEYS.join(', ')})`);
    }
    if (section['max_lag'] !== undefined) out.defaultMaxLagMs = duration(section['max_lag'], `${where}: routing.max_lag`);
    if (section['cost_threshold'] !== undefined) {
      const c = section['cost_threshold'];
      if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) throw new RoutingRulesError(`${where}: routing.cost_threshold must be a number ≥ 0`);
      out.costThreshold = c;
    }
    const rules = section['rules'];
    if (rules === undefined || rules === null) return;
    if (!Array.isArray(rules)) throw new RoutingRulesError(`${where}: routing.rules must be a list`);
    rules.forEach((r, j) => out.rules.push(parseRule(r, `${where}: routing.rules[${j}]`)));
  });
  return out;
}

function duration(v: unknown, where: string): number {
  const ms = parseDuration(v);
  if (ms === null) throw new RoutingRulesError(`${where} must be strict or a duration like 500ms, 5s, 2m, 1h (or milliseconds), got ${JSON.stringify(v)}`);
  return ms;
}

function parseRule(r: unknown, where: string): RoutingRule {
  if (!isMapping(r)) throw new RoutingRulesError(`${where}: a rule must be a mapping`);
  for (const k of Object.keys(r)) {
    if (!RULE_KEYS.includes(k)) throw new RoutingRulesError(`${where}: unknown key ${k} (known: ${RULE_KEYS.join(', ')})`);
  }
  const selectors = ['table', 'fingerprint', 'pattern'].filter((k) => r[k] !== undefined);
  if (selectors.length !== 1) throw new RoutingRulesError(`${where}: give exactly one of table, fingerprint, pattern`);
  const sel = selectors[0]!;
  const v = r[sel];
  if (typeof v !== 'string' || v.trim() === '') throw new RoutingRulesError(`${where}: ${sel} must be a non-empty string`);
  let match: RuleMatch;
  if (sel === 'table') {
    const dot = v.indexOf('.');
    match = dot < 0 ? { kind: 'table', schema: null, name: v } : { kind: 'table', schema: v.slice(0, dot), name: v.slice(dot + 1) };
  } else if (sel === 'fingerprint') {
    if (!/^[0-9a-f]{16}$/i.test(v)) throw new RoutingRulesError(`${where}: fingerprint must be 16 hex digits (as /* duckgate: explain */ shows)`);
    match = { kind: 'fingerprint', value: v.toLowerCase() };
  } else {
    try {
      match = { kind: 'pattern', regex: new RegExp(v, 'is') };
    } catch (e) {
      throw new RoutingRulesError(`${where}: pattern is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  if (r['route'] === undefined && r['max_lag'] === undefined) throw new RoutingRulesError(`${where}: give route and/or max_lag`);
  const route = r['route'] ?? null;
  if (route !== null && route !== 'auto' && route !== 'postgres' && route !== 'duckdb') throw new RoutingRulesError(`${where}: route must be postgres, duckdb or auto`);
  const maxLagMs = r['max_lag'] === undefined ? null : duration(r['max_lag'], `${where}: max_lag`);
  return { match, route: route as SessionRoute | null, maxLagMs, origin: where };
}

/** Rules that apply to a statement: those matching its text or fingerprint, and those matching a
 *  touched table (tables as 'schema.table'). */
export function applicableRules(rules: RoutingRules, sql: string, fingerprint: string, tables: Array<{ schema: string; name: string }>): {
  statement: RoutingRule[];
  table: RoutingRule[];
} {
  const statement: RoutingRule[] = [];
  const table: RoutingRule[] = [];
  for (const r of rules.rules) {
    const m = r.match;
    switch (m.kind) {
      case 'fingerprint':
        if (m.value === fingerprint) statement.push(r);
        break;
      case 'pattern':
        if (m.regex.test(sql)) statement.push(r);
        break;
      case 'table':
        if (tables.some((t) => t.name === m.name && (m.schema === null || m.schema === t.schema))) table.push(r);
        break;
      default:
        assertNever(m);
    }
  }
  return { statement, table };
}

export function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
