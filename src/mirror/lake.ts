// The lake on disk and the SQL that reads it.
//
// Layout under <dataDir>/lake/:
//   _manifest.json                 the durable record: applied LSN, and per table its columns, key, the
//                                  base files and the delta files that make up its state. Written by
//                                  write-temp + fsync + rename + fsync(dir), so it is always whole. A file
//                                  not named by the manifest is not part of the lake (it is an orphan of a
//                                  crash and is deleted at start).
//   <schema>/<table>/…parquet      base files (ZSTD Parquet), hive-partitioned by the table's rule
//                                  (<col>=<v>/ or <col>_month=2024-03/): readable by Spark/Trino/pandas.
//   <schema>/<table>/_delta/*.parquet  changes since the last compaction: the row's columns plus
//                                  _dg_op ('I' upsert | 'D' delete), _dg_lsn (commit LSN), _dg_seq (order).
//                                  Tools that follow the Hive convention skip '_'-prefixed folders.
//
// Merge-on-read: a table's state at LSN X is, per key, the latest event (base rows count as events before
// all deltas) among deltas with _dg_lsn < X, kept when it is an upsert.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { ColumnDef, TableDef } from './catalog.js';
import type { PartitionKey } from './rules.js';
import { recordFacts, type FileFacts } from './integrity.js';
import { removeInLake } from './paths.js';
import { castExpr, pgIdent, servingExpr, sqlString } from './types.js';

/** A mirrored table as the manifest records it: its definition plus where its lake files stand. */
export interface ManifestTable extends TableDef {
  state: 'ready' | 'error';
  error?: string;
  /** LSN of the snapshot the base was taken at: changes committed before it are in the base */
  validFrom: string;
  base: string[];
  deltas: Array<{ file: string; rows: number }>;
}

export interface Manifest {
  version: 1;
  slot: string;
  database: string;
  systemId: string;
  /** every change committed before this LSN is in the lake */
  appliedLsn: string;
  generation: number;
  tables: Record<string, ManifestTable>;
  /** size, SHA-256 and rows of every file the tables name, checked before they are loaded (integrity.ts) */
  files?: Record<string, FileFacts>;
}

export const MANIFEST = '_manifest.json';

export function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readManifest(lakeDir: string): Manifest | null {
  const p = join(lakeDir, MANIFEST);
  if (!existsSync(p)) return null;
  return JSON.parse(readFileSync(p, 'utf8')) as Manifest;
}

/** Atomic and durable: after this returns the new manifest survives a crash, and no reader sees half of it. */
export function writeManifest(lakeDir: string, m: Manifest): void {
  mkdirSync(lakeDir, { recursive: true });
  const referenced: string[] = [];
  const deltaRows = new Map<string, number>();
  for (const t of Object.values(m.tables)) {
    referenced.push(...t.base);
    for (const d of t.deltas) {
      referenced.push(d.file);
      deltaRows.set(d.file, d.rows);
    }
  }
  m.files = recordFacts(lakeDir, m.files, referenced, deltaRows);
  const tmp = join(lakeDir, `${MANIFEST}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(m));
    fsyncSync(fd);
  } catch (e) {
    // a full disk: the old manifest stays whole; the partial new one would only take space
    closeSync(fd);
    removeInLake(lakeDir, tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, join(lakeDir, MANIFEST));
  fsyncPath(lakeDir);
}

export { tableDir } from './paths.js';

/** Every .parquet file under dir (recursive), as absolute paths. */
export function listParquet(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listParquet(p));
    else if (e.name.endsWith('.parquet')) out.push(p);
  }
  return out;
}

/** fsync each file and each folder that holds one. */
export function fsyncFiles(files: string[]): void {
  const dirs = new Set<string>();
  for (const f of files) {
    fsyncPath(f);
    dirs.add(dirname(f));
  }
  for (const d of dirs) fsyncPath(d);
}

/** Deletes parquet files and temp files that the manifest does not reference (crash leftovers). */
export function removeOrphans(lakeDir: string, m: Manifest | null): number {
  const keep = new Set<string>();
  for (const t of Object.values(m?.tables ?? {})) {
    for (const f of t.base) keep.add(f);
    for (const d of t.deltas) keep.add(d.file);
  }
  let n = 0;
  for (const f of listParquet(lakeDir)) {
    if (!keep.has(relative(lakeDir, f))) {
      removeInLake(lakeDir, f);
      n++;
    }
  }
  if (existsSync(join(lakeDir, '_tmp'))) removeInLake(lakeDir, join(lakeDir, '_tmp'), { recursive: true });
  return n;
}

/**
 * A write failed because the disk (or the user's quota) is full. The lake is then left exactly as the
 * manifest says and the write is retried later; nothing is marked broken (ENOSPC from Node, "No space
 * left on device" from DuckDB's file system).
 */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return /No space left on device|Disk quota exceeded|ENOSPC/i.test(e instanceof Error ? e.message : String(e));
}

/** Thrown when the lake cannot be written for lack of space: nothing was changed, try again later. */
export class LakeFullError extends Error {
  constructor(readonly lakeDir: string, cause: unknown) {
    super(`the lake ${lakeDir} cannot be written: no space left on device (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}); the mirror holds its position and retries`);
  }
}

export function lakeSizeBytes(lakeDir: string): number {
  return listParquet(lakeDir).reduce((s, f) => s + statSync(f).size, 0);
}

// ---- SQL -------------------------------------------------------------------------------------------

export function duckIdent(s: string): string {
  return pgIdent(s);
}

export function fileList(lakeDir: string, files: string[]): string {
  return `[${files.map((f) => sqlString(join(lakeDir, f))).join(', ')}]`;
}

/** The hive partition column the rule adds, and the expression computing it from a typed row. */
export function partitionColumn(p: PartitionKey): { name: string; expr: string } {
  const c = duckIdent(p.column);
  switch (p.kind) {
    case 'column':
      return { name: p.column, expr: c };
    case 'year':
      return { name: `${p.column}_year`, expr: `strftime(${c}, '%Y')` };
    case 'month':
      return { name: `${p.column}_month`, expr: `strftime(${c}, '%Y-%m')` };
    case 'day':
      return { name: `${p.column}_day`, expr: `strftime(${c}, '%Y-%m-%d')` };
  }
}

/** CSV reader over staged text: every column VARCHAR, NULL = unquoted empty, "" = empty string. */
export function readStagedCsv(file: string, names: string[]): string {
  const cols = names.map((n) => `${sqlString(n)}: 'VARCHAR'`).join(', ');
  return `read_csv(${sqlString(file)}, columns = {${cols}}, header = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, auto_detect = false, parallel = true)`;
}

/** SELECT list turning staged text columns (named c0…cn) into typed columns with the real names. */
export function typedSelect(cols: ColumnDef[], stagedPrefix = 'c'): string {
  return cols.map((c, i) => `${castExpr(c.mapping, `${stagedPrefix}${i}`, i)} AS ${duckIdent(c.name)}`).join(', ');
}

export function columnList(cols: Array<{ name: string }>): string {
  return cols.map((c) => duckIdent(c.name)).join(', ');
}

/** SELECT list turning lake columns into serving-table columns (same names). */
export function servingSelect(cols: ColumnDef[]): string {
  return cols.map((c) => `${servingExpr(c.mapping, duckIdent(c.name))} AS ${duckIdent(c.name)}`).join(', ');
}

export function createTableSql(ref: string, t: { columns: ColumnDef[] }): string {
  return `CREATE OR REPLACE TABLE ${ref} (${t.columns.map((c) => `${duckIdent(c.name)} ${c.duckType}`).join(', ')})`;
}

/**
 * The table's rows per the lake, at `beforeLsn` (only deltas with commit LSN < it) or at the newest state.
 * Returns null when the table has no files (empty).
 */
export function mergeOnReadSql(lakeDir: string, t: ManifestTable, beforeLsn: bigint | null): string | null {
  const cols = columnList(t.columns);
  if (t.deltas.length === 0) return t.base.length ? `SELECT ${cols} FROM read_parquet(${fileList(lakeDir, t.base)})` : null;
  const parts: string[] = [];
  if (t.base.length) parts.push(`SELECT ${cols}, 'I' AS _dg_op, 0::BIGINT AS _dg_lsn, -1::BIGINT AS _dg_seq FROM read_parquet(${fileList(lakeDir, t.base)})`);
  const where = beforeLsn === null ? '' : ` WHERE _dg_lsn < ${beforeLsn}`;
  parts.push(`SELECT ${cols}, _dg_op, _dg_lsn, _dg_seq FROM read_parquet(${fileList(lakeDir, t.deltas.map((d) => d.file))})${where}`);
  const key = t.key.map(duckIdent).join(', ');
  return `SELECT ${cols} FROM (${parts.join(' UNION ALL ')}) QUALIFY row_number() OVER (PARTITION BY ${key} ORDER BY _dg_lsn DESC, _dg_seq DESC) = 1 AND _dg_op = 'I'`;
}

/** Order-independent checksum of a relation (all columns), and its row count. */
export function checksumSql(rel: string, cols: Array<{ name: string }>): string {
  const args = cols.map((c) => duckIdent(c.name)).join(', ');
  return `SELECT count(*)::BIGINT AS n, COALESCE(sum(hash(${args})::HUGEINT), 0)::VARCHAR AS h FROM (${rel})`;
}

export function tableDefOf(t: ManifestTable): TableDef {
  return { relid: t.relid, schema: t.schema, name: t.name, columns: t.columns, key: t.key, partitionBy: t.partitionBy };
}
