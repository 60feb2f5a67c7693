/**
 * One client connection, in session mode: one upstream PostgreSQL connection per client.
 *
 *   startup ──SSLRequest──▶ (TLS or 'N') ──▶ startup
 *      │ StartupMessage                      CancelRequest ──▶ cancel the matching session, close
 *      ▼
 *   auth (upstream's authentication relayed both ways; SCRAM-SHA-256-PLUS removed)
 *      │ ReadyForQuery
 *      ▼
 *   ready ⇄ (transaction status I/T/E tracked from every ReadyForQuery)
 *      │ Terminate, socket closed, fatal protocol error, upstream lost, shutdown
 *      ▼
 *   closed
 *
 * While ready, client messages are framed and forwarded; upstream replies are forwarded as the bytes
 * that came, scanned only for message boundaries and the few messages the session observes.
 * Both directions honour backpressure: a full socket pauses the other side.
 */
import type { OnReadOpts, Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from '../observability/logger.js';
import * as metrics from '../observability/metrics.js';
import { Auth, B, F } from '../protocol/codes.js';
import {
  backendKeyData,
  errorResponse,
  errorResponseV2,
  SSL_ACCEPT,
  SSL_REFUSE,
} from '../protocol/backend.js';
import {
  BackendFrameReader,
  BackendScanner,
  decodeCommandTag,
  decodeErrorFields,
  decodeParameterStatus,
  observedTypes,
} from '../protocol/backend-scan.js';
import {
  BadFrame,
  WireFrame,
  decodeClose,
  decodeParse,
  decodeQuery,
  FrameReader,
  OldProtocolFatal,
  readStartupPacket,
  SilentClose,
  span,
  sqlLeadByte,
  type Frame,
} from '../protocol/frontend.js';
import { connectionFailure, PgError, protocolViolation, SqlState } from '../protocol/errors.js';
import { connectUpstream, describeTarget, sendCancel, type UpstreamTarget } from '../engines/postgres/upstream.js';
import type { SessionRegistry } from './registry.js';
import { searchPathAfter } from './search-path.js';
import { trackSettingChange } from './settings.js';
import { closeDuckPortal, endSettingsTransaction, planUnit, type AnalyticsOptions, type DuckgateSettings, type DuckPortal, type SessionPort } from './analytics.js';
import { ReadyTracker, TRACKED_REPLIES } from './ready-tracker.js';
import { mentionsMirroredTable, type SessionRoute } from '../router/index.js';

export type SessionState = 'startup' | 'auth' | 'ready' | 'closed';
export type TxStatus = 'I' | 'T' | 'E';

export interface SessionLimits {
  maxMessageBytes: number;
  startupTimeoutMs: number;
}

export interface SessionDeps {
  target: UpstreamTarget;
  limits: SessionLimits;
  tls: SecureContext | null;
  registry: SessionRegistry<Session>;
  log: Logger;
  /** true once shutdown began: new startups are refused */
  shuttingDown(): boolean;
  onClose(session: Session): void;
  /**
   * Called once, when authentication completed (the upstream's first ReadyForQuery), before it reaches
   * the client: the listener counts the session as authenticated, or refuses it (53300 when its slots
   * are taken) by returning the error the session then ends with.
   */
  onAuthenticated?(session: Session): PgError | null;
  /** the analytical (DuckDB) path; null: a pure relay */
  analytics: AnalyticsOptions | null;
}

/**
 * Size of the buffer upstream replies are read into (libuv's usual read size): one per session, reused
 * for every read instead of a fresh allocation per read.
 */
const UPSTREAM_READ_BYTES = 64 * 1024;

/** Extended-protocol messages held until their Sync/Flush beyond this many bytes are relayed at once. */
const MAX_HELD_BYTES = 1 << 20;

/**
 * How long a batch may be held for its Sync or Flush when nothing more comes. A client writes a batch at
 * once (its pieces arrive within milliseconds); one that stops mid-batch gets Postgres's behaviour
 * after this: the messages go upstream (Postgres runs them as they come and sends an error at once).
 */
const HOLD_MS = 100;


/**
 * Message types of the upstream stream the relay looks at (everything else is skipped unread): these
 * with their bodies, the other replies ReadyTracker follows by their type alone.
 */
const OBSERVED = observedTypes('ZSEGWC', TRACKED_REPLIES);

/** Client messages the session may queue while it is busy with a local answer before it stops reading. */
const MAX_QUEUED_BYTES = 1 << 20;

/** How long a closed session's sockets may take to flush what was written to them before being destroyed. */
const CLOSE_GRACE_MS = 5_000;

/**
 * First words of statements the analytical path never answers and that change nothing it tracks
 * (temporary tables, DISCARD): a batch of them is not held for its Sync (an INSERT pipeline).
 */
const NEVER_ANSWERED = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'CALL', 'COPY', 'BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE', 'LOCK', 'NOTIFY', 'LISTEN', 'UNLISTEN', 'ANALYZE', 'VACUUM', 'REFRESH', 'TRUNCATE', 'GRANT', 'REVOKE', 'COMMENT', 'CHECKPOINT', 'REINDEX', 'CLUSTER']);

/** The NUL-terminated string at pos of a message body, or null when there is none. */
function cstringAt(body: Buffer, pos: number): string | null {
  if (pos <= 0) return null;
  const end = body.indexOf(0, pos);
  return end < 0 ? null : body.toString('utf8', pos, end);
}

/** Message types that make up an extended-protocol batch (up to its Sync or Flush). */
function isBatchMessage(t: number): boolean {
  return t === F.parse || t === F.bind || t === F.describe || t === F.execute || t === F.close;
}

/** CommandComplete tags that cannot have changed table data (anything else marks the session dirty). */
const READ_TAGS = /^(SELECT|SHOW|FETCH|MOVE|SET|RESET|BEGIN|START|ROLLBACK|DISCARD|DEALLOCATE|LISTEN|UNLISTEN|NOTIFY|PREPARE|EXPLAIN|DECLARE|CLOSE|SAVEPOINT|RELEASE|COPY 0)\b/;

/** "SELECT " : the CommandComplete tag of nearly every reply on a read-mostly relay, tested bytewise. */
const SELECT_TAG = Buffer.from('SELECT ');

/** True when a statement starting with this byte (see sqlLeadByte) may be one trackSettingChange acts on. */
function maySetSetting(lead: number): boolean {
  return lead === 0x53 /* S */ || lead === 0x52 /* R */ || lead === 0x44 /* D */ || lead === -1;
}

export class Session implements SessionPort {
  state: SessionState = 'startup';
  txStatus: TxStatus = 'I';
  readonly startupParams = new Map<string, string>();
  /** ParameterStatus values the upstream reported (TimeZone, DateStyle, application_name, …) */
  readonly serverParams = new Map<string, string>();
  /** settings the upstream does not report but later routing needs, tracked from SET/RESET statements */
  readonly trackedSettings = new Map<string, string>();
  /** named prepared statements of this client, by name */
  readonly preparedStatements = new Map<string, { sql: string; paramTypes: number[] }>();
  key: { pid: number; secret: number } | null = null;
  upstreamKey: { pid: number; secret: number } | null = null;

  private socket: Socket | TLSSocket;
  private upstream: Socket | null = null;
  private startupBuf: Buffer | null = null;
  private startupTimer: NodeJS.Timeout | null = null;
  private frames: FrameReader;
  private upstreamFrames = new BackendFrameReader();
  private scanner: BackendScanner;
  /** what the upstream still owes for the messages relayed to it (ReadyForQuery, COPY state) */
  private readonly ready = new ReadyTracker();
  /**
   * Extended-protocol messages were relayed without their Sync yet: the rest of the batch, whatever it
   * is, follows them upstream at once (the analytical path cannot take part of a batch Postgres holds).
   */
  private batchOpen = false;
  /** a message other than a batch message followed the open batch: it ends once all is answered */
  private batchAwaitsEnd = false;
  /** the upstream socket's buffer is full: the client is not read until it drains */
  private upstreamFull = false;
  /** a batch held for its Sync: the timer that sends it on after HOLD_MS (see takeUnit) */
  private holdTimer: NodeJS.Timeout | null = null;
  private holdExpired = false;
  private upstreamSentFatal = false;
  /** a CancelRequest connection: waiting for the upstream to take the cancel, nothing more is read */
  private cancelling = false;
  /** a malformed frame reached the upstream (or our own limit): the session ends, nothing more is read */
  private poisoned = false;
  /** the client sent FIN and it was passed on upstream: the upstream's close ends the session */
  private clientEnded = false;
  private closing = false;
  private readonly log: Logger;
  /** client messages not yet handled (waiting for their Sync, or behind a local operation) */
  private queue: Frame[] = [];
  private queuedBytes = 0;
  private localBusy = false;
  /** while set, upstream bytes go to a control round trip instead of the client */
  private tap: ((chunk: Buffer) => void) | null = null;
  private idleWaiters: Array<() => void> = [];
  private cancelController = new AbortController();
  /** the buffer the next upstream read lands in (plain TCP upstream) */
  private upstreamReadBuf: Buffer | null = null;
  /**
   * Upstream reads without 'data' events: into one reused buffer, handed to onUpstreamData as a view.
   * Every path that keeps upstream bytes past the call copies them (scanner bodies, control replies,
   * frame remainders) except a client write that does not complete at once: then the socket holds the
   * view, so the next read goes into a fresh buffer.
   */
  private readonly upstreamOnRead: OnReadOpts = {
    buffer: () => (this.upstreamReadBuf ??= Buffer.allocUnsafeSlow(UPSTREAM_READ_BYTES)),
    callback: (n: number, buf: Uint8Array) => {
      this.onUpstreamData((buf as Buffer).subarray(0, n));
      if (this.socket.writableLength > 0) this.upstreamReadBuf = null;
      return true;
    },
  };

  // ---- SessionPort (state the analytical path reads and updates) ----
  sessionRoute: SessionRoute = 'auto';
  sessionMaxLagMs: number | null = null;
  settingsTx: { before: DuckgateSettings; committed: DuckgateSettings } | null = null;
  /** the last CommandComplete tag while settingsTx is open: COMMIT keeps duckgate's SETs, else undone */
  private lastTagCommits = false;
  dirty = false;
  /** a batch ending in Flush was relayed and its Sync has not come: replies of unknown length are due */
  flushPending = false;
  readonly tempTables = new Set<string>();
  /** the path routing resolves names with: the last round trip's, or what SET/RESET search_path made it since (search-path.ts) */
  get searchPath(): string[] {
    return this.path.now;
  }
  set searchPath(v: string[]) {
    this.path.now = v;
    if (!this.trackedSettings.has('search_path')) this.path.dflt = v;
  }
  private readonly path: { now: string[]; dflt: string[]; setting: string | undefined } = { now: ['public'], dflt: ['public'], setting: undefined };
  duckPortal: DuckPortal | null = null;
  discardUntilSync = false;

  constructor(
    socket: Socket,
    private readonly deps: SessionDeps,
  ) {
    this.socket = socket;
    this.log = deps.log;
    this.frames = new FrameReader(deps.limits.maxMessageBytes);
    this.scanner = new BackendScanner(OBSERVED, (t, body) => this.observe(t, body));
  }

  get user(): string {
    return this.startupParams.get('user') ?? '';
  }
  get database(): string {
    return this.startupParams.get('database') ?? this.user;
  }
  /** true while a statement runs or a transaction is open: shutdown lets such sessions finish */
  get busy(): boolean {
    // a ReadyForQuery owed or a COPY open: a statement runs (completions of a batch without its Sync are not that)
    return this.state !== 'ready' || this.ready.pending > 0 || this.ready.inCopyIn || this.txStatus !== 'I' || this.localBusy || this.duckPortal !== null;
  }

  start(): void {
    metrics.connectionsTotal.inc();
    metrics.connectionsActive.inc();
    this.socket.setNoDelay(true);
    this.startupTimer = setTimeout(() => {
      this.fail(protocolViolation(`startup did not complete within ${this.deps.limits.startupTimeoutMs} ms`));
    }, this.deps.limits.startupTimeoutMs);
    this.attachClient(this.socket);
  }

  private attachClient(sock: Socket | TLSSocket): void {
    // The client's FIN is handled here (onClientEnd), not by ending our side at once.
    sock.allowHalfOpen = true;
    sock.on('end', () => this.onClientEnd());
    sock.on('data', (chunk: Buffer) => this.onClientData(chunk));
    sock.on('error', (e) => {
      this.log.debug({ err: e.message }, 'client socket error');
      this.close();
    });
    sock.on('close', () => this.close());
    sock.on('drain', () => this.upstream?.resume());
  }

  // ---- client → duckgate -------------------------------------------------------------------------

  /**
   * The client sent FIN. Postgres reads EOF after the messages before it, sends what it still has to
   * say (an open COPY or transaction ends with its errors) and closes; the EOF is passed on the same way
   * and the session ends when the upstream closes (or after a grace period). With messages still
   * waiting here, or no upstream session yet, the session simply ends.
   */
  private onClientEnd(): void {
    // a CancelRequest connection closes once the cancel was delivered, whether or not the client half-closed
    if (this.cancelling) return;
    const up = this.upstream;
    if (this.state !== 'ready' || !up || this.localBusy || this.queue.length > 0 || this.poisoned || this.ready.idle) {
      this.close();
      return;
    }
    this.clientEnded = true;
    up.end();
    const t = setTimeout(() => this.close(), CLOSE_GRACE_MS);
    t.unref();
  }

  private onClientData(chunk: Buffer): void {
    try {
      if (this.cancelling || this.poisoned) return; // Postgres reads nothing after a CancelRequest or a bad frame
      if (this.state === 'startup') this.onStartupBytes(chunk);
      else if (this.state === 'auth' || this.state === 'ready') this.onFrames(this.frames.push(chunk));
    } catch (e) {
      // Whatever fails here leaves the stream out of step (a bad frame, a bad startup packet): the
      // connection ends, as Postgres ends it for a protocol violation it cannot recover from.
      this.fail(e instanceof PgError && e.severity !== 'FATAL' ? new PgError(e.sqlstate, e.message, 'FATAL', e.detail, e.hint) : e);
    }
  }

  private onStartupBytes(chunk: Buffer): void {
    this.startupBuf = this.startupBuf ? Buffer.concat([this.startupBuf, chunk]) : chunk;
    const r = readStartupPacket(this.startupBuf);
    if (!r) return;
    const rest = this.startupBuf.length > r.consumed ? this.startupBuf.subarray(r.consumed) : null;
    this.startupBuf = null;
    const p = r.packet;
    switch (p.kind) {
      case 'ssl': {
        // Bytes after an SSLRequest, before the handshake, would be unencrypted data a man in the middle
        // could inject (CVE-2021-23214): Postgres rejects them, so do we.
        if (rest) throw protocolViolation('received unencrypted data after SSL request');
        if (!this.deps.tls || this.socket instanceof TLSSocket) {
          this.socket.write(SSL_REFUSE);
          return;
        }
        this.socket.write(SSL_ACCEPT);
        this.upgradeToTls(this.deps.tls);
        return;
      }
      case 'gssenc':
        if (rest) throw protocolViolation('received unencrypted data after GSSAPI encryption request');
        this.socket.write(SSL_REFUSE);
        return;
      case 'cancel': {
        const target = this.deps.registry.find(p.pid, p.secret);
        metrics.cancelRequests.inc({ outcome: target ? 'matched' : 'unknown_key' });
        if (!target) {
          this.close();
          return;
        }
        // Postgres closes a CancelRequest connection only once the backend was signalled, and clients
        // (libpq's PQcancel, psycopg, JDBC) wait for that close before their next statement: closing it
        // before the upstream took the cancel let it land on that next statement.
        this.cancelling = true;
        if (this.startupTimer) clearTimeout(this.startupTimer);
        this.startupTimer = null;
        target
          .cancel()
          .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'cancel failed'))
          .finally(() => this.close());
        return;
      }
      case 'startup':
        for (const [k, v] of p.params) this.startupParams.set(k, v);
        if (this.deps.shuttingDown()) throw new PgError(SqlState.cannotConnectNow, 'the database system is shutting down', 'FATAL');
        this.state = 'auth';
        this.socket.pause();
        this.openUpstream(p.raw, rest).catch((e: unknown) => this.fail(e));
        return;
    }
  }

  private upgradeToTls(ctx: SecureContext): void {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('error');
    raw.removeAllListeners('close');
    raw.removeAllListeners('drain');
    raw.removeAllListeners('end');
    const tls = new TLSSocket(raw, { isServer: true, secureContext: ctx });
    tls.on('error', (e) => {
      this.log.debug({ err: e.message }, 'TLS error');
      this.close();
    });
    this.socket = tls;
    this.attachClient(tls);
  }

  private async openUpstream(startupRaw: Buffer, rest: Buffer | null): Promise<void> {
    let up: Awaited<ReturnType<typeof connectUpstream>>;
    try {
      up = await connectUpstream(this.deps.target, this.upstreamOnRead);
    } catch (e) {
      metrics.upstreamConnectErrors.inc();
      this.fail(e instanceof PgError ? e : connectionFailure(`could not connect to upstream server at ${describeTarget(this.deps.target)}`));
      return;
    }
    if (this.state === 'closed') {
      up.destroy();
      return;
    }
    this.upstream = up;
    if (!up.reusesReadBuffer) up.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
    up.on('drain', () => {
      this.upstreamFull = false;
      if (this.state === 'ready') this.flow();
      else this.socket.resume();
    });
    up.on('error', (e) => this.log.debug({ err: e.message }, 'upstream socket error'));
    up.on('close', () => this.onUpstreamClosed());
    up.write(Buffer.from(startupRaw));
    this.socket.resume();
    if (rest) this.onClientData(rest);
  }

  private onFrames(frames: Frame[]): void {
    if (frames.length === 0) return;
    const up = this.upstream;
    if (!up) throw protocolViolation('message received before the upstream connection was ready');
    if (this.state === 'auth') {
      for (const f of frames) {
        if (f instanceof BadFrame) {
          this.poison(f);
          return;
        }
        // During authentication the only legal frontend message is a password / SASL response.
        if (f.type !== F.password) throw protocolViolation(`expected password response, got message type "${String.fromCharCode(f.type)}"`);
        up.write(f.raw);
      }
      return;
    }
    for (const f of frames) {
      this.queue.push(f);
      this.queuedBytes += f.raw.length;
    }
    this.pump();
  }

  /**
   * Handles queued client messages in order. A unit is a Query, a COPY/FunctionCall/Terminate/Sync
   * message, or an extended-protocol batch up to its Sync or Flush (or up to any other message: Postgres
   * answers a Query that follows a Parse at once, it does not wait for a Sync). Units are relayed at once
   * unless the analytical path takes one; then the following ones wait until it is answered, so replies
   * stay in order. Never throws: a failure ends this session, never the process.
   */
  private pump(): void {
    try {
      this.pumpUnits();
    } catch (e) {
      this.fail(e);
    }
    this.flow();
  }

  private pumpUnits(): void {
    while (!this.localBusy && this.queue.length > 0 && this.state === 'ready') {
      let unit = this.takeUnit();
      if (!unit) return;
      const head = unit[0]!;
      if (head instanceof BadFrame) {
        // judged even while Postgres skips to a Sync (SocketBackend reads the type before that)
        this.poison(head);
        return;
      }
      if (this.discardUntilSync) {
        // An error was answered locally in a batch without Sync: Postgres ignores what follows up to
        // the Sync (postgres.c, ignore_till_sync), whose ReadyForQuery the upstream then gives.
        const at = unit.findIndex((f) => f.type === F.sync || f.type === F.terminate);
        if (at < 0) continue;
        this.discardUntilSync = false;
        unit = unit.slice(at);
      }
      // a simple Query drops the unnamed statement, whoever answers it (exec_simple_query)
      if (unit[0]!.type === F.query) this.preparedStatements.delete('');
      // In COPY FROM STDIN Postgres reads only copy messages (anything else is its protocol error), and
      // after an error in an extended-protocol batch it skips everything up to the next Sync, a Query
      // too (postgres.c, ignore_till_sync): nothing is answered here meanwhile.
      const plan = this.ready.inCopyIn || this.ready.skipping ? null : this.planFor(unit);
      if (!plan) {
        this.relay(unit);
        continue;
      }
      if (!this.upstreamSettled()) {
        // Replies to messages relayed before are still due: an answer from here must follow them (a
        // pipelined SET duckgate.route overtook the INSERT before it, with a stale transaction status),
        // and be decided on the state they leave. Plan the unit again once they are in.
        this.queue.unshift(...unit);
        for (const f of unit) this.queuedBytes += f.raw.length;
        this.localBusy = true;
        this.whenSettled()
          .then(() => {
            this.localBusy = false;
            if (this.state === 'ready') this.pump();
          })
          .catch(() => this.close());
        return;
      }
      this.localBusy = true;
      // A Parse answered on the analytical path still names a statement the client will use again.
      for (const f of unit) if (f.type === F.parse) this.rememberStatement(f);
      this.runLocal(plan).catch((e: unknown) => {
        this.log.error({ err: e }, 'session failed after a local answer');
        this.close();
      });
    }
  }

  /**
   * A malformed frame, after every message before it was handled: Postgres gets its bytes and answers
   * as it would without duckgate (FATAL for an unknown type, a silent close for a bad length), and the
   * session ends with the upstream. Past duckgate's own size limit, duckgate reports it once the upstream
   * has answered what came before.
   */
  private poison(f: BadFrame): void {
    this.poisoned = true;
    this.queue = [];
    this.queuedBytes = 0;
    const up = this.upstream;
    if (f.error || !up) {
      const err = f.error ?? protocolViolation('invalid message');
      this.whenIdle(CLOSE_GRACE_MS)
        .then(() => this.fail(err))
        .catch(() => this.close());
      return;
    }
    up.write(f.raw);
    const t = setTimeout(() => this.close(), CLOSE_GRACE_MS);
    t.unref();
  }

  /**
   * Nothing relayed is waiting for an answer, except the completions of a batch the client has not
   * ended yet (Postgres sends those at its Sync or Flush).
   */
  private upstreamSettled(): boolean {
    return this.ready.idle || (this.batchOpen && this.ready.pending === 0 && !this.ready.inCopyIn);
  }

  /** Resolves once upstreamSettled(), the upstream entered COPY FROM STDIN, or the session closed. */
  private whenSettled(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.state === 'closed' || this.upstreamSettled() || this.ready.inCopyIn) resolve();
        else this.idleWaiters.push(check);
      };
      check();
    });
  }

  /** Resolves once the upstream has answered everything relayed (or the session closed), at most after ms. */
  private whenIdle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.ready.idle || this.state === 'closed') return resolve();
      const t = setTimeout(resolve, ms);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The analytical path's plan for a unit, or null to relay it. */
  private planFor(unit: Frame[]): (() => Promise<void>) | null {
    const a = this.deps.analytics;
    if (!a) return null;
    // a Sync or Flush with a body is Postgres's to refuse (pq_getmsgend: invalid message format)
    for (const f of unit) if ((f.type === F.sync || f.type === F.flush) && f instanceof WireFrame && f.end - f.start !== 5) return null;
    try {
      // nothing of a batch relayed without its Sync may be answered here: Postgres holds the rest of it
      return planUnit(unit, this, a, this.flushPending || this.batchOpen);
    } catch (e) {
      // The analytical path could not read a message it only looks into (truncated, invalid UTF-8, a
      // count that does not fit): Postgres judges it, as it would without duckgate, with the ERROR it
      // carries on from (or its own FATAL).
      this.log.debug({ err: (e as Error).message }, 'relaying a message the analytical path cannot read');
      return null;
    }
  }

  /** Runs a local answer; the client's following messages wait in the queue meanwhile. */
  private async runLocal(plan: () => Promise<void>): Promise<void> {
    try {
      await plan();
    } catch (e) {
      // Where in its exchange the answer failed is unknown: the session cannot go on in step.
      this.fail(e instanceof PgError && e.severity !== 'FATAL' ? new PgError(e.sqlstate, e.message, 'FATAL', e.detail, e.hint) : e);
    } finally {
      this.localBusy = false;
    }
    if (this.state === 'ready') this.pump();
  }

  /**
   * Reads from the client unless the upstream cannot take more, or more than MAX_QUEUED_BYTES wait
   * behind a local answer. The client is not paused merely because a local answer runs: a paused socket
   * does not see the client's FIN, and a session whose client gave up must end at once.
   */
  private flow(): void {
    if (this.state !== 'ready') return;
    if (this.upstreamFull || this.queuedBytes >= MAX_QUEUED_BYTES) this.socket.pause();
    else this.socket.resume();
  }

  private takeUnit(): Frame[] | null {
    const q = this.queue;
    let n = 1;
    if (isBatchMessage(q[0]!.type)) {
      let i = 1;
      while (i < q.length && isBatchMessage(q[i]!.type)) i++;
      if (i < q.length) {
        // Sync or Flush ends the batch and goes with it; any other message ends it and goes on its own.
        const t = q[i]!.type;
        n = t === F.sync || t === F.flush ? i + 1 : i;
      } else if (this.holdExpired || this.queuedBytes >= MAX_HELD_BYTES || !this.mayAnswerLocally(q)) {
        // No Sync/Flush yet. Held only while the analytical path might answer the batch (it needs the
        // whole of it); otherwise Postgres gets each message at once, as it would without duckgate, and
        // an error in a long pipeline comes back as soon as Postgres sends it.
        n = i;
      } else {
        this.armHold(q[0]!);
        return null;
      }
    }
    this.holdExpired = false;
    const unit = q.splice(0, n);
    for (const f of unit) this.queuedBytes -= f.raw.length;
    return unit;
  }

  /** Holding `head`: if nothing more comes for HOLD_MS and it is still held, what came of its batch goes upstream. */
  private armHold(head: Frame): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      if (this.state !== 'ready' || this.queue[0] !== head || this.localBusy) return;
      this.holdExpired = true;
      this.pump();
    }, HOLD_MS);
    this.holdTimer.unref();
  }

  /**
   * Whether the analytical path might answer a batch beginning with these messages (its Sync not come
   * yet). It answers only messages on its own open portal, or [Parse [Describe S]] Bind [Describe P]
   * [Execute] / Parse Describe, then Sync or Flush, of a statement naming a mirrored table (or duckgate
   * itself) that may be a read; a batch that cannot be one of those is Postgres's at once.
   */
  private mayAnswerLocally(q: Frame[]): boolean {
    const a = this.deps.analytics;
    if (!a) return false;
    // an open DuckDB portal: its Describe/Execute are answered here, the batch planned whole (as before)
    if (this.duckPortal) return true;
    if (this.flushPending || this.batchOpen || this.ready.inCopyIn) return false;
    // positions in the one shape answered: Parse, Describe S, Bind, Describe P, Execute
    let at = -1;
    for (let i = 0; i < q.length; i++) {
      const t = q[i]!.type;
      const pos = t === F.parse ? 0 : t === F.bind ? 2 : t === F.execute ? 4 : t === F.describe ? (at < 2 ? 1 : 3) : -1;
      if (pos <= at || (i === 0 && pos !== 0 && pos !== 2)) return false;
      at = pos;
    }
    const view = a.mirror.view();
    if (!view) return false;
    const head = q[0]!;
    const sql = head.type === F.parse ? cstringAt(head.body, head.body.indexOf(0) + 1) : this.preparedSql(cstringAt(head.body, head.body.indexOf(0) + 1) ?? '');
    if (sql === null) return false;
    if (/duckgate/i.test(sql)) return true;
    const word = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase();
    // statements that are never reads and change nothing the analytical path tracks (temporary tables)
    if (word !== undefined && NEVER_ANSWERED.has(word)) return false;
    return mentionsMirroredTable(sql, view);
  }

  /** SessionPort: relays client messages to the upstream as they came. */
  relay(unit: Frame[]): void {
    const up = this.upstream;
    if (!up || this.state !== 'ready') return;
    for (const f of unit) {
      this.noteFrontend(f);
      if (f.type === F.terminate) {
        up.end(Buffer.from([F.terminate, 0, 0, 0, 4]));
        this.close();
        return;
      }
    }
    // One write per unit: its frames usually lie back to back in the chunk they came in, and one
    // buffer is much cheaper for the socket than a writev of five small ones.
    const out = span(unit) ?? Buffer.concat(unit.map((f) => f.raw));
    const bytes = out.length;
    const ok = up.write(out);
    const last = unit[unit.length - 1]!.type;
    if (last === F.flush) this.flushPending = true;
    if (last === F.sync) {
      this.batchOpen = false;
      this.batchAwaitsEnd = false;
    } else if (last === F.flush || isBatchMessage(last)) {
      this.batchOpen = true;
      this.batchAwaitsEnd = false;
    } else if (this.batchOpen) {
      // A Query (or FunctionCall…) after a batch without Sync: once everything is answered, the batch
      // is over unless Postgres is skipping to a Sync after an error in it.
      this.batchAwaitsEnd = true;
    }
    metrics.relayed.toUpstream += bytes;
    if (!ok) {
      this.upstreamFull = true;
      this.socket.pause();
    }
  }

  /** SessionPort: waits until the upstream has answered everything relayed, then runs a private round trip. */
  async control(msgs: Buffer[], readyCount: number): Promise<Array<{ type: number; body: Buffer; raw: Buffer }>> {
    while (!this.ready.idle) {
      if (this.state !== 'ready') throw connectionFailure('session closed');
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
    const up = this.upstream;
    if (!up || this.state !== 'ready') throw connectionFailure('session closed');
    const reader = new BackendFrameReader();
    const out: Array<{ type: number; body: Buffer; raw: Buffer }> = [];
    return new Promise((resolve, reject) => {
      let seen = 0;
      const onClose = () => {
        this.tap = null;
        reject(connectionFailure(`connection to upstream server at ${describeTarget(this.deps.target)} was lost`));
      };
      up.once('close', onClose);
      this.tap = (chunk) => {
        const frames = reader.push(chunk);
        for (let i = 0; i < frames.length; i++) {
          const f = frames[i]!;
          // Asynchronous messages (NOTIFY, parameter changes) belong to the client, not to this round trip.
          if (f.type === B.notificationResponse || f.type === B.parameterStatus) {
            if (f.type === B.parameterStatus) {
              const [k, v] = decodeParameterStatus(f.body);
              this.serverParams.set(k, v);
            }
            this.socket.write(Buffer.from(f.raw));
            continue;
          }
          // a FATAL ends the session whatever it answers (an administrator's pg_terminate_backend): the
          // client gets it as Postgres sends it, not a lost-connection error of ours
          if (f.type === B.errorResponse && decodeErrorFields(f.body).get('V') === 'FATAL') {
            this.upstreamSentFatal = true;
            this.socket.write(Buffer.from(f.raw));
          }
          out.push({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) });
          // the upstream's transaction state as the control queries leave it (a client's Parse that
          // failed in a transaction block, a statement answered here that aborted it)
          if (f.type === B.readyForQuery) this.txStatus = String.fromCharCode(f.body[0]!) as TxStatus;
          if (f.type === B.readyForQuery && ++seen === readyCount) {
            this.tap = null;
            up.off('close', onClose);
            // What came after that ReadyForQuery in the same read is the client's: whole frames (a NOTIFY
            // sent as the backend went idle, a FATAL from pg_terminate_backend) as well as a partial one.
            const after = frames.slice(i + 1).map((x) => x.raw);
            const rest = reader.takeRemainder();
            if (rest) after.push(rest);
            resolve(out);
            if (after.length) this.onUpstreamData(Buffer.concat(after));
            return;
          }
        }
      };
      up.write(Buffer.concat(msgs));
    });
  }

  /** SessionPort: writes to the client, waiting for it to drain. */
  write(buf: Buffer): Promise<void> {
    if (this.state === 'closed' || !this.socket.writable) return Promise.reject(connectionFailure('client connection closed'));
    metrics.relayed.toClient += buf.length;
    if (this.socket.write(buf)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.socket.off('drain', onDrain);
        reject(connectionFailure('client connection closed'));
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  cancelSignal(): AbortSignal {
    return this.cancelController.signal;
  }

  /** A SET/RESET search_path the client sent: route with the path it makes from now on (search-path.ts). */
  private followSearchPath(): void {
    const setting = this.trackedSettings.get('search_path');
    if (setting === this.path.setting) return;
    this.path.setting = setting;
    this.path.now = searchPathAfter(setting, this.path.dflt, this.path.now);
  }

  preparedSql(name: string): string | null {
    return this.preparedStatements.get(name)?.sql ?? null;
  }

  preparedParamTypes(name: string): number[] | null {
    return this.preparedStatements.get(name)?.paramTypes ?? null;
  }

  /** What the session must remember of a frontend message it forwards. */
  private noteFrontend(f: Frame): void {
    this.ready.sent(f.type);
    try {
      switch (f.type) {
        case F.query:
          // Only SET/RESET/DISCARD/DEALLOCATE matter here: look at the first byte before decoding the text.
          if (maySetSetting(sqlLeadByte(f.body, 0))) trackSettingChange(decodeQuery(f.body), this.trackedSettings, this.preparedStatements);
          this.followSearchPath();
          return;
        case F.parse: {
          // A relayed Parse of the unnamed statement (a body starting with the empty name) is not
          // remembered, so it needs decoding only when its text may change a tracked setting (clients
          // re-Parse it for every extended-protocol query); it replaces any unnamed one remembered.
          const body = f.body;
          if (body[0] === 0) {
            this.preparedStatements.delete('');
            if (!maySetSetting(sqlLeadByte(body, 1))) return;
          }
          trackSettingChange(this.rememberStatement(f, false), this.trackedSettings, this.preparedStatements);
          this.followSearchPath();
          return;
        }
        case F.close: {
          const c = decodeClose(f.body);
          if (c.target === 'S') this.preparedStatements.delete(c.name);
          return;
        }
        default:
          return;
      }
    } catch {
      // A message duckgate cannot read (truncated, invalid UTF-8) goes upstream as it came, and Postgres
      // judges it: an ERROR it carries on from, as it would without duckgate. It changes nothing here.
    }
  }

  /**
   * Records a statement's text; returns the statement's SQL. The unnamed statement is recorded only
   * from batches answered here (a later Bind of it, e.g. postgres.js's after its Describe-only batch,
   * can then be answered too); a relayed Parse or simple Query forgets it.
   */
  private rememberStatement(f: Frame, unnamedToo = true): string {
    const p = decodeParse(f.body);
    // A named statement cannot be parsed again before it is closed: Postgres refuses that Parse (42P05)
    // and keeps the first, so must the session (else a later Bind would run the refused text on DuckDB).
    if (p.name !== '' && this.preparedStatements.has(p.name)) return p.sql;
    if (p.name !== '' || unnamedToo) this.preparedStatements.set(p.name, { sql: p.sql, paramTypes: p.paramTypes });
    return p.sql;
  }

  // ---- upstream → client -------------------------------------------------------------------------

  private onUpstreamData(chunk: Buffer): void {
    try {
      if (this.state === 'auth') {
        this.onStartupReplies(chunk);
        return;
      }
      if (this.state !== 'ready') return;
      if (this.tap) {
        this.tap(chunk);
        return;
      }
      this.scanner.scan(chunk);
      metrics.relayed.toClient += chunk.length;
      if (!this.socket.write(chunk)) this.upstream?.pause();
    } catch (e) {
      this.fail(connectionFailure(`invalid reply from upstream server: ${(e as Error).message}`));
    }
  }

  /** Startup replies are framed whole: a few need rewriting (BackendKeyData, SASL mechanisms). */
  private onStartupReplies(chunk: Buffer): void {
    const frames = this.upstreamFrames.push(chunk);
    const out: Buffer[] = [];
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      switch (f.type) {
        case B.authentication:
          out.push(this.rewriteAuth(f.body, f.raw));
          break;
        case B.backendKeyData:
          this.upstreamKey = { pid: f.body.readInt32BE(0), secret: f.body.readInt32BE(4) };
          // The client gets its backend's own pid (see registry.ts) with duckgate's secret.
          this.key = this.deps.registry.add(this, this.upstreamKey.pid);
          out.push(backendKeyData(this.key.pid, this.key.secret));
          break;
        case B.parameterStatus: {
          const [k, v] = decodeParameterStatus(f.body);
          this.serverParams.set(k, v);
          out.push(f.raw);
          break;
        }
        case B.errorResponse:
          if (decodeErrorFields(f.body).get('V') === 'FATAL') this.upstreamSentFatal = true;
          out.push(f.raw);
          break;
        case B.readyForQuery: {
          const refused = this.deps.onAuthenticated?.(this) ?? null;
          if (refused) {
            this.fail(refused);
            return;
          }
          out.push(f.raw);
          this.txStatus = String.fromCharCode(f.body[0]!) as TxStatus;
          this.state = 'ready';
          this.frames.acceptPassword = false;
          if (this.startupTimer) clearTimeout(this.startupTimer);
          this.startupTimer = null;
          this.socket.write(Buffer.concat(out));
          // Anything after ReadyForQuery belongs to the relay.
          const restFrames = frames.slice(i + 1).map((x) => x.raw);
          const remainder = this.upstreamFrames.takeRemainder();
          if (remainder) restFrames.push(remainder);
          if (restFrames.length) this.onUpstreamData(Buffer.concat(restFrames));
          return;
        }
        default:
          out.push(f.raw);
      }
    }
    if (out.length) this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** SCRAM-SHA-256-PLUS binds to the TLS channel between client and server, which a proxy cannot be: offer only plain SCRAM. */
  private rewriteAuth(body: Buffer, raw: Buffer): Buffer {
    if (body.readInt32BE(0) !== Auth.sasl) return raw;
    const mechs: string[] = [];
    let pos = 4;
    while (pos < body.length && body[pos] !== 0) {
      const end = body.indexOf(0, pos);
      mechs.push(body.toString('utf8', pos, end));
      pos = end + 1;
    }
    const kept = mechs.filter((m) => m !== 'SCRAM-SHA-256-PLUS');
    if (kept.length === mechs.length) return raw;
    const parts = [Buffer.alloc(4)];
    parts[0]!.writeInt32BE(Auth.sasl);
    for (const m of kept) parts.push(Buffer.from(m + '\0'));
    parts.push(Buffer.from([0]));
    const b = Buffer.concat(parts);
    const head = Buffer.alloc(5);
    head[0] = B.authentication;
    head.writeInt32BE(b.length + 4, 1);
    return Buffer.concat([head, b]);
  }

  private observe(type: number, body: Buffer): void {
    switch (type) {
      case B.readyForQuery:
        this.ready.received(type);
        this.txStatus = String.fromCharCode(body[0]!) as TxStatus;
        if (this.settingsTx && this.txStatus === 'I') endSettingsTransaction(this, this.lastTagCommits);
        this.flushPending = false;
        this.afterReply();
        // Not now: this runs inside scan(), before the chunk holding this ReadyForQuery (and the
        // statement's last rows) is written to the client. Close once that write is queued.
        if (this.deps.shuttingDown()) queueMicrotask(() => this.deps.shuttingDown() && !this.busy && this.closeForShutdown());
        return;
      case B.parameterStatus: {
        const [k, v] = decodeParameterStatus(body);
        this.serverParams.set(k, v);
        return;
      }
      case B.errorResponse:
        this.ready.received(type);
        if (decodeErrorFields(body).get('V') === 'FATAL') this.upstreamSentFatal = true;
        this.afterReply();
        return;
      case B.commandComplete:
        this.ready.received(type);
        // Read-your-writes: anything that may have changed table data fences the next DuckDB read.
        if (!this.dirty && !isSelectTag(body) && !READ_TAGS.test(decodeCommandTag(body))) this.dirty = true;
        if (this.settingsTx) this.lastTagCommits = /^(COMMIT|PREPARE TRANSACTION)\b/.test(decodeCommandTag(body));
        this.afterReply();
        return;
      default:
        // CopyInResponse and the completions ReadyTracker follows by their type alone
        this.ready.received(type);
        this.afterReply();
        return;
    }
  }

  /** After a reply: once everything relayed is answered, a batch ended by a Query is over and waiters run. */
  private afterReply(): void {
    if (this.ready.idle && this.batchAwaitsEnd && !this.ready.skipping) {
      this.batchOpen = false;
      this.batchAwaitsEnd = false;
    }
    if (this.idleWaiters.length && (this.upstreamSettled() || this.ready.inCopyIn)) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private onUpstreamClosed(): void {
    if (this.state === 'closed' || this.closing) return;
    // after a bad frame the upstream closing is Postgres's own answer (it sent its FATAL, or nothing)
    if (!this.upstreamSentFatal && !this.poisoned && !this.clientEnded) {
      this.fail(connectionFailure(`connection to upstream server at ${describeTarget(this.deps.target)} was lost`, 'the upstream closed the connection unexpectedly'));
    } else {
      this.close();
    }
  }

  // ---- cancel, failure, close ----------------------------------------------------------------------

  async cancel(): Promise<void> {
    // A DuckDB statement of this session stops on the signal; a fresh controller serves the next one.
    this.cancelController.abort();
    this.cancelController = new AbortController();
    const k = this.upstreamKey;
    if (!k) return;
    try {
      await sendCancel(this.deps.target, k.pid, k.secret);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cancel request to upstream failed');
    }
  }

  /** Sends an error to the client; FATAL errors (and anything unexpected) also close the connection. */
  fail(e: unknown): void {
    if (e instanceof SilentClose) {
      // what Postgres only logs (COMMERROR): no ErrorResponse, the connection just ends
      this.log.info({ reason: e.message }, 'closing connection: protocol violation');
      metrics.connectionErrors.inc({ sqlstate: e.sqlstate });
      this.close();
      return;
    }
    const err = e instanceof PgError ? e : new PgError(SqlState.internalError, `internal error: ${(e as Error)?.message ?? String(e)}`, 'FATAL');
    if (!(e instanceof PgError)) this.log.error({ err: e }, 'unexpected session error');
    metrics.connectionErrors.inc({ sqlstate: err.sqlstate });
    if (this.state !== 'closed' && this.socket.writable) {
      try {
        this.socket.write(err instanceof OldProtocolFatal ? errorResponseV2(err) : errorResponse(err));
      } catch {
        /* socket already gone */
      }
    }
    if (err.severity === 'FATAL' || err.severity === 'PANIC') this.close();
  }

  /** Shutdown of an idle session: tell the client why, as Postgres does on a fast shutdown. */
  closeForShutdown(): void {
    if (this.state === 'closed') return;
    this.fail(new PgError(SqlState.adminShutdown, 'terminating connection due to administrator command', 'FATAL'));
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closing = true;
    if (this.startupTimer) clearTimeout(this.startupTimer);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    if (this.key) this.deps.registry.remove(this.key.pid, this);
    this.cancelController.abort();
    closeDuckPortal(this);
    for (const w of this.idleWaiters) w();
    this.idleWaiters = [];
    metrics.connectionsActive.dec();
    // Ending the upstream socket makes Postgres roll back an open transaction or an unfinished COPY.
    // Each socket may flush what was written to it (a FATAL for the client), but not forever: a peer
    // that reads nothing would otherwise keep it (and its upstream backend) open.
    if (this.upstream) endSoon(this.upstream);
    endSoon(this.socket);
    this.deps.onClose(this);
  }
}

function endSoon(sock: Socket | TLSSocket): void {
  sock.end();
  sock.destroySoon();
  if (sock.destroyed) return;
  const t = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS);
  t.unref();
  sock.once('close', () => clearTimeout(t));
}

function isSelectTag(body: Buffer): boolean {
  if (body.length <= SELECT_TAG.length) return false;
  for (let i = 0; i < SELECT_TAG.length; i++) if (body[i] !== SELECT_TAG[i]) return false;
  return true;
}
