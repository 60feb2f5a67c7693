// Framing and decoding of frontend (client → server) messages. Pure: the caller feeds bytes in and gets
// complete frames out; a partial frame is kept until the rest arrives (pg-protocol's parser shape).
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, isFrontendType, MAX_STARTUP_PACKET_LENGTH, SSL_REQUEST_CODE, F } from './codes.js';
import { isUtf8 } from 'node:buffer';
import { protocolViolation, PgError, SqlState } from './errors.js';

export interface Frame {
  type: number;
  /** the message body, after type and length */
  body: Buffer;
  /** the whole message as it came: type + length + body */
  raw: Buffer;
}

/**
 * A frame as FrameReader gives it: a range of the buffer it arrived in. The Buffer views are made only
 * when asked for: on the relay path most frames are never looked into, and the frames of one unit
 * usually lie back to back in one chunk, so the session sends them as a single view (see `span`).
 */
export class WireFrame implements Frame {
  private rawView: Buffer | null = null;
  private bodyView: Buffer | null = null;
  constructor(
    readonly type: number,
    /** the buffer the frame lies in */
    readonly buf: Buffer,
    /** offset of the type byte in buf */
    readonly start: number,
    /** offset just past the frame's last byte */
    readonly end: number,
  ) {}
  get raw(): Buffer {
    return (this.rawView ??= this.buf.subarray(this.start, this.end));
  }
  get body(): Buffer {
    return (this.bodyView ??= this.buf.subarray(this.start + 5, this.end));
  }
}

/**
 * The frames as one view of the buffer they lie in, when they are WireFrames adjacent in one buffer
 * (the usual case: a client writes a batch at once); else null.
 */
export function span(frames: readonly Frame[]): Buffer | null {
  const first = frames[0];
  if (!(first instanceof WireFrame)) return null;
  let end = first.end;
  for (let i = 1; i < frames.length; i++) {
    const f = frames[i];
    if (!(f instanceof WireFrame) || f.buf !== first.buf || f.start !== end) return null;
    end = f.end;
  }
  return frames.length === 1 ? first.raw : first.buf.subarray(first.start, end);
}

const SPACE = new Uint8Array(256);
// Postgres's scanner whitespace: space, \t, \n, \r, \f, \v (scan.l `space`).
for (const c of [0x20, 0x09, 0x0a, 0x0d, 0x0c, 0x0b]) SPACE[c] = 1;

/**
 * First byte of SQL text starting at `pos` of `body`, after ASCII whitespace, upper-cased when a
 * letter: a cheap test of what a statement may be without decoding its text. 0 at the end of the text,
 * -1 when a non-ASCII byte comes first (the caller must then decode to know).
 */
export function sqlLeadByte(body: Buffer, pos: number): number {
  const n = body.length;
  while (pos < n && SPACE[body[pos]!]) pos++;
  if (pos >= n) return 0;
  const c = body[pos]!;
  if (c >= 0x80) return -1;
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

/**
 * A protocol violation Postgres only logs (ereport(COMMERROR)) before closing the connection: the
 * session logs it and closes without sending an ErrorResponse.
 */
export class SilentClose extends PgError {
  constructor(message: string) {
    super('08P01', message, 'FATAL');
  }
}

/**
 * A FATAL for a client speaking protocol 2.0 or older: Postgres answers it in that protocol's format
 * (send_message_to_frontend: 'E', then "FATAL:  message\n" NUL-terminated), which such a client reads.
 */
export class OldProtocolFatal extends PgError {
  constructor(sqlstate: string, message: string) {
    super(sqlstate, message, 'FATAL');
  }
}

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: number }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string>; raw: Buffer };

/**
 * Reads the first (untyped) packet: Int32 length, Int32 code, body. Returns null until complete and the
 * number of bytes consumed otherwise.
 */
export function readStartupPacket(buf: Buffer): { packet: StartupPacket; consumed: number } | null {
  if (buf.length < 4) return null;
  const len = buf.readInt32BE(0);
  // Postgres only logs this one (ereport(COMMERROR) in ProcessStartupPacket) and closes: a client (or a
  // port scanner) gets no ErrorResponse. node-postgres reports one as an 'error' event.
  if (len < 8 || len > MAX_STARTUP_PACKET_LENGTH) throw new SilentClose('invalid length of startup packet');
  if (buf.length < len) return null;
  const code = buf.readInt32BE(4);
  const raw = buf.subarray(0, len);
  if (code === SSL_REQUEST_CODE) {
    if (len !== 8) throw protocolViolation('invalid length of SSL request');
    return { packet: { kind: 'ssl' }, consumed: len };
  }
  if (code === GSSENC_REQUEST_CODE) {
    if (len !== 8) throw protocolViolation('invalid length of GSSENC request');
    return { packet: { kind: 'gssenc' }, consumed: len };
  }
  if (code === CANCEL_REQUEST_CODE) {
    // logged and closed without a reply, as Postgres does (processCancelRequest answers nothing either way)
    if (len !== 16) throw new SilentClose('invalid length of cancel request packet');
    return { packet: { kind: 'cancel', pid: buf.readInt32BE(8), secret: buf.readInt32BE(12) }, consumed: len };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    const msg = `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`;
    throw major < 3 ? new OldProtocolFatal('0A000', msg) : new PgError('0A000', msg, 'FATAL');
  }
  // Parameters: pairs of NUL-terminated strings, closed by an empty name.
  const params = new Map<string, string>();
  let pos = 8;
  for (;;) {
    if (pos >= len) throw protocolViolation('invalid startup packet layout: expected terminator as last byte');
    const nameEnd = raw.indexOf(0, pos);
    if (nameEnd < 0 || nameEnd >= len) throw protocolViolation('invalid startup packet layout: expected terminator as last byte');
    if (nameEnd === pos) {
      if (pos !== len - 1) throw protocolViolation('invalid startup packet layout: expected terminator as last byte');
      break;
    }
    const valueEnd = raw.indexOf(0, nameEnd + 1);
    if (valueEnd < 0 || valueEnd >= len) throw protocolViolation('invalid startup packet layout: expected terminator as last byte');
    params.set(raw.toString('utf8', pos, nameEnd), raw.toString('utf8', nameEnd + 1, valueEnd));
    pos = valueEnd + 1;
  }
  if (!params.has('user')) throw new PgError('28000', 'no PostgreSQL user name specified in startup packet', 'FATAL');
  return { packet: { kind: 'startup', major, minor, params, raw }, consumed: len };
}

/**
 * The bytes from a frame header Postgres would refuse on, to the end of what came: a message type it
 * does not know (it answers FATAL 08P01 and closes) or a length outside its limits for the type (it
 * closes without a word: pq_getmessage's "invalid message length" is only logged). Relayed as they came,
 * so Postgres answers exactly as it would without duckgate, after every message before them. With an
 * `error`, it is duckgate's own limit (maxMessageBytes) instead: the session reports that error once the
 * messages before it are answered.
 */
export class BadFrame implements Frame {
  readonly type = 0;
  readonly body = Buffer.alloc(0);
  constructor(
    readonly raw: Buffer,
    readonly error: PgError | null = null,
  ) {}
}

/** Postgres's PQ_SMALL_MESSAGE_LIMIT (pqcomm.h) and PQ_LARGE_MESSAGE_LIMIT, by message type (postgres.c SocketBackend). */
const PQ_SMALL_MESSAGE_LIMIT = 10_000;
const PQ_LARGE_MESSAGE_LIMIT = 0x3fffffff;
function postgresLimit(type: number): number {
  return type === F.query || type === F.parse || type === F.bind || type === F.functionCall || type === F.copyData || type === F.password
    ? PQ_LARGE_MESSAGE_LIMIT
    : PQ_SMALL_MESSAGE_LIMIT;
}

/** Splits a byte stream of typed frontend messages into frames. */
export class FrameReader {
  private pending: Buffer | null = null;
  /** a BadFrame was returned: nothing after it is framed */
  private broken = false;
  /**
   * A password/SASL response is a message only during authentication: afterwards Postgres refuses its
   * type like any unknown one (SocketBackend: FATAL "invalid frontend message type 112").
   */
  acceptPassword = true;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  /**
   * Appends bytes and returns every complete frame. A malformed header ends the list with a BadFrame
   * (after the frames before it, which Postgres would have answered first); later bytes are dropped.
   */
  push(chunk: Buffer): Frame[] {
    if (this.broken) return [];
    // Only a frame split across reads costs a copy; the usual chunk of whole frames is framed in place.
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    const n = buf.length;
    let pos = 0;
    let bad: BadFrame | null = null;
    while (pos < n) {
      const type = buf[pos]!;
      // Postgres judges the type byte as soon as it has read it
      if (!isFrontendType(type) || (type === F.password && !this.acceptPassword)) {
        bad = new BadFrame(buf.subarray(pos));
        break;
      }
      if (n - pos < 5) break;
      const len = buf.readInt32BE(pos + 1);
      if (len < 4 || len > postgresLimit(type)) {
        bad = new BadFrame(buf.subarray(pos));
        break;
      }
      if (len > this.maxMessageBytes) {
        // duckgate's own limit (below Postgres's), checked as soon as the header is known, before
        // buffering the body
        bad = new BadFrame(buf.subarray(pos), protocolViolation(`message of ${len} bytes exceeds the limit of ${this.maxMessageBytes} bytes`));
        break;
      }
      if (n - pos < len + 1) break;
      frames.push(new WireFrame(type, buf, pos, pos + 1 + len));
      pos += len + 1;
    }
    if (bad) {
      this.broken = true;
      this.pending = null;
      frames.push(bad);
      return frames;
    }
    this.pending = pos < n ? Buffer.from(buf.subarray(pos)) : null;
    return frames;
  }
}

/** A cursor over a message body that throws 08P01 when the body ends early. */
export class BodyReader {
  pos = 0;
  constructor(private readonly body: Buffer) {}
  int16(): number {
    this.need(2);
    const v = this.body.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  /** Counts (parameters, format codes, columns) are unsigned: up to 65535 (pq_getmsgint(msg, 2)). */
  uint16(): number {
    this.need(2);
    const v = this.body.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.body.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.body.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  /**
   * A NUL-terminated string. Invalid UTF-8 throws 22021, as Postgres rejects it (pg_verifymbstr): a
   * lenient decode would hand U+FFFD to the router and DuckDB, which could then answer a statement
   * Postgres refuses.
   */
  cstring(): string {
    const end = this.body.indexOf(0, this.pos);
    if (end < 0) throw new PgError(SqlState.protocolViolation, 'invalid string in message');
    const s = this.body.toString('utf8', this.pos, end);
    // U+FFFD in the text means either that character or a bad sequence: only then check the bytes
    if (s.includes('\uFFFD') && !isUtf8(this.body.subarray(this.pos, end))) {
      throw new PgError('22021', 'invalid byte sequence for encoding "UTF8"');
    }
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.body.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  byte(): number {
    this.need(1);
    return this.body[this.pos++]!;
  }
  get remaining(): number {
    return this.body.length - this.pos;
  }
  /** Bytes left over after the last field: Postgres's pq_getmsgend raises "invalid message format" (an ERROR). */
  end(): void {
    if (this.pos !== this.body.length) throw new PgError(SqlState.protocolViolation, 'invalid message format');
  }
  private need(n: number): void {
    // an ERROR in Postgres (pq_copymsgbytes), not FATAL: the message is judged, the session goes on
    if (this.pos + n > this.body.length) throw new PgError(SqlState.protocolViolation, 'insufficient data left in message');
  }
}

export interface ParseMessage {
  name: string;
  sql: string;
  paramTypes: number[];
}
export interface BindMessage {
  portal: string;
  statement: string;
  paramFormats: number[];
  params: Array<Buffer | null>;
  resultFormats: number[];
}
export interface DescribeMessage {
  target: 'S' | 'P';
  name: string;
}
export interface ExecuteMessage {
  portal: string;
  maxRows: number;
}
export interface CloseMessage {
  target: 'S' | 'P';
  name: string;
}

export function decodeQuery(body: Buffer): string {
  const r = new BodyReader(body);
  const sql = r.cstring();
  r.end();
  return sql;
}

export function decodeParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body);
  const name = r.cstring();
  const sql = r.cstring();
  const n = r.uint16();
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(r.uint32());
  r.end();
  return { name, sql, paramTypes };
}

export function decodeBind(body: Buffer): BindMessage {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  // Counts are unsigned 16-bit (postgres.c exec_bind_message reads them with pq_getmsgint(msg, 2)); the
  // format codes themselves are signed values.
  const nf = r.uint16();
  const paramFormats: number[] = [];
  for (let i = 0; i < nf; i++) paramFormats.push(r.int16());
  const np = r.uint16();
  const params: Array<Buffer | null> = [];
  for (let i = 0; i < np; i++) {
    const len = r.int32();
    if (len < -1) throw new PgError(SqlState.protocolViolation, 'insufficient data left in message');
    params.push(len === -1 ? null : r.bytes(len));
  }
  const nr = r.uint16();
  const resultFormats: number[] = [];
  for (let i = 0; i < nr; i++) resultFormats.push(r.int16());
  r.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

function target(b: number, what: 'DESCRIBE' | 'CLOSE'): 'S' | 'P' {
  if (b === 0x53) return 'S';
  if (b === 0x50) return 'P';
  // an ERROR in Postgres (exec_describe_*/Close handling), the session goes on
  throw new PgError(SqlState.protocolViolation, `invalid ${what} message subtype ${b}`);
}

export function decodeDescribe(body: Buffer): DescribeMessage {
  const r = new BodyReader(body);
  const m: DescribeMessage = { target: target(r.byte(), 'DESCRIBE'), name: r.cstring() };
  r.end();
  return m;
}

export function decodeClose(body: Buffer): CloseMessage {
  const r = new BodyReader(body);
  const m: CloseMessage = { target: target(r.byte(), 'CLOSE'), name: r.cstring() };
  r.end();
  return m;
}

export function decodeExecute(body: Buffer): ExecuteMessage {
  const r = new BodyReader(body);
  const m: ExecuteMessage = { portal: r.cstring(), maxRows: r.int32() };
  r.end();
  return m;
}

export { F };
