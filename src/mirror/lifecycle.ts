// Table lifecycle: the one state each mirrored table is in, the events that move it, and how a table
// that failed is retried. Everything else the Mirror keeps per table (definition, valid-from LSN,
// serving copy) hangs off this.
//
//                       copy started                  copied (at LSN V)
//   (discovered) ───────────────────▶ snapshotting ─────────────────────▶ ready*
//                                          │                               │  ▲
//                                   failed │         definition changed,   │  │ copied (at LSN V)
//                                          ▼         renamed, retry due    ▼  │
//                                        error ◀────── failed ────────── resyncing
//                                          │                               ▲
//                                          └──────── retry due ────────────┘
//   ready ── a change could not be applied / lost its replica identity ──▶ error
//   any state ── dropped, excluded, no key any more, not publishable ──▶ (removed: no entry)
//
//   * 'ready' is served only once the mirror has applied up to V (before that tables() says 'resyncing').
//
// A table in 'error' is never served (statements go to PostgreSQL); it is retried after a capped,
// jittered backoff that grows with each consecutive failure and is reset by a successful copy. One
// table's failure never stops the mirror or its other tables.
import { backoffMs, type BackoffPolicy } from './backoff.js';
import type { TableDef } from './catalog.js';
import type { Lsn } from './lsn.js';

export type TableState = 'snapshotting' | 'ready' | 'resyncing' | 'error';

export type TableEvent = 'copy' | 'copied' | 'failed' | 'resync';

const TRANSITIONS: Record<TableState, Partial<Record<TableEvent, TableState>>> = {
  snapshotting: { copied: 'ready', failed: 'error', copy: 'snapshotting', resync: 'snapshotting' },
  ready: { resync: 'resyncing', copy: 'resyncing', failed: 'error' },
  resyncing: { copied: 'ready', failed: 'error', resync: 'resyncing', copy: 'resyncing' },
  error: { resync: 'resyncing', copy: 'resyncing', failed: 'error', copied: 'ready' },
};

/** The state after `event`; an event a state does not expect leaves it unchanged (and says so in tests). */
export function nextState(from: TableState, event: TableEvent): TableState {
  return TRANSITIONS[from][event] ?? from;
}

export function allowed(from: TableState, event: TableEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}

/** The lifecycle part of a table's runtime record. */
export interface TableLife {
  state: TableState;
  /** why the table is not served, when it is in 'error' (cleared by a successful copy) */
  lastError?: string | null;
  /** consecutive failures (copy or apply), for the retry backoff */
  failures?: number;
  /** epoch ms when an 'error' table is retried next (null/absent: not scheduled) */
  retryAt?: number | null;
}

export function newLife(state: TableState = 'snapshotting'): TableLife {
  return { state, lastError: null, failures: 0, retryAt: null };
}

export function onEvent(life: TableLife, event: TableEvent): void {
  life.state = nextState(life.state, event);
}

/** A copy or an apply failed: 'error', retried after the backoff for this many failures. */
export function onFailed(life: TableLife, message: string, policy: BackoffPolicy, now = Date.now()): number {
  life.state = nextState(life.state, 'failed');
  life.lastError = message;
  const delay = backoffMs(policy, life.failures ?? 0);
  life.failures = (life.failures ?? 0) + 1;
  life.retryAt = now + delay;
  return delay;
}

/** The copy succeeded: the failure count and the error are forgotten. */
export function onCopied(life: TableLife): void {
  life.state = nextState(life.state, 'copied');
  life.failures = 0;
  life.retryAt = null;
  life.lastError = null;
}

export function retryDue(life: TableLife, now = Date.now()): boolean {
  return life.state === 'error' && life.retryAt != null && now >= life.retryAt;
}

/**
 * Warnings that would repeat at every catalog poll (a table without a primary key is "not mirrored"
 * every 10 s) are logged once per table and per change of the reason.
 */
export class OnceNotices {
  private readonly last = new Map<string, string>();
  /** Returns true when `reason` is new for `key` (the caller logs it then). */
  note(key: string, reason: string): boolean {
    if (this.last.get(key) === reason) return false;
    this.last.set(key, reason);
    return true;
  }
  /** The condition is gone (the table is mirrored again): a later recurrence is logged again. */
  clear(key: string): void {
    this.last.delete(key);
  }
  /** Keeps only the given keys (tables that no longer exist are forgotten). */
  retain(keys: Set<string>): void {
    for (const k of [...this.last.keys()]) if (!keys.has(k)) this.last.delete(k);
  }
  entries(): Array<[string, string]> {
    return [...this.last];
  }
}

/**
 * A mirrored table's runtime record, shared by the mirror (status, tables()), the apply loop (which
 * changes it accepts, lastAppliedAt, resyncing -> ready once the stream passed validFrom) and the
 * destination (a table whose changes fail goes to 'error').
 */
export interface TableRuntime extends TableLife {
  def: TableDef;
  /** changes committed before this position are in the table's copy already */
  validFrom: Lsn;
  lastAppliedAt: number | null;
  /** its serving table exists in the destination */
  served: boolean;
}

/**
 * The mirrored tables by key ('schema.table'), with the key of each relation id the stream names them
 * by. One registry per mirror, shared by the mirror, the apply loop and the destination.
 */
export class TableRegistry extends Map<string, TableRuntime> {
  readonly byRelid = new Map<number, string>();

  /** Forgets every table and relation id. */
  override clear(): void {
    super.clear();
    this.byRelid.clear();
  }
}
