// What the mirror loads from the lake must be what it wrote. A Parquet file damaged on disk (flipped
// bytes in a data page, a truncated file) used to be loaded as it was: DuckDB decoded whatever the
// damaged pages held and the serving table gave a wrong count and sum, silently. DuckDB's Parquet writer
// stores no page checksums (the optional crc of PageHeader in parquet.thrift is not written), so the
// lake records its own: for every file the manifest names, its size, a SHA-256 of its bytes and (where
// known when it was written) its row count. At start each file is checked against them (and its footer's
// row count against the manifest's) before a table is loaded; a table with a file that fails is not
// served and is re-snapshotted, and the log says which file and why.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './types.js';

export interface FileFacts {
  bytes: number;
  sha256: string;
  /** rows in the file when it was written (from its footer right after writing, or the staged events) */
  rows?: number;
}

/** Rows of files just written, by absolute path, until the next manifest write records them. */
const notedRows = new Map<string, number>();

export function noteRows(absPath: string, rows: number): void {
  notedRows.set(absPath, rows);
}

/** SHA-256 of a file, synchronously (files just written: in the page cache, ~1.7 GB/s). */
export function sha256FileSync(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/**
 * Makes `files` hold facts for exactly the referenced files: new ones are measured (they were just
 * written and fsync'd), facts of files no longer referenced are dropped.
 */
export function recordFacts(lakeDir: string, files: Record<string, FileFacts> | undefined, referenced: Iterable<string>, deltaRows: Map<string, number>): Record<string, FileFacts> {
  const out: Record<string, FileFacts> = {};
  for (const f of referenced) {
    const had = files?.[f];
    if (had) {
      out[f] = had;
      continue;
    }
    const abs = join(lakeDir, f);
    if (!existsSync(abs)) continue;
    const rows = deltaRows.get(f) ?? notedRows.get(abs);
    notedRows.delete(abs);
    out[f] = { bytes: statSync(abs).size, sha256: sha256FileSync(abs), ...(rows === undefined ? {} : { rows }) };
  }
  return out;
}

/**
 * Checks a table's files before it is loaded: present, same size and SHA-256 as recorded, a readable
 * footer whose row count matches the manifest. Returns why it fails, or null when every file passes.
 */
export async function checkTableFiles(
  duck: DuckDBConnection,
  lakeDir: string,
  t: { base: string[]; deltas: Array<{ file: string; rows: number }> },
  facts: Record<string, FileFacts> | undefined,
): Promise<string | null> {
  const expectRows = new Map<string, number | undefined>();
  for (const f of t.base) expectRows.set(f, facts?.[f]?.rows);
  for (const d of t.deltas) expectRows.set(d.file, d.rows);
  for (const f of expectRows.keys()) {
    const abs = join(lakeDir, f);
    if (!existsSync(abs)) return `${f}: missing`;
    const want = facts?.[f];
    if (!want) continue;
    const size = statSync(abs).size;
    if (size !== want.bytes) return `${f}: ${size} bytes, ${want.bytes} written`;
    if ((await sha256File(abs)) !== want.sha256) return `${f}: content differs from what was written (SHA-256 mismatch)`;
  }
  if (expectRows.size === 0) return null;
  let rows: Map<string, number>;
  try {
    const list = [...expectRows.keys()].map((f) => sqlString(join(lakeDir, f))).join(', ');
    const r = (await duck.runAndReadAll(`SELECT file_name, num_rows::BIGINT AS n FROM parquet_file_metadata([${list}])`)).getRowObjectsJS();
    rows = new Map(r.map((x) => [String(x.file_name), Number(x.n)]));
  } catch (e) {
    return `unreadable Parquet: ${(e as Error).message.split('\n')[0]}`;
  }
  for (const [f, want] of expectRows) {
    const got = rows.get(join(lakeDir, f));
    if (got === undefined) return `${f}: no footer`;
    if (want !== undefined && got !== want) return `${f}: ${got} rows, ${want} written`;
  }
  return null;
}
