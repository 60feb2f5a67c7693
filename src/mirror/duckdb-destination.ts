// The DuckDB + lake destination of the apply loop (destination.ts): the Parquet lake under
// <dataDir>/lake is the durable truth (lake.ts: base and delta files named by an fsync'd manifest), and
// native DuckDB tables in the shared instance are the serving copy. A batch is accepted once it is in
// the serving tables (one DuckDB transaction for all its tables); its events stay in DuckDB temp tables
// until makeDurable() writes them as delta files, fsyncs them and the manifest (group commit). Also
// here: the table copies (snapshot and re-snapshot into a base file and a serving table), loading the
// serving tables from the lake at start, removing a table, and compaction.
import { existsSync, mkdirSync, readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import { logger } from '../observability/logger.js';
import { mirrorCompactions } from '../observability/metrics.js';
import { tableKey, type TableDef } from './catalog.js';
import type { Accepted, Batch, Destination, RowChange } from './destination.js';
import { checkTableFiles } from './integrity.js';
import {
  columnList,
  createTableSql,
  duckIdent,
  fsyncFiles,
  isDiskFull,
  LakeFullError,
  mergeOnReadSql,
  partitionColumn,
  readStagedCsv,
  servingSelect,
  tableDefOf,
  tableDir,
  typedSelect,
  writeManifest,
  type Manifest,
  type ManifestTable,
} from './lake.js';
import type { TableRegistry, TableRuntime } from './lifecycle.js';
import { formatLsn, lsnKey, parseLsn, type Lsn } from './lsn.js';
import { removeInLake, removeTableFiles } from './paths.js';
import type { TupleValue } from './pgoutput.js';
import { snapshotTable } from './snapshot.js';
import { csvField, stagePath, TableStage } from './stage.js';
import { castExpr, sqlString, stageText } from './types.js';

export interface DuckDbDestinationOptions {
  lakeDir: string;
  /** staged CSV files of the batch being received */
  tmpDir: string;
  snapshotChunkRows: number;
  /** a table's changes could not be applied: it goes to 'error' and is retried (lifecycle.ts) */
  tableFailed(key: string, e: Error): void;
  /** the mirrored tables, shared with the mirror and the apply loop */
  tables: TableRegistry;
}

/** A copy of one table under way (beginCopy -> copyTable -> finishCopy). */
export interface TableCopy {
  def: TableDef;
  /** the manifest generation its files are named by */
  gen: number;
  /** the DuckDB table the serving copy is filled in */
  staging: string;
}

export class DuckDbDestination implements Destination {
  /** the lake's manifest (null before the session loaded or created it) */
  manifest: Manifest | null = null;
  /** the connection to the shared DuckDB instance (null while no session holds one) */
  duck: DuckDBConnection | null = null;
  /** everything is durable in the lake up to here (the manifest's appliedLsn) */
  durable: Lsn = 0n;
  private readonly lakeDir: string;
  private readonly tmpDir: string;
  private readonly rt: TableRegistry;
  private stages = new Map<string, TableStage>();
  private seq = 0;
  private batchNo = 0;
  /** accepted (visible) but not yet durable: per table the event temp tables, in commit order */
  private pending = new Map<string, { evs: string[]; rows: number; truncated: boolean }>();
  private pendingRows = 0;
  private evNo = 0;

  constructor(private readonly opts: DuckDbDestinationOptions) {
    this.lakeDir = opts.lakeDir;
    this.tmpDir = opts.tmpDir;
    this.rt = opts.tables;
  }

  durableLsn(): Lsn {
    return this.durable;
  }

  async open(duckdb: DuckDBInstance): Promise<void> {
    this.duck = await duckdb.connect();
  }

  /** Closes the DuckDB connection (the temp tables of pending events die with it). */
  close(): void {
    try {
      this.duck?.closeSync();
    } catch {
      /* already closed */
    }
    this.duck = null;
  }

  /** Forgets every serving copy, the staged and pending events and the manifest (rebuilt from the lake). */
  async reset(): Promise<void> {
    for (const [key, rt] of this.rt) {
      if (!rt.served) continue;
      await this.duck?.run(`DROP TABLE IF EXISTS ${this.servingRef(rt.def.schema, rt.def.name)}`).catch((e: Error) => logger.warn({ table: key, err: e }, 'mirror: could not drop a serving table'));
    }
    this.discard();
    this.pending.clear();
    this.pendingRows = 0;
    this.manifest = null;
    this.durable = 0n;
    this.close();
  }

  /** Writes the manifest as it is now (atomic, fsync'd). */
  writeManifest(): void {
    writeManifest(this.lakeDir, this.manifest!);
  }

  // ---- staging (the transactions being received) ----------------------------------------------------

  discard(table?: string): void {
    if (table !== undefined) {
      this.stages.get(table)?.discard();
      this.stages.delete(table);
      return;
    }
    for (const s of this.stages.values()) s.discard();
    this.stages.clear();
  }

  private stageOf(key: string): TableStage {
    let s = this.stages.get(key);
    if (!s) {
      s = new TableStage(stagePath(this.tmpDir, this.stages.size, this.batchNo));
      this.stages.set(key, s);
    }
    return s;
  }

  stage(key: string, commitLsn: Lsn, change: RowChange): void {
    const rt = this.rt.get(key);
    if (!rt) return;
    if (change.op === 'truncate') {
      this.stageOf(key).truncate();
      return;
    }
    const cols = rt.def.columns;
    const keyIdx = rt.def.key.map((k) => cols.findIndex((c) => c.name === k));
    const s = this.stageOf(key);
    const lsn = commitLsn.toString();
    const line = (op: 'I' | 'D', tuple: TupleValue[] | null, keyTuple: TupleValue[] | null, oldKey: TupleValue[] | null): string => {
      const f: string[] = [op, lsn, String(++this.seq)];
      const unchanged: number[] = [];
      const vals: Array<string | null> = [];
      for (let i = 0; i < cols.length; i++) {
        const v = tuple ? tuple[i] : keyIdx.includes(i) ? keyTuple![i] : undefined;
        if (!v || v.kind === 'null') vals.push(null);
        else if (v.kind === 'unchanged') {
          unchanged.push(i);
          vals.push(null);
        } else vals.push(stageText(cols[i]!.mapping, v.value));
      }
      if (unchanged.length) {
        s.hasUnchanged = true;
        for (const i of unchanged) s.unchangedCols.add(i);
      }
      let out = `${f.map(csvField).join(',')},${csvField(unchanged.length ? `,${unchanged.join(',')},` : null)}`;
      for (const v of vals) out += `,${csvField(v)}`;
      for (const i of keyIdx) {
        const v = oldKey?.[i];
        out += `,${csvField(v && v.kind === 'text' ? stageText(cols[i]!.mapping, v.value) : null)}`;
      }
      return `${out}\n`;
    };
    switch (change.op) {
      case 'insert':
        s.add(line('I', change.tuple, null, null));
        break;
      case 'update': {
        let oldKey: TupleValue[] | null = null;
        const old = change.old;
        if (old) {
          const changed = keyIdx.some((i) => {
            const a = old[i];
            const b = change.tuple[i];
            return !(a?.kind === 'text' && b?.kind === 'text' && a.value === b.value);
          });
          if (changed) {
            // primary key change: the old key's row goes away
            s.add(line('D', null, old, null));
            oldKey = old;
          }
        }
        s.add(line('I', change.tuple, null, oldKey));
        break;
      }
      case 'delete':
        s.add(line('D', null, change.old, null));
        break;
    }
  }

  /**
   * Makes every staged committed transaction visible: each table's events are loaded into a typed DuckDB
   * temp table, then ALL tables of the batch are changed in ONE DuckDB transaction (readers see all of
   * the batch or none of it): accepted. Durability is decoupled from visibility (group commit): the
   * temp tables stay pending until makeDurable() writes them as delta Parquet files and fsyncs them and
   * the manifest; only the LSN it returns is confirmed to the slot (apply.ts). A crash before that loses
   * only the in-memory serving copy, which is rebuilt from the lake, and the slot replays from the last
   * durable LSN: nothing is lost or duplicated. Measured (bench/mirror.ts): the per-batch Parquet write
   * + 3 fsyncs were most of a batch's time; visibility no longer waits for them.
   */
  async applyBatch(batch: Batch): Promise<Accepted> {
    const m = this.manifest!;
    const endLsn = batch.endLsn;
    const duck = this.duck!;
    type Applied = { key: string; ev: string | null; truncated: boolean; rows: number; t: ManifestTable; load: string[] };
    let applied: Applied[] = [];
    for (const [key, s] of this.stages) {
      const t = m.tables[key];
      const rt = this.rt.get(key);
      if (!t || !rt || rt.state === 'error' || batch.exclude.has(key)) {
        s.discard();
        continue;
      }
      const csv = s.finish();
      const ev = csv ? `_dg_ev_${++this.evNo}` : null;
      if (csv && ev) applied.push({ key, ev, truncated: s.truncated, rows: s.rows, t, load: this.loadEventsSql(ev, csv, t, s) });
      else if (s.truncated) applied.push({ key, ev: null, truncated: true, rows: 0, t, load: [] });
    }
    const servingSql = (list: Applied[]): string[] => {
      const sql: string[] = [];
      for (const a of list) {
        const ref = this.servingRef(a.t.schema, a.t.name);
        if (a.truncated) sql.push(`DELETE FROM ${ref}`);
        if (a.ev) {
          const keys = a.t.key.map(duckIdent);
          sql.push(
            `DELETE FROM ${ref} USING (SELECT DISTINCT ${keys.join(', ')} FROM ${a.ev}) AS _k WHERE ${keys.map((k) => `${ref}.${k} = _k.${k}`).join(' AND ')}`,
            `INSERT INTO ${ref} SELECT ${servingSelect(a.t.columns)} FROM ${a.ev} QUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY _dg_lsn DESC, _dg_seq DESC) = 1 AND _dg_op = 'I'`,
          );
        }
      }
      return sql;
    };
    // Fast path: loading the events and changing the serving tables is ONE DuckDB call (each call costs a
    // round trip through the thread pool, which dominated small batches). The loads run before BEGIN, so
    // the unchanged-TOAST lookup still sees the serving tables as they were before this batch.
    let served = false;
    const loads = applied.flatMap((a) => a.load);
    const fast = servingSql(applied);
    if (loads.length || fast.length) {
      try {
        await duck.run(`${loads.map((q) => `${q}; `).join('')}${fast.length ? `BEGIN; ${fast.join('; ')}; COMMIT` : ''}`);
        served = true;
      } catch {
        await duck.run('ROLLBACK').catch(() => undefined);
      }
    }
    if (!served) {
      // slow path: table by table, so a table whose events cannot be loaded is set aside alone
      const ok: Applied[] = [];
      for (const a of applied) {
        try {
          for (const q of a.load) await duck.run(q);
          ok.push(a);
        } catch (e) {
          this.tableError(a.key, e as Error);
        }
      }
      applied = ok;
    }
    for (const s of this.stages.values()) s.discard();
    this.stages.clear();
    this.batchNo++;
    // pending for the lake, in commit order (a truncate voids what was pending for the table)
    for (const a of applied) {
      let p = this.pending.get(a.key);
      if (!p) this.pending.set(a.key, (p = { evs: [], rows: 0, truncated: false }));
      if (a.truncated) {
        if (p.evs.length) await duck.run(p.evs.map((e) => `DROP TABLE IF EXISTS ${e};`).join(' '));
        p.evs = [];
        p.rows = 0;
        p.truncated = true;
      }
      if (a.ev) {
        p.evs.push(a.ev);
        p.rows += a.rows;
        this.pendingRows += a.rows;
      }
    }
    // serving copies (slow path): all tables of the batch in one DuckDB transaction
    const sql = served ? [] : servingSql(applied);
    if (sql.length) {
      try {
        await duck.run(`BEGIN; ${sql.join('; ')}; COMMIT`);
      } catch (e) {
        await duck.run('ROLLBACK').catch(() => undefined);
        // the events are still pending: make the lake durable with them, then rebuild from the lake
        await this.makeDurable(endLsn);
        for (const a of applied) {
          const rt = this.rt.get(a.key);
          if (rt && rt.state !== 'error') await this.buildServing(a.t, rt).catch((e2: Error) => this.tableError(a.key, e2));
        }
        logger.warn({ err: e }, 'mirror: applying a batch to DuckDB failed; serving tables rebuilt from the lake');
      }
    }
    return { tables: applied.map((a) => ({ table: a.key, rows: a.rows })), undurableRows: this.pendingRows };
  }

  /**
   * Group commit to the lake: everything applied so far (pending event tables) becomes delta Parquet
   * files, fsync'd, then the manifest (atomic, fsync'd) names them with appliedLsn = upTo; from here it
   * is durable (the apply loop then tells the slot). One fsync per file and per folder, one manifest per
   * flush.
   */
  async makeDurable(upTo: Lsn): Promise<Lsn> {
    const m = this.manifest;
    if (!m) return this.durable;
    // nothing pending and the position already recorded: no new manifest (and no fsync)
    if (this.pending.size === 0 && upTo <= this.durable) return this.durable;
    const duck = this.duck!;
    const ph = phaseTimer();
    const written: string[] = [];
    const drops: string[] = [];
    // Two phases, so that a full disk changes nothing: first every delta file is written (the manifest
    // untouched), then the manifest names them. A write failing for lack of space removes this flush's
    // files, restores the manifest as it was and throws LakeFullError: the events stay pending, the slot
    // keeps its position, and the mirror retries later (see onFatal) instead of marking tables broken.
    const ready: Array<{ t: ManifestTable; file: string | null; rows: number; truncated: boolean }> = [];
    const undo = (e: unknown): never => {
      for (const f of written) removeInLake(this.lakeDir, f);
      throw isDiskFull(e) ? new LakeFullError(this.lakeDir, e) : e;
    };
    for (const [key, p] of this.pending) {
      drops.push(...p.evs);
      const t = m.tables[key];
      const rt = this.rt.get(key);
      if (!t || !rt || rt.state === 'error' || t.state === 'error') continue;
      let file: string | null = null;
      try {
        if (p.evs.length) {
          const dir = join(tableDir(this.lakeDir, t.schema, t.name), '_delta');
          file = join(dir, `${lsnKey(upTo)}_${++m.generation}.parquet`);
          mkdirSync(dir, { recursive: true });
          const cols = `_dg_op, _dg_lsn, _dg_seq, ${columnList(t.columns)}`;
          const src = p.evs.map((e) => `SELECT ${cols} FROM ${e}`).join(' UNION ALL ');
          await duck.run(`COPY (${src}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`);
          written.push(file);
        }
        ready.push({ t, file, rows: p.rows, truncated: p.truncated });
      } catch (e) {
        if (isDiskFull(e)) {
          if (file && existsSync(file)) written.push(file);
          undo(e);
        }
        this.tableError(key, e as Error);
      }
    }
    ph.mark('parquet');
    try {
      fsyncFiles(written);
    } catch (e) {
      undo(e);
    }
    ph.mark('fsync');
    const saved = { appliedLsn: m.appliedLsn, tables: ready.map((r) => ({ t: r.t, base: r.t.base, deltas: r.t.deltas })) };
    const replaced: ManifestTable[] = [];
    for (const r of ready) {
      if (r.truncated) {
        replaced.push({ ...r.t });
        r.t.base = [];
        r.t.deltas = [];
      }
      if (r.file) r.t.deltas = [...r.t.deltas, { file: r.file.slice(this.lakeDir.length + 1), rows: r.rows }];
    }
    m.appliedLsn = formatLsn(upTo);
    try {
      writeManifest(this.lakeDir, m);
    } catch (e) {
      m.appliedLsn = saved.appliedLsn;
      for (const x of saved.tables) {
        x.t.base = x.base;
        x.t.deltas = x.deltas;
      }
      undo(e);
    }
    ph.mark('manifest');
    // files a truncate replaced go once the manifest no longer names them
    for (const t of replaced) this.dropFilesLater(t);
    this.pending.clear();
    this.pendingRows = 0;
    this.durable = upTo;
    if (drops.length) await duck.run(drops.map((e) => `DROP TABLE IF EXISTS ${e};`).join(' '));
    logger.debug({ files: written.length, ms: ph.done() }, 'mirror: lake flushed (durable)');
    return this.durable;
  }


  /** SQL: staged CSV → typed temp table `ev`; fills unchanged TOAST values from earlier events or the serving copy. */
  private loadEventsSql(ev: string, csv: string, t: ManifestTable, s: TableStage): string[] {
    const out: string[] = [];
    const n = t.columns.length;
    const names = ['_op', '_lsn', '_seq', '_u', ...t.columns.map((_, i) => `c${i}`), ...t.key.map((_, i) => `k${i}`)];
    const keyCols = t.key.map((k) => t.columns.find((c) => c.name === k)!);
    const oldKeySel = keyCols.map((c, i) => `${castExpr(c.mapping, `k${i}`)} AS _dg_ok${i}`).join(', ');
    out.push(
      `CREATE OR REPLACE TEMP TABLE ${ev} AS SELECT _op AS _dg_op, CAST(_lsn AS BIGINT) AS _dg_lsn, CAST(_seq AS BIGINT) AS _dg_seq, _u AS _dg_u, ${typedSelect(t.columns)}, ${oldKeySel} FROM ${readStagedCsv(csv, names)}`,
    );
    if (!s.hasUnchanged) return out;
    // Unchanged TOAST: pgoutput does not resend a TOASTed value an UPDATE did not touch. Its value is the
    // one of the latest earlier event for the same row in this batch, else the row in the serving copy
    // (which is exactly the state before this batch). A primary-key change looks the row up by its old key.
    const ref = this.servingRef(t.schema, t.name);
    const sk = keyCols.map((c, i) => `COALESCE(_dg_ok${i}, ${duckIdent(c.name)}) AS _dg_sk${i}`).join(', ');
    const skList = keyCols.map((_, i) => `_dg_sk${i}`).join(', ');
    const windows = [...s.unchangedCols]
      .map(
        (i) =>
          `last_value(CASE WHEN _dg_op = 'I' AND NOT contains(COALESCE(_dg_u, ''), ',${i},') THEN struct_pack(v := ${duckIdent(t.columns[i]!.name)}) END IGNORE NULLS) OVER (PARTITION BY ${skList} ORDER BY _dg_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS _dg_p${i}`,
      )
      .join(', ');
    const sel = t.columns
      .map((c, i) => {
        const col = duckIdent(c.name);
        if (!s.unchangedCols.has(i)) return `w.${col}`;
        return `CASE WHEN contains(COALESCE(w._dg_u, ''), ',${i},') THEN (CASE WHEN w._dg_p${i} IS NOT NULL THEN w._dg_p${i}.v WHEN cur._dg_found THEN cur.${col} ELSE error('duckgate mirror: unchanged TOAST value of ${c.name.replaceAll("'", "''")} has no earlier version') END) ELSE w.${col} END AS ${col}`;
      })
      .join(', ');
    const join = keyCols.map((c, i) => `cur.${duckIdent(c.name)} = w._dg_sk${i}`).join(' AND ');
    const okCols = keyCols.map((_, i) => `w._dg_ok${i}`).join(', ');
    out.push(
      `CREATE OR REPLACE TEMP TABLE ${ev} AS WITH w AS (SELECT *, ${windows} FROM (SELECT *, ${sk} FROM ${ev})) SELECT w._dg_op, w._dg_lsn, w._dg_seq, w._dg_u, ${sel}, ${okCols} FROM w LEFT JOIN (SELECT *, true AS _dg_found FROM ${ref}) cur ON ${join}`,
    );
    void n;
    return out;
  }

  /** A table whose changes cannot be applied: not served, in 'error' (the lifecycle's part is the mirror's). */
  private tableError(key: string, e: Error): void {
    this.opts.tableFailed(key, e);
    const t = this.manifest?.tables[key];
    if (t) {
      t.state = 'error';
      t.error = e.message;
    }
  }

  /**
   * A new copy of `d` (snapshot or re-snapshot): its file generation, and the DuckDB table its serving
   * copy fills chunk by chunk while the snapshot streams (no second pass over the Parquet afterwards),
   * which replaces the served one in one DuckDB transaction (finishCopy).
   */
  beginCopy(d: TableDef): TableCopy {
    const gen = ++this.manifest!.generation;
    return { def: d, gen, staging: `${duckIdent(d.schema)}.${duckIdent(`_dg_snapshot_g${gen}`)}` };
  }

  /** Copies the table's rows, read on `c` (inside the snapshot's transaction), into base files and the staging table. */
  async copyTable(c: pg.Client, copy: TableCopy): Promise<string[]> {
    await this.duck!.run(`CREATE SCHEMA IF NOT EXISTS ${duckIdent(copy.def.schema)}`);
    await this.duck!.run(createTableSql(copy.staging, copy.def));
    return (await snapshotTable(c, this.duck!, this.lakeDir, copy.def, copy.gen, this.opts.snapshotChunkRows, copy.staging)).files;
  }

  /**
   * Records the copy in the manifest (written by the caller) in place of the table's earlier files, and
   * swaps its serving table in; a failed copy (`error`) leaves the table in 'error' and serves nothing.
   */
  async finishCopy(copy: TableCopy, rt: TableRuntime, files: string[], error: string | undefined, validFrom: string): Promise<void> {
    const m = this.manifest!;
    const d = copy.def;
    const key = tableKey(d.schema, d.name);
    const old = m.tables[key];
    const state = error === undefined ? 'ready' : 'error';
    m.tables[key] = { relid: d.relid, schema: d.schema, name: d.name, columns: d.columns, key: d.key, partitionBy: d.partitionBy, state, error, validFrom, base: files, deltas: [] };
    if (old) this.dropFilesLater(old);
    this.rt.byRelid.set(d.relid, key);
    if (state === 'ready') await this.swapServing(copy.staging, m.tables[key]!, rt);
    else await this.duck!.run(`DROP TABLE IF EXISTS ${copy.staging}`).catch(() => undefined);
  }

  private servingRef(schema: string, name: string): string {
    return `${duckIdent(schema)}.${duckIdent(name)}`;
  }

  private async buildServing(t: ManifestTable, rt: TableRuntime): Promise<void> {
    const ref = this.servingRef(t.schema, t.name);
    const sel = mergeOnReadSql(this.lakeDir, t, null);
    await this.duck!.run(`CREATE SCHEMA IF NOT EXISTS ${duckIdent(t.schema)}`);
    // one DuckDB transaction: readers see the old table or the whole new one
    await this.duck!.run('BEGIN');
    try {
      await this.duck!.run(createTableSql(ref, t));
      if (sel) await this.duck!.run(`INSERT INTO ${ref} SELECT ${servingSelect(t.columns)} FROM (${sel})`);
      await this.duck!.run('COMMIT');
    } catch (e) {
      await this.duck!.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
    rt.served = true;
  }

  /** The staging table filled by the snapshot becomes the serving table (readers see old or new, whole). */
  private async swapServing(staging: string, t: ManifestTable, rt: TableRuntime): Promise<void> {
    const ref = this.servingRef(t.schema, t.name);
    try {
      await this.duck!.run(`BEGIN; DROP TABLE IF EXISTS ${ref}; ALTER TABLE ${staging} RENAME TO ${duckIdent(t.name)}; COMMIT`);
    } catch (e) {
      await this.duck!.run('ROLLBACK').catch(() => undefined);
      await this.duck!.run(`DROP TABLE IF EXISTS ${staging}`).catch(() => undefined);
      logger.warn({ err: e, table: `${t.schema}.${t.name}` }, 'mirror: could not swap in the snapshot table; loading the serving copy from the lake');
      return this.buildServing(t, rt);
    }
    rt.served = true;
  }

  async loadServing(m: Manifest): Promise<void> {
    for (const [key, t] of Object.entries(m.tables)) {
      const rt: TableRuntime = { def: tableDefOf(t), state: t.state, validFrom: parseLsn(t.validFrom), lastAppliedAt: Date.now(), served: false };
      this.rt.set(key, rt);
      this.rt.byRelid.set(t.relid, key);
      if (t.state !== 'ready') continue;
      // what is loaded must be what was written (integrity.ts): a table whose files fail is not served
      // and goes to 'error', which reconcile() re-snapshots
      const bad = await checkTableFiles(this.duck!, this.lakeDir, t, m.files).then(
        (why) => why ?? this.buildServing(t, rt).then(() => null, (e: Error) => `loading failed: ${e.message.split('\n')[0]}`),
      );
      if (bad !== null) {
        t.state = rt.state = 'error';
        t.error = `lake files failed their check: ${bad}`;
        logger.error({ table: key, problem: bad }, 'mirror: a lake file of this table is damaged; it is not served (statements go to PostgreSQL) until it is re-snapshotted');
      }
    }
  }

  async removeTable(key: string): Promise<void> {
    const m = this.manifest!;
    const t = m.tables[key];
    const rt = this.rt.get(key);
    if (rt?.served || t) await this.duck!.run(`DROP TABLE IF EXISTS ${this.servingRef(t?.schema ?? rt!.def.schema, t?.name ?? rt!.def.name)}`);
    if (t) {
      delete m.tables[key];
      this.rt.byRelid.delete(t.relid);
      writeManifest(this.lakeDir, m);
      removeTableFiles(this.lakeDir, t.schema, t.name, [...t.base, ...t.deltas.map((d) => d.file)]);
    }
    this.rt.delete(key);
    this.stages.get(key)?.discard();
    this.stages.delete(key);
    const p = this.pending.get(key);
    if (p) {
      this.pending.delete(key);
      this.pendingRows -= p.rows;
      for (const e of p.evs) await this.duck!.run(`DROP TABLE IF EXISTS ${e}`);
    }
    logger.info({ table: key }, 'mirror: table no longer mirrored');
  }

  private dropFilesLater(t: ManifestTable): void {
    // after the new manifest is durable; a verify reading them concurrently retries
    const files = [...t.base, ...t.deltas.map((d) => d.file)];
    setTimeout(() => {
      for (const f of files) {
        try {
          removeInLake(this.lakeDir, join(this.lakeDir, f));
        } catch {
          /* refused and logged: never outside the lake */
        }
      }
    }, 2000).unref();
  }

  /** Folds delta files into new base files for tables with at least `minDeltas` of them. */
  async compact(minDeltas = 1): Promise<void> {
    const m = this.manifest;
    if (!m) return;
    for (const [key, t] of Object.entries(m.tables)) {
      if (t.state !== 'ready' || t.deltas.length < Math.max(1, minDeltas)) continue;
      const gen = ++m.generation;
      const dir = tableDir(this.lakeDir, t.schema, t.name);
      const sel = mergeOnReadSql(this.lakeDir, t, null);
      const old = { ...t, base: [...t.base], deltas: [...t.deltas] };
      let files: string[] = [];
      if (sel) {
        mkdirSync(dir, { recursive: true });
        if (t.partitionBy) {
          const p = partitionColumn(t.partitionBy);
          await this.duck!.run(
            `COPY (SELECT *, ${p.expr} AS ${duckIdent(p.name)} FROM (${sel})) TO ${sqlString(dir)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${duckIdent(p.name)}), WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN ${sqlString(`g${gen}_k_{i}`)}, OVERWRITE_OR_IGNORE true)`,
          );
          files = listDirFiles(dir, `g${gen}_k_`);
        } else {
          const f = join(dir, `g${gen}_k.parquet`);
          await this.duck!.run(`COPY (${sel}) TO ${sqlString(f)} (FORMAT parquet, COMPRESSION zstd)`);
          files = [f];
        }
        fsyncFiles(files);
      }
      t.base = files.map((f) => f.slice(this.lakeDir.length + 1));
      // a lake flush may have added deltas while the COPY ran: keep those
      t.deltas = t.deltas.filter((d) => !old.deltas.includes(d));
      writeManifest(this.lakeDir, m);
      this.dropFilesLater(old);
      mirrorCompactions.inc({ table: key });
      logger.debug({ table: key, files: files.length }, 'mirror: compacted');
    }
  }
}

/** Milliseconds spent per named phase (debug logs: where a batch's time goes). */
export function phaseTimer(): { mark(name: string): void; done(): Record<string, number> } {
  let last = performance.now();
  const start = last;
  const out: Record<string, number> = {};
  return {
    mark(name) {
      const now = performance.now();
      out[name] = Math.round(((out[name] ?? 0) + now - last) * 10) / 10;
      last = now;
    },
    done() {
      out.total = Math.round((performance.now() - start) * 10) / 10;
      return out;
    },
  };
}

export function listDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSyncSafe(dir).filter((d) => d.isDirectory()).map((d) => d.name);
}

function readdirSyncSafe(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function listDirFiles(dir: string, prefix: string): string[] {
  const out: string[] = [];
  for (const e of readdirSyncSafe(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory() && !e.name.startsWith('_')) out.push(...listDirFiles(p, prefix));
    else if (e.isFile() && e.name.startsWith(prefix) && e.name.endsWith('.parquet')) out.push(p);
  }
  return out;
}

