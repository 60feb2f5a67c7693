// Binary format (format code 1): a DuckDB value → the bytes Postgres 15's typsend function produces.
// Integers and floats big-endian; date = int32 days since 2000-01-01; time/timestamp(tz) = int64
// microseconds (since 2000-01-01 UTC for timestamps, ±infinity as INT64 max/min); interval = int64
// micros, int32 days, int32 months; numeric = ndigits, weight, sign, dscale, base-10000 digits (all
// int16); jsonb = version byte 1 + text; arrays = ndim, has-null flag, element OID, (size, lbound 1)
// per dimension, then length-prefixed elements (array_send). Pure.
import { numericValue, padBpchar } from './encode-text.js';
import { Oid, UnencodableError, arrayElement, type SessionOptions } from './pg-types.js';
import {
  DATE_NEG_INF,
  DATE_POS_INF,
  PG_EPOCH_DAYS,
  PG_EPOCH_MICROS,
  TS_NEG_INF,
  TS_POS_INF,
  type Decimal,
  type NonNullValue,
  toBigInt,
  toBool,
  toBytes,
  toDateDays,
  toDouble,
  toInterval,
  toItems,
  toStringValue,
  toTimeMicros,
  toTimeTz,
  toTimestampMicros,
  toUuid128,
} from './values.js';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

function intBuf(v: bigint, bytes: 2 | 4 | 8): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  if (bytes === 2) {
    if (v < -32768n || v > 32767n) throw new UnencodableError('smallint out of range');
    b.writeInt16BE(Number(v));
  } else if (bytes === 4) {
    if (v < -2147483648n || v > 2147483647n) throw new UnencodableError('integer out of range');
    b.writeInt32BE(Number(v));
  } else {
    if (v < INT64_MIN || v > INT64_MAX) throw new UnencodableError('bigint out of range');
    b.writeBigInt64BE(v);
  }
  return b;
}

/** numeric_send from an exact decimal. */
export function numericBinary(d: Decimal): Buffer {
  const neg = d.unscaled < 0n;
  const dscale = Math.max(0, d.scale);
  // Align to base-10000 groups around the decimal point: pad the fraction to a multiple of 4 digits.
  const fracGroups = Math.ceil(dscale / 4);
  let mag = neg ? -d.unscaled : d.unscaled;
  if (d.scale < 0) mag *= 10n ** BigInt(-d.scale);
  else mag *= 10n ** BigInt(fracGroups * 4 - d.scale);
  const digits: number[] = [];
  while (mag > 0n) {
    digits.push(Number(mag % 10000n));
    mag /= 10000n;
  }
  digits.reverse(); // most significant first
  let weight = digits.length - 1 - fracGroups;
  // strip leading and trailing zero groups (make_result / numeric_send do)
  let start = 0;
  while (start < digits.length && digits[start] === 0) start++;
  let end = digits.length;
  while (end > start && digits[end - 1] === 0) end--;
  const kept = digits.slice(start, end);
  weight -= start;
  if (kept.length === 0) weight = 0;
  const b = Buffer.allocUnsafe(8 + kept.length * 2);
  b.writeInt16BE(kept.length, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(kept.length === 0 ? 0 : neg ? 0x4000 : 0, 4);
  b.writeInt16BE(dscale, 6);
  for (let i = 0; i < kept.length; i++) b.writeInt16BE(kept[i]!, 8 + i * 2);
  return b;
}

function timestampBinary(micros: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  if (micros === TS_POS_INF) b.writeBigInt64BE(INT64_MAX);
  else if (micros === TS_NEG_INF) b.writeBigInt64BE(INT64_MIN);
  else b.writeBigInt64BE(micros - PG_EPOCH_MICROS);
  return b;
}

/** Encodes one non-null value as Postgres binary output. */
export function encodeBinary(v: NonNullValue, oid: number, typmod: number, s: SessionOptions): Buffer {
  switch (oid) {
    case Oid.bool:
      return Buffer.from([toBool(v) ? 1 : 0]);
    case Oid.int2:
      return intBuf(toBigInt(v, 'smallint'), 2);
    case Oid.int4:
      return intBuf(toBigInt(v, 'integer'), 4);
    case Oid.int8:
      return intBuf(toBigInt(v, 'bigint'), 8);
    case Oid.numeric:
      return numericBinary(numericValue(v, typmod));
    case Oid.float4: {
      const b = Buffer.allocUnsafe(4);
      b.writeFloatBE(toDouble(v, 'float4'));
      return b;
    }
    case Oid.float8: {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(toDouble(v, 'float8'));
      return b;
    }
    case Oid.text:
    case Oid.varchar:
    case Oid.json:
      return Buffer.from(toStringValue(v, 'text'), 'utf8');
    case Oid.jsonb: {
      const t = toStringValue(v, 'jsonb');
      const b = Buffer.allocUnsafe(1 + Buffer.byteLength(t));
      b[0] = 1;
      b.write(t, 1, 'utf8');
      return b;
    }
    case Oid.bpchar:
      return Buffer.from(padBpchar(toStringValue(v, 'bpchar'), typmod), 'utf8');
    case Oid.bytea: {
      const u = toBytes(v);
      return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    }
    case Oid.date: {
      const d = toDateDays(v);
      const b = Buffer.allocUnsafe(4);
      b.writeInt32BE(d === DATE_POS_INF ? 0x7fffffff : d === DATE_NEG_INF ? -0x80000000 : d - PG_EPOCH_DAYS);
      return b;
    }
    case Oid.time: {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(toTimeMicros(v));
      return b;
    }
    case Oid.timetz: {
      const t = toTimeTz(v);
      const b = Buffer.allocUnsafe(12);
      b.writeBigInt64BE(t.micros);
      b.writeInt32BE(-t.offset, 8); // Postgres stores the zone as seconds WEST of UTC
      return b;
    }
    case Oid.timestamp:
      return timestampBinary(toTimestampMicros(v, 'timestamp'));
    case Oid.timestamptz:
      return timestampBinary(toTimestampMicros(v, 'timestamptz'));
    case Oid.interval: {
      const i = toInterval(v);
      const b = Buffer.allocUnsafe(16);
      b.writeBigInt64BE(i.micros);
      b.writeInt32BE(i.days, 8);
      b.writeInt32BE(i.months, 12);
      return b;
    }
    case Oid.uuid: {
      const b = Buffer.allocUnsafe(16);
      const u = toUuid128(v);
      b.writeBigUInt64BE(u >> 64n, 0);
      b.writeBigUInt64BE(u & 0xffffffffffffffffn, 8);
      return b;
    }
    default: {
      const elem = arrayElement.get(oid);
      if (elem === undefined) throw new UnencodableError(`type OID ${oid} is not supported by the DuckDB engine`);
      return arrayBinary(v, elem, typmod, s);
    }
  }
}

/** array_send. A ragged nested list cannot be a Postgres array: refused. */
function arrayBinary(v: NonNullValue, elem: number, typmod: number, s: SessionOptions): Buffer {
  const dims: number[] = [];
  let probe: NonNullValue | null = v;
  while (probe !== null && typeof probe === 'object' && 'items' in probe) {
    const items = toItems(probe);
    dims.push(items.length);
    if (items.length === 0) break;
    probe = items[0] ?? null;
  }
  const flat: Array<Buffer | null> = [];
  let hasNull = false;
  const walk = (x: NonNullValue, depth: number): void => {
    const items = toItems(x);
    if (items.length !== dims[depth]) throw new UnencodableError('multidimensional arrays must have matching extents');
    for (const it of items) {
      if (depth + 1 < dims.length) {
        if (it === null) throw new UnencodableError('NULL sub-array');
        walk(it, depth + 1);
      } else if (it === null) {
        hasNull = true;
        flat.push(null);
      } else flat.push(encodeBinary(it, elem, typmod, s));
    }
  };
  const empty = dims.length === 0 || dims[0] === 0;
  if (!empty) walk(v, 0);
  const ndim = empty ? 0 : dims.length;
  let size = 12 + ndim * 8;
  for (const f of flat) size += 4 + (f ? f.length : 0);
  const b = Buffer.allocUnsafe(size);
  b.writeInt32BE(ndim, 0);
  b.writeInt32BE(hasNull ? 1 : 0, 4);
  b.writeUInt32BE(elem, 8);
  let o = 12;
  for (let i = 0; i < ndim; i++) {
    b.writeInt32BE(dims[i]!, o);
    b.writeInt32BE(1, o + 4);
    o += 8;
  }
  for (const f of flat) {
    if (f === null) {
      b.writeInt32BE(-1, o);
      o += 4;
    } else {
      b.writeInt32BE(f.length, o);
      f.copy(b, o + 4);
      o += 4 + f.length;
    }
  }
  return b;
}
