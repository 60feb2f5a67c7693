// Where the apply loop (apply.ts) puts the change stream: the loop knows transactions, batches and
// positions; a Destination knows how changes are stored. Two levels of "done", after supabase etl's
// Accepted/Durable split:
//
//   accepted  applyBatch() resolved: the batch's changes are visible to readers (all of them or none),
//             but a crash may still lose them (they are replayed from the slot then);
//   durable   makeDurable() resolved with an LSN: every change committed before it survives a crash.
//
// The loop tells the replication slot (confirmed_flush_lsn, which lets PostgreSQL recycle WAL) only
// positions a makeDurable() returned, never an accepted-only one: a crash then never loses a change the
// slot will not send again.
//
// Row changes reach the destination one by one as they arrive (stage()), not inside the batch object:
// a single transaction may hold millions of rows, which the DuckDB destination spills to files instead
// of holding them in memory (stage.ts). A batch is therefore "everything staged since the last
// applyBatch()", and the loop only calls applyBatch() between transactions, so a batch is always whole
// transactions.
import type { Lsn } from './lsn.js';
import type { TupleValue } from './pgoutput.js';

/** One row change as pgoutput delivered it (values as Postgres text, see pgoutput.ts). */
export type RowChange =
  | { op: 'insert'; tuple: TupleValue[] }
  /** old: the old key (or whole old row) when pgoutput sent one (a key change, REPLICA IDENTITY FULL) */
  | { op: 'update'; tuple: TupleValue[]; old: TupleValue[] | null }
  | { op: 'delete'; old: TupleValue[] }
  | { op: 'truncate' };

export interface Commit {
  /** the position just past the transaction's commit record */
  endLsn: Lsn;
  /** microseconds since 2000-01-01 (PostgreSQL's epoch) */
  commitTime: bigint;
}

/** Whole committed transactions, in commit order; their changes were stage()d before. */
export interface Batch {
  commits: Commit[];
  /** the last commit's endLsn: the position readers are current up to once the batch is accepted */
  endLsn: Lsn;
  /** tables whose staged changes are void (they are copied again): not applied */
  exclude: ReadonlySet<string>;
}

/** What applyBatch() made visible. */
export interface Accepted {
  /** the tables the batch changed, with their row counts */
  tables: Array<{ table: string; rows: number }>;
  /** rows accepted but not durable yet, over all batches (the loop makes them durable beyond a bound) */
  undurableRows: number;
}

export interface Destination {
  /** A change of the transaction being received, committing at commitLsn. */
  stage(table: string, commitLsn: Lsn, change: RowChange): void;
  /** Forgets the staged (not yet applied) changes of one table, or of all. */
  discard(table?: string): void;
  /** Makes the staged changes visible, all of the batch or none of it per reader: accepted. */
  applyBatch(batch: Batch): Promise<Accepted>;
  /**
   * Makes everything accepted durable and records `upTo` (>= the last accepted endLsn) as the durable
   * position; resolves the durable LSN. A failure changes nothing durable (the slot keeps its position).
   */
  makeDurable(upTo: Lsn): Promise<Lsn>;
  /** The position everything is durable up to. */
  durableLsn(): Lsn;
}
