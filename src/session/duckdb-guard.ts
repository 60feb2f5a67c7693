// Cross-cutting protection around the DuckDB engine, applied from outside it: an opossum circuit
// breaker (while open, every statement goes to Postgres) and a memory of statement shapes that failed
// on DuckDB (they go to Postgres until the entry expires).
import CircuitBreaker from 'opossum';
import { LRUCache } from 'lru-cache';
import type { DuckdbCursor, DuckdbEngine, ExecuteRequest, Resolver, SessionOptions } from '../engines/duckdb/engine.js';
import { DuckdbEngineError } from '../engines/duckdb/engine.js';
import type { Logger } from '../observability/logger.js';
import { duckdbBreakerOpen, duckdbFallbacks } from '../observability/metrics.js';

export interface GuardOptions {
  errorPercent: number;
  resetMs: number;
  failedTtlMs: number;
  log: Logger;
}

/**
 * Only the engine's own failures count against DuckDB (breaker, failed-shape memory): a DuckDB error
 * ('failed') or DuckDB taking longer than duckdb.statementTimeoutMs of its own time ('timeout').
 * Everything else says nothing of DuckDB's health and must not let one client take DuckDB away from the
 * others: refusals (untranslatable SQL), 'busy', a client's values DuckDB would not convert ('input':
 * Postgres answers), a cancel, the session's own statement_timeout, and anything that is not an engine
 * error at all (the client went away or stalled while rows were written).
 */
export function countsAsFailure(e: unknown): boolean {
  return e instanceof DuckdbEngineError && (e.kind === 'failed' || e.kind === 'timeout');
}

/** What a log line may say of an error: its class and kind, never its message (it may quote values). */
export function loggableError(e: unknown): { errorClass: string; kind?: string } {
  if (e instanceof DuckdbEngineError) return { errorClass: e.errorClass, kind: e.kind };
  return { errorClass: (e as Error)?.name ?? typeof e };
}

export class DuckdbGuard {
  private readonly breaker: CircuitBreaker<[ExecuteRequest], DuckdbCursor>;
  private readonly failed: LRUCache<string, true>;

  constructor(
    private readonly engine: DuckdbEngine,
    private readonly opts: GuardOptions,
  ) {
    this.breaker = new CircuitBreaker((req: ExecuteRequest) => engine.open(req), {
      timeout: false,
      errorThresholdPercentage: opts.errorPercent,
      resetTimeout: opts.resetMs,
      volumeThreshold: 5,
      errorFilter: (e: unknown) => !countsAsFailure(e),
    });
    this.breaker.on('open', () => {
      duckdbBreakerOpen.set(1);
      opts.log.warn('DuckDB breaker open: statements go to Postgres');
    });
    this.breaker.on('close', () => {
      duckdbBreakerOpen.set(0);
      opts.log.info('DuckDB breaker closed');
    });
    this.failed = new LRUCache({ max: 10_000, ttl: opts.failedTtlMs });
  }

  open(req: ExecuteRequest): Promise<DuckdbCursor> {
    return this.breaker.fire(req).catch((e: unknown) => {
      // The breaker opened between the caller's check and this statement (opossum rejects with
      // EOPENBREAKER): not a failure of this statement; it goes to Postgres like any while open.
      if ((e as { code?: string })?.code === 'EOPENBREAKER') throw new DuckdbEngineError('busy', 'DuckDB breaker open');
      throw e;
    });
  }

  /** The translation alone (no DuckDB call): for explain. */
  plan(sql: string, resolve: Resolver, fieldTypeOids: readonly number[], paramTypeOids: readonly number[], session?: SessionOptions): { ok: true } | { ok: false; reason: string } {
    return this.engine.plan(sql, resolve, fieldTypeOids, paramTypeOids, session);
  }

  get isOpen(): boolean {
    return this.breaker.opened;
  }

  reportFailure(fingerprint: string, e: unknown): void {
    if (!countsAsFailure(e)) return;
    duckdbFallbacks.inc();
    this.failed.set(fingerprint, true);
    this.opts.log.warn({ fingerprint, ...loggableError(e) }, 'DuckDB failed; this statement shape goes to Postgres for a while');
  }

  recentlyFailed(fingerprint: string): boolean {
    return this.failed.has(fingerprint);
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}
