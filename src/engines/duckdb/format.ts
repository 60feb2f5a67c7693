// Postgres's own text formatting rules for numbers, dates and times (PostgreSQL 15, DateStyle ISO,
// IntervalStyle postgres). Pure functions; each names the Postgres routine it reproduces.
import { civilFromDays, utcOffsetSeconds } from './timezone.js';
import { type Decimal, decimalToString } from './values.js';

// ---- floats (float8out / float4out, src/backend/utils/adt/float.c) ------------------------------

/**
 * extra_float_digits > 0: the shortest string that reads back to the same value (Ryu), printed in
 * fixed notation when the decimal exponent is in [-4, 15) for float8 / [-4, 6) for float4, else as
 * d.ddde±XX (common/d2s.c, f2s.c). extra_float_digits <= 0: printf("%.*g", DBL_DIG/FLT_DIG + efd).
 */
export function formatFloat(v: number, isFloat4: boolean, extraFloatDigits: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (extraFloatDigits > 0) {
    if (v === 0) return Object.is(v, -0) ? '-0' : '0';
    const { digits, exp } = shortestDigits(v, isFloat4);
    return layout(v < 0, digits, exp, isFloat4 ? 6 : 15);
  }
  const precision = Math.max(1, (isFloat4 ? 6 : 15) + extraFloatDigits);
  return formatG(v, precision);
}

/**
 * Shortest round-trip digits (no sign, no trailing zeros) and the decimal exponent of the first digit.
 * Postgres's Ryu runs without "accept bounds": a decimal lying exactly halfway between the value and
 * a neighbour does not count as reading back to it, even where round-half-even would make it so
 * (9000000000::float4 is 8.999999e+09, not 9e+09; 18014398509481992::float8 is
 * 1.8014398509481992e+16, where JavaScript's shortest is 18014398509481990).
 */
function shortestDigits(v: number, isFloat4: boolean): { digits: string; exp: number } {
  const a = Math.abs(v);
  let s: string | null = null;
  if (!isFloat4) {
    // JavaScript's shortest round trip (ECMA-262 Number::toString, ties to even); longer only when
    // it lies on a bound
    const js = a.toExponential();
    if (!onBound(js, a, false)) s = js;
    else {
      for (let p = js.replace(/e.*$/, '').replace('.', '').length + 1; p <= 17 && s === null; p++) {
        const t = toExponentialEven(a, p);
        if (Number(t) === a && !onBound(t, a, false)) s = t;
      }
    }
  } else {
    // a tie fix changes a candidate by one unit at the same distance from a: it reads back exactly when
    // the unfixed one does, so only a candidate that reads back needs it
    for (let p = 1; p <= 9 && s === null; p++) {
      const t0 = a.toExponential(p - 1);
      if (Math.fround(Number(t0)) !== a) continue;
      const t = evenTie(t0, a);
      if (!onBound(t, a, true)) s = t;
    }
  }
  s ??= toExponentialEven(a, isFloat4 ? 9 : 17);
  const [mant, e] = s.split('e') as [string, string];
  const digits = mant.replace('.', '').replace(/0+$/, '') || '0';
  return { digits, exp: Number(e) };
}

/** a = m * 2^x exactly (a > 0, finite), in float4 or float8 terms; minNormal: m is 2^23 / 2^52 above subnormals. */
function decompose(a: number, isFloat4: boolean): { m: bigint; x: number; minNormal: boolean } {
  if (isFloat4) {
    bits.setFloat32(0, a);
    const u = bits.getUint32(0);
    const eb = (u >>> 23) & 0xff;
    const f = u & 0x7fffff;
    return { m: BigInt(eb === 0 ? f : f + 0x800000), x: eb === 0 ? -149 : eb - 150, minNormal: eb > 1 && f === 0 };
  }
  bits.setFloat64(0, a);
  const hi = bits.getUint32(0);
  const eb = (hi >>> 20) & 0x7ff;
  const f = (BigInt(hi & 0xfffff) << 32n) | BigInt(bits.getUint32(4));
  return { m: eb === 0 ? f : f + (1n << 52n), x: eb === 0 ? -1074 : eb - 1075, minNormal: eb > 1 && f === 0n };
}

/** digits * 10^k == n * 2^y, exactly. */
function decimalEqualsDyadic(digits: bigint, k: number, n: bigint, y: number): boolean {
  // a decimal with a factor 5 left in its denominator is no dyadic rational
  if (k < 0 && digits % 5n ** BigInt(-k) !== 0n) return false;
  const lhs = digits * 10n ** BigInt(Math.max(k, 0)) * 2n ** BigInt(Math.max(-y, 0));
  const rhs = n * 2n ** BigInt(Math.max(y, 0)) * 10n ** BigInt(Math.max(-k, 0));
  return lhs === rhs;
}

/** digits and power of ten of a toExponential() string: t = digits * 10^k */
function decimalParts(t: string): { digits: bigint; k: number; e: string } {
  const [mant, e] = t.split('e') as [string, string];
  const frac = mant.split('.')[1] ?? '';
  return { digits: BigInt(mant.replace('.', '')), k: Number(e) - frac.length, e };
}

const bits = new DataView(new ArrayBuffer(8));

/**
 * a.toExponential(p - 1), except that an exact tie between two p-digit decimals goes to the even one,
 * as Ryu and printf do (JavaScript's toExponential rounds such ties up: 334492.625 to 8 digits is
 * 334492.63 there, 334492.62 in Postgres).
 */
function toExponentialEven(a: number, p: number): string {
  return evenTie(a.toExponential(p - 1), a);
}

/** t (a.toExponential(p - 1)) with an exact tie between two p-digit decimals sent to the even one. */
function evenTie(t: string, a: number): string {
  // cheap exits first (this runs for every float printed): an even last digit needs no change, and a
  // tie needs 2a = (2 digits - 1) * 10^k, so 2a an integer when k >= 0, and 5^-k dividing 2 digits - 1
  const cut = t.indexOf('e');
  if ((t.charCodeAt(cut - 1) & 1) === 0) return t;
  const fracLen = t.indexOf('.') < 0 ? 0 : cut - t.indexOf('.') - 1;
  const k0 = Number(t.slice(cut + 1)) - fracLen;
  if (k0 >= 0 ? !Number.isInteger(2 * a) : !tieMayBe(t.slice(0, cut).replace('.', ''), -k0)) return t;
  const { digits, k, e } = decimalParts(t);
  // tie between digits and digits - 1: 2a == (2 digits - 1) * 10^k
  const { m, x } = decompose(a, false);
  if (!decimalEqualsDyadic(2n * digits - 1n, k, m, x + 1)) return t;
  const p = digits.toString().length;
  const lower = (digits - 1n).toString();
  if (lower.length < p) return t; // 10^(p-1) - 0.5: not reachable with an odd upper digit string
  return `${lower[0]}${p > 1 ? '.' + lower.slice(1) : ''}e${e}`;
}

/**
 * False when the whole number written by `digits` is certainly no multiple of 5^q; true when it may be
 * (then the exact BigInt test decides). 10^j is a multiple of 5^j, so the last j digits decide
 * divisibility by 5^j; j is capped at 15 to stay exact in a double.
 */
function mayBeMultipleOf5Pow(digits: string, q: number): boolean {
  const j = Math.min(q, 15);
  return Number(digits.slice(-j)) % 5 ** j === 0;
}

/** Whether 2 * digits - 1 may be a multiple of 5^q (the last j digits of digits decide it, as above). */
function tieMayBe(digits: string, q: number): boolean {
  const j = Math.min(q, 15);
  const mod = 10 ** j;
  const v = (2 * Number(digits.slice(-j)) - 1 + mod) % mod;
  return v % 5 ** j === 0;
}

/** Whether the decimal t (toExponential form) is exactly halfway between a (> 0) and a neighbour. */
function onBound(t: string, a: number, isFloat4: boolean): boolean {
  // cheap exits first: a midpoint is an integer only above 2^53 (2^24 for float4), and a decimal with
  // fractional digits is a dyadic rational only when 5^digits divides its digit string
  const cut = t.indexOf('e');
  const fracLen = t.indexOf('.') < 0 ? 0 : cut - t.indexOf('.') - 1;
  const k0 = Number(t.slice(cut + 1)) - fracLen;
  if (k0 >= 0 ? a < (isFloat4 ? 2 ** 24 : 2 ** 53) : !mayBeMultipleOf5Pow(-k0 <= fracLen ? t.slice(cut + k0, cut) : t.slice(0, cut).replace('.', ''), -k0)) return false;
  const { digits, k } = decimalParts(t);
  const { m, x, minNormal } = decompose(a, isFloat4);
  if (decimalEqualsDyadic(digits, k, 2n * m + 1n, x - 1)) return true;
  // below a power of two the lower neighbour is half as far away
  return minNormal ? decimalEqualsDyadic(digits, k, 4n * m - 1n, x - 2) : decimalEqualsDyadic(digits, k, 2n * m - 1n, x - 1);
}

function layout(neg: boolean, digits: string, exp: number, fixedBelow: number): string {
  const sign = neg ? '-' : '';
  if (exp >= -4 && exp < fixedBelow) {
    if (exp < 0) return sign + '0.' + '0'.repeat(-exp - 1) + digits;
    if (digits.length <= exp + 1) return sign + digits + '0'.repeat(exp + 1 - digits.length);
    return sign + digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  }
  const mant = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
  return sign + mant + 'e' + (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
}

/** C printf %.{precision}g */
function formatG(v: number, precision: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const s = toExponentialEven(Math.abs(v), precision);
  const [mant, e] = s.split('e') as [string, string];
  const exp = Number(e);
  const digits = mant.replace('.', '').replace(/0+$/, '') || '0';
  return layout(v < 0, digits, exp, precision);
}

// ---- numeric (numeric_out, numeric.c) -------------------------------------------------------------

export function formatNumeric(d: Decimal): string {
  return decimalToString(d);
}

/** The display scale Postgres's numeric division picks (select_div_scale in numeric.c). */
export function pgDivScale(num: Decimal, den: Decimal): number {
  const [w1, f1] = firstDigit(num);
  const [w2, f2] = firstDigit(den);
  let qweight = w1 - w2;
  if (f1 <= f2) qweight--;
  let rscale = 16 - qweight * 4; // NUMERIC_MIN_SIG_DIGITS - qweight * DEC_DIGITS
  rscale = Math.max(rscale, num.scale, den.scale, 0);
  return Math.min(rscale, 1000);
}

/** Weight (base-10000 position) and value of the first non-zero base-10000 digit; [0, 0] for zero. */
function firstDigit(d: Decimal): [number, number] {
  const a = d.unscaled < 0n ? -d.unscaled : d.unscaled;
  if (a === 0n) return [0, 0];
  const k = Math.max(0, Math.ceil(d.scale / 4));
  const x = a * 10n ** BigInt(4 * k - d.scale);
  const s = x.toString();
  const n = Math.ceil(s.length / 4);
  const lead = s.length - (n - 1) * 4;
  return [n - 1 - k, Number(s.slice(0, lead))];
}

/** num / den rounded half away from zero to `scale` digits (div_var with round = true). */
export function divideDecimal(num: Decimal, den: Decimal, scale: number): Decimal {
  // value = (n / 10^sn) / (d / 10^sd) = n * 10^sd / (d * 10^sn); scaled by 10^scale
  let n = num.unscaled * 10n ** BigInt(den.scale + scale);
  let d = den.unscaled * 10n ** BigInt(num.scale);
  if (d < 0n) {
    d = -d;
    n = -n;
  }
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  if ((a % d) * 2n >= d) q += 1n;
  return { unscaled: neg ? -q : q, scale };
}

/** Postgres's numeric / numeric (numeric_div: select_div_scale, then rounded division); d is not 0. */
export function pgDivide(n: Decimal, d: Decimal): Decimal {
  return divideDecimal(n, d, pgDivScale(n, d));
}

/** Postgres's avg(int2/int4/int8/numeric) from the exact sum and count (int8_avg / numeric_avg). */
export function pgAvg(sum: Decimal, count: bigint): Decimal {
  const den: Decimal = { unscaled: count, scale: 0 };
  return divideDecimal(sum, den, pgDivScale(sum, den));
}

// ---- dates and times (EncodeDateOnly / EncodeDateTime / EncodeTimeOnly / EncodeInterval) -----------

const pad2 = (n: number): string => (n < 10 ? '0' + n : String(n));

function pad4(y: number): string {
  return y < 1000 ? String(y).padStart(4, '0') : String(y);
}

/** 'YYYY-MM-DD' (ISO), with ' BC' for years before 1, as Postgres writes them. */
export function formatDateDays(days: number): string {
  const { y, m, d } = civilFromDays(days);
  if (y <= 0) return `${pad4(1 - y)}-${pad2(m)}-${pad2(d)} BC`;
  return `${pad4(y)}-${pad2(m)}-${pad2(d)}`;
}

/** 'HH:MM:SS' plus fractional microseconds with trailing zeros removed (AppendSeconds). */
function formatClock(microsOfDay: bigint): string {
  const totalSec = microsOfDay / 1_000_000n;
  const frac = Number(microsOfDay % 1_000_000n);
  const h = Number(totalSec / 3600n);
  const mi = Number((totalSec / 60n) % 60n);
  const s = Number(totalSec % 60n);
  return `${pad2(h)}:${pad2(mi)}:${pad2(s)}${fraction(frac)}`;
}

function fraction(micros: number): string {
  if (micros === 0) return '';
  return '.' + String(micros).padStart(6, '0').replace(/0+$/, '');
}

export function formatTime(micros: bigint): string {
  return formatClock(micros);
}

/** Zone offset as Postgres prints it: +HH, +HH:MM or +HH:MM:SS (EncodeTimezone). */
export function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const a = Math.abs(offsetSeconds);
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const s = a % 60;
  if (s !== 0) return `${sign}${pad2(h)}:${pad2(m)}:${pad2(s)}`;
  if (m !== 0) return `${sign}${pad2(h)}:${pad2(m)}`;
  return `${sign}${pad2(h)}`;
}

export function formatTimeTz(micros: bigint, offsetSeconds: number): string {
  return formatClock(micros) + formatOffset(offsetSeconds);
}

const DAY_MICROS = 86_400_000_000n;

function splitMicros(micros: bigint): { days: number; ofDay: bigint } {
  let days = micros / DAY_MICROS;
  let ofDay = micros % DAY_MICROS;
  if (ofDay < 0n) {
    ofDay += DAY_MICROS;
    days -= 1n;
  }
  return { days: Number(days), ofDay };
}

/** timestamp without time zone, micros since 1970 (finite). */
export function formatTimestamp(micros: bigint): string {
  const { days, ofDay } = splitMicros(micros);
  const { y, m, d } = civilFromDays(days);
  const date = `${pad4(y <= 0 ? 1 - y : y)}-${pad2(m)}-${pad2(d)}`;
  return `${date} ${formatClock(ofDay)}${y <= 0 ? ' BC' : ''}`;
}

/** timestamptz, micros since 1970 UTC (finite), shown in the session's TimeZone. */
export function formatTimestampTz(micros: bigint, timeZone: string): string {
  const epochSec = Number(micros / 1_000_000n) - (micros % 1_000_000n < 0n ? 1 : 0);
  const off = utcOffsetSeconds(timeZone, epochSec);
  const { days, ofDay } = splitMicros(micros + BigInt(off) * 1_000_000n);
  const { y, m, d } = civilFromDays(days);
  const date = `${pad4(y <= 0 ? 1 - y : y)}-${pad2(m)}-${pad2(d)}`;
  return `${date} ${formatClock(ofDay)}${formatOffset(off)}${y <= 0 ? ' BC' : ''}`;
}

/** IntervalStyle postgres (EncodeInterval, INTSTYLE_POSTGRES). */
export function formatInterval(months: number, days: number, micros: bigint): string {
  const year = Math.trunc(months / 12);
  const mon = months % 12;
  let out = '';
  let isZero = true;
  let isBefore = false;
  const part = (value: number, unit: string): void => {
    if (value === 0) return;
    out += `${isZero ? '' : ' '}${isBefore && value > 0 ? '+' : ''}${value} ${unit}${value !== 1 ? 's' : ''}`;
    isBefore = value < 0;
    isZero = false;
  };
  part(year, 'year');
  part(mon, 'mon');
  part(days, 'day');
  if (isZero || micros !== 0n) {
    const minus = micros < 0n;
    const a = minus ? -micros : micros;
    const totalSec = a / 1_000_000n;
    const hours = totalSec / 3600n;
    const mi = Number((totalSec / 60n) % 60n);
    const s = Number(totalSec % 60n);
    const h = hours < 10n ? '0' + hours.toString() : hours.toString();
    out += `${isZero ? '' : ' '}${minus ? '-' : isBefore ? '+' : ''}${h}:${pad2(mi)}:${pad2(s)}${fraction(Number(a % 1_000_000n))}`;
  }
  return out;
}
