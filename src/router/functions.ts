// Function names the router knows about. What DuckDB may evaluate is the capability list
// (capabilities.ts), one table read by the router and the DuckDB rewrite: SAFE_FUNCTIONS is its
// shippable part. It is an ALLOWLIST, not a denylist (issue 4): a function not named there (nextval,
// setval, random, pg_advisory_lock, set_config, txid_current, current_user, json_agg, a user's own
// function…) keeps the statement on Postgres.
// Names are as the parser gives them, lowercased, `pg_catalog.` stripped.
import { FUNCTION_CAPABILITIES, shippable } from './capabilities.js';

/** Every aggregate the router recognises as one (shippable or not): a call makes the statement aggregate. */
export const AGGREGATES: ReadonlySet<string> = new Set([
  'count', 'sum', 'avg', 'min', 'max',
  'stddev', 'stddev_samp', 'stddev_pop', 'variance', 'var_samp', 'var_pop',
  'bool_and', 'bool_or', 'every', 'bit_and', 'bit_or',
  'string_agg', 'array_agg',
  'percentile_cont', 'percentile_disc', 'mode',
  'corr', 'covar_pop', 'covar_samp',
  'regr_slope', 'regr_intercept', 'regr_r2', 'regr_count', 'regr_avgx', 'regr_avgy', 'regr_sxx', 'regr_syy', 'regr_sxy',
]);

export const WINDOW_FUNCTIONS: ReadonlySet<string> = new Set([
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile',
  'lag', 'lead', 'first_value', 'last_value', 'nth_value',
]);

/** now() and friends: stable within a statement, DuckDB has them. Allowed, with a flag on the route:
 *  DuckDB must run with the session's TimeZone (date_trunc('day', now()) and timestamptz→timestamp
 *  casts depend on it), and a result computed from them must not be cached. The instant is the DuckDB
 *  statement's start as Postgres reports it in the session's check query: in a transaction block, the
 *  transaction's start, as now() is there. */
export const TIME_FUNCTIONS: ReadonlySet<string> = new Set([
  'now', 'current_timestamp', 'current_date', 'current_time', 'localtimestamp', 'localtime', 'transaction_timestamp',
]);

/** The capability list's shippable functions: the router sends a statement calling anything else to Postgres. */
export const SAFE_FUNCTIONS: ReadonlySet<string> = new Set([...FUNCTION_CAPABILITIES.keys()].filter(shippable));

/** Functions that read the catalog or the server's state: the statement is a catalog query. */
export function isCatalogFunction(name: string): boolean {
  return (
    name.startsWith('pg_') ||
    name.startsWith('has_') || // has_table_privilege, has_schema_privilege…
    CATALOG_FUNCTIONS.has(name)
  );
}

const CATALOG_FUNCTIONS: ReadonlySet<string> = new Set([
  'format_type', 'obj_description', 'col_description', 'shobj_description', 'current_schema', 'current_schemas',
  'current_database', 'current_catalog', 'current_setting', 'version', 'to_regclass', 'to_regtype', 'to_regproc',
  'to_regnamespace', 'to_regrole', 'array_to_string_oid', 'txid_current', 'inet_server_addr', 'inet_server_port',
]);

/** `reg*` OID alias types (`'t'::regclass`): they look the catalog up. */
export function isCatalogType(name: string): boolean {
  return /^reg(class|type|proc|procedure|oper|operator|namespace|role|config|dictionary|collation)$/.test(name);
}
