// Postgres connections used by the mirror: a control client, a replication client (replication=database)
// and two Submittables that pg's Client accepts as queries: CopyOut (COPY … TO STDOUT, streamed chunk by
// chunk with backpressure; pg-copy-streams is not a dependency) and ReplicationStream (START_REPLICATION:
// the server answers CopyBothResponse and then streams CopyData until we stop). pg routes every CopyData
// to the active query's handleCopyData (pg/lib/client.js _handleCopyData); `connection.sendCopyFromChunk`
// sends our CopyData (standby status updates) back on the same socket.
import pg from 'pg';

/**
 * Session settings that fix the text form of values, so the snapshot (COPY) and the change stream
 * (pgoutput output functions run in the walsender with these GUCs) produce identical text.
 */
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex';

export function controlClient(url: string, appName = 'duckgate-mirror'): pg.Client {
  return new pg.Client({ connectionString: url, options: SESSION_OPTIONS, application_name: appName });
}

export function replicationClient(url: string, appName = 'duckgate-mirror'): pg.Client {
  return new pg.Client({ connectionString: url, options: SESSION_OPTIONS, application_name: appName, replication: 'database' } as pg.ClientConfig);
}

// Minimal shape of pg's internal Connection that the Submittables use.
interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  stream: { pause(): void; resume(): void };
}

abstract class BaseSubmittable {
  protected connection: PgConnection | null = null;
  private done = false;
  private error: Error | null = null;
  private resolveP!: () => void;
  private rejectP!: (e: Error) => void;
  readonly finished: Promise<void>;
  constructor(readonly text: string) {
    this.finished = new Promise<void>((res, rej) => {
      this.resolveP = res;
      this.rejectP = rej;
    });
    this.finished.catch(() => undefined);
  }
  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query(this.text);
  }
  protected finish(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    if (err) this.rejectP(err);
    else this.resolveP();
  }
  handleError(err: Error): void {
    this.error = err;
    this.finish(err);
  }
  handleReadyForQuery(): void {
    this.finish(this.error);
  }
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleEmptyQuery(): void {}
  handleCopyInResponse(): void {
    this.handleError(new Error('unexpected CopyInResponse'));
  }
  handleCommandComplete(_msg: { text: string }): void {}
  pause(): void {
    this.connection?.stream.pause();
  }
  resume(): void {
    this.connection?.stream.resume();
  }
}

/** COPY … TO STDOUT: each CopyData (one row for COPY TO) goes to onChunk; returning false pauses the socket. */
export class CopyOut extends BaseSubmittable {
  rows = 0;
  constructor(
    text: string,
    private readonly onChunk: (chunk: Buffer) => boolean,
  ) {
    super(text);
  }
  handleCopyData(msg: { chunk: Buffer }): void {
    // pg-protocol may reuse its buffer for the next socket read: copy before keeping the bytes
    if (!this.onChunk(Buffer.from(msg.chunk))) this.pause();
  }
  override handleCommandComplete(msg: { text: string }): void {
    const m = /^COPY (\d+)/.exec(msg.text);
    if (m) this.rows = Number(m[1]);
  }
}

/** START_REPLICATION … LOGICAL: each CopyData payload goes to onMessage. */
export class ReplicationStream extends BaseSubmittable {
  constructor(
    text: string,
    private readonly onMessage: (payload: Buffer) => void,
  ) {
    super(text);
  }
  handleCopyData(msg: { chunk: Buffer }): void {
    this.onMessage(Buffer.from(msg.chunk));
  }
  send(payload: Buffer): void {
    this.connection?.sendCopyFromChunk(payload);
  }
  /** CopyDone: the server ends the stream and answers CommandComplete + ReadyForQuery. */
  end(): void {
    this.connection?.endCopyFrom();
  }
}
