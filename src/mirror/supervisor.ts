// The mirror as a whole: one phase, the problem that keeps it from streaming, and the retry schedule.
// The mirror never stops for good on an ordinary event; it retries with capped, jittered backoff.
//
//   starting ──streams──▶ streaming ──connection lost / stream ended / apply failed──▶ retrying
//      │                                                                                │  ▲
//      └──────────────── failed (precondition, slot or lake busy, connection) ──────────┘  │
//   retrying ──backoff (capped exponential, jittered) elapsed──▶ starting ──────────────────┘
//   any ──stop()──▶ stopped          (mirror.enabled = false: disabled, for good)
//
// A session that streamed for 10 s was a success: the next failure starts the backoff over (measured
// with a 60 s threshold: a connection killed every few seconds, as node-postgres's pool tests do to idle
// sessions, pushed the reconnect delay to the 30 s cap after 8 kills). The
// same problem at every attempt (wal_level not yet logical, a slot held elsewhere) is logged in full
// once, then as a short line per attempt.
import { logger } from '../observability/logger.js';
import { mirrorRetries, mirrorUp } from '../observability/metrics.js';
import { backoffMs, type BackoffPolicy } from './backoff.js';

export type MirrorPhase = 'disabled' | 'starting' | 'streaming' | 'retrying' | 'stopped';

/** How long a session must stream before its failure counts as a fresh start of the backoff. */
const HEALTHY_MS = 10_000;

export class Supervisor {
  phase: MirrorPhase = 'stopped';
  /** why the mirror is not streaming, when it is not */
  problem: string | null = null;
  /** consecutive failed attempts */
  attempts = 0;
  /** when the next attempt runs (epoch ms), while retrying */
  nextRetryAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private streamingSince = 0;
  /** the problem last logged in full */
  private logged: string | null = null;

  constructor(
    private readonly policy: BackoffPolicy,
    /** told of every change of phase */
    private readonly onPhase: (phase: MirrorPhase, problem: string | null) => void,
  ) {}

  private set(p: MirrorPhase): void {
    if (this.phase === p) return;
    this.phase = p;
    mirrorUp.set(p === 'streaming' ? 1 : 0);
    this.onPhase(p, this.problem);
  }

  disabled(): void {
    this.set('disabled');
  }

  starting(): void {
    this.timer = null;
    this.nextRetryAt = null;
    this.set('starting');
  }

  streaming(): void {
    this.streamingSince = Date.now();
    if (this.problem) logger.info({ after: this.problem }, 'mirror: running again');
    this.problem = null;
    this.logged = null;
    this.set('streaming');
  }

  /** The running session failed: nothing is served from now on; the retry is scheduled once torn down. */
  failing(e: Error): void {
    this.problem = e.message || String(e);
    this.set('retrying');
  }

  /** Schedules `run` after the backoff for this failure, and says so. */
  retry(e: Error, what: string, run: () => void, quiet = false): void {
    if (this.streamingSince && Date.now() - this.streamingSince > HEALTHY_MS) this.attempts = 0;
    this.streamingSince = 0;
    const delay = backoffMs(this.policy, this.attempts++);
    mirrorRetries.inc();
    const message = e.message || String(e);
    const repeat = this.logged === message;
    this.problem = message;
    this.logged = message;
    this.nextRetryAt = Date.now() + delay;
    this.set('retrying');
    const line = `mirror ${what}: ${message}; retrying in ${(delay / 1000).toFixed(1)} s (duckgate keeps proxying: reads go to PostgreSQL meanwhile)`;
    if (repeat) logger.info({ attempt: this.attempts, problem: message }, `mirror: still retrying (attempt ${this.attempts})`);
    else if (quiet) logger.warn({ attempt: this.attempts }, line);
    else logger.error({ err: e, attempt: this.attempts }, line);
    this.timer = setTimeout(run, delay);
  }

  /** No further attempt (the phase stays until stopped()). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextRetryAt = null;
  }

  stopped(): void {
    this.cancel();
    if (this.phase !== 'disabled') this.set('stopped');
  }

  /** Null when the mirror is streaming (or disabled, or taking its first snapshot), else why it is not. */
  notReadyReason(enabled: boolean): string | null {
    // an attempt after a failure is not ready either (/readyz does not flap at every attempt)
    if (this.phase === 'starting' && this.problem !== null) return `mirror not running: ${this.problem}; reconnecting now (reads go to PostgreSQL meanwhile)`;
    if (this.phase === 'retrying') {
      const wait = this.nextRetryAt === null ? '' : `; next attempt in ${Math.max(0, Math.round((this.nextRetryAt - Date.now()) / 1000))} s`;
      return `mirror not running: ${this.problem ?? 'reconnecting'}${wait} (reads go to PostgreSQL meanwhile)`;
    }
    if (this.phase === 'stopped' && enabled && this.problem) return `mirror stopped: ${this.problem}`;
    return null;
  }
}

/** Thrown by a step of a start (or of a copy under way) when stop() was called meanwhile. */
export class StoppedError extends Error {
  constructor() {
    super('mirror stopped');
  }
}
