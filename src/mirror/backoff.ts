// Retry delays for the mirror: capped exponential backoff with jitter. The mirror retries ordinary
// events (a killed connection, a PostgreSQL restart, wal_level not yet logical, the slot or the lake
// held by someone else, a table that could not be copied) instead of stopping until duckgate restarts.
// Jitter keeps several duckgates (or several tables) from retrying in lock step against one server.

export interface BackoffPolicy {
  /** first delay */
  minMs: number;
  /** the delay never grows beyond this */
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (0 = first retry): min(maxMs, minMs * 2^attempt), of which the
 * upper half is random ("equal jitter": never near zero, so a failing server is not hammered).
 */
export function backoffMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const min = Math.max(1, policy.minMs);
  const cap = Math.max(min, policy.maxMs);
  const exp = Math.min(cap, min * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}
