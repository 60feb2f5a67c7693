// How each Postgres column type is held in the mirror. Values arrive as Postgres text (COPY csv for the
// snapshot, pgoutput proto 1 for changes), are written to CSV staging files as text and turned into typed
// DuckDB values by one SQL cast expression per type, so the snapshot and the change stream share a
// single conversion path. A type the mirror cannot hold exactly is kept as its Postgres text in a
// VARCHAR and flagged `exact: false`: statements touching it must go to Postgres.

/** What the catalog tells us about one column (after resolving domains to their base type). */
export interface PgColumnInfo {
  name: string;
  /** the column's own type (a domain's oid for a domain column) */
  typeOid: number;
  typmod: number;
  /**
   * pg_attribute.attnum: a column dropped and added again under the same name and type is another
   * column (its values are gone). Absent in table definitions written by older versions.
   */
  attnum?: number;
  /** format_type(atttypid, atttypmod) */
  pgType: string;
  /** base type oid (the domain's base type, else typeOid) */
  baseOid: number;
  /** pg_type.typtype of the base type: b, e (enum), c, r, m, p, d */
  typtype: string;
  /** element type oid for arrays (0 otherwise) */
  elemOid: number;
  elemTyptype: string;
}

export type ScalarKind =
  | { t: 'native'; duck: string }
  | { t: 'datetime'; duck: 'DATE' | 'TIMESTAMP' | 'TIMESTAMPTZ' }
  | { t: 'blob' }
  | { t: 'interval' }
  | { t: 'text' };

export type ColumnMapping =
  | { kind: 'scalar'; scalar: ScalarKind; exact: boolean }
  | { kind: 'array'; elem: ScalarKind; exact: true }
  | { kind: 'fallback'; exact: false };

const NUMERIC = 1700;

/** Scalar mapping for a base type oid, or null when the mirror cannot hold it exactly. */
export function scalarFor(oid: number, typmod: number, typtype: string): ScalarKind | null {
  if (typtype === 'e') return { t: 'text' }; // enum labels are held as their text
  switch (oid) {
    case 16:
      return { t: 'native', duck: 'BOOLEAN' };
    case 20:
      return { t: 'native', duck: 'BIGINT' };
    case 21:
      return { t: 'native', duck: 'SMALLINT' };
    case 23:
      return { t: 'native', duck: 'INTEGER' };
    case 700:
      return { t: 'native', duck: 'FLOAT' };
    case 701:
      return { t: 'native', duck: 'DOUBLE' };
    case NUMERIC: {
      // typmod = ((precision << 16) | scale) + VARHDRSZ; -1 means unconstrained (any precision): not exact
      if (typmod < 4) return null;
      const p = ((typmod - 4) >> 16) & 0xffff;
      const s = (typmod - 4) & 0xffff;
      if (p < 1 || p > 38 || s > p) return null; // wider than DuckDB's DECIMAL(38) or a negative scale
      return { t: 'native', duck: `DECIMAL(${p},${s})` };
    }
    case 25: // text
    case 1043: // varchar
    case 1042: // bpchar (held with its padding, as Postgres outputs it)
    case 19: // name
    case 114: // json (text as stored)
    case 3802: // jsonb (normalised text as Postgres outputs it)
      return { t: 'text' };
    case 1082:
      return { t: 'datetime', duck: 'DATE' };
    case 1083:
      return { t: 'native', duck: 'TIME' };
    case 1114:
      return { t: 'datetime', duck: 'TIMESTAMP' };
    case 1184:
      return { t: 'datetime', duck: 'TIMESTAMPTZ' };
    case 1186:
      return { t: 'interval' };
    case 2950:
      return { t: 'native', duck: 'UUID' };
    case 17:
      return { t: 'blob' };
    default:
      return null;
  }
}

export function mapColumn(c: PgColumnInfo): ColumnMapping {
  if (c.elemOid !== 0) {
    const elem = scalarFor(c.elemOid, c.typmod, c.elemTyptype);
    // arrays of intervals would need per-element canonicalisation on the Postgres side: kept as text
    if (elem === null || elem.t === 'interval') return { kind: 'fallback', exact: false };
    return { kind: 'array', elem, exact: true };
  }
  const s = scalarFor(c.baseOid, c.typmod, c.typtype);
  if (s === null) return { kind: 'fallback', exact: false };
  return { kind: 'scalar', scalar: s, exact: true };
}

function scalarDuck(s: ScalarKind): string {
  switch (s.t) {
    case 'native':
      return s.duck;
    case 'datetime':
      return s.duck;
    case 'blob':
      return 'BLOB';
    case 'interval':
      return 'INTERVAL';
    case 'text':
      return 'VARCHAR';
  }
}

export function duckType(m: ColumnMapping): string {
  switch (m.kind) {
    case 'scalar':
      return scalarDuck(m.scalar);
    case 'array':
      return `${scalarDuck(m.elem)}[]`;
    case 'fallback':
      return 'VARCHAR';
  }
}

export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * A value the mirror's type for a column cannot hold exactly (a BC date, 'infinity', a multi-dimensional
 * array) raises this tagged error from the cast, naming the column's index: the caller then keeps that
 * one column as its Postgres text (a 'fallback' column, exact: false, so statements touching it go to
 * Postgres) and copies the table again, instead of taking the whole table off DuckDB.
 */
const UNHOLDABLE_TAG = 'duckgate-unholdable-column#';

function unholdable(col: number | undefined, why: string): string {
  return `error(${sqlString(`${UNHOLDABLE_TAG}${col ?? -1}#: ${why}`)})`;
}

/** The column index an unholdable-value error names, or null for any other error. */
export function unholdableColumn(e: unknown): number | null {
  const m = new RegExp(`${UNHOLDABLE_TAG}(\\d+)#`).exec(e instanceof Error ? e.message : String(e));
  return m ? Number(m[1]) : null;
}

/** The mapping of a column kept as its Postgres text (not exact: statements touching it go to Postgres). */
export const FALLBACK: ColumnMapping = { kind: 'fallback', exact: false };

function scalarCast(s: ScalarKind, v: string, col?: number): string {
  switch (s.t) {
    case 'native':
      return `CAST(${v} AS ${s.duck})`;
    case 'datetime':
      // DuckDB would silently read '0044-03-15 BC' as AD 44, and its infinities are not Postgres's
      // (no text form the engine gives back as Postgres would): such a value makes the column fall back
      return `(CASE WHEN ${v} LIKE '% BC' OR ${v} IN ('infinity', '-infinity') THEN ${unholdable(col, `${s.duck} value out of the mirror's range`)} ELSE CAST(${v} AS ${s.duck}) END)`;
    case 'blob':
      // bytea_output = hex: '\x0a0b…'
      return `from_hex(substr(${v}, 3))`;
    case 'interval':
      // Parquet's INTERVAL cannot hold negative parts: the lake keeps the canonical text
      // ('<months> months <days> days <micros> microseconds'), the serving table a real INTERVAL
      return v;
    case 'text':
      return v;
  }
}

/** DuckDB expression turning a lake column into the serving table's type. */
export function servingExpr(m: ColumnMapping, col: string): string {
  if (m.kind === 'scalar' && m.scalar.t === 'interval') return `CAST(${col} AS INTERVAL)`;
  return col;
}

/**
 * DuckDB SQL turning the staged text `v` (a VARCHAR expression) into the column's mirror type; `col`
 * (the column's index) is named by the error a value the type cannot hold raises (see unholdableColumn).
 */
export function castExpr(m: ColumnMapping, v: string, col?: number): string {
  switch (m.kind) {
    case 'scalar':
      return scalarCast(m.scalar, v, col);
    case 'array':
      // staged as a JSON array of element texts (see arrayTextToJson / pgCopyExpr)
      return `(CASE WHEN ${v} = 'unsupported array shape' THEN ${unholdable(col, 'a multi-dimensional or not 1-based array')} ELSE list_transform(CAST(CAST(${v} AS JSON) AS VARCHAR[]), e -> ${scalarCast(m.elem, 'e', col)}) END)`;
    case 'fallback':
      return v;
  }
}

export function pgIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/**
 * The key of a table in the manifest and the mirror's maps: 'schema.name', which is unambiguous as long as
 * the schema has no '.' (the first '.' then separates). A schema with a '.' (or starting with '"') is
 * quoted: schema '.' table '..' and schema '..' table '.' would otherwise both be '...' and share one
 * entry. Keys of ordinary schemas are unchanged, so existing manifests read on.
 */
export function tableKey(schema: string, name: string): string {
  return schema.includes('.') || schema.startsWith('"') ? `${pgIdent(schema)}.${name}` : `${schema}.${name}`;
}

export function qualified(schema: string, name: string): string {
  return `${pgIdent(schema)}.${pgIdent(name)}`;
}

/**
 * Postgres expression used in the snapshot's COPY for this column, producing the same staged text the
 * change stream path produces (see stageText).
 */
export function pgCopyExpr(m: ColumnMapping, col: string): string {
  const c = pgIdent(col);
  if (m.kind === 'scalar' && m.scalar.t === 'interval') {
    return `CASE WHEN ${c} IS NULL THEN NULL ELSE format('%s months %s days %s microseconds', (extract(year from ${c})*12 + extract(month from ${c}))::bigint, extract(day from ${c})::bigint, (extract(hour from ${c})*3600000000 + extract(minute from ${c})*60000000 + extract(microseconds from ${c}))::bigint) END`;
  }
  if (m.kind === 'array') {
    // multi-dimensional or non-1-based arrays are not representable: an invalid JSON text makes the cast fail loudly
    return `CASE WHEN ${c} IS NULL THEN NULL WHEN array_ndims(${c}) > 1 OR array_lower(${c}, 1) <> 1 THEN 'unsupported array shape' ELSE to_json(${c}::text[])::text END`;
  }
  return c;
}

/** Text of a pgoutput value turned into the staged text (same as pgCopyExpr's output). */
export function stageText(m: ColumnMapping, text: string): string {
  if (m.kind === 'scalar' && m.scalar.t === 'interval') return intervalToCanonical(text);
  if (m.kind === 'array') return arrayTextToJson(text);
  return text;
}

/**
 * Interval text in IntervalStyle 'postgres' ('1 year 2 mons -3 days +04:05:06.5') to
 * '<months> months <days> days <micros> microseconds', which DuckDB parses exactly.
 */
export function intervalToCanonical(s: string): string {
  let months = 0n;
  let days = 0n;
  let micros = 0n;
  const re = /([+-]?\d+) (years?|mons?|days?)|([+-])?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/g;
  let m: RegExpExecArray | null;
  let consumed = '';
  while ((m = re.exec(s)) !== null) {
    consumed += m[0];
    if (m[1] !== undefined) {
      const n = BigInt(m[1]);
      const unit = m[2]!;
      if (unit.startsWith('year')) months += n * 12n;
      else if (unit.startsWith('mon')) months += n;
      else days += n;
    } else {
      const sign = m[3] === '-' ? -1n : 1n;
      const frac = BigInt((m[7] ?? '').padEnd(6, '0') || '0');
      const t = (BigInt(m[4]!) * 3600n + BigInt(m[5]!) * 60n + BigInt(m[6]!)) * 1_000_000n + frac;
      micros += sign * t;
    }
  }
  if (consumed.replace(/\s/g, '').length !== s.replace(/\s/g, '').length) throw new Error(`unsupported interval text "${s}"`);
  return `${months} months ${days} days ${micros} microseconds`;
}

/**
 * A one-dimensional Postgres array literal ('{1,"a b",NULL}') to a JSON array of element texts
 * (['1','a b',null]), matching to_json(col::text[]) on the Postgres side.
 */
export function arrayTextToJson(s: string): string {
  if (!s.startsWith('{') || !s.endsWith('}')) return 'unsupported array shape'; // '[0:1]={…}' bounds
  const out: Array<string | null> = [];
  let i = 1;
  const end = s.length - 1;
  if (i === end) return '[]';
  while (i <= end) {
    if (s[i] === '{') return 'unsupported array shape'; // multi-dimensional
    if (s[i] === '"') {
      let v = '';
      i++;
      while (i < end && s[i] !== '"') {
        if (s[i] === '\\') i++;
        v += s[i];
        i++;
      }
      i++; // closing quote
      out.push(v);
    } else {
      let j = i;
      while (j < end && s[j] !== ',') j++;
      const raw = s.slice(i, j).trim();
      out.push(raw === 'NULL' ? null : raw);
      i = j;
    }
    if (s[i] === ',') i++;
    else if (i >= end) break;
  }
  return JSON.stringify(out);
}
