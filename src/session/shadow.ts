// Shadow execution: the safety net for answers no test foresaw. A sample of the statements DuckDB
// answered (analytics.shadowSampleRate) runs once more on PostgreSQL, off the client's path (after its
// answer went out, on duckgate's own connection, one at a time: a sample taken while one runs is
// dropped). Both answers are compared as multisets of text rows (floats to 12 significant digits: an
// aggregate's summation order moves the last bits). They are comparable only if they read the same
// committed state: the mirror's history of applied batches must show no change to a table the
// statement reads between the position DuckDB read at and the Postgres snapshot's; otherwise the
// sample counts as inconclusive. A difference is counted and logged (the statement's shape and tables,
// never a value) and the shape goes to Postgres from then on (until restart).
import type { Logger } from '../observability/logger.js';
import * as metrics from '../observability/metrics.js';
import type { ShadowRunner, ShadowSettings } from '../engines/postgres/shadow-run.js';
import { parseLsn } from '../mirror/lsn.js';

export interface ShadowHistory {
  /** whether a batch applied in (from, to] touched one of `tables` ('schema.name'); null when the
   *  history kept does not reach back to `from` */
  changedBetween(tables: readonly string[], from: string, to: string): boolean | null;
  appliedLsn(): string | null;
  waitForLsn(lsn: string, timeoutMs: number): Promise<boolean>;
}

export interface ShadowSample {
  fingerprint: string;
  sql: string;
  params: Array<string | null>;
  tables: readonly string[];
  settings: ShadowSettings;
  /** column type OIDs, to compare floats within their last bits */
  typeOids: readonly number[];
  /** the mirror's applied position just before DuckDB ran, and just after its first rows */
  lsnFrom: string;
  lsnTo: string;
  /** DuckDB's rows, text values as the client got them */
  rows: Array<Array<string | null>>;
}

export type ShadowOutcome = 'same' | 'different' | 'inconclusive' | 'error';

export class Shadow {
  private readonly differing = new Set<string>();
  private busy = false;

  constructor(
    private readonly opts: { sampleRate: number; maxRows: number; runner: ShadowRunner; history: ShadowHistory; log: Logger; random?: () => number },
  ) {}

  get maxRows(): number {
    return this.opts.maxRows;
  }

  /** A shape whose DuckDB answer differed from Postgres's: it goes to Postgres. */
  differs(fingerprint: string): boolean {
    return this.differing.has(fingerprint);
  }

  /** Whether to keep this statement's rows for a comparison (decided before it runs). */
  wants(): boolean {
    return !this.busy && this.opts.sampleRate > 0 && (this.opts.random ?? Math.random)() < this.opts.sampleRate;
  }

  /** Compares a sample in the background; the returned promise is for tests and never rejects. */
  submit(s: ShadowSample): Promise<ShadowOutcome> {
    if (this.busy) return Promise.resolve('inconclusive');
    this.busy = true;
    return this.compare(s)
      .catch((e: unknown): ShadowOutcome => {
        this.opts.log.debug({ fingerprint: s.fingerprint, errorClass: (e as Error)?.name }, 'shadow: Postgres run failed');
        return 'error';
      })
      .then((outcome) => {
        metrics.shadowTotal.inc({ outcome });
        return outcome;
      })
      .finally(() => {
        this.busy = false;
      });
  }

  private async compare(s: ShadowSample): Promise<ShadowOutcome> {
    const pg = await this.opts.runner.run(s.sql, s.params, s.settings);
    // the mirror must have seen every change up to the snapshot to tell whether one touched the tables
    const lo = minLsn(s.lsnFrom, pg.lsnBefore);
    const hi = maxLsn(s.lsnTo, pg.lsnInside);
    if (!(await this.opts.history.waitForLsn(hi, 5_000))) return 'inconclusive';
    const changed = this.opts.history.changedBetween(s.tables, lo, hi);
    if (changed !== false) return 'inconclusive';
    if (sameRows(s.rows, pg.rows, s.typeOids)) return 'same';
    this.differing.add(s.fingerprint);
    this.opts.log.warn(
      { fingerprint: s.fingerprint, tables: s.tables, duckdbRows: s.rows.length, postgresRows: pg.rows.length },
      'shadow: the DuckDB answer differs from PostgreSQL\'s; this statement shape goes to PostgreSQL from now on',
    );
    return 'different';
  }
}

const FLOAT_OIDS = new Set([700, 701]);

/** Rows as multisets; float columns compared to 12 significant digits. */
export function sameRows(a: ReadonlyArray<ReadonlyArray<string | null>>, b: ReadonlyArray<ReadonlyArray<string | null>>, typeOids: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const key = (r: ReadonlyArray<string | null>): string =>
    JSON.stringify(r.map((v, i) => (v !== null && FLOAT_OIDS.has(typeOids[i] ?? 0) && Number.isFinite(Number(v)) ? Number(v).toPrecision(12) : v)));
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.every((k, i) => k === kb[i]);
}

function minLsn(x: string, y: string): string {
  return parseLsn(x) <= parseLsn(y) ? x : y;
}

function maxLsn(x: string, y: string): string {
  return parseLsn(x) >= parseLsn(y) ? x : y;
}
