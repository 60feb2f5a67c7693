// UTC offset of a Postgres TimeZone setting at a given instant, for timestamptz output.
// Postgres accepts IANA names ('Europe/Berlin'), abbreviations of fixed zones ('UTC'), ISO-style numeric
// offsets ('+02', '-05:30': east positive, as SET TIME ZONE reads a bare number) and POSIX specs
// ('UTC+3', '<+02>-02': the POSIX sign is west positive). Named zones go through Intl, whose tzdata
// matches Postgres's for the instants that matter; offsets are cached per zone and 15-minute bucket
// (every tzdata transition since 1970 falls on a quarter hour).
import { UnencodableError } from './pg-types.js';

type Zone = { kind: 'fixed'; seconds: number } | { kind: 'named'; fmt: Intl.DateTimeFormat; cache: Map<number, number> };

const zones = new Map<string, Zone>();
const CACHE_MAX = 4096;

function parseHms(s: string): number | null {
  const m = /^(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(s);
  if (!m) return null;
  return Number(m[1]) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function resolveZone(name: string): Zone {
  const trimmed = name.trim();
  const upper = trimmed.toUpperCase();
  if (upper === 'UTC' || upper === 'GMT' || upper === 'Z' || upper === 'ZULU' || upper === 'UCT' || upper === 'ETC/UTC' || upper === 'ETC/GMT')
    return { kind: 'fixed', seconds: 0 };
  // ISO-style offset: '+02', '-05:30' (east of Greenwich positive)
  const iso = /^([+-])(.+)$/.exec(trimmed);
  if (iso) {
    const s = parseHms(iso[2]!);
    if (s !== null) return { kind: 'fixed', seconds: iso[1] === '-' ? -s : s };
  }
  // POSIX: 'UTC+3', '<+02>-02' (west positive)
  const posix = /^(?:<[^>]*>|[A-Za-z]{3,})([+-]?)(\d[\d:]*)$/.exec(trimmed);
  if (posix) {
    const s = parseHms(posix[2]!);
    if (s !== null) return { kind: 'fixed', seconds: posix[1] === '-' ? s : -s };
  }
  try {
    const fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: trimmed,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    return { kind: 'named', fmt, cache: new Map() };
  } catch {
    throw new UnencodableError(`time zone "${name}" is not known to the DuckDB engine`);
  }
}

function namedOffset(z: Extract<Zone, { kind: 'named' }>, epochSeconds: number): number {
  // Intl's Date range is ±8.64e15 ms; outside it Postgres itself uses the last rule (clamp).
  const clamped = Math.max(-8.64e12, Math.min(8.64e12, epochSeconds));
  const bucket = Math.floor(clamped / 900);
  const hit = z.cache.get(bucket);
  if (hit !== undefined) return hit;
  const parts = z.fmt.formatToParts(new Date(bucket * 900 * 1000));
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year': y = Number(p.value); break;
      case 'month': mo = Number(p.value); break;
      case 'day': d = Number(p.value); break;
      case 'hour': h = Number(p.value); break;
      case 'minute': mi = Number(p.value); break;
      case 'second': s = Number(p.value); break;
      case 'era': bc = p.value.startsWith('B'); break;
      default: break;
    }
  }
  if (bc) y = 1 - y;
  const exact = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  const off = exact - bucket * 900;
  if (z.cache.size >= CACHE_MAX) z.cache.clear();
  z.cache.set(bucket, off);
  return off;
}

/** Offset east of UTC, in seconds, of zone `name` at the instant `epochSeconds` (Unix seconds). */
export function utcOffsetSeconds(name: string, epochSeconds: number): number {
  let z = zones.get(name);
  if (!z) {
    z = resolveZone(name);
    zones.set(name, z);
  }
  return z.kind === 'fixed' ? z.seconds : namedOffset(z, epochSeconds);
}

// IANA names whose offset never changed (tzdata's Etc/ zones and their backward links).
const FIXED_NAMED = /^(?:etc\/)?(?:utc|uct|gmt|gmt0|gmt[+-]0|greenwich|universal|zulu)$/i;
const ETC_GMT = /^etc\/gmt([+-])(\d{1,2})$/i;

/**
 * The zone's offset east of UTC in seconds when it is the same at every instant (UTC, '+02', POSIX
 * 'UTC-3', Etc/GMT-2…), else null. Only these let local time be computed by adding a constant.
 */
export function fixedOffsetSeconds(name: string): number | null {
  const trimmed = name.trim();
  if (FIXED_NAMED.test(trimmed)) return 0;
  const etc = ETC_GMT.exec(trimmed);
  if (etc) return (etc[1] === '-' ? 1 : -1) * Number(etc[2]) * 3600; // Etc/GMT signs are POSIX (west positive)
  let z = zones.get(trimmed);
  if (!z) {
    try {
      z = resolveZone(trimmed);
    } catch {
      return null;
    }
    zones.set(trimmed, z);
  }
  return z.kind === 'fixed' ? z.seconds : null;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical year numbering). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Proleptic Gregorian date of a day count since 1970-01-01 (astronomical year numbering). */
export function civilFromDays(z: number): { y: number; m: number; d: number } {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}
