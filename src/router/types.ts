// The router's data types: what it is told (RouteContext, MirrorView, RoutingRules) and what it answers
// (Route, Reason, SessionEffect). Plain data only, so the session can log, count and test them.
import type { PgError } from '../protocol/errors.js';
import type { RefusalMemory } from './refusals.js';

/** One mirrored column. `exact: false` = the mirror cannot give back the Postgres value exactly
 *  (type not held faithfully, or column not mirrored at all): a statement touching it goes to Postgres. */
export interface MirrorColumn {
  exact: boolean;
  pgType: string;
  /**
   * Values held as text that Postgres compares otherwise:
   * - 'equality': enum labels, equal where Postgres's values are equal, but ordered by declaration: only
   *   output, grouping, DISTINCT, count, IS NULL and (in)equality with string literals (which Postgres
   *   checked as labels when it parsed the statement; a parameter could carry an unknown label);
   * - 'none': json/jsonb (jsonb equality is by value, '1.0' = '1.00'): only output, count and IS NULL.
   */
  compares?: 'equality' | 'none';
}

/** One mirrored table. `columns` must list EVERY column of the Postgres table (unmirrored ones with
 *  `exact: false`), or `SELECT *` could come back with fewer columns than Postgres would send. */
export interface MirrorTable {
  schema: string;
  name: string;
  columns: Map<string, MirrorColumn>;
  /** primary key columns in key order; empty = none known (then a column named `id` is taken as key) */
  primaryKey: string[];
  lagMs: number | null;
  appliedLsn: string | null;
}

/** What the router knows of the mirror (handed in by the session; the mirror is built elsewhere).
 *  Routing decisions are cached per MirrorView object: hand in a NEW object when tables or columns
 *  change. `lagMs` / `appliedLsn` may be updated in place (no decision depends on them). */
export interface MirrorView {
  tables: Map<string /* 'schema.table' */, MirrorTable>;
}

export type SessionRoute = 'auto' | 'postgres' | 'duckdb';

export interface RouteContext {
  mirror: MirrorView;
  /** The session's effective search_path, as `current_schemas(false)` gives it: `"$user"` expanded,
   *  schemas that do not exist dropped (Postgres skips them too), pg_catalog / pg_temp need not be listed. */
  searchPath: string[];
  user: string;
  /** from ReadyForQuery status 'E': a failed transaction block, whose statements Postgres answers
   *  with 25P02. An open one ('T') is no reason by itself: the session's check query decides whether the
   *  transaction still reads as autocommit statements do (READ COMMITTED, nothing written yet). */
  transactionFailed: boolean;
  /** SET duckgate.route */
  sessionRoute: SessionRoute;
  /** SET duckgate.max_lag (null: not set, the rules decide) */
  sessionMaxLagMs?: number | null;
  rules: RoutingRules;
  /** temporary relations this session created (see SessionEffect 'create_temp'): they shadow
   *  same-named mirrored tables for unqualified references */
  tempTables?: ReadonlySet<string>;
  /** statement shapes the DuckDB rewrite refused before (refusals.ts); the process's memory when absent */
  refusals?: RefusalMemory;
}

export type Reason =
  | 'write'
  | 'in_transaction'
  | 'catalog'
  | 'utility'
  | 'unsafe_function'
  | 'not_mirrored'
  | 'inexact_column'
  | 'locking'
  | 'point_lookup'
  | 'not_analytical'
  | 'analytical'
  | 'rule'
  | 'hint'
  | 'session_setting'
  | 'parse_error'
  /** beyond the parser's bounds (router/parse.ts PARSE_LIMITS): not parsed, relayed */
  | 'too_complex'
  | 'temp_table'
  | 'multi_statement'
  | 'unsupported_syntax'
  | 'stale'
  /** a table name does not resolve, in the session, to the relation (or the columns) the mirror holds:
   *  another session's DDL not yet seen by the mirror, or a temporary table shadowing it */
  | 'stale_mirror'
  | 'privilege'
  | 'rls'
  | 'fallback'
  | 'no_mirror';

/** Every reason, for metric label pre-registration and exhaustive tests. */
export const REASONS: readonly Reason[] = [
  'write', 'in_transaction', 'catalog', 'utility', 'unsafe_function', 'not_mirrored', 'inexact_column', 'locking',
  'point_lookup', 'not_analytical', 'analytical', 'rule', 'hint', 'session_setting', 'parse_error', 'temp_table',
  'multi_statement', 'unsupported_syntax', 'stale', 'stale_mirror', 'privilege', 'rls', 'fallback', 'no_mirror', 'too_complex',
];

/** What a statement relayed to Postgres changes in the session, so the session can track it
 *  (search_path, TimeZone, temp tables, privileges…). Only reported for statements the router parsed:
 *  SET/RESET/SHOW/BEGIN/START/DISCARD/CREATE/DROP/GRANT/REVOKE/ALTER at the start of the text or after a `;`. */
export type SessionEffect =
  | { kind: 'set'; name: string; /** values as written (identifiers and literals), [] for RESET/DEFAULT */ args: string[]; reset: boolean; local: boolean }
  | { kind: 'reset_all' }
  | { kind: 'discard'; target: 'all' | 'plans' | 'sequences' | 'temp' }
  | { kind: 'begin'; readOnly: boolean | null }
  | { kind: 'set_transaction'; readOnly: boolean | null; sessionDefault: boolean }
  | { kind: 'create_temp'; name: string }
  | { kind: 'drop'; names: string[] }
  /** a schema or privilege change: Describe / privilege caches should be re-checked */
  | { kind: 'ddl'; privileges: boolean };

export interface PostgresRoute {
  engine: 'postgres';
  reason: Reason;
  detail?: string;
  /** tables named, as 'schema.table' when resolved, else as written */
  tables: string[];
  fingerprint?: string;
  effects?: SessionEffect[];
}

export interface DuckdbRoute {
  engine: 'duckdb';
  reason: Reason;
  detail?: string;
  /** mirrored tables touched, 'schema.table' */
  tables: string[];
  /** per table, the columns touched ('*' = all): for privilege checks */
  columns: Map<string, Set<string>>;
  /**
   * per table, how the statement names it, as SQL identifier text (`"name"` or `"schema"."name"`,
   * quoted): the session resolves each in Postgres (to_regclass) to prove it is the mirrored relation
   */
  names: Map<string, string[]>;
  /** functions (names, lowercased) and operators the statement calls: the session checks the user's
   *  EXECUTE privilege on each, as Postgres does when it runs the statement */
  calls: { functions: string[]; operators: string[] };
  /** freshness of this statement (hint > SET duckgate.max_lag > statement rule > table rule > default):
   *  0 is strict (fenced on the WAL position at its start), more is an opt-in staleness bound in ms */
  maxLagMs: number;
  /** where maxLagMs came from, for `/* duckgate: explain *\/` */
  lagOrigin: string;
  /** shape alone does not decide: the caller asks Postgres's EXPLAIN cost (cached per fingerprint) and
   *  sends the statement to Postgres (reason 'not_analytical') below rules.costThreshold */
  needsCostCheck: boolean;
  /** calls now()/current_date/…: DuckDB must run with the session TimeZone, results must not be cached */
  timeDependent: boolean;
  fingerprint: string;
}

export type DecidedRoute = PostgresRoute | DuckdbRoute;

export type Route =
  | DecidedRoute
  /** `/* duckgate: explain *\/ SELECT …`: the caller answers with a result set (route, reason, tables, lag) */
  | { engine: 'explain'; route: DecidedRoute; fingerprint: string | null }
  /** SET/RESET duckgate.route: the session's own */
  | { engine: 'set'; name: 'duckgate.route'; value: SessionRoute; local: boolean }
  /** SET/RESET duckgate.max_lag: 0 strict, ms an opt-in staleness bound, null (RESET) back to the rules */
  | { engine: 'set'; name: 'duckgate.max_lag'; value: number | null; local: boolean }
  /** SHOW duckgate.*: the session / admin console answers */
  | { engine: 'show'; name: string }
  /** a duckgate.* command the session must refuse (bad value, unknown name) */
  | { engine: 'error'; error: PgError };

/** A validated `routing:` section (or several merged). */
export interface RoutingRules {
  /** default freshness bound for DuckDB reads */
  defaultMaxLagMs: number;
  /** EXPLAIN total cost below which a `needsCostCheck` statement stays on Postgres */
  costThreshold: number;
  rules: RoutingRule[];
}

export type RuleMatch =
  | { kind: 'table'; schema: string | null; name: string }
  | { kind: 'fingerprint'; value: string }
  | { kind: 'pattern'; regex: RegExp };

export interface RoutingRule {
  match: RuleMatch;
  /** null: the rule only sets max_lag */
  route: SessionRoute | null;
  maxLagMs: number | null;
  /** where it came from, for logs: 'routing section 1, rules[3]' */
  origin: string;
}
