// Corpus for the transparent proxy: every case must come back through duckgate exactly as PostgreSQL
// sends it. Cases run in order on one connection per side, so session state (SET, transactions) carries.
// Only deterministic statements: no now(), random(), backend pids, or sequence values.
import type { Case } from './harness.js';

const q = (name: string, sql: string): Case => ({ name, steps: [{ kind: 'simple', sql }] });

export const passthroughCorpus: Case[] = [
  q('select literal', 'SELECT 1 AS one'),
  q('empty query', ''),
  q('only semicolon', ';'),
  q('multi-statement string', "SELECT 1 AS a; SELECT 2 AS b, 'x'::text AS c; SELECT NULL::int AS n"),
  q('syntax error', 'SELEC 1'),
  q('error in the middle of a multi-statement string', 'SELECT 1; SELECT 1/0; SELECT 2'),
  q('count', 'SELECT count(*) FROM cdx_records'),
  q(
    'group by with every aggregate type',
    'SELECT mimetype, count(*), sum(length), avg(length), min(archive_date), max(captured_at) FROM cdx_records GROUP BY mimetype ORDER BY mimetype',
  ),
  q(
    'literals of every common type',
    "SELECT 1::int2, 2::int4, 3::int8, 1.5::float4, 2.25::float8, 12.340::numeric(10,3), true, 'txt'::text, 'vc'::varchar(5), 'c'::char(3), " +
      "'2024-02-29'::date, '12:34:56.789'::time, '2024-01-02 03:04:05.678'::timestamp, '2024-01-02 03:04:05+02'::timestamptz, " +
      "'1 year 2 mons 3 days 04:05:06'::interval, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{\"a\":1}'::json, '{\"b\": [1, 2]}'::jsonb, " +
      "'\\xdeadbeef'::bytea, ARRAY[1,2,NULL]::int[], ARRAY['a','b c',NULL]::text[]",
  ),
  q('show timezone', 'SHOW TimeZone'),
  q('set timezone reports a ParameterStatus', "SET TimeZone = 'America/New_York'"),
  q('timestamptz in the new zone', "SELECT '2024-07-01 12:00:00+00'::timestamptz AS t"),
  q('set extra_float_digits', 'SET extra_float_digits = 0'),
  q('floats with extra_float_digits 0', 'SELECT 0.1::float8 + 0.2::float8 AS f, 1e100::float8 AS g'),
  q('reset all', 'RESET ALL'),
  q('demo join', 'SELECT p.name, count(*) AS pages FROM scrape_pages s JOIN projects p ON p.id = s.project_id GROUP BY p.name ORDER BY pages DESC, p.name LIMIT 5'),
  q('arrays and jsonb from the demo', 'SELECT page_id, tags, heading_counts, metadata FROM content_analytics ORDER BY page_id LIMIT 5'),
  q('window function', 'SELECT id, status_code, rank() OVER (PARTITION BY status_code ORDER BY fetch_ms DESC, id) FROM scrape_pages ORDER BY id LIMIT 10'),
  q('notice from DO block', "DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$"),
  q('warning', "DO $$ BEGIN RAISE WARNING 'careful'; END $$"),
  { name: 'transaction commit', steps: [{ kind: 'simple', sql: 'BEGIN' }, { kind: 'simple', sql: 'SELECT count(*) FROM users' }, { kind: 'simple', sql: 'COMMIT' }] },
  {
    name: 'failed transaction then rollback',
    steps: [
      { kind: 'simple', sql: 'BEGIN' },
      { kind: 'simple', sql: 'SELECT * FROM no_such_table' },
      { kind: 'simple', sql: 'SELECT 1' },
      { kind: 'simple', sql: 'ROLLBACK' },
    ],
  },
  {
    name: 'write inside a rolled-back transaction',
    steps: [
      { kind: 'simple', sql: 'BEGIN' },
      {
        kind: 'simple',
        sql: "INSERT INTO domains (id, name, tld, first_seen) VALUES (999999, 'example.test', 'test', '2024-01-01') RETURNING id, name, first_seen",
      },
      { kind: 'simple', sql: "UPDATE domains SET category = 'x' WHERE id = 999999" },
      { kind: 'simple', sql: 'DELETE FROM domains WHERE id = 999999' },
      { kind: 'simple', sql: 'ROLLBACK' },
    ],
  },
  q('copy to stdout text', 'COPY (SELECT id, name, tld FROM domains ORDER BY id LIMIT 20) TO STDOUT'),
  q('copy to stdout csv header', "COPY (SELECT id, email, credits FROM users ORDER BY id LIMIT 20) TO STDOUT WITH (FORMAT csv, HEADER)"),
  q('copy to stdout binary', 'COPY (SELECT id, created_at FROM users ORDER BY id LIMIT 5) TO STDOUT WITH (FORMAT binary)'),
  {
    name: 'copy from stdin',
    steps: [
      { kind: 'simple', sql: 'CREATE TEMP TABLE copy_target (a int, b text)' },
      { kind: 'copy-in', sql: 'COPY copy_target FROM STDIN', chunks: ['1\tone\n2\t', 'two\n3\t\\N\n'] },
      { kind: 'simple', sql: 'SELECT count(*), count(b), sum(a) FROM copy_target' },
      { kind: 'copy-in', sql: 'COPY copy_target FROM STDIN', chunks: ['4\tfour\n'], fail: 'client gave up' },
      { kind: 'copy-in', sql: 'COPY copy_target FROM STDIN', chunks: ['not-a-number\tx\n'] },
      { kind: 'simple', sql: 'SELECT count(*) FROM copy_target' },
      { kind: 'simple', sql: 'DROP TABLE copy_target' },
    ],
  },
  // ---- extended protocol --------------------------------------------------------------------------
  { name: 'extended: no params', steps: [{ kind: 'extended', sql: 'SELECT id, email, plan FROM users ORDER BY id LIMIT 3' }] },
  {
    name: 'extended: text params',
    steps: [{ kind: 'extended', sql: 'SELECT id, name FROM domains WHERE id > $1 AND tld = $2 ORDER BY id LIMIT 5', params: ['10', 'com'] }],
  },
  {
    name: 'extended: typed params and describe statement',
    steps: [{ kind: 'extended', sql: 'SELECT $1::int8 + 1 AS n, $2::text AS t', paramTypes: [20, 25], params: ['41', 'hi'], describe: 'S' }],
  },
  {
    name: 'extended: binary results',
    steps: [
      {
        kind: 'extended',
        sql: 'SELECT id, created_at, credits, is_active, api_key_hash, last_login_at FROM users ORDER BY id LIMIT 5',
        resultFormats: [1],
      },
    ],
  },
  {
    name: 'extended: mixed result formats',
    steps: [{ kind: 'extended', sql: 'SELECT id, email, credits FROM users ORDER BY id LIMIT 3', resultFormats: [1, 0, 1] }],
  },
  {
    name: 'extended: row limit with PortalSuspended',
    steps: [{ kind: 'extended', sql: 'SELECT id FROM domains ORDER BY id LIMIT 10', maxRows: 3 }],
  },
  {
    name: 'extended: named statement reused',
    steps: [
      { kind: 'extended', name: 's_users', sql: 'SELECT email FROM users WHERE id = $1', params: ['1'] },
      { kind: 'simple', sql: 'SELECT 1' },
      { kind: 'extended', name: 's_other', sql: 'SELECT email FROM users WHERE id = $1', params: ['2'] },
    ],
  },
  {
    name: 'extended: postgres.js style (Parse, Describe, Flush, then Bind/Execute/Sync)',
    steps: [{ kind: 'extended', name: 'pjs1', sql: 'SELECT name, tld FROM domains WHERE id < $1 ORDER BY id', params: ['4'], flushFirst: true }],
  },
  { name: 'extended: parse error', steps: [{ kind: 'extended', sql: 'SELECT FROM WHERE' }] },
  { name: 'extended: runtime error', steps: [{ kind: 'extended', sql: 'SELECT 1/$1::int', params: ['0'] }] },
  { name: 'extended: empty query', steps: [{ kind: 'extended', sql: '' }] },
  { name: 'extended: pipeline', steps: [{ kind: 'pipeline', sqls: ['SELECT 1 AS a', "SELECT 'b' AS b", 'SELECT count(*) FROM projects'] }] },
  { name: 'extended: pipeline with an error skips to Sync', steps: [{ kind: 'pipeline', sqls: ['SELECT 1 AS a', 'SELECT 1/0', 'SELECT 3 AS c'] }] },
  {
    name: 'extended: inside a transaction',
    steps: [
      { kind: 'simple', sql: 'BEGIN' },
      { kind: 'pipeline', sqls: ['SELECT count(*) FROM events', 'SELECT max(occurred_at) FROM events'] },
      { kind: 'extended', sql: 'SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1', resultFormats: [1] },
      { kind: 'simple', sql: 'COMMIT' },
    ],
  },
];
