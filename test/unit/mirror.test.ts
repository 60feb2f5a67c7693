// Pure parts of the mirror: pgoutput decoding (byte fixtures), LSNs, rules validation, text conversions.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.js';
import { formatLsn, parseLsn } from '../../src/mirror/lsn.js';
import { decodePgOutput, decodeReplicationMessage, DecodeError, encodeStandbyStatus } from '../../src/mirror/pgoutput.js';
import { isIncluded, parseMirrorRules } from '../../src/mirror/rules.js';
import { arrayTextToJson, intervalToCanonical, mapColumn, type PgColumnInfo } from '../../src/mirror/types.js';
import { formatVerifyTable } from '../../src/mirror/verify.js';

class W {
  parts: Buffer[] = [];
  u8(v: number) {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  ch(c: string) {
    return this.u8(c.charCodeAt(0));
  }
  i16(v: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string) {
    this.parts.push(Buffer.from(`${s}\0`));
    return this;
  }
  text(s: string) {
    const b = Buffer.from(s);
    return this.ch('t').i32(b.length).raw(b);
  }
  raw(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  done() {
    return Buffer.concat(this.parts);
  }
}

describe('LSN', () => {
  it('parses and formats X/Y hex', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(parseLsn('0/0'))).toBe('0/0');
    expect(() => parseLsn('nope')).toThrow(/invalid LSN/);
  });
});

describe('pgoutput decoding', () => {
  it('decodes Begin, Commit, Relation, Insert, Update with old key, Delete, Truncate', () => {
    expect(decodePgOutput(new W().ch('B').u64(0x100n).u64(5n).i32(42).done())).toEqual({ tag: 'begin', finalLsn: 0x100n, commitTime: 5n, xid: 42 });
    expect(decodePgOutput(new W().ch('C').u8(0).u64(0x100n).u64(0x130n).u64(5n).done())).toEqual({ tag: 'commit', flags: 0, commitLsn: 0x100n, endLsn: 0x130n, commitTime: 5n });
    const rel = new W().ch('R').i32(16384).str('public').str('items').ch('d').i16(2).u8(1).str('id').i32(23).i32(-1).u8(0).str('doc').i32(25).i32(-1).done();
    expect(decodePgOutput(rel)).toEqual({
      tag: 'relation',
      relid: 16384,
      schema: 'public',
      name: 'items',
      replicaIdentity: 'd',
      columns: [
        { key: true, name: 'id', typeOid: 23, typmod: -1 },
        { key: false, name: 'doc', typeOid: 25, typmod: -1 },
      ],
    });
    expect(decodePgOutput(new W().ch('I').i32(16384).ch('N').i16(2).text('1').ch('n').done())).toEqual({
      tag: 'insert',
      relid: 16384,
      tuple: [{ kind: 'text', value: '1' }, { kind: 'null' }],
    });
    const upd = new W().ch('U').i32(16384).ch('K').i16(2).text('1').ch('n').ch('N').i16(2).text('2').ch('u').done();
    expect(decodePgOutput(upd)).toEqual({
      tag: 'update',
      relid: 16384,
      old: { kind: 'key', tuple: [{ kind: 'text', value: '1' }, { kind: 'null' }] },
      tuple: [{ kind: 'text', value: '2' }, { kind: 'unchanged' }],
    });
    expect(decodePgOutput(new W().ch('U').i32(7).ch('N').i16(1).text('é').done())).toMatchObject({ old: null, tuple: [{ kind: 'text', value: 'é' }] });
    expect(decodePgOutput(new W().ch('D').i32(7).ch('O').i16(1).text('9').done())).toEqual({ tag: 'delete', relid: 7, old: { kind: 'old', tuple: [{ kind: 'text', value: '9' }] } });
    expect(decodePgOutput(new W().ch('T').i32(2).u8(3).i32(7).i32(8).done())).toEqual({ tag: 'truncate', cascade: true, restartIdentity: true, relids: [7, 8] });
  });

  it('rejects truncated and unknown messages with a DecodeError', () => {
    const ins = new W().ch('I').i32(16384).ch('N').i16(1).text('12345').done();
    for (let cut = 1; cut < ins.length; cut++) expect(() => decodePgOutput(ins.subarray(0, cut))).toThrow(DecodeError);
    expect(() => decodePgOutput(Buffer.from('Z'))).toThrow(/unknown pgoutput message/);
  });

  it('decodes the replication envelope and encodes status updates', () => {
    const w = new W().ch('w').u64(1n).u64(2n).u64(3n).raw(Buffer.from('B')).done();
    expect(decodeReplicationMessage(w)).toMatchObject({ tag: 'xlogdata', start: 1n, walEnd: 2n, sendTime: 3n, payload: Buffer.from('B') });
    expect(decodeReplicationMessage(new W().ch('k').u64(9n).u64(1n).u8(1).done())).toEqual({ tag: 'keepalive', walEnd: 9n, sendTime: 1n, replyRequested: true });
    const st = encodeStandbyStatus(0x10n, 0x20n, 0x30n, 7n, true);
    expect(st.length).toBe(34);
    expect(st.toString('latin1', 0, 1)).toBe('r');
    expect(st.readBigUInt64BE(9)).toBe(0x20n);
    expect(st[33]).toBe(1);
  });
});

describe('mirror rules', () => {
  it('validates and merges files', () => {
    const r = parseMirrorRules([
      { file: 'a.yaml', section: { include: ['public.*'], exclude: ['public.secret_*'], tables: { 'public.cdx_records': { partitionBy: 'month(archive_date)' } } } },
      { file: 'b.yaml', section: { tables: { 'public.p': { partitionBy: 'project_id' } } } },
    ]);
    expect(r.tables.get('public.cdx_records')).toEqual({ partitionBy: { kind: 'month', column: 'archive_date' } });
    expect(r.tables.get('public.p')).toEqual({ partitionBy: { kind: 'column', column: 'project_id' } });
    expect(isIncluded(r, ['public'], 'public', 'x')).toBe(true);
    expect(isIncluded(r, ['public'], 'public', 'secret_keys')).toBe(false);
    expect(isIncluded(r, ['public'], 'other', 'x')).toBe(false);
    expect(isIncluded(parseMirrorRules([]), ['public', 'app'], 'app', 'x')).toBe(true);
  });

  it('rejects unknown keys and bad values with the file and path', () => {
    expect(() => parseMirrorRules([{ file: 'f.yaml', section: { inclde: [] } }])).toThrow(/f\.yaml: mirror: unknown key "inclde"/);
    expect(() => parseMirrorRules([{ file: 'f.yaml', section: { tables: { 'public.t': { partition: 'x' } } } }])).toThrow(ConfigError);
    expect(() => parseMirrorRules([{ file: 'f.yaml', section: { tables: { 'public.t': { partitionBy: 'week(x)' } } } }])).toThrow(/not a column name/);
    expect(() => parseMirrorRules([{ file: 'f.yaml', section: { include: ['nodot'] } }])).toThrow(/schema\.table/);
  });
});

describe('text conversions shared by snapshot and change stream', () => {
  it('canonicalises postgres-style intervals', () => {
    expect(intervalToCanonical('1 year 2 mons -3 days +04:05:06.5')).toBe('14 months -3 days 14706500000 microseconds');
    expect(intervalToCanonical('-00:00:01')).toBe('0 months 0 days -1000000 microseconds');
    expect(intervalToCanonical('00:00:00')).toBe('0 months 0 days 0 microseconds');
    expect(intervalToCanonical('-1 years -2 mons')).toBe('-14 months 0 days 0 microseconds');
    expect(intervalToCanonical('1000 days 100:00:00.000001')).toBe('0 months 1000 days 360000000001 microseconds');
    expect(() => intervalToCanonical('P1Y')).toThrow(/unsupported interval/);
  });

  it('turns 1-D array literals into JSON arrays of element texts', () => {
    expect(arrayTextToJson('{1,NULL,3}')).toBe('["1",null,"3"]');
    expect(arrayTextToJson('{"a b",NULL,"c\\"d","","NULL"}')).toBe('["a b",null,"c\\"d","","NULL"]');
    expect(arrayTextToJson('{}')).toBe('[]');
    expect(arrayTextToJson('{{1,2},{3,4}}')).toBe('unsupported array shape');
    expect(arrayTextToJson('[0:1]={1,2}')).toBe('unsupported array shape');
  });

  it('maps types and flags what it cannot hold exactly', () => {
    const col = (baseOid: number, typmod = -1, extra: Partial<PgColumnInfo> = {}): PgColumnInfo => ({
      name: 'c',
      typeOid: baseOid,
      typmod,
      pgType: '',
      baseOid,
      typtype: 'b',
      elemOid: 0,
      elemTyptype: '',
      ...extra,
    });
    expect(mapColumn(col(1700, ((12 << 16) | 2) + 4))).toMatchObject({ kind: 'scalar', exact: true });
    expect(mapColumn(col(1700))).toMatchObject({ kind: 'fallback', exact: false });
    expect(mapColumn(col(1700, ((50 << 16) | 2) + 4))).toMatchObject({ exact: false });
    expect(mapColumn(col(1266))).toMatchObject({ exact: false }); // timetz
    expect(mapColumn(col(99999, -1, { typtype: 'e' }))).toMatchObject({ kind: 'scalar', exact: true });
    expect(mapColumn(col(1007, -1, { elemOid: 23, elemTyptype: 'b' }))).toMatchObject({ kind: 'array', exact: true });
  });
});

describe('formatVerifyTable', () => {
  it('prints one line per table and the verdict', () => {
    const s = formatVerifyTable({
      ok: false,
      lsn: '0/10',
      rows: [
        { table: 'public.a', pgRows: 10, mirrorRows: 10, pgChecksum: '1', mirrorChecksum: '1', equal: true },
        { table: 'public.b', pgRows: 3, mirrorRows: 2, pgChecksum: '5', mirrorChecksum: '4', equal: false },
      ],
    });
    expect(s).toContain('public.a');
    expect(s).toMatch(/public\.b .*\| NO/);
    expect(s).toContain('DIFFERENT: 1 of 2 table(s) differ');
  });
});
