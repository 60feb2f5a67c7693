// The pure wire codec: framing of frontend messages, the startup packet, the upstream scanner, and the
// backend encoders. Fixtures are split at every offset (pg-protocol's own test style) because TCP may
// deliver any prefix of a message in one chunk.
import { describe, expect, it } from 'vitest';
import { serialize } from 'pg-protocol';
import * as be from '../../src/protocol/backend.js';
import { BackendFrameReader, BackendScanner, decodeCommandTag, decodeDataRow, decodeErrorFields, decodeParameterDescription, decodeParameterStatus, decodeRowDescription, observedTypes } from '../../src/protocol/backend-scan.js';
import { B, CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from '../../src/protocol/codes.js';
import { PgError, protocolViolation } from '../../src/protocol/errors.js';
import {
  BadFrame,
  decodeBind,
  decodeClose,
  decodeDescribe,
  decodeExecute,
  decodeParse,
  decodeQuery,
  FrameReader,
  readStartupPacket,
  SilentClose,
  type Frame,
} from '../../src/protocol/frontend.js';
import { ReadyTracker } from '../../src/session/ready-tracker.js';
import { SessionRegistry } from '../../src/session/registry.js';
import { Writer } from '../../src/protocol/writer.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** A typed message with an exact length field (or a forged one). */
function msg(type: string, body: Buffer, len = body.length + 4): Buffer {
  return Buffer.concat([Buffer.from(type), int32(len), body]);
}

/** Feeds a buffer to a FrameReader in two pieces split at `at`, returning the frames (copied). */
function framesSplitAt(buf: Buffer, at: number, max = 1 << 20): Array<{ type: number; body: string; raw: string }> {
  const r = new FrameReader(max);
  const out: Frame[] = [...r.push(buf.subarray(0, at)), ...r.push(buf.subarray(at))];
  expect(r.buffered).toBe(0);
  return out.map((f) => ({ type: f.type, body: f.body.toString('hex'), raw: f.raw.toString('hex') }));
}

function expectPgError(fn: () => unknown, sqlstate: string, message?: RegExp): PgError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PgError);
  const e = caught as PgError;
  expect(e.sqlstate).toBe(sqlstate);
  if (message) expect(e.message).toMatch(message);
  return e;
}

// A realistic pipeline: the extended-protocol batch node-postgres sends for a parameterised query, then a
// simple Query and a Terminate.
const pipeline = Buffer.concat([
  serialize.parse({ name: 's1', text: 'SELECT $1::int + $2', types: [23, 23] }),
  serialize.bind({ portal: 'p1', statement: 's1', values: ['1', null], binary: true }),
  serialize.describe({ type: 'P', name: 'p1' }),
  serialize.execute({ portal: 'p1', rows: 5 }),
  serialize.close({ type: 'S', name: 's1' }),
  serialize.flush(),
  serialize.sync(),
  serialize.query('SELECT 1; SELECT 2'),
  serialize.end(),
]);

describe('FrameReader', () => {
  it('frames a pipeline identically whatever offset it is split at', () => {
    const whole = framesSplitAt(pipeline, pipeline.length);
    expect(whole.map((f) => String.fromCharCode(f.type)).join('')).toBe('PBDECHSQX');
    expect(Buffer.concat(whole.map((f) => Buffer.from(f.raw, 'hex'))).equals(pipeline)).toBe(true);
    for (let at = 0; at <= pipeline.length; at++) {
      expect(framesSplitAt(pipeline, at), `split at ${at}`).toEqual(whole);
    }
  });

  it('frames a stream fed one byte at a time', () => {
    const r = new FrameReader(1 << 20);
    const out: Frame[] = [];
    for (let i = 0; i < pipeline.length; i++) out.push(...r.push(pipeline.subarray(i, i + 1)));
    expect(out.map((f) => String.fromCharCode(f.type)).join('')).toBe('PBDECHSQX');
    expect(Buffer.concat(out.map((f) => f.raw)).equals(pipeline)).toBe(true);
  });

  it('keeps a partial frame until the rest arrives', () => {
    const r = new FrameReader(1 << 20);
    const q = serialize.query('SELECT 42');
    expect(r.push(q.subarray(0, 7))).toEqual([]);
    expect(r.buffered).toBe(7);
    const frames = r.push(q.subarray(7));
    expect(frames).toHaveLength(1);
    expect(decodeQuery(frames[0]!.body)).toBe('SELECT 42');
    expect(r.buffered).toBe(0);
  });

  it('accepts a body-less message (length 4)', () => {
    const frames = new FrameReader(100).push(hex('53 00000004'));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.body.length).toBe(0);
  });

  /** The BadFrame ending a push, with what came before it. */
  function bad(r: FrameReader, chunk: Buffer): { before: number; bad: BadFrame } {
    const frames = r.push(chunk);
    const last = frames.at(-1);
    expect(last).toBeInstanceOf(BadFrame);
    return { before: frames.length - 1, bad: last as BadFrame };
  }

  it('ends with a BadFrame (the raw bytes, for Postgres to judge) at a length below 4 or above Postgres\'s limit for the type', () => {
    for (const len of [3, -1, -0x80000000]) {
      const b = bad(new FrameReader(100), msg('Q', Buffer.alloc(0), len));
      expect([b.before, b.bad.error, b.bad.raw[0]]).toEqual([0, null, 0x51]);
    }
    // Sync, Execute, Describe, Close, Flush, Terminate, CopyDone/CopyFail: at most 10,000 bytes (PQ_SMALL_MESSAGE_LIMIT)
    expect(new FrameReader(1 << 20).push(msg('E', Buffer.alloc(9996)))).toHaveLength(1);
    expect(bad(new FrameReader(1 << 20), hex('45 00002711')).bad.error).toBeNull();
    // frames before it come first, and nothing after it is framed
    const r = new FrameReader(100);
    const b = bad(r, Buffer.concat([serialize.sync(), serialize.flush(), hex('53 00000002'), serialize.sync()]));
    expect(b.before).toBe(2);
    expect(b.bad.raw).toEqual(Buffer.concat([hex('53 00000002'), serialize.sync()]));
    expect(r.push(serialize.sync())).toEqual([]);
  });

  it('ends with a BadFrame carrying duckgate\'s own 08P01 at an oversized message, as soon as its header is known', () => {
    // beyond Postgres's own limit for the type it is Postgres's to judge (a silent close)
    expect(bad(new FrameReader(1024), hex('51 40000000')).bad.error).toBeNull();
    const r = new FrameReader(1024);
    // only the 5-byte header of a 1 MB message: rejected without waiting for the body
    const e = bad(r, hex('51 00100000')).bad.error!;
    expect([e.sqlstate, e.severity]).toEqual(['08P01', 'FATAL']);
    expect(e.message).toMatch(/exceeds the limit of 1024 bytes/);
    // a header that arrives after a complete frame in the same chunk
    const b = bad(new FrameReader(1024), Buffer.concat([serialize.sync(), hex('51 00100000 00')]));
    expect(b.before).toBe(1);
    expect(b.bad.error?.message).toMatch(/exceeds/);
    // exactly at the limit is fine
    const atLimit = msg('Q', Buffer.alloc(1020, 0x41));
    expect(new FrameReader(1024).push(atLimit)).toHaveLength(1);
    expect(bad(new FrameReader(1023), atLimit).bad.error).not.toBeNull();
  });

  it('ends with a BadFrame at an unknown message type, as soon as the type byte is in', () => {
    for (const t of ['Z', 'T', '\0', 'q', '!']) {
      expect(bad(new FrameReader(100), msg(t, Buffer.alloc(0))).bad.error).toBeNull();
    }
    const r = new FrameReader(100);
    const b = bad(r, Buffer.concat([serialize.sync(), Buffer.from('?')]));
    expect([b.before, b.bad.raw.toString()]).toEqual([1, '?']);
  });
});

describe('readStartupPacket', () => {
  const special = (code: number, extra: Buffer = Buffer.alloc(0)) => Buffer.concat([int32(8 + extra.length), int32(code), extra]);

  it('waits for the whole packet', () => {
    const s = serialize.startup({ user: 'alice', database: 'db' });
    for (let at = 0; at < s.length; at++) expect(readStartupPacket(s.subarray(0, at)), `prefix ${at}`).toBeNull();
  });

  it('reads a v3 StartupMessage with its parameters', () => {
    const s = serialize.startup({ user: 'alice', database: 'db', application_name: 'psql', options: '-c x=1' });
    const r = readStartupPacket(Buffer.concat([s, serialize.sync()]))!;
    expect(r.consumed).toBe(s.length);
    expect(r.packet.kind).toBe('startup');
    if (r.packet.kind !== 'startup') return;
    expect(r.packet.major).toBe(3);
    expect(r.packet.minor).toBe(0);
    expect(Object.fromEntries(r.packet.params)).toEqual({ user: 'alice', database: 'db', application_name: 'psql', options: '-c x=1', client_encoding: 'UTF8' });
    expect(r.packet.raw.equals(s)).toBe(true);
  });

  it('reads SSLRequest, GSSENCRequest and CancelRequest', () => {
    expect(readStartupPacket(special(SSL_REQUEST_CODE))).toEqual({ packet: { kind: 'ssl' }, consumed: 8 });
    expect(readStartupPacket(special(GSSENC_REQUEST_CODE))).toEqual({ packet: { kind: 'gssenc' }, consumed: 8 });
    const cancel = special(CANCEL_REQUEST_CODE, Buffer.concat([int32(4242), int32(-7)]));
    expect(readStartupPacket(cancel)).toEqual({ packet: { kind: 'cancel', pid: 4242, secret: -7 }, consumed: 16 });
    // the fixed bytes of an SSLRequest as every client sends them
    expect(readStartupPacket(hex('00000008 04d2162f'))!.packet).toEqual({ kind: 'ssl' });
  });

  it('rejects special requests of the wrong length', () => {
    expectPgError(() => readStartupPacket(special(SSL_REQUEST_CODE, Buffer.alloc(4))), '08P01', /SSL request/);
    expectPgError(() => readStartupPacket(special(GSSENC_REQUEST_CODE, Buffer.alloc(4))), '08P01', /GSSENC/);
    expectPgError(() => readStartupPacket(special(CANCEL_REQUEST_CODE, Buffer.alloc(4))), '08P01', /cancel request/);
  });

  it('rejects protocol 2.0 (and 4.0) with a FATAL 0A000 naming the version', () => {
    const v2 = Buffer.concat([int32(9 + 5), int32(2 << 16), Buffer.from('user\0x\0\0')]);
    const e = expectPgError(() => readStartupPacket(v2), '0A000', /unsupported frontend protocol 2\.0/);
    expect(e.severity).toBe('FATAL');
    const v4 = Buffer.concat([int32(9), int32(4 << 16), Buffer.from([0])]);
    expectPgError(() => readStartupPacket(v4), '0A000', /4\.0/);
  });

  it('rejects bad layouts with 08P01', () => {
    const pkt = (body: Buffer) => Buffer.concat([int32(8 + body.length), int32(3 << 16), body]);
    // missing final terminator
    expectPgError(() => readStartupPacket(pkt(Buffer.from('user\0alice\0'))), '08P01', /layout/);
    // name without a value
    expectPgError(() => readStartupPacket(pkt(Buffer.from('user\0alice\0database'))), '08P01', /layout/);
    // bytes after the terminator
    expectPgError(() => readStartupPacket(pkt(Buffer.from('user\0alice\0\0junk'))), '08P01', /layout/);
    // no parameters at all, not even the terminator
    expectPgError(() => readStartupPacket(pkt(Buffer.alloc(0))), '08P01', /layout/);
    // no user: 28000 as Postgres says
    expectPgError(() => readStartupPacket(pkt(Buffer.from('database\0x\0\0'))), '28000', /no PostgreSQL user name/);
  });

  it('rejects lengths that are too short or too long, before waiting for the body', () => {
    expectPgError(() => readStartupPacket(int32(4)), '08P01', /invalid length of startup packet/);
    expectPgError(() => readStartupPacket(int32(-1)), '08P01', /invalid length/);
    expectPgError(() => readStartupPacket(int32(10_001)), '08P01', /invalid length/);
    expectPgError(() => readStartupPacket(Buffer.from('GET / HTTP/1.1\r\n')), '08P01', /invalid length/);
  });

  it('a bad startup or cancel packet length is a SilentClose: Postgres only logs it (COMMERROR), it sends nothing', () => {
    for (const bad of [int32(4), Buffer.from('X\0\0\0\x04'), Buffer.from('GET / HTTP/1.1\r\n'), special(CANCEL_REQUEST_CODE, Buffer.alloc(4))]) {
      expect(() => readStartupPacket(bad)).toThrow(SilentClose);
    }
    // a bad layout is a FATAL Postgres does send
    const pkt = Buffer.concat([int32(8 + 11), int32(3 << 16), Buffer.from('user\0alice\0')]);
    expect(() => readStartupPacket(pkt)).not.toThrow(SilentClose);
  });
});

describe('frontend decoders', () => {
  it('decode what pg-protocol serializes', () => {
    const [p, b, d, e, c] = new FrameReader(1 << 20).push(pipeline);
    expect(decodeParse(p!.body)).toEqual({ name: 's1', sql: 'SELECT $1::int + $2', paramTypes: [23, 23] });
    const bind = decodeBind(b!.body);
    expect(bind.portal).toBe('p1');
    expect(bind.statement).toBe('s1');
    expect(bind.params.map((x) => (x === null ? null : x.toString()))).toEqual(['1', null]);
    expect(bind.resultFormats).toEqual([1]);
    expect(decodeDescribe(d!.body)).toEqual({ target: 'P', name: 'p1' });
    expect(decodeExecute(e!.body)).toEqual({ portal: 'p1', maxRows: 5 });
    expect(decodeClose(c!.body)).toEqual({ target: 'S', name: 's1' });
  });

  it('read counts as unsigned 16-bit: 40,000 parameters (Parse types, Bind formats, values, result formats)', () => {
    const n = 40_000;
    const types = Array.from({ length: n }, () => 23);
    const parse = new FrameReader(1 << 24).push(serialize.parse({ name: 'big', text: 'INSERT', types }))[0]!;
    expect(decodeParse(parse.body).paramTypes).toHaveLength(n);
    const i16 = (v: number) => {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(v);
      return b;
    };
    const values = Array.from({ length: n }, (_, i) => Buffer.concat([int32(String(i).length), Buffer.from(String(i))]));
    const body = Buffer.concat([Buffer.from('\0big\0'), i16(n), Buffer.alloc(2 * n), i16(n), ...values, i16(n), Buffer.alloc(2 * n)]);
    const bind = decodeBind(body);
    expect([bind.paramFormats.length, bind.params.length, bind.resultFormats.length]).toEqual([n, n, n]);
    expect(bind.params[n - 1]!.toString()).toBe(String(n - 1));
    // format codes themselves stay signed values (65535 is -1, which Postgres rejects as a format)
    expect(decodeBind(Buffer.concat([Buffer.from('\0\0'), i16(1), i16(0xffff), i16(0), i16(0)])).paramFormats).toEqual([-1]);
  });

  it('reject invalid UTF-8 in a string with 22021 (an ERROR: Postgres answers it and keeps the session)', () => {
    const e = expectPgError(() => decodeQuery(Buffer.from([0x53, 0xff, 0xfe, 0])), '22021', /invalid byte sequence/);
    expect(e.severity).toBe('ERROR');
    expectPgError(() => decodeParse(Buffer.concat([Buffer.from([0xc3, 0x28, 0]), Buffer.from('SELECT 1\0\0\0')])), '22021');
    // valid multibyte text and a real U+FFFD are fine
    expect(decodeQuery(Buffer.from('SELECT \'é\uFFFD\'\0'))).toBe("SELECT 'é\uFFFD'");
  });

  it('reject truncated bodies with 08P01', () => {
    const parse = new FrameReader(1 << 20).push(pipeline)[0]!.body;
    for (let n = 0; n < parse.length; n++) expectPgError(() => decodeParse(parse.subarray(0, n)), '08P01');
    expectPgError(() => decodeQuery(Buffer.from('SELECT 1')), '08P01', /invalid string/);
    expectPgError(() => decodeDescribe(Buffer.from('Xname\0')), '08P01', /subtype/);
    expectPgError(() => decodeExecute(Buffer.from('\0\0\0')), '08P01', /insufficient data/);
    // bytes left over after the last field: "invalid message format" (pq_getmsgend)
    expectPgError(() => decodeQuery(Buffer.from('SELECT 1\0I')), '08P01', /invalid message format/);
    expectPgError(() => decodeQuery(Buffer.from('SET x = a\0b\0')), '08P01', /invalid message format/);
    expectPgError(() => decodeExecute(Buffer.from('\0\0\0\0\0\0')), '08P01', /invalid message format/);
    expectPgError(() => decodeDescribe(Buffer.from('Sname\0x')), '08P01', /invalid message format/);
    expectPgError(() => decodeParse(Buffer.concat([new FrameReader(1 << 20).push(pipeline)[0]!.body, Buffer.from([0])])), '08P01', /invalid message format/);
    // as ERRORs, as Postgres reports them (pq_getmsg*): the session carries on
    expect(() => decodeExecute(Buffer.from('\0\0\0'))).toThrow(expect.objectContaining({ severity: 'ERROR' }));
    expect(() => decodeDescribe(Buffer.from('Xname\0'))).toThrow(expect.objectContaining({ severity: 'ERROR', message: 'invalid DESCRIBE message subtype 88' }));
    expect(() => decodeClose(Buffer.from('Xname\0'))).toThrow(expect.objectContaining({ severity: 'ERROR', message: 'invalid CLOSE message subtype 88' }));
  });
});

// ---- upstream side ---------------------------------------------------------------------------------

// What Postgres sends for `SELECT 1 AS a; SET TimeZone='UTC'` plus a failing statement, as a byte stream.
const rowDesc = be.rowDescription([{ name: 'a', tableOid: 0, columnAttr: 0, typeOid: 23, typeSize: 4, typmod: -1, format: 0 }]);
const upstreamStream = Buffer.concat([
  rowDesc,
  be.dataRow([Buffer.from('1')]),
  be.dataRow([Buffer.from('x'.repeat(300))]),
  be.commandComplete('SELECT 2'),
  be.parameterStatus('TimeZone', 'UTC'),
  be.commandComplete('SET'),
  be.errorResponse(new PgError('42601', 'syntax error at or near "x"')),
  be.readyForQuery('E'),
  msg('G', hex('00 0001 0000')), // CopyInResponse, text, one column
  be.noticeResponse({ message: 'hello' }),
]);
const OBS = observedTypes('ZSEGC');

function scanSplit(buf: Buffer, cuts: number[]): Array<[string, string]> {
  const seen: Array<[string, string]> = [];
  const s = new BackendScanner(OBS, (t, body) => seen.push([String.fromCharCode(t), Buffer.from(body).toString('hex')]));
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    s.scan(buf.subarray(prev, c));
    prev = c;
  }
  expect(s.atBoundary).toBe(true);
  return seen;
}

describe('BackendScanner', () => {
  it('hands over exactly the observed messages, in order, whole', () => {
    const seen = scanSplit(upstreamStream, []);
    expect(seen.map(([t]) => t).join('')).toBe('CSCEZG');
    expect(decodeCommandTag(Buffer.from(seen[0]![1], 'hex'))).toBe('SELECT 2');
    expect(decodeParameterStatus(Buffer.from(seen[1]![1], 'hex'))).toEqual(['TimeZone', 'UTC']);
    expect(decodeErrorFields(Buffer.from(seen[3]![1], 'hex')).get('C')).toBe('42601');
    expect(seen[4]![1]).toBe(Buffer.from('E').toString('hex'));
  });

  it('observes the same messages whatever offset the stream is split at', () => {
    const whole = scanSplit(upstreamStream, []);
    for (let at = 0; at <= upstreamStream.length; at++) expect(scanSplit(upstreamStream, [at]), `split at ${at}`).toEqual(whole);
  });

  it('observes the same messages when fed one byte at a time', () => {
    const cuts = Array.from({ length: upstreamStream.length - 1 }, (_, i) => i + 1);
    expect(scanSplit(upstreamStream, cuts)).toEqual(scanSplit(upstreamStream, []));
  });

  it('is between messages only at message boundaries', () => {
    const s = new BackendScanner(OBS, () => undefined);
    const z = be.readyForQuery('I');
    s.scan(z.subarray(0, 3));
    expect(s.atBoundary).toBe(false);
    s.scan(z.subarray(3, 5));
    expect(s.atBoundary).toBe(false);
    s.scan(z.subarray(5));
    expect(s.atBoundary).toBe(true);
  });

  it('throws on an invalid length from the upstream', () => {
    const s = new BackendScanner(OBS, () => undefined);
    expect(() => s.scan(hex('44 00000002'))).toThrow(/invalid message length 2/);
  });
});

describe('BackendFrameReader', () => {
  it('frames the startup replies at every split and keeps the remainder', () => {
    const startup = Buffer.concat([be.authenticationOk(), be.parameterStatus('server_version', '15.18'), be.backendKeyData(7, 9), be.readyForQuery('I')]);
    const extra = be.commandComplete('SELECT 1').subarray(0, 4);
    const all = Buffer.concat([startup, extra]);
    for (let at = 0; at <= all.length; at++) {
      const r = new BackendFrameReader();
      const frames = [...r.push(all.subarray(0, at)), ...r.push(all.subarray(at))];
      expect(frames.map((f) => String.fromCharCode(f.type)).join(''), `split at ${at}`).toBe('RSKZ');
      expect(Buffer.concat(frames.map((f) => f.raw)).equals(startup)).toBe(true);
      expect(r.takeRemainder()?.equals(extra)).toBe(true);
      expect(r.takeRemainder()).toBeNull();
    }
  });
});

describe('backend encoders', () => {
  it('produce the exact bytes Postgres sends', () => {
    expect(be.readyForQuery('I').toString('hex')).toBe('5a0000000549');
    expect(be.readyForQuery('T').toString('hex')).toBe('5a0000000554');
    expect(be.authenticationOk().toString('hex')).toBe('520000000800000000');
    expect(be.backendKeyData(1234, -1).toString('hex')).toBe('4b0000000c000004d2ffffffff');
    expect(be.parameterStatus('a', 'b')).toEqual(hex('53 00000008 6100 6200'));
    expect(be.commandComplete('SELECT 1')).toEqual(Buffer.concat([hex('43 0000000d'), Buffer.from('SELECT 1\0')]));
    expect(be.emptyQueryResponse()).toEqual(hex('49 00000004'));
    expect(be.parseComplete()).toEqual(hex('31 00000004'));
    expect(be.bindComplete()).toEqual(hex('32 00000004'));
    expect(be.closeComplete()).toEqual(hex('33 00000004'));
    expect(be.noData()).toEqual(hex('6e 00000004'));
    expect(be.portalSuspended()).toEqual(hex('73 00000004'));
    expect(be.parameterDescription([23, 0xffffffff])).toEqual(hex('74 0000000e 0002 00000017 ffffffff'));
    expect(be.dataRow([Buffer.from('ab'), null, Buffer.alloc(0)])).toEqual(hex('44 00000014 0003 00000002 6162 ffffffff 00000000'));
    expect(be.SSL_ACCEPT).toEqual(Buffer.from('S'));
    expect(be.SSL_REFUSE).toEqual(Buffer.from('N'));
  });

  it('encode a RowDescription field by field', () => {
    const fields = [
      { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 20, typeSize: 8, typmod: -1, format: 0 as const },
      { name: 'ts', tableOid: 0, columnAttr: 0, typeOid: 1184, typeSize: 8, typmod: -1, format: 1 as const },
    ];
    const want = Buffer.concat([
      hex('54'),
      int32(4 + 2 + (3 + 18) * 2),
      hex('0002'),
      Buffer.from('id\0'),
      hex('00004000 0001 00000014 0008 ffffffff 0000'),
      Buffer.from('ts\0'),
      hex('00000000 0000 000004a0 0008 ffffffff 0001'),
    ]);
    expect(be.rowDescription(fields)).toEqual(want);
  });

  it('encode ErrorResponse and NoticeResponse with S, V, C, M (and D, H) fields', () => {
    const e = be.errorResponse(protocolViolation('bad', 'the detail'));
    expect(e[0]).toBe(B.errorResponse);
    expect(e.readInt32BE(1)).toBe(e.length - 1);
    const f = decodeErrorFields(e.subarray(5));
    expect(Object.fromEntries(f)).toEqual({ S: 'FATAL', V: 'FATAL', C: '08P01', M: 'bad', D: 'the detail' });
    expect(e[e.length - 1]).toBe(0);
    const n = be.noticeResponse({ message: 'hi' });
    expect(n[0]).toBe(B.noticeResponse);
    expect(Object.fromEntries(decodeErrorFields(n.subarray(5)))).toEqual({ S: 'NOTICE', V: 'NOTICE', C: '00000', M: 'hi' });
  });

  it('Writer back-fills lengths, grows, and is reusable after flush', () => {
    const w = new Writer(4);
    const big = 'x'.repeat(1000);
    const a = w.begin(0x51).cstring(big).end().begin(0x53).end().flush();
    expect(a.length).toBe(1 + 4 + 1001 + 5);
    expect(a.readInt32BE(1)).toBe(1005);
    expect(a.subarray(1006)).toEqual(hex('53 00000004'));
    const b = w.begin(0x5a).int8(0x49).end().flush();
    expect(b).toEqual(be.readyForQuery('I'));
    // the earlier flush is a copy, untouched by later writes
    expect(a[0]).toBe(0x51);
    expect(w.begin(1).int16(-2).int32(-3).uint32(0xfffffffe).bytes(Buffer.from([9])).end().flush()).toEqual(hex('01 0000000f fffe fffffffd fffffffe 09'));
    expect(() => new Writer().end()).toThrow(/without begin/);
  });
});

describe('BackendScanner type-only observation', () => {
  it('hands over type-only messages by type, skipping their bodies, at every split', () => {
    const stream = Buffer.concat([be.parseComplete(), be.bindComplete(), rowDesc, be.dataRow([Buffer.from('1')]), be.commandComplete('SELECT 1'), be.readyForQuery('I')]);
    const table = observedTypes('ZC', [B.parseComplete, B.bindComplete, B.rowDescription]);
    const run = (cuts: number[]) => {
      const seen: string[] = [];
      const s = new BackendScanner(table, (t, body) => seen.push(`${String.fromCharCode(t)}:${body.length}`));
      let prev = 0;
      for (const c of [...cuts, stream.length]) {
        s.scan(stream.subarray(prev, c));
        prev = c;
      }
      return seen;
    };
    const whole = run([]);
    expect(whole).toEqual(['1:0', '2:0', 'T:0', 'C:9', 'Z:1']);
    for (let at = 0; at <= stream.length; at++) expect(run([at]), `split at ${at}`).toEqual(whole);
  });
});

describe('ReadyTracker', () => {
  const F = { P: 0x50, B: 0x42, D: 0x44, E: 0x45, C: 0x43, S: 0x53, H: 0x48, Q: 0x51, X: 0x58, F: 0x46, d: 0x64, c: 0x63, f: 0x66 };
  const send = (t: ReadyTracker, s: string) => {
    for (const ch of s) t.sent(F[ch as keyof typeof F]);
  };
  const reply = (t: ReadyTracker, s: string) => {
    for (const ch of s) t.received(ch.charCodeAt(0));
  };

  it('a Query and an extended batch: one ReadyForQuery each', () => {
    const t = new ReadyTracker();
    send(t, 'QPBDES');
    expect(t.pending).toBe(2);
    reply(t, 'TDCZ');
    expect([t.pending, t.idle]).toEqual([1, false]);
    reply(t, '12TDC');
    expect([t.pending, t.idle]).toEqual([1, false]);
    reply(t, 'Z');
    expect([t.pending, t.idle]).toEqual([0, true]);
  });

  it('an error in a batch skips to the Sync, a Query in between included', () => {
    const t = new ReadyTracker();
    send(t, 'PQS');
    expect(t.pending).toBe(2);
    reply(t, 'E');
    expect(t.pending).toBe(1);
    reply(t, 'Z');
    expect(t.idle).toBe(true);
    // the same when the Query is sent after the error came back
    send(t, 'P');
    reply(t, 'E');
    expect([t.idle, t.skipping]).toEqual([true, true]);
    send(t, 'QBE');
    expect(t.pending).toBe(0);
    send(t, 'S');
    expect([t.pending, t.skipping]).toEqual([1, false]);
    reply(t, 'Z');
    expect(t.idle).toBe(true);
  });

  it('a batch ended by a Query without error: both answered', () => {
    const t = new ReadyTracker();
    send(t, 'CQ');
    reply(t, '3TDCZ');
    expect(t.idle).toBe(true);
  });

  it('COPY FROM STDIN by Bind/Execute/Sync then CopyData, CopyDone, Sync: one ReadyForQuery (the first Sync is read by the copy)', () => {
    const t = new ReadyTracker();
    send(t, 'BES');
    expect(t.pending).toBe(1);
    reply(t, '2G');
    expect([t.pending, t.inCopyIn]).toEqual([0, true]);
    send(t, 'ddSdcS'); // a Sync among the data is read by the copy too
    expect([t.pending, t.inCopyIn]).toEqual([1, false]);
    reply(t, 'CZ');
    expect(t.idle).toBe(true);
    // all sent before the CopyInResponse comes back
    send(t, 'BESdcS');
    expect(t.pending).toBe(2);
    reply(t, '2G');
    expect(t.pending).toBe(1);
    reply(t, 'CZ');
    expect(t.idle).toBe(true);
  });

  it('COPY by simple Query, failed by the client: one ReadyForQuery', () => {
    const t = new ReadyTracker();
    send(t, 'Q');
    reply(t, 'G');
    send(t, 'df');
    reply(t, 'EZ');
    expect(t.idle).toBe(true);
  });

  it('a CopyDone after a Query that failed before any COPY is ignored: nothing stays owed', () => {
    const t = new ReadyTracker();
    send(t, 'Qdc');
    reply(t, 'EZ');
    expect(t.idle).toBe(true);
    // and one sent with nothing queued
    send(t, 'c');
    expect(t.idle).toBe(true);
  });

  it('FunctionCall owes a ReadyForQuery; Flush and Terminate owe nothing', () => {
    const t = new ReadyTracker();
    send(t, 'F');
    expect(t.pending).toBe(1);
    reply(t, 'Z');
    send(t, 'PH');
    reply(t, '1');
    expect(t.idle).toBe(true);
  });
});

describe('SessionRegistry', () => {
  const session = () => ({ cancel: async () => undefined });
  it('keys sessions by their upstream pid and a secret of its own; two sessions on one pid stay apart', () => {
    const r = new SessionRegistry<ReturnType<typeof session>>();
    const a = session();
    const b = session();
    const ka = r.add(a, 4242);
    const kb = r.add(b, 4242); // a reused backend pid before the old session closed
    expect([ka.pid, kb.pid]).toEqual([4242, 4242]);
    expect(ka.secret).not.toBe(kb.secret);
    expect(r.find(4242, ka.secret)).toBe(a);
    expect(r.find(4242, kb.secret)).toBe(b);
    expect(r.find(4242, ka.secret ^ 1)).toBeUndefined();
    expect(r.size).toBe(2);
    r.remove(4242, a);
    expect(r.find(4242, ka.secret)).toBeUndefined();
    expect(r.find(4242, kb.secret)).toBe(b);
    r.remove(4242, a); // twice is harmless
    expect(r.size).toBe(1);
    r.remove(4242, b);
    expect([r.size, r.all()]).toEqual([0, []]);
  });
});

describe('backend body decoders', () => {
  const body = (msg: Buffer): Buffer => msg.subarray(5);
  it('read back what the encoders write: DataRow, RowDescription, ParameterDescription', () => {
    expect(decodeDataRow(body(be.dataRow([Buffer.from('héllo'), null, Buffer.alloc(0)])))).toEqual([Buffer.from('héllo'), null, Buffer.alloc(0)]);
    const fields: be.FieldDescription[] = [
      { name: 'a', tableOid: 16384, columnAttr: 2, typeOid: 23, typeSize: 4, typmod: -1, format: 1 },
      { name: 'ünï', tableOid: 0, columnAttr: 0, typeOid: 1700, typeSize: -1, typmod: (10 << 16) + 6, format: 0 },
    ];
    expect(decodeRowDescription(body(be.rowDescription(fields)))).toEqual(fields);
    expect(decodeParameterDescription(body(be.parameterDescription([23, 25, 1184])))).toEqual([23, 25, 1184]);
  });

  it('counts are unsigned 16-bit: 40,000 parameters described, a DataRow of 40,000 columns', () => {
    const oids = Array.from({ length: 40_000 }, (_, i) => 16 + (i % 3));
    expect(decodeParameterDescription(body(be.parameterDescription(oids)))).toEqual(oids);
    const vals = Array.from({ length: 40_000 }, (_, i) => (i % 7 === 0 ? null : Buffer.from(String(i))));
    expect(decodeDataRow(body(be.dataRow(vals)))).toEqual(vals);
  });
});
