/**
 * Which ReadyForQuery messages the upstream still owes, found by following the server through the
 * messages relayed to it, in the order it reads them, and through its replies.
 *
 * Counting a ReadyForQuery per Query and Sync sent is not enough; Postgres does not answer every one:
 * - after an error in an extended-protocol message (Parse, Bind, Describe, Execute, Close) it skips
 *   every message up to the next Sync, Query and FunctionCall included (postgres.c, ignore_till_sync);
 * - in COPY FROM STDIN it reads CopyData until CopyDone/CopyFail and drops any Sync or Flush it meets
 *   (copyfromparse.c, CopyGetData), so a Sync a client sent right after Bind/Execute (tokio-postgres
 *   does) brings no ReadyForQuery, even though it was sent before the CopyInResponse came back.
 * Neither can be known when the message is sent, only from the replies, so each relayed message that
 * expects an answer is queued and the replies take them off in order: an extended message is done at
 * its completion (ParseComplete, BindComplete, CloseComplete, RowDescription/NoData, CommandComplete,
 * EmptyQueryResponse, PortalSuspended) or its ErrorResponse; a Query, FunctionCall or Sync at its
 * ReadyForQuery.
 *
 * The session is idle (nothing relayed is unanswered) when the queue is empty and no COPY FROM STDIN is
 * open: only then may it run a private round trip on the connection.
 */
import { B, F } from '../protocol/codes.js';

/** Queue entries: what the server owes for a message relayed to it. */
const EXT = 1; // an extended-protocol message: one completion or an error
const SYNC = 2; // a ReadyForQuery
const QUERY = 3; // a ReadyForQuery (after any number of results)
const FCALL = 4; // a ReadyForQuery (after FunctionCallResponse or an error)
const COPY_END = 5; // CopyDone/CopyFail sent before the server was known to be in COPY

/** Backend message types the tracker must see; only their type matters (bodies are not read). */
export const TRACKED_REPLIES = [
  B.parseComplete,
  B.bindComplete,
  B.closeComplete,
  B.noData,
  B.rowDescription,
  B.commandComplete,
  B.emptyQueryResponse,
  B.portalSuspended,
  B.errorResponse,
  B.copyInResponse,
  B.copyBothResponse,
  B.readyForQuery,
];

const IS_TRACKED = new Uint8Array(256);
for (const t of TRACKED_REPLIES) IS_TRACKED[t] = 1;

export class ReadyTracker {
  private ring = new Uint8Array(64);
  private head = 0;
  private len = 0;
  /** SYNC/QUERY/FCALL entries queued: the ReadyForQuery messages owed */
  private owed = 0;
  /** the server skips to the next Sync (an extended message failed and no Sync was queued after it) */
  private ignoring = false;
  /** the server reads COPY data and the client has not sent CopyDone/CopyFail yet */
  private copyOpen = false;

  /** ReadyForQuery messages still owed. */
  get pending(): number {
    return this.owed;
  }

  /** The server is in COPY FROM STDIN (known from its CopyInResponse) until the client's CopyDone/CopyFail. */
  get inCopyIn(): boolean {
    return this.copyOpen;
  }

  /** The server skips messages until the next Sync (an extended-protocol message failed). */
  get skipping(): boolean {
    return this.ignoring;
  }

  /** Nothing relayed is unanswered. */
  get idle(): boolean {
    return this.len === 0 && !this.copyOpen;
  }

  /** A frontend message relayed upstream, in the order sent. */
  sent(type: number): void {
    switch (type) {
      case F.parse:
      case F.bind:
      case F.describe:
      case F.execute:
      case F.close:
        // in COPY the server rejects it and closes the connection; while skipping it is not answered
        if (!this.copyOpen && !this.ignoring) this.push(EXT);
        return;
      case F.sync:
        if (this.copyOpen) return; // dropped by CopyGetData
        this.ignoring = false;
        this.push(SYNC);
        return;
      case F.query:
        if (!this.copyOpen && !this.ignoring) this.push(QUERY);
        return;
      case F.functionCall:
        if (!this.copyOpen && !this.ignoring) this.push(FCALL);
        return;
      case F.copyDone:
      case F.copyFail:
        if (this.copyOpen) this.copyOpen = false;
        // only a copy started by a message still queued can read it; otherwise the server ignores it
        else if (!this.ignoring && this.len > 0) this.push(COPY_END);
        return;
      default:
        return;
    }
  }

  /** A backend message (one of TRACKED_REPLIES) received from the upstream, in order. */
  received(type: number): void {
    if (!IS_TRACKED[type]) return; // rows, notices, parameter changes: nothing owed changes
    this.dropCopyEnds();
    this.handle(type);
    // a CopyDone/CopyFail left first has no copy before it to end (the server ignored it)
    this.dropCopyEnds();
  }

  private handle(type: number): void {
    const first = this.len > 0 ? this.ring[this.head]! : 0;
    switch (type) {
      case B.readyForQuery:
        // the oldest owed ReadyForQuery; anything before it has been answered (or was never going to be)
        while (this.len > 0) {
          const e = this.shift();
          if (e === SYNC || e === QUERY || e === FCALL) break;
        }
        this.copyOpen = false;
        return;
      case B.errorResponse:
        this.copyOpen = false; // an error ends COPY on the server's side
        if (first !== EXT) return; // a Query's, FunctionCall's or Sync's own error: its ReadyForQuery follows
        this.shift();
        // skip till Sync: the queued messages up to it are not answered
        while (this.len > 0 && this.ring[this.head] !== SYNC) this.shift();
        if (this.len === 0) this.ignoring = true;
        return;
      case B.copyInResponse:
      case B.copyBothResponse:
        this.startCopyIn();
        return;
      default:
        // a completion (its type alone tells; a Query's own results leave its entry alone)
        if (first === EXT) this.shift();
        return;
    }
  }

  /**
   * The oldest entry (a Query or Execute) started COPY FROM STDIN: the Syncs queued after it, up to the
   * CopyDone/CopyFail that ends the copy, are read and dropped by the copy.
   */
  private startCopyIn(): void {
    if (this.len === 0) {
      this.copyOpen = true;
      return;
    }
    const kept: number[] = [this.ring[this.head]!];
    let ended = false;
    for (let i = 1; i < this.len; i++) {
      const e = this.ring[(this.head + i) % this.ring.length]!;
      if (!ended && e === SYNC) {
        this.owed--;
        continue;
      }
      if (!ended && e === COPY_END) {
        ended = true;
        continue;
      }
      kept.push(e);
    }
    this.head = 0;
    this.len = 0;
    for (const e of kept) this.ring[this.len++] = e;
    if (!ended) this.copyOpen = true;
  }

  private dropCopyEnds(): void {
    while (this.len > 0 && this.ring[this.head] === COPY_END) this.shift();
  }

  private push(e: number): void {
    if (this.len === this.ring.length) {
      const next = new Uint8Array(this.ring.length * 2);
      for (let i = 0; i < this.len; i++) next[i] = this.ring[(this.head + i) % this.ring.length]!;
      this.ring = next;
      this.head = 0;
    }
    this.ring[(this.head + this.len) % this.ring.length] = e;
    this.len++;
    if (e === SYNC || e === QUERY || e === FCALL) this.owed++;
  }

  private shift(): number {
    const e = this.ring[this.head]!;
    this.head = (this.head + 1) % this.ring.length;
    this.len--;
    if (e === SYNC || e === QUERY || e === FCALL) this.owed--;
    return e;
  }
}
