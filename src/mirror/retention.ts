// Protecting the upstream's disk from the mirror's replication slot. A slot makes PostgreSQL keep every
// WAL segment from its restart_lsn on; a duckgate that is stopped, or whose mirror cannot make progress
// (a full disk, a table it cannot write), would make it keep WAL without bound. Two bounds:
//   - mirror.maxRetainedWalBytes (ours): checked at every start of the mirror and every walCheckMs while it
//     streams; beyond it the slot is given up (its walsender terminated, the slot dropped) and the mirror
//     copies its tables again from a new slot when it next starts.
//   - max_slot_wal_keep_size (PostgreSQL 13+, the server's): bounds the slot even while duckgate is not
//     running at all. PostgreSQL then invalidates the slot (pg_replication_slots.wal_status = 'lost');
//     such a slot can never stream again, so it is detected here the same way, dropped and recreated.
// 'unreserved' (past max_wal_size, about to be lost) is logged with safe_wal_size.
import type pg from 'pg';
import type { Config } from '../config/schema.js';
import { logger } from '../observability/logger.js';
import { mirrorRetainedWalBytes, mirrorSlotInvalidations } from '../observability/metrics.js';
import { controlClient } from './pgconn.js';

export interface SlotRetention {
  activePid: number | null;
  /** bytes of WAL kept for the slot (null when the slot has no restart_lsn) */
  retained: number | null;
  /** pg_replication_slots.wal_status (PostgreSQL 13+): reserved, extended, unreserved, lost */
  walStatus: string | null;
  /** bytes that can still be written before the slot is in danger of being lost (null: no limit) */
  safeWalSize: number | null;
  /** confirmed_flush_lsn as a number (progress between two checks), null when unknown */
  confirmed: bigint | null;
}

export type RetentionVerdict =
  | { action: 'keep' }
  | { action: 'warn'; message: string }
  | { action: 'give-up'; reason: 'ceiling' | 'lost'; message: string };

/**
 * What to do with the slot, given its state and the ceiling (0: none). Pure. `progressing`: the mirror
 * confirmed a newer position since the previous check: a mirror catching up a backlog (after a bulk load)
 * is then only warned about up to twice the ceiling, since copying every table again would not be
 * cheaper than finishing; a stuck one (no progress) or one falling further behind is given up.
 */
export function retentionVerdict(slot: string, r: SlotRetention, ceiling: number, progressing = false): RetentionVerdict {
  if (r.walStatus === 'lost')
    return {
      action: 'give-up',
      reason: 'lost',
      message: `replication slot ${slot} was invalidated by PostgreSQL (wal_status = lost: it retained more than max_slot_wal_keep_size); dropping it and copying the tables again`,
    };
  if (ceiling > 0 && r.retained !== null && r.retained > ceiling && progressing && r.retained <= 2 * ceiling)
    return {
      action: 'warn',
      message: `replication slot ${slot} retains ${r.retained} bytes of WAL, more than mirror.maxRetainedWalBytes (${ceiling}), while the mirror catches up; it is given up if it stops progressing or passes twice the ceiling`,
    };
  if (ceiling > 0 && r.retained !== null && r.retained > ceiling)
    return {
      action: 'give-up',
      reason: 'ceiling',
      message: `replication slot ${slot} retains ${r.retained} bytes of WAL, more than mirror.maxRetainedWalBytes (${ceiling}); giving it up (dropped) so the server's disk stays safe, the tables are copied again`,
    };
  if (r.walStatus === 'unreserved')
    return {
      action: 'warn',
      message: `replication slot ${slot} retains more WAL than max_wal_size (wal_status = unreserved; ${r.safeWalSize ?? '?'} bytes left before PostgreSQL invalidates it by max_slot_wal_keep_size)`,
    };
  return { action: 'keep' };
}

export async function readSlotRetention(c: pg.Client, slot: string): Promise<SlotRetention | null> {
  const r = (
    await c.query<{ active_pid: number | null; retained: string | null; wal_status: string | null; safe_wal_size: string | null; confirmed: string | null }>(
      `SELECT active_pid, (pg_current_wal_lsn() - restart_lsn)::int8::text AS retained, wal_status::text, safe_wal_size::text,
              (confirmed_flush_lsn - '0/0'::pg_lsn)::text AS confirmed
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    )
  ).rows[0];
  if (!r) return null;
  return {
    activePid: r.active_pid,
    retained: r.retained === null ? null : Number(r.retained),
    walStatus: r.wal_status,
    safeWalSize: r.safe_wal_size === null ? null : Number(r.safe_wal_size),
    confirmed: r.confirmed === null ? null : BigInt(r.confirmed.split('.')[0]!),
  };
}

/** Ends the walsender holding the slot (ours or another duckgate's) and drops the slot. */
export async function giveUpSlot(c: pg.Client, slot: string): Promise<void> {
  for (let i = 0; ; i++) {
    await c.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [slot]);
    try {
      await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return;
    } catch (e) {
      // 55006: the slot is active again (a walsender that had not yet exited, or a reconnect won the race)
      if ((e as { code?: string }).code !== '55006' || i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Checks the slot once on its own short connection (so it works while the mirror's connections are busy
 * or gone) and gives it up when the verdict says so. Returns the verdict; never throws (a failed check
 * is logged and retried at the next one).
 */
export async function enforceRetention(
  upstreamUrl: string,
  cfg: Pick<Config['mirror'], 'slotName' | 'maxRetainedWalBytes'>,
  /** the periodic check's memory of the confirmed position (absent at start: the mirror was not running) */
  progress?: { confirmed: bigint | null },
): Promise<RetentionVerdict> {
  const c = controlClient(upstreamUrl, 'duckgate-mirror-retention');
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (e) {
    // the server is not reachable: the mirror's own retry says so; nothing to check now
    logger.debug({ err: e, slot: cfg.slotName }, 'mirror: WAL retention not checked (no connection)');
    await c.end().catch(() => undefined);
    return { action: 'keep' };
  }
  try {
    const r = await readSlotRetention(c, cfg.slotName);
    if (!r) return { action: 'keep' };
    if (r.retained !== null) mirrorRetainedWalBytes.set(r.retained);
    const progressing = progress !== undefined && progress.confirmed !== null && r.confirmed !== null && r.confirmed > progress.confirmed;
    if (progress) progress.confirmed = r.confirmed;
    const v = retentionVerdict(cfg.slotName, r, cfg.maxRetainedWalBytes, progressing);
    if (v.action === 'warn') logger.warn({ slot: cfg.slotName, retained: r.retained, safeWalSize: r.safeWalSize }, `mirror: ${v.message}`);
    if (v.action === 'give-up') {
      logger.error({ slot: cfg.slotName, retained: r.retained, walStatus: r.walStatus, ceiling: cfg.maxRetainedWalBytes }, `mirror: ${v.message}`);
      await giveUpSlot(c, cfg.slotName);
      mirrorSlotInvalidations.inc({ reason: v.reason });
      mirrorRetainedWalBytes.set(0);
    }
    return v;
  } catch (e) {
    logger.warn({ err: e, slot: cfg.slotName }, 'mirror: could not check the WAL retained for the slot; checking again later');
    return { action: 'keep' };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The periodic check while the mirror streams (unref'd; one check at a time). */
export function retentionTimer(upstreamUrl: string, cfg: Config['mirror']): NodeJS.Timeout {
  let busy = false;
  const progress = { confirmed: null as bigint | null };
  const t = setInterval(() => {
    if (busy) return;
    busy = true;
    void enforceRetention(upstreamUrl, cfg, progress).finally(() => {
      busy = false;
    });
  }, Math.max(100, cfg.walCheckMs));
  t.unref();
  return t;
}
