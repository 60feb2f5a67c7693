// Parameter values through real clients (node-postgres, postgres.js): a value means what Postgres's
// input function makes of it, whatever DuckDB's casts would read, and a value Postgres rejects raises
// Postgres's error (src/session/param-values.ts). Each statement runs through duckgate and straight
// against Postgres; rows (as text) or the error's SQLSTATE must be the same, and every value Postgres
// accepts must have been answered by DuckDB (a fallback would hide a translation that never runs).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/servers.js';
import { onDuck, quickMirror, startTestDuckgate, waitForMirrorReady, type TestDuckgate } from '../support/duckgate.js';

const SETUP = `
  CREATE TABLE pv (
    id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, f8 float8, b bool, d date, t time,
    ts timestamp, tz timestamptz, iv interval, tx text, u uuid, c char(4), nm numeric(10,3)
  );
  INSERT INTO pv SELECT g, g, g * 10, g * 1000000000::bigint, g / 4.0, g % 2 = 0, date '2024-01-01' + g,
    time '00:00' + g * interval '7 minutes', timestamp '2024-01-01' + g * interval '1 hour 0.5 seconds',
    timestamptz '2024-01-01 00:00+00' + g * interval '1 hour 0.0000005 seconds' + g * interval '1 microsecond',
    g * interval '1 day 1 hour', 'v' || g, ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, 'c' || g % 10, g * 1.125
  FROM generate_series(1, 200) g;
  ANALYZE;
`;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;
let rulesDir: string;
const slot = `dgpv_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  db = await createTestDatabase('paramvalues', SETUP);
  rulesDir = await mkdtemp(join(tmpdir(), 'duckgate-rules-'));
  const rules = join(rulesDir, 'rules.yaml');
  await writeFile(rules, 'routing:\n  rules:\n    - table: public.pv\n      route: duckdb\n');
  dg = await startTestDuckgate(db.url, { rules: [rules], mirror: quickMirror(slot), duckdb: { threads: 1, connections: 2 } });
  await waitForMirrorReady(dg, ['pv']);
}, 90_000);

afterAll(async () => {
  await dg?.close();
  await db?.drop();
  if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
});

interface ParamCase {
  column: string;
  type: string;
  values: string[];
  /** why statements of this type stay on Postgres today (the answers must still be the same) */
  onPostgres?: string;
  /** values Postgres accepts that have no exact DuckDB value (answered by Postgres) */
  postgresValues?: string[];
}

// Values each type's input function reads its own way: accepted by Postgres (blanks, signs, other
// notations, rounding of extra digits, special values) or rejected (22P02, 22003, 22007, 22008).
const CASES: ParamCase[] = [
  { column: 'i2', type: 'int2', values: ['7', ' +7 ', '9.5', '0x9', '1e5', '1_0', '', 'abc', '40000'] },
  { column: 'i4', type: 'int4', values: ['150', '  -3', '9.5', '0x9', '0o17', '0b101', '1e5', '1_0', '1__0', '3000000000'] },
  { column: 'i8', type: 'int8', values: ['5000000000', '5_000_000_000', '0x12A05F200', '9.5', '1e5', '99999999999999999999'] },
  { column: 'f8', type: 'float8', values: ['12.25', ' 1e1 ', '.5', 'Infinity', '-inf', 'NaN', '1e400', '0x10', '1_0'] },
  { column: 'b', type: 'bool', values: ['t', 'yes', 'on', ' off ', '1', 'y', 'tru', 'maybe'] },
  { column: 'd', type: 'date', values: ['2024-03-01', '20240301', 'March 1, 2024', '03/01/2024', 'infinity', '-infinity', 'epoch', '2024-02-30', '2024-03-01 BC'] },
  { column: 't', type: 'time', values: ['10:30', '10:30 PM', 'allballs', '23:59:59.9999995', '24:00:00', '25:00', '10:30:00.1234567'] },
  {
    column: 'ts',
    type: 'timestamp',
    values: ['2024-01-03 12:00:06', '2024-01-03 12:00:06.0000005', '2024-01-03 12:00:06.1234567', 'Jan 3 2024 12:00', 'infinity', 'epoch', '2024-01-03T12:00:06', '2024-13-03', '2024-01-03 12:00 BC'],
  },
  {
    column: 'tz',
    type: 'timestamptz',
    values: ['2024-01-03 12:00:00.000002+00', '2024-01-03 12:00:00.0000015+00', '2024-01-03 14:00:00.0000025+02', '2024-01-03 12:00 America/New_York', '-infinity', 'now + 1', '2024-01-03 25:00+00'],
  },
  { column: 'iv', type: 'interval', values: ['10 days', 'P10DT3H', '@ 5 days ago', '1 day 02:00:00.1234567', '1 mon', 'forever', '1 eon'] },
  {
    column: 'nm',
    type: 'numeric',
    values: ['12.5', '1e2', ' -3.25 ', '112.5000000000', '0.000001', '1.23456789012', 'NaN', 'Infinity', '12.5.5', '1_000'],
    postgresValues: ['1.23456789012', 'NaN', 'Infinity'],
  },
  { column: 'tx', type: 'text', values: ['v10', 'v10 ', 'V10', ''] },
  { column: 'c', type: 'bpchar', values: ['c1', 'c1  ', 'c1 ', ' c1', 'c1    x'], onPostgres: 'char(n) compared with a value is not served on DuckDB' },
  { column: 'u', type: 'uuid', values: ['00000000-0000-0000-0000-000000000010', '{00000000-0000-0000-0000-000000000010}', '00000000000000000000000000000010', '0000-0000-0000', 'nope'] },
];

type Outcome = { rows: unknown[] } | { code: string };

const ORDERED = (c: ParamCase): string => (['b', 'tx', 'u', 'c'].includes(c.column) ? '=' : '<=');
// (a cast to text of a non-literal is not translated: the text parameter is echoed as it is, a bpchar one not
// at all, as SELECT $1 would type it text)
const sqlOf = (c: ParamCase): string => `SELECT ${c.type === 'text' ? '$1 AS v' : c.type === 'bpchar' || c.type === 'numeric' ? `'-' AS v` : `$1::${c.type} AS v`}, count(*) AS n, min(id) AS lo, max(id) AS hi FROM pv WHERE ${c.column} ${ORDERED(c)} $1`;

async function viaPg(url: string, sql: string, value: string): Promise<Outcome> {
  // every value as Postgres's text, so clients' own parsing (Date, numbers) cannot hide a difference
  const c = new pg.Client({ connectionString: url, types: { getTypeParser: () => (v: string) => v } });
  await c.connect();
  try {
    return { rows: (await c.query(sql, [value])).rows };
  } catch (e) {
    return { code: String((e as { code?: unknown }).code) };
  } finally {
    await c.end();
  }
}

async function viaPostgresJs(url: string, sql: string, value: string): Promise<Outcome> {
  // named prepared statements (postgres.js's default): Parse + Describe statement, then Bind/Execute
  const s = postgres(url, { max: 1, idle_timeout: 5, onnotice: () => undefined });
  try {
    const rows = await s.unsafe(sql, [value], { prepare: true }).raw();
    return { rows: rows.map((r) => r.map((x) => (x === null ? null : Buffer.from(x as Uint8Array).toString('utf8')))) };
  } catch (e) {
    return { code: String((e as { code?: unknown }).code) };
  } finally {
    await s.end({ timeout: 1 });
  }
}

describe('parameter values are read as Postgres reads them', () => {
  for (const [client, run] of [
    ['node-postgres', viaPg],
    ['postgres.js', viaPostgresJs],
  ] as const) {
    it(`${client}: the same rows or the same error as Postgres for ${CASES.reduce((n, c) => n + c.values.length, 0)} values of ${CASES.length} types; accepted values answered by DuckDB`, async () => {
      const problems: string[] = [];
      let accepted = 0;
      let rejected = 0;
      for (const c of CASES) {
        const sql = sqlOf(c);
        for (const value of c.values) {
          const want = await run(db.url, sql, value);
          const got = await onDuck(() => run(dg.url, sql, value));
          const label = `${c.type} ${JSON.stringify(value)}`;
          if (JSON.stringify(got.value) !== JSON.stringify(want)) problems.push(`${label}: postgres ${JSON.stringify(want)}, duckgate ${JSON.stringify(got.value)}`);
          if ('rows' in want) {
            accepted++;
            // BC dates and timestamps have no DuckDB text: Postgres answers those
            if (!/ BC$/.test(value) && !c.onPostgres && !c.postgresValues?.includes(value) && got.duckdb !== 1) problems.push(`${label}: accepted by Postgres but not answered by DuckDB`);
          } else {
            rejected++;
            if (got.duckdb !== 0) problems.push(`${label}: rejected by Postgres (${want.code}) yet answered by DuckDB`);
          }
        }
      }
      console.log(`${client}: ${accepted} values accepted, ${rejected} rejected by Postgres`);
      expect(problems, problems.join('\n')).toEqual([]);
      expect(accepted).toBeGreaterThan(40);
      expect(rejected).toBeGreaterThan(20);
    }, 120_000);
  }
});

describe('a rejected value inside a transaction block', () => {
  it('raises Postgres\'s own error (not 25P02), and the transaction is aborted as on Postgres', async () => {
    const run = async (url: string): Promise<unknown[]> => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const out: unknown[] = [];
      const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code);
      try {
        await c.query('BEGIN');
        out.push(await code(c.query('SELECT count(*) FROM pv WHERE i4 <= $1', ['150'])));
        out.push(await code(c.query('SELECT count(*) FROM pv WHERE i4 <= $1', ['9.5'])));
        out.push(await code(c.query('SELECT count(*) FROM pv WHERE i4 <= $1', ['150'])));
        await c.query('ROLLBACK');
        out.push(await code(c.query('SELECT count(*) FROM pv WHERE i4 <= $1', ['150'])));
      } finally {
        await c.end();
      }
      return out;
    };
    const want = await run(db.url);
    expect(want).toEqual(['ok', '22P02', '25P02', 'ok']);
    expect(await run(dg.url)).toEqual(want);
  });
});

describe('binary parameters through node-postgres (a Buffer value is bound in binary)', () => {
  const be = (n: number, write: (b: Buffer) => void): Buffer => {
    const b = Buffer.alloc(n);
    write(b);
    return b;
  };
  const CASES: Array<{ sql: string; value: Buffer; label: string }> = [
    { label: 'int4 150', sql: 'SELECT count(*) AS n FROM pv WHERE i4 <= $1', value: be(4, (b) => b.writeInt32BE(150)) },
    { label: 'int4 of 8 bytes (22P03)', sql: 'SELECT count(*) AS n FROM pv WHERE i4 <= $1', value: be(8, (b) => b.writeBigInt64BE(150n)) },
    { label: 'int8', sql: 'SELECT count(*) AS n FROM pv WHERE i8 <= $1', value: be(8, (b) => b.writeBigInt64BE(5_000_000_000n)) },
    { label: 'float8 NaN', sql: 'SELECT count(*) AS n FROM pv WHERE f8 < $1', value: be(8, (b) => b.writeDoubleBE(NaN)) },
    { label: 'bool 1', sql: 'SELECT count(*) AS n FROM pv WHERE b = $1', value: Buffer.from([1]) },
    { label: 'timestamptz 2024-01-03 12:00:00.000002', sql: 'SELECT $1::timestamptz AS v, count(*) AS n FROM pv WHERE tz <= $1', value: be(8, (b) => b.writeBigInt64BE(757_598_400_000_002n)) },
    { label: 'timestamp infinity', sql: 'SELECT count(*) AS n FROM pv WHERE ts < $1', value: be(8, (b) => b.writeBigInt64BE(0x7fffffffffffffffn)) },
    { label: 'date 2024-03-01', sql: 'SELECT count(*) AS n FROM pv WHERE d <= $1', value: be(4, (b) => b.writeInt32BE(8826)) },
    { label: 'interval 10 days', sql: 'SELECT count(*) AS n FROM pv WHERE iv <= $1', value: Buffer.concat([be(8, (b) => b.writeBigInt64BE(0n)), be(4, (b) => b.writeInt32BE(10)), be(4, () => undefined)]) },
    { label: 'time 01:00', sql: 'SELECT count(*) AS n FROM pv WHERE t <= $1', value: be(8, (b) => b.writeBigInt64BE(3_600_000_000n)) },
    { label: 'uuid', sql: 'SELECT count(*) AS n FROM pv WHERE u = $1', value: Buffer.from('00000000000000000000000000000010', 'hex') },
    { label: 'text', sql: 'SELECT count(*) AS n FROM pv WHERE tx = $1', value: Buffer.from('v10') },
  ];

  it(`the same rows or error as Postgres for ${CASES.length} binary values, values Postgres accepts answered by DuckDB`, async () => {
    const run = async (url: string, sql: string, value: Buffer): Promise<Outcome> => {
      const c = new pg.Client({ connectionString: url, types: { getTypeParser: () => (v: string) => v } });
      await c.connect();
      try {
        return { rows: (await c.query(sql, [value])).rows };
      } catch (e) {
        return { code: String((e as { code?: unknown }).code) };
      } finally {
        await c.end();
      }
    };
    const problems: string[] = [];
    for (const k of CASES) {
      const want = await run(db.url, k.sql, k.value);
      const got = await onDuck(() => run(dg.url, k.sql, k.value));
      if (JSON.stringify(got.value) !== JSON.stringify(want)) problems.push(`${k.label}: postgres ${JSON.stringify(want)}, duckgate ${JSON.stringify(got.value)}`);
      if (got.duckdb !== ('rows' in want ? 1 : 0)) problems.push(`${k.label}: ${'rows' in want ? 'not answered' : 'answered'} by DuckDB`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
