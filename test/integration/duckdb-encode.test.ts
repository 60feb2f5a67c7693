// The encoders against the real oracle: each value is produced once by PostgreSQL 15 (text and binary,
// raw bytes) and once by DuckDB, and the DuckDB value encoded for the OID/typmod Postgres described
// must give exactly Postgres's bytes.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBinary } from '../../src/engines/duckdb/encode-binary.js';
import { encodeText } from '../../src/engines/duckdb/encode-text.js';
import { formatFloat } from '../../src/engines/duckdb/format.js';
import { defaultSessionOptions, type SessionOptions } from '../../src/engines/duckdb/pg-types.js';
import { testPostgres } from '../support/servers.js';
import { RawPg } from './duckdb-pgwire.js';


/** [pg expression, duckdb expression (default: same)] */
type Case = [string, string?];

const cases: Case[] = [
  ['true'], ['false'],
  ['1::int2'], ['(-32768)::int2'], ['2147483647::int4'], ['-42::int4'], ['9223372036854775807::int8'], ['(-5)::int8'],
  ['12.50::numeric(10,2)', '12.50::DECIMAL(10,2)'], ['-0.001::numeric(10,3)', '-0.001::DECIMAL(10,3)'],
  ['0::numeric(10,2)', '0::DECIMAL(10,2)'], ['123456789012345678.123456::numeric(30,6)', '123456789012345678.123456::DECIMAL(30,6)'],
  ['10000::numeric(10,0)', '10000::DECIMAL(10,0)'], ['0.0001::numeric(8,4)', '0.0001::DECIMAL(8,4)'],
  ['sum(x)::numeric', 'sum(x)'],
  // avg over integers/decimals: the rewrite hands the encoder {s: sum, c: count} and it applies Postgres's division scale
  ['(SELECT avg(i) FROM a)', "(SELECT {'s': sum(i), 'c': count(i)} FROM a)"], ['(SELECT avg(n) FROM a)', "(SELECT {'s': sum(n), 'c': count(n)} FROM a)"],
  ['(SELECT avg(i * 1000000) FROM a)', "(SELECT {'s': sum(i * 1000000), 'c': count(i)} FROM a)"], ['(SELECT avg(-i) FROM a WHERE i < 2)', "(SELECT {'s': sum(-i), 'c': count(i)} FROM a WHERE i < 2)"],
  ['(SELECT avg(n * 3) FROM a)', "(SELECT {'s': sum(n * 3), 'c': count(n)} FROM a)"], // sum(int8) is numeric in Postgres; HUGEINT in DuckDB
  ['1.5::float8'], ['0.1::float8'], ['(1/3.0)::float8', '1/3'], ['1e15::float8'], ['1e14::float8'], ['123456789012345.6::float8'],
  ['1e-5::float8'], ['0.0001::float8'], ['-2.5e-300::float8'], ['1.7976931348623157e308::float8'], ['5e-324::float8'],
  ["'NaN'::float8"], ["'Infinity'::float8"], ["'-Infinity'::float8"], ["'-0'::float8", "'-0.0'::DOUBLE"],
  ['1.5::float4'], ['0.1::float4'], ['1e6::float4'], ['123456.7::float4'], ['3.4028235e38::float4'], ['1e-7::float4'], ['(1/3.0)::float4', '(1/3)::FLOAT'],
  ["'hello'::text"], ["''::text"], ["'héllo wörld ✓'::varchar(20)", "'héllo wörld ✓'"], ["'ab'::char(5)", "'ab'"],
  ["'2020-02-29'::date"], ["'0001-01-01'::date"], ["'1999-12-31'::date"], ["'infinity'::date"], ["'-infinity'::date"],
  ["'13:45:06.789'::time"], ["'00:00:00'::time"], ["'23:59:59.999999'::time"],
  ["'13:45:06+05:30'::timetz"], ["'13:45:06.5-08'::timetz"],
  ["'2020-01-02 03:04:05.678'::timestamp"], ["'1960-06-30 12:00:00'::timestamp"], ["'infinity'::timestamp"], ["'-infinity'::timestamp"],
  ["'2020-01-02 03:04:05.678+00'::timestamptz"], ["'2020-07-01 12:00:00+00'::timestamptz"], ["'1900-01-01 00:00:00+00'::timestamptz"],
  ["'2021-03-28 01:30:00+00'::timestamptz"], ["'2021-11-07 06:30:00+00'::timestamptz"], ["'infinity'::timestamptz"],
  ["'1 year 2 mons 3 days 04:05:06'::interval", "INTERVAL '1 year 2 months 3 days 4 hours 5 minutes 6 seconds'"],
  ["'-1 day 2 hours'::interval", "INTERVAL '-1 day' + INTERVAL '2 hours'"], ["'1 year -2 mons'::interval", "INTERVAL '10 months'"],
  ["'-3 hours -4 minutes'::interval", "-INTERVAL '3 hours 4 minutes'"], ["'0'::interval", "INTERVAL '0 seconds'"],
  ["'1.5 seconds'::interval", "INTERVAL '1500 milliseconds'"], ["'100 hours'::interval", "INTERVAL '100 hours'"],
  ["'-1 years -1 mons'::interval", "-INTERVAL '13 months'"], ["'1 mon -1 days'::interval", "INTERVAL '1 month' - INTERVAL '1 day'"],
  ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"], ["'00000000-0000-0000-0000-000000000000'::uuid"],
  ['\'{"a": 1, "b": [1, 2]}\'::jsonb', '\'{"a": 1, "b": [1, 2]}\'::JSON'], ['\'{"a":1}\'::json', '\'{"a":1}\'::JSON'],
  ["'\\xdeadbeef00'::bytea", "'\\xDE\\xAD\\xBE\\xEF\\x00'::BLOB"], ["''::bytea", "''::BLOB"],
  ["ARRAY[1,2,NULL]::int4[]", '[1,2,NULL]::INTEGER[]'], ["ARRAY[]::int4[]", '[]::INTEGER[]'], ["ARRAY[1,2]::int8[]", '[1,2]::BIGINT[]'],
  ["ARRAY['a','b c','','NULL','x\"y','back\\\\slash',NULL,'{}']::text[]", "['a','b c','','NULL','x\"y','back\\\\slash',NULL,'{}']"],
  ["ARRAY[[1,2],[3,4]]::int4[]", '[[1,2],[3,4]]::INTEGER[][]'], ["ARRAY[1.5,2.25]::numeric(6,2)[]", '[1.5,2.25]::DECIMAL(6,2)[]'],
  ["ARRAY[1.5,0.1]::float8[]", '[1.5,0.1]::DOUBLE[]'], ["ARRAY['2020-01-01 10:00:00'::timestamp]", "[TIMESTAMP '2020-01-01 10:00:00']"],
  ["ARRAY['2020-01-01'::date, NULL]", "[DATE '2020-01-01', NULL]"], ["ARRAY[true,false]", '[true,false]'],
  ["ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]", "['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID]"],
];

const sessions: Array<{ name: string; set: string; opts: SessionOptions }> = [
  { name: 'UTC', set: "SET TimeZone='UTC'", opts: { ...defaultSessionOptions, timeZone: 'UTC' } },
  { name: 'Berlin, efd 0', set: "SET TimeZone='Europe/Berlin'; SET extra_float_digits=0", opts: { ...defaultSessionOptions, timeZone: 'Europe/Berlin', extraFloatDigits: 0 } },
  { name: 'New York, efd -3, bytea escape', set: "SET TimeZone='America/New_York'; SET extra_float_digits=-3; SET bytea_output='escape'", opts: { ...defaultSessionOptions, timeZone: 'America/New_York', extraFloatDigits: -3, byteaOutput: 'escape' } },
  { name: "'+02', efd 3", set: "SET TimeZone='+02'; SET extra_float_digits=3", opts: { ...defaultSessionOptions, timeZone: '+02', extraFloatDigits: 3 } },
  { name: 'Kolkata', set: "SET TimeZone='Asia/Kolkata'", opts: { ...defaultSessionOptions, timeZone: 'Asia/Kolkata' } },
  { name: 'Etc/UTC', set: "SET TimeZone='Etc/UTC'", opts: { ...defaultSessionOptions, timeZone: 'Etc/UTC' } },
];

let client: RawPg;
let duck: DuckDBConnection;
let inst: DuckDBInstance;

beforeAll(async () => {
  client = await RawPg.connect(testPostgres().url);
  await client.simple('CREATE TEMP TABLE t(x int8); INSERT INTO t VALUES (9223372036854775807), (9223372036854775807), (-3)');
  await client.simple('CREATE TEMP TABLE a(i int4, n numeric(10,2)); INSERT INTO a VALUES (1, 1.25), (2, 99999.99), (4, 0.01)');
  inst = await DuckDBInstance.create(':memory:');
  duck = await inst.connect();
  await duck.run('CREATE TABLE t(x BIGINT); INSERT INTO t VALUES (9223372036854775807), (9223372036854775807), (-3)');
  await duck.run('CREATE TABLE a(i INTEGER, n DECIMAL(10,2)); INSERT INTO a VALUES (1, 1.25), (2, 99999.99), (4, 0.01)');
});

afterAll(async () => {
  await client?.end();
  duck?.closeSync();
  inst?.closeSync();
});

describe.each(sessions)('encoders vs PostgreSQL ($name)', ({ set, opts }) => {
  it('text and binary bytes equal Postgres for every case', async () => {
    await client.simple('RESET ALL');
    await client.simple(set);
    const mismatches: string[] = [];
    for (const [pgExpr, duckExpr] of cases) {
      const sql = `SELECT ${pgExpr} AS v${pgExpr.includes('sum(') ? ' FROM t' : ''}`;
      const text = await client.query(sql, 0);
      const bin = await client.query(sql, 1);
      const f = text.fields[0]!;
      const r = await duck.runAndReadAll(`SELECT ${duckExpr ?? pgExpr} AS v${pgExpr.includes('sum(') ? ' FROM t' : ''}`);
      const v = r.getRows()[0]![0]!;
      expect(v, pgExpr).not.toBeNull();
      const gotText = encodeText(v!, f.typeOid, f.typmod, opts);
      const wantText = text.rows[0]![0]!.toString('utf8');
      if (gotText !== wantText) mismatches.push(`text ${pgExpr}: got ${JSON.stringify(gotText)} want ${JSON.stringify(wantText)}`);
      const gotBin = encodeBinary(v!, f.typeOid, f.typmod, opts);
      const wantBin = bin.rows[0]![0]!;
      if (!gotBin.equals(wantBin)) mismatches.push(`binary ${pgExpr}: got ${gotBin.toString('hex')} want ${wantBin.toString('hex')}`);
    }
    expect(mismatches).toEqual([]);
  });
});

describe('float text as float8out/float4out write it (Ryu without accept-bounds, printf ties to even)', () => {
  // Generated values that reach the rare cases: decimals exactly halfway between two floats (large
  // integers), exact decimal ties at the last printed digit (dyadic fractions of large floats), and
  // random magnitudes. Postgres prints each; the float's bytes come from float8send/float4send.
  const sets: Array<[string, boolean]> = [
    ['SELECT (2^54 + g * 4)::float8 AS v FROM generate_series(0, 3000) g', false],
    ['SELECT (g::float8 * 1234567.891 + 2^53)::float8 AS v FROM generate_series(1, 3000) g', false],
    ['SELECT (g::float8 / 1024) AS v FROM generate_series(1, 3000) g', false],
    ['SELECT (random() * 10 ^ (random() * 40 - 20))::float8 AS v FROM generate_series(1, 4000)', false],
    ['SELECT ((g * 1009)::int8 * 104729)::float4 AS v FROM generate_series(0, 4000) g', true],
    ['SELECT (16777216 + g)::float4 AS v FROM generate_series(0, 4000) g', true],
    ['SELECT (random() * 10 ^ (random() * 20 - 10))::float4 AS v FROM generate_series(1, 6000)', true],
  ];
  it.each([1, 0, 3, -4])('extra_float_digits %i', async (efd) => {
    await client.simple(`SET extra_float_digits = ${efd}`);
    const differ: string[] = [];
    let n = 0;
    try {
      for (const [sql, f4] of sets) {
        const r = await client.query(`SELECT v::text, ${f4 ? 'float4send(v)' : 'float8send(v)'} FROM (${sql}) s`, 0);
        for (const [text, bytesHex] of r.rows) {
          const b = Buffer.from(bytesHex!.toString().slice(2), 'hex');
          const v = f4 ? b.readFloatBE(0) : b.readDoubleBE(0);
          const ours = formatFloat(v, f4, efd);
          n++;
          if (ours !== text!.toString() && differ.length < 10) differ.push(`${f4 ? 'float4' : 'float8'} ${text!.toString()}: ours ${ours}`);
        }
      }
    } finally {
      await client.simple('RESET extra_float_digits');
    }
    expect(n).toBeGreaterThan(25_000);
    expect(differ).toEqual([]);
  });
});
