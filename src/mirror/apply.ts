// The apply loop: consumes the replication stream (CopyData messages carrying pgoutput), assembles
// transactions, groups whole committed transactions into batches, hands them to a Destination
// (destination.ts) and tells the slot how far it may forget. It knows nothing of DuckDB or the lake.
//
// Positions:
//   applied    every transaction committed before it is accepted (visible) in the destination; what
//              readers are fenced on (waitFor, the 'applied' event);
//   confirmed  what the last makeDurable() returned: everything before it survives a crash. The only
//              position ever sent to the slot (Standby Status Update write/flush/apply,
//              https://www.postgresql.org/docs/current/protocol-replication.html), so PostgreSQL keeps
//              the WAL of every change the destination could still lose.
//
// A batch never splits a transaction: applyBatch() runs only when no transaction is open (at a Commit
// or after the queue drained), so its changes are exactly those of the commits it lists.
import { logger } from '../observability/logger.js';
import { mirrorApplyLatency, mirrorAppliedLsn, mirrorLagBytes, mirrorLagSeconds, mirrorRowsApplied, mirrorTablesInError, mirrorTransactionsApplied } from '../observability/metrics.js';
import { tableKey } from './catalog.js';
import type { Commit, Destination, RowChange } from './destination.js';
import { guardMessageRelid } from './guard.js';
import { onEvent, retryDue, type TableRegistry, type TableRuntime } from './lifecycle.js';
import type { Lsn } from './lsn.js';
import { decodePgOutput, decodeReplicationMessage, encodeStandbyStatus, pgNowMicros, type PgOutputMessage } from './pgoutput.js';

const PG_EPOCH_MS = 946_684_800_000;

export interface ApplySettings {
  /** a batch is applied once it holds this many rows; accepted rows beyond it are made durable */
  batchMaxRows: number;
  /** a batch waits at most this long (or as long as the last one took to apply) while behind */
  batchMaxMs: number;
  /** accepted changes are made durable at least this often */
  durableIntervalMs: number;
  /** the publication whose guard messages (guard.ts) take a table out */
  publicationName: string;
}

/** The replication stream as the loop uses it (pgconn.ts's ReplicationStream). */
export interface StreamLike {
  pause(): void;
  resume(): void;
  send(b: Buffer): void;
}

/** What the loop needs from the mirror that runs it. */
export interface ApplyHost {
  /** the mirror was stopped: the loop ends after the message at hand */
  stopped(): boolean;
  /** the session failed: the loop starts no more work */
  failed(): boolean;
  /** an apply step threw: the session fails (the mirror reconnects and resumes from confirmed) */
  fail(e: Error): void;
  /** applied moved (tables: those the batch changed, [] when only the position moved) */
  applied(lsn: Lsn, tables: string[]): void;
  /** decoded moved without applied moving (a transaction staged, a keepalive while a batch waits) */
  decoded?(): void;
  /** copies again the tables in loop.needResync (called between transactions) */
  resync(): Promise<void>;
  /** idle work between batches once the loop's own is done (catalog poll, compaction) */
  maintenance(): Promise<void>;
}

export class ApplyLoop {
  /** every change committed before it is accepted by the destination (null before a session) */
  applied: Lsn | null = null;
  /** what the slot is told: the last position makeDurable() returned */
  confirmed: Lsn = 0n;
  /** the end of the WAL the server has sent (lag metrics) */
  serverWalEnd: Lsn = 0n;
  /**
   * Every transaction committed before this position has been received and decoded (it is applied or
   * staged in batchCommits): the walsender sends a transaction whole at its commit, and a keepalive
   * carries the position it has sent up to, so a keepalive or commit handled in stream order moves it.
   */
  decodedEnd: Lsn = 0n;
  /** tables to copy again (definition changed, renamed, guard removal, retry due); read by host.resync */
  readonly needResync = new Set<string>();
  /** the stream of the current session (null between sessions) */
  stream: StreamLike | null = null;

  private queue: Buffer[] = [];
  private qHead = 0;
  private looping = false;
  private paused = false;
  private loopDone: Promise<void> = Promise.resolve();
  private inTx: { commitLsn: Lsn; commitTime: bigint; skip: boolean; tables: Set<string> } | null = null;
  /** staged, not yet applied transactions, with the tables each changed (for currentFor) */
  private batchCommits: Array<Commit & { tables: ReadonlySet<string> }> = [];
  private batchRows = 0;
  private batchStartedAt = 0;
  private wantStatus = false;
  /** how long the last batch took to apply (adaptive batching) */
  private lastApplyMs = 0;
  private lastDurableAt = Date.now();

  constructor(
    private readonly dest: Destination,
    /** the mirrored tables, shared with the mirror and the destination */
    private readonly rt: TableRegistry,
    private readonly cfg: ApplySettings,
    private readonly host: ApplyHost,
  ) {}

  /** Settles once the loop's current run ended. */
  idle(): Promise<void> {
    return this.loopDone;
  }

  /** Forgets the part of the stream not yet applied (the next session receives it again). */
  discardStaged(): void {
    this.dest.discard();
    this.queue = [];
    this.qHead = 0;
    this.paused = false;
    this.inTx = null;
    this.batchCommits = [];
    this.batchRows = 0;
    this.needResync.clear();
    this.wantStatus = false;
    // what was staged is gone: it is decoded again from the next session's start
    this.decodedEnd = 0n;
  }

  /** Forgets the session's positions (the next session starts from the destination's). */
  reset(): void {
    this.discardStaged();
    this.applied = null;
    this.confirmed = 0n;
  }

  /** Starts a session's stream at `from` (the destination is durable up to `confirmed`). */
  attach(stream: StreamLike, from: Lsn): void {
    this.stream = stream;
    this.applied = from;
    this.decodedEnd = from;
    this.confirmed = this.dest.durableLsn();
  }

  /** A Standby Status Update goes out at the next chance (a status tick, a fencing wait). */
  requestStatus(): void {
    this.wantStatus = true;
    this.kick();
  }

  onPayload(b: Buffer): void {
    this.queue.push(b);
    if (!this.paused && this.queue.length - this.qHead > 20_000) {
      this.paused = true;
      this.stream?.pause();
    }
    this.kick();
  }

  kick(): void {
    if (this.looping || this.host.stopped() || this.host.failed() || !this.stream) return;
    this.looping = true;
    this.loopDone = this.loop().finally(() => {
      this.looping = false;
      if (this.queue.length > this.qHead && !this.host.stopped() && !this.host.failed()) this.kick();
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.qHead < this.queue.length && !this.host.stopped()) {
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
      if (this.batchCommits.length && !this.inTx) await this.applyPending();
      if (!this.inTx && this.batchCommits.length === 0) await this.maintenance();
    } catch (e) {
      this.host.fail(e as Error);
    }
  }

  private async handleCopyData(b: Buffer): Promise<void> {
    const msg = decodeReplicationMessage(b);
    switch (msg.tag) {
      case 'keepalive':
        this.serverWalEnd = msg.walEnd;
        if (!this.inTx && msg.walEnd > this.decodedEnd) {
          this.decodedEnd = msg.walEnd;
          if (this.batchCommits.length > 0) this.host.decoded?.();
        }
        if (!this.inTx && this.batchCommits.length === 0 && this.qHead >= this.queue.length) this.advanceIdle(msg.walEnd);
        if (msg.replyRequested) this.wantStatus = true;
        return;
      case 'xlogdata':
        if (msg.walEnd > this.serverWalEnd) this.serverWalEnd = msg.walEnd;
        await this.handlePgOutput(decodePgOutput(msg.payload));
        return;
    }
  }

  /**
   * Whether DuckDB holds every change committed before `lsn` to these tables (mirror keys): everything is
   * applied up to it, or everything before it is decoded and no staged transaction that ended at or
   * before it changed one of them (a read of other tables need not wait for a batch of writes to these).
   * A transaction being decoded whose commit may lie before `lsn`, or a table waiting to be copied
   * again, holds the answer to false.
   */
  currentFor(tables: readonly string[], lsn: Lsn): boolean {
    if (this.applied === null) return false;
    if (this.applied >= lsn) return true;
    if (this.decodedEnd < lsn) return false;
    if (this.inTx && !this.inTx.skip && this.inTx.commitLsn <= lsn) return false;
    if (tables.some((t) => this.needResync.has(t))) return false;
    for (const c of this.batchCommits) {
      if (c.endLsn <= lsn && tables.some((t) => c.tables.has(t))) return false;
    }
    return true;
  }

  /** Nothing pending and the server has sent everything before `lsn`: the mirror is current up to it. */
  private advanceIdle(lsn: Lsn): void {
    if (this.applied === null || lsn <= this.applied) return;
    this.applied = lsn;
    const now = Date.now();
    for (const r of this.rt.values()) if (r.state === 'ready') r.lastAppliedAt = now;
    mirrorAppliedLsn.set(Number(lsn));
    this.host.applied(lsn, []);
  }

  private async handlePgOutput(msg: PgOutputMessage): Promise<void> {
    switch (msg.tag) {
      case 'begin':
        // already applied (a restart resends from the confirmed LSN): skip, applying is idempotent by LSN
        this.inTx = { commitLsn: msg.finalLsn, commitTime: msg.commitTime, skip: this.applied !== null && msg.finalLsn < this.applied, tables: new Set() };
        if (this.batchCommits.length === 0 && this.batchRows === 0) this.batchStartedAt = Date.now();
        return;
      case 'commit': {
        const tx = this.inTx;
        this.inTx = null;
        if (msg.endLsn > this.decodedEnd) this.decodedEnd = msg.endLsn;
        if (!tx || tx.skip) return;
        this.batchCommits.push({ endLsn: msg.endLsn, commitTime: msg.commitTime, tables: tx.tables });
        this.host.decoded?.();
        // Adaptive batching: apply at once when nothing more has arrived (low latency when keeping up).
        // When behind, a batch may grow for as long as the last one took to apply (at least batchMaxMs):
        // a batch's fixed cost (a few DuckDB statements) is then spread over many more rows, so the
        // apply rate catches up instead of each small batch costing more than the time it covers.
        const idle = this.qHead >= this.queue.length;
        const maxAge = Math.max(this.cfg.batchMaxMs, this.lastApplyMs);
        if (idle || this.batchRows >= this.cfg.batchMaxRows || Date.now() - this.batchStartedAt >= maxAge) await this.applyPending();
        return;
      }
      case 'relation':
        this.onRelation(msg);
        return;
      case 'insert':
        this.onRowChange(msg.relid, { op: 'insert', tuple: msg.tuple });
        return;
      case 'update':
        this.onRowChange(msg.relid, { op: 'update', tuple: msg.tuple, old: msg.old?.tuple ?? null });
        return;
      case 'delete':
        this.onRowChange(msg.relid, { op: 'delete', old: msg.old.tuple });
        return;
      case 'truncate':
        for (const relid of msg.relids) this.onRowChange(relid, { op: 'truncate' });
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
    const key = this.rt.byRelid.get(relid);
    const rt = key ? this.rt.get(key) : undefined;
    if (!key || !rt) return;
    onEvent(rt, 'failed');
    rt.lastError = "removed from the publication by duckgate's guard (it lost its primary key or replica identity, or is being made UNLOGGED); mirrored again once it can be";
    rt.retryAt = null;
    this.dest.discard(key);
    this.needResync.add(key);
    logger.warn({ table: key }, `mirror: ${key} ${rt.lastError}`);
  }

  private accepts(rt: TableRuntime): boolean {
    if (!this.inTx || this.inTx.skip) return false;
    if (rt.state === 'error' || this.needResync.has(tableKey(rt.def.schema, rt.def.name))) return false;
    return this.inTx.commitLsn >= rt.validFrom;
  }

  private onRelation(msg: Extract<PgOutputMessage, { tag: 'relation' }>): void {
    const known = this.rt.byRelid.get(msg.relid);
    const key = tableKey(msg.schema, msg.name);
    if (known && known !== key) {
      // renamed: follow it under the new name (re-snapshot), drop the old
      this.needResync.add(known);
      return;
    }
    const rt = this.rt.get(key);
    if (!rt) return;
    this.rt.byRelid.set(msg.relid, key);
    const same =
      msg.columns.length === rt.def.columns.length &&
      msg.columns.every((c, i) => c.name === rt.def.columns[i]!.name && c.typeOid === rt.def.columns[i]!.typeOid && c.typmod === rt.def.columns[i]!.typmod);
    if (!same && !(this.inTx?.skip || (this.inTx && this.inTx.commitLsn < rt.validFrom))) {
      logger.info({ table: key }, 'mirror: table definition changed upstream; re-snapshotting it');
      this.needResync.add(key);
      this.dest.discard(key);
    }
  }

  private onRowChange(relid: number, change: RowChange): void {
    const key = this.rt.byRelid.get(relid);
    const rt = key ? this.rt.get(key) : undefined;
    if (!key || !rt || !this.accepts(rt)) return;
    this.inTx!.tables.add(key);
    this.dest.stage(key, this.inTx!.commitLsn, change);
    this.batchRows++;
  }

  // ---- batches -------------------------------------------------------------------------------------

  /**
   * Hands the staged committed transactions to the destination as one batch (accepted: visible), moves
   * `applied`, and makes the destination durable when enough is accepted but not durable (rows or
   * time). Called only between transactions.
   */
  async applyPending(): Promise<void> {
    const commits = this.batchCommits;
    if (commits.length === 0 || this.inTx) return;
    const endLsn = commits[commits.length - 1]!.endLsn;
    const started = performance.now();
    const queued = this.queue.length - this.qHead;
    const accepted = await this.dest.applyBatch({ commits, endLsn, exclude: this.needResync });
    this.applied = endLsn;
    const now = Date.now();
    const touched = accepted.tables.map((a) => a.table);
    for (const a of accepted.tables) {
      mirrorRowsApplied.inc({ table: a.table }, a.rows);
      mirrorLagBytes.set({ table: a.table }, Number(this.serverWalEnd > endLsn ? this.serverWalEnd - endLsn : 0n));
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
    this.lastApplyMs = Math.round((performance.now() - started) * 10) / 10;
    logger.debug({ commits: commits.length, rows: this.batchRows, queued, ageMs: Date.now() - this.batchStartedAt, ms: this.lastApplyMs }, 'mirror: batch applied');
    this.batchCommits = [];
    this.batchRows = 0;
    this.host.applied(endLsn, touched);
    if (accepted.undurableRows >= this.cfg.batchMaxRows || Date.now() - this.lastDurableAt >= this.cfg.durableIntervalMs) await this.makeDurable();
    if (this.needResync.size) await this.host.resync();
  }

  /**
   * Everything accepted becomes durable (with the idle position), and only then the slot hears of it:
   * the confirmed position moves here and nowhere else.
   */
  async makeDurable(): Promise<void> {
    this.lastDurableAt = Date.now();
    if (this.applied === null) return;
    this.confirmed = await this.dest.makeDurable(this.applied);
    this.sendStatus(false);
  }

  /** Standby Status Update: written = flushed = applied = confirmed (durable), never an accepted-only LSN. */
  sendStatus(replyRequested: boolean): void {
    if (!this.stream || this.host.failed()) return;
    this.stream.send(encodeStandbyStatus(this.confirmed, this.confirmed, this.confirmed, pgNowMicros(), replyRequested));
  }

  // ---- between batches -------------------------------------------------------------------------------

  private async maintenance(): Promise<void> {
    // tables that failed are copied again once their backoff has passed
    let inError = 0;
    for (const [key, rt] of this.rt) {
      if (rt.state === 'error') inError++;
      if (retryDue(rt)) this.needResync.add(key);
    }
    mirrorTablesInError.set(inError);
    if (this.needResync.size) await this.host.resync();
    if (this.wantStatus) {
      this.wantStatus = false;
      // durable first (accepted batches and the idle position), then the slot hears about it; at most
      // once per durableIntervalMs (a fast status interval must not turn into an fsync storm)
      if (Date.now() - this.lastDurableAt >= this.cfg.durableIntervalMs) await this.makeDurable();
      this.sendStatus(true);
    }
    await this.host.maintenance();
  }
}
