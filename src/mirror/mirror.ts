// The Mirror: snapshot + pgoutput change stream → Parquet lake (durable truth) + native DuckDB tables
// (serving copy). See index.ts for the contract and the design notes.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import type { Config } from '../config/schema.js';
import { readRules, shippedRulesFile } from '../config/rules.js';
import { logger } from '../observability/logger.js';
import { mirrorAppliedLsn, mirrorLakeBytes, mirrorRetainedWalBytes } from '../observability/metrics.js';
import { ApplyLoop } from './apply.js';
import { checkPreconditions, describeColumns, slotHolder, tableKey, type ColumnDef, type SkippedTable, type TableDef } from './catalog.js';
import type { BackoffPolicy } from './backoff.js';
import { StoppedError, Supervisor, type MirrorPhase } from './supervisor.js';
import { MirrorCatalog } from './catalog-sync.js';
import { DuckDbDestination, listDirs } from './duckdb-destination.js';
import { newLife, onCopied, onEvent, onFailed, retryDue, TableRegistry, type TableRuntime, type TableState } from './lifecycle.js';
import { acquireLakeLock, LakeLockedError, releaseLakeLock } from './lock.js';
import { duckIdent, fileList, lakeSizeBytes, readManifest, removeOrphans, writeManifest, type Manifest } from './lake.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';
import { controlClient, replicationClient, ReplicationStream } from './pgconn.js';
import { parseMirrorRules, type MirrorRules } from './rules.js';
import { enforceRetention, retentionTimer } from './retention.js';
import { removeInLake } from './paths.js';
import { pgIdent, sqlString } from './types.js';

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
  columns: Array<{ name: string; pgType: string; typeOid: number; typmod: number; attnum?: number; exact: boolean; compares?: 'equality' | 'none' }>;
  /** the Postgres relation (pg_class oid) the mirror copied: a same-named table made later is another */
  relid: number;
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

export class Mirror extends EventEmitter {
  private readonly cfg: Config['mirror'];
  private readonly lakeDir: string;
  private readonly tmpDir: string;
  private rules!: MirrorRules;
  private ctl: pg.Client | null = null;
  private repl: pg.Client | null = null;
  /** the mirrored tables, shared by the apply loop and the destination (lifecycle.ts) */
  private readonly rt = new TableRegistry();
  /** the serving tables and the lake (duckdb-destination.ts) */
  private readonly dest: DuckDbDestination;
  /** the stream, its transactions and batches, the confirmed position (apply.ts) */
  private readonly loop: ApplyLoop;
  private stopped = false;
  /** the start in progress (settles once started, failed or stopped) */
  private starting: Promise<void> | null = null;

  private checkStopped(): void {
    if (this.stopped) throw new StoppedError();
  }
  private timers: NodeJS.Timeout[] = [];

  private wantCompaction = false;
  private wantPoll = false;
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
    this.dest = new DuckDbDestination({
      lakeDir: this.lakeDir,
      tmpDir: this.tmpDir,
      snapshotChunkRows: this.cfg.snapshotChunkRows,
      tables: this.rt,
      tableFailed: (key, e) => {
        const rt = this.rt.get(key);
        const delay = rt ? onFailed(rt, `a change could not be applied: ${e.message}`, this.retry) : null;
        logger.error({ table: key, err: e, retryInMs: delay }, 'mirror: a change could not be applied to this table; it is no longer served (statements go to PostgreSQL) and is copied again later');
      },
    });
    this.loop = new ApplyLoop(
      this.dest,
      this.rt,
      { batchMaxRows: this.cfg.batchMaxRows, batchMaxMs: this.cfg.batchMaxMs, durableIntervalMs: this.cfg.durableIntervalMs, publicationName: this.cfg.publicationName },
      {
        stopped: () => this.stopped,
        failed: () => this.fatal !== null,
        fail: (e) => this.onFatal(e),
        applied: (lsn, tables) => this.emit('applied', { lsn: formatLsn(lsn), tables }),
        decoded: () => this.emit('decoded'),
        resync: () => this.doResyncs(),
        maintenance: () => this.maintenance(),
      },
    );
  }

  // ---- public API ----------------------------------------------------------------------------------

  appliedLsn(): string | null {
    return this.loop.applied === null ? null : formatLsn(this.loop.applied);
  }

  tables(): MirroredTable[] {
    const out: MirroredTable[] = [];
    // while the mirror is not streaming (reconnecting) nothing is servable: appliedLsn is null, so reads
    // go to PostgreSQL at once instead of each waiting for a position that cannot arrive
    const live = this.sup.phase === 'streaming';
    for (const r of this.rt.values()) {
      const ready = live && r.state === 'ready' && this.loop.applied !== null && this.loop.applied >= r.validFrom;
      out.push({
        schema: r.def.schema,
        name: r.def.name,
        state: r.state === 'ready' && !ready ? 'resyncing' : r.state,
        appliedLsn: ready ? formatLsn(this.loop.applied!) : null,
        lastAppliedAt: ready ? r.lastAppliedAt : null,
        columns: r.def.columns.map((c) => ({ name: c.name, pgType: c.pgType, typeOid: c.typeOid, typmod: c.typmod, attnum: c.attnum, exact: c.mapping.exact, compares: textComparison(c) })),
        relid: r.def.relid,
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
    this.loop.kick();
  }

  /** Null when the mirror is streaming (or disabled, or taking its first snapshot), else why it is not. */
  notReadyReason(): string | null {
    return this.sup.notReadyReason(this.cfg.enabled);
  }

  /**
   * Whether DuckDB holds every change committed before `lsn` to these tables ('schema.name' as the
   * router writes them; all tables when none are given): see ApplyLoop.currentFor.
   */
  currentFor(lsn: string, tables?: readonly string[]): boolean {
    const target = parseLsn(lsn);
    if (this.loop.applied !== null && this.loop.applied >= target) return true;
    const keys = tables?.map((t) => {
      const dot = t.indexOf('.');
      return tableKey(t.slice(0, dot), t.slice(dot + 1));
    });
    // a name the mirror does not know as written (a schema with a dot in it): everything must be applied
    if (!keys || keys.length === 0 || keys.some((k) => !this.rt.has(k))) return false;
    return this.loop.currentFor(keys, target);
  }

  /** Resolves true once currentFor(lsn, tables) (appliedLsn() >= lsn without tables), false after timeoutMs. */
  async waitFor(lsn: string, timeoutMs: number, tables?: readonly string[]): Promise<boolean> {
    if (this.currentFor(lsn, tables)) return true;
    return new Promise<boolean>((resolve) => {
      const onApplied = () => {
        if (this.currentFor(lsn, tables)) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.off('applied', onApplied);
        this.off('decoded', onApplied);
        resolve(v);
      };
      this.on('applied', onApplied);
      this.on('decoded', onApplied);
      // a keepalive that confirms the position arrives within statusIntervalMs
      this.loop.requestStatus();
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
    await this.loop.idle();
    if (this.sup.phase === 'streaming' && this.fatal === null) {
      try {
        // what was accepted becomes durable (with the position, when it moved), then the slot is told
        await this.loop.applyPending();
        await this.loop.makeDurable();
        this.loop.sendStatus(false);
      } catch (e) {
        logger.error({ err: e }, 'mirror: error while stopping');
      }
    }
    this.dest.discard();
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
      await this.loop.idle();
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
    this.loop.stream = null;
    void repl?.end().catch(() => undefined);
    void ctl?.end().catch(() => undefined);
  }

  /** The staged, not yet applied part of the stream (the next session receives it again). */
  private discardStaged(): void {
    this.loop.discardStaged();
    this.wantPoll = this.wantCompaction = false;
  }

  /** After the stream failed: keep what was applied (make it durable), end the connections, retry. */
  private async recover(e: Error): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.dropPg();
    await this.loop.idle();
    this.discardStaged();
    this.resumable = false;
    if (this.dest.manifest && this.dest.duck && this.loop.applied !== null) {
      try {
        await this.loop.makeDurable();
        this.resumable = true;
      } catch (e2) {
        logger.warn({ err: e2 }, 'mirror: could not make the applied changes durable after the failure; the serving tables are rebuilt from the lake');
      }
    }
    mirrorAppliedLsn.set(Number(this.dest.durable));
    this.scheduleRetry(e, 'replication failed');
  }

  /** Forgets every table and serving copy (the next session rebuilds them from the lake). */
  private async resetState(): Promise<void> {
    await this.dest.reset();
    this.rt.clear();
    this.discardStaged();
    this.loop.reset();
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

    const cur = this.dest.manifest;
    if (resume && cur && this.dest.duck && slotRow && cur.slot === this.cfg.slotName && cur.systemId === sys.systemid && cur.database === sys.dbname) {
      // the previous session's state is intact and durable: carry on from where it stopped
      logger.info({ from: formatLsn(this.dest.durable) }, 'mirror: reconnected; resuming the stream');
      this.resumable = false;
      await this.reconcile(defs);
      this.checkStopped();
    } else {
      this.resumable = false;
      await this.resetState();
      await this.dest.open(this.opts.duckdb);
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
        this.dest.manifest = m;
        await this.dest.loadServing(m);
        await this.reconcile(defs);
      }
      this.checkStopped();
      this.dest.durable = parseLsn(m.appliedLsn);
    }
    // the serving tables were just built: write them out of DuckDB's WAL now (a file database; a no-op
    // in memory), so the WAL does not hold a second copy of them until the next automatic checkpoint
    await this.dest.duck?.run('CHECKPOINT').catch(() => undefined);
    // the session starts where everything is durable: nothing is accepted and not durable
    const from = this.dest.durable;
    mirrorAppliedLsn.set(Number(from));
    // from here on the session's state is consistent: a failure can resume from it
    this.resumable = true;
    await this.startStreaming(from);
    this.timers.push(
      setInterval(() => {
        this.loop.requestStatus();
      }, this.cfg.statusIntervalMs),
    );
    if (this.cfg.compactionIntervalMs > 0)
      this.timers.push(
        setInterval(() => {
          this.wantCompaction = true;
          this.loop.kick();
        }, this.cfg.compactionIntervalMs),
      );
    if (this.cfg.walCheckMs > 0) this.timers.push(retentionTimer(this.opts.upstreamUrl, this.cfg));
    if (this.cfg.catalogPollMs > 0)
      this.timers.push(
        setInterval(() => {
          this.wantPoll = true;
          this.loop.kick();
        }, this.cfg.catalogPollMs),
      );
    for (const t of this.timers) t.unref();
    this.emit('applied', { lsn: formatLsn(from), tables: [...this.rt.keys()] });
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
    this.dest.manifest = m;
    for (const d of defs) this.rt.set(tableKey(d.schema, d.name), { def: d, state: 'snapshotting', validFrom: parseLsn(r.consistent_point), lastAppliedAt: null, served: false });
    await this.copyTables(this.ctl!, r.snapshot_name, defs, r.consistent_point);
    writeManifest(this.lakeDir, m);
    return m;
  }

  /**
   * Copies tables inside a transaction on `snapshot` into new base files and serving tables (the
   * destination's beginCopy/copyTable/finishCopy), each table's lifecycle moving with its outcome.
   */
  private async copyTables(c: pg.Client, snapshot: string, defs: TableDef[], validFrom: string): Promise<void> {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      await c.query(`SET TRANSACTION SNAPSHOT ${sqlString(snapshot)}`);
      for (const d of defs) {
        this.checkStopped();
        const key = tableKey(d.schema, d.name);
        const copy = this.dest.beginCopy(d);
        let files: string[] = [];
        let error: string | undefined;
        let dropped = false;
        // One table's failure (dropped meanwhile, a value that does not convert, …) must not abort the
        // shared snapshot transaction and fail the tables after it: each table is copied under its own
        // savepoint and a failure rolls back to it. When even that fails, the transaction or the
        // connection is broken and the whole copy fails (the session is retried).
        await c.query('SAVEPOINT dg_table');
        try {
          files = await this.dest.copyTable(c, copy);
          await c.query('RELEASE SAVEPOINT dg_table');
        } catch (e) {
          if (e instanceof StoppedError) throw e;
          try {
            await c.query('ROLLBACK TO SAVEPOINT dg_table');
          } catch {
            throw e;
          }
          error = (e as Error).message;
          dropped = (e as { code?: string }).code === '42P01';
        }
        const prev = this.rt.get(key);
        const rt: TableRuntime = { ...newLife(prev?.state ?? 'snapshotting'), ...(prev ? { lastError: prev.lastError, failures: prev.failures, retryAt: prev.retryAt } : {}), def: d, validFrom: parseLsn(validFrom), lastAppliedAt: Date.now(), served: false };
        this.rt.set(key, rt);
        await this.dest.finishCopy(copy, rt, files, error, validFrom);
        if (error === undefined) {
          onCopied(rt);
        } else {
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

  /** After a restart: tables added, dropped, renamed or changed while we were away. */
  private async reconcile(defs: TableDef[]): Promise<void> {
    const m = this.dest.manifest!;
    const want = new Map(defs.map((d) => [tableKey(d.schema, d.name), d]));
    for (const key of Object.keys(m.tables)) {
      const d = want.get(key);
      if (!d || d.relid !== m.tables[key]!.relid) await this.dest.removeTable(key);
    }
    // (after a reconnect) tables known only in memory: a copy the failure interrupted
    for (const key of [...this.rt.keys()]) if (!m.tables[key] && !want.has(key)) await this.dest.removeTable(key);
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
      this.dest.discard(key);
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
      this.dest.writeManifest();
    } finally {
      await c.end().catch(() => undefined);
      await r.end().catch(() => undefined); // drops the temporary slot
    }
  }

  private async startStreaming(from: Lsn): Promise<void> {
    const pubs = sqlString(pgIdent(this.cfg.publicationName));
    // messages: the replica-identity guard's logical messages (guard.ts) arrive in the stream
    const text = `START_REPLICATION SLOT ${pgIdent(this.cfg.slotName)} LOGICAL ${formatLsn(from)} (proto_version '1', publication_names ${pubs}${this.streamMessages ? ", messages 'true'" : ''})`;
    // a new stream starts from a clean queue: nothing of an earlier session's stream is left to apply
    this.discardStaged();
    // events of a stream of an earlier session (ended after a failure) are ignored
    const stream: ReplicationStream = new ReplicationStream(text, (b) => {
      if (this.loop.stream === stream) this.loop.onPayload(b);
    });
    // the connection may have been lost (and dropped) between the start's last step and this one
    if (!this.repl) throw this.fatal ?? new Error('replication connection lost while starting');
    this.loop.attach(stream, from);
    void this.repl.query(stream as unknown as pg.QueryConfig);
    stream.finished.then(
      () => {
        if (!this.stopped && this.loop.stream === stream) this.onFatal(new Error('replication stream ended'));
      },
      (e: Error) => {
        if (!this.stopped && this.loop.stream === stream) this.onFatal(e);
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
    this.dest.close();
  }

  private async doResyncs(): Promise<void> {
    // the lake is brought up to date first, so a re-snapshot never races pending events
    await this.loop.makeDurable();
    const keys = [...this.loop.needResync];
    this.loop.needResync.clear();
    // only tables that are in the publication are copied (the changes of the others would not arrive)
    const defs = await this.publish(await this.discover());
    const byRelid = new Map(defs.map((d) => [d.relid, d]));
    const todo: TableDef[] = [];
    for (const k of keys) {
      const rt = this.rt.get(k);
      if (!rt) continue;
      const d = byRelid.get(rt.def.relid);
      if (!d || tableKey(d.schema, d.name) !== k) await this.dest.removeTable(k);
      if (d && !todo.some((x) => x.relid === d.relid)) todo.push(d);
    }
    if (todo.length) await this.resync(todo);
  }

  // ---- maintenance (runs in the loop between batches) ----------------------------------------------

  /** The mirror's part of the loop's idle work: the catalog poll and compaction. */
  private async maintenance(): Promise<void> {
    if (this.wantPoll) {
      this.wantPoll = false;
      await this.pollCatalog();
    }
    if (this.wantCompaction) {
      this.wantCompaction = false;
      await this.compact(this.cfg.compactionMinDeltaFiles);
    }
  }

  /** Folds delta files into new base files for tables with at least `minDeltas` of them. */
  compact(minDeltas = 1): Promise<void> {
    return this.dest.compact(minDeltas);
  }

  /** New, dropped, renamed or altered tables (DDL is not in the change stream). */
  private async pollCatalog(): Promise<void> {
    await this.loop.makeDurable();
    const defs = await this.discover();
    const found = new Map(defs.map((d) => [tableKey(d.schema, d.name), d]));
    for (const [key, rt] of [...this.rt]) {
      const d = found.get(key);
      if (!d || d.relid !== rt.def.relid) await this.dest.removeTable(key);
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
}

function sameColumns(a: ColumnDef[], b: ColumnDef[]): boolean {
  // attnum where both know it: a column dropped and added again (same name and type) holds other values
  return a.length === b.length && a.every((c, i) => c.name === b[i]!.name && c.typeOid === b[i]!.typeOid && c.typmod === b[i]!.typmod && (c.attnum === undefined || b[i]!.attnum === undefined || c.attnum === b[i]!.attnum));
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
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
