// The routing decision: statement facts + what the session knows → Route. Pure.
// The order of the checks is the order of the state diagram in index.ts.
import { PgError } from '../protocol/errors.js';
import { USE_GROUPED, USE_ORDERED, USE_OUTPUT, type ColumnUse, type StatementFacts } from './facts.js';
import { shippableOperator } from './capabilities.js';
import { SAFE_FUNCTIONS } from './functions.js';
import { parseText } from './parse.js';
import { applicableRules, assertNever } from './rules.js';
import { leadingKind, looksLikeCatalog, mentionsMirroredTable, parseDuration, touchesSession, type Hints } from './text.js';
import type { DuckdbRoute, MirrorTable, PostgresRoute, Reason, Route, RouteContext, RoutingRule, SessionEffect, SessionRoute } from './types.js';

/** A LIMIT at or below this, with no ORDER BY and no aggregation, is an OLTP-style peek: Postgres. */
export const SMALL_LIMIT = 1000;

const CATALOG_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema', 'pg_toast']);

function pg(reason: Reason, detail?: string, more: Partial<PostgresRoute> = {}): PostgresRoute {
  const r: PostgresRoute = { engine: 'postgres', reason, tables: more.tables ?? [] };
  if (detail !== undefined) r.detail = detail;
  if (more.fingerprint !== undefined) r.fingerprint = more.fingerprint;
  if (more.effects && more.effects.length > 0) r.effects = more.effects;
  return r;
}

/** In a failed transaction block Postgres answers 25P02; an open one is judged by the session's check
 *  query (isolation level, whether the transaction has written), which the router cannot see. */
export function transactionAllowsDuckdb(ctx: RouteContext): boolean {
  return !ctx.transactionFailed;
}

/**
 * The hot path: decides from the text alone, without a parse, when it can (else null). Not cached:
 * it is cheaper than a cache lookup, and distinct literal texts would only flush the cache.
 */
export function decideQuick(sql: string, ctx: RouteContext, hints: Hints | null): PostgresRoute | null {
  if (hints?.explain || touchesSession(sql)) return null;
  if (ctx.mirror.tables.size === 0) return pg('no_mirror');
  const lead = leadingKind(sql);
  if (lead) return pg(lead);
  if (!mentionsMirroredTable(sql, ctx.mirror)) return pg(looksLikeCatalog(sql) ? 'catalog' : 'not_mirrored');
  if (!transactionAllowsDuckdb(ctx)) return pg('in_transaction');
  if (hints?.route === 'postgres') return pg('hint');
  if (!hints?.route && ctx.sessionRoute === 'postgres') return pg('session_setting');
  return null;
}

/** Decides one query string with a parse (facts cached by text). */
export function decide(sql: string, ctx: RouteContext, hints: Hints | null): Route {
  const parsed = parseText(sql);
  if (!parsed.ok) return pg(parsed.reason ?? 'parse_error', parsed.error);
  const stmts = parsed.statements;
  const effects = stmts.flatMap((s) => s.effects);
  const fingerprint = parsed.fingerprint;
  if (stmts.length === 0) return pg('utility', 'empty query', { fingerprint });
  if (stmts.length > 1) {
    if (stmts.some((s) => s.duckgate)) {
      return { engine: 'error', error: new PgError('0A000', 'duckgate settings cannot be combined with other statements in one query') };
    }
    return pg('multi_statement', `${stmts.length} statements`, { effects, fingerprint, tables: stmts.flatMap((s) => s.tables.map(written)) });
  }
  const f = stmts[0]!;
  if (f.duckgate) return duckgateCommand(f.duckgate);
  const tablesWritten = f.tables.map(written);
  const base = { effects, fingerprint, tables: tablesWritten };
  if (f.kind !== 'SelectStmt') return pg(f.readOnly ? 'utility' : 'write', f.writeDetail ?? f.kind, base);
  return decideSelect(sql, f, fingerprint, ctx, hints, base);
}

/** An identifier as Postgres reads it back unchanged (quoted: case and any character kept). */
const quoteIdent = (s: string): string => '"' + s.replace(/"/g, '""') + '"';

function written(t: { schema: string | null; name: string }): string {
  return t.schema ? `${t.schema}.${t.name}` : t.name;
}

function duckgateCommand(c: NonNullable<StatementFacts['duckgate']>): Route {
  if (c.kind === 'show') return { engine: 'show', name: c.name };
  if (c.name !== 'duckgate.route' && c.name !== 'duckgate.max_lag') {
    // duckgate reserves its prefix, as an extension does with MarkGUCPrefixReserved (SQLSTATE 42602)
    return { engine: 'error', error: new PgError('42602', `invalid configuration parameter name "${c.name}"`, 'ERROR', '"duckgate" is a reserved prefix.') };
  }
  if (c.bad) return { engine: 'error', error: new PgError('22023', c.bad) };
  if (c.name === 'duckgate.max_lag') {
    if (c.value === null || c.value.toLowerCase() === 'default') return { engine: 'set', name: 'duckgate.max_lag', value: null, local: c.local };
    const ms = parseDuration(c.value);
    if (ms === null) {
      return {
        engine: 'error',
        error: new PgError('22023', `invalid value for parameter "duckgate.max_lag": "${c.value}"`, 'ERROR', undefined, 'Available values: strict, default, or a duration such as 500ms, 5s, 2min, 1h.'),
      };
    }
    return { engine: 'set', name: 'duckgate.max_lag', value: ms, local: c.local };
  }
  const v = (c.value ?? 'auto').toLowerCase();
  if (v !== 'auto' && v !== 'postgres' && v !== 'duckdb') {
    return {
      engine: 'error',
      error: new PgError('22023', `invalid value for parameter "duckgate.route": "${c.value}"`, 'ERROR', undefined, 'Available values: auto, postgres, duckdb.'),
    };
  }
  return { engine: 'set', name: 'duckgate.route', value: v, local: c.local };
}

type Resolved = { ok: true; key: string; table: MirrorTable } | { ok: false; reason: Reason; detail: string };

/** Resolves a table reference to a mirrored table, conservatively (see "Name resolution" in index.ts). */
function resolveTable(t: StatementFacts['tables'][number], ctx: RouteContext): Resolved {
  if (t.catalog !== null) return { ok: false, reason: 'unsupported_syntax', detail: `three-part name ${t.catalog}.${written(t)}` };
  if (t.schema !== null) {
    if (CATALOG_SCHEMAS.has(t.schema)) return { ok: false, reason: 'catalog', detail: `${written(t)} is a catalog relation` };
    if (t.schema.startsWith('pg_temp')) return { ok: false, reason: 'temp_table', detail: `${written(t)} is temporary` };
    const key = `${t.schema}.${t.name}`;
    const table = ctx.mirror.tables.get(key);
    return table ? { ok: true, key, table } : { ok: false, reason: 'not_mirrored', detail: `${key} is not mirrored` };
  }
  if (ctx.tempTables?.has(t.name)) return { ok: false, reason: 'temp_table', detail: `${t.name} is a temporary table of this session` };
  if (t.name.startsWith('pg_')) return { ok: false, reason: 'catalog', detail: `${t.name} is a catalog relation` };
  const path = ctx.searchPath.filter((s) => s !== 'pg_catalog' && !s.startsWith('pg_temp'));
  const first = path[0];
  if (first === undefined) return { ok: false, reason: 'not_mirrored', detail: `${t.name}: empty search_path` };
  if (CATALOG_SCHEMAS.has(first)) return { ok: false, reason: 'catalog', detail: `${t.name} resolves through search_path to ${first}` };
  const key = `${first}.${t.name}`;
  const table = ctx.mirror.tables.get(key);
  if (table) return { ok: true, key, table };
  return { ok: false, reason: 'not_mirrored', detail: `${t.name}: ${key} (first schema of search_path) is not mirrored` };
}

/** When several problems exist, report the most telling one. */
const TABLE_REASON_ORDER: Reason[] = ['catalog', 'temp_table', 'unsupported_syntax', 'not_mirrored'];

function decideSelect(
  sql: string,
  f: StatementFacts,
  fingerprint: string,
  ctx: RouteContext,
  hints: Hints | null,
  base: { effects: SessionEffect[]; fingerprint: string; tables: string[] },
): Route {
  if (!f.readOnly) return pg('write', f.writeDetail ?? undefined, base);
  if (f.locking) return pg('locking', 'FOR UPDATE/SHARE', base);
  if (f.catalog) return pg('catalog', f.catalog, base);
  if (f.unsupported) return pg('unsupported_syntax', f.unsupported, base);
  if (ctx.mirror.tables.size === 0) return pg('no_mirror', undefined, base);
  if (f.tables.length === 0) return pg('not_mirrored', 'reads no table', base);

  const resolved = f.tables.map((t) => resolveTable(t, ctx));
  const failures = resolved.filter((r): r is Extract<Resolved, { ok: false }> => !r.ok);
  if (failures.length > 0) {
    failures.sort((a, b) => TABLE_REASON_ORDER.indexOf(a.reason) - TABLE_REASON_ORDER.indexOf(b.reason));
    return pg(failures[0]!.reason, failures[0]!.detail, base);
  }
  const ok = resolved as Array<Extract<Resolved, { ok: true }>>;
  const tableKeys = [...new Set(ok.map((r) => r.key))];
  // How each table is named in the statement: the session resolves these very names in Postgres
  // (a temporary table, or another session's DDL, may make a name mean another relation than the router's).
  const names = new Map<string, string[]>();
  ok.forEach((r, i) => {
    const t = f.tables[i]!;
    const text = t.schema === null ? quoteIdent(t.name) : `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    const list = names.get(r.key) ?? [];
    if (!list.includes(text)) list.push(text);
    names.set(r.key, list);
  });
  const more = { ...base, tables: tableKeys };

  const unsafe = f.functions.filter((fn) => !SAFE_FUNCTIONS.has(fn));
  if (unsafe.length > 0) return pg('unsafe_function', unsafe.map((x) => `${x}()`).join(', '), more);
  const unsafeOps = f.operators.filter((op) => !shippableOperator(op));
  if (unsafeOps.length > 0) return pg('unsafe_function', unsafeOps.map((x) => `operator ${x}`).join(', '), more);

  const cols = resolveColumns(f, ok);
  if (cols.problem) return pg('inexact_column', cols.problem, more);

  if (!transactionAllowsDuckdb(ctx)) return pg('in_transaction', undefined, more);

  // Overrides: the most specific, closest to the user wins: hint > SET duckgate.route > statement rule > table rule.
  const rules = applicableRules(ctx.rules, sql, fingerprint, ok.map((r) => ({ schema: r.table.schema, name: r.table.name })));
  const forced = override(hints, ctx.sessionRoute, rules.statement, rules.table, ok);
  const lag = lagBound(hints, ctx.sessionMaxLagMs ?? null, rules.statement, rules.table, ctx.rules.defaultMaxLagMs);
  const duck = (reason: Reason, needsCostCheck: boolean, detail?: string): DuckdbRoute => {
    const r: DuckdbRoute = {
      engine: 'duckdb', reason, tables: tableKeys, columns: cols.columns, names, calls: { functions: f.functions, operators: f.operators }, maxLagMs: lag.ms, lagOrigin: lag.origin, needsCostCheck, timeDependent: f.timeDependent, fingerprint,
    };
    if (detail !== undefined) r.detail = detail;
    return r;
  };
  if (forced) {
    if (forced.route === 'postgres') return pg(forced.reason, forced.detail, more);
    return duck(forced.reason, false, forced.detail);
  }

  const analytical = f.hasAggregate || f.hasGroupBy || f.hasWindow || f.hasDistinct;
  if (!analytical && isPointLookup(f, ok)) return pg('point_lookup', 'equality on the primary key', more);
  if (analytical) {
    // An equality filter may make an aggregate small (count(*) … WHERE customer_id = $1): ask the cost.
    return duck('analytical', f.equalities.length > 0, shapeOf(f));
  }
  if (typeof f.limit === 'number' && f.limit <= SMALL_LIMIT && !f.hasOrderBy) return pg('not_analytical', `LIMIT ${f.limit} without ORDER BY`, more);
  return duck('analytical', true, 'scan: the cost estimate decides');
}

function shapeOf(f: StatementFacts): string {
  const parts: string[] = [];
  if (f.hasAggregate) parts.push('aggregate');
  if (f.hasGroupBy) parts.push('GROUP BY');
  if (f.hasWindow) parts.push('window');
  if (f.hasDistinct) parts.push('DISTINCT');
  return parts.join(', ');
}

interface Forced {
  route: Exclude<SessionRoute, 'auto'>;
  reason: Reason;
  detail?: string;
}

function override(
  hints: Hints | null,
  sessionRoute: SessionRoute,
  statementRules: RoutingRule[],
  tableRules: RoutingRule[],
  tables: Array<{ key: string; table: MirrorTable }>,
): Forced | null {
  if (hints?.route && hints.route !== 'auto') return { route: hints.route, reason: 'hint', detail: `/* duckgate: route=${hints.route} */` };
  if (hints?.route === 'auto') return null; // the hint asks for the router's own choice
  if (sessionRoute !== 'auto') return { route: sessionRoute, reason: 'session_setting', detail: `duckgate.route = ${sessionRoute}` };
  const last = [...statementRules].reverse().find((r) => r.route !== null);
  if (last) return last.route === 'auto' ? null : { route: last.route!, reason: 'rule', detail: last.origin };
  // per table, the last rule naming it decides; any table held to Postgres holds the statement
  let duckRule: RoutingRule | null = null;
  for (const t of tables) {
    const rule = [...tableRules].reverse().find((r) => r.route !== null && r.match.kind === 'table' && r.match.name === t.table.name && (r.match.schema === null || r.match.schema === t.table.schema));
    if (rule?.route === 'postgres') return { route: 'postgres', reason: 'rule', detail: rule.origin };
    if (rule?.route === 'duckdb') duckRule ??= rule;
  }
  return duckRule ? { route: 'duckdb', reason: 'rule', detail: duckRule.origin } : null;
}

/** The statement's freshness, closest to the user first: hint > SET duckgate.max_lag > statement rule >
 *  the strictest rule of a touched table > the default (strict unless routing.max_lag says otherwise). */
function lagBound(hints: Hints | null, session: number | null, statementRules: RoutingRule[], tableRules: RoutingRule[], dflt: number): { ms: number; origin: string } {
  if (hints?.maxLagMs != null) return { ms: hints.maxLagMs, origin: 'hint' };
  if (session !== null) return { ms: session, origin: 'duckgate.max_lag' };
  const st = [...statementRules].reverse().find((r) => r.maxLagMs !== null);
  if (st) return { ms: st.maxLagMs!, origin: st.origin };
  const lags = tableRules.filter((r) => r.maxLagMs !== null);
  if (lags.length > 0) {
    const strictest = lags.reduce((a, b) => (b.maxLagMs! < a.maxLagMs! ? b : a));
    return { ms: strictest.maxLagMs!, origin: strictest.origin };
  }
  return { ms: dflt, origin: 'default' };
}

const BPCHAR_TYPE = /^(character|bpchar|char)(\(\d+\))?(\[\])?$/;

/** Columns touched per mirrored table, and whether the mirror holds them all exactly. */
function resolveColumns(
  f: StatementFacts,
  resolved: Array<{ key: string; table: MirrorTable }>,
): { columns: Map<string, Set<string>>; problem: string | null } {
  const columns = new Map<string, Set<string>>();
  for (const r of resolved) if (!columns.has(r.key)) columns.set(r.key, new Set());
  let problem: string | null = null;
  // per table and column ('*' included): the most of its value any use reads (lowest ColumnUse.level),
  // and the same over the uses that are not comparisons with labels (ColumnUse.labelEquality)
  const least = new Map<string, { level: number; beyondLabels: number }>();
  const hasCol = (ti: number, col: string) => resolved[ti]!.table.columns.has(col);

  for (const use of f.columnUses) {
    const add = (ti: number, col: string): void => {
      const key = resolved[ti]!.key;
      columns.get(key)!.add(col);
      const level = use.level ?? 0;
      const k = `${key}\u0000${col}`;
      const cur = least.get(k) ?? { level: USE_OUTPUT, beyondLabels: USE_OUTPUT };
      least.set(k, { level: Math.min(cur.level, level), beyondLabels: use.labelEquality ? cur.beyondLabels : Math.min(cur.beyondLabels, level) });
    };
    const p = resolveUse(f, use, add, hasCol);
    if (p && !problem) problem = p;
  }
  if (problem) return { columns, problem };
  for (const r of resolved) {
    const used = columns.get(r.key)!;
    const check = used.has('*') ? [...r.table.columns.keys()] : [...used];
    for (const c of check) {
      const col = r.table.columns.get(c);
      if (!col) return { columns, problem: `column ${r.key}.${c} is not in the mirror` };
      if (!col.exact) return { columns, problem: `column ${r.key}.${c} (${col.pgType}) is not held exactly by the mirror` };
      const a = least.get(`${r.key}\u0000${c}`);
      const s = least.get(`${r.key}\u0000*`);
      const level = Math.min(a?.level ?? USE_OUTPUT, s?.level ?? USE_OUTPUT);
      const beyondLabels = Math.min(a?.beyondLabels ?? USE_OUTPUT, s?.beyondLabels ?? USE_OUTPUT);
      // char(n) is held padded; Postgres compares, measures and concatenates it without the trailing
      // spaces ('x   ' = 'x'), DuckDB with them: only output, grouping, ordering, count/min/max of it
      // are the same
      if (BPCHAR_TYPE.test(col.pgType) && level < USE_ORDERED)
        return { columns, problem: `column ${r.key}.${c} (${col.pgType}) is compared or transformed: Postgres ignores its padding` };
      // held as text that Postgres compares otherwise (MirrorColumn.compares): enum labels are ordered by
      // declaration, jsonb values compared by value
      if (col.compares === 'equality' && beyondLabels < USE_GROUPED)
        return { columns, problem: `column ${r.key}.${c} (enum ${col.pgType}) is ordered or compared: Postgres orders enum values by declaration, not by label` };
      if (col.compares === 'none' && level < USE_OUTPUT)
        return { columns, problem: `column ${r.key}.${c} (${col.pgType}) is grouped, compared or ordered: Postgres compares its values, not their text` };
    }
  }
  return { columns, problem: null };
}

function resolveUse(
  f: StatementFacts,
  use: ColumnUse,
  add: (ti: number, col: string) => void,
  hasCol: (ti: number, col: string) => boolean,
): string | null {
  const q = use.qualifier;
  if (q.length === 0 && use.column === '*') {
    for (const s of f.scopes[use.scope]!.sources) for (const t of s.tables) add(t, '*');
    return null;
  }
  if (q.length > 0) {
    const alias = q[q.length - 1]!;
    const schema = q.length > 1 ? q[0]! : null;
    for (let sc: number | null = use.scope; sc !== null; sc = f.scopes[sc]!.parent) {
      const src = f.scopes[sc]!.sources.find((s) => s.alias === alias && (schema === null || s.qualSchema === null || s.qualSchema === schema));
      if (!src) continue;
      if (src.tables.length === 0) return null; // a subquery / CTE / function: checked inside
      if (use.column === '*') {
        for (const t of src.tables) add(t, '*');
        return null;
      }
      const having = src.tables.filter((t) => hasCol(t, use.column));
      if (having.length === 0) {
        if (src.derived) return null; // an aliased join that includes a subquery: the column may be its
        return `column ${alias}.${use.column} is not in the mirror`;
      }
      for (const t of having) add(t, use.column);
      return null;
    }
    return `cannot resolve ${[...q, use.column].join('.')}`;
  }
  // unqualified: the innermost scope with a source that has it
  for (let sc: number | null = use.scope; sc !== null; sc = f.scopes[sc]!.parent) {
    const scope = f.scopes[sc]!;
    let found = false;
    for (const s of scope.sources) {
      for (const t of s.tables) {
        if (hasCol(t, use.column)) {
          add(t, use.column);
          found = true;
        }
      }
    }
    if (found) return null;
    if (scope.sources.some((s) => s.derived && (s.columns === null || s.columns.includes(use.column)))) return null;
    if (use.aliasOk && sc === use.scope && scope.outputNames.includes(use.column)) return null;
  }
  // a whole-row reference: SELECT t FROM t
  for (let sc: number | null = use.scope; sc !== null; sc = f.scopes[sc]!.parent) {
    const src = f.scopes[sc]!.sources.find((s) => s.alias === use.column);
    if (src) {
      for (const t of src.tables) add(t, '*');
      return null;
    }
  }
  return `column ${use.column} is not in the mirrored tables`;
}

/** WHERE pins every primary-key column of a table of the outer query to a constant or parameter. */
function isPointLookup(f: StatementFacts, resolved: Array<{ key: string; table: MirrorTable }>): boolean {
  if (f.hasSetOperation || f.equalities.length === 0) return false;
  const top = f.scopes[0];
  if (!top) return false;
  const pinned = new Map<number, Set<string>>();
  const pin = (ti: number, c: string) => {
    let s = pinned.get(ti);
    if (!s) pinned.set(ti, (s = new Set()));
    s.add(c);
  };
  for (const e of f.equalities) {
    const alias = e.qualifier[e.qualifier.length - 1];
    for (const s of top.sources) {
      if (alias !== undefined && s.alias !== alias) continue;
      for (const t of s.tables) if (resolved[t]!.table.columns.has(e.column)) pin(t, e.column);
    }
  }
  for (const s of top.sources) {
    for (const t of s.tables) {
      const table = resolved[t]!.table;
      const pk = table.primaryKey.length > 0 ? table.primaryKey : table.columns.has('id') ? ['id'] : [];
      if (pk.length > 0 && pk.every((c) => pinned.get(t)?.has(c))) return true;
    }
  }
  return false;
}

export { assertNever };
