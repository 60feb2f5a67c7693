// PostgreSQL type OIDs the DuckDB engine can encode, the session settings that change their output,
// and the error raised when a DuckDB value cannot be turned into exactly what Postgres would send.
// OIDs: src/include/catalog/pg_type.dat (PostgreSQL 15).

export const Oid = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** array type OID → element type OID (pg_type.typelem) */
export const arrayElement: ReadonlyMap<number, number> = new Map([
  [1000, Oid.bool],
  [1001, Oid.bytea],
  [1016, Oid.int8],
  [1005, Oid.int2],
  [1007, Oid.int4],
  [1009, Oid.text],
  [199, Oid.json],
  [1021, Oid.float4],
  [1022, Oid.float8],
  [1014, Oid.bpchar],
  [1015, Oid.varchar],
  [1182, Oid.date],
  [1183, Oid.time],
  [1115, Oid.timestamp],
  [1185, Oid.timestamptz],
  [1187, Oid.interval],
  [1270, Oid.timetz],
  [1231, Oid.numeric],
  [2951, Oid.uuid],
  [3807, Oid.jsonb],
]);

const scalarOids: ReadonlySet<number> = new Set(Object.values(Oid));

/** True when the engine can encode values of this type OID (scalar or one-dimensional-or-more array). */
export function isSupportedOid(oid: number): boolean {
  return scalarOids.has(oid) || arrayElement.has(oid);
}

/** The session settings that change how Postgres prints values (GUCs of the same names). */
export interface SessionOptions {
  /** TimeZone GUC, e.g. 'UTC', 'Europe/Berlin', '+02' (POSIX: 2 hours WEST of Greenwich, as Postgres reads it) */
  timeZone: string;
  /** DateStyle GUC; only ISO output is supported ('ISO, MDY', 'ISO, DMY', 'ISO, YMD') */
  dateStyle: string;
  /** IntervalStyle GUC; only 'postgres' is supported */
  intervalStyle: string;
  /** extra_float_digits GUC (-15..3); Postgres's default is 1 */
  extraFloatDigits: number;
  /** bytea_output GUC */
  byteaOutput: 'hex' | 'escape';
  /** the database's LC_CTYPE ('C', 'en_US.UTF-8', 'icu:…'): lower/upper/ILIKE follow it; default 'C' */
  ctype?: string;
}

export const defaultSessionOptions: SessionOptions = {
  timeZone: 'UTC',
  dateStyle: 'ISO, MDY',
  intervalStyle: 'postgres',
  extraFloatDigits: 1,
  byteaOutput: 'hex',
};

/**
 * A value (or a session setting) the engine cannot encode exactly as Postgres would. Callers treat it
 * like any DuckDB failure: the statement is re-run on Postgres, so the client never sees it.
 */
export class UnencodableError extends Error {
  override name = 'UnencodableError';
}

/** Returns a reason when the session's settings make output the engine cannot reproduce, else null. */
export function unsupportedSession(s: SessionOptions): string | null {
  if (!/^\s*iso\b/i.test(s.dateStyle)) return `DateStyle ${s.dateStyle} is not supported (ISO only)`;
  if (s.intervalStyle.toLowerCase() !== 'postgres') return `IntervalStyle ${s.intervalStyle} is not supported`;
  if (!Number.isInteger(s.extraFloatDigits) || s.extraFloatDigits < -15 || s.extraFloatDigits > 3)
    return `extra_float_digits ${s.extraFloatDigits} out of range`;
  return null;
}

/** numeric typmod → { precision, scale }, or null for unconstrained numeric (typmod -1). */
export function numericTypmod(typmod: number): { precision: number; scale: number } | null {
  if (typmod < 4) return null;
  const t = typmod - 4;
  // scale is the low 16 bits, sign-extended (PG 15 allows negative scales)
  let scale = t & 0x7ff;
  if (scale & 0x400) scale -= 0x800;
  return { precision: (t >> 16) & 0xffff, scale };
}
