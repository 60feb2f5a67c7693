// Parameter values in Postgres's binary form (as its *send functions write them), turned into the text
// the DuckDB statement binds (the rewrite casts each $n to the DuckDB type of Postgres's parameter
// type). Every parameter comes this way, text or binary as the client bound it: Postgres has read it
// with its own input function first (src/session/param-values.ts), so DuckDB never parses a client's
// text. Binary layouts as Postgres's *recv functions read them (int2recv, float8recv, date_recv,
// timestamp_recv, uuid_recv, …): big-endian, dates as days and timestamps as microseconds since
// 2000-01-01. The text written is what DuckDB's casts read back to the same value; a type or value
// without such a text (numeric, BC dates, arrays, …) throws UnencodableError and the statement goes
// to Postgres.
import { formatDateDays, formatTime, formatTimestamp, formatTimestampTz } from './format.js';
import { Oid, UnencodableError } from './pg-types.js';

/** Days and microseconds from 1970-01-01 to Postgres's epoch 2000-01-01. */
const PG_EPOCH_DAYS = 10_957;
const PG_EPOCH_MICROS = 946_684_800_000_000n;
const INT64_MAX = 0x7fffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;

function size(buf: Buffer, n: number, what: string): void {
  if (buf.length !== n) throw new UnencodableError(`binary ${what} parameter of ${buf.length} bytes`);
}

function noBC(text: string): string {
  if (text.endsWith(' BC')) throw new UnencodableError('a BC date or timestamp parameter');
  return text;
}

/**
 * numeric_send's layout: ndigits, weight (of the first base-10000 digit), sign, dscale, then the
 * digits. The rewrite binds a numeric parameter as DECIMAL(38,10) (where its value alone decides: a
 * comparison with an integer or numeric column), so a value with more than 10 decimals or 28 integer
 * digits, NaN and the infinities have no exact DuckDB value.
 */
function numericText(buf: Buffer): string {
  if (buf.length < 8) throw new UnencodableError(`binary numeric parameter of ${buf.length} bytes`);
  const ndigits = buf.readUInt16BE(0);
  const weight = buf.readInt16BE(2);
  const sign = buf.readUInt16BE(4);
  const dscale = buf.readUInt16BE(6);
  size(buf, 8 + 2 * ndigits, 'numeric');
  if (sign !== 0x0000 && sign !== 0x4000) throw new UnencodableError('a NaN or infinite numeric parameter');
  if (dscale > 10) throw new UnencodableError('a numeric parameter with more than 10 decimals');
  let int = '';
  let frac = '';
  for (let i = 0; i < ndigits; i++) {
    const d = String(buf.readUInt16BE(8 + 2 * i)).padStart(4, '0');
    if (weight - i >= 0) int += d;
    else frac = frac.padEnd(4 * (-(weight - i) - 1), '0') + d;
  }
  if (weight >= ndigits) int += '0000'.repeat(weight - ndigits + 1);
  int = int.replace(/^0+/, '') || '0';
  frac = frac.padEnd(dscale, '0').slice(0, dscale);
  if (int.length > 28) throw new UnencodableError('a numeric parameter with more than 28 integer digits');
  return `${sign === 0x4000 ? '-' : ''}${int}${dscale > 0 ? '.' + frac : ''}`;
}

/** Text for a binary parameter of Postgres type `oid`. */
export function binaryParamText(oid: number, buf: Buffer): string {
  switch (oid) {
    case Oid.bool:
      size(buf, 1, 'bool');
      return buf[0] ? 'true' : 'false';
    case Oid.int2:
      size(buf, 2, 'int2');
      return String(buf.readInt16BE(0));
    case Oid.int4:
      size(buf, 4, 'int4');
      return String(buf.readInt32BE(0));
    case Oid.int8:
      size(buf, 8, 'int8');
      return String(buf.readBigInt64BE(0));
    // String(x) is the shortest text that reads back as the same double (ECMA-262 Number::toString),
    // and a float4's value is exactly a double's
    case Oid.float4:
    case Oid.float8: {
      size(buf, oid === Oid.float4 ? 4 : 8, 'float');
      const v = oid === Oid.float4 ? buf.readFloatBE(0) : buf.readDoubleBE(0);
      if (Number.isNaN(v)) return 'NaN';
      if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
      return Object.is(v, -0) ? '-0' : String(v);
    }
    case Oid.text:
    case Oid.varchar:
    case Oid.bpchar:
      // the binary form of the text types is the text itself
      return buf.toString('utf8');
    case Oid.date: {
      size(buf, 4, 'date');
      const d = buf.readInt32BE(0);
      if (d === 0x7fffffff) return 'infinity';
      if (d === -0x80000000) return '-infinity';
      return noBC(formatDateDays(d + PG_EPOCH_DAYS));
    }
    case Oid.timestamp:
    case Oid.timestamptz: {
      size(buf, 8, 'timestamp');
      const us = buf.readBigInt64BE(0);
      if (us === INT64_MAX) return 'infinity';
      if (us === INT64_MIN) return '-infinity';
      const unix = us + PG_EPOCH_MICROS;
      return noBC(oid === Oid.timestamp ? formatTimestamp(unix) : formatTimestampTz(unix, 'UTC'));
    }
    case Oid.time: {
      size(buf, 8, 'time');
      // microseconds since midnight, 00:00:00 to 24:00:00 inclusive (time_recv), as DuckDB's TIME reads
      return formatTime(buf.readBigInt64BE(0));
    }
    case Oid.interval: {
      size(buf, 16, 'interval');
      // microseconds, days, months (interval_recv); each part is kept apart, as in DuckDB's INTERVAL
      const micros = buf.readBigInt64BE(0);
      const days = buf.readInt32BE(8);
      const months = buf.readInt32BE(12);
      // Postgres 17's infinite intervals have no DuckDB value
      if (micros === INT64_MAX || micros === INT64_MIN) throw new UnencodableError('an infinite interval parameter');
      return `${months} months ${days} days ${micros} microseconds`;
    }
    case Oid.numeric:
      return numericText(buf);
    case Oid.uuid: {
      size(buf, 16, 'uuid');
      const h = buf.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    default:
      throw new UnencodableError(`binary parameter of type OID ${oid}`);
  }
}
