// Refusals remembered per statement shape. When the DuckDB rewrite refuses a statement for what it is
// (a construct or a column type it does not translate), every later execution of the same shape would
// pay the control round trip on Postgres only to be refused again and relayed. The session records the
// refusal here; route() (index.ts) consults it after its decision cache, so the next execution of that
// shape goes straight to Postgres (reason 'unsupported_syntax', the remembered reason as detail).
//
// Bounded (an LRU of MAX_SHAPES) and expiring (TTL_MS): a refusal can stop holding (a mirror whose
// column types changed, a newer duckgate), and a client sending ever new shapes must not grow it. Only
// refusals by shape are recorded (the session checks DuckdbEngineError.byShape): one that depended on a
// literal's value (a to_char format, a regex pattern) or on the session's settings is not, since the
// fingerprint folds literals and does not know the session.
import { LRUCache } from 'lru-cache';

export const MAX_SHAPES = 10_000;
export const TTL_MS = 10 * 60_000;

export class RefusalMemory {
  private readonly shapes: LRUCache<string, string>;

  constructor(opts: { max?: number; ttlMs?: number } = {}) {
    this.shapes = new LRUCache({ max: opts.max ?? MAX_SHAPES, ttl: opts.ttlMs ?? TTL_MS });
  }

  /** Records that DuckDB cannot run statements of this shape, and why. */
  remember(fingerprint: string, reason: string): void {
    this.shapes.set(fingerprint, reason);
  }

  /** Why statements of this shape were refused, or undefined. */
  lookup(fingerprint: string): string | undefined {
    return this.shapes.get(fingerprint);
  }

  forget(fingerprint: string): void {
    this.shapes.delete(fingerprint);
  }

  get size(): number {
    return this.shapes.size;
  }
}

/** The process's memory: refusals hold for every session (the translation does not depend on the session). */
export const refusals = new RefusalMemory();
