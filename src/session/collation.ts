// Whether a database's default collation orders text as DuckDB does: bytewise (memcmp over UTF-8).
//
// Postgres compares text with strcoll() (libc), ICU or its builtin provider, and breaks a tie bytewise
// (varstr_cmp), so equality and grouping agree with DuckDB under any deterministic default collation;
// ordering (ORDER BY, min/max, <, BETWEEN…) agrees only where the collation is code point order:
// - C and POSIX (and PG17's builtin C): bytes;
// - libc's C.UTF-8: strict code point order (glibc 2.35+ by definition; Debian's and Fedora's older
//   C.UTF-8 patches list code points in order too), which is byte order for UTF-8;
// - the builtin provider's C.UTF-8 (PG17) and PG_UNICODE_FAST (PG18): "code point values only"
//   (https://www.postgresql.org/docs/current/locale.html#LOCALE-PROVIDERS).
// Byte order equals code point order only in UTF-8 (and trivially in SQL_ASCII/LATIN1, whose bytes are
// their code points), which the probe requires of the database encoding.
//
// A name alone is trusted for nothing: the probe asks the server itself to order pairs that every
// linguistic collation orders differently from bytes (case and accents before letters, punctuation
// ignored, supplementary planes after the BMP as UTF-16 comparisons would not), so a libc whose
// "C.UTF-8" were anything else would be caught.

/** Pairs (a, b) with a < b bytewise; a linguistic collation puts at least one the other way round. */
const PROBE_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['A', 'a'],
  ['B', 'a'],
  ['Z', 'a'],
  ['A', '_'],
  ['1', 'A'],
  ['a-c', 'ab'],
  ['b', 'á'],
  ['z', 'ä'],
  ['Ω', 'ω'],
  ['\uFFFD', '\u{1F600}'],
  ['', ' '],
];

const hex = (s: string): string => "'" + Buffer.from(s, 'utf8').toString('hex') + "'";

/**
 * SQL (one scalar column, 'true' or 'false') that is true when the database encoding keeps byte order =
 * code point order and, in UTF8, the default collation orders every probe pair bytewise.
 *
 * The strings travel as hex of their UTF-8 bytes, so the query is plain ASCII whatever the session's
 * client_encoding, and convert_from (stable, so not folded at plan time) runs only in a UTF8 database:
 * OR stops at the encoding test elsewhere. In SQL_ASCII and LATIN1 only C and POSIX pass the name test.
 */
export function collationProbeSql(): string {
  const values = PROBE_PAIRS.map(([a, b]) => `(${hex(a)}, ${hex(b)})`).join(', ');
  // COLLATE "default": convert_from would otherwise take the C collation of its name argument
  const text = (col: string) => `(convert_from(decode(${col}, 'hex'), 'UTF8') COLLATE "default")`;
  return (
    "(getdatabaseencoding() IN ('SQL_ASCII', 'LATIN1') OR (getdatabaseencoding() = 'UTF8' AND " +
    `(SELECT bool_and(${text('a')} < ${text('b')}) FROM (VALUES ${values}) AS p(a, b))))::text`
  );
}

/** Collation names (as the check query reports them) whose order is defined as bytes or code points. */
const BYTE_ORDER = new Set(['C', 'POSIX', 'b:C', 'b:PG_UNICODE_FAST']);
/** libc and builtin C.UTF-8 as glibc and Postgres accept its spelling (C.UTF-8, C.utf8…) */
const C_UTF8 = /^(b:)?C\.[Uu][Tt][Ff]-?8$/;

/**
 * Whether the database's default collation is bytewise for DuckDB's purposes.
 * @param collation '<datcollate>' for libc, '<provider>:<locale>' otherwise (see the check query)
 * @param probe the value of collationProbeSql()
 */
export function isBytewiseCollation(collation: string | null, probe: string | null): boolean {
  return collation !== null && (BYTE_ORDER.has(collation) || C_UTF8.test(collation)) && probe === 'true';
}
