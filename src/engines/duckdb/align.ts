// Final type alignment: Postgres is the type oracle. Given the DuckDB types of the rewritten statement's
// columns and the RowDescription Postgres computed, each column is either passed as is, CAST to the
// DuckDB type that holds Postgres's value exactly, or the statement is refused (a DuckDB type that
// cannot carry Postgres's value, e.g. a DOUBLE where Postgres computes numeric). Pure.
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { Oid, arrayElement, isSupportedOid, numericTypmod } from './pg-types.js';
import { duckTypeForOid, type ColumnKind } from './rewrite.js';

export interface PgField {
  name: string;
  typeOid: number;
  typmod: number;
  /** 0 text, 1 binary */
  format: 0 | 1;
}

export type Alignment = { ok: true; casts: Array<string | null> } | { ok: false; reason: string };

const ints = new Set([
  DuckDBTypeId.TINYINT, DuckDBTypeId.SMALLINT, DuckDBTypeId.INTEGER, DuckDBTypeId.BIGINT, DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT, DuckDBTypeId.USMALLINT, DuckDBTypeId.UINTEGER, DuckDBTypeId.UBIGINT, DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.INTEGER_LITERAL,
]);
const timestamps = new Set([DuckDBTypeId.TIMESTAMP, DuckDBTypeId.TIMESTAMP_S, DuckDBTypeId.TIMESTAMP_MS, DuckDBTypeId.TIMESTAMP_NS]);
const strings = new Set([DuckDBTypeId.VARCHAR, DuckDBTypeId.STRING_LITERAL]);

/** The types a value is CAST to when DuckDB computed another (all but numeric named as for parameters). */
const CAST_TARGETS = new Set<number>([Oid.int2, Oid.int4, Oid.int8, Oid.float4, Oid.float8, Oid.date, Oid.timestamp, Oid.timestamptz]);

/** DuckDB type to CAST to for a Postgres OID/typmod (null: leave the value as DuckDB computed it). */
function duckTarget(oid: number, typmod: number): string | null {
  if (oid === Oid.numeric) {
    const t = numericTypmod(typmod);
    return t && t.precision <= 38 && t.scale >= 0 ? `DECIMAL(${t.precision},${t.scale})` : null;
  }
  return CAST_TARGETS.has(oid) ? duckTypeForOid(oid) : null;
}

/** Every field of a struct is an integer or a DECIMAL. */
function exactParts(t: DuckDBType): boolean {
  const children = (t as { entryTypes?: readonly DuckDBType[] }).entryTypes ?? [];
  return children.length === 2 && children.every((c) => ints.has(c.typeId) || c.typeId === DuckDBTypeId.DECIMAL);
}

/** Every field of a struct is an integer. */
function integerParts(t: DuckDBType): boolean {
  const children = (t as { entryTypes?: readonly DuckDBType[] }).entryTypes ?? [];
  return children.length === 2 && children.every((c) => ints.has(c.typeId));
}

/** Returns the CAST target for one value, '' when no cast is needed, or null when not exact. */
function alignOne(t: DuckDBType, oid: number, typmod: number, kind: ColumnKind): string | '' | null {
  const id = t.typeId;
  if (id === DuckDBTypeId.SQLNULL) return duckTarget(oid, typmod) ?? '';
  switch (oid) {
    case Oid.int2: case Oid.int4: case Oid.int8:
      // exact for integers and for decimals (Postgres numeric→int rounds half away from zero, as DuckDB does)
      return ints.has(id) || id === DuckDBTypeId.DECIMAL ? duckTarget(oid, typmod) : id === DuckDBTypeId.BOOLEAN ? null : null;
    case Oid.numeric: {
      const target = duckTarget(oid, typmod);
      // Unconstrained numeric from a DECIMAL keeps DuckDB's one scale: exact unless the column mixes
      // values of different scales (kind 'mixed_scale', see rewrite.ts).
      if (id === DuckDBTypeId.DECIMAL) return target ?? (kind === 'mixed_scale' ? null : '');
      // {s, c} of a top-level avg, {n, d} of a top-level division: the encoder divides exactly, so both
      // parts must be exact (integers or decimals; a DOUBLE part has no Postgres scale)
      // (kind 'mixed_scale': only integer parts, whose scale is 0 whichever branch produced them)
      if (id === DuckDBTypeId.STRUCT) return ((kind === 'avg' || kind === 'div') && exactParts(t)) || (kind === 'mixed_scale' && integerParts(t)) ? '' : null;
      // An integer where Postgres has unconstrained numeric: sum(int8) (numeric in PG, HUGEINT in
      // DuckDB) and integer arithmetic over it carry the same value, scale 0, unless the rewrite saw a
      // division that could have made Postgres's value fractional (kind 'other'; see rewrite.ts).
      // (Integers all have scale 0, so branches mixing them stay exact: 'mixed_scale' is fine here.)
      if (ints.has(id)) return target !== null ? target : kind === 'integral' || kind === 'mixed_scale' ? '' : null;
      return null;
    }
    case Oid.float4:
      // A DOUBLE where Postgres has float4 is an aggregate over float4 (sum(real) adds in float4 in
      // Postgres, each step rounded; DuckDB sums in double): the values differ far beyond the last bit.
      if (id === DuckDBTypeId.DOUBLE) return null;
      return id === DuckDBTypeId.FLOAT || ints.has(id) || id === DuckDBTypeId.DECIMAL ? duckTarget(oid, typmod) : null;
    case Oid.float8:
      // A FLOAT where Postgres has float8 was computed in float4 where Postgres computed in float8 (real
      // with an integer or numeric: float4.ts widens such operands, so DuckDB's type is DOUBLE too).
      return id === DuckDBTypeId.DOUBLE || ints.has(id) || id === DuckDBTypeId.DECIMAL ? duckTarget(oid, typmod) : null;
    case Oid.bool:
      return id === DuckDBTypeId.BOOLEAN ? '' : null;
    case Oid.text: case Oid.varchar: case Oid.bpchar: case Oid.json: case Oid.jsonb:
      return strings.has(id) ? '' : null;
    case Oid.bytea:
      return id === DuckDBTypeId.BLOB ? '' : null;
    case Oid.date:
      return id === DuckDBTypeId.DATE ? '' : timestamps.has(id) ? 'DATE' : null;
    case Oid.timestamp:
      return timestamps.has(id) ? '' : id === DuckDBTypeId.DATE ? 'TIMESTAMP' : null;
    case Oid.timestamptz:
      // date/timestamp → timestamptz is read in the session TimeZone (set on the connection), as Postgres does
      return id === DuckDBTypeId.TIMESTAMP_TZ ? '' : timestamps.has(id) || id === DuckDBTypeId.DATE ? 'TIMESTAMPTZ' : null;
    case Oid.time:
      return id === DuckDBTypeId.TIME ? '' : null;
    case Oid.timetz:
      return id === DuckDBTypeId.TIME_TZ ? '' : null;
    case Oid.interval:
      return id === DuckDBTypeId.INTERVAL ? '' : null;
    case Oid.uuid:
      return id === DuckDBTypeId.UUID ? '' : null;
    default: {
      const elem = arrayElement.get(oid);
      if (elem === undefined) return null;
      if (id !== DuckDBTypeId.LIST && id !== DuckDBTypeId.ARRAY) return null;
      const child = (t as unknown as { valueType: DuckDBType }).valueType;
      const inner = alignOne(child, elem, typmod, 'other');
      if (inner === null) return null;
      if (inner === '') return '';
      return inner + '[]';
    }
  }
}

export function alignColumns(types: readonly DuckDBType[], fields: readonly PgField[], kinds: readonly ColumnKind[]): Alignment {
  if (types.length !== fields.length) return { ok: false, reason: `DuckDB returns ${types.length} columns, Postgres ${fields.length}` };
  const casts: Array<string | null> = [];
  for (let i = 0; i < types.length; i++) {
    const f = fields[i]!;
    if (!isSupportedOid(f.typeOid)) return { ok: false, reason: `column ${i + 1}: type OID ${f.typeOid} not supported` };
    const a = alignOne(types[i]!, f.typeOid, f.typmod, kinds[i] ?? 'other');
    if (a === null) return { ok: false, reason: `column ${i + 1}: DuckDB ${types[i]!.toString()} cannot carry Postgres type ${f.typeOid} exactly` };
    casts.push(a === '' ? null : a);
  }
  return { ok: true, casts };
}

/** Wraps the rewritten statement so every column comes out in the aligned DuckDB type. */
export function wrapWithCasts(innerSql: string, casts: ReadonlyArray<string | null>): string {
  if (casts.every((c) => c === null)) return innerSql;
  const names = casts.map((_, i) => `c${i}`);
  const cols = casts.map((c, i) => (c === null ? `q.c${i}` : `CAST(q.c${i} AS ${c})`));
  return `SELECT ${cols.join(', ')} FROM (${innerSql}) AS q(${names.join(', ')})`;
}
