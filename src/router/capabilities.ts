// What DuckDB can run for a Postgres statement: ONE table, read by the router (decide.ts: a function
// that is not shippable sends the statement to Postgres before any round trip) and by the DuckDB rewrite
// (engines/duckdb/rewrite.ts: a 'seamless' function is passed through by name, a 'conditional' one has a
// handler that checks its condition and refuses otherwise, anything else is refused). The classes follow
// pg_lake's notes on pushdown:
// - seamless: same name (or a mere spelling), same arguments, same result and errors for every type the
//   mirror holds;
// - conditional: shippable when the condition stated holds; the rewrite checks it (argument types, a
//   literal-only pattern, a constant unit…) and refuses the statement otherwise, or makes DuckDB raise where
//   Postgres raises (a raised guard sends the statement to Postgres, which answers with its own error);
// - never: kept on Postgres, with why.
// The router cannot check a condition that depends on a literal's value (its decisions are cached per
// statement shape, literals folded), so it accepts 'conditional' functions and the rewrite decides.
// test/unit/capabilities.test.ts checks that every entry the router accepts is one the rewrite
// translates (each example below rewrites), and that 'never' entries are refused by both.
// Names are as the parser gives them, lowercased, `pg_catalog.` stripped.

export type FunctionKind = 'aggregate' | 'window' | 'scalar' | 'clock' | 'set_returning' | 'operator';

export type Shipping =
  | { ship: 'seamless'; kind: FunctionKind; example: string }
  | { ship: 'conditional'; kind: FunctionKind; when: string; example: string }
  | { ship: 'never'; kind: FunctionKind; why: string };

// Example expressions are rewritten over a table t(a int4, b int4, x float8, y float8, s text, d date,
// ts timestamptz, n numeric(10,2)) by the capability test; a set-returning example is a FROM item.
const seamless = (kind: FunctionKind, example: string): Shipping => ({ ship: 'seamless', kind, example });
const when = (kind: FunctionKind, condition: string, example: string): Shipping => ({ ship: 'conditional', kind, when: condition, example });
const never = (kind: FunctionKind, why: string): Shipping => ({ ship: 'never', kind, why });

const NOT_TRANSLATED = 'no translation checked against Postgres yet';
const NUMERIC_MATH =
  'float8 arguments only (a numeric argument makes it Postgres\'s exact numeric function; the rewrite makes DuckDB raise on a DECIMAL), ' +
  'and DuckDB raises where Postgres raises (22003 overflow/underflow, 2201E/2201F domain errors) instead of returning Infinity, 0 or NaN';

export const FUNCTION_CAPABILITIES: ReadonlyMap<string, Shipping> = new Map<string, Shipping>([
  // ---- aggregates -----------------------------------------------------------------------------------
  ['count', seamless('aggregate', 'count(*)')],
  ['sum', seamless('aggregate', 'sum(a)')],
  ['min', seamless('aggregate', 'min(s)')],
  ['max', seamless('aggregate', 'max(s)')],
  ['avg', when('aggregate', 'a top-level numeric avg is shipped as sum and count and divided as Postgres does', 'avg(a)')],
  ['bool_and', seamless('aggregate', 'bool_and(a > 0)')],
  ['bool_or', seamless('aggregate', 'bool_or(a > 0)')],
  ['every', seamless('aggregate', 'every(a > 0)')], // DuckDB spells it bool_and
  ['stddev', seamless('aggregate', 'stddev(x)')],
  ['stddev_samp', seamless('aggregate', 'stddev_samp(x)')],
  ['stddev_pop', seamless('aggregate', 'stddev_pop(x)')],
  ['variance', seamless('aggregate', 'variance(x)')],
  ['var_samp', seamless('aggregate', 'var_samp(x)')],
  ['var_pop', seamless('aggregate', 'var_pop(x)')],
  ['corr', seamless('aggregate', 'corr(x, y)')],
  ['covar_pop', seamless('aggregate', 'covar_pop(x, y)')],
  ['covar_samp', seamless('aggregate', 'covar_samp(x, y)')],
  [
    'array_agg',
    when(
      'aggregate',
      'DISTINCT only without an ORDER BY of its own, then its elements are sorted ascending, NULL last, as Postgres sorts DISTINCT input ' +
        '(bytewise text order: the session checks the collation)',
      'array_agg(DISTINCT s)',
    ),
  ],
  ['string_agg', when('aggregate', 'as array_agg for DISTINCT, with a constant delimiter', "string_agg(DISTINCT s, ',')")],
  ['percentile_cont', when('aggregate', 'one constant fraction in [0, 1], one ascending sort key', 'percentile_cont(0.5) WITHIN GROUP (ORDER BY x)')],
  ['percentile_disc', when('aggregate', 'one constant fraction in [0, 1], one ascending sort key', 'percentile_disc(0.5) WITHIN GROUP (ORDER BY x)')],
  ['mode', never('aggregate', 'ties: Postgres returns the first most frequent value in sort order, DuckDB\'s mode any of them')],
  ['bit_and', never('aggregate', NOT_TRANSLATED)],
  ['bit_or', never('aggregate', NOT_TRANSLATED)],
  ...['regr_slope', 'regr_intercept', 'regr_r2', 'regr_count', 'regr_avgx', 'regr_avgy', 'regr_sxx', 'regr_syy', 'regr_sxy'].map(
    (n): [string, Shipping] => [n, never('aggregate', 'Postgres accumulates in float8 with its own (Youngs-Cramer) formulas; DuckDB\'s regr_* are not checked to give the same bits')],
  ),
  // ---- window functions (frames are checked by the rewrite) -----------------------------------------
  ['row_number', seamless('window', 'row_number() OVER (ORDER BY a)')],
  ['rank', seamless('window', 'rank() OVER (ORDER BY a)')],
  ['dense_rank', seamless('window', 'dense_rank() OVER (ORDER BY a)')],
  ['percent_rank', seamless('window', 'percent_rank() OVER (ORDER BY a)')],
  ['cume_dist', seamless('window', 'cume_dist() OVER (ORDER BY a)')],
  ['ntile', seamless('window', 'ntile(4) OVER (ORDER BY a)')],
  ['lag', seamless('window', 'lag(a) OVER (ORDER BY a)')],
  ['lead', seamless('window', 'lead(a) OVER (ORDER BY a)')],
  ['first_value', seamless('window', 'first_value(a) OVER (ORDER BY a)')],
  ['last_value', seamless('window', 'last_value(a) OVER (ORDER BY a)')],
  ['nth_value', seamless('window', 'nth_value(a, 2) OVER (ORDER BY a)')],
  // ---- the statement's clock ------------------------------------------------------------------------
  ['now', when('clock', 'no arguments; DuckDB runs with the session\'s clock and TimeZone', 'now()')],
  ['transaction_timestamp', when('clock', 'as now(): no arguments, the session clock', 'transaction_timestamp()')],
  ['current_timestamp', when('clock', 'as now(), without a precision', 'current_timestamp')],
  ['current_date', when('clock', 'as now(): the session clock and TimeZone', 'current_date')],
  ['localtimestamp', when('clock', 'as now(), without a precision', 'localtimestamp')],
  ['current_time', never('clock', 'time with time zone is not translated')],
  ['localtime', never('clock', 'time values of the clock are not translated')],
  // ---- conditionals and comparison ------------------------------------------------------------------
  ['coalesce', seamless('scalar', 'coalesce(a, b)')],
  ['nullif', seamless('scalar', 'nullif(a, b)')],
  ['greatest', seamless('scalar', 'greatest(a, b)')],
  ['least', seamless('scalar', 'least(a, b)')],
  // ---- date and time --------------------------------------------------------------------------------
  ['date_trunc', when('scalar', "a constant unit from microseconds to decade, no time zone argument", "date_trunc('month', ts)")],
  ['date_part', when('scalar', 'a constant field the rewrite knows', "date_part('year', d)")],
  [
    'extract',
    when(
      'scalar',
      'a constant field the rewrite knows; epoch of a timestamptz, timestamp (as UTC) or date, at Postgres\'s numeric scale (6, date 0); ' +
        'the epoch of ±infinity (numeric Infinity) or of an interval (30-day months) raises, so Postgres answers',
      'extract(epoch FROM ts)',
    ),
  ],
  ['to_char', when('scalar', 'a datetime and a constant format made of the patterns the rewrite knows', "to_char(d, 'YYYY-MM')")],
  [
    'timezone',
    when(
      'scalar',
      "x AT TIME ZONE 'Area/City' (the grammar's timezone(zone, x)) of a timestamptz, the zone a constant IANA zone ID as tzdata spells it " +
        '(Postgres\'s abbreviations and POSIX specs such as \'UTC+3\' or \'+05:30\', west positive there, are not read alike by ICU); ' +
        'a timestamp or date operand (a local time, resolved its own way in a DST gap or overlap) raises, so Postgres answers',
      "timezone('America/New_York', ts)",
    ),
  ],
  [
    'make_interval',
    when('scalar', 'integer constant arguments (positional or named): the interval is computed by the rewrite; out of range is Postgres\'s error', 'make_interval(days => 3)'),
  ],
  ['make_date', never('scalar', NOT_TRANSLATED)],
  ['make_timestamp', never('scalar', NOT_TRANSLATED)],
  ['to_timestamp', never('scalar', NOT_TRANSLATED)],
  ['to_date', never('scalar', 'Postgres\'s template patterns are not translated')],
  [
    'date_bin',
    when(
      'scalar',
      "a constant stride '<n> <unit>' of one unit up to days and a typed timestamp(tz) constant origin; a value before the origin " +
        '(rounded toward -infinity by newer Postgres releases, toward the origin by older ones), an infinite value or a date raises, so Postgres answers',
      "date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01')",
    ),
  ],
  ['isfinite', never('scalar', NOT_TRANSLATED)],
  ['justify_days', never('scalar', 'intervals are not computed alike')],
  ['justify_hours', never('scalar', 'intervals are not computed alike')],
  ['justify_interval', never('scalar', 'intervals are not computed alike')],
  // ---- text -----------------------------------------------------------------------------------------
  ['lower', when('scalar', 'one argument; run only under the C ctype (ASCII case mapping)', 'lower(s)')],
  ['upper', when('scalar', 'one argument; run only under the C ctype (ASCII case mapping)', 'upper(s)')],
  ['length', seamless('scalar', 'length(s)')],
  ['char_length', seamless('scalar', 'char_length(s)')],
  ['character_length', seamless('scalar', 'character_length(s)')],
  ['octet_length', never('scalar', NOT_TRANSLATED)],
  ['bit_length', never('scalar', NOT_TRANSLATED)],
  ['substring', when('scalar', 'integer start and length (the regular-expression form substring(s FROM pattern) is never shipped)', 'substring(s, 2, 3)')],
  ['substr', when('scalar', 'integer start and length', 'substr(s, 2, 3)')],
  ['trim', seamless('scalar', 'trim(s)')],
  ['btrim', seamless('scalar', 'btrim(s)')],
  ['ltrim', seamless('scalar', 'ltrim(s)')],
  ['rtrim', seamless('scalar', 'rtrim(s)')],
  ['position', seamless('scalar', "position('a' IN s)")],
  ['strpos', seamless('scalar', "strpos(s, 'a')")],
  ['replace', seamless('scalar', "replace(s, 'a', 'b')")],
  ['concat', when('scalar', 'arguments whose text DuckDB prints as Postgres does (text, integers, bool, uuid)', "concat(s, '-', a)")],
  ['concat_ws', when('scalar', 'arguments printed as concat() prints them', "concat_ws('-', s, a)")],
  ['left', seamless('scalar', 'left(s, 2)')],
  ['right', seamless('scalar', 'right(s, 2)')],
  ['lpad', seamless('scalar', 'lpad(s, 5)')],
  ['rpad', seamless('scalar', "rpad(s, 5, '*')")],
  ['split_part', when('scalar', 'a non-empty constant delimiter and a non-zero constant field', "split_part(s, '/', 2)")],
  ['starts_with', seamless('scalar', "starts_with(s, 'a')")],
  ['reverse', seamless('scalar', 'reverse(s)')],
  ['repeat', seamless('scalar', 'repeat(s, 2)')],
  ['md5', seamless('scalar', 'md5(s)')],
  ['translate', never('scalar', NOT_TRANSLATED)],
  ['ascii', never('scalar', NOT_TRANSLATED)],
  ['chr', never('scalar', NOT_TRANSLATED)],
  [
    'regexp_replace',
    never('scalar', 'Postgres\'s regular expressions (ARE) differ from DuckDB\'s RE2 in escapes, classes and flags, and the replacement syntax differs (\\1 vs \\\\1, & )'),
  ],
  ['regexp_match', never('scalar', 'as regexp_replace; the result is a text[]')],
  ['regexp_matches', never('scalar', 'as regexp_replace; set-returning in Postgres')],
  ['like_escape', never('scalar', 'Postgres\'s like_escape(pattern, escape) rewrites a pattern; DuckDB\'s like_escape(s, pattern, escape) matches')],
  // ---- numbers --------------------------------------------------------------------------------------
  ['round', when('scalar', 'round(x, n) at the top level with a constant n; round(x) of an explicit numeric cast', 'round(n, 1)')],
  ['abs', seamless('scalar', 'abs(a)')],
  ['ceil', seamless('scalar', 'ceil(x)')],
  ['ceiling', seamless('scalar', 'ceiling(x)')],
  ['floor', seamless('scalar', 'floor(x)')],
  ['sign', seamless('scalar', 'sign(a)')],
  ['sqrt', when('scalar', NUMERIC_MATH, 'sqrt(x)')],
  ['exp', when('scalar', NUMERIC_MATH, 'exp(x)')],
  ['ln', when('scalar', NUMERIC_MATH, 'ln(x)')],
  ['power', when('scalar', NUMERIC_MATH, 'power(x, y)')],
  ['mod', when('scalar', 'a zero divisor raises (22012), as in Postgres; DuckDB would return NULL', 'mod(a, b)')],
  ['trunc', never('scalar', NOT_TRANSLATED)],
  ['cbrt', never('scalar', NOT_TRANSLATED)],
  ['pow', never('scalar', NOT_TRANSLATED)],
  ['log', never('scalar', 'log(x) is base 10 in Postgres, natural in DuckDB; log(b, x) is numeric')],
  ['log10', never('scalar', NOT_TRANSLATED)],
  ['div', never('scalar', 'numeric division truncated: not translated')],
  ['pi', never('scalar', NOT_TRANSLATED)],
  ['degrees', never('scalar', NOT_TRANSLATED)],
  ['radians', never('scalar', NOT_TRANSLATED)],
  ['width_bucket', never('scalar', NOT_TRANSLATED)],
  ...['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2'].map((n): [string, Shipping] => [n, never('scalar', 'libm results and domain errors are not checked against Postgres\'s')]),
  // ---- arrays and sets ------------------------------------------------------------------------------
  ['array_length', never('scalar', 'arrays are not translated')],
  ['cardinality', never('scalar', 'arrays are not translated')],
  ['array_position', never('scalar', 'arrays are not translated')],
  ['array_to_string', never('scalar', 'arrays are not translated')],
  ['unnest', never('set_returning', 'set-returning functions other than generate_series in FROM are not translated')],
  [
    'generate_series',
    when('set_returning', 'in FROM only, over integer constants or typed dates/timestamps with a typed interval step', "generate_series(1, 10)"),
  ],
  ['grouping', seamless('scalar', 'grouping(a)')],
]);

/** Whether the router may send a statement calling this function to DuckDB (the rewrite still checks conditions). */
export function shippable(name: string): boolean {
  const c = FUNCTION_CAPABILITIES.get(name);
  return c !== undefined && c.ship !== 'never';
}

/** Why a function keeps a statement on Postgres (the 'never' reason, or that it is not in the list). */
export function whyNotShippable(name: string): string {
  const c = FUNCTION_CAPABILITIES.get(name);
  if (c === undefined) return `${name}() is not in the capability list`;
  return c.ship === 'never' ? `${name}(): ${c.why}` : '';
}

/** Functions the rewrite passes through by name. */
export const SEAMLESS_FUNCTIONS: ReadonlySet<string> = new Set([...FUNCTION_CAPABILITIES].filter(([, c]) => c.ship === 'seamless').map(([n]) => n));

// ---- operators, by the name the parser gives (LIKE is ~~, BETWEEN its own word) ----------------------
// The router reads the names a statement uses (facts.ts StatementFacts.operators); the rewrite checks
// each A_Expr it deparses against this table too. Examples are WHERE conditions over t (see above).
export const OPERATOR_CAPABILITIES: ReadonlyMap<string, Shipping> = new Map<string, Shipping>([
  ...['=', '<>', '!=', '<', '>', '<=', '>='].map((op): [string, Shipping] => [op, seamless('operator', `a ${op} b`)]),
  ['BETWEEN', seamless('operator', 'a BETWEEN 1 AND b')],
  ['NOT BETWEEN', seamless('operator', 'a NOT BETWEEN 1 AND b')],
  ['+', when('operator', 'where an operand may be float, 22003 on overflow as Postgres (rewrite.ts mayBeFloat, engine.ts dg_fadd)', 'x + y > 0')],
  ['-', when('operator', 'as +; a subtraction of two values that may be timestamptz runs only under zones without DST', 'x - y > 0')],
  ['*', when('operator', 'as +, and 22003 on underflow to 0 for floats', 'x * y > 0')],
  ['/', when('operator', 'a zero divisor raises 22012 (dg_nz); integers divide as integers; a division of sum() is refused; float overflow/underflow raise', 'a / b > 0')],
  ['%', when('operator', 'a zero divisor raises 22012 (dg_nz)', 'a % b > 0')],
  ['||', when('operator', 'operands whose text DuckDB prints as Postgres does (text, integers, bool, uuid; dg_text)', "s || 'x' = 'ax'")],
  ['~~', when('operator', "LIKE with Postgres's default escape (backslash) written out", "s LIKE 'a%'")],
  ['!~~', when('operator', 'as LIKE', "s NOT LIKE 'a%'")],
  ['~~*', when('operator', 'ILIKE: run only under the C ctype (ASCII case folding)', "s ILIKE 'a%'")],
  ['!~~*', when('operator', 'as ILIKE', "s NOT ILIKE 'a%'")],
  ...['~', '!~', '~*', '!~*'].map((op): [string, Shipping] => [
    op,
    when(
      'operator',
      "a constant pattern in the syntax Postgres's ARE and DuckDB's RE2 read alike (rewrite.ts regexRefusal: no escape with a letter or digit, " +
        'no [:class:], no (?, bounded quantifiers up to 255); the case-insensitive forms only under the C ctype. SIMILAR TO (also ~) is not translated',
      `s ${op} '^a(b|c)'`,
    ),
  ]),
  ['BETWEEN SYMMETRIC', never('operator', NOT_TRANSLATED)],
  ['NOT BETWEEN SYMMETRIC', never('operator', NOT_TRANSLATED)],
  ...['->', '->>', '#>', '#>>', '@>', '<@', '?', '?|', '?&', '#-', '@?', '@@'].map((op): [string, Shipping] => [op, never('operator', 'json/jsonb are held as text: their operators are not translated')]),
  ...['&&', '^@', '^', '|/', '||/', '@', '&', '|', '#', '<<', '>>'].map((op): [string, Shipping] => [op, never('operator', NOT_TRANSLATED)]),
]);

/** Whether the router may send a statement using this operator to DuckDB (the rewrite still checks conditions). */
export function shippableOperator(name: string): boolean {
  const c = OPERATOR_CAPABILITIES.get(name);
  return c !== undefined && c.ship !== 'never';
}

// ---- constructs (syntax rather than functions) ---------------------------------------------------------
// The same three classes for the statement's syntax. The rewrite (engines/duckdb/rewrite.ts) is where
// each condition is checked: it translates what is listed seamless or conditional and refuses the rest;
// test/unit/capabilities.test.ts rewrites every example (a whole statement over the table t above) and
// checks that each 'never' example is refused. Session settings the engine itself checks (DateStyle ISO
// only, IntervalStyle postgres only: pg-types.ts) are listed too.

/** Where a 'never' construct is refused when not in the rewrite itself. */
export type CheckedIn = 'router' | 'align' | 'engine';

export type ConstructShipping =
  | { ship: 'seamless'; example: string }
  | { ship: 'conditional'; when: string; example: string }
  | { ship: 'never'; why: string; example: string; checkedIn?: CheckedIn };

const SCALE_KEPT = 'Postgres\'s numeric keeps each value\'s own display scale, a DuckDB DECIMAL has one scale for the column';

export const CONSTRUCT_CAPABILITIES: ReadonlyMap<string, ConstructShipping> = new Map<string, ConstructShipping>([
  [
    'grouping sets',
    {
      ship: 'conditional',
      when: 'ROLLUP, CUBE and GROUPING SETS of expressions (and ()): the standard\'s meaning in both; a parenthesised list inside ROLLUP/CUBE (a row value to DuckDB) or a nested grouping set other than () is refused',
      example: 'SELECT a, b, grouping(a, b), count(*) FROM t GROUP BY ROLLUP (a, b)',
    },
  ],
  [
    'values',
    {
      ship: 'conditional',
      when: 'rows of constants, each column all int4 integers or all strings (NULLs among them), named column1… as Postgres names them',
      example: "SELECT v.column2, count(*) FROM t JOIN (VALUES (1, 'one'), (2, NULL)) AS v ON t.a = v.column1 GROUP BY 1",
    },
  ],
  ['values of decimals', { ship: 'never', why: SCALE_KEPT, example: 'SELECT count(*) FROM t JOIN (VALUES (1.5), (2.25)) AS v(r) ON t.x < v.r' }],
  [
    '= ANY(array)',
    {
      ship: 'conditional',
      when: 'x = ANY(ARRAY[c1, …]) and x <> ALL(ARRAY[…]) of non-NULL constants of one kind: x IN (…) / x NOT IN (…), which Postgres itself turns IN into',
      example: "SELECT count(*) FROM t WHERE s = ANY(ARRAY['a', 'b'])",
    },
  ],
  ['= ANY(array value)', { ship: 'never', why: 'an array value, parameter or an ARRAY[...] with NULLs: arrays are not translated', example: "SELECT count(*) FROM t WHERE s = ANY('{a,b}')" }],
  [
    'window frames',
    {
      ship: 'conditional',
      when:
        'ROWS and GROUPS with non-negative integer constant offsets; RANGE with such an offset or a constant interval (over a timestamptz key ' +
        'run only under zones without DST); EXCLUDE CURRENT ROW / GROUP / TIES. A key type without in_range is an error in both',
      example: "SELECT d, sum(a) OVER (ORDER BY d RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW EXCLUDE TIES) FROM t",
    },
  ],
  ['LATERAL', { ship: 'never', why: 'not translated yet: DuckDB\'s LATERAL joins are not checked against Postgres\'s', example: 'SELECT t.a, u.b FROM t, LATERAL (SELECT b FROM t u WHERE u.a = t.a LIMIT 1) u' }],
  ['WITH RECURSIVE', { ship: 'never', why: 'not translated yet: DuckDB\'s recursive CTEs are not checked against Postgres\'s (UNION\'s duplicate removal per step, cycles)', example: 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT count(*) FROM r, t' }],
  [
    'numeric division below the top level',
    {
      ship: 'never',
      why:
        'Postgres divides numerics exactly, rounded at select_div_scale (which can round a quotient just below an integer up to it, so floor(extract(epoch FROM ts) / 300) ' +
        'differs from the exact floor); DuckDB divides DECIMALs in DOUBLE. Top-level a / b is shipped as its operands and divided by the encoder',
      example: 'SELECT floor(n / 500000.0) * 500000.0 FROM t',
      checkedIn: 'align',
    },
  ],
  ['cast to unconstrained numeric', { ship: 'never', why: SCALE_KEPT, example: 'SELECT CAST(avg(a) AS numeric) FROM t' }],
  ['char(n) compared', { ship: 'never', why: 'the mirror holds char(n) padded; Postgres compares it without its trailing spaces (checked by the router)', example: "SELECT count(*) FROM t WHERE c = 'US' (c char(2))", checkedIn: 'router' }],
  ['enum ordered', { ship: 'never', why: 'the mirror holds enum labels as text; Postgres orders enum values by declaration (checked by the router)', example: 'SELECT e, count(*) FROM t GROUP BY e ORDER BY e (e an enum)', checkedIn: 'router' }],
  ['DateStyle other than ISO', { ship: 'never', why: 'the encoder prints dates and times in ISO only (pg-types.ts); other styles stay on Postgres', example: "SET DateStyle = 'SQL, DMY'", checkedIn: 'engine' }],
  ['IntervalStyle other than postgres', { ship: 'never', why: 'the encoder prints intervals in the postgres style only (pg-types.ts)', example: "SET IntervalStyle = 'iso_8601'", checkedIn: 'engine' }],
]);
