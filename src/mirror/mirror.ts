// The Mirror: snapshot + pgoutput change stream → Parquet lake (durable truth) + native DuckDB tables
// (serving copy). See index.ts for the contract and the design notes.
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import type { Config } from '../config/schema.js';
import { readRules, shippedRulesFile } from '../config/rules.js';
import { logger } from '../observability/logger.js';
import {
  mirrorApplyLatency,
  mirrorAppliedLsn,
  mirrorCompactions,
  mirrorLagBytes,
  mirrorLagSeconds,
  mirrorLakeBytes,
  mirrorRetainedWalBytes,
  mirrorRowsApplied,
  mirrorTablesInError,
  mirrorTransactionsApplied,
} from '../observability/metrics.js';
import { checkPreconditions, describeColumns, slotHolder, tableKey, type ColumnDef, type SkippedTable, type TableDef } from './catalog.js';
import type { BackoffPolicy } from './backoff.js';
import { Supervisor, type MirrorPhase } from './supervisor.js';
import { MirrorCatalog } from './catalog-sync.js';
import { guardMessageRelid } from './guard.js';
import { newLife, onCopied, onEvent, onFailed, retryDue, type TableLife, type TableState } from './lifecycle.js';
import { acquireLakeLock, LakeLockedError, releaseLakeLock } from './lock.js';
import {
  columnList,
  createTableSql,
  duckIdent,
  fileList,
  fsyncFiles,
  isDiskFull,
  LakeFullError,
  lakeSizeBytes,
  mergeOnReadSql,
  partitionColumn,
  readManifest,
  readStagedCsv,
  removeOrphans,
  servingSelect,
  tableDefOf,
  tableDir,
  typedSelect,
  writeManifest,
  type Manifest,
  type ManifestTable,
} from './lake.js';
import { formatLsn, lsnKey, parseLsn, type Lsn } from './lsn.js';
import { controlClient, replicationClient, ReplicationStream } from './pgconn.js';
import { decodePgOutput, decodeReplicationMessage, encodeStandbyStatus, pgNowMicros, type PgOutputMessage, type RelationColumn, type TupleValue } from './pgoutput.js';
import { parseMirrorRules, type MirrorRules } from './rules.js';
import { checkTableFiles } from './integrity.js';
import { enforceRetention, retentionTimer } from './retention.js';
import { removeInLake, removeTableFiles } from './paths.js';
import { snapshotTable } from './snapshot.js';
import { csvField, stagePath, TableStage } from './stage.js';
import { castExpr, pgIdent, sqlString, stageText } from './types.js';

export interface MirrorOptions {
  config: Config;
  /** superuser/replication-capable control URL incl. database */
  upstreamUrl: string;
  /** shared with the query engine; the serving copies live in it */
  duckdb: DuckDBInstance;
  dataDir: string;
  /** the mirror rules (main.ts reads the rules files once); read from config.rules when absent */
  rules?: MirrorRules;
}

export type { TableState };

export interface MirroredTable {
  schema: string;
  name: string;
  state: TableState;
  appliedLsn: string | null;
  lastAppliedAt: number | null;
  /** compares: how Postgres compares the values the mirror holds as text (see MirrorColumn.compares) */
  columns: Array<{ name: string; pgType: string; typeOid: number; exact: boolean; compares?: 'equality' | 'none' }>;
  duckdbRef: string;
  /** the primary key (or replica identity index) columns, in key order */
  primaryKey: string[];
  /** why the table is not served (state 'error'), else null */
  lastError: string | null;
  /** when an 'error' table is retried next (epoch ms), else null */
  retryAt: number | null;
}

/** Where the mirror as a whole is (see status() and supervisor.ts). */
export type { MirrorPhase };

export interface MirrorStatus {
  phase: MirrorPhase;
  /** why the mirror is not streaming, when it is not */
  problem: string | null;
  /** consecutive failed attempts (reset once a session has streamed for a while) */
  attempts: number;
  /** when the next attempt runs (epoch ms), while retrying */
  nextRetryAt: number | null;
  appliedLsn: string | null;
  /** whether the replica-identity guard (event trigger) is installed, or why not */
  guard: string | null;
  tables: Array<{ table: string; state: TableState; lastError: string | null; retryAt: number | null; appliedLsn: string | null }>;
  /** tables the rules select that are not mirrored, and why */
  skipped: SkippedTable[];
}

interface Runtime extends TableLife {
  def: TableDef;
  validFrom: Lsn;
  lastAppliedAt: number | null;
  /** serving table exists in DuckDB */
  served: boolean;
}

const PG_EPOCH_MS = 946_684_800_000;

/** Thrown inside start() when stop() was called meanwhile. */
class StoppedError extends Error {
  constructor() {
    super('mirror stopped');
  }
}

export class Mirror extends EventEmitter {
  private readonly cfg: Config['mirror'];
  private readonly lakeDir: string;
  private readonly tmpDir: string;
  private rules!: MirrorRules;
  private manifest: Manifest | null = null;
  private ctl: pg.Client | null = null;
  private repl: pg.Client | null = null;
  private stream: ReplicationStream | null = null;
  private duck: DuckDBConnection | null = null;
  private readonly rt = new Map<string, Runtime>();
  private readonly byRelid = new Map<number, string>();
  /** columns as the stream's last Relation message described them */
  private readonly relCols = new Map<number, RelationColumn[]>();
  private applied: Lsn | null = null;
  private durable: Lsn = 0n;
  private serverWalEnd: Lsn = 0n;
  private stopped = false;
  /** the start in progress (settles once started, failed or stopped) */
  private starting: Promise<void> | null = null;

  private checkStopped(): void {
    if (this.stopped) throw new StoppedError();
  }
  private timers: NodeJS.Timeout[] = [];

  // stream processing
  private queue: Buffer[] = [];
  private qHead = 0;
  private looping = false;
  private paused = false;
  private loopDone: Promise<void> = Promise.resolve();
  private inTx: { commitLsn: Lsn; commitTime: bigint; skip: boolean } | null = null;
  private seq = 0;
  private batchNo = 0;
  private stages = new Map<string, TableStage>();
  private batchCommits: Array<{ endLsn: Lsn; commitTime: bigint }> = [];
  private batchRows = 0;
  private batchStartedAt = 0;
  private needResync = new Set<string>();
  private wantStatus = false;
  private wantCompaction = false;
  private wantPoll = false;
  private manifestDirty = false;
  /** applied (visible) but not yet durable: per table the event temp tables, in commit order */
  private pending = new Map<string, { evs: string[]; rows: number; truncated: boolean }>();
  private pendingRows = 0;
  private evNo = 0;
  /** how long the last batch took to apply (adaptive batching) */
  private lastFlushMs = 0;
  private lastLakeFlush = Date.now();
  private fatal: Error | null = null;

  // supervision: the mirror retries instead of stopping for good (supervisor.ts, start(), onFatal())
  private readonly sup: Supervisor;
  private readonly retry: BackoffPolicy;
  /** a recovery (teardown after a failure) under way */
  private recovering: Promise<void> | null = null;
  /** which tables are mirrored, which are not and why, the publication and its guard */
  private readonly catalog: MirrorCatalog;
  /** pgoutput 'messages' option (PostgreSQL 14+): the guard's logical messages reach the stream */
  private streamMessages = false;
  /** the state of the last session can be resumed from (it was made durable after the failure) */
  private resumable = false;

  constructor(private readonly opts: MirrorOptions) {
    super();
    this.cfg = opts.config.mirror;
    this.retry = { minMs: this.cfg.retryMinMs ?? 500, maxMs: this.cfg.retryMaxMs ?? 30_000 };
    this.catalog = new MirrorCatalog(this.cfg.publicationName, this.cfg.schemas);
    this.sup = new Supervisor(this.retry, (phase, problem) => this.emit('phase', { phase, problem }));
    if (opts.rules) this.rules = opts.rules;
    this.lakeDir = join(opts.dataDir, 'lake');
    this.tmpDir = join(this.lakeDir, '_tmp');
  }

  // ---- public API ----------------------------------------------------------------------------------

  appliedLsn(): string | null {
    return this.applied === null ? null : formatLsn(this.applied);
  }

  tables(): MirroredTable[] {
    const out: MirroredTable[] = [];
    // while the mirror is not streaming (reconnecting) nothing is servable: appliedLsn is null, so reads
    // go to PostgreSQL at once instead of each waiting for a position that cannot arrive
    const live = this.sup.phase === 'streaming';
    for (const r of this.rt.values()) {
      const ready = live && r.state === 'ready' && this.applied !== null && this.applied >= r.validFrom;
      out.push({
        schema: r.def.schema,
        name: r.def.name,
        state: r.state === 'ready' && !ready ? 'resyncing' : r.state,
        appliedLsn: ready ? formatLsn(this.applied!) : null,
        lastAppliedAt: ready ? r.lastAppliedAt : null,
        columns: r.def.columns.map((c) => ({ name: c.name, pgType: c.pgType, typeOid: c.typeOid, exact: c.mapping.exact, compares: textComparison(c) })),
        duckdbRef: `${duckIdent(r.def.schema)}.${duckIdent(r.def.name)}`,
        primaryKey: [...r.def.key],
        lastError: r.lastError ?? null,
        retryAt: r.state === 'error' ? (r.retryAt ?? null) : null,
      });
    }
    return out;
  }

  /** The mirror's state, each table's state and last error, and the tables not mirrored (for /status). */
  status(): MirrorStatus {
    return {
      phase: this.sup.phase,
      problem: this.sup.problem,
      attempts: this.sup.attempts,
      nextRetryAt: this.sup.nextRetryAt,
      appliedLsn: this.appliedLsn(),
      guard: this.catalog.guard,
      tables: this.tables().map((t) => ({ table: `${t.schema}.${t.name}`, state: t.state, lastError: t.lastError, retryAt: t.retryAt, appliedLsn: t.appliedLsn })),
      skipped: this.catalog.skippedTables(),
    };
  }

  /**
   * Why `schema.name` is not served from DuckDB right now, in one line (for `/* duckgate: explain *\/`'s
   * detail), or null when it is served. Covers the mirror not running, the table's own state and last
   * error, and a table the mirror leaves out (no key, UNLOGGED, missing privilege) with the fix.
   */
  whyNotServed(schema: string, name: string): string | null {
    if (!this.cfg.enabled) return 'mirror disabled (mirror.enabled = false)';
    const key = tableKey(schema, name);
    const skipped = this.catalog.skippedTables().find((s) => s.table === key);
    if (skipped) return skipped.reason;
    const why = this.sup.notReadyReason(this.cfg.enabled);
    if (why) return why;
    const t = this.tables().find((x) => x.schema === schema && x.name === name);
    if (!t) return `${key} is not mirrored (not selected by mirror.schemas / the rules' include and exclude)`;
    if (t.state === 'ready' && t.appliedLsn !== null) return null;
    if (t.state === 'error') {
      const when = t.retryAt === null ? '' : `; retried in ${Math.max(0, Math.round((t.retryAt - Date.now()) / 1000))} s`;
      return `${key} is not served: ${t.lastError ?? 'error'}${when}`;
    }
    return `${key} is ${t.state === 'ready' ? 'catching up with its copy' : t.state === 'snapshotting' ? 'being copied' : 'being copied again'}`;
  }

  /** Checks the catalog (new, dropped, altered tables) at the next chance instead of at the next poll. */
  checkCatalog(): void {
    this.wantPoll = true;
    this.kick();
  }

  /** Null when the mirror is streaming (or disabled, or taking its first snapshot), else why it is not. */
  notReadyReason(): string | null {
    return this.sup.notReadyReason(this.cfg.enabled);
  }

  /** Resolves true once appliedLsn() >= lsn, false after timeoutMs. */
  async waitFor(lsn: string, timeoutMs: number): Promise<boolean> {
    const target = parseLsn(lsn);
    if (this.applied !== null && this.applied >= target) return true;
    return new Promise<boolean>((resolve) => {
      const onApplied = () => {
        if (this.applied !== null && this.applied >= target) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.off('applied', onApplied);
        resolve(v);
      };
      this.on('applied', onApplied);
      // a keepalive that confirms the position arrives within statusIntervalMs
      this.wantStatus = true;
      this.kick();
    });
  }

  /** Why the mirror is not running, when it is not (preconditions, connection, slot or lake busy). */
  get problem(): string | null {
    return this.sup.problem;
  }

  async start(): Promise<void> {
    if (!this.cfg.enabled) {
      this.sup.disabled();
      logger.info('mirror disabled (mirror.enabled = false)');
      return;
    }
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sup.cancel();
    // A start still under way stops at its next step (between tables of a snapshot); tearing its
    // connections down under it would leave it waiting forever, or DuckDB running while closed.
    if (this.starting) await this.starting.catch(() => undefined);
    if (this.recovering) await this.recovering.catch(() => undefined);
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.loopDone;
    if (this.sup.phase === 'streaming' && this.fatal === null) {
      try {
        if (this.batchCommits.length) await this.flush();
        if (this.manifest && this.applied !== null && this.applied > parseLsn(this.manifest.appliedLsn)) this.manifestDirty = true;
        await this.flushLake();
        this.sendStatus(false);
      } catch (e) {
        logger.error({ err: e }, 'mirror: error while stopping');
      }
    }
    for (const s of this.stages.values()) s.discard();
    this.stages.clear();
    await this.closeConnections();
    releaseLakeLock(this.lakeDir);
    this.sup.stopped();
  }

  // ---- supervision (supervisor.ts: the phases and the retry schedule) ------------------------------
  //
  // After a failure while streaming, what was applied is first made durable in the lake (DuckDB is
  // still there), so the next session resumes from that position keeping the serving tables; when that
  // is not possible the next session rebuilds them from the lake, as a restart of duckgate would.

  /** One attempt to start a session; when it fails, the next one is scheduled (the mirror never gives up). */
  private async attempt(): Promise<void> {
    if (this.stopped) return;
    this.sup.starting();
    this.fatal = null;
    const starting = this.startInner();
    this.starting = starting;
    try {
      await starting;
      // a connection that died while the session started (its error arrived between two steps)
      if (this.fatal) throw this.fatal;
      this.sup.streaming();
    } catch (e) {
      if (e instanceof StoppedError || this.stopped) {
        logger.info('mirror: stopped while starting');
        await this.closeConnections();
        return;
      }
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      this.dropPg();
      await this.loopDone;
      this.scheduleRetry(e as Error, 'could not start');
    } finally {
      if (this.starting === starting) this.starting = null;
    }
  }

  private scheduleRetry(e: Error, what: string): void {
    if (this.stopped) return;
    this.sup.retry(e, what, () => void this.attempt(), e instanceof LakeLockedError);
  }

  /** Ends the session's PostgreSQL connections now (late events from them are ignored). */
  private dropPg(): void {
    const repl = this.repl;
    const ctl = this.ctl;
    this.repl = null;
    this.ctl = null;
    this.stream = null;
    void repl?.end().catch(() => undefined);
    void ctl?.end().catch(() => undefined);
  }

  /** The staged, not yet applied part of the stream (the next session receives it again). */
  private discardStaged(): void {
    for (const s of this.stages.values()) s.discard();
    this.stages.clear();
    this.queue = [];
    this.qHead = 0;
    this.paused = false;
    this.inTx = null;
    this.batchCommits = [];
    this.batchRows = 0;
    this.needResync.clear();
    this.wantStatus = this.wantPoll = this.wantCompaction = false;
  }

  /** After the stream failed: keep what was applied (make it durable), end the connections, retry. */
  private async recover(e: Error): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.dropPg();
    await this.loopDone;
    this.discardStaged();
    this.resumable = false;
    if (this.manifest && this.duck && this.applied !== null) {
      try {
        await this.flushLake();
        this.resumable = true;
      } catch (e2) {
        logger.warn({ err: e2 }, 'mirror: could not make the applied changes durable after the failure; the serving tables are rebuilt from the lake');
      }
    }
    mirrorAppliedLsn.set(Number(this.durable));
    this.scheduleRetry(e, 'replication failed');
  }

  /** Forgets every table and serving copy (the next session rebuilds them from the lake). */
  private async resetState(): Promise<void> {
    for (const [key, rt] of this.rt) {
      if (!rt.served) continue;
      await this.duck?.run(`DROP TABLE IF EXISTS ${this.servingRef(rt.def.schema, rt.def.name)}`).catch((e: Error) => logger.warn({ table: key, err: e }, 'mirror: could not drop a serving table'));
    }
    this.rt.clear();
    this.byRelid.clear();
    this.relCols.clear();
    this.discardStaged();
    this.pending.clear();
    this.pendingRows = 0;
    this.manifest = null;
    this.manifestDirty = false;
    this.applied = null;
    this.durable = 0n;
    // temp tables of pending events die with the connection
    try {
      this.duck?.closeSync();
    } catch {
      /* already closed */
    }
    this.duck = null;
  }

  // ---- start ---------------------------------------------------------------------------------------

  private async startInner(): Promise<void> {
    // before anything else (a full disk fails the lake lock): a slot past the WAL ceiling, or one
    // PostgreSQL invalidated, is given up here, and this start then copies the tables again (retention.ts)
    if (this.cfg.maxRetainedWalBytes > 0 || this.cfg.walCheckMs > 0) await enforceRetention(this.opts.upstreamUrl, this.cfg);
    // (a failure before the session changes any state, e.g. PostgreSQL still down, keeps it resumable)
    const resume = this.resumable;
    acquireLakeLock(this.lakeDir);
    this.rules ??= parseMirrorRules(readRules([shippedRulesFile, ...this.opts.config.rules]).mirror);
    const ctl = controlClient(this.opts.upstreamUrl);
    this.ctl = ctl;
    // a control connection ended under us (pg_terminate_backend, a PostgreSQL restart) ends the session
    ctl.on('error', (e) => {
      if (this.ctl === ctl) this.onFatal(e);
    });
    await ctl.connect();
    const pre = await checkPreconditions(ctl, this.cfg.slotName, this.cfg.publicationName);
    if (!pre.ok) throw new Error(`preconditions failed: ${pre.problems.join('; ')}`);
    // another process streams from our slot (a second duckgate with the same mirror.slotName)
    const holder = await slotHolder(ctl, this.cfg.slotName);
    if (holder !== null)
      throw new Error(`replication slot ${this.cfg.slotName} is in use by PostgreSQL backend pid ${holder} (another duckgate with the same mirror.slotName?); waiting for it to be free`);
    this.checkStopped();
    const defs = await this.publish(await this.discover());
    this.checkStopped();
    await this.catalog.ensureGuard(ctl);
    this.streamMessages = Number((await ctl.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0) >= 140000;
    const repl = replicationClient(this.opts.upstreamUrl);
    this.repl = repl;
    repl.on('error', (e) => {
      if (this.repl === repl) this.onFatal(e);
    });
    await repl.connect();
    const sys = (await repl.query<{ systemid: string; dbname: string }>('IDENTIFY_SYSTEM')).rows[0]!;
    const slotRow = (
      await ctl.query<{ database: string; active: boolean }>('SELECT database::text, active FROM pg_replication_slots WHERE slot_name = $1', [this.cfg.slotName])
    ).rows[0];
    if (slotRow && slotRow.database !== sys.dbname) throw new Error(`replication slot ${this.cfg.slotName} belongs to database ${slotRow.database}; set mirror.slotName to a free name`);
    if (slotRow?.active) throw new Error(`replication slot ${this.cfg.slotName} is in use by another process`);

    const cur = this.manifest;
    if (resume && cur && this.duck && slotRow && cur.slot === this.cfg.slotName && cur.systemId === sys.systemid && cur.database === sys.dbname) {
      // the previous session's state is intact and durable: carry on from where it stopped
      logger.info({ from: formatLsn(this.durable) }, 'mirror: reconnected; resuming the stream');
      this.resumable = false;
      await this.reconcile(defs);
      this.checkStopped();
      this.applied = this.durable;
    } else {
      this.resumable = false;
      await this.resetState();
      this.duck = await this.opts.duckdb.connect();
      let m = readManifest(this.lakeDir);
      if (m && (m.slot !== this.cfg.slotName || m.systemId !== sys.systemid || m.database !== sys.dbname || !slotRow)) {
        logger.warn({ slot: this.cfg.slotName }, 'mirror: the lake does not belong to this upstream/slot (or the slot was dropped): taking a new snapshot');
        m = null;
      }
      if (!m) {
        for (const d of listDirs(this.lakeDir)) removeInLake(this.lakeDir, join(this.lakeDir, d), { recursive: true });
        removeInLake(this.lakeDir, join(this.lakeDir, '_manifest.json'));
        if (slotRow) await ctl.query('SELECT pg_drop_replication_slot($1)', [this.cfg.slotName]);
      }
      removeOrphans(this.lakeDir, m);
      mkdirSync(this.tmpDir, { recursive: true });

      this.checkStopped();
      if (!m) {
        m = await this.initialSnapshot(defs, sys);
      } else {
        this.manifest = m;
        await this.loadServing(m);
        await this.reconcile(defs);
      }
      this.checkStopped();
      this.applied = parseLsn(m.appliedLsn);
      this.durable = this.applied;
    }
    // the serving tables were just built: write them out of DuckDB's WAL now (a file database; a no-op
    // in memory), so the WAL does not hold a second copy of them until the next automatic checkpoint
    await this.duck?.run('CHECKPOINT').catch(() => undefined);
    mirrorAppliedLsn.set(Number(this.applied));
    // from here on the session's state is consistent: a failure can resume from it
    this.resumable = true;
    await this.startStreaming(this.applied);
    this.timers.push(
      setInterval(() => {
        this.wantStatus = true;
        this.kick();
      }, this.cfg.statusIntervalMs),
    );
    if (this.cfg.compactionIntervalMs > 0)
      this.timers.push(
        setInterval(() => {
          this.wantCompaction = true;
          this.kick();
        }, this.cfg.compactionIntervalMs),
      );
    if (this.cfg.walCheckMs > 0) this.timers.push(retentionTimer(this.opts.upstreamUrl, this.cfg));
    if (this.cfg.catalogPollMs > 0)
      this.timers.push(
        setInterval(() => {
          this.wantPoll = true;
          this.kick();
        }, this.cfg.catalogPollMs),
      );
    for (const t of this.timers) t.unref();
    this.emit('applied', { lsn: formatLsn(this.applied), tables: [...this.rt.keys()] });
  }

  /** The tables to mirror (catalog-sync.ts); the others are noted in status().skipped. */
  private discover(): Promise<TableDef[]> {
    return this.catalog.discover(this.ctl!, this.rules);
  }

  /** Puts `defs` into the publication; returns those that are in it (the others are retried later). */
  private publish(defs: TableDef[]): Promise<TableDef[]> {
    return this.catalog.publish(this.ctl!, defs);
  }

  private async initialSnapshot(defs: TableDef[], sys: { systemid: string; dbname: string }): Promise<Manifest> {
    const r = (
      await this.repl!.query<{ consistent_point: string; snapshot_name: string }>(
        `CREATE_REPLICATION_SLOT ${pgIdent(this.cfg.slotName)} LOGICAL pgoutput (SNAPSHOT 'export')`,
      )
    ).rows[0]!;
    logger.info({ slot: this.cfg.slotName, lsn: r.consistent_point, tables: defs.length }, 'mirror: slot created, taking the initial snapshot');
    const m: Manifest = {
      version: 1,
      slot: this.cfg.slotName,
      database: sys.dbname,
      systemId: sys.systemid,
      appliedLsn: r.consistent_point,
      generation: 0,
      tables: {},
    };
    this.manifest = m;
    for (const d of defs) this.rt.set(tableKey(d.schema, d.name), { def: d, state: 'snapshotting', validFrom: parseLsn(r.consistent_point), lastAppliedAt: null, served: false });
    await this.copyTables(this.ctl!, r.snapshot_name, defs, r.consistent_point);
    writeManifest(this.lakeDir, m);
    return m;
  }

  /** Copies tables inside a transaction on `snapshot` into new base files and serving tables. */
  private async copyTables(c: pg.Client, snapshot: string, defs: TableDef[], validFrom: string): Promise<void> {
    const m = this.manifest!;
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      await c.query(`SET TRANSACTION SNAPSHOT ${sqlString(snapshot)}`);
      for (const d of defs) {
        this.checkStopped();
        const key = tableKey(d.schema, d.name);
        const gen = ++m.generation;
        const old = m.tables[key];
        let files: string[] = [];
        let state: 'ready' | 'error' = 'ready';
        let error: string | undefined;
        let dropped = false;
        // the serving copy is filled chunk by chunk while the snapshot streams (no second pass over the
        // Parquet afterwards), in a staging table that replaces the served one in one DuckDB transaction
        const staging = `${duckIdent(d.schema)}.${duckIdent(`_dg_snapshot_g${gen}`)}`;
        // One table's failure (dropped meanwhile, a value that does not convert, …) must not abort the
        // shared snapshot transaction and fail the tables after it: each table is copied under its own
        // savepoint and a failure rolls back to it. When even that fails, the transaction or the
        // connection is broken and the whole copy fails (the session is retried).
        await c.query('SAVEPOINT dg_table');
        try {
          await this.duck!.run(`CREATE SCHEMA IF NOT EXISTS ${duckIdent(d.schema)}`);
          await this.duck!.run(createTableSql(staging, d));
          files = (await snapshotTable(c, this.duck!, this.lakeDir, d, gen, this.cfg.snapshotChunkRows, staging)).files;
          await c.query('RELEASE SAVEPOINT dg_table');
        } catch (e) {
          if (e instanceof StoppedError) throw e;
          try {
            await c.query('ROLLBACK TO SAVEPOINT dg_table');
          } catch {
            throw e;
          }
          state = 'error';
          error = (e as Error).message;
          dropped = (e as { code?: string }).code === '42P01';
        }
        m.tables[key] = { relid: d.relid, schema: d.schema, name: d.name, columns: d.columns, key: d.key, partitionBy: d.partitionBy, state, error, validFrom, base: files, deltas: [] };
        if (old) this.dropFilesLater(old);
        this.byRelid.set(d.relid, key);
        const prev = this.rt.get(key);
        const rt: Runtime = { ...newLife(prev?.state ?? 'snapshotting'), ...(prev ? { lastError: prev.lastError, failures: prev.failures, retryAt: prev.retryAt } : {}), def: d, validFrom: parseLsn(validFrom), lastAppliedAt: Date.now(), served: false };
        this.rt.set(key, rt);
        if (state === 'ready') {
          await this.swapServing(staging, m.tables[key]!, rt);
          onCopied(rt);
        } else {
          await this.duck!.run(`DROP TABLE IF EXISTS ${staging}`).catch(() => undefined);
          const delay = onFailed(rt, `snapshot failed: ${error}`, this.retry);
          // dropped while it was being copied (DDL churn): ordinary, and forgotten at the retry
          if (dropped) logger.info({ table: key, retryInMs: delay }, 'mirror: table dropped while it was being copied');
          else logger.error({ table: key, err: error, retryInMs: delay }, 'mirror: snapshot of table failed; the table is not served (statements go to PostgreSQL) and is copied again later');
        }
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  private servingRef(schema: string, name: string): string {
    return `${duckIdent(schema)}.${duckIdent(name)}`;
  }

  private async buildServing(t: ManifestTable, rt: Runtime): Promise<void> {
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
  private async swapServing(staging: string, t: ManifestTable, rt: Runtime): Promise<void> {
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

  private async loadServing(m: Manifest): Promise<void> {
    for (const [key, t] of Object.entries(m.tables)) {
      const rt: Runtime = { def: tableDefOf(t), state: t.state, validFrom: parseLsn(t.validFrom), lastAppliedAt: Date.now(), served: false };
      this.rt.set(key, rt);
      this.byRelid.set(t.relid, key);
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

  /** After a restart: tables added, dropped, renamed or changed while we were away. */
  private async reconcile(defs: TableDef[]): Promise<void> {
    const m = this.manifest!;
    const want = new Map(defs.map((d) => [tableKey(d.schema, d.name), d]));
    for (const key of Object.keys(m.tables)) {
      const d = want.get(key);
      if (!d || d.relid !== m.tables[key]!.relid) await this.removeTable(key);
    }
    // (after a reconnect) tables known only in memory: a copy the failure interrupted
    for (const key of [...this.rt.keys()]) if (!m.tables[key] && !want.has(key)) await this.removeTable(key);
    const resync: TableDef[] = [];
    for (const [key, d] of want) {
      const t = m.tables[key];
      // (after a reconnect) a table whose copy was under way, or that failed, is copied again now
      const rs = this.rt.get(key)?.state;
      const unfinished = rs !== undefined && rs !== 'ready';
      if (!t || unfinished || !sameColumns(t.columns, d.columns) || t.key.join('\0') !== d.key.join('\0') || t.state === 'error' || JSON.stringify(t.partitionBy) !== JSON.stringify(d.partitionBy)) resync.push(d);
    }
    if (resync.length) await this.resync(resync);
    writeManifest(this.lakeDir, m);
  }

  private async removeTable(key: string): Promise<void> {
    const m = this.manifest!;
    const t = m.tables[key];
    const rt = this.rt.get(key);
    if (rt?.served || t) await this.duck!.run(`DROP TABLE IF EXISTS ${this.servingRef(t?.schema ?? rt!.def.schema, t?.name ?? rt!.def.name)}`);
    if (t) {
      delete m.tables[key];
      this.byRelid.delete(t.relid);
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

  /**
   * Re-snapshots tables at a new consistent point (a temporary slot's exported snapshot) while the main
   * stream goes on: their events committed before that point are then skipped, later ones applied.
   */
  private async resync(defs: TableDef[]): Promise<void> {
    for (const d of defs) {
      const key = tableKey(d.schema, d.name);
      const rt = this.rt.get(key);
      if (rt) onEvent(rt, 'resync');
      else this.rt.set(key, { ...newLife('snapshotting'), def: d, validFrom: 0n, lastAppliedAt: null, served: false });
      this.stages.get(key)?.discard();
      this.stages.delete(key);
    }
    const r = replicationClient(this.opts.upstreamUrl, 'duckgate-mirror-resync');
    const c = controlClient(this.opts.upstreamUrl, 'duckgate-mirror-resync');
    // a pg Client without an 'error' listener throws the error at the process when its connection is
    // killed while idle: the failure surfaces in the query that runs next instead
    r.on('error', (e) => logger.warn({ err: e }, 'mirror: re-snapshot replication connection lost'));
    c.on('error', (e) => logger.warn({ err: e }, 'mirror: re-snapshot connection lost'));
    try {
      await r.connect();
      await c.connect();
      const slot = `${this.cfg.slotName}_rs_${process.pid}_${Date.now() % 1e8}`;
      const res = (
        await r.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${pgIdent(slot)} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`)
      ).rows[0]!;
      logger.info({ tables: defs.map((d) => tableKey(d.schema, d.name)), lsn: res.consistent_point }, 'mirror: re-snapshotting tables');
      await this.copyTables(c, res.snapshot_name, defs, res.consistent_point);
      writeManifest(this.lakeDir, this.manifest!);
    } finally {
      await c.end().catch(() => undefined);
      await r.end().catch(() => undefined); // drops the temporary slot
    }
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

  private async startStreaming(from: Lsn): Promise<void> {
    const pubs = sqlString(pgIdent(this.cfg.publicationName));
    // messages: the replica-identity guard's logical messages (guard.ts) arrive in the stream
    const text = `START_REPLICATION SLOT ${pgIdent(this.cfg.slotName)} LOGICAL ${formatLsn(from)} (proto_version '1', publication_names ${pubs}${this.streamMessages ? ", messages 'true'" : ''})`;
    // a new stream starts from a clean queue: nothing of an earlier session's stream is left to apply
    this.discardStaged();
    // events of a stream of an earlier session (ended after a failure) are ignored
    const stream: ReplicationStream = new ReplicationStream(text, (b) => {
      if (this.stream === stream) this.onPayload(b);
    });
    this.stream = stream;
    // the connection may have been lost (and dropped) between the start's last step and this one
    if (!this.repl) throw this.fatal ?? new Error('replication connection lost while starting');
    void this.repl.query(stream as unknown as pg.QueryConfig);
    stream.finished.then(
      () => {
        if (!this.stopped && this.stream === stream) this.onFatal(new Error('replication stream ended'));
      },
      (e: Error) => {
        if (!this.stopped && this.stream === stream) this.onFatal(e);
      },
    );
    logger.info({ slot: this.cfg.slotName, from: formatLsn(from) }, 'mirror: streaming changes');
  }

  /**
   * The session failed (a connection killed or lost, the stream ended, an apply step threw): nothing is
   * served from here on (tables() reports no applied position), and the mirror reconnects after a backoff,
   * resuming from the last durable position. Nothing is lost or applied twice: transactions the stream
   * sends again below the applied position are skipped.
   */
  private onFatal(e: Error): void {
    if (this.stopped || this.fatal) return;
    this.fatal = e;
    if (this.sup.phase === 'starting') {
      // the start under way fails at its next step and schedules the retry itself
      this.dropPg();
      return;
    }
    if (this.sup.phase !== 'streaming') return;
    this.sup.failing(e);
    const p: Promise<void> = this.recover(e)
      .catch((e2: Error) => {
        logger.error({ err: e2 }, 'mirror: recovery failed');
        this.resumable = false;
        this.scheduleRetry(e, 'replication failed');
      })
      .finally(() => {
        if (this.recovering === p) this.recovering = null;
      });
    this.recovering = p;
  }

  private async closeConnections(): Promise<void> {
    await this.repl?.end().catch(() => undefined);
    await this.ctl?.end().catch(() => undefined);
    this.repl = null;
    this.ctl = null;
    try {
      this.duck?.closeSync();
    } catch {
      /* already closed */
    }
    this.duck = null;
  }

  // ---- stream processing ---------------------------------------------------------------------------

  private onPayload(b: Buffer): void {
    this.queue.push(b);
    if (!this.paused && this.queue.length - this.qHead > 20_000) {
      this.paused = true;
      this.stream?.pause();
    }
    this.kick();
  }

  private kick(): void {
    if (this.looping || this.stopped || this.fatal || !this.stream) return;
    this.looping = true;
    this.loopDone = this.loop().finally(() => {
      this.looping = false;
      if (this.queue.length > this.qHead && !this.stopped && !this.fatal) this.kick();
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.qHead < this.queue.length && !this.stopped) {
        const b = this.queue[this.qHead++]!;
        if (this.qHead > 4096 && this.qHead * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.qHead);
          this.qHead = 0;
        }
        await this.handleCopyData(b);
        if (this.paused && this.queue.length - this.qHead < 2_000) {
          this.paused = false;
          this.stream?.resume();
        }
      }
      if (this.batchCommits.length && !this.inTx) await this.flush();
      if (!this.inTx && this.batchCommits.length === 0) await this.maintenance();
    } catch (e) {
      this.onFatal(e as Error);
    }
  }

  private async handleCopyData(b: Buffer): Promise<void> {
    const msg = decodeReplicationMessage(b);
    switch (msg.tag) {
      case 'keepalive':
        this.serverWalEnd = msg.walEnd;
        if (!this.inTx && this.batchCommits.length === 0 && this.qHead >= this.queue.length) this.advanceIdle(msg.walEnd);
        if (msg.replyRequested) this.wantStatus = true;
        return;
      case 'xlogdata':
        if (msg.walEnd > this.serverWalEnd) this.serverWalEnd = msg.walEnd;
        await this.handlePgOutput(decodePgOutput(msg.payload));
        return;
    }
  }

  /** Nothing pending and the server has sent everything before `lsn`: the mirror is current up to it. */
  private advanceIdle(lsn: Lsn): void {
    if (this.applied === null || lsn <= this.applied) return;
    this.applied = lsn;
    this.manifestDirty = true;
    const now = Date.now();
    for (const r of this.rt.values()) if (r.state === 'ready') r.lastAppliedAt = now;
    mirrorAppliedLsn.set(Number(lsn));
    this.emit('applied', { lsn: formatLsn(lsn), tables: [] as string[] });
  }

  private async handlePgOutput(msg: PgOutputMessage): Promise<void> {
    switch (msg.tag) {
      case 'begin':
        // already applied (a restart resends from the confirmed LSN): skip, applying is idempotent by LSN
        this.inTx = { commitLsn: msg.finalLsn, commitTime: msg.commitTime, skip: this.applied !== null && msg.finalLsn < this.applied };
        if (this.batchCommits.length === 0 && this.batchRows === 0) this.batchStartedAt = Date.now();
        return;
      case 'commit': {
        const tx = this.inTx;
        this.inTx = null;
        if (!tx || tx.skip) return;
        this.batchCommits.push({ endLsn: msg.endLsn, commitTime: msg.commitTime });
        // Adaptive batching: apply at once when nothing more has arrived (low latency when keeping up).
        // When behind, a batch may grow for as long as the last one took to apply (at least batchMaxMs):
        // a batch's fixed cost (a few DuckDB statements) is then spread over many more rows, so the
        // apply rate catches up instead of each small batch costing more than the time it covers.
        const idle = this.qHead >= this.queue.length;
        const maxAge = Math.max(this.cfg.batchMaxMs, this.lastFlushMs);
        if (idle || this.batchRows >= this.cfg.batchMaxRows || Date.now() - this.batchStartedAt >= maxAge) await this.flush();
        return;
      }
      case 'relation':
        this.onRelation(msg);
        return;
      case 'insert':
      case 'update':
      case 'delete':
        this.onRowChange(msg);
        return;
      case 'truncate':
        if (this.inTx?.skip) return;
        for (const relid of msg.relids) {
          const key = this.byRelid.get(relid);
          const rt = key ? this.rt.get(key) : undefined;
          if (!key || !rt || !this.accepts(rt)) continue;
          this.stage(key).truncate();
          this.batchRows++;
        }
        return;
      case 'message':
        this.onMessage(msg);
        return;
      case 'origin':
      case 'type':
        return;
    }
  }

  /**
   * The replica-identity guard (guard.ts) removed a table from the publication in this transaction: from
   * here on its changes are not in the stream, so it stops being served at this very point (the
   * freshness fence orders every later read after it) and is dropped from the mirror after the batch.
   */
  private onMessage(msg: Extract<PgOutputMessage, { tag: 'message' }>): void {
    if (!msg.transactional || this.inTx?.skip) return;
    const relid = guardMessageRelid(this.cfg.publicationName, msg.prefix, msg.content);
    if (relid === null) return;
    const key = this.byRelid.get(relid);
    const rt = key ? this.rt.get(key) : undefined;
    if (!key || !rt) return;
    onEvent(rt, 'failed');
    rt.lastError = "removed from the publication by duckgate's guard (it lost its primary key or replica identity, or is being made UNLOGGED); mirrored again once it can be";
    rt.retryAt = null;
    this.stages.get(key)?.discard();
    this.stages.delete(key);
    this.needResync.add(key);
    logger.warn({ table: key }, `mirror: ${key} ${rt.lastError}`);
  }

  private accepts(rt: Runtime): boolean {
    if (!this.inTx || this.inTx.skip) return false;
    if (rt.state === 'error' || this.needResync.has(tableKey(rt.def.schema, rt.def.name))) return false;
    return this.inTx.commitLsn >= rt.validFrom;
  }

  private onRelation(msg: Extract<PgOutputMessage, { tag: 'relation' }>): void {
    this.relCols.set(msg.relid, msg.columns);
    const known = this.byRelid.get(msg.relid);
    const key = tableKey(msg.schema, msg.name);
    if (known && known !== key) {
      // renamed: follow it under the new name (re-snapshot), drop the old
      this.needResync.add(known);
      return;
    }
    const rt = this.rt.get(key);
    if (!rt) return;
    this.byRelid.set(msg.relid, key);
    const same =
      msg.columns.length === rt.def.columns.length &&
      msg.columns.every((c, i) => c.name === rt.def.columns[i]!.name && c.typeOid === rt.def.columns[i]!.typeOid && c.typmod === rt.def.columns[i]!.typmod);
    if (!same && !(this.inTx?.skip || (this.inTx && this.inTx.commitLsn < rt.validFrom))) {
      logger.info({ table: key }, 'mirror: table definition changed upstream; re-snapshotting it');
      this.needResync.add(key);
      this.stages.get(key)?.discard();
    }
  }

  private stage(key: string): TableStage {
    let s = this.stages.get(key);
    if (!s) {
      s = new TableStage(stagePath(this.tmpDir, this.stages.size, this.batchNo));
      this.stages.set(key, s);
    }
    return s;
  }

  private onRowChange(msg: Extract<PgOutputMessage, { tag: 'insert' | 'update' | 'delete' }>): void {
    const key = this.byRelid.get(msg.relid);
    const rt = key ? this.rt.get(key) : undefined;
    if (!key || !rt || !this.accepts(rt)) return;
    const cols = rt.def.columns;
    const keyIdx = rt.def.key.map((k) => cols.findIndex((c) => c.name === k));
    const s = this.stage(key);
    const lsn = this.inTx!.commitLsn.toString();
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
    switch (msg.tag) {
      case 'insert':
        s.add(line('I', msg.tuple, null, null));
        break;
      case 'update': {
        let oldKey: TupleValue[] | null = null;
        if (msg.old) {
          const changed = keyIdx.some((i) => {
            const a = msg.old!.tuple[i];
            const b = msg.tuple[i];
            return !(a?.kind === 'text' && b?.kind === 'text' && a.value === b.value);
          });
          if (changed) {
            // primary key change: the old key's row goes away
            s.add(line('D', null, msg.old.tuple, null));
            oldKey = msg.old.tuple;
          }
        }
        s.add(line('I', msg.tuple, null, oldKey));
        break;
      }
      case 'delete':
        s.add(line('D', null, msg.old.tuple, null));
        break;
    }
    this.batchRows++;
  }

  // ---- applying a batch ----------------------------------------------------------------------------

  /**
   * Makes every staged committed transaction visible: each table's events are loaded into a typed DuckDB
   * temp table, then ALL tables of the batch are changed in ONE DuckDB transaction (readers see all of
   * the batch or none of it) and appliedLsn moves. Durability is decoupled from visibility (group
   * commit): the temp tables stay pending until flushLake() writes them as delta Parquet files, fsyncs
   * them and the manifest, and only then tells the slot the new flushed LSN. A crash before that loses
   * only the in-memory serving copy, which is rebuilt from the lake, and the slot replays from the last
   * durable LSN: nothing is lost or duplicated. Measured (bench/mirror.ts): the per-batch Parquet write
   * + 3 fsyncs were most of a batch's time; visibility no longer waits for them.
   */
  private async flush(): Promise<void> {
    const commits = this.batchCommits;
    if (commits.length === 0) return;
    const m = this.manifest!;
    const endLsn = commits[commits.length - 1]!.endLsn;
    const duck = this.duck!;
    const ph = phaseTimer();
    const queued = this.queue.length - this.qHead;
    type Applied = { key: string; ev: string | null; truncated: boolean; rows: number; t: ManifestTable; load: string[] };
    let applied: Applied[] = [];
    for (const [key, s] of this.stages) {
      const t = m.tables[key];
      const rt = this.rt.get(key);
      if (!t || !rt || rt.state === 'error' || this.needResync.has(key)) {
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
    ph.mark('load+serving');
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
        this.applied = endLsn;
        await this.flushLake();
        for (const a of applied) {
          const rt = this.rt.get(a.key);
          if (rt && rt.state !== 'error') await this.buildServing(a.t, rt).catch((e2: Error) => this.tableError(a.key, e2));
        }
        logger.warn({ err: e }, 'mirror: applying a batch to DuckDB failed; serving tables rebuilt from the lake');
      }
    }
    ph.mark('serving');
    this.applied = endLsn;
    this.manifestDirty = true;
    const now = Date.now();
    const touched = applied.map((a) => a.key);
    for (const a of applied) {
      mirrorRowsApplied.inc({ table: a.key }, a.rows);
      mirrorLagBytes.set({ table: a.key }, Number(this.serverWalEnd > endLsn ? this.serverWalEnd - endLsn : 0n));
    }
    for (const r of this.rt.values()) if (r.state === 'ready') r.lastAppliedAt = now;
    for (const r of this.rt.values()) if (r.state === 'resyncing' && endLsn >= r.validFrom) r.state = 'ready';
    for (const c of commits) {
      const commitMs = Number(c.commitTime / 1000n) + PG_EPOCH_MS;
      mirrorApplyLatency.observe(Math.max(0, now - commitMs) / 1000);
    }
    const lastCommitMs = Number(commits[commits.length - 1]!.commitTime / 1000n) + PG_EPOCH_MS;
    for (const k of touched) mirrorLagSeconds.set({ table: k }, Math.max(0, now - lastCommitMs) / 1000);
    mirrorTransactionsApplied.inc(commits.length);
    mirrorAppliedLsn.set(Number(endLsn));
    const ms = ph.done();
    this.lastFlushMs = ms.total!;
    logger.debug({ commits: commits.length, rows: this.batchRows, queued, ageMs: Date.now() - this.batchStartedAt, ms }, 'mirror: batch applied');
    this.batchCommits = [];
    this.batchRows = 0;
    this.emit('applied', { lsn: formatLsn(endLsn), tables: touched });
    if (this.pendingRows >= this.cfg.batchMaxRows || Date.now() - this.lastLakeFlush >= this.cfg.durableIntervalMs) await this.flushLake();
    if (this.needResync.size) await this.doResyncs();
  }

  /**
   * Group commit to the lake: everything applied so far (pending event tables) becomes delta Parquet
   * files, fsync'd, then the manifest (atomic, fsync'd) names them with appliedLsn; from here it is
   * durable and the slot is told so. One fsync per file and per folder, one manifest per flush.
   */
  private async flushLake(): Promise<void> {
    this.lastLakeFlush = Date.now();
    const m = this.manifest;
    if (!m || this.applied === null) return;
    if (this.pending.size === 0 && !this.manifestDirty) return;
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
          file = join(dir, `${lsnKey(this.applied)}_${++m.generation}.parquet`);
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
    m.appliedLsn = formatLsn(this.applied);
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
    this.durable = this.applied;
    this.manifestDirty = false;
    this.sendStatus(false);
    if (drops.length) await duck.run(drops.map((e) => `DROP TABLE IF EXISTS ${e};`).join(' '));
    logger.debug({ files: written.length, ms: ph.done() }, 'mirror: lake flushed (durable)');
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

  private tableError(key: string, e: Error): void {
    const rt = this.rt.get(key);
    const delay = rt ? onFailed(rt, `a change could not be applied: ${e.message}`, this.retry) : null;
    const t = this.manifest?.tables[key];
    if (t) {
      t.state = 'error';
      t.error = e.message;
    }
    logger.error({ table: key, err: e, retryInMs: delay }, 'mirror: a change could not be applied to this table; it is no longer served (statements go to PostgreSQL) and is copied again later');
  }

  private async doResyncs(): Promise<void> {
    // the lake is brought up to date first, so a re-snapshot never races pending events
    await this.flushLake();
    const keys = [...this.needResync];
    this.needResync.clear();
    // only tables that are in the publication are copied (the changes of the others would not arrive)
    const defs = await this.publish(await this.discover());
    const byRelid = new Map(defs.map((d) => [d.relid, d]));
    const todo: TableDef[] = [];
    for (const k of keys) {
      const rt = this.rt.get(k);
      if (!rt) continue;
      const d = byRelid.get(rt.def.relid);
      if (!d || tableKey(d.schema, d.name) !== k) await this.removeTable(k);
      if (d && !todo.some((x) => x.relid === d.relid)) todo.push(d);
    }
    if (todo.length) await this.resync(todo);
  }

  // ---- maintenance (runs in the loop between batches) ----------------------------------------------

  private async maintenance(): Promise<void> {
    // tables that failed are copied again once their backoff has passed
    let inError = 0;
    for (const [key, rt] of this.rt) {
      if (rt.state === 'error') inError++;
      if (retryDue(rt)) this.needResync.add(key);
    }
    mirrorTablesInError.set(inError);
    if (this.needResync.size) await this.doResyncs();
    if (this.wantStatus) {
      this.wantStatus = false;
      // durable first (pending batches and the idle position), then the slot hears about it; at most
      // once per durableIntervalMs (a fast status interval must not turn into an fsync storm)
      if (Date.now() - this.lastLakeFlush >= this.cfg.durableIntervalMs) await this.flushLake();
      this.sendStatus(true);
    }
    if (this.wantPoll) {
      this.wantPoll = false;
      await this.pollCatalog();
    }
    if (this.wantCompaction) {
      this.wantCompaction = false;
      await this.compact(this.cfg.compactionMinDeltaFiles);
    }
  }

  private sendStatus(replyRequested: boolean): void {
    if (!this.stream || this.fatal) return;
    // flushed = everything durable in the lake: the upstream may recycle WAL before it
    this.stream.send(encodeStandbyStatus(this.durable, this.durable, this.durable, pgNowMicros(), replyRequested));
  }

  /** New, dropped, renamed or altered tables (DDL is not in the change stream). */
  private async pollCatalog(): Promise<void> {
    await this.flushLake();
    const defs = await this.discover();
    const found = new Map(defs.map((d) => [tableKey(d.schema, d.name), d]));
    for (const [key, rt] of [...this.rt]) {
      const d = found.get(key);
      if (!d || d.relid !== rt.def.relid) await this.removeTable(key);
    }
    // a table dropped (or otherwise refused) between discovery and ALTER PUBLICATION is left out
    const published = await this.publish(defs);
    const todo: TableDef[] = [];
    for (const d of published) {
      const rt = this.rt.get(tableKey(d.schema, d.name));
      if (!rt || !sameColumns(rt.def.columns, d.columns) || rt.def.key.join('\0') !== d.key.join('\0') || retryDue(rt)) todo.push(d);
    }
    if (todo.length) await this.resync(todo);
    const r = (
      await this.ctl!.query<{ retained: string | null }>(
        'SELECT (pg_current_wal_lsn() - restart_lsn)::int8::text AS retained FROM pg_replication_slots WHERE slot_name = $1',
        [this.cfg.slotName],
      )
    ).rows[0];
    if (r?.retained) mirrorRetainedWalBytes.set(Number(r.retained));
    mirrorLakeBytes.set(lakeSizeBytes(this.lakeDir));
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
function phaseTimer(): { mark(name: string): void; done(): Record<string, number> } {
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

function sameColumns(a: ColumnDef[], b: ColumnDef[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]!.name && c.typeOid === b[i]!.typeOid && c.typmod === b[i]!.typmod);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSyncSafe(dir).filter((d) => d.isDirectory()).map((d) => d.name);
}

import { readdirSync, type Dirent } from 'node:fs';
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

export { fileList, describeColumns };

/**
 * Columns whose values the mirror holds as text that Postgres does not compare as text: enum labels
 * (equal alike, ordered by declaration in Postgres), arrays of them, and json/jsonb (jsonb compares numbers by value,
 * '1.0' = '1.00', and orders by its own rules; json has no comparison at all).
 */
function textComparison(c: ColumnDef): 'equality' | 'none' | undefined {
  // (an array of enums too: compared with a literal it is parsed as an enum array by Postgres only)
  if (c.baseOid === 114 || c.baseOid === 3802 || c.elemOid === 114 || c.elemOid === 3802 || c.elemTyptype === 'e') return 'none';
  if (c.typtype === 'e') return 'equality';
  return undefined;
}
