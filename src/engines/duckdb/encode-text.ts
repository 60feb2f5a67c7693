// Text format (format code 0): a DuckDB value → the exact string Postgres 15's typoutput function
// prints for the column's type OID and typmod, under the session's settings. Pure.
import { DuckDBStructValue } from '@duckdb/node-api';
import {
  formatDateDays,
  formatFloat,
  formatInterval,
  formatNumeric,
  formatTime,
  formatTimeTz,
  formatTimestamp,
  formatTimestampTz,
  pgAvg,
  pgDivide,
} from './format.js';
import { Oid, UnencodableError, arrayElement, numericTypmod, type SessionOptions } from './pg-types.js';
import {
  DATE_NEG_INF,
  DATE_POS_INF,
  TS_NEG_INF,
  TS_POS_INF,
  type Decimal,
  type NonNullValue,
  rescale,
  toAvgParts,
  toDivisionParts,
  toBigInt,
  toBool,
  toBytes,
  toDateDays,
  toDecimal,
  toDouble,
  toInterval,
  toItems,
  toStringValue,
  toTimeMicros,
  toTimeTz,
  toTimestampMicros,
  toUuid128,
} from './values.js';

/** Postgres numeric value for a column of numeric(typmod): avg parts resolved, scale applied. */
export function numericValue(v: NonNullValue, typmod: number): Decimal {
  let d: Decimal;
  if (v instanceof DuckDBStructValue) {
    const parts = toAvgParts(v);
    const div = parts ? null : toDivisionParts(v);
    if (parts) d = pgAvg(parts.sum, parts.count);
    else if (div) d = pgDivide(div.n, div.d);
    else throw new UnencodableError('unexpected struct for numeric');
  } else d = toDecimal(v);
  const tm = numericTypmod(typmod);
  return tm ? rescale(d, tm.scale) : d;
}

/** bpchar(n) values are blank-padded to n characters on output (bpchar typmod = n + 4). */
export function padBpchar(s: string, typmod: number): string {
  if (typmod < 5) return s;
  const n = typmod - 4;
  const len = [...s].length;
  return len >= n ? s : s + ' '.repeat(n - len);
}

function byteaText(bytes: Uint8Array, style: 'hex' | 'escape'): string {
  if (style === 'hex') return '\\x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  // byteaout escape style: printable ASCII as-is, backslash doubled, everything else \ooo
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b < 0x20 || b > 0x7e) out += '\\' + b.toString(8).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

function timestampText(micros: bigint, tz: string | null): string {
  if (micros === TS_POS_INF) return 'infinity';
  if (micros === TS_NEG_INF) return '-infinity';
  return tz === null ? formatTimestamp(micros) : formatTimestampTz(micros, tz);
}

function uuidText(u: bigint): string {
  const h = u.toString(16).padStart(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Encodes one non-null value of a scalar or array type as Postgres text output. */
export function encodeText(v: NonNullValue, oid: number, typmod: number, s: SessionOptions): string {
  switch (oid) {
    case Oid.bool:
      return toBool(v) ? 't' : 'f';
    case Oid.int2:
    case Oid.int4:
    case Oid.int8:
      return toBigInt(v, 'integer').toString();
    case Oid.numeric:
      return formatNumeric(numericValue(v, typmod));
    case Oid.float4:
      return formatFloat(Math.fround(toDouble(v, 'float4')), true, s.extraFloatDigits);
    case Oid.float8:
      return formatFloat(toDouble(v, 'float8'), false, s.extraFloatDigits);
    case Oid.text:
    case Oid.varchar:
    case Oid.json:
    case Oid.jsonb:
      return toStringValue(v, 'text');
    case Oid.bpchar:
      return padBpchar(toStringValue(v, 'bpchar'), typmod);
    case Oid.bytea:
      return byteaText(toBytes(v), s.byteaOutput);
    case Oid.date: {
      const d = toDateDays(v);
      if (d === DATE_POS_INF) return 'infinity';
      if (d === DATE_NEG_INF) return '-infinity';
      return formatDateDays(d);
    }
    case Oid.time:
      return formatTime(toTimeMicros(v));
    case Oid.timetz: {
      const t = toTimeTz(v);
      return formatTimeTz(t.micros, t.offset);
    }
    case Oid.timestamp:
      return timestampText(toTimestampMicros(v, 'timestamp'), null);
    case Oid.timestamptz:
      return timestampText(toTimestampMicros(v, 'timestamptz'), s.timeZone);
    case Oid.interval: {
      const i = toInterval(v);
      return formatInterval(i.months, i.days, i.micros);
    }
    case Oid.uuid:
      return uuidText(toUuid128(v));
    default: {
      const elem = arrayElement.get(oid);
      if (elem === undefined) throw new UnencodableError(`type OID ${oid} is not supported by the DuckDB engine`);
      return arrayText(v, elem, typmod, s);
    }
  }
}

/** array_out: {a,b,NULL}, nested braces for more dimensions, elements quoted when needed. */
function arrayText(v: NonNullValue, elem: number, typmod: number, s: SessionOptions): string {
  const items = toItems(v);
  const parts: string[] = [];
  for (const it of items) {
    if (it === null) parts.push('NULL');
    else if (isList(it)) parts.push(arrayText(it, elem, typmod, s));
    else parts.push(quoteArrayElement(encodeText(it, elem, typmod, s)));
  }
  return '{' + parts.join(',') + '}';
}

function isList(v: NonNullValue): boolean {
  return typeof v === 'object' && 'items' in v;
}

function quoteArrayElement(t: string): string {
  if (t.length === 0 || /^null$/i.test(t) || /[{}",\\\s\v]/.test(t)) return '"' + t.replace(/[\\"]/g, '\\$&') + '"';
  return t;
}
