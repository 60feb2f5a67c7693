// Router decisions over a table of statements real clients send (see shared/docs/CLIENTS.md):
// Metabase questions and sync, psql \d, pgjdbc, writes, hints, session settings, transactions.
import { beforeAll, describe, expect, test } from 'vitest';
import {
  defaultRoutingRules,
  initRouter,
  mentionsMirroredTable,
  PARSE_LIMITS,
  parserReady,
  REASONS,
  route,
  routerStats,
  statementFacts,
  type DuckdbRoute,
  type MirrorTable,
  type MirrorView,
  type PostgresRoute,
  type Route,
  type RouteContext,
} from '../../src/router/index.js';


const DEMO: Record<string, { pk: string[]; cols: Array<[string, string, boolean?]> }> = {
  users: {
    pk: ['id'],
    cols: [['id', 'int4'], ['email', 'varchar'], ['full_name', 'text'], ['plan', 'plan_tier', false], ['country', 'bpchar'], ['is_active', 'bool'], ['created_at', 'timestamptz'], ['last_login_at', 'timestamp'], ['api_key_hash', 'bytea'], ['credits', 'numeric']],
  },
  projects: {
    pk: ['id'],
    cols: [['id', 'int4'], ['user_id', 'int4'], ['name', 'varchar'], ['description', 'text'], ['status', 'varchar'], ['crawl_depth', 'int2'], ['max_pages', 'int4'], ['schedule_interval', 'interval'], ['preferred_crawl_time', 'time'], ['settings', 'jsonb'], ['created_at', 'timestamptz'], ['updated_at', 'timestamptz']],
  },
  domains: {
    pk: ['id'],
    cols: [['id', 'int4'], ['name', 'varchar'], ['tld', 'varchar'], ['category', 'text'], ['first_seen', 'date'], ['robots_allowed', 'bool'], ['page_rank', 'float8']],
  },
  scrape_pages: {
    pk: ['id'],
    cols: [['id', 'int8'], ['project_id', 'int4'], ['domain_id', 'int4'], ['url', 'text'], ['status_code', 'int2'], ['content_type', 'varchar'], ['content_length', 'int4'], ['fetch_ms', 'int4'], ['depth', 'int2'], ['is_success', 'bool'], ['content_hash', 'bytea'], ['scraped_at', 'timestamptz'], ['error_message', 'text']],
  },
  content_analytics: {
    pk: ['page_id'],
    cols: [['page_id', 'int8'], ['project_id', 'int4'], ['word_count', 'int4'], ['language', 'varchar'], ['quality_score', 'numeric'], ['readability', 'float8'], ['sentiment', 'float4'], ['has_images', 'bool'], ['image_count', 'int2'], ['link_count', 'int4'], ['tags', '_text'], ['heading_counts', '_int4'], ['metadata', 'jsonb'], ['analyzed_at', 'timestamptz']],
  },
  project_analytics: {
    pk: ['project_id', 'day'],
    cols: [['project_id', 'int4'], ['day', 'date'], ['pages', 'int4'], ['bytes', 'int8'], ['avg_fetch_ms', 'numeric'], ['error_rate', 'float8'], ['unique_domains', 'int4']],
  },
  cdx_records: {
    pk: ['id'],
    cols: [['id', 'int8'], ['urlkey', 'text'], ['cdx_timestamp', 'bpchar'], ['archive_date', 'date'], ['captured_at', 'timestamp'], ['original', 'text'], ['mimetype', 'varchar'], ['statuscode', 'int2'], ['digest', 'bpchar'], ['length', 'int8'], ['warc_offset', 'int8'], ['warc_filename', 'text'], ['domain_id', 'int4'], ['project_id', 'int4'], ['is_revisit', 'bool']],
  },
  events: {
    pk: ['id'],
    cols: [['id', 'int8'], ['user_id', 'int4'], ['project_id', 'int4'], ['event_type', 'text'], ['occurred_at', 'timestamptz'], ['payload', 'jsonb'], ['duration', 'interval'], ['session_id', 'uuid'], ['user_agent', 'text']],
  },
};

function demoMirror(schema = 'public'): MirrorView {
  const tables = new Map<string, MirrorTable>();
  for (const [name, t] of Object.entries(DEMO)) {
    tables.set(`${schema}.${name}`, {
      schema,
      name,
      primaryKey: t.pk,
      columns: new Map(t.cols.map(([c, pgType, exact]) => [c, { pgType, exact: exact ?? true }])),
      lagMs: 120,
      appliedLsn: '0/16B3748',
    });
  }
  return { tables };
}

const MIRROR = demoMirror();

function ctx(over: Partial<RouteContext> = {}): RouteContext {
  return {
    mirror: MIRROR,
    searchPath: ['public'],
    user: 'alice',
    transactionFailed: false,
    sessionRoute: 'auto',
    rules: DEFAULT_RULES,
    ...over,
  };
}

const DEFAULT_RULES = defaultRoutingRules();

beforeAll(async () => {
  await initRouter();
});

type Expect = { engine: 'postgres' | 'duckdb'; reason: string; cost?: boolean; columns?: Record<string, string[]> };
type Case = [name: string, sql: string, expected: Expect, over?: Partial<RouteContext>];

const PG = (reason: string): Expect => ({ engine: 'postgres', reason });
const DUCK = (cost: boolean, columns?: Record<string, string[]>): Expect => ({ engine: 'duckdb', reason: 'analytical', cost, ...(columns ? { columns } : {}) });

const CASES: Case[] = [
  // ---- Metabase questions (pgjdbc, fully qualified, quoted) ----
  ['metabase month bucket', `SELECT date_trunc('month', "public"."events"."occurred_at") AS "occurred_at", count(*) AS "count" FROM "public"."events" GROUP BY date_trunc('month', "public"."events"."occurred_at") ORDER BY date_trunc('month', "public"."events"."occurred_at") ASC`, DUCK(false, { 'public.events': ['occurred_at'] })],
  ['metabase week bucket cast to date', `SELECT CAST(date_trunc('week', "public"."cdx_records"."archive_date") AS date) AS "archive_date", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC`, DUCK(false, { 'public.cdx_records': ['archive_date'] })],
  ['metabase day of week', `SELECT CAST(extract(dow FROM "public"."events"."occurred_at") AS integer) AS "occurred_at", count(*) AS "count" FROM "public"."events" GROUP BY 1 ORDER BY 1 ASC`, DUCK(false)],
  ['metabase sum by category with join', `SELECT "Domains"."category" AS "Domains__category", sum("public"."cdx_records"."length") AS "sum" FROM "public"."cdx_records" LEFT JOIN "public"."domains" AS "Domains" ON "public"."cdx_records"."domain_id" = "Domains"."id" GROUP BY "Domains"."category" ORDER BY "sum" DESC, "Domains"."category" ASC`, DUCK(false, { 'public.cdx_records': ['domain_id', 'length'], 'public.domains': ['id', 'category'] })],
  ['metabase probe', `SELECT TRUE FROM "public"."events" WHERE 1 <> 1 LIMIT 0`, PG('not_analytical')],
  ['metabase field fingerprint', `SELECT substring("public"."scrape_pages"."url", 1, 1234) AS "url" FROM "public"."scrape_pages" LIMIT 10000`, DUCK(true, { 'public.scrape_pages': ['url'] })],
  ['metabase relative date filter', `SELECT count(*) AS "count" FROM "public"."events" WHERE "public"."events"."occurred_at" >= date_trunc('day', (now() + INTERVAL '-30 day'))`, DUCK(false)],
  ['metabase show timezone', `show timezone`, PG('utility')],
  ['metabase sync tables', `SELECT "c"."relname" AS "name", "n"."nspname" AS "schema", "d"."description" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) WHERE "c"."relkind" IN ('r', 'p', 'v', 'f', 'm')`, PG('catalog')],
  ['metabase sync columns of a mirrored table', `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'events'`, PG('catalog')],
  ['metabase stat user tables', `SELECT n_live_tup FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = 'events'`, PG('catalog')],

  // ---- the demo seeds' own analytics ----
  ['performance summary', `SELECT p.name, count(*) AS pages, avg(sp.fetch_ms) AS avg_ms, sum(CASE WHEN sp.is_success THEN 0 ELSE 1 END)::float / count(*) AS error_rate FROM scrape_pages sp JOIN projects p ON p.id = sp.project_id GROUP BY p.name ORDER BY pages DESC`, DUCK(false, { 'public.scrape_pages': ['fetch_ms', 'is_success', 'project_id'], 'public.projects': ['id', 'name'] })],
  // width_bucket is 'never' in the capability list (src/router/capabilities.ts): the rewrite has no translation
  ['quality distribution', `SELECT width_bucket(quality_score, 0, 100, 10) AS bucket, count(*) FROM content_analytics GROUP BY bucket ORDER BY bucket`, PG('unsafe_function')],
  ['hourly events', `SELECT date_trunc('hour', occurred_at) AS hour, event_type, count(*) FROM events WHERE occurred_at >= now() - interval '1 day' GROUP BY 1, 2 ORDER BY 1`, DUCK(false)],
  ['domain analysis CTE', `WITH d AS (SELECT domain_id, count(*) AS n, sum(length) AS bytes FROM cdx_records GROUP BY domain_id) SELECT dm.tld, sum(d.n), sum(d.bytes) FROM d JOIN domains dm ON dm.id = d.domain_id GROUP BY dm.tld`, DUCK(false, { 'public.cdx_records': ['domain_id', 'length'], 'public.domains': ['id', 'tld'] })],
  ['window running total', `SELECT project_id, day, pages, sum(pages) OVER (PARTITION BY project_id ORDER BY day) AS running FROM project_analytics`, DUCK(false)],
  ['window rank in subquery', `SELECT * FROM (SELECT project_id, day, rank() OVER (PARTITION BY project_id ORDER BY pages DESC) AS r FROM project_analytics) x WHERE r <= 3`, DUCK(false, { 'public.project_analytics': ['project_id', 'day', 'pages'] })],
  ['distinct', `SELECT DISTINCT tld FROM domains`, DUCK(false, { 'public.domains': ['tld'] })],
  ['count distinct', `SELECT count(DISTINCT urlkey) FROM cdx_records`, DUCK(false)],
  ['correlated subquery', `SELECT p.name, (SELECT count(*) FROM scrape_pages sp WHERE sp.project_id = p.id) FROM projects p`, DUCK(false, { 'public.projects': ['name', 'id'], 'public.scrape_pages': ['project_id'] })],
  ['percentile within group', `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY fetch_ms) FROM scrape_pages`, DUCK(false)],
  ['regex operator', `SELECT count(*) FROM events WHERE event_type ~ '^page'`, DUCK(false)],
  ['pg_catalog-qualified aggregate', `SELECT pg_catalog.count(*) FROM events`, DUCK(false)],
  ['aggregate with equality filter asks the cost', `SELECT count(*) FROM events WHERE user_id = $1`, DUCK(true)],
  ['ANY($1::int[]) aggregate asks the cost', `SELECT event_type, count(*) FROM events WHERE user_id = ANY($1::int[]) GROUP BY 1`, DUCK(true)],
  ['plain scan asks the cost', `SELECT id, urlkey FROM cdx_records WHERE archive_date > '2024-01-01'`, DUCK(true)],
  ['ORDER BY + LIMIT asks the cost', `SELECT * FROM events ORDER BY occurred_at DESC LIMIT 10`, DUCK(true)],
  ['TABLE t', `TABLE events`, DUCK(true, { 'public.events': ['*'] })],
  ['whole-row reference', `SELECT e FROM events e`, DUCK(true, { 'public.events': ['*'] })],
  ['count(*) touches no column', `SELECT count(*) FROM users`, DUCK(false, { 'public.users': [] })],
  ['exact columns of a table with an inexact one', `SELECT country, count(*) FROM users GROUP BY country`, DUCK(false, { 'public.users': ['country'] })],
  ['UNION scan', `SELECT user_id FROM events UNION SELECT id FROM users`, DUCK(true)],
  ['GROUP BY an output alias', `SELECT date_trunc('day', occurred_at) AS d, count(*) FROM events GROUP BY d ORDER BY d`, DUCK(false, { 'public.events': ['occurred_at'] })],
  ['recursive CTE joined to a table', `WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT r.n, count(e.id) FROM r LEFT JOIN events e ON e.user_id = r.n GROUP BY r.n`, DUCK(false, { 'public.events': ['id', 'user_id'] })],
  ['table-name and schema.table qualifiers', `SELECT events.event_type, public.events.user_id, count(*) FROM events GROUP BY 1, 2`, DUCK(false, { 'public.events': ['event_type', 'user_id'] })],
  ['generate_series date spine', `SELECT d, count(e.id) FROM generate_series('2024-01-01'::date, '2024-02-01'::date, interval '1 day') AS d LEFT JOIN events e ON e.occurred_at::date = d GROUP BY d ORDER BY d`, DUCK(false, { 'public.events': ['id', 'occurred_at'] })],
  ['ROLLUP', `SELECT project_id, event_type, count(*) FROM events GROUP BY ROLLUP (project_id, event_type)`, DUCK(false)],
  ['DISTINCT ON', `SELECT DISTINCT ON (user_id) user_id, occurred_at FROM events ORDER BY user_id, occurred_at DESC`, DUCK(false, { 'public.events': ['user_id', 'occurred_at'] })],
  ['FILTER and CASE', `SELECT count(*) FILTER (WHERE is_revisit), sum(CASE WHEN statuscode >= 400 THEN 1 ELSE 0 END) FROM cdx_records`, DUCK(false, { 'public.cdx_records': ['is_revisit', 'statuscode'] })],
  ['schema-qualified function name of pg_catalog', `SELECT pg_catalog.date_trunc('day', occurred_at), count(*) FROM events GROUP BY 1`, DUCK(false)],

  // ---- point lookups and small reads ----
  ['pk lookup', `SELECT id, email FROM users WHERE id = $1`, PG('point_lookup')],
  ['pk lookup with cast', `SELECT * FROM events WHERE id = '42'::bigint`, PG('point_lookup')],
  ['composite pk lookup', `SELECT * FROM project_analytics WHERE project_id = 1 AND day = '2024-01-01'`, PG('point_lookup')],
  ['half a composite pk is no point lookup', `SELECT * FROM project_analytics WHERE project_id = 1`, DUCK(true)],
  ['pk IN list', `SELECT url FROM scrape_pages WHERE id IN (1, 2, 3)`, PG('point_lookup')],
  ['pk = ANY($1)', `SELECT url FROM scrape_pages WHERE id = ANY($1)`, PG('point_lookup')],
  ['join anchored on a pk', `SELECT e.* FROM events e JOIN users u ON u.id = e.user_id WHERE u.id = $1`, PG('point_lookup')],
  ['pk named otherwise', `SELECT word_count FROM content_analytics WHERE page_id = 7`, PG('point_lookup')],
  ['small LIMIT peek', `SELECT * FROM events LIMIT 5`, PG('not_analytical')],
  ['now() in a peek', `SELECT now(), id FROM events LIMIT 1`, PG('not_analytical')],

  // ---- writes and things DuckDB must not do ----
  ['insert', `INSERT INTO events (user_id, event_type, occurred_at, session_id) VALUES ($1, $2, now(), gen_random_uuid())`, PG('write')],
  ['insert with literal', `insert into events (user_id) values (1)`, PG('write')],
  ['update', `UPDATE users SET credits = credits - 1 WHERE id = $1`, PG('write')],
  ['delete with comment first', `/* app */ DELETE FROM events WHERE id = 3`, PG('write')],
  ['CTE with a write', `WITH x AS (DELETE FROM events WHERE id < 10 RETURNING *) SELECT count(*) FROM x`, PG('write')],
  ['CTE with an insert', `WITH x AS (INSERT INTO events (user_id) SELECT id FROM users RETURNING id) SELECT count(*) FROM x`, PG('write')],
  ['SELECT INTO', `SELECT * INTO TEMP recent FROM events`, PG('write')],
  ['CREATE TABLE AS', `CREATE TABLE daily AS SELECT archive_date, count(*) FROM cdx_records GROUP BY 1`, PG('write')],
  ['nextval', `SELECT nextval('events_id_seq'), count(*) FROM events`, PG('unsafe_function')],
  ['random()', `SELECT random(), count(*) FROM events GROUP BY 1`, PG('unsafe_function')],
  ['setval', `SELECT setval('events_id_seq', max(id)) FROM events`, PG('unsafe_function')],
  ['advisory lock', `SELECT pg_advisory_lock(1), count(*) FROM events`, PG('catalog')],
  ['current_user', `SELECT current_user, count(*) FROM events`, PG('unsafe_function')],
  ['user function', `SELECT myschema.f(id) FROM events GROUP BY 1`, PG('unsafe_function')],
  ['json_agg output format differs', `SELECT json_agg(event_type) FROM events`, PG('unsafe_function')],
  ['clock_timestamp volatile', `SELECT clock_timestamp(), count(*) FROM events`, PG('unsafe_function')],
  ['FOR UPDATE SKIP LOCKED', `SELECT id FROM events WHERE event_type = 'x' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 10`, PG('locking')],
  ['FOR SHARE (Postgres will refuse it with the aggregate)', `SELECT count(*) FROM events FOR SHARE`, PG('locking')],
  ['FOR KEY SHARE', `SELECT * FROM events e FOR KEY SHARE OF e`, PG('locking')],
  ['COPY TO', `COPY events TO STDOUT (FORMAT csv)`, PG('utility')],
  ['COPY query TO', `COPY (SELECT count(*) FROM events) TO STDOUT`, PG('utility')],
  ['COPY FROM', `COPY events FROM STDIN`, PG('write')],
  ['EXPLAIN', `EXPLAIN SELECT count(*) FROM events`, PG('utility')],
  ['EXPLAIN ANALYZE a write', `EXPLAIN (ANALYZE) DELETE FROM events`, PG('utility')],
  ['TRUNCATE', `TRUNCATE events`, PG('write')],
  ['insert into an unmirrored table', `INSERT INTO audit_log VALUES (1)`, PG('write')],
  ['COMMIT', `COMMIT`, PG('utility')],
  ['ROLLBACK in a failed transaction', `ROLLBACK`, PG('utility'), { transactionFailed: true }],
  ['CALL', `CALL refresh_stats()`, PG('write')],
  ['multi-statement', `SELECT 1; SELECT count(*) FROM events`, PG('multi_statement')],
  ['parse error', `select count(*) from events where`, PG('parse_error')],
  ['TABLESAMPLE', `SELECT count(*) FROM events TABLESAMPLE SYSTEM (10)`, PG('unsupported_syntax')],
  ['COLLATE', `SELECT event_type COLLATE "C", count(*) FROM events GROUP BY 1`, PG('unsupported_syntax')],
  ['XML', `SELECT xmlelement(name e, event_type), count(*) FROM events GROUP BY 1`, PG('unsupported_syntax')],
  ['column aliases on a table', `SELECT count(a) FROM events AS e(a, b)`, PG('unsupported_syntax')],
  ['three-part name', `SELECT count(*) FROM otherdb.public.events`, PG('unsupported_syntax')],

  // ---- catalog: psql \d and pgjdbc ----
  ['psql \\d lookup', `SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(events)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;`, PG('catalog')],
  ['psql \\d columns', `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef), a.attnotnull FROM pg_catalog.pg_attribute a WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;`, PG('catalog')],
  ['regclass cast naming a mirrored table', `SELECT 'events'::regclass`, PG('catalog')],
  ['regclass cast in a query over a mirrored table', `SELECT count(*) FROM events WHERE tableoid = 'events'::regclass`, PG('catalog')],
  ['pgjdbc type info', `SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid FROM pg_catalog.pg_type LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r from pg_namespace as ns join ( select s.r, (current_schemas(false))[s.r] as nspname from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r using ( nspname ) ) as sp ON sp.nspoid = typnamespace WHERE pg_type.oid = $1 ORDER BY sp.r, pg_type.oid DESC`, PG('catalog')],
  ['pgjdbc ANY($1::oid[])', `SELECT t.oid, t.typname FROM pg_catalog.pg_type t WHERE t.oid = ANY($1::oid[])`, PG('catalog')],
  ['unqualified pg_ relation', `SELECT count(*) FROM pg_class WHERE relname = 'events'`, PG('catalog')],
  ['information_schema first in search_path', `SELECT count(*) FROM events`, PG('catalog'), { searchPath: ['information_schema', 'public'] }],

  // ---- name resolution ----
  ['unmirrored table', `SELECT 1`, PG('not_mirrored')],
  ['VALUES', `VALUES (1), (2)`, PG('not_mirrored')],
  ['scalar subquery over an unmirrored table', `SELECT count(*), (SELECT max(x) FROM audit_log) FROM events`, PG('not_mirrored')],
  // timezone() is conditional: the rewrite checks the zone (a constant tzdata ID) and the operand type
  ['AT TIME ZONE is conditional', `SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC'), count(*) FROM events GROUP BY 1`, DUCK(false)],
  ['join with an unmirrored table', `SELECT count(*) FROM events JOIN audit_log USING (id)`, PG('not_mirrored')],
  ['other schema', `SELECT count(*) FROM other.events`, PG('not_mirrored')],
  ['unqualified name, first schema unmirrored', `SELECT count(*) FROM events`, PG('not_mirrored'), { searchPath: ['analytics', 'public'] }],
  ['pg_catalog listed first is skipped', `SELECT count(*) FROM events`, DUCK(false), { searchPath: ['pg_catalog', 'public'] }],
  ['quoted mixed-case name is another table', `SELECT count(*) FROM "Events"`, PG('not_mirrored')],
  ['CTE shadowing a table name', `WITH events AS (SELECT 1 AS x) SELECT count(*) FROM events`, PG('not_mirrored')],
  ['temp table of the session shadows', `SELECT count(*) FROM events`, PG('temp_table'), { tempTables: new Set(['events']) }],
  ['pg_temp schema', `SELECT count(*) FROM pg_temp.events`, PG('temp_table')],
  ['qualified name ignores temp shadowing', `SELECT count(*) FROM public.events`, DUCK(false), { tempTables: new Set(['events']) }],

  // ---- columns the mirror does not hold exactly ----
  ['inexact column', `SELECT plan, count(*) FROM users GROUP BY plan`, PG('inexact_column')],
  ['star over an inexact column', `SELECT * FROM users`, PG('inexact_column')],
  ['alias.* over an inexact column', `SELECT u.*, count(*) OVER () FROM users u`, PG('inexact_column')],
  ['system column', `SELECT xmin, count(*) FROM events GROUP BY 1`, PG('inexact_column')],
  ['unknown column', `SELECT count(nonexistent) FROM events`, PG('inexact_column')],
  ['ORDER BY output alias is fine', `SELECT event_type AS et, count(*) AS n FROM events GROUP BY et ORDER BY n DESC`, DUCK(false, { 'public.events': ['event_type'] })],
  ['NATURAL join counts every column', `SELECT count(*) FROM events NATURAL JOIN users`, PG('inexact_column')],

  // ---- transactions ----
  // an open transaction is judged by the session's check query (isolation, written yet), not here
  ['in a failed transaction', `SELECT count(*) FROM events`, PG('in_transaction'), { transactionFailed: true }],
  ['a write in a failed transaction', `UPDATE events SET event_type = 'x'`, PG('write'), { transactionFailed: true }],

  // ---- hints ----
  ['hint postgres', `/* duckgate: route=postgres */ SELECT count(*) FROM events`, PG('hint')],
  ['hint duckdb on a point lookup', `/* duckgate: route=duckdb */ SELECT * FROM events WHERE id = 5`, { engine: 'duckdb', reason: 'hint', cost: false }],
  ['line-comment hint', `SELECT * FROM events LIMIT 5 -- duckgate: route=duckdb`, { engine: 'duckdb', reason: 'hint', cost: false }],
  ['hint duckdb cannot pass an unsafe function', `/* duckgate: route=duckdb */ SELECT nextval('s'), count(*) FROM events`, PG('unsafe_function')],
  ['hint duckdb cannot pass a write', `/* duckgate: route=duckdb */ INSERT INTO events (user_id) VALUES (1)`, PG('write')],
  ['hint duckdb cannot pass an inexact column', `/* duckgate: route=duckdb */ SELECT plan FROM users`, PG('inexact_column')],
  ['hint duckdb cannot pass a catalog query', `/* duckgate: route=duckdb */ SELECT count(*) FROM pg_class`, PG('catalog')],
  ['hint duckdb cannot pass locking', `/* duckgate: route=duckdb */ SELECT * FROM events FOR UPDATE`, PG('locking')],
  ['hint duckdb cannot pass an unmirrored table', `/* duckgate: route=duckdb */ SELECT count(*) FROM audit_log, events`, PG('not_mirrored')],
  ['hint duckdb cannot pass a failed transaction', `/* duckgate: route=duckdb */ SELECT count(*) FROM events`, PG('in_transaction'), { transactionFailed: true }],
  ['hint auto beats session postgres', `/* duckgate: route=auto */ SELECT count(*) FROM events`, DUCK(false), { sessionRoute: 'postgres' }],
  ['unknown hint options are ignored', `/* duckgate: fast=yes */ SELECT count(*) FROM events`, DUCK(false)],

  // ---- SET duckgate.route for the session ----
  ['session postgres', `SELECT count(*) FROM events`, PG('session_setting'), { sessionRoute: 'postgres' }],
  ['session duckdb forces a point lookup', `SELECT * FROM events WHERE id = 5`, { engine: 'duckdb', reason: 'session_setting', cost: false }, { sessionRoute: 'duckdb' }],
  ['session duckdb cannot pass a write', `DELETE FROM events`, PG('write'), { sessionRoute: 'duckdb' }],
  ['hint beats session', `/* duckgate: route=duckdb */ SELECT count(*) FROM events`, { engine: 'duckdb', reason: 'hint', cost: false }, { sessionRoute: 'postgres' }],

  // ---- mirror state ----
  ['empty mirror', `SELECT count(*) FROM events`, PG('no_mirror'), { mirror: { tables: new Map() } }],
];

function plain(r: Route): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v)));
}

describe('route() over client statements', () => {
  test.each(CASES)('%s', (_name, sql, expected, over) => {
    const r = route(sql, ctx(over));
    expect(r.engine, JSON.stringify(plain(r))).toBe(expected.engine);
    const d = r as PostgresRoute | DuckdbRoute;
    expect(d.reason, JSON.stringify(plain(r))).toBe(expected.reason);
    if (r.engine === 'duckdb') {
      if (expected.cost !== undefined) expect(r.needsCostCheck).toBe(expected.cost);
      expect(r.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      // strict by default: fenced on the WAL position at the statement's start
      expect(r.maxLagMs).toBe(0);
      for (const t of r.tables) expect(MIRROR.tables.has(t)).toBe(true);
      if (expected.columns) {
        const got = Object.fromEntries([...r.columns].map(([t, s]) => [t, [...s].sort()]));
        const want = Object.fromEntries(Object.entries(expected.columns).map(([t, s]) => [t, [...s].sort()]));
        expect(got).toEqual(want);
      }
    }
  });

  test('every decision carries a known reason', () => {
    for (const [, sql, , over] of CASES) {
      const r = route(sql, ctx(over));
      if (r.engine === 'postgres' || r.engine === 'duckdb') expect(REASONS).toContain(r.reason);
    }
  });
});

describe('details the caller relies on', () => {
  test('now() marks the route time-dependent; a plain aggregate does not', () => {
    const a = route(`SELECT count(*) FROM events WHERE occurred_at > now() - interval '1 hour'`, ctx()) as DuckdbRoute;
    const b = route(`SELECT count(*) FROM events WHERE occurred_at > current_date`, ctx()) as DuckdbRoute;
    const c = route(`SELECT count(*) FROM events`, ctx()) as DuckdbRoute;
    expect([a.timeDependent, b.timeDependent, c.timeDependent]).toEqual([true, true, false]);
  });

  test('the detail names what blocked the statement', () => {
    expect((route(`SELECT nextval('s'), random(), count(*) FROM events`, ctx()) as PostgresRoute).detail).toBe('nextval(), random()');
    expect((route(`SELECT plan FROM users GROUP BY 1`, ctx()) as PostgresRoute).detail).toContain('public.users.plan');
    expect((route(`SELECT count(*) FROM events`, ctx({ searchPath: ['analytics', 'public'] })) as PostgresRoute).detail).toContain('analytics.events');
  });

  test('a schema-qualified mirror resolves through search_path', () => {
    const mirror = demoMirror('analytics');
    const r = route(`SELECT count(*) FROM events`, ctx({ mirror, searchPath: ['analytics', 'public'] }));
    expect(r).toMatchObject({ engine: 'duckdb', tables: ['analytics.events'] });
    expect(route(`SELECT count(*) FROM events`, ctx({ mirror, searchPath: ['public', 'analytics'] }))).toMatchObject({ engine: 'postgres', reason: 'not_mirrored' });
  });

  test('explain hint returns the would-be route with fingerprint and tables', () => {
    const e = route(`/* duckgate: explain */ SELECT date_trunc('day', occurred_at), count(*) FROM events GROUP BY 1`, ctx());
    expect(e.engine).toBe('explain');
    if (e.engine !== 'explain') return;
    expect(e.route).toMatchObject({ engine: 'duckdb', reason: 'analytical', tables: ['public.events'] });
    expect(e.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    // the hint is a comment: the fingerprint is the statement's own
    expect(e.fingerprint).toBe((route(`SELECT date_trunc('day', occurred_at), count(*) FROM events GROUP BY 1`, ctx()) as DuckdbRoute).fingerprint);
    const p = route(`/* duckgate: explain */ SELECT email FROM users WHERE id = 3`, ctx());
    expect(p).toMatchObject({ engine: 'explain', route: { engine: 'postgres', reason: 'point_lookup', tables: ['public.users'] } });
    // explain of an unmirrored statement still shows what it reads
    const u = route(`/* duckgate: explain */ SELECT * FROM audit_log`, ctx());
    expect(u).toMatchObject({ engine: 'explain', route: { engine: 'postgres', reason: 'not_mirrored', tables: ['audit_log'] } });
    // explain + route hint: shows the forced route
    expect(route(`/* duckgate: explain route=postgres */ SELECT count(*) FROM events`, ctx())).toMatchObject({ engine: 'explain', route: { reason: 'hint' } });
  });

  test('fingerprints ignore constants, whitespace and comments but not shape', () => {
    const f = (sql: string) => (route(sql, ctx()) as DuckdbRoute).fingerprint;
    expect(f(`SELECT count(*) FROM events WHERE user_id = 1`)).toBe(f(`select   count(*)  from events -- x\n where user_id = 42`));
    expect(f(`SELECT count(*) FROM events WHERE user_id = 1`)).not.toBe(f(`SELECT count(*) FROM events WHERE project_id = 1`));
  });

  test('SET duckgate.max_lag opts the session into bounded staleness; a hint still beats it', () => {
    expect(route(`SELECT count(*) FROM events`, ctx({ sessionMaxLagMs: 30_000 }))).toMatchObject({ engine: 'duckdb', maxLagMs: 30_000, lagOrigin: 'duckgate.max_lag' });
    expect(route(`SELECT count(*) FROM events`, ctx({ sessionMaxLagMs: null }))).toMatchObject({ engine: 'duckdb', maxLagMs: 0, lagOrigin: 'default' });
    expect(route(`/* duckgate: max_lag=strict */ SELECT count(*) FROM events`, ctx({ sessionMaxLagMs: 30_000 }))).toMatchObject({ engine: 'duckdb', maxLagMs: 0, lagOrigin: 'hint' });
  });

  test('hint max_lag sets the freshness bound', () => {
    expect(route(`/* duckgate: max_lag=30s */ SELECT count(*) FROM events`, ctx())).toMatchObject({ engine: 'duckdb', maxLagMs: 30_000 });
  });
});

describe('duckgate.* settings', () => {
  test.each([
    ['SET duckgate.route = duckdb', { engine: 'set', name: 'duckgate.route', value: 'duckdb', local: false }],
    [`SET SESSION duckgate.route TO 'postgres'`, { engine: 'set', value: 'postgres', local: false }],
    ['SET LOCAL duckgate.route TO postgres', { engine: 'set', value: 'postgres', local: true }],
    ['set duckgate.route = AUTO', { engine: 'set', value: 'auto' }],
    ['RESET duckgate.route', { engine: 'set', value: 'auto' }],
    ['SET duckgate.route TO DEFAULT', { engine: 'set', value: 'auto' }],
    ['SHOW duckgate.route', { engine: 'show', name: 'duckgate.route' }],
    ['show duckgate.status', { engine: 'show', name: 'duckgate.status' }],
    [`SET duckgate.max_lag = '30s'`, { engine: 'set', name: 'duckgate.max_lag', value: 30_000, local: false }],
    ['SET duckgate.max_lag TO strict', { engine: 'set', name: 'duckgate.max_lag', value: 0 }],
    ['SET LOCAL duckgate.max_lag = 500', { engine: 'set', name: 'duckgate.max_lag', value: 500, local: true }],
    ['RESET duckgate.max_lag', { engine: 'set', name: 'duckgate.max_lag', value: null }],
    ['SET duckgate.max_lag TO DEFAULT', { engine: 'set', name: 'duckgate.max_lag', value: null }],
  ])('%s', (sql, expected) => {
    expect(route(sql, ctx())).toMatchObject(expected);
  });

  test.each([
    [`SET duckgate.route = 'fast'`, '22023', 'invalid value for parameter "duckgate.route": "fast"'],
    ['SET duckgate.route = a, b', '22023', 'SET duckgate.route takes only one argument'],
    ['SET duckgate.fast = on', '42602', 'invalid configuration parameter name "duckgate.fast"'],
    [`SET duckgate.max_lag = 'soon'`, '22023', 'invalid value for parameter "duckgate.max_lag": "soon"'],
    ['SET duckgate.route = duckdb; SELECT 1', '0A000', 'duckgate settings cannot be combined with other statements in one query'],
  ])('%s is refused with %s', (sql, code, message) => {
    const r = route(sql, ctx());
    expect(r.engine).toBe('error');
    if (r.engine !== 'error') return;
    expect(r.error.sqlstate).toBe(code);
    expect(r.error.message).toBe(message);
  });

  test('SHOW of a Postgres setting and SHOW ALL go to Postgres', () => {
    expect(route('SHOW search_path', ctx())).toMatchObject({ engine: 'postgres', reason: 'utility' });
    expect(route('SHOW ALL', ctx())).toMatchObject({ engine: 'postgres', reason: 'utility' });
  });
});

describe('session effects of statements relayed to Postgres', () => {
  const effects = (sql: string) => (route(sql, ctx()) as PostgresRoute).effects;
  test('SET search_path, TimeZone, RESET, SET LOCAL', () => {
    expect(effects('SET search_path TO analytics, "$user", public')).toEqual([{ kind: 'set', name: 'search_path', args: ['analytics', '$user', 'public'], reset: false, local: false }]);
    expect(effects(`SET TIME ZONE 'Europe/Paris'`)).toEqual([{ kind: 'set', name: 'timezone', args: ['Europe/Paris'], reset: false, local: false }]);
    expect(effects('SET LOCAL extra_float_digits = 3')).toEqual([{ kind: 'set', name: 'extra_float_digits', args: ['3'], reset: false, local: true }]);
    expect(effects('RESET search_path')).toEqual([{ kind: 'set', name: 'search_path', args: [], reset: true, local: false }]);
    expect(effects('RESET ALL')).toEqual([{ kind: 'reset_all' }]);
    expect(effects('SET ROLE analyst')).toEqual([{ kind: 'set', name: 'role', args: ['analyst'], reset: false, local: false }]);
  });
  test('transactions', () => {
    expect(effects('BEGIN READ ONLY')).toEqual([{ kind: 'begin', readOnly: true }]);
    expect(effects('START TRANSACTION ISOLATION LEVEL REPEATABLE READ')).toEqual([{ kind: 'begin', readOnly: null }]);
    expect(effects('BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE')).toEqual([{ kind: 'begin', readOnly: false }]);
    expect(effects('SET TRANSACTION READ ONLY')).toEqual([{ kind: 'set_transaction', readOnly: true, sessionDefault: false }]);
    expect(effects('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY')).toEqual([{ kind: 'set_transaction', readOnly: true, sessionDefault: true }]);
  });
  test('temp tables, drops, DISCARD, privileges', () => {
    expect(effects('CREATE TEMP TABLE scratch (id int)')).toEqual([{ kind: 'create_temp', name: 'scratch' }, { kind: 'ddl', privileges: false }]);
    expect(effects('SELECT * INTO TEMP recent FROM events')).toEqual([{ kind: 'create_temp', name: 'recent' }]);
    expect(effects('CREATE TEMPORARY TABLE t2 AS SELECT 1')).toEqual([{ kind: 'create_temp', name: 't2' }, { kind: 'ddl', privileges: false }]);
    expect(effects('DROP TABLE scratch, public.other')).toEqual([{ kind: 'drop', names: ['scratch', 'other'] }, { kind: 'ddl', privileges: false }]);
    expect(effects('DISCARD ALL')).toEqual([{ kind: 'discard', target: 'all' }]);
    expect(effects('DISCARD TEMP')).toEqual([{ kind: 'discard', target: 'temp' }]);
    expect(effects('GRANT SELECT ON events TO bob')).toEqual([{ kind: 'ddl', privileges: true }]);
    expect(effects('REVOKE SELECT (email) ON users FROM bob')).toEqual([{ kind: 'ddl', privileges: true }]);
    expect(effects('ALTER TABLE events ENABLE ROW LEVEL SECURITY')).toEqual([{ kind: 'ddl', privileges: true }]);
    expect(effects('CREATE POLICY p ON events USING (user_id = 1)')).toEqual([{ kind: 'ddl', privileges: true }]);
    expect(effects('ALTER TABLE events ADD COLUMN x int')).toEqual([{ kind: 'ddl', privileges: false }]);
  });
  test('effects are seen after a ; and behind comments', () => {
    expect(effects('SELECT 1; SET search_path = other')).toEqual([{ kind: 'set', name: 'search_path', args: ['other'], reset: false, local: false }]);
    expect(effects('/* pool */ SET statement_timeout = 0')).toEqual([{ kind: 'set', name: 'statement_timeout', args: ['0'], reset: false, local: false }]);
  });
});

describe('hot path', () => {
  test('statements naming no mirrored table, and plain writes, are decided without a parse', () => {
    const before = routerStats().parses;
    for (let i = 0; i < 50; i++) {
      route(`SELECT balance FROM accounts WHERE id = ${i}`, ctx());
      route(`INSERT INTO events (user_id) VALUES (${i})`, ctx());
      route(`UPDATE users SET credits = ${i} WHERE id = 1`, ctx());
      route(`SELECT count(*) FROM events WHERE user_id = ${i}`, ctx({ transactionFailed: true }));
    }
    expect(routerStats().parses).toBe(before);
  });

  test('a repeated text is parsed once and its decision is cached', () => {
    const sql = `SELECT event_type, count(*) FROM events WHERE project_id = 17 GROUP BY 1`;
    const before = routerStats().parses;
    const a = route(sql, ctx());
    const b = route(sql, ctx());
    expect(b).toBe(a);
    expect(routerStats().parses).toBe(before + 1);
    // another context: a different decision from the same (cached) facts
    expect(route(sql, ctx({ transactionFailed: true }))).toMatchObject({ engine: 'postgres', reason: 'in_transaction' });
    expect(routerStats().parses).toBe(before + 1);
  });

  test('decisions follow a new MirrorView', () => {
    const sql = `SELECT count(*) FROM events`;
    expect(route(sql, ctx())).toMatchObject({ engine: 'duckdb' });
    const tables = new Map(MIRROR.tables);
    tables.delete('public.events');
    expect(route(sql, ctx({ mirror: { tables } }))).toMatchObject({ engine: 'postgres', reason: 'not_mirrored' });
  });
});

describe('mentionsMirroredTable', () => {
  const m: MirrorView = MIRROR;
  test.each([
    ['SELECT * FROM events', true],
    ['select * from EVENTS', true],
    ['SELECT * FROM "public"."cdx_records"', true],
    ['SELECT * FROM accounts WHERE id = 1', false],
    ['SELECT 1', false],
    ['', false],
    [`SELECT 'events' AS label`, true], // a false positive only costs a parse
  ])('%s → %s', (sql, want) => {
    expect(mentionsMirroredTable(sql, m)).toBe(want);
  });

  test('quoted names with special characters and doubled quotes', () => {
    const t: MirrorTable = { schema: 's', name: 'we"ird Name', primaryKey: [], columns: new Map(), lagMs: null, appliedLsn: null };
    const mirror: MirrorView = { tables: new Map([['s.we"ird Name', t]]) };
    expect(mentionsMirroredTable('SELECT * FROM s."we""ird Name"', mirror)).toBe(true);
    expect(mentionsMirroredTable('SELECT * FROM s.weird', mirror)).toBe(false);
  });

  test('a large mirror is matched by identifier tokens: no false positive on longer names', () => {
    const tables = new Map<string, MirrorTable>();
    for (let i = 0; i < 100; i++) tables.set(`public.t${i}`, { schema: 'public', name: `t${i}`, primaryKey: [], columns: new Map(), lagMs: null, appliedLsn: null });
    tables.set('public.events', { schema: 'public', name: 'events', primaryKey: [], columns: new Map(), lagMs: null, appliedLsn: null });
    const big: MirrorView = { tables };
    expect(mentionsMirroredTable('SELECT * FROM myevents JOIN t1000 USING (id)', big)).toBe(false);
    expect(mentionsMirroredTable('SELECT * FROM "public"."EVENTS"', big)).toBe(true);
    expect(mentionsMirroredTable('SELECT * FROM x.t42, y', big)).toBe(true);
    expect(mentionsMirroredTable('SELECT * FROM événements', big)).toBe(false);
  });

  test('tables added to the map in place are seen', () => {
    const tables = new Map<string, MirrorTable>();
    const mirror: MirrorView = { tables };
    expect(mentionsMirroredTable('SELECT * FROM late', mirror)).toBe(false);
    tables.set('public.late', { schema: 'public', name: 'late', primaryKey: [], columns: new Map(), lagMs: null, appliedLsn: null });
    expect(mentionsMirroredTable('SELECT * FROM late', mirror)).toBe(true);
  });
});

describe('statementFacts', () => {
  test('facts of an analytical statement', () => {
    const f = statementFacts(`SELECT d.tld, count(DISTINCT s.url), row_number() OVER () FROM scrape_pages s JOIN pg_catalog.pg_class c ON true, domains d WHERE s.fetch_ms::numeric > 3 GROUP BY 1 ORDER BY 2 LIMIT $1`);
    if ('error' in f) throw new Error(f.error);
    expect(f).toMatchObject({ readOnly: true, kind: 'SelectStmt', hasAggregate: true, hasWindow: true, hasGroupBy: true, hasDistinct: false, hasOrderBy: true, locking: false, limit: 'param' });
    expect(f.tables).toEqual([
      { schema: null, name: 'scrape_pages', catalog: null },
      { schema: 'pg_catalog', name: 'pg_class', catalog: null },
      { schema: null, name: 'domains', catalog: null },
    ]);
    expect(f.functions.sort()).toEqual(['count', 'row_number']);
    expect(f.types).toEqual(['numeric']);
  });
  test('errors', () => {
    expect(statementFacts('SELECT FROM WHERE')).toHaveProperty('error');
    expect(statementFacts('SELECT 1; SELECT 2')).toEqual({ error: '2 statements in one query' });
    expect(statementFacts('   ')).toEqual({ error: 'empty query' });
  });
  test('writes are not read-only', () => {
    for (const sql of ['INSERT INTO t VALUES (1)', 'WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x', 'SELECT 1 INTO t2', 'CREATE TABLE x (a int)', 'COPY t FROM STDIN']) {
      const f = statementFacts(sql);
      expect('error' in f ? f.error : f.readOnly, sql).toBe(false);
    }
  });
});

describe('bounded parsing (issue 9: a deeply nested statement overflowed the parser and left it damaged for everyone)', () => {
  const plus = (n: number) => `SELECT count(*) FROM cdx_records WHERE id > ${Array(n).fill('1').join('+')}`;
  const analytical = 'SELECT mimetype, count(*) FROM cdx_records GROUP BY mimetype';

  test('statements beyond the bounds go to Postgres unparsed, reason too_complex', () => {
    const before = routerStats();
    for (const sql of [
      plus(5000),
      `SELECT count(*) FROM cdx_records WHERE id > ${'('.repeat(300)}1${')'.repeat(300)}`,
      `SELECT count(*) FROM cdx_records WHERE ${'NOT '.repeat(2000)}is_revisit`,
      `SELECT count(*) FROM cdx_records WHERE id = ${Array(1200).fill('1::int').join('+')}`,
      // the lexer is quadratic on these (scan.l's comment start takes every operator character after it)
      `SELECT count(*) FROM cdx_records ${'/*'.repeat(20)}${'*/'.repeat(20)}`.repeat(1) + ` ${'/*'.repeat(40)} x ${'*/'.repeat(40)}`,
      `SELECT count(*) FROM cdx_records WHERE id = 1 ${'+-'.repeat(200)} 1`,
      `SELECT count(*) FROM cdx_records ${'/**/'.repeat(100)}`,
      `SELECT count(*) FROM cdx_records WHERE original = '${'x'.repeat(PARSE_LIMITS.maxLength)}'`,
    ]) {
      const r = route(sql, ctx());
      expect(r, sql.slice(0, 60)).toMatchObject({ engine: 'postgres', reason: 'too_complex' });
    }
    expect(routerStats().parses).toBe(before.parses);
    expect(routerStats().tooComplex).toBe(before.tooComplex + 8);
    expect(REASONS).toContain('too_complex');
  });

  test('a text beyond the length bound is decided at once and kept in no cache', () => {
    const big = `SELECT count(*) FROM cdx_records WHERE id IN (${'1,'.repeat(4 * 1024 * 1024)}1)`;
    const cached = routerStats().parseCacheSize;
    const t0 = performance.now();
    expect(route(big, ctx())).toMatchObject({ engine: 'postgres', reason: 'too_complex' });
    expect(route(`/* duckgate: explain */ ${big}`, ctx())).toMatchObject({ engine: 'explain', route: { engine: 'postgres', reason: 'too_complex' } });
    // 8 MiB each: the cache key and literal folding alone used to cost seconds
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(routerStats().parseCacheSize).toBe(cached);
  });

  test('within the bounds, large but ordinary statements are still parsed and routed', () => {
    expect(route(plus(900), ctx())).toMatchObject({ engine: 'duckdb' });
    const inList = `SELECT count(*) FROM cdx_records WHERE domain_id IN (${Array.from({ length: 5000 }, (_, i) => i).join(',')})`;
    expect(route(inList, ctx())).toMatchObject({ engine: 'duckdb' });
    // operators inside literals, quoted identifiers and comments are not syntax and do not count
    const quoted = `SELECT count(*) FROM cdx_records WHERE original <> '${'+ '.repeat(3000)}' AND urlkey <> E'\\'${'('.repeat(500)}' AND mimetype <> $x$${'- '.repeat(3000)}$x$ /* ${'+ '.repeat(3000)} /* nested */ */ -- ${'* '.repeat(3000)}`;
    expect(route(quoted, ctx())).toMatchObject({ engine: 'duckdb' });
    // a banner comment and short operator runs are ordinary
    expect(route(`/${'*'.repeat(120)}\n report \n${'*'.repeat(120)}/ SELECT count(*) FROM cdx_records WHERE length >= -1`, ctx())).toMatchObject({ engine: 'duckdb' });
  });

  test('a failure inside the parser discards the instance: later statements are parsed again', async () => {
    // Let statements past the bounds, as one the scan underestimates would be: 40 stack overflows inside
    // the WASM parser (~35 used to leave it answering "memory access out of bounds" to everything).
    const saved = { ...PARSE_LIMITS };
    Object.assign(PARSE_LIMITS, { maxNestingTokens: Infinity, maxBracketDepth: Infinity });
    try {
      const reloads = routerStats().parserReloads;
      for (let i = 0; i < 40; i++) {
        const r = statementFacts(plus(20_000 + i));
        expect('error' in r).toBe(true);
        await parserReady();
      }
      expect(routerStats().parserReloads).toBeGreaterThanOrEqual(reloads + 40);
    } finally {
      Object.assign(PARSE_LIMITS, saved);
    }
    expect(route(analytical, ctx())).toMatchObject({ engine: 'duckdb', reason: 'analytical' });
    const f = statementFacts(`${analytical} HAVING count(*) > 1`);
    expect('error' in f ? f.error : f.readOnly).toBe(true);
  });

  test('while the parser is being replaced, statements go to Postgres and the failure is not cached', async () => {
    const saved = { ...PARSE_LIMITS };
    Object.assign(PARSE_LIMITS, { maxNestingTokens: Infinity });
    try {
      statementFacts(plus(20_100));
    } finally {
      Object.assign(PARSE_LIMITS, saved);
    }
    const sql = 'SELECT project_id, sum(length) FROM cdx_records GROUP BY project_id';
    const during = statementFacts(sql);
    expect('error' in during && during.error).toMatch(/parser being reloaded/);
    await parserReady();
    const after = statementFacts(sql);
    expect('error' in after ? after.error : after.readOnly).toBe(true);
  });
});
