/**
 * The router: SQL text + what the session knows → where the statement runs, and why. Pure: no I/O,
 * imports only protocol types; the session does the I/O it asks for (EXPLAIN cost, lag wait,
 * privilege and RLS checks) and records `reason` as a metric label and a log field.
 *
 * ## API
 * ```ts
 * await initRouter();                               // once, at startup (loads the parser's WASM)
 * const r = route(sql, ctx);                        // per statement; cached (LRU) by text + context
 * mentionsMirroredTable(sql, mirror);               // the text test route() itself uses (no parse)
 * parseRoutingRules(rawRules.routing.map(s => s.section), rawRules.routing.map(s => s.file));
 * statementFacts(sql);                              // what the router saw (cached by text)
 * ```
 * `route()` returns a {@link Route}:
 * - `postgres`: relay; `effects` lists what the statement changes in the session (SET search_path,
 *   BEGIN READ ONLY, CREATE TEMP TABLE, GRANT…) for the session to track.
 * - `duckdb`: candidate for DuckDB. The caller still applies, in this order: `needsCostCheck` (Postgres
 *   EXPLAIN total cost < `rules.costThreshold` → Postgres, reason `not_analytical`), freshness (strict,
 *   `maxLagMs` 0: the mirror reaches the WAL position at the statement's start; an opt-in bound: lag ≤
 *   `maxLagMs` → else `stale`), inside a transaction block READ COMMITTED with nothing written yet (→
 *   `in_transaction`), privileges on `columns` (→ `privilege`), RLS
 *   (→ `rls`); DuckDB failure → `fallback`. `columns` per table: names touched, '*' = all, an empty set =
 *   none by name (count(*)): SELECT on the table or on any column is needed.
 * - `explain`: `/* duckgate: explain *\/ <statement>`: answer with a one-row result (route, reason,
 *   detail, tables, fingerprint, lag) instead of running it.
 * - `set` / `show` / `error`: `SET|RESET duckgate.route|duckgate.max_lag`, `SHOW duckgate.*`, or a refusal (22023 bad
 *   value, 42602 unknown duckgate.* name, 0A000 duckgate SET inside a multi-statement query).
 * Routes come from a shared cache: treat them as read-only.
 *
 * ## Routing state (each box is a check; the first that fires decides; reason on the arrow)
 * ```
 *            statement text
 *                  │  hints /* duckgate: … *\/ read (regex, only if the text says "duckgate")
 *                  ▼
 *   ┌─ text only, no parse (skipped when the text starts a SET/SHOW/BEGIN/CREATE… or asks explain) ─┐
 *   │ mirror empty ──────────────────────────────────────────────────────────▶ postgres  no_mirror │
 *   │ starts with INSERT/UPDATE/DELETE/…  | EXPLAIN/COMMIT/… ───────────▶ postgres  write|utility │
 *   │ names no mirrored table ───────────────────────────────────▶ postgres  not_mirrored|catalog │
 *   │ in a failed transaction block ───────────────────────────────────▶ postgres  in_transaction │
 *   │ hint route=postgres | SET duckgate.route=postgres (no hint) ───▶ postgres  hint|session_setting│
 *   └───────────────────────────────────────────────────────────────────────────────────────────────┘
 *                  ▼ parse (libpg-query, facts cached by text)
 *   beyond PARSE_LIMITS (bracket depth, operator count, length: a text scan) ─▶ postgres  too_complex
 *   unparsable ───────────────────────────────────────────────────────────────▶ postgres  parse_error
 *   several statements ───────────────────────────────────────────────────▶ postgres  multi_statement
 *   SET/RESET duckgate.route, SHOW duckgate.* ─────────────────────────────────────▶ set | show | error
 *   not a SELECT ─────────────────────────────────────────────────────────────▶ postgres  write|utility
 *   SELECT INTO, data-modifying WITH ─────────────────────────────────────────────▶ postgres  write
 *   FOR UPDATE/SHARE ────────────────────────────────────────────────────────────▶ postgres  locking
 *   reg* cast, pg_* / catalog function ──────────────────────────────────────────▶ postgres  catalog
 *   TABLESAMPLE, COLLATE, XML/JSON constructors, … ────────────────────────▶ postgres  unsupported_syntax
 *   a table: catalog | temporary | not mirrored ─────────────▶ postgres  catalog|temp_table|not_mirrored
 *   a function or operator the capability list does not ship (capabilities.ts) ─▶ postgres  unsafe_function
 *   a column missing from the mirror or not exact ─────────────────────────────▶ postgres  inexact_column
 *   in a transaction (not an allowed READ ONLY one) ─────────────────────────────▶ postgres  in_transaction
 *   ── everything above is a fact DuckDB cannot serve faithfully: no override gets past it ──
 *   override: hint > SET duckgate.route > fingerprint/pattern rule > table rule
 *        route=postgres ──────────────────────────────────▶ postgres  hint|session_setting|rule
 *        route=duckdb ────────────────────────────────────▶ duckdb    hint|session_setting|rule (no cost check)
 *   no aggregate/window/GROUP BY/DISTINCT and WHERE pins a primary key ──────────▶ postgres  point_lookup
 *   aggregate / GROUP BY / window / DISTINCT ──────▶ duckdb analytical (needsCostCheck if WHERE has col = const)
 *   LIMIT ≤ 1000 without ORDER BY ─────────────────────────────────────────────▶ postgres  not_analytical
 *   otherwise (a scan) ──────────────────────────────────────────────▶ duckdb analytical, needsCostCheck
 *   ── after the decision cache ──
 *   a duckdb route whose shape the rewrite refused before (refusals.ts) ─────▶ postgres  unsupported_syntax
 * ```
 *
 * ## One capability list
 * capabilities.ts is the table of what DuckDB can run, read by this router and by the DuckDB rewrite:
 * 'seamless' (passed through by name), 'conditional' (the rewrite checks the stated condition, which may
 * depend on a literal's value the router's shape-keyed cache cannot see) and 'never' (with why). The
 * session records a rewrite refusal by shape (`refusals.remember(fingerprint, reason)`); route() then
 * sends that shape to Postgres without the control round trip, until the entry expires.
 *
 * ## Name resolution (conservative)
 * The router does not know unmirrored tables, so an unqualified name counts as mirrored only if the
 * FIRST schema of `ctx.searchPath` (pg_catalog / pg_temp entries skipped) has it in the mirror: if that
 * schema lacked it, Postgres might find an unmirrored table of that name in a later schema first.
 * Session temp tables (`ctx.tempTables`) shadow mirrored names; `pg_*` names are catalog relations.
 * The caller must hand in the effective path (`current_schemas(false)`: non-existent schemas dropped,
 * `"$user"` expanded), else `"$user", public` would send every unqualified name to Postgres.
 *
 * ## now() and time zones
 * now(), current_date, current_timestamp, localtimestamp… are allowed: they are stable within a
 * statement and DuckDB has them. The route says `timeDependent`: DuckDB must then run with the
 * session's TimeZone (date_trunc('day', now()) and timestamptz↔timestamp casts depend on it) and the
 * result must not be cached. Inside a transaction (now() = transaction start) statements stay on Postgres.
 * random(), clock_timestamp(), nextval(), current_user and anything not on the allowlist go to Postgres.
 */
import { LRUCache } from 'lru-cache';
import { decide, decideQuick } from './decide.js';
import { refusals } from './refusals.js';
import { PARSE_LIMITS } from './parse.js';
import { decisionKeyText, readHints, type Hints } from './text.js';
import type { MirrorView, Route, RouteContext, RoutingRules } from './types.js';

export { initRouter, statementFacts, routerStats, parserReady, PARSE_LIMITS } from './parse.js';
export { mentionsMirroredTable, parseDuration } from './text.js';
export { parseRoutingRules, defaultRoutingRules, RoutingRulesError, DEFAULT_MAX_LAG_MS, DEFAULT_COST_THRESHOLD } from './rules.js';
export { SAFE_FUNCTIONS, AGGREGATES, WINDOW_FUNCTIONS } from './functions.js';
export { FUNCTION_CAPABILITIES, OPERATOR_CAPABILITIES, SEAMLESS_FUNCTIONS, shippable, shippableOperator, type Shipping, type FunctionKind } from './capabilities.js';
export { RefusalMemory, refusals } from './refusals.js';
export { SMALL_LIMIT } from './decide.js';
export type { StatementFacts, TableRef, ColumnUse, Scope, Source } from './facts.js';
export * from './types.js';

const DECISIONS_PER_CONTEXT = 5_000;
/** keys are statement texts: their total length per context is bounded too */
const DECISION_KEY_BYTES = 16 * 1024 * 1024;

// Decisions depend on the mirror's tables and columns and on the rules: one LRU per (MirrorView, RoutingRules)
// pair, dropped with them (hand in a new MirrorView when tables/columns change).
const decisions = new WeakMap<MirrorView, WeakMap<RoutingRules, LRUCache<string, Route>>>();

function cacheFor(ctx: RouteContext): LRUCache<string, Route> {
  let byRules = decisions.get(ctx.mirror);
  if (!byRules) decisions.set(ctx.mirror, (byRules = new WeakMap()));
  let lru = byRules.get(ctx.rules);
  if (!lru) byRules.set(ctx.rules, (lru = new LRUCache({ max: DECISIONS_PER_CONTEXT, maxSize: DECISION_KEY_BYTES, sizeCalculation: (_v, k) => k.length + 64 })));
  return lru;
}

/** What, besides the text, a decision depends on (the user does not matter: privileges are the caller's). */
function contextKey(ctx: RouteContext): string {
  const temp = ctx.tempTables && ctx.tempTables.size > 0 ? [...ctx.tempTables].join(',') : '';
  const tx = ctx.transactionFailed ? 1 : 0;
  return `${ctx.searchPath.join(',')}\u0001${ctx.sessionRoute}\u0001${ctx.sessionMaxLagMs ?? ''}\u0001${tx}\u0001${temp}\u0001`;
}

/** Where a statement goes, and why. Never throws. */
export function route(sql: string, ctx: RouteContext): Route {
  try {
    const hints = readHints(sql);
    const quick = decideQuick(sql, ctx, hints);
    if (quick) return quick;
    // beyond the parser's length bound (too_complex): decided without the cache, whose key would be the
    // whole text
    if (sql.length > PARSE_LIMITS.maxLength) return routeParsed(sql, ctx, hints);
    const lru = cacheFor(ctx);
    const key = contextKey(ctx) + decisionKeyText(sql);
    const hit = lru.get(key);
    if (hit) return rememberedRefusal(hit, ctx);
    const r = routeParsed(sql, ctx, hints);
    lru.set(key, r);
    return rememberedRefusal(r, ctx);
  } catch (e) {
    // a bug in the router must not fail the statement: Postgres answers it
    return { engine: 'postgres', reason: 'parse_error', detail: `router error: ${(e as Error).message}`, tables: [] };
  }
}

/**
 * A DuckDB route for a statement shape whose translation DuckDB refused before (refusals.ts) goes
 * straight to Postgres: no control round trip only to be refused again. After the decision cache, as
 * refusals come and go while decisions stay.
 */
function rememberedRefusal(r: Route, ctx: RouteContext): Route {
  const memory = ctx.refusals ?? refusals;
  if (memory.size === 0) return r;
  const check = (d: Route): Route => {
    if (d.engine !== 'duckdb') return d;
    const why = memory.lookup(d.fingerprint);
    return why === undefined ? d : { engine: 'postgres', reason: 'unsupported_syntax', detail: `refused before: ${why}`, tables: d.tables, fingerprint: d.fingerprint };
  };
  if (r.engine === 'explain') {
    const inner = check(r.route);
    return inner === r.route ? r : { ...r, route: inner as typeof r.route };
  }
  return check(r);
}

function routeParsed(sql: string, ctx: RouteContext, hints: Hints | null): Route {
  const r = decide(sql, ctx, hints);
  if (!hints?.explain || (r.engine !== 'postgres' && r.engine !== 'duckdb')) return r;
  return { engine: 'explain', route: r, fingerprint: r.fingerprint ?? null };
}
