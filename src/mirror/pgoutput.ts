// Decoder for the pgoutput logical replication protocol, version 1, and for the replication CopyData
// envelope (XLogData 'w', Primary keepalive 'k'). Formats:
// https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html and
// https://www.postgresql.org/docs/15/protocol-replication.html (Streaming Replication Protocol).
// Pure: Buffer in, tagged union out. Values stay in Postgres text form (proto_version 1 sends text).
import type { Lsn } from './lsn.js';

/** One column of a TupleData: null, unchanged TOASTed value (not resent), or text. */
export type TupleValue = { kind: 'null' } | { kind: 'unchanged' } | { kind: 'text'; value: string };

export interface RelationColumn {
  /** part of the replica identity key */
  key: boolean;
  name: string;
  typeOid: number;
  typmod: number;
}

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: bigint; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }
  | { tag: 'origin'; lsn: Lsn; name: string }
  | { tag: 'relation'; relid: number; schema: string; name: string; replicaIdentity: string; columns: RelationColumn[] }
  | { tag: 'type'; typeOid: number; schema: string; name: string }
  | { tag: 'insert'; relid: number; tuple: TupleValue[] }
  | { tag: 'update'; relid: number; old: { kind: 'key' | 'old'; tuple: TupleValue[] } | null; tuple: TupleValue[] }
  | { tag: 'delete'; relid: number; old: { kind: 'key' | 'old'; tuple: TupleValue[] } }
  | { tag: 'truncate'; cascade: boolean; restartIdentity: boolean; relids: number[] }
  | { tag: 'message'; transactional: boolean; lsn: Lsn; prefix: string; content: Buffer };

export type ReplicationMessage =
  | { tag: 'xlogdata'; start: Lsn; walEnd: Lsn; sendTime: bigint; payload: Buffer }
  | { tag: 'keepalive'; walEnd: Lsn; sendTime: bigint; replyRequested: boolean };

export class DecodeError extends Error {
  override name = 'DecodeError';
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new DecodeError(`message truncated at byte ${this.pos} (needed ${n} more)`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  /** NUL-terminated string */
  cstr(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new DecodeError(`unterminated string at byte ${this.pos}`);
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  rest(): Buffer {
    const b = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return b;
  }
}

/** The CopyData payload of a START_REPLICATION stream. */
export function decodeReplicationMessage(buf: Buffer): ReplicationMessage {
  const r = new Reader(buf);
  const kind = String.fromCharCode(r.u8());
  switch (kind) {
    case 'w':
      return { tag: 'xlogdata', start: r.u64(), walEnd: r.u64(), sendTime: r.i64(), payload: r.rest() };
    case 'k':
      return { tag: 'keepalive', walEnd: r.u64(), sendTime: r.i64(), replyRequested: r.u8() === 1 };
    default:
      throw new DecodeError(`unknown replication message '${kind}'`);
  }
}

function tupleData(r: Reader): TupleValue[] {
  const n = r.i16();
  const out: TupleValue[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = String.fromCharCode(r.u8());
    switch (k) {
      case 'n':
        out[i] = { kind: 'null' };
        break;
      case 'u':
        out[i] = { kind: 'unchanged' };
        break;
      case 't': {
        const len = r.i32();
        out[i] = { kind: 'text', value: r.bytes(len).toString('utf8') };
        break;
      }
      case 'b':
        // only sent with the binary option (proto >= 2), which we never request
        throw new DecodeError('binary tuple data was not requested');
      default:
        throw new DecodeError(`unknown tuple column kind '${k}'`);
    }
  }
  return out;
}

/** One pgoutput message (the payload of an XLogData). */
export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 'C':
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    case 'O':
      return { tag: 'origin', lsn: r.u64(), name: r.cstr() };
    case 'R': {
      const relid = r.u32();
      const schema = r.cstr();
      const name = r.cstr();
      const replicaIdentity = String.fromCharCode(r.u8());
      const n = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.u8();
        columns.push({ key: (flags & 1) === 1, name: r.cstr(), typeOid: r.u32(), typmod: r.i32() });
      }
      return { tag: 'relation', relid, schema: schema === '' ? 'pg_catalog' : schema, name, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', typeOid: r.u32(), schema: r.cstr(), name: r.cstr() };
    case 'I': {
      const relid = r.u32();
      const n = String.fromCharCode(r.u8());
      if (n !== 'N') throw new DecodeError(`insert: expected 'N', got '${n}'`);
      return { tag: 'insert', relid, tuple: tupleData(r) };
    }
    case 'U': {
      const relid = r.u32();
      let k = String.fromCharCode(r.u8());
      let old: { kind: 'key' | 'old'; tuple: TupleValue[] } | null = null;
      if (k === 'K' || k === 'O') {
        old = { kind: k === 'K' ? 'key' : 'old', tuple: tupleData(r) };
        k = String.fromCharCode(r.u8());
      }
      if (k !== 'N') throw new DecodeError(`update: expected 'N', got '${k}'`);
      return { tag: 'update', relid, old, tuple: tupleData(r) };
    }
    case 'D': {
      const relid = r.u32();
      const k = String.fromCharCode(r.u8());
      if (k !== 'K' && k !== 'O') throw new DecodeError(`delete: expected 'K' or 'O', got '${k}'`);
      return { tag: 'delete', relid, old: { kind: k === 'K' ? 'key' : 'old', tuple: tupleData(r) } };
    }
    case 'T': {
      const n = r.i32();
      const opts = r.u8();
      const relids: number[] = [];
      for (let i = 0; i < n; i++) relids.push(r.u32());
      return { tag: 'truncate', cascade: (opts & 1) !== 0, restartIdentity: (opts & 2) !== 0, relids };
    }
    case 'M': {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstr();
      const len = r.i32();
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: r.bytes(len) };
    }
    default:
      throw new DecodeError(`unknown pgoutput message '${tag}'`);
  }
}

/** Standby Status Update ('r'), the CopyData payload we send to confirm progress. */
export function encodeStandbyStatus(written: Lsn, flushed: Lsn, applied: Lsn, nowMicrosSince2000: bigint, replyRequested: boolean): Buffer {
  const b = Buffer.alloc(34);
  b.write('r', 0, 'latin1');
  b.writeBigUInt64BE(written, 1);
  b.writeBigUInt64BE(flushed, 9);
  b.writeBigUInt64BE(applied, 17);
  b.writeBigInt64BE(nowMicrosSince2000, 25);
  b[33] = replyRequested ? 1 : 0;
  return b;
}

/** Microseconds since 2000-01-01 (the Postgres epoch), for status updates. */
export function pgNowMicros(): bigint {
  return BigInt(Date.now() - 946_684_800_000) * 1000n;
}
