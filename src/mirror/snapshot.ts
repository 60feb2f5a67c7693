// Copies one table, inside a transaction that already runs on the replication slot's exported snapshot,
// into base Parquet files and (optionally) a DuckDB table that becomes the serving copy. Rows are
// streamed (COPY … TO STDOUT (FORMAT csv)) into CSV chunk files of at most `chunkRows` rows or
// CHUNK_BYTES; each full chunk is converted by DuckDB (read_csv → typed casts → ZSTD Parquet, then the
// chunk's Parquet appended to the serving table) while the next one streams in, so Postgres producing
// the COPY and DuckDB converting run at the same time (with one big chunk they ran one after the other).
// Never a whole table in memory: at most one chunk being written plus one being converted, and the
// socket is paused when the converter falls behind.
//
// Plain CSV (no FORCE_QUOTE): Postgres writes NULL as an unquoted empty field and an empty string as "",
// which is exactly what readStagedCsv distinguishes (allow_quoted_nulls = false); quoting every field
// only cost bytes (~12%) and parse time.
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import { logger } from '../observability/logger.js';
import { mirrorSnapshotRows } from '../observability/metrics.js';
import { qualified, type TableDef } from './catalog.js';
import { createTableSql, duckIdent, fileList, fsyncFiles, listParquet, partitionColumn, readStagedCsv, servingSelect, tableDir, typedSelect } from './lake.js';
import { noteRows } from './integrity.js';
import { CopyOut } from './pgconn.js';
import { removeInLake } from './paths.js';
import { duckType, FALLBACK, pgCopyExpr, sqlString, unholdableColumn } from './types.js';

/** A chunk is converted once its CSV reaches this size (or chunkRows rows), whichever comes first. */
const CHUNK_BYTES = 32 << 20;

export interface SnapshotResult {
  files: string[];
  rows: number;
}

/** Converts one staged CSV file (columns c0…cn) to Parquet files under the table's folder; returns them. */
export async function csvToParquet(
  duck: DuckDBConnection,
  lakeDir: string,
  def: TableDef,
  csv: string,
  pattern: string,
): Promise<string[]> {
  const dir = tableDir(lakeDir, def.schema, def.name);
  mkdirSync(dir, { recursive: true });
  const names = def.columns.map((_, i) => `c${i}`);
  let select = `SELECT ${typedSelect(def.columns)} FROM ${readStagedCsv(csv, names)}`;
  if (def.partitionBy) {
    const p = partitionColumn(def.partitionBy);
    select = `SELECT *, ${p.expr} AS ${duckIdent(p.name)} FROM (${select})`;
    await duck.run(
      `COPY (${select}) TO ${sqlString(dir)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${duckIdent(p.name)}), WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN ${sqlString(`${pattern}_{i}`)}, OVERWRITE_OR_IGNORE true)`,
    );
    const files = listParquet(dir).filter((f) => f.includes(`/${pattern}_`) && !f.includes('/_delta/'));
    fsyncFiles(files);
    await noteFooterRows(duck, files);
    return files.map((f) => relative(lakeDir, f));
  }
  const file = join(dir, `${pattern}.parquet`);
  await duck.run(`COPY (${select}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`);
  fsyncFiles([file]);
  await noteFooterRows(duck, [file]);
  return [relative(lakeDir, file)];
}

/** Records each new file's row count as its footer says right after writing (checked again at load). */
async function noteFooterRows(duck: DuckDBConnection, files: string[]): Promise<void> {
  if (files.length === 0) return;
  const r = (await duck.runAndReadAll(`SELECT file_name, num_rows::BIGINT AS n FROM parquet_file_metadata([${files.map(sqlString).join(', ')}])`)).getRowObjectsJS();
  for (const x of r) noteRows(String(x.file_name), Number(x.n));
}

/**
 * Copies the table (see snapshotOnce). A value a column's mirror type cannot hold exactly (a BC date,
 * 'infinity', a 2-D array: see unholdableColumn) makes THAT column a fallback column, held as its
 * Postgres text and not exact (statements touching it go to Postgres), and the table is copied again in
 * the same transaction; the other columns stay served by DuckDB. `def.columns` is changed in place, so
 * the caller's definition (manifest, runtime) says which columns fell back.
 */
export async function snapshotTable(
  pgc: pg.Client,
  duck: DuckDBConnection,
  lakeDir: string,
  def: TableDef,
  generation: number,
  chunkRows: number,
  /** an existing DuckDB table with the serving types: each converted chunk is appended to it */
  servingStaging: string | null = null,
): Promise<SnapshotResult> {
  for (let attempt = 0; ; attempt++) {
    const pattern = attempt === 0 ? `g${generation}` : `g${generation}r${attempt}`;
    try {
      return await snapshotOnce(pgc, duck, lakeDir, def, pattern, chunkRows, servingStaging);
    } catch (e) {
      const col = unholdableColumn(e);
      const c = col === null ? undefined : def.columns[col];
      if (!c || c.mapping.kind === 'fallback' || attempt >= def.columns.length) throw e;
      def.columns[col!] = { ...c, mapping: FALLBACK, duckType: duckType(FALLBACK) };
      logger.warn(
        { table: `${def.schema}.${def.name}`, column: c.name, type: c.pgType, reason: (e as Error).message.split('\n')[0] },
        'mirror: a value of this column cannot be held exactly by the mirror; the column is kept as text and statements reading it go to PostgreSQL (the rest of the table is served)',
      );
      for (const f of listParquet(tableDir(lakeDir, def.schema, def.name)).filter((f) => f.includes(`/${pattern}_c`))) removeInLake(lakeDir, f);
      if (servingStaging) await duck.run(createTableSql(servingStaging, def));
    }
  }
}

async function snapshotOnce(
  pgc: pg.Client,
  duck: DuckDBConnection,
  lakeDir: string,
  def: TableDef,
  pattern: string,
  chunkRows: number,
  servingStaging: string | null,
): Promise<SnapshotResult> {
  const tmp = join(lakeDir, '_tmp');
  mkdirSync(tmp, { recursive: true });
  const label = `${def.schema}.${def.name}`;
  const estimate = Number(
    (await pgc.query<{ n: string }>('SELECT GREATEST(reltuples, 0)::int8::text AS n FROM pg_class WHERE oid = $1', [def.relid])).rows[0]?.n ?? 0,
  );
  const files: string[] = [];
  let chunkNo = 0;
  let rowsInChunk = 0;
  let bytesInChunk = 0;
  let rows = 0;
  let buf: Buffer[] = [];
  let bufBytes = 0;
  let fd = -1;
  let csvPath = '';
  let converting: Promise<void> | null = null;
  let convertError: Error | null = null;
  const started = Date.now();
  let lastLog = started;

  const openChunk = () => {
    csvPath = join(tmp, `${pattern}_${chunkNo}.csv`);
    fd = openSync(csvPath, 'w');
  };
  const flushBuf = () => {
    if (bufBytes === 0) return;
    writeSync(fd, Buffer.concat(buf, bufBytes));
    buf = [];
    bufBytes = 0;
  };
  const convert = (path: string, no: number): Promise<void> =>
    csvToParquet(duck, lakeDir, def, path, `${pattern}_c${no}`)
      .then(async (f) => {
        rmSync(path, { force: true });
        if (servingStaging && f.length) await duck.run(`INSERT INTO ${servingStaging} SELECT ${servingSelect(def.columns)} FROM read_parquet(${fileList(lakeDir, f)})`);
        files.push(...f);
      })
      .then(
        () => undefined,
      (e: Error) => {
        convertError = e;
      },
    );
  let copy: CopyOut;
  const closeChunk = (): boolean => {
    flushBuf();
    closeSync(fd);
    fd = -1;
    const path = csvPath;
    const no = chunkNo++;
    const prev = converting;
    // one conversion at a time; while one runs, the next chunk keeps streaming
    converting = (prev ?? Promise.resolve()).then(() => convert(path, no));
    rowsInChunk = 0;
    bytesInChunk = 0;
    openChunk();
    if (prev !== null) {
      // the converter is behind: stop reading from Postgres until it catches up
      copy.pause();
      void prev.then(() => copy.resume());
      return false;
    }
    return true;
  };

  openChunk();
  const exprs = def.columns.map((c) => pgCopyExpr(c.mapping, c.name)).join(', ');
  copy = new CopyOut(`COPY (SELECT ${exprs} FROM ONLY ${qualified(def.schema, def.name)}) TO STDOUT WITH (FORMAT csv)`, (chunk, endsRow) => {
    buf.push(chunk);
    bufBytes += chunk.length;
    bytesInChunk += chunk.length;
    if (bufBytes >= 4 << 20) flushBuf();
    if (!endsRow) return true;
    rows++;
    rowsInChunk++;
    if (rowsInChunk >= chunkRows || bytesInChunk >= CHUNK_BYTES) {
      mirrorSnapshotRows.set({ table: label }, rows);
      const now = Date.now();
      if (now - lastLog > 5000) {
        lastLog = now;
        const rate = rows / ((now - started) / 1000);
        const eta = estimate > rows ? Math.round((estimate - rows) / rate) : 0;
        logger.info({ table: label, rows, rowsPerSec: Math.round(rate), etaSeconds: eta }, 'mirror snapshot progress');
      }
      return closeChunk();
    }
    return true;
  });
  await pgc.query(copy as unknown as pg.QueryConfig);
  await copy.finished;
  flushBuf();
  closeSync(fd);
  if (converting) await converting;
  if (rowsInChunk > 0) await convert(csvPath, chunkNo);
  else rmSync(csvPath, { force: true });
  if (convertError) throw convertError;
  mirrorSnapshotRows.set({ table: label }, rows);
  const secs = (Date.now() - started) / 1000;
  logger.info({ table: label, rows, seconds: secs, rowsPerSec: Math.round(rows / Math.max(secs, 0.001)) }, 'mirror snapshot of table done');
  return { files, rows };
}
