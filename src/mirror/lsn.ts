// PostgreSQL log sequence numbers. On the wire they are 64-bit unsigned integers; in text they are two
// hex halves 'X/Y' (pg_lsn output). We keep them as bigint internally and as text at the API edge.

export type Lsn = bigint;

export function parseLsn(s: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(s.trim());
  if (!m) throw new Error(`invalid LSN "${s}" (expected X/Y in hex)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(l: Lsn): string {
  return `${(l >> 32n).toString(16).toUpperCase()}/${(l & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Fixed-width hex, sortable as text: used in lake file names. */
export function lsnKey(l: Lsn): string {
  return l.toString(16).toUpperCase().padStart(16, '0');
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}
