// Which functions DuckDB may evaluate for a Postgres statement. An ALLOWLIST, not a denylist (issue 4):
// a function not named here (nextval, setval, random, pg_advisory_lock, set_config, txid_current,
// current_user, json_agg, a user's own function…) keeps the statement on Postgres. Entries are
// deterministic and side-effect free; the DuckDB engine still refuses what it cannot rewrite exactly
// (e.g. a to_char pattern it does not know) and that statement then goes to Postgres too.
// Names are as the parser gives them, lowercased, `pg_catalog.` stripped.

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

const SCALARS = [
  // null handling and comparison
  'coalesce', 'nullif', 'greatest', 'least',
  // date and time
  'date_trunc', 'date_part', 'extract', 'make_date', 'make_timestamp', 'to_timestamp', 'to_char', 'to_date', 'date_bin',
  'isfinite', 'justify_days', 'justify_hours', 'justify_interval',
  // text
  'lower', 'upper', 'length', 'char_length', 'character_length', 'octet_length', 'bit_length',
  'substring', 'substr', 'trim', 'btrim', 'ltrim', 'rtrim', 'position', 'strpos', 'replace', 'translate',
  'concat', 'concat_ws', 'left', 'right', 'lpad', 'rpad', 'split_part', 'starts_with', 'reverse', 'repeat',
  'md5', 'ascii', 'chr', 'regexp_replace', 'like_escape',
  // numbers
  'round', 'abs', 'ceil', 'ceiling', 'floor', 'trunc', 'sign', 'sqrt', 'cbrt', 'power', 'pow', 'exp', 'ln', 'log',
  'log10', 'mod', 'div', 'pi', 'degrees', 'radians', 'width_bucket',
  'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2',
  // arrays and sets
  'array_length', 'cardinality', 'unnest', 'generate_series', 'array_position', 'array_to_string',
  // grouping sets
  'grouping',
];

export const SAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  ...AGGREGATES,
  ...WINDOW_FUNCTIONS,
  ...TIME_FUNCTIONS,
  ...SCALARS,
]);

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
