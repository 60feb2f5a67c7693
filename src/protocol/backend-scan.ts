// Scanning the upstream's reply stream on the relay path. Replies are forwarded as the bytes that came;
// this only finds message boundaries and hands the caller the bodies of the few message types the session
// must observe (ReadyForQuery, ParameterStatus, ErrorResponse, CommandComplete, COPY starts). DataRows
// and everything else are skipped over without being copied or decoded. Below it, decoders of the
// backend message bodies duckgate reads itself (control round trips).

import type { FieldDescription } from './backend.js';

export type Observer = (type: number, body: Buffer) => void;

export class BackendScanner {
  private header = Buffer.alloc(5);
  private headerLen = 0;
  /** bytes of the current message body still to come */
  private remaining = 0;
  /** body being collected for an observed message, or null when skipping */
  private collecting: Buffer | null = null;
  private collectType = 0;
  private collected = 0;

  /**
   * @param observed a 256-entry table: observed[type] 1 for the types to hand to onMessage with their
   * body, 2 for the types whose type alone is handed over (an empty body; the bytes are skipped unread)
   */
  constructor(
    private readonly observed: Uint8Array,
    private readonly onMessage: Observer,
  ) {}

  /** True when the stream is between messages (no partial message pending). */
  get atBoundary(): boolean {
    return this.headerLen === 0 && this.remaining === 0;
  }

  scan(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - pos);
        if (this.collecting) {
          chunk.copy(this.collecting, this.collected, pos, pos + take);
          this.collected += take;
        }
        this.remaining -= take;
        pos += take;
        if (this.remaining === 0 && this.collecting) {
          const body = this.collecting;
          this.collecting = null;
          this.onMessage(this.collectType, body);
        }
        continue;
      }
      // Fast path: a whole header available in this chunk.
      let type: number;
      let len: number;
      if (this.headerLen === 0 && n - pos >= 5) {
        type = chunk[pos]!;
        len = chunk.readInt32BE(pos + 1);
        pos += 5;
      } else {
        const take = Math.min(5 - this.headerLen, n - pos);
        chunk.copy(this.header, this.headerLen, pos, pos + take);
        this.headerLen += take;
        pos += take;
        if (this.headerLen < 5) return;
        type = this.header[0]!;
        len = this.header.readInt32BE(1);
        this.headerLen = 0;
      }
      const bodyLen = len - 4;
      if (bodyLen < 0) throw new Error(`upstream sent an invalid message length ${len}`);
      const o = this.observed[type];
      if (o === 1) {
        if (n - pos >= bodyLen) {
          this.onMessage(type, chunk.subarray(pos, pos + bodyLen));
          pos += bodyLen;
        } else {
          this.collecting = Buffer.allocUnsafe(bodyLen);
          this.collectType = type;
          this.collected = 0;
          this.remaining = bodyLen;
        }
      } else {
        if (o === 2) this.onMessage(type, NO_BODY);
        this.remaining = bodyLen;
      }
    }
  }
}

const NO_BODY = Buffer.alloc(0);

/** The table BackendScanner takes: `types` handed over with their bodies, `typeOnly` by their type alone. */
export function observedTypes(types: string, typeOnly: readonly number[] = []): Uint8Array {
  const t = new Uint8Array(256);
  for (const c of typeOnly) t[c] = 2;
  for (const ch of types) t[ch.charCodeAt(0)] = 1;
  return t;
}

/** Complete backend frames, copied: for the startup phase, where messages are few and some are rewritten. */
export class BackendFrameReader {
  private pending: Buffer | null = null;
  push(chunk: Buffer): Array<{ type: number; body: Buffer; raw: Buffer }> {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Array<{ type: number; body: Buffer; raw: Buffer }> = [];
    let pos = 0;
    while (buf.length - pos >= 5) {
      const len = buf.readInt32BE(pos + 1);
      if (len < 4) throw new Error(`upstream sent an invalid message length ${len}`);
      if (buf.length - pos < len + 1) break;
      out.push({ type: buf[pos]!, body: buf.subarray(pos + 5, pos + 1 + len), raw: buf.subarray(pos, pos + 1 + len) });
      pos += len + 1;
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null;
    return out;
  }
  /** Bytes after the last complete frame (handed over to the relay scanner after startup). */
  takeRemainder(): Buffer | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }
}

/** Fields of an ErrorResponse/NoticeResponse body, keyed by field code letter. */
export function decodeErrorFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const code = String.fromCharCode(body[pos]!);
    const end = body.indexOf(0, pos + 1);
    if (end < 0) break;
    out.set(code, body.toString('utf8', pos + 1, end));
    pos = end + 1;
  }
  return out;
}

/** Name and value of a ParameterStatus body. */
export function decodeParameterStatus(body: Buffer): [string, string] {
  const a = body.indexOf(0);
  const b = body.indexOf(0, a + 1);
  return [body.toString('utf8', 0, a), body.toString('utf8', a + 1, b < 0 ? body.length : b)];
}

/** Tag of a CommandComplete body. */
export function decodeCommandTag(body: Buffer): string {
  const end = body.indexOf(0);
  return body.toString('utf8', 0, end < 0 ? body.length : end);
}

/** Column values of a DataRow body: views into the body (null for SQL NULL). */
export function decodeDataRow(body: Buffer): Array<Buffer | null> {
  // counts are unsigned 16-bit on the wire (pq_sendint16 of a count), as in every message below
  const n = body.readUInt16BE(0);
  const out: Array<Buffer | null> = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0) out.push(null);
    else {
      out.push(body.subarray(pos, pos + len));
      pos += len;
    }
  }
  return out;
}

/** Fields of a RowDescription body. */
export function decodeRowDescription(body: Buffer): FieldDescription[] {
  const n = body.readUInt16BE(0);
  const out: FieldDescription[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, pos);
    const name = body.toString('utf8', pos, end);
    pos = end + 1;
    out.push({
      name,
      tableOid: body.readUInt32BE(pos),
      columnAttr: body.readInt16BE(pos + 4),
      typeOid: body.readUInt32BE(pos + 6),
      typeSize: body.readInt16BE(pos + 10),
      typmod: body.readInt32BE(pos + 12),
      format: body.readInt16BE(pos + 16) === 1 ? 1 : 0,
    });
    pos += 18;
  }
  return out;
}

/** Parameter type OIDs of a ParameterDescription body. */
export function decodeParameterDescription(body: Buffer): number[] {
  // up to 65535 parameters: a statement with 40,000 describes them all
  const n = body.readUInt16BE(0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(body.readUInt32BE(2 + 4 * i));
  return out;
}
