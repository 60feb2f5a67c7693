// Per-table staging of one micro-batch of change events as CSV text (all columns as Postgres text), kept
// in memory up to a limit and spilled to a file beyond it, so a 1M-row transaction does not sit in memory.
// Row layout: _op, _lsn, _seq, _u (',i,j,' = columns whose TOASTed value was not resent), c0…cn, ok0…okk
// (the old key of a primary-key-changing update, used to find unchanged TOAST values).
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const SPILL_BYTES = 8 << 20;

export function csvField(v: string | null): string {
  if (v === null) return '';
  return `"${v.replaceAll('"', '""')}"`;
}

export class TableStage {
  private parts: string[] = [];
  private bytes = 0;
  private fd = -1;
  rows = 0;
  hasUnchanged = false;
  /** the table was truncated in this batch (after the events discarded so far) */
  truncated = false;
  /** column indexes with an unchanged TOAST value in some event */
  readonly unchangedCols = new Set<number>();

  constructor(readonly path: string) {}

  add(line: string): void {
    this.parts.push(line);
    this.bytes += line.length;
    this.rows++;
    if (this.bytes >= SPILL_BYTES) this.spill();
  }

  private spill(): void {
    if (this.fd < 0) this.fd = openSync(this.path, 'w');
    writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
  }

  /** TRUNCATE: everything staged so far for this table is void. */
  truncate(): void {
    this.discard();
    this.truncated = true;
  }

  /** Writes what remains and returns the CSV file, or null when no event is staged. */
  finish(): string | null {
    if (this.rows === 0) {
      this.discard();
      return null;
    }
    this.spill();
    closeSync(this.fd);
    this.fd = -1;
    return this.path;
  }

  discard(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.path, { force: true });
    this.parts = [];
    this.bytes = 0;
    this.rows = 0;
    this.hasUnchanged = false;
    this.unchangedCols.clear();
  }
}

export function stagePath(tmpDir: string, tableIndex: number, batchNo: number): string {
  return join(tmpDir, `ev_${batchNo}_${tableIndex}.csv`);
}
