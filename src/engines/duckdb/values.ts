// Normalises the values @duckdb/node-api yields (numbers, bigints and DuckDB*Value classes) into the
// few canonical shapes the Postgres encoders work from. Pure. Anything that cannot be converted
// exactly throws UnencodableError (the caller then re-runs the statement on Postgres).
import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBArrayValue,
  DuckDBTimeTZValue,
  DuckDBTimeValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBUUIDValue,
  DuckDBStructValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { UnencodableError } from './pg-types.js';

export type NonNullValue = Exclude<DuckDBValue, null>;

/** DuckDB's ±infinity sentinels: timestamps use ±(2^63-1) micros, dates ±(2^31-1) days. */
export const TS_POS_INF = 9223372036854775807n;
export const TS_NEG_INF = -9223372036854775807n;
export const DATE_POS_INF = 2147483647;
export const DATE_NEG_INF = -2147483647;

/** Microseconds between 1970-01-01 and 2000-01-01 (Postgres's epoch). */
export const PG_EPOCH_MICROS = 946684800000000n;
export const PG_EPOCH_DAYS = 10957;

function describe(v: NonNullValue): string {
  return typeof v === 'object' ? v.constructor.name : typeof v;
}

export function fail(v: NonNullValue, target: string): never {
  throw new UnencodableError(`cannot encode DuckDB ${describe(v)} value as Postgres ${target}`);
}

export function toBigInt(v: NonNullValue, target: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (v instanceof DuckDBDecimalValue) {
    const p = 10n ** BigInt(v.scale);
    if (v.value % p === 0n) return v.value / p;
  }
  return fail(v, target);
}

/** An exact decimal: value = unscaled / 10^scale. */
export interface Decimal {
  unscaled: bigint;
  scale: number;
}

export function toDecimal(v: NonNullValue): Decimal {
  if (typeof v === 'bigint') return { unscaled: v, scale: 0 };
  if (typeof v === 'number' && Number.isSafeInteger(v)) return { unscaled: BigInt(v), scale: 0 };
  if (v instanceof DuckDBDecimalValue) return { unscaled: v.value, scale: v.scale };
  // A double has no Postgres numeric scale: the rewrite must cast to DECIMAL before it gets here.
  return fail(v, 'numeric');
}

/** Rounds (half away from zero, like Postgres's numeric round) or pads to `scale` digits. */
export function rescale(d: Decimal, scale: number): Decimal {
  if (scale === d.scale) return d;
  if (scale > d.scale) return { unscaled: d.unscaled * 10n ** BigInt(scale - d.scale), scale };
  const p = 10n ** BigInt(d.scale - scale);
  const neg = d.unscaled < 0n;
  const a = neg ? -d.unscaled : d.unscaled;
  let q = a / p;
  if ((a % p) * 2n >= p) q += 1n;
  return { unscaled: neg ? -q : q, scale };
}

export function toDouble(v: NonNullValue, target: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  // Postgres converts numeric to float via its text form (strtod): correctly rounded, as Number() is.
  if (v instanceof DuckDBDecimalValue) return Number(decimalToString({ unscaled: v.value, scale: v.scale }));
  return fail(v, target);
}

export function decimalToString(d: Decimal): string {
  const neg = d.unscaled < 0n;
  let digits = (neg ? -d.unscaled : d.unscaled).toString();
  if (d.scale <= 0) return (neg ? '-' : '') + digits + '0'.repeat(-d.scale);
  if (digits.length <= d.scale) digits = '0'.repeat(d.scale - digits.length + 1) + digits;
  const cut = digits.length - d.scale;
  return (neg ? '-' : '') + digits.slice(0, cut) + '.' + digits.slice(cut);
}

/** Timestamp as micros since 1970 (±infinity sentinels preserved). */
export function toTimestampMicros(v: NonNullValue, target: string): bigint {
  if (v instanceof DuckDBTimestampValue || v instanceof DuckDBTimestampTZValue) return v.micros;
  if (v instanceof DuckDBTimestampSecondsValue) return v.seconds * 1_000_000n;
  if (v instanceof DuckDBTimestampMillisecondsValue) return v.millis * 1000n;
  if (v instanceof DuckDBTimestampNanosecondsValue) {
    // Postgres rounds to microseconds (half away from zero) on input; keep that.
    const n = v.nanos;
    const q = n / 1000n;
    const r = n % 1000n;
    return r >= 500n ? q + 1n : r <= -500n ? q - 1n : q;
  }
  if (v instanceof DuckDBDateValue) {
    if (v.days === DATE_POS_INF) return TS_POS_INF;
    if (v.days === DATE_NEG_INF) return TS_NEG_INF;
    return BigInt(v.days) * 86_400_000_000n;
  }
  return fail(v, target);
}

export function toDateDays(v: NonNullValue): number {
  if (v instanceof DuckDBDateValue) return v.days;
  if (v instanceof DuckDBTimestampValue) {
    if (v.micros === TS_POS_INF) return DATE_POS_INF;
    if (v.micros === TS_NEG_INF) return DATE_NEG_INF;
    const days = v.micros / 86_400_000_000n - (v.micros % 86_400_000_000n < 0n ? 1n : 0n);
    return Number(days);
  }
  return fail(v, 'date');
}

export function toTimeMicros(v: NonNullValue): bigint {
  if (v instanceof DuckDBTimeValue) return v.micros;
  return fail(v, 'time');
}

export function toTimeTz(v: NonNullValue): { micros: bigint; offset: number } {
  if (v instanceof DuckDBTimeTZValue) return { micros: v.micros, offset: v.offset };
  return fail(v, 'timetz');
}

export function toInterval(v: NonNullValue): { months: number; days: number; micros: bigint } {
  if (v instanceof DuckDBIntervalValue) return { months: v.months, days: v.days, micros: v.micros };
  return fail(v, 'interval');
}

export function toBytes(v: NonNullValue): Uint8Array {
  if (v instanceof DuckDBBlobValue) return v.bytes;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return fail(v, 'bytea');
}

export function toUuid128(v: NonNullValue): bigint {
  if (v instanceof DuckDBUUIDValue) return v.toUint128();
  if (typeof v === 'string' && /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(v))
    return BigInt('0x' + v.replace(/-/g, ''));
  return fail(v, 'uuid');
}

export function toBool(v: NonNullValue): boolean {
  if (typeof v === 'boolean') return v;
  return fail(v, 'boolean');
}

export function toStringValue(v: NonNullValue, target: string): string {
  if (typeof v === 'string') return v;
  return fail(v, target);
}

export function toItems(v: NonNullValue): readonly DuckDBValue[] {
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items;
  return fail(v, 'array');
}

/** The struct the rewrite emits for a top-level numeric division: {n: numerator, d: denominator}. */
export function toDivisionParts(v: NonNullValue): { n: Decimal; d: Decimal } | null {
  if (!(v instanceof DuckDBStructValue)) return null;
  const n = v.entries['n'];
  const d = v.entries['d'];
  if (n === undefined || d === undefined || n === null || d === null) return null;
  return { n: toDecimal(n), d: toDecimal(d) };
}

/** The struct the rewrite emits for a top-level Postgres avg() over integers/decimals: {s: sum, c: count}. */
export function toAvgParts(v: NonNullValue): { sum: Decimal; count: bigint } | null {
  if (!(v instanceof DuckDBStructValue)) return null;
  const s = v.entries['s'];
  const c = v.entries['c'];
  if (s === undefined || c === undefined || s === null || c === null) return null;
  return { sum: toDecimal(s), count: toBigInt(c, 'bigint') };
}
