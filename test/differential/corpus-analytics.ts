// Corpus of analytical statements over the demo schema (src/demo/schema.ts), replayed through duckgate
// and straight against PostgreSQL by test/integration/differential-analytics.test.ts.
//
// Every statement has a deterministic result order (ORDER BY a unique key set, or one row), so the
// DataRows can be compared byte for byte. Each one says where duckgate must run it:
// - 'duckdb': the analytical path must answer it from the mirror (a silent fallback fails the test);
// - 'postgres': a construct the DuckDB engine refuses today (some to_char patterns, SELECT *
//   at top level, numeric division, ...) or the router keeps on Postgres; it must pass through intact.
// Statements are modelled on the seeds (performance summary per project, domain analysis, quality
// distribution, hourly events) and on what Metabase sends (date buckets, CAST(date_trunc ...) AS date,
// CAST(extract(dow ...) AS integer), quoted "public"."t"."c" references).

export type Where = 'duckdb' | 'postgres';

export interface AnalyticsCase {
  name: string;
  sql: string;
  expect: Where;
  /** for 'postgres': why duckgate does not (yet) answer it from DuckDB */
  why?: string;
  /** text parameter values: the statement then runs in the extended protocol only */
  params?: string[];
  /**
   * The same values in binary (Bind format 1), sent instead of the text ones in the extended-binary
   * mode, with these parameter types declared in Parse (binary values have no text to infer from)
   */
  binary?: { types: number[]; values: Array<Buffer | null> };
}

const cases: AnalyticsCase[] = [];
let section = '';
const group = (name: string): void => {
  section = name;
};
const d = (name: string, sql: string): void => {
  cases.push({ name: `${section}: ${name}`, sql, expect: 'duckdb' });
};
const p = (name: string, sql: string, why: string): void => {
  cases.push({ name: `${section}: ${name}`, sql, expect: 'postgres', why });
};

// ---- plain aggregates over each table ------------------------------------------------------------------
group('aggregate');
d('count users', 'SELECT count(*) FROM users');
d('count projects', 'SELECT count(*) FROM projects');
d('count domains', 'SELECT count(*) FROM domains');
d('count scrape_pages', 'SELECT count(*) FROM scrape_pages');
d('count content_analytics', 'SELECT count(*) FROM content_analytics');
d('count project_analytics', 'SELECT count(*) FROM project_analytics');
d('count cdx_records', 'SELECT count(*) FROM cdx_records');
d('count events', 'SELECT count(*) FROM events');
d('count columns with NULLs', 'SELECT count(*), count(full_name), count(country), count(last_login_at), count(api_key_hash) FROM users');
d('sum/min/max int4', 'SELECT sum(fetch_ms), min(fetch_ms), max(fetch_ms) FROM scrape_pages');
d('sum int2 (int8 in PG)', 'SELECT sum(status_code), sum(depth) FROM scrape_pages');
d('sum int8 (numeric in PG)', 'SELECT sum(length), sum(warc_offset) FROM cdx_records');
d('sum numeric(12,2)', 'SELECT sum(credits), min(credits), max(credits) FROM users');
d('avg int4 (numeric in PG)', 'SELECT avg(fetch_ms) FROM scrape_pages');
d('avg int2', 'SELECT avg(depth), avg(status_code) FROM scrape_pages');
d('avg int8', 'SELECT avg(length) FROM cdx_records');
d('avg numeric(5,2)', 'SELECT avg(quality_score) FROM content_analytics');
d('avg numeric(10,2)', 'SELECT avg(avg_fetch_ms) FROM project_analytics');
d('avg float8', 'SELECT avg(readability), avg(page_rank) FROM content_analytics, (SELECT avg(page_rank) AS page_rank FROM domains) d');
d('avg/min/max float4', 'SELECT avg(sentiment), min(sentiment), max(sentiment) FROM content_analytics');
p('sum float4', 'SELECT sum(sentiment) FROM content_analytics', 'sum(real) accumulates in float4 in Postgres, in double in DuckDB');
d('sum float8', 'SELECT sum(error_rate), min(error_rate), max(error_rate) FROM project_analytics');
d('stddev/variance', 'SELECT stddev_samp(readability), var_pop(readability), stddev(fetch_ms::float8) FROM content_analytics JOIN scrape_pages ON scrape_pages.id = content_analytics.page_id');
d('min/max text and varchar', 'SELECT min(urlkey), max(urlkey), min(mimetype), max(mimetype) FROM cdx_records');
d('min/max char(n)', 'SELECT min(digest), max(cdx_timestamp), min(country) FROM cdx_records, users');
d('min/max date, timestamp, timestamptz', 'SELECT min(archive_date), max(archive_date), min(captured_at), max(captured_at) FROM cdx_records');
d('min/max timestamptz', 'SELECT min(scraped_at), max(scraped_at) FROM scrape_pages');
d('min/max time', 'SELECT min(preferred_crawl_time), max(preferred_crawl_time) FROM projects');
d('bool_and/bool_or/every', 'SELECT bool_and(is_success), bool_or(is_success), every(depth < 6) FROM scrape_pages');
d('count distinct', 'SELECT count(DISTINCT domain_id), count(DISTINCT project_id), count(DISTINCT mimetype) FROM cdx_records');
d('count distinct text', 'SELECT count(DISTINCT event_type), count(DISTINCT user_agent) FROM events');
d('aggregate over empty filter', 'SELECT count(*), sum(length), avg(length), min(archive_date) FROM cdx_records WHERE length < 0');
d('integer arithmetic in aggregates', 'SELECT max(fetch_ms) - min(fetch_ms), count(*) % 7, count(*) / 3, max(depth) * 2 FROM scrape_pages');
p('sum(int4) divided by count', 'SELECT sum(fetch_ms) / count(*) FROM scrape_pages', 'division of sum() is refused (sum(int8) would be numeric)');
d('int division inside', 'SELECT sum(fetch_ms / 100), sum(content_length / 1024) FROM scrape_pages');

// ---- GROUP BY --------------------------------------------------------------------------------------------
group('group by');
d('status codes', 'SELECT status_code, count(*) FROM scrape_pages GROUP BY status_code ORDER BY status_code');
d('status codes desc by count', 'SELECT status_code, count(*) AS n FROM scrape_pages GROUP BY 1 ORDER BY n DESC, status_code');
d('mimetype stats', 'SELECT mimetype, count(*), sum(length), avg(length), min(length), max(length) FROM cdx_records GROUP BY mimetype ORDER BY mimetype');
d('tld', 'SELECT tld, count(*) AS domains, avg(page_rank) AS avg_rank FROM domains GROUP BY tld ORDER BY tld');
d('category with NULL group', 'SELECT category, count(*) FROM domains GROUP BY category ORDER BY category NULLS FIRST');
d('robots_allowed bool group', 'SELECT robots_allowed, count(*) FROM domains GROUP BY robots_allowed ORDER BY robots_allowed');
d('users by country char(2)', 'SELECT country, count(*), sum(credits) FROM users GROUP BY country ORDER BY country');
d('users active flag', 'SELECT is_active, count(*), avg(credits) FROM users GROUP BY is_active ORDER BY is_active');
d('project status', 'SELECT status, count(*), avg(crawl_depth), sum(max_pages) FROM projects GROUP BY status ORDER BY status');
d('crawl depth int2', 'SELECT crawl_depth, count(*) FROM projects GROUP BY crawl_depth ORDER BY crawl_depth DESC');
d('language', 'SELECT language, count(*), avg(word_count), avg(quality_score) FROM content_analytics GROUP BY language ORDER BY language NULLS LAST');
d('has_images', 'SELECT has_images, count(*), sum(image_count), avg(link_count) FROM content_analytics GROUP BY has_images ORDER BY has_images DESC');
d('event types', 'SELECT event_type, count(*), count(project_id) FROM events GROUP BY event_type ORDER BY event_type');
d('events per user top', 'SELECT user_id, count(*) AS n FROM events GROUP BY user_id ORDER BY n DESC, user_id LIMIT 15');
d('depth x success', 'SELECT depth, is_success, count(*) FROM scrape_pages GROUP BY depth, is_success ORDER BY depth, is_success');
d('revisits by mimetype', 'SELECT mimetype, is_revisit, count(*) FROM cdx_records GROUP BY 1, 2 ORDER BY 1, 2');
d('statuscode with NULLs', 'SELECT statuscode, count(*) FROM cdx_records GROUP BY statuscode ORDER BY statuscode NULLS FIRST');
d('content type varchar', 'SELECT content_type, count(*), avg(content_length) FROM scrape_pages GROUP BY content_type ORDER BY content_type');
d('project_analytics per project', 'SELECT project_id, sum(pages), sum(bytes), max(unique_domains) FROM project_analytics GROUP BY project_id ORDER BY project_id');
d('group by expression', 'SELECT fetch_ms / 500 AS bucket, count(*) FROM scrape_pages GROUP BY fetch_ms / 500 ORDER BY bucket');
d('group by CASE', "SELECT CASE WHEN status_code < 300 THEN 'ok' WHEN status_code < 400 THEN 'redirect' ELSE 'error' END AS cls, count(*) FROM scrape_pages GROUP BY 1 ORDER BY 1");
d('group by lower(text)', 'SELECT lower(event_type) AS t, count(*) FROM events GROUP BY 1 ORDER BY 1');
d('group by substring', 'SELECT substr(urlkey, 1, 3) AS prefix, count(*) FROM cdx_records GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20');
d('group by split_part', "SELECT split_part(mimetype, '/', 1) AS major, count(*) FROM cdx_records GROUP BY 1 ORDER BY 1");
d('group by length', 'SELECT length(name) AS len, count(*) FROM domains GROUP BY 1 ORDER BY 1');
d('group by uuid', 'SELECT session_id, count(*) FROM events GROUP BY session_id ORDER BY count(*) DESC, session_id LIMIT 10');
d('group by interval', 'SELECT schedule_interval, count(*) FROM projects GROUP BY schedule_interval ORDER BY schedule_interval NULLS FIRST');
d('group by time', 'SELECT preferred_crawl_time, count(*) FROM projects GROUP BY 1 ORDER BY 1 NULLS LAST');
d('group by bytea', 'SELECT api_key_hash IS NULL AS no_key, count(*) FROM users GROUP BY 1 ORDER BY 1');
d('group by date', 'SELECT first_seen, count(*) FROM domains GROUP BY first_seen ORDER BY count(*) DESC, first_seen LIMIT 10');
d('group by numeric', 'SELECT quality_score, count(*) FROM content_analytics GROUP BY quality_score ORDER BY count(*) DESC, quality_score NULLS FIRST LIMIT 10');
p('group by float8 cast to numeric', 'SELECT round(page_rank::numeric(20,10), 1) AS r, count(*) FROM domains GROUP BY 1 ORDER BY 1 NULLS FIRST', 'a float cast to numeric(p,s): Postgres rounds its 15-digit text (0.12345678905 → 0.1234567891), DuckDB its binary value (→ 0.1234567890)');
d('group by float4 sign', 'SELECT sign(sentiment) AS s, count(*) FROM content_analytics GROUP BY 1 ORDER BY 1 NULLS FIRST');
d('group by warc file', 'SELECT warc_filename, count(*), sum(length) FROM cdx_records GROUP BY warc_filename ORDER BY warc_filename LIMIT 20');

// ---- Metabase-style date buckets -------------------------------------------------------------------------
group('dates');
d('metabase month of date', 'SELECT date_trunc(\'month\', "public"."cdx_records"."archive_date") AS "archive_date", count(*) AS "count" FROM "public"."cdx_records" GROUP BY date_trunc(\'month\', "public"."cdx_records"."archive_date") ORDER BY date_trunc(\'month\', "public"."cdx_records"."archive_date") ASC');
d('metabase month as date', 'SELECT CAST(date_trunc(\'month\', "public"."cdx_records"."archive_date") AS date) AS "archive_date", count(*) AS "count" FROM "public"."cdx_records" GROUP BY CAST(date_trunc(\'month\', "public"."cdx_records"."archive_date") AS date) ORDER BY CAST(date_trunc(\'month\', "public"."cdx_records"."archive_date") AS date) ASC');
d('metabase week as date', 'SELECT CAST(date_trunc(\'week\', "public"."cdx_records"."archive_date") AS date) AS "archive_date", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC');
d('metabase quarter', 'SELECT date_trunc(\'quarter\', "public"."cdx_records"."archive_date") AS "archive_date", sum("public"."cdx_records"."length") AS "sum" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC');
d('metabase year', 'SELECT date_trunc(\'year\', "public"."cdx_records"."captured_at") AS "captured_at", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC');
d('metabase day of week', 'SELECT CAST(extract(dow FROM "public"."cdx_records"."archive_date") AS integer) AS "archive_date", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC');
d('metabase day of week timestamptz', 'SELECT CAST(extract(dow FROM "public"."events"."occurred_at") AS integer) AS "occurred_at", count(*) AS "count" FROM "public"."events" GROUP BY 1 ORDER BY 1 ASC');
d('metabase hour of day', 'SELECT CAST(extract(hour FROM "public"."events"."occurred_at") AS integer) AS "occurred_at", count(*) AS "count" FROM "public"."events" GROUP BY 1 ORDER BY 1 ASC');
d('metabase month of year', 'SELECT CAST(extract(month FROM "public"."scrape_pages"."scraped_at") AS integer) AS "scraped_at", count(*) AS "count" FROM "public"."scrape_pages" GROUP BY 1 ORDER BY 1 ASC');
d('metabase quarter of year', 'SELECT CAST(extract(quarter FROM "public"."cdx_records"."captured_at") AS integer) AS "captured_at", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC');
d('metabase day of month', 'SELECT CAST(extract(day FROM "public"."cdx_records"."archive_date") AS integer) AS "archive_date", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC');
d('metabase day of year', 'SELECT CAST(extract(doy FROM "public"."cdx_records"."archive_date") AS integer) AS "d", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT 10');
d('metabase week of year', 'SELECT CAST(extract(week FROM "public"."events"."occurred_at") AS integer) AS "w", count(*) AS "count" FROM "public"."events" GROUP BY 1 ORDER BY 1 ASC');
d('metabase month with filter', 'SELECT date_trunc(\'month\', "public"."scrape_pages"."scraped_at") AS "scraped_at", count(*) AS "count" FROM "public"."scrape_pages" WHERE "public"."scrape_pages"."is_success" = TRUE GROUP BY 1 ORDER BY 1 ASC');
d('metabase breakdown by two', 'SELECT "public"."cdx_records"."mimetype" AS "mimetype", CAST(date_trunc(\'month\', "public"."cdx_records"."archive_date") AS date) AS "archive_date", count(*) AS "count" FROM "public"."cdx_records" GROUP BY 1, 2 ORDER BY 1 ASC, 2 ASC');
d('metabase date range filter', 'SELECT CAST(date_trunc(\'day\', "public"."events"."occurred_at") AS date) AS "occurred_at", count(*) AS "count" FROM "public"."events" WHERE "public"."events"."occurred_at" >= timestamptz \'2024-03-01 00:00:00+00\' AND "public"."events"."occurred_at" < timestamptz \'2024-04-01 00:00:00+00\' GROUP BY 1 ORDER BY 1 ASC');
d('month of timestamptz', "SELECT date_trunc('month', scraped_at) AS m, count(*), avg(fetch_ms) FROM scrape_pages GROUP BY 1 ORDER BY 1");
d('week of timestamp', "SELECT date_trunc('week', captured_at) AS w, count(*) FROM cdx_records GROUP BY 1 ORDER BY 1");
d('day of timestamp', "SELECT date_trunc('day', captured_at) AS day, count(*) FROM cdx_records GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20");
d('hour of timestamptz', "SELECT date_trunc('hour', occurred_at) AS h, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20");
d('year of date', "SELECT date_trunc('year', first_seen) AS y, count(*) FROM domains GROUP BY 1 ORDER BY 1");
d('decade of date', "SELECT date_trunc('decade', first_seen) AS y, count(*) FROM domains GROUP BY 1 ORDER BY 1");
d('extract numeric fields', 'SELECT id, extract(year FROM archive_date), extract(month FROM captured_at), extract(isodow FROM archive_date), extract(doy FROM captured_at) FROM cdx_records ORDER BY id LIMIT 50');
// (extract of a time field from a date is Postgres's error 0A000: see capability-session.test.ts)
d('date_part of a time field from a date', "SELECT project_id, day, date_part('hour', day) AS h, extract(day FROM day) AS d FROM project_analytics ORDER BY project_id, day LIMIT 20");
d('greatest and least of intervals (compared as Postgres compares them)', "SELECT id, greatest(INTERVAL '1 day', schedule_interval * 5) AS g, least(schedule_interval, INTERVAL '30 hours', NULL) AS l FROM projects ORDER BY id");
d('greatest with NULLs and ties', 'SELECT id, greatest(crawl_depth, NULL, crawl_depth) AS g, least(NULL::int, NULL::int) AS n, greatest(id, crawl_depth * 10) AS h FROM projects ORDER BY id');
d('extract from timestamptz', 'SELECT id, extract(hour FROM scraped_at), extract(minute FROM scraped_at), extract(second FROM scraped_at) FROM scrape_pages ORDER BY id LIMIT 50');
d('extract milliseconds', 'SELECT id, extract(milliseconds FROM occurred_at) FROM events ORDER BY id LIMIT 40');
d('extract isoyear/week', 'SELECT extract(isoyear FROM archive_date) AS y, extract(week FROM archive_date) AS w, count(*) FROM cdx_records GROUP BY 1, 2 ORDER BY 1, 2');
d('date_part float8', "SELECT date_part('year', archive_date) AS y, date_part('month', archive_date) AS m, count(*) FROM cdx_records GROUP BY 1, 2 ORDER BY 1, 2");
d('date_part dow of timestamptz', "SELECT date_part('dow', occurred_at) AS dow, count(*) FROM events GROUP BY 1 ORDER BY 1");
d('date comparisons', "SELECT count(*) FROM cdx_records WHERE archive_date BETWEEN date '2024-01-01' AND date '2024-06-30'");
d('timestamp comparisons', "SELECT count(*), min(captured_at) FROM cdx_records WHERE captured_at >= timestamp '2024-02-29 00:00:00'");
d('date minus date', 'SELECT max(archive_date) - min(archive_date) FROM cdx_records');
d('date buckets by year and month', 'SELECT extract(year FROM archive_date) AS y, extract(month FROM archive_date) AS m, count(*), sum(length) FROM cdx_records GROUP BY 1, 2 ORDER BY 1, 2');
d('project_analytics daily to monthly', "SELECT CAST(date_trunc('month', day) AS date) AS month, sum(pages), sum(bytes), avg(error_rate) FROM project_analytics GROUP BY 1 ORDER BY 1");
d('first_seen per category', 'SELECT category, min(first_seen), max(first_seen) FROM domains GROUP BY category ORDER BY category NULLS FIRST');
d('last login timestamp', "SELECT date_trunc('month', last_login_at) AS m, count(*) FROM users GROUP BY 1 ORDER BY 1 NULLS FIRST");
d('to_char month', "SELECT to_char(archive_date, 'YYYY-MM') AS m, count(*) FROM cdx_records GROUP BY 1 ORDER BY 1");
d('to_char timestamp patterns', "SELECT id, to_char(captured_at, 'YYYY-MM-DD HH24:MI:SS'), to_char(captured_at, 'Mon DD, YYYY'), to_char(captured_at, 'Month|Day|Dy'), to_char(captured_at, 'FMMonth FMDay') FROM cdx_records ORDER BY id LIMIT 60");
d('to_char timestamptz in the session zone', "SELECT id, to_char(occurred_at, 'YYYY-MM-DD HH24:MI:SS'), to_char(occurred_at, 'Day DD Month YYYY') FROM events ORDER BY id LIMIT 60");
d('to_char date with time fields', "SELECT id, to_char(archive_date, 'YYYY/MM/DD HH24.MI.SS'), to_char(archive_date, 'Dy, DD Mon YYYY') FROM cdx_records ORDER BY id LIMIT 40");
d('to_char weekday buckets', "SELECT to_char(occurred_at, 'Day') AS weekday, count(*) FROM events GROUP BY 1 ORDER BY 1");
p('to_char unsupported pattern', "SELECT to_char(captured_at, 'YYYY-DDD HH12 AM') FROM cdx_records ORDER BY id LIMIT 5", 'to_char patterns beyond YYYY MM DD HH24 MI SS Mon Month Day Dy are not translated');
d('generate_series date spine', "SELECT g::date AS day, count(c.id) FROM generate_series(date '2024-01-01', date '2024-01-31', interval '1 day') g LEFT JOIN cdx_records c ON c.archive_date = g::date GROUP BY 1 ORDER BY 1");
d('generate_series timestamptz values', "SELECT g, count(e.id) FROM generate_series(timestamptz '2024-03-01 00:00:00+00', timestamptz '2024-03-15 00:00:00+00', interval '12 hours') g LEFT JOIN events e ON e.occurred_at >= g AND e.occurred_at < g + interval '12 hours' GROUP BY g ORDER BY g");
d('generate_series month spine with column alias', "SELECT m.d, count(c.id) AS captures FROM generate_series(date '2023-01-01', date '2024-12-01', interval '1 month') AS m(d) LEFT JOIN cdx_records c ON date_trunc('month', c.archive_date) = m.d GROUP BY m.d ORDER BY m.d");
d('generate_series timestamp hours', "SELECT h, count(c.id) FROM generate_series(timestamp '2024-01-01 00:00:00', timestamp '2024-01-03 00:00:00', interval '6 hours') h LEFT JOIN cdx_records c ON date_trunc('hour', c.captured_at) = h GROUP BY h ORDER BY h");
d('generate_series integers', 'SELECT n, count(s.id) FROM generate_series(0, 5) n LEFT JOIN scrape_pages s ON s.depth = n GROUP BY n ORDER BY n');
p('generate_series untyped literals', "SELECT count(*) FROM generate_series('2024-01-01', '2024-01-05', interval '1 day') g", 'generate_series over untyped literals: the variant Postgres picks is not written out');
// now(), current_date, localtimestamp: read from the session's Postgres clock. Only in predicates with
// wide margins: the two runs happen moments apart, so the values themselves differ.
d('now() relative window', "SELECT count(*) FROM events WHERE occurred_at > now() - interval '100 years'");
d('Metabase relative date filter', "SELECT CAST(date_trunc('month', occurred_at) AS date) AS occurred_at, count(*) AS count FROM events WHERE occurred_at >= CAST((CAST(now() AS timestamp) + INTERVAL '-30 year') AS date) AND occurred_at < CAST(CAST(now() AS timestamp) AS date) GROUP BY 1 ORDER BY 1 ASC");
d('current_date and localtimestamp bounds', "SELECT count(*) FILTER (WHERE archive_date <= current_date), count(*) FILTER (WHERE captured_at < localtimestamp), count(*) FILTER (WHERE captured_at > current_timestamp) FROM cdx_records");
d('date_trunc of now() as a bound', "SELECT event_type, count(*) FROM events WHERE occurred_at < date_trunc('year', now()) + interval '1 year' GROUP BY event_type ORDER BY event_type");
p('current_timestamp with precision', 'SELECT count(*) FROM events WHERE occurred_at < current_timestamp(0)', 'current_timestamp(p) rounds: not translated');
p('date_trunc century', "SELECT date_trunc('century', occurred_at), count(*) FROM events GROUP BY 1 ORDER BY 1", "Postgres's centuries start in year 1, DuckDB's in year 0");
d('extract epoch', 'SELECT extract(epoch FROM captured_at) AS e, id FROM cdx_records ORDER BY id LIMIT 10');
p('date_trunc with time zone', "SELECT date_trunc('day', scraped_at, 'Europe/Paris') AS d, count(*) FROM scrape_pages GROUP BY 1 ORDER BY 1", 'date_trunc with a zone argument is not translated');
p('age()', "SELECT id, age(timestamp '2025-01-01', captured_at) FROM cdx_records ORDER BY id LIMIT 5", 'age() is not translated');
d('date plus integer', 'SELECT id, archive_date + 7, archive_date - 1 FROM cdx_records ORDER BY id LIMIT 30');

// ---- joins ---------------------------------------------------------------------------------------------
group('join');
d('pages per project name', 'SELECT p.name, count(*) AS pages FROM scrape_pages s JOIN projects p ON p.id = s.project_id GROUP BY p.name ORDER BY pages DESC, p.name');
d('pages per project and owner', 'SELECT u.email, p.name, count(s.id) FROM users u JOIN projects p ON p.user_id = u.id JOIN scrape_pages s ON s.project_id = p.id GROUP BY u.email, p.name ORDER BY u.email, p.name');
d('left join keeps empty projects', 'SELECT p.id, count(c.id) FROM projects p LEFT JOIN cdx_records c ON c.project_id = p.id GROUP BY p.id ORDER BY p.id');
d('right join', 'SELECT p.id, count(s.id) FROM scrape_pages s RIGHT JOIN projects p ON p.id = s.project_id GROUP BY p.id ORDER BY p.id');
d('full join on aggregates', 'SELECT coalesce(a.project_id, b.project_id) AS project_id, a.n AS pages, b.n AS captures FROM (SELECT project_id, count(*) AS n FROM scrape_pages GROUP BY project_id) a FULL JOIN (SELECT project_id, count(*) AS n FROM cdx_records GROUP BY project_id) b ON a.project_id = b.project_id ORDER BY 1 NULLS FIRST');
d('join domains tld', 'SELECT d.tld, count(*), sum(c.length) FROM cdx_records c JOIN domains d ON d.id = c.domain_id GROUP BY d.tld ORDER BY d.tld');
d('join domains category quality', 'SELECT d.category, avg(ca.quality_score) AS q, count(*) FROM content_analytics ca JOIN scrape_pages s ON s.id = ca.page_id JOIN domains d ON d.id = s.domain_id GROUP BY d.category ORDER BY d.category NULLS FIRST');
d('join USING', 'SELECT project_id, count(*) FROM scrape_pages JOIN content_analytics USING (project_id) WHERE scrape_pages.id = content_analytics.page_id GROUP BY project_id ORDER BY project_id');
d('join events users plan', 'SELECT u.country, count(e.id) FROM events e JOIN users u ON u.id = e.user_id GROUP BY u.country ORDER BY u.country NULLS FIRST');
d('join three tables with filter', "SELECT p.status, d.tld, count(*) FROM scrape_pages s JOIN projects p ON p.id = s.project_id JOIN domains d ON d.id = s.domain_id WHERE s.status_code = 200 GROUP BY 1, 2 ORDER BY 1, 2");
d('cross join small', 'SELECT count(*) FROM projects CROSS JOIN (SELECT DISTINCT status FROM projects) s');
d('self join projects same owner', 'SELECT a.user_id, count(*) FROM projects a JOIN projects b ON a.user_id = b.user_id AND a.id < b.id GROUP BY a.user_id ORDER BY a.user_id');
d('join on inequality', 'SELECT s.depth, count(*) FROM scrape_pages s JOIN projects p ON p.id = s.project_id AND s.depth <= p.crawl_depth GROUP BY s.depth ORDER BY s.depth');
d('join with selected columns', 'SELECT s.id, s.url, d.name, s.status_code FROM scrape_pages s JOIN domains d ON d.id = s.domain_id ORDER BY s.id LIMIT 60');
d('join timestamps across tables', 'SELECT s.id, s.scraped_at, ca.analyzed_at FROM scrape_pages s JOIN content_analytics ca ON ca.page_id = s.id ORDER BY s.id LIMIT 40');
d('join event user emails', 'SELECT u.email, count(*) AS n, min(e.occurred_at) AS first_event FROM events e JOIN users u ON u.id = e.user_id GROUP BY u.email ORDER BY n DESC, u.email LIMIT 25');
d('left join null side aggregated', 'SELECT u.plan IS NOT NULL AS has_plan, count(p.id) FROM users u LEFT JOIN projects p ON p.user_id = u.id GROUP BY 1 ORDER BY 1');
d('join revisits per domain', 'SELECT d.name, sum(CASE WHEN c.is_revisit THEN 1 ELSE 0 END) AS revisits, count(*) AS total FROM cdx_records c JOIN domains d ON d.id = c.domain_id GROUP BY d.name ORDER BY total DESC, d.name LIMIT 20');
d('join project_analytics projects', 'SELECT p.status, sum(pa.pages), avg(pa.avg_fetch_ms) FROM project_analytics pa JOIN projects p ON p.id = pa.project_id GROUP BY p.status ORDER BY p.status');
p('natural join', 'SELECT count(*) FROM scrape_pages NATURAL JOIN content_analytics', 'NATURAL JOIN is not translated');
p('lateral', 'SELECT p.id, l.n FROM projects p, LATERAL (SELECT count(*) AS n FROM scrape_pages s WHERE s.project_id = p.id) l ORDER BY p.id', 'LATERAL is not translated');

// ---- window functions ----------------------------------------------------------------------------------
group('window');
d('row_number per project', 'SELECT id, project_id, row_number() OVER (PARTITION BY project_id ORDER BY scraped_at, id) AS rn FROM scrape_pages ORDER BY id LIMIT 100');
d('rank by fetch time', 'SELECT id, status_code, rank() OVER (PARTITION BY status_code ORDER BY fetch_ms DESC, id) FROM scrape_pages ORDER BY id');
d('dense_rank by length', 'SELECT id, dense_rank() OVER (ORDER BY length DESC) AS r FROM cdx_records ORDER BY id LIMIT 100');
d('running count over months', "SELECT m, n, count(*) OVER (ORDER BY m) AS k, max(n) OVER (ORDER BY m) AS peak FROM (SELECT date_trunc('month', archive_date) AS m, count(*) AS n FROM cdx_records GROUP BY 1) t ORDER BY m");
d('running total over months', "SELECT m, n, sum(n) OVER (ORDER BY m) AS running FROM (SELECT date_trunc('month', archive_date) AS m, count(*) AS n FROM cdx_records GROUP BY 1) t ORDER BY m");
d('running total of int8 per domain', 'SELECT id, domain_id, sum(length) OVER (PARTITION BY domain_id ORDER BY id) AS running FROM cdx_records ORDER BY id LIMIT 200');
d('month over month with a CTE sum', "WITH monthly AS (SELECT date_trunc('month', captured_at) AS month, count(*) AS captures, sum(length) AS bytes FROM cdx_records GROUP BY 1) SELECT month, captures, captures - lag(captures) OVER (ORDER BY month) AS change, bytes, bytes - lag(bytes) OVER (ORDER BY month) AS byte_change FROM monthly ORDER BY month");
d('integer arithmetic over sum(int8)', 'SELECT domain_id, sum(length) * 2 - min(length), abs(-sum(warc_offset)), greatest(sum(length), 0) FROM cdx_records GROUP BY domain_id ORDER BY domain_id LIMIT 40');
d('coalesce of an empty sum(int8)', 'SELECT coalesce(sum(length), 0), coalesce(sum(length), -1) + 1 FROM cdx_records WHERE length < 0');
p('CTE sum(int8) divided', 'WITH m AS (SELECT domain_id, sum(length) AS b FROM cdx_records GROUP BY 1) SELECT domain_id, b / 2 FROM m ORDER BY 1 LIMIT 20', 'a division over a CTE column that may be sum(int8): numeric division in Postgres, integer division in DuckDB');
d('lag/lead monthly', "SELECT m, n, lag(n) OVER (ORDER BY m) AS prev, lead(n, 1) OVER (ORDER BY m) AS next FROM (SELECT CAST(date_trunc('month', scraped_at) AS date) AS m, count(*) AS n FROM scrape_pages GROUP BY 1) t ORDER BY m");
d('ntile', 'SELECT id, ntile(4) OVER (ORDER BY fetch_ms, id) AS q FROM scrape_pages ORDER BY id');
d('first_value/last_value', 'SELECT id, first_value(status_code) OVER (PARTITION BY project_id ORDER BY id) AS f, last_value(id) OVER (PARTITION BY project_id ORDER BY id) AS l FROM scrape_pages ORDER BY id LIMIT 80');
d('percent_rank/cume_dist', 'SELECT page_id, percent_rank() OVER (ORDER BY quality_score), cume_dist() OVER (ORDER BY quality_score) FROM content_analytics ORDER BY page_id');
d('count over partition', 'SELECT id, count(*) OVER (PARTITION BY domain_id) AS per_domain FROM cdx_records ORDER BY id LIMIT 100');
d('sum over partition without order', 'SELECT project_id, day, pages, sum(pages) OVER (PARTITION BY project_id) AS total FROM project_analytics WHERE day < date \'2023-01-08\' ORDER BY project_id, day');
d('avg over partition float8', 'SELECT page_id, avg(readability) OVER (PARTITION BY language) FROM content_analytics ORDER BY page_id LIMIT 50');
p('avg over partition int', 'SELECT id, avg(fetch_ms) OVER (PARTITION BY depth) FROM scrape_pages ORDER BY id LIMIT 50', 'window avg(int) is numeric in Postgres, DOUBLE in DuckDB');
d('window on aggregate', 'SELECT tld, count(*) AS n, rank() OVER (ORDER BY count(*) DESC, tld) AS r FROM domains GROUP BY tld ORDER BY r');
d('top 3 per group via row_number', 'SELECT domain_id, id, length, rn FROM (SELECT domain_id, id, length, row_number() OVER (PARTITION BY domain_id ORDER BY length DESC, id) AS rn FROM cdx_records) t WHERE rn <= 3 AND domain_id <= 20 ORDER BY domain_id, rn');
d('nth_value', 'SELECT project_id, id, nth_value(id, 2) OVER (PARTITION BY project_id ORDER BY id) FROM scrape_pages ORDER BY id LIMIT 60');
d('lag with default', 'SELECT id, lag(fetch_ms, 2, 0) OVER (ORDER BY id) FROM scrape_pages ORDER BY id LIMIT 60');
d('running sum of float', 'SELECT page_id, sum(readability) OVER (ORDER BY page_id) FROM content_analytics ORDER BY page_id LIMIT 60');
d('window over timestamptz order', 'SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY occurred_at, id) FROM events ORDER BY id LIMIT 100');
d('window frame ROWS', 'SELECT id, sum(fetch_ms) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM scrape_pages ORDER BY id');
d('window frames moving and centred', 'SELECT id, sum(length) OVER (PARTITION BY domain_id ORDER BY id ROWS 3 PRECEDING) AS s3, min(length) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS m, count(*) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 4 FOLLOWING) AS c, last_value(id) OVER (PARTITION BY domain_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS l FROM cdx_records ORDER BY id LIMIT 300');
d('window frame RANGE unbounded', 'SELECT id, max(fetch_ms) OVER (PARTITION BY project_id ORDER BY depth RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING), first_value(id) OVER (PARTITION BY project_id ORDER BY depth, id RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM scrape_pages ORDER BY id');
d('seven-day moving average of daily counts', "SELECT day, n, sum(n) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS week FROM (SELECT archive_date AS day, count(*) AS n FROM cdx_records GROUP BY 1) t ORDER BY day");
d('window frame RANGE offset', 'SELECT id, count(*) OVER (ORDER BY fetch_ms RANGE BETWEEN 10 PRECEDING AND CURRENT ROW) FROM scrape_pages ORDER BY id');
d('window frame EXCLUDE', 'SELECT id, sum(fetch_ms) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) FROM scrape_pages ORDER BY id');
p('named window', 'SELECT id, rank() OVER w FROM scrape_pages WINDOW w AS (ORDER BY fetch_ms, id) ORDER BY id', 'named windows are not translated');

// ---- window function arguments (issue 10, class 3): lag/lead defaults are anycompatible with the value
// (their common type is the result; the default keeps its own numeric scale), nth_value/ntile positions
group('window arguments');
d('lag/lead integer defaults', 'SELECT id, lag(fetch_ms, 1, 0) OVER (ORDER BY id) AS prev, lead(fetch_ms, 2, -1) OVER (PARTITION BY project_id ORDER BY id) AS next2 FROM scrape_pages ORDER BY id');
d('lag default read on the current row', 'SELECT id, lag(id, 1, project_id) OVER (PARTITION BY domain_id ORDER BY id) AS prev_or_project, lead(status_code, 1, depth) OVER (PARTITION BY domain_id ORDER BY id) AS next_or_depth FROM scrape_pages ORDER BY id');
d('lag/lead offsets from a column, negative and NULL', 'SELECT id, lag(id, depth) OVER (ORDER BY id) AS back_depth, lag(id, -1) OVER (ORDER BY id) AS fwd, lead(id, -2, 0) OVER (ORDER BY id) AS back2, lag(id, NULL, 0) OVER (ORDER BY id) AS null_offset, lead(id, depth - 2, -id) OVER (PARTITION BY project_id ORDER BY id) AS signed FROM scrape_pages ORDER BY id');
d('lag text, date and timestamptz defaults', "SELECT id, lag(url, 1, 'none') OVER (ORDER BY id), lead(scraped_at, 1, '2020-01-01 00:00:00+00') OVER (ORDER BY id), lag(scraped_at::date, 3, date '2000-01-01') OVER (ORDER BY id) FROM scrape_pages ORDER BY id LIMIT 60");
d('lag float defaults', 'SELECT page_id, lead(readability, 1, 0) OVER (ORDER BY page_id) AS r, lag(readability, 2, 0.5) OVER (ORDER BY page_id) AS r2 FROM content_analytics ORDER BY page_id');
p('lag float4 with an integer default', 'SELECT page_id, lag(sentiment, 1, 0) OVER (ORDER BY page_id) AS s FROM content_analytics ORDER BY page_id', 'the float4 typing pass (float4.ts) does not type a window default of another numeric type: refused');
d('numeric default below the top level compares as numeric', 'SELECT count(*) FILTER (WHERE x < 1) AS below_one, count(*) FILTER (WHERE x = 0.7) AS defaults FROM (SELECT lag(depth, 1, 0.7) OVER (ORDER BY id) AS x FROM scrape_pages) s');
d('bigint and integer default', 'SELECT id, lag(length, 1, 0) OVER (ORDER BY id), lead(domain_id, 1, length) OVER (ORDER BY id) FROM cdx_records ORDER BY id LIMIT 100');
p('lag numeric(5,2) with an integer default', 'SELECT page_id, lag(quality_score, 1, 0) OVER (ORDER BY page_id) FROM content_analytics ORDER BY page_id', 'the default keeps its own numeric scale in Postgres (0, not 0.00)');
p('lag integer with a numeric default', 'SELECT id, lag(depth, 1, 0.7) OVER (ORDER BY id) FROM scrape_pages ORDER BY id', 'the result is numeric: the values keep scale 0, the default scale 1');
p('lead numeric default summed', 'SELECT sum(x) FROM (SELECT lead(credits, 1, 0) OVER (ORDER BY id) AS x FROM users WHERE id > 190) s', 'a numeric of varying scale below the top level');
d('nth_value positions from a column', 'SELECT id, nth_value(id, depth + 1) OVER (PARTITION BY project_id ORDER BY id) AS nth, nth_value(url, NULL::int) OVER (ORDER BY id) AS none FROM scrape_pages ORDER BY id');
p('nth_value of position 0', 'SELECT id, nth_value(id, 0) OVER (ORDER BY id) FROM scrape_pages ORDER BY id', "Postgres raises 22016 (argument of nth_value must be greater than zero): DuckDB raises too, and Postgres answers");
p('nth_value of a position that is 0 on some rows', 'SELECT id, nth_value(id, depth) OVER (PARTITION BY project_id ORDER BY id) FROM scrape_pages ORDER BY id', 'Postgres raises 22016 on the first such row');
p('nth_value of a negative position', 'SELECT id, nth_value(id, -1) OVER (ORDER BY id) FROM scrape_pages ORDER BY id', 'Postgres raises 22016');
d('ntile of constants', 'SELECT id, ntile(1) OVER (ORDER BY id) AS one, ntile(3) OVER (PARTITION BY project_id ORDER BY id) AS three, ntile(1000) OVER (ORDER BY fetch_ms, id) AS many, ntile(NULL::int) OVER (ORDER BY id) AS none FROM scrape_pages ORDER BY id');
p('ntile(0)', 'SELECT id, ntile(0) OVER (ORDER BY id) FROM scrape_pages ORDER BY id', 'Postgres raises 22014 (argument of ntile must be greater than zero)');
p('ntile(-1)', 'SELECT id, ntile(-1) OVER (ORDER BY id) FROM scrape_pages ORDER BY id', 'Postgres raises 22014');
p('ntile of a column', 'SELECT id, ntile(depth + 1) OVER (PARTITION BY project_id ORDER BY id) FROM scrape_pages ORDER BY id', "Postgres reads the bucket count on a partition's first row only");
cases.push({ name: 'window arguments: ntile and lag offsets from parameters', sql: 'SELECT id, ntile($1) OVER (ORDER BY id), lag(id, $2, 0) OVER (ORDER BY id) FROM scrape_pages ORDER BY id LIMIT 50', expect: 'duckdb', params: ['7', '3'] });

// ---- whole-row values (issue 10, class 4): Postgres's row of a null-extended outer-join row is NULL
group('whole-row');
p('count(t.*) over an outer join', 'SELECT p.id, count(s.*) FROM projects p LEFT JOIN scrape_pages s ON s.project_id = p.id AND s.depth > 4 GROUP BY p.id ORDER BY p.id', 'a whole-row value: NULL for a null-extended row in Postgres, a struct of NULLs in DuckDB');
p('count(t) over an outer join', 'SELECT p.id, count(s) FROM projects p LEFT JOIN scrape_pages s ON s.project_id = p.id AND s.depth > 4 GROUP BY p.id ORDER BY p.id', 'a whole-row reference');
p('t.* IS NULL', 'SELECT count(*) FILTER (WHERE s.* IS NULL) AS missing, count(*) FILTER (WHERE s.* IS NOT NULL) AS full FROM projects p LEFT JOIN scrape_pages s ON s.project_id = p.id', 'a whole-row value');
p('t IS NULL over a full join', 'SELECT count(*) FILTER (WHERE a IS NULL), count(*) FILTER (WHERE b IS NULL) FROM (SELECT project_id FROM scrape_pages WHERE depth = 0) a FULL JOIN (SELECT project_id FROM cdx_records WHERE statuscode = 404) b ON a.project_id = b.project_id', 'a whole-row reference to a subquery');
p('count(ROW(...))', 'SELECT count(ROW(s.id, s.url)) FROM projects p LEFT JOIN scrape_pages s ON s.project_id = p.id', 'ROW constructors are not translated');
p('row comparison', 'SELECT count(*) FROM scrape_pages WHERE (depth, fetch_ms) > (2, 100)', 'row comparisons are not translated');
d('count of a key column over an outer join', 'SELECT p.id, count(s.id), count(s.content_length) FROM projects p LEFT JOIN scrape_pages s ON s.project_id = p.id AND s.depth > 4 GROUP BY p.id ORDER BY p.id');
d('t.* expansions in a subquery and a join', 'SELECT x.id, x.url, d.name FROM (SELECT s.* FROM scrape_pages s WHERE s.depth = 1) x JOIN domains d ON d.id = x.domain_id ORDER BY x.id');
d('USING column of a full join is the coalesce of both', 'SELECT project_id, count(*) FROM (SELECT project_id FROM scrape_pages WHERE depth = 0) a FULL JOIN (SELECT project_id FROM cdx_records WHERE statuscode = 404) b USING (project_id) GROUP BY 1 ORDER BY 1 NULLS FIRST');
d('USING column of a right join is the right side', 'SELECT project_id, count(a.project_id) FROM (SELECT project_id FROM scrape_pages WHERE depth = 0 AND project_id < 20) a RIGHT JOIN (SELECT id AS project_id FROM projects) b USING (project_id) GROUP BY 1 ORDER BY 1');
d('a function alias is its column', 'SELECT count(g), sum(g), count(p.id) FROM generate_series(1, 10) g LEFT JOIN projects p ON p.crawl_depth = g');

// ---- outer-level aggregates (issue 10, class 5): an aggregate whose arguments are outer columns only
// belongs to the outer query (SQL standard; parse_agg.c check_agg_arguments)
group('outer aggregate');
p('max of a correlated scalar subquery', 'SELECT (SELECT max((SELECT i.fetch_ms FROM scrape_pages i WHERE i.id = o.id))) FROM scrape_pages o', 'an outer-level aggregate: one row in Postgres, computed over all of o');
p('max of an outer column', 'SELECT (SELECT max(o.fetch_ms)) FROM scrape_pages o', 'an outer-level aggregate');
p('sum of an outer column in a subquery with FROM', 'SELECT p.id, (SELECT sum(p.max_pages) FROM domains d WHERE d.id = p.id) FROM projects p GROUP BY p.id ORDER BY p.id', 'an outer-level aggregate (of the grouped outer query)');
p('outer aggregate with an inner FILTER on outer columns', 'SELECT (SELECT count(o.id) FILTER (WHERE o.depth > 2) FROM domains d WHERE d.id = 1) FROM scrape_pages o', 'an outer-level aggregate');
p('outer aggregate two levels down', 'SELECT p.status, (SELECT (SELECT max(p.crawl_depth) FROM users u WHERE u.id = 1) FROM domains d WHERE d.id = 1) FROM projects p GROUP BY p.status ORDER BY p.status', 'an outer-level aggregate two levels down');
d('aggregate of the subquery own columns', 'SELECT o.id, (SELECT max(i.fetch_ms) FROM scrape_pages i WHERE i.project_id = o.id) AS slowest, (SELECT max(fetch_ms) FROM scrape_pages i WHERE i.project_id = o.id) AS bare FROM projects o ORDER BY o.id');
d('aggregate mixing inner and outer columns', 'SELECT o.id, (SELECT max(i.fetch_ms + o.crawl_depth) FROM scrape_pages i WHERE i.project_id = o.id) FROM projects o ORDER BY o.id');
d('outer column with an inner FILTER is inner', 'SELECT o.id, (SELECT count(o.id) FILTER (WHERE i.depth > 2) FROM scrape_pages i WHERE i.project_id = o.id) FROM projects o ORDER BY o.id');
d('a subquery column named by Postgres, not by DuckDB', 'SELECT o.id, (SELECT max(depth) FROM (SELECT depth::int8 FROM scrape_pages i WHERE i.project_id = o.project_id) s) AS deepest, (SELECT min(status_code) FROM (SELECT status_code::int4 FROM scrape_pages i WHERE i.domain_id = o.domain_id AND i.depth > o.depth) s) AS lowest FROM scrape_pages o ORDER BY o.id');
p('implicit names of a FROM subquery', 'SELECT count, max, coalesce, "case" FROM (SELECT count(*), max(fetch_ms), coalesce(min(content_length), -1), CASE WHEN depth > 2 THEN 1 ELSE 0 END FROM scrape_pages GROUP BY 4) s ORDER BY 4', "the router's column check does not know a subquery's implicit column names");
d('correlated count(*)', 'SELECT o.id, (SELECT count(*) FROM cdx_records c WHERE c.project_id = o.id AND c.is_revisit) FROM projects o ORDER BY o.id');

// ---- row order (issue 10, class 12): every statement with a total ORDER BY gives Postgres's order
group('order');
d('NULLs last ascending, first descending by default', 'SELECT id, content_length FROM scrape_pages ORDER BY content_length, id LIMIT 80');
d('NULLs first descending by default', 'SELECT id, content_length FROM scrape_pages ORDER BY content_length DESC, id LIMIT 80');
d('explicit NULLS FIRST/LAST both ways', 'SELECT id, category, page_rank FROM domains ORDER BY category ASC NULLS FIRST, page_rank DESC NULLS LAST, id DESC LIMIT 120');
d('NULLs in a window order and partition', 'SELECT id, row_number() OVER (ORDER BY content_length DESC, id) AS r, rank() OVER (PARTITION BY content_type ORDER BY content_length NULLS FIRST, id) AS k FROM scrape_pages ORDER BY id');
d('NULLs in an aggregate order', 'SELECT project_id, array_agg(content_length ORDER BY content_length DESC, id) AS d, array_agg(content_length ORDER BY content_length, id) AS a FROM scrape_pages GROUP BY project_id ORDER BY project_id');
d('text in byte order (C collation)', 'SELECT id, full_name FROM users ORDER BY full_name DESC NULLS LAST, id LIMIT 80');
d('char(n) and varchar order', 'SELECT id, country, email FROM users ORDER BY country NULLS FIRST, email DESC');
d('an output alias shadows an input column', 'SELECT -fetch_ms AS id, id AS x FROM scrape_pages ORDER BY id, x');
d('an expression reads the input column, not the alias', 'SELECT -fetch_ms AS id, id AS x FROM scrape_pages ORDER BY -id');
d('GROUP BY a name that is an input column and an alias', 'SELECT depth % 2 AS depth, count(*) AS n FROM scrape_pages GROUP BY depth ORDER BY 1, 2');
d('ORDER BY positions', 'SELECT status_code, depth, count(*) FROM scrape_pages GROUP BY 1, 2 ORDER BY 2 DESC, 1');
d('ORDER BY an aggregate not in the list', 'SELECT tld FROM domains GROUP BY tld ORDER BY count(*) DESC, max(page_rank) NULLS FIRST, tld');
d('DISTINCT ordered by an alias', 'SELECT DISTINCT depth AS d, is_success FROM scrape_pages ORDER BY d DESC, is_success');
d('float NaN, infinities and -0 ascending', "SELECT id, x FROM (SELECT id, CASE id % 7 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-0'::float8 WHEN 2 THEN 0::float8 WHEN 3 THEN 'Infinity'::float8 WHEN 4 THEN '-Infinity'::float8 WHEN 5 THEN NULL ELSE page_rank END AS x FROM domains WHERE id <= 70) s ORDER BY x, id");
d('float NaN, infinities and -0 descending by position', "SELECT id, x FROM (SELECT id, CASE id % 7 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-0'::float8 WHEN 2 THEN 0::float8 WHEN 3 THEN 'Infinity'::float8 WHEN 4 THEN '-Infinity'::float8 WHEN 5 THEN NULL ELSE page_rank END AS x FROM domains WHERE id <= 70) s ORDER BY 2 DESC, 1 DESC");
d('float4 -0 and NaN ordered by alias', "SELECT page_id, CASE page_id % 4 WHEN 0 THEN 'NaN'::float4 WHEN 1 THEN '-0'::float4 WHEN 2 THEN sentiment ELSE -sentiment END AS s FROM content_analytics ORDER BY s NULLS FIRST, page_id");
d('-0 of a derived column through window sorts', "SELECT id, x, row_number() OVER (ORDER BY x, id) AS r, rank() OVER (PARTITION BY x ORDER BY id DESC) AS k, lag(x) OVER (ORDER BY x DESC, id) AS l FROM (SELECT id, CASE id % 7 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-0'::float8 WHEN 2 THEN 0::float8 WHEN 3 THEN 'Infinity'::float8 WHEN 4 THEN '-Infinity'::float8 WHEN 5 THEN NULL ELSE page_rank END AS x FROM domains WHERE id <= 70) s ORDER BY id");
d('-0 through an ordered LIMIT subquery and an aggregate order', "SELECT t.id, t.x, a.xs FROM (SELECT id, x FROM (SELECT id, CASE id % 7 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-0'::float8 WHEN 2 THEN 0::float8 WHEN 3 THEN 'Infinity'::float8 WHEN 4 THEN '-Infinity'::float8 WHEN 5 THEN NULL ELSE page_rank END AS x FROM domains WHERE id <= 70) s ORDER BY x DESC, id LIMIT 30) t, (SELECT array_agg(x ORDER BY x, id) AS xs FROM (SELECT id, CASE id % 7 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-0'::float8 WHEN 2 THEN 0::float8 WHEN 3 THEN 'Infinity'::float8 WHEN 4 THEN '-Infinity'::float8 WHEN 5 THEN NULL ELSE page_rank END AS x FROM domains WHERE id <= 30) s) a ORDER BY t.id");
d('a float column ordered, in a window too', 'SELECT id, page_rank, row_number() OVER (ORDER BY page_rank DESC, id) AS r FROM domains ORDER BY page_rank, id');
d('ORDER BY a float avg', 'SELECT tld, avg(page_rank) AS r FROM domains GROUP BY tld ORDER BY r DESC NULLS LAST, tld');
p('ORDER BY a numeric avg by alias', 'SELECT mimetype, avg(length) AS a FROM cdx_records GROUP BY 1 ORDER BY a', 'a numeric avg is shipped as sum and count: DuckDB would order by the sum');
p('ORDER BY a numeric avg by position', 'SELECT mimetype, avg(length) AS a FROM cdx_records GROUP BY 1 ORDER BY 2 DESC, 1', 'a numeric avg is shipped as sum and count');
p('ORDER BY round(avg) by alias', 'SELECT status_code, round(avg(fetch_ms), 1) AS a FROM scrape_pages GROUP BY 1 ORDER BY a, status_code', 'Postgres orders by the rounded exact value: equal ones are ties broken by the next key');
p('ORDER BY a numeric division by alias', 'SELECT domain_id, sum(length) / count(*) AS per FROM cdx_records GROUP BY 1 ORDER BY per DESC, domain_id LIMIT 20', 'a division is shipped as numerator and denominator');
p('ORDER BY avg() not in the list', 'SELECT mimetype FROM cdx_records GROUP BY 1 ORDER BY avg(length), mimetype', 'Postgres compares the exact numeric avg, DuckDB a DOUBLE');
p('window ordered by avg()', 'SELECT mimetype, rank() OVER (ORDER BY avg(length) DESC) FROM cdx_records GROUP BY 1 ORDER BY 1', 'Postgres compares the exact numeric avg, DuckDB a DOUBLE');

// ---- CTEs and subqueries ---------------------------------------------------------------------------------
group('cte');
d('cte then filter', 'WITH per_domain AS (SELECT domain_id, count(*) AS n FROM cdx_records GROUP BY domain_id) SELECT domain_id, n FROM per_domain WHERE n >= 5 ORDER BY n DESC, domain_id');
d('two ctes joined', 'WITH a AS (SELECT project_id, count(*) AS pages FROM scrape_pages GROUP BY project_id), b AS (SELECT project_id, count(*) AS caps FROM cdx_records GROUP BY project_id) SELECT a.project_id, a.pages, b.caps FROM a JOIN b ON a.project_id = b.project_id ORDER BY a.project_id');
d('cte with column names', 'WITH t(day, n) AS (SELECT archive_date, count(*) FROM cdx_records GROUP BY archive_date) SELECT max(n), min(day), max(day) FROM t');
d('cte referenced twice', 'WITH s AS (SELECT status_code, count(*) AS n FROM scrape_pages GROUP BY status_code) SELECT s1.status_code, s1.n, (SELECT max(n) FROM s) AS top FROM s s1 ORDER BY s1.status_code');
d('sum(int8) in a scalar subquery', 'WITH s AS (SELECT status_code, count(*) AS n FROM scrape_pages GROUP BY status_code) SELECT s1.status_code, (SELECT sum(n) FROM s) AS total FROM s s1 ORDER BY s1.status_code');
d('subquery in FROM', 'SELECT bucket, count(*) FROM (SELECT width / 1000 AS bucket FROM (SELECT length AS width FROM cdx_records) x) y GROUP BY bucket ORDER BY bucket');
d('scalar subquery', 'SELECT tld, count(*), (SELECT count(*) FROM domains) AS total FROM domains GROUP BY tld ORDER BY tld');
d('IN subquery', "SELECT count(*) FROM scrape_pages WHERE project_id IN (SELECT id FROM projects WHERE status = 'active')");
d('NOT IN subquery', "SELECT count(*) FROM cdx_records WHERE domain_id NOT IN (SELECT id FROM domains WHERE tld = 'com')");
d('EXISTS correlated', 'SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM events e WHERE e.user_id = u.id)');
d('NOT EXISTS correlated', 'SELECT count(*) FROM projects p WHERE NOT EXISTS (SELECT 1 FROM cdx_records c WHERE c.project_id = p.id)');
d('correlated scalar subquery', 'SELECT p.id, (SELECT count(*) FROM scrape_pages s WHERE s.project_id = p.id) AS pages FROM projects p ORDER BY p.id');
d('UNION ALL of aggregates', "SELECT 'pages' AS kind, count(*) AS n FROM scrape_pages UNION ALL SELECT 'captures', count(*) FROM cdx_records UNION ALL SELECT 'events', count(*) FROM events ORDER BY kind");
d('UNION distinct', 'SELECT project_id FROM scrape_pages UNION SELECT project_id FROM cdx_records WHERE project_id IS NOT NULL ORDER BY 1');
d('INTERSECT', 'SELECT domain_id FROM scrape_pages INTERSECT SELECT domain_id FROM cdx_records ORDER BY 1');
d('EXCEPT', 'SELECT id FROM projects EXCEPT SELECT project_id FROM scrape_pages ORDER BY 1');
d('cte with window', 'WITH ranked AS (SELECT user_id, id, rank() OVER (PARTITION BY user_id ORDER BY created_at, id) AS r FROM projects) SELECT user_id, count(*) FILTER (WHERE r = 1) AS firsts, max(r) FROM ranked GROUP BY user_id ORDER BY user_id');
d('nested aggregates via cte', 'WITH daily AS (SELECT archive_date, count(*) AS n FROM cdx_records GROUP BY archive_date) SELECT avg(n), max(n), min(n), count(*) FROM daily');
p('recursive cte', 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n, (SELECT count(*) FROM projects WHERE crawl_depth = n) FROM r ORDER BY n', 'WITH RECURSIVE is not translated');
p('materialized cte', 'WITH c AS MATERIALIZED (SELECT tld, count(*) AS n FROM domains GROUP BY tld) SELECT tld, n FROM c ORDER BY tld', 'MATERIALIZED CTE is not translated');

// ---- DISTINCT --------------------------------------------------------------------------------------------
group('distinct');
d('distinct mimetype', 'SELECT DISTINCT mimetype FROM cdx_records ORDER BY mimetype');
d('distinct two columns', 'SELECT DISTINCT status_code, is_success FROM scrape_pages ORDER BY status_code, is_success');
d('distinct tld', 'SELECT DISTINCT tld FROM domains ORDER BY 1');
d('distinct language nulls', 'SELECT DISTINCT language FROM content_analytics ORDER BY language NULLS FIRST');
d('distinct on latest per domain', 'SELECT DISTINCT ON (domain_id) domain_id, id, captured_at FROM cdx_records ORDER BY domain_id, captured_at DESC, id');
d('distinct on project first page', 'SELECT DISTINCT ON (project_id) project_id, id, url FROM scrape_pages ORDER BY project_id, id');
d('distinct date', 'SELECT DISTINCT archive_date FROM cdx_records ORDER BY archive_date DESC LIMIT 30');
d('distinct event types per user', 'SELECT user_id, count(DISTINCT event_type) FROM events GROUP BY user_id ORDER BY user_id');
d('distinct country', 'SELECT DISTINCT country FROM users ORDER BY country NULLS FIRST');
d('distinct uuid count', 'SELECT count(DISTINCT session_id) FROM events');

// ---- FILTER / HAVING -------------------------------------------------------------------------------------
group('filter');
d('count filter by status', 'SELECT count(*) FILTER (WHERE status_code = 200) AS ok, count(*) FILTER (WHERE status_code >= 400) AS errors, count(*) AS total FROM scrape_pages');
d('filter per project', 'SELECT project_id, count(*) FILTER (WHERE is_success) AS ok, count(*) FILTER (WHERE NOT is_success) AS failed FROM scrape_pages GROUP BY project_id ORDER BY project_id');
d('sum filter', "SELECT sum(length) FILTER (WHERE mimetype = 'text/html') AS html_bytes, sum(length) FILTER (WHERE is_revisit) AS revisit_bytes FROM cdx_records");
d('avg filter', 'SELECT avg(fetch_ms) FILTER (WHERE depth = 0), avg(fetch_ms) FILTER (WHERE depth > 2) FROM scrape_pages');
d('filter on dates', "SELECT count(*) FILTER (WHERE archive_date < date '2024-01-01') AS y2023, count(*) FILTER (WHERE archive_date >= date '2024-01-01') AS y2024 FROM cdx_records");
d('having count', 'SELECT domain_id, count(*) FROM cdx_records GROUP BY domain_id HAVING count(*) > 10 ORDER BY domain_id');
d('having avg', 'SELECT project_id, avg(fetch_ms) FROM scrape_pages GROUP BY project_id HAVING avg(fetch_ms) > 100 ORDER BY project_id');
d('having sum and filter', 'SELECT tld, count(*) FROM domains GROUP BY tld HAVING sum(CASE WHEN robots_allowed THEN 1 ELSE 0 END) > 5 ORDER BY tld');
d('having bool_or', 'SELECT user_id, count(*) FROM projects GROUP BY user_id HAVING bool_or(status = \'archived\') ORDER BY user_id');
d('where like', "SELECT count(*) FROM cdx_records WHERE original LIKE 'https://www.%'");
d('where ilike', "SELECT mimetype, count(*) FROM cdx_records WHERE mimetype ILIKE '%HTML%' GROUP BY 1 ORDER BY 1");
d('where not like', "SELECT count(*) FROM scrape_pages WHERE url NOT LIKE '%?page=%'");
d('where regex', "SELECT count(*) FROM scrape_pages WHERE url ~ '/(blog|news)/'");
d('regex dot matches a newline', "SELECT id, (url || E'\\n' || 'tail') ~ 'a.*tail' AS dot_nl, (E'X\\n' || url) ~* 'x.https' AS dot_nl_ci FROM scrape_pages ORDER BY id LIMIT 20");
d('where regex case-insensitive', "SELECT count(*) FROM domains WHERE name ~* '^(NEWS|SHOP)'");
d('where IN list', "SELECT status_code, count(*) FROM scrape_pages WHERE status_code IN (404, 500, 503) GROUP BY 1 ORDER BY 1");
d('where BETWEEN', 'SELECT count(*), sum(fetch_ms) FROM scrape_pages WHERE fetch_ms BETWEEN 100 AND 1000');
d('where IS NULL', 'SELECT count(*) FROM scrape_pages WHERE content_length IS NULL');
d('where IS DISTINCT FROM', "SELECT count(*) FROM domains WHERE category IS DISTINCT FROM 'news'");
d('where bool column', 'SELECT count(*) FROM cdx_records WHERE is_revisit');
d('where coalesce', "SELECT count(*) FROM content_analytics WHERE coalesce(language, 'xx') = 'xx'");

// ---- every column type, as stored --------------------------------------------------------------------
group('types');
d('users all columns', 'SELECT id, email, full_name, country, is_active, created_at, last_login_at, api_key_hash, credits FROM users ORDER BY id LIMIT 60');
d('projects all columns', 'SELECT id, user_id, name, description, status, crawl_depth, max_pages, schedule_interval, preferred_crawl_time, settings, created_at, updated_at FROM projects ORDER BY id');
d('domains all columns', 'SELECT id, name, tld, category, first_seen, robots_allowed, page_rank FROM domains ORDER BY id LIMIT 100');
d('scrape_pages all columns', 'SELECT id, project_id, domain_id, url, status_code, content_type, content_length, fetch_ms, depth, is_success, content_hash, scraped_at, error_message FROM scrape_pages ORDER BY id LIMIT 100');
d('content_analytics all columns', 'SELECT page_id, project_id, word_count, language, quality_score, readability, sentiment, has_images, image_count, link_count, tags, heading_counts, metadata, analyzed_at FROM content_analytics ORDER BY page_id LIMIT 100');
d('project_analytics all columns', 'SELECT project_id, day, pages, bytes, avg_fetch_ms, error_rate, unique_domains FROM project_analytics WHERE project_id <= 3 ORDER BY project_id, day LIMIT 200');
d('cdx_records all columns', 'SELECT id, urlkey, cdx_timestamp, archive_date, captured_at, original, mimetype, statuscode, digest, length, warc_offset, warc_filename, domain_id, project_id, is_revisit FROM cdx_records ORDER BY id LIMIT 100');
d('events all columns', 'SELECT id, user_id, project_id, event_type, occurred_at, payload, duration, session_id, user_agent FROM events ORDER BY id LIMIT 100');
d('float4 values', 'SELECT page_id, sentiment, -sentiment AS neg FROM content_analytics WHERE sentiment IS NOT NULL ORDER BY page_id LIMIT 80');
d('float8 values', 'SELECT id, page_rank, page_rank * 2 AS doubled FROM domains ORDER BY id LIMIT 80');
d('numeric arithmetic', 'SELECT page_id, quality_score, quality_score * 2, quality_score + 0.5, quality_score - 100 FROM content_analytics ORDER BY page_id LIMIT 80');
d('numeric sums grouped', 'SELECT language, sum(quality_score), min(quality_score), max(quality_score) FROM content_analytics GROUP BY language ORDER BY language NULLS FIRST');
d('round numeric', 'SELECT project_id, round(avg_fetch_ms, 1), round(avg_fetch_ms::numeric(10,2)) FROM project_analytics WHERE day = date \'2024-06-01\' ORDER BY project_id');
d('casts between numbers', 'SELECT id, fetch_ms::float8, fetch_ms::int8, status_code::int4, depth::numeric(4,1) FROM scrape_pages ORDER BY id LIMIT 50');
d('bigint arithmetic', 'SELECT id, length * 8 AS bits, warc_offset + length AS end_offset FROM cdx_records ORDER BY id LIMIT 60');
d('interval values', 'SELECT id, duration FROM events WHERE duration IS NOT NULL ORDER BY id LIMIT 60');
d('interval aggregates', 'SELECT event_type, min(duration), max(duration), count(duration) FROM events GROUP BY event_type ORDER BY event_type');
d('uuid values', 'SELECT id, session_id FROM events ORDER BY id LIMIT 50');
d('bytea values', 'SELECT id, content_hash FROM scrape_pages WHERE content_hash IS NOT NULL ORDER BY id LIMIT 50');
d('jsonb values', 'SELECT id, settings FROM projects ORDER BY id');
d('jsonb payloads', 'SELECT id, payload FROM events WHERE payload IS NOT NULL ORDER BY id LIMIT 50');
d('text[] values', 'SELECT page_id, tags FROM content_analytics WHERE tags IS NOT NULL ORDER BY page_id LIMIT 60');
d('int[] values', 'SELECT page_id, heading_counts FROM content_analytics ORDER BY page_id LIMIT 60');
d('time values', 'SELECT id, preferred_crawl_time FROM projects ORDER BY id');
d('char(n) padding', 'SELECT id, cdx_timestamp, digest FROM cdx_records ORDER BY id LIMIT 40');
d('bool values', 'SELECT id, is_success, NOT is_success AS failed FROM scrape_pages ORDER BY id LIMIT 40');
d('timestamptz values', 'SELECT id, occurred_at FROM events ORDER BY id LIMIT 60');
d('timestamp values', 'SELECT id, captured_at, archive_date FROM cdx_records ORDER BY id LIMIT 60');
d('NULL-heavy columns', 'SELECT id, error_message, content_type, content_length FROM scrape_pages WHERE NOT is_success ORDER BY id');
d('string functions', "SELECT id, upper(tld), lower(name), length(name), replace(name, '.', '_'), left(name, 3), right(name, 4) FROM domains ORDER BY id LIMIT 40");
d('concat and ||', "SELECT id, name || '/' || tld, concat(tld, ':', category), concat_ws('-', tld, category) FROM domains ORDER BY id LIMIT 40");
p('trim and pad', "SELECT id, trim(country), lpad(country, 4, '*'), rpad(coalesce(country, ''), 3, '.') FROM users ORDER BY id LIMIT 40", 'char(n) is held padded: functions of it go to Postgres, which drops the padding');
d('trim and pad of text', "SELECT id, trim(email), lpad(full_name, 40, '*'), rpad(coalesce(full_name, ''), 3, '.') FROM users ORDER BY id LIMIT 40");
d('position and strpos', "SELECT id, position('/' IN original), strpos(urlkey, ')') FROM cdx_records ORDER BY id LIMIT 40");
d('math functions', 'SELECT page_id, abs(sentiment), ceil(readability), floor(readability), sqrt(link_count) FROM content_analytics ORDER BY page_id LIMIT 40');
d('coalesce nullif greatest least', 'SELECT id, coalesce(content_length, 0), nullif(depth, 0), greatest(fetch_ms, 100), least(fetch_ms, 100) FROM scrape_pages ORDER BY id LIMIT 40');
d('case expressions', "SELECT id, CASE depth WHEN 0 THEN 'root' WHEN 1 THEN 'first' ELSE 'deep' END, CASE WHEN fetch_ms > 1000 THEN true ELSE false END FROM scrape_pages ORDER BY id LIMIT 40");
d('string_agg ordered', "SELECT tld, string_agg(name, ',' ORDER BY name) FROM domains WHERE id <= 60 GROUP BY tld ORDER BY tld");
d('array_agg ordered', 'SELECT project_id, array_agg(id ORDER BY id) FROM scrape_pages WHERE id <= 80 GROUP BY project_id ORDER BY project_id');
d('mod and sign', 'SELECT id, mod(fetch_ms, 7), sign(fetch_ms - 500) FROM scrape_pages ORDER BY id LIMIT 40');
d('md5 of text', 'SELECT id, md5(url) FROM scrape_pages ORDER BY id LIMIT 20');
d('integer division and modulo', 'SELECT id, fetch_ms / 7, fetch_ms % 7, -fetch_ms / 7 FROM scrape_pages ORDER BY id LIMIT 40');
p('enum column', 'SELECT plan, count(*) FROM users GROUP BY plan ORDER BY plan', 'an enum result type is not encoded by the engine');
d('SELECT * top level', 'SELECT * FROM domains ORDER BY id LIMIT 10');
d('SELECT * of every column type', 'SELECT * FROM content_analytics ORDER BY page_id LIMIT 30');
d('SELECT * of cdx_records', 'SELECT * FROM cdx_records WHERE mimetype = \'text/html\' ORDER BY id LIMIT 30');
d('SELECT * of events', 'SELECT * FROM events ORDER BY id LIMIT 30');
d('SELECT * over a grouped subquery', 'SELECT * FROM (SELECT tld, count(*) AS n, sum(page_rank) AS r FROM domains GROUP BY tld) s ORDER BY tld');
d('SELECT t.* with an aggregate column', 'SELECT d.*, c.n FROM domains d JOIN (SELECT domain_id, count(*) AS n FROM cdx_records GROUP BY domain_id) c ON c.domain_id = d.id ORDER BY d.id LIMIT 20');
d('SELECT * from a join', 'SELECT * FROM projects p JOIN domains d ON d.id = p.id ORDER BY p.id LIMIT 20');
p('SELECT * with an enum column', 'SELECT * FROM users ORDER BY id LIMIT 10', 'an enum result type is not encoded by the engine');
d('numeric division', 'SELECT page_id, quality_score / 3 FROM content_analytics ORDER BY page_id LIMIT 10');
d('sum(int8) divided', 'SELECT sum(length) / count(*) FROM cdx_records');
d('round of avg', 'SELECT round(avg(fetch_ms), 2) FROM scrape_pages');
d('round of avg grouped', 'SELECT status_code, round(avg(fetch_ms), 0) AS a0, round(avg(length), 3) AS a3, round(avg(content_length), 20) AS a20 FROM scrape_pages LEFT JOIN cdx_records ON cdx_records.id = scrape_pages.id GROUP BY status_code ORDER BY status_code');
d('round of avg numeric', 'SELECT language, round(avg(quality_score), 1), round(avg(quality_score), 4) FROM content_analytics GROUP BY language ORDER BY language NULLS FIRST');
d('round with more digits than the scale', 'SELECT page_id, round(quality_score, 3), round(quality_score, 0), round(word_count, 2) FROM content_analytics ORDER BY page_id LIMIT 50');
p('round below the top level', 'SELECT sum(r) FROM (SELECT round(fetch_ms, 2) AS r FROM scrape_pages) s', 'round(x, n) below the top level: its scale in DuckDB is not Postgres\'s');
p('cast to text', 'SELECT id, status_code::text FROM scrape_pages ORDER BY id LIMIT 10', 'casting a non-literal to text prints it DuckDB\'s way');
p('unconstrained numeric cast', 'SELECT id, page_rank::numeric FROM domains ORDER BY id LIMIT 10', 'unconstrained numeric has no DuckDB equivalent');
p('jsonb operator', "SELECT settings ->> 'user_agent' AS ua, count(*) FROM projects GROUP BY 1 ORDER BY 1", 'jsonb operators are not translated');
p('array subscript', 'SELECT tags[1] AS t, count(*) FROM content_analytics GROUP BY 1 ORDER BY 1 NULLS FIRST', 'array subscripts are not translated');
p('ANY over array', "SELECT count(*) FROM content_analytics WHERE 'news' = ANY(tags)", 'ANY over an array is not translated');
d('interval arithmetic', "SELECT id, occurred_at + interval '1 day', captured_at - interval '2 hours' FROM events, (SELECT captured_at FROM cdx_records WHERE id = 1) c ORDER BY id LIMIT 30");
p('exponent literal', 'SELECT count(*) FROM cdx_records WHERE length > 1e4', 'an exponent literal is numeric in Postgres');
d('percentile WITHIN GROUP', 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY fetch_ms) FROM scrape_pages');
d('percentiles grouped', 'SELECT mimetype, percentile_cont(0.5) WITHIN GROUP (ORDER BY length) AS median, percentile_cont(0.9) WITHIN GROUP (ORDER BY length) AS p90, percentile_cont(0.33) WITHIN GROUP (ORDER BY length) AS p33, percentile_disc(0.5) WITHIN GROUP (ORDER BY length) AS dmedian, percentile_disc(0.1) WITHIN GROUP (ORDER BY archive_date) AS d10 FROM cdx_records GROUP BY mimetype ORDER BY mimetype');
d('percentiles of floats and numerics', 'SELECT language, percentile_cont(0.75) WITHIN GROUP (ORDER BY readability), percentile_cont(0.1) WITHIN GROUP (ORDER BY quality_score), percentile_disc(0.7) WITHIN GROUP (ORDER BY quality_score), percentile_disc(0) WITHIN GROUP (ORDER BY sentiment), percentile_cont(1) WITHIN GROUP (ORDER BY sentiment) FROM content_analytics GROUP BY language ORDER BY language NULLS FIRST');
d('percentile with FILTER and empty groups', 'SELECT status_code, percentile_cont(0.5) WITHIN GROUP (ORDER BY fetch_ms) FILTER (WHERE depth > 2), percentile_disc(0.99) WITHIN GROUP (ORDER BY content_length) FROM scrape_pages GROUP BY status_code ORDER BY status_code');
p('percentile descending', 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY fetch_ms DESC) FROM scrape_pages', 'a descending percentile is not translated');
p('percentile array of fractions', "SELECT percentile_cont(ARRAY[0.25, 0.5]) WITHIN GROUP (ORDER BY fetch_ms) FROM scrape_pages", 'an array of fractions is not translated');
p('coalesce of a numeric sum with 0 (empty input)', 'SELECT coalesce(sum(credits), 0) AS c FROM users WHERE id < 0', 'coalesce keeps each branch\'s numeric scale in Postgres (0 vs 0.00)');
p('coalesce of a numeric sum with 0 per group', 'SELECT plan, coalesce(sum(credits) FILTER (WHERE is_active), 0) AS c FROM users GROUP BY plan ORDER BY plan', 'coalesce keeps each branch\'s numeric scale in Postgres');
p('CASE mixing numeric scales', "SELECT id, CASE WHEN credits > 100 THEN credits ELSE 0 END AS c FROM users ORDER BY id LIMIT 30", 'CASE keeps each branch\'s numeric scale in Postgres');
p('greatest over numeric and an integer', 'SELECT id, greatest(credits, 50) AS g FROM users ORDER BY id LIMIT 30', 'greatest keeps the chosen value\'s numeric scale in Postgres');
p('UNION of numerics with different scales', 'SELECT credits AS v FROM users WHERE id <= 3 UNION ALL SELECT 7 ORDER BY 1', 'each UNION arm keeps its numeric scale in Postgres');
d('ROLLUP', 'SELECT status_code, count(*) FROM scrape_pages GROUP BY ROLLUP (status_code) ORDER BY status_code NULLS LAST');

// ---- the seeds' own shapes ---------------------------------------------------------------------------
group('seed');
d('performance summary per project', `SELECT p.id AS project_id, p.name, count(s.id) AS pages, count(s.id) FILTER (WHERE s.is_success) AS ok_pages,
  avg(s.fetch_ms) AS avg_fetch_ms, max(s.fetch_ms) AS max_fetch_ms, sum(s.content_length) AS bytes, min(s.scraped_at) AS first_scrape, max(s.scraped_at) AS last_scrape
  FROM projects p LEFT JOIN scrape_pages s ON s.project_id = p.id GROUP BY p.id, p.name ORDER BY pages DESC, p.id`);
d('performance summary from rollups', `SELECT project_id, sum(pages) AS pages, sum(bytes) AS bytes, avg(avg_fetch_ms) AS avg_fetch, avg(error_rate) AS error_rate, max(unique_domains) AS peak_domains
  FROM project_analytics WHERE pages > 0 GROUP BY project_id ORDER BY project_id`);
d('domain analysis', `SELECT d.name, d.tld, d.category, count(c.id) AS captures, count(DISTINCT c.urlkey) AS urls, sum(c.length) AS bytes, min(c.archive_date) AS first_capture, max(c.archive_date) AS last_capture
  FROM domains d JOIN cdx_records c ON c.domain_id = d.id GROUP BY d.name, d.tld, d.category ORDER BY captures DESC, d.name LIMIT 25`);
d('domain analysis by tld and status', `SELECT d.tld, count(*) AS pages, count(*) FILTER (WHERE s.status_code = 200) AS ok, avg(s.fetch_ms) AS avg_ms
  FROM scrape_pages s JOIN domains d ON d.id = s.domain_id GROUP BY d.tld ORDER BY pages DESC, d.tld`);
d('quality distribution', `SELECT CASE WHEN quality_score >= 80 THEN 'excellent' WHEN quality_score >= 60 THEN 'good' WHEN quality_score >= 40 THEN 'fair' WHEN quality_score IS NULL THEN 'unscored' ELSE 'poor' END AS band,
  count(*) AS pages, avg(word_count) AS avg_words, avg(readability) AS avg_readability FROM content_analytics GROUP BY 1 ORDER BY 1`);
d('quality distribution by decile', 'SELECT floor(quality_score * 0.1) AS decile, count(*) FROM content_analytics WHERE quality_score IS NOT NULL GROUP BY 1 ORDER BY 1');
p('quality decile by numeric division', 'SELECT floor(quality_score / 10) AS decile, count(*) FROM content_analytics WHERE quality_score IS NOT NULL GROUP BY 1 ORDER BY 1', 'numeric / numeric has a data-dependent scale');
d('quality per language', 'SELECT language, count(*) AS pages, min(quality_score), max(quality_score), avg(quality_score) AS avg_q FROM content_analytics WHERE quality_score IS NOT NULL GROUP BY language ORDER BY language NULLS LAST');
d('hourly events', "SELECT date_trunc('hour', occurred_at) AS hour, event_type, count(*) AS n FROM events WHERE occurred_at >= timestamptz '2024-06-01 00:00:00+00' GROUP BY 1, 2 ORDER BY 1, 2");
d('hour of day profile', 'SELECT extract(hour FROM occurred_at) AS hour, count(*) AS n, count(DISTINCT user_id) AS users FROM events GROUP BY 1 ORDER BY 1');
d('events per day and type', "SELECT CAST(date_trunc('day', occurred_at) AS date) AS day, count(*) FILTER (WHERE event_type = 'page_view') AS views, count(*) AS total FROM events GROUP BY 1 ORDER BY 1 DESC LIMIT 30");
d('captures per month per mimetype share', "SELECT CAST(date_trunc('month', archive_date) AS date) AS month, count(*) FILTER (WHERE mimetype = 'text/html') AS html, count(*) AS total FROM cdx_records GROUP BY 1 ORDER BY 1");
d('error pages by project', 'SELECT project_id, status_code, count(*) FROM scrape_pages WHERE status_code >= 400 GROUP BY project_id, status_code ORDER BY project_id, status_code');
d('slowest pages', 'SELECT id, url, fetch_ms FROM scrape_pages ORDER BY fetch_ms DESC, id LIMIT 20');
d('biggest captures', 'SELECT id, original, length FROM cdx_records ORDER BY length DESC, id LIMIT 20');
d('active users by country', 'SELECT country, count(*) FILTER (WHERE is_active) AS active, count(*) AS total, sum(credits) AS credits FROM users GROUP BY country ORDER BY total DESC, country NULLS FIRST');
d('content word counts by project', 'SELECT project_id, sum(word_count) AS words, avg(link_count) AS links, sum(image_count) AS images FROM content_analytics GROUP BY project_id ORDER BY project_id');
d('revisit ratio per domain (int math)', 'SELECT domain_id, 100 * count(*) FILTER (WHERE is_revisit) / count(*) AS pct FROM cdx_records GROUP BY domain_id HAVING count(*) >= 3 ORDER BY domain_id');
d('seed with to_char month label', "SELECT to_char(date_trunc('month', occurred_at), 'Mon YYYY') AS label, count(*) FROM events GROUP BY date_trunc('month', occurred_at) ORDER BY date_trunc('month', occurred_at)");

// ---- parameters (extended protocol only), typed by Postgres's ParameterDescription -----------------------
// ---- pre-aggregation (src/engines/duckdb/preaggregate.ts): the shapes computed in two steps, and
// neighbours that must not be -----------------------------------------------------------------------
group('preagg');
d('month buckets, HAVING and ORDER BY aggregates', 'SELECT date_trunc(\'month\', archive_date) AS m, count(*) AS n, sum(length) AS bytes, min(mimetype) AS first_type, max(statuscode) AS top_status FROM cdx_records GROUP BY 1 HAVING count(*) > 5 ORDER BY n DESC, m');
d('counts of a nullable column and FILTERs', 'SELECT extract(year FROM archive_date) AS y, count(statuscode) AS with_status, count(*) FILTER (WHERE is_revisit) AS revisits, count(*) FILTER (WHERE statuscode IS NULL) AS no_status FROM cdx_records GROUP BY 1 ORDER BY 1');
d('numeric avg and round(avg)', "SELECT date_trunc('quarter', archive_date) AS q, avg(length) AS avg_len, round(avg(statuscode), 2) AS avg_status, avg(length) FILTER (WHERE is_revisit) AS avg_rev FROM cdx_records GROUP BY 1 ORDER BY 1");
d('bool aggregates', "SELECT date_trunc('year', archive_date) AS y, bool_and(is_revisit) AS all_rev, bool_or(is_revisit) AS any_rev, every(length > 0) AS all_len FROM cdx_records GROUP BY 1 ORDER BY 1");
d('windows over aggregates', "SELECT date_trunc('month', archive_date) AS m, count(*) AS n, sum(count(*)) OVER (ORDER BY date_trunc('month', archive_date)) AS running, rank() OVER (ORDER BY count(*) DESC, date_trunc('month', archive_date)) AS r FROM cdx_records GROUP BY 1 ORDER BY 1");
d('DISTINCT count of the key column', "SELECT date_trunc('month', archive_date) AS m, count(DISTINCT archive_date) AS days, count(*) AS n FROM cdx_records GROUP BY 1 ORDER BY 1");
d('WHERE on other columns', "SELECT date_trunc('month', archive_date) AS m, count(*) FROM cdx_records WHERE mimetype = 'text/html' AND length > 1000 GROUP BY 1 ORDER BY 1");
d('no rows at all', "SELECT date_trunc('month', archive_date) AS m, count(*), sum(length) FROM cdx_records WHERE length < 0 GROUP BY 1 ORDER BY 1");
d('boolean key', "SELECT CASE WHEN is_success THEN 'ok' ELSE 'failed' END AS outcome, count(*), max(fetch_ms), sum(content_length) FROM scrape_pages GROUP BY 1 ORDER BY 1");
d('NULL keys', 'SELECT coalesce(statuscode / 100, -1) AS class, count(*), min(archive_date) FROM cdx_records GROUP BY 1 ORDER BY 1');
d('outer DISTINCT and LIMIT/OFFSET', "SELECT DISTINCT date_trunc('year', archive_date) AS y, count(*) > 0 AS seen FROM cdx_records GROUP BY 1 ORDER BY 1 LIMIT 5 OFFSET 1");
d('float sums and numeric avg', "SELECT date_trunc('month', day) AS m, sum(error_rate) AS err, avg(avg_fetch_ms) AS fetch, max(error_rate) AS worst FROM project_analytics GROUP BY 1 ORDER BY 1");
d('join: dimension and fact filters', 'SELECT p.status, count(*) AS n, sum(s.content_length) AS bytes, avg(s.fetch_ms) AS avg_ms FROM scrape_pages s JOIN projects p ON p.id = s.project_id WHERE p.crawl_depth > 1 AND s.is_success GROUP BY p.status ORDER BY p.status');
d('join: dimension on the left, LIMIT/OFFSET', 'SELECT p.name, count(*) FILTER (WHERE NOT s.is_success) AS failures, min(s.scraped_at) AS first_page, count(*) AS n FROM projects p JOIN scrape_pages s ON s.project_id = p.id GROUP BY p.name ORDER BY failures DESC, p.name LIMIT 10 OFFSET 2');
d('join: DISTINCT count of the join column', 'SELECT p.status, count(DISTINCT c.project_id) AS projects, count(*) AS captures FROM cdx_records c JOIN projects p ON p.id = c.project_id GROUP BY p.status ORDER BY p.status');
d('join: Metabase-qualified names', 'SELECT "public"."projects"."status" AS "status", count(*) AS "count", sum("public"."cdx_records"."length") AS "sum" FROM "public"."cdx_records" INNER JOIN "public"."projects" ON "public"."cdx_records"."project_id" = "public"."projects"."id" GROUP BY "public"."projects"."status" ORDER BY "public"."projects"."status" ASC');
d('join: window top-N over aggregates', 'SELECT status, name, n, r FROM (SELECT p.status, p.name, count(*) AS n, rank() OVER (PARTITION BY p.status ORDER BY count(*) DESC, p.name) AS r FROM scrape_pages s JOIN projects p ON p.id = s.project_id GROUP BY p.status, p.name) t WHERE r <= 2 ORDER BY status, r');
d('not pre-aggregated: avg below the top level', "SELECT date_trunc('month', archive_date) AS m FROM cdx_records GROUP BY 1 HAVING avg(length) > 0 ORDER BY 1");
d('not pre-aggregated: DISTINCT aggregate of another column', "SELECT date_trunc('year', archive_date) AS y, string_agg(DISTINCT mimetype, ',' ORDER BY mimetype) AS types FROM cdx_records GROUP BY 1 ORDER BY 1");
d('not pre-aggregated: join aggregate reading the dimension', 'SELECT p.status, count(*), max(p.name) AS last_name FROM scrape_pages s JOIN projects p ON p.id = s.project_id GROUP BY p.status ORDER BY p.status');

group('enum');
// enum values are held as their labels' text: equal where Postgres's are, ordered differently
d('enum grouped and counted', 'SELECT count(*) AS n FROM users GROUP BY plan ORDER BY n');
d('enum distinct count', 'SELECT count(DISTINCT plan) AS plans, count(plan) AS with_plan FROM users');
d('enum equality with labels', "SELECT count(*) FILTER (WHERE plan = 'pro') AS pro, count(*) FILTER (WHERE plan <> 'free') AS paying, count(*) FILTER (WHERE plan IN ('starter', 'enterprise')) AS other FROM users WHERE 'free' <> plan OR plan NOT IN ('pro')");
cases.push({
  name: 'enum: enum equality with a parameter',
  sql: 'SELECT count(*) FROM users WHERE plan = $1',
  expect: 'postgres',
  why: 'a parameter could carry a label the enum does not have (Postgres\'s error, no rows in DuckDB)',
  params: ['pro'],
});
p('enum order comparison', "SELECT count(*) FROM users WHERE plan > 'free'", 'Postgres compares enum values by declaration order, not by label');
p('ordered by an enum', 'SELECT id FROM users ORDER BY plan, id LIMIT 20', 'Postgres orders enum values by declaration order, not by label');
p('min of an enum', 'SELECT count(*) FROM users GROUP BY plan HAVING min(plan) = max(plan) ORDER BY 1', 'min/max of an enum follow declaration order');

group('compare');
// json/jsonb are held as their text: Postgres compares jsonb by value ('1.0' = '1.00') and orders it by
// its own rules; arrays, intervals, times, bytea, floats and uuids order alike in both
p('order by jsonb', 'SELECT id FROM projects ORDER BY settings, id LIMIT 20', 'Postgres orders jsonb by its own rules, not by text');
p('jsonb compared', "SELECT count(*) FROM content_analytics WHERE metadata > '{}'::jsonb", 'jsonb comparison is by value');
p('jsonb distinct', 'SELECT count(DISTINCT settings) FROM projects', 'jsonb equality is by value (1.0 = 1.00), not by text');
d('jsonb output and counted', 'SELECT count(metadata) AS with_metadata, count(*) AS n FROM content_analytics');
d('jsonb output', 'SELECT id, settings FROM projects WHERE settings IS NOT NULL ORDER BY id LIMIT 10');
p('jsonb grouped by position', 'SELECT settings, count(*) FROM projects GROUP BY 1 ORDER BY 2 DESC LIMIT 5', 'jsonb equality is by value: grouping by its text could split a group');
p('jsonb made DISTINCT', 'SELECT DISTINCT metadata FROM content_analytics WHERE metadata IS NOT NULL LIMIT 0', 'jsonb equality is by value');
p('jsonb ordered by position', 'SELECT id, settings FROM projects ORDER BY 2, 1 LIMIT 10', 'Postgres orders jsonb by its own rules');
p('array compared with a literal array', 'SELECT count(*) FROM content_analytics WHERE heading_counts > ARRAY[1]', 'ARRAY[] constructors are not translated');
d('order by array', 'SELECT page_id FROM content_analytics ORDER BY tags NULLS FIRST, page_id LIMIT 30');
d('max of array', 'SELECT max(heading_counts) IS NULL FROM content_analytics');
d('order by interval', 'SELECT id FROM projects ORDER BY schedule_interval NULLS FIRST, id LIMIT 20');
d('order by time', 'SELECT id FROM projects ORDER BY preferred_crawl_time NULLS FIRST, id LIMIT 20');
d('order by bytea', 'SELECT id FROM users ORDER BY api_key_hash NULLS FIRST, id LIMIT 20');
d('order by float', 'SELECT id FROM domains ORDER BY page_rank DESC NULLS LAST, id LIMIT 20');
d('order by uuid', 'SELECT id FROM events ORDER BY session_id, id LIMIT 20');

group('numeric division');
// a top-level numeric division is shipped as numerator and denominator, divided as numeric_div does
d('percent of total', 'SELECT mimetype, 100.0 * count(*) / sum(count(*)) OVER () AS pct FROM cdx_records GROUP BY mimetype ORDER BY mimetype');
d('ratios per group with NULLIF', 'SELECT domain_id, sum(length) / count(*) AS avg_len, sum(length) / NULLIF(count(*) FILTER (WHERE is_revisit), 0) AS per_revisit FROM cdx_records GROUP BY 1 ORDER BY 1 LIMIT 30');
d('numeric column by literals', 'SELECT page_id, quality_score / 3 AS third, quality_score / 0.7 AS scaled, 1 / quality_score AS inverse FROM content_analytics WHERE quality_score > 0 ORDER BY page_id LIMIT 30');
d('credits per user over pre-aggregated groups', "SELECT date_trunc('year', created_at::date) AS y, sum(credits) / count(*) AS per_user FROM users GROUP BY 1 ORDER BY 1");
p('division by zero', 'SELECT sum(length) / 0 FROM cdx_records', 'division by zero: Postgres raises it');
p('numeric division below the top level', 'SELECT floor(sum(length) / count(*)) FROM cdx_records', 'a numeric division inside another expression has a data-dependent scale');
p('float cast to numeric(p,s)', 'SELECT id, page_rank::numeric(10,3) FROM domains ORDER BY id LIMIT 20', 'Postgres rounds a float through its 15-digit text, DuckDB its binary value');
p('avg cast to numeric(p,s)', 'SELECT avg(fetch_ms)::numeric(10,2) FROM scrape_pages', 'avg is exact numeric in Postgres, a DOUBLE in DuckDB');
d('integer cast to numeric(p,s)', 'SELECT id, crawl_depth::numeric(6,2) AS d, (crawl_depth * 2)::numeric(8,1) AS d2 FROM projects ORDER BY id');

// ---- issue 10, class 1: regular expressions (router/capabilities.ts; rewrite.ts regexRefusal) ----------
// Only patterns written with what Postgres's ARE and DuckDB's RE2 read alike are shipped.
group('regex');
d('escaped dot and end anchor', "SELECT count(*) FROM domains WHERE name ~ '\\.com$'");
d('bracket range and bounded quantifier', "SELECT count(*) FROM scrape_pages WHERE url ~ '/[a-z]{3,8}/[0-9]+'");
d('negated bracket', "SELECT count(*) FROM scrape_pages WHERE url ~ '^https://[^/]+/$'");
d('not regex', "SELECT count(*) FROM cdx_records WHERE original !~ '^https://www\\.'");
d('not regex case-insensitive', "SELECT count(*) FROM domains WHERE name !~* '^(news|SHOP)'");
d('regex in the select list', "SELECT id, url ~ '(blog|news)/' AS b, url !~ 'x+' AS nb FROM scrape_pages ORDER BY id LIMIT 30");
d('regex in CASE', "SELECT id, CASE WHEN url ~ '/blog/' THEN 'blog' WHEN url ~ '/news/' THEN 'news' ELSE 'other' END AS kind FROM scrape_pages ORDER BY id LIMIT 30");
d('regex optional and repeated', "SELECT count(*) FROM cdx_records WHERE original ~ '^https?://[a-z0-9.-]+/'");
d('regex in a FILTER per group', "SELECT tld, count(*) FILTER (WHERE name ~ '^[a-m]') FROM domains GROUP BY tld ORDER BY tld");
d('regex escaped question mark', "SELECT count(*) FROM scrape_pages WHERE url ~ '\\?page='");
d('case-insensitive regex on a media type', "SELECT count(*) FROM cdx_records WHERE mimetype ~* '^text/(html|plain)'");
p('\\b (a backspace in Postgres, a word boundary in RE2)', "SELECT count(*) FROM scrape_pages WHERE url ~ '\\bblog'", '\\b is a backspace in Postgres\'s regex, a word boundary in DuckDB\'s');
p('\\B (a backslash in Postgres)', "SELECT count(*) FROM domains WHERE name ~ 'e\\B'", '\\B is a backslash in Postgres\'s regex, a non-boundary in DuckDB\'s');
p('\\w (locale-aware in Postgres, ASCII in RE2)', "SELECT count(*) FROM events WHERE user_agent ~ '\\w+/\\d'", 'class escapes follow the locale in Postgres, ASCII in RE2');
p('\\y word boundary (ARE only)', "SELECT count(*) FROM scrape_pages WHERE url ~ '\\yblog\\y'", '\\y is ARE syntax');
p('case-insensitive with an escape', "SELECT count(*) FROM domains WHERE name ~* '\\mnews'", '\\m is ARE syntax');
p('not-match with an escape', "SELECT count(*) FROM domains WHERE name !~ '\\bnews'", 'escapes differ');
p('POSIX class', "SELECT count(*) FROM domains WHERE name ~ '^[[:alpha:]]+\\.'", '[:class:] follows the locale in Postgres');
p('embedded options', "SELECT count(*) FROM domains WHERE name ~ '(?i)NEWS'", '(? constructs differ');
p('pattern from a column', 'SELECT count(*) FROM domains WHERE name ~ tld', 'a pattern that is not a constant cannot be checked');
p('regexp_replace', "SELECT id, regexp_replace(url, '[0-9]+', 'N') FROM scrape_pages ORDER BY id LIMIT 20", 'regexp_replace is never shipped (capabilities.ts)');
p('substring from a pattern', "SELECT id, substring(url from '[a-z]+') FROM scrape_pages ORDER BY id LIMIT 20", 'the regular-expression form of substring is never shipped');
p('SIMILAR TO', "SELECT count(*) FROM domains WHERE name SIMILAR TO '%(news|shop)%'", 'SIMILAR TO is not translated');
cases.push({ name: 'regex: pattern as a parameter', sql: 'SELECT count(*) FROM scrape_pages WHERE url ~ $1', expect: 'postgres', why: 'a parameter pattern cannot be checked', params: ['\\bblog'] });

// ---- issue 10, class 9: errors Postgres raises must not become values --------------------------------
group('math errors');
p('mod by zero', 'SELECT sum(mod(fetch_ms, 0)) FROM scrape_pages', '22012 in Postgres; DuckDB\'s mod returns NULL: raised, so Postgres answers');
p('mod by a zero column value', 'SELECT id, mod(fetch_ms, depth) FROM scrape_pages ORDER BY id', 'depth is 0 on some rows: 22012');
d('mod by non-zero values', 'SELECT id, mod(fetch_ms, depth + 1), mod(-fetch_ms, 7), mod(quality_score, 3) FROM scrape_pages JOIN content_analytics ON page_id = id ORDER BY id LIMIT 40');
p('integer division by zero', 'SELECT sum(fetch_ms / 0) FROM scrape_pages', '22012');
p('% by zero', 'SELECT sum(fetch_ms % 0) FROM scrape_pages', '22012');
p('exp overflow', 'SELECT max(exp(page_rank + 1000)) FROM domains', '22003 value out of range: overflow');
p('exp underflow', 'SELECT min(exp(page_rank - 1000)) FROM domains', '22003 value out of range: underflow');
d('exp in range', 'SELECT id, exp(page_rank), exp(-page_rank) FROM domains ORDER BY id LIMIT 40');
p('power: negative to a non-integer', 'SELECT max(power(-page_rank - 1, 0.5::float8)) FROM domains', '2201F');
p('power: zero to a negative', 'SELECT max(power(page_rank * 0, -1::float8)) FROM domains', '2201F');
p('power overflow', 'SELECT max(power(page_rank + 10, 400::float8)) FROM domains', '22003');
p('power of numeric', 'SELECT max(power(quality_score, 2)) FROM content_analytics', 'power(numeric, numeric) is exact numeric in Postgres');
d('power of floats', 'SELECT id, power(page_rank, 2::float8), power(page_rank + 1, -1::float8) FROM domains ORDER BY id LIMIT 40');
p('sqrt of a negative', 'SELECT max(sqrt(-page_rank - 1)) FROM domains', '2201F');
p('ln of zero', 'SELECT max(ln(page_rank * 0)) FROM domains', '2201E');
p('ln of a negative', 'SELECT max(ln(-page_rank - 1)) FROM domains', '2201E');
p('sqrt of numeric', 'SELECT max(sqrt(quality_score)) FROM content_analytics', 'sqrt(numeric) is exact numeric in Postgres');
d('sqrt and ln of floats', 'SELECT id, sqrt(page_rank), ln(page_rank + 1) FROM domains ORDER BY id LIMIT 40');
p('float multiplication overflow', 'SELECT max(page_rank * 1e308::float8 * 10) FROM domains', '22003 where DuckDB gives Infinity');
p('float multiplication underflow', 'SELECT min((page_rank + 1) * 1e-308::float8 * 1e-10::float8) FROM domains', '22003 where DuckDB gives 0');
p('float addition overflow', 'SELECT max(page_rank + 1.7e308::float8 + 1.7e308::float8) FROM domains', '22003');
p('float division overflow', 'SELECT max((page_rank + 1) / 1e-308::float8) FROM domains', '22003');
p('float4 multiplication overflow', 'SELECT max(sentiment * 3e38::float4 * 10::float4) FROM content_analytics', '22003 in float4');
d('float arithmetic in range', 'SELECT id, page_rank * 2, page_rank + 1, page_rank - 0.5::float8, page_rank / 3 FROM domains ORDER BY id LIMIT 40');
d('mod in GROUP BY', 'SELECT mod(id, 5), count(*) FROM scrape_pages GROUP BY 1 ORDER BY 1');
d('float expression two levels deep', 'SELECT id, page_rank * 100 + 1 FROM domains ORDER BY id LIMIT 30');
d('aggregates of float products', 'SELECT avg(readability * 2), max(sentiment * 10), min(error_rate * 100) FROM content_analytics, project_analytics WHERE project_analytics.project_id = content_analytics.project_id');
d('exp of an integer', 'SELECT id, exp(depth) FROM scrape_pages ORDER BY id LIMIT 20');
d('power of integers', 'SELECT id, power(depth, 2) FROM scrape_pages ORDER BY id LIMIT 20');
p('integer overflow', 'SELECT max(fetch_ms * 2147483647) FROM scrape_pages', '22003 integer out of range');

// ---- issue 10, class 10: array_agg(DISTINCT) order ---------------------------------------------------
group('distinct aggregates');
d('array_agg distinct text', 'SELECT domain_id, array_agg(DISTINCT mimetype) FROM cdx_records WHERE domain_id <= 40 GROUP BY domain_id ORDER BY domain_id');
d('array_agg distinct int', 'SELECT project_id, array_agg(DISTINCT status_code) FROM scrape_pages GROUP BY project_id ORDER BY project_id');
d('array_agg distinct with NULLs', 'SELECT project_id, array_agg(DISTINCT content_length / 100000) FROM scrape_pages GROUP BY project_id ORDER BY project_id');
d('array_agg distinct ordered descending', 'SELECT tld, array_agg(DISTINCT category ORDER BY category DESC) FROM domains GROUP BY tld ORDER BY tld');
d('string_agg distinct', "SELECT domain_id, string_agg(DISTINCT mimetype, ',') FROM cdx_records WHERE domain_id <= 40 GROUP BY domain_id ORDER BY domain_id");
d('array_agg distinct of a whole table', 'SELECT array_agg(DISTINCT event_type) FROM events');
d('count distinct alongside', 'SELECT count(DISTINCT mimetype), array_agg(DISTINCT statuscode) FROM cdx_records');
d('array_agg distinct date', 'SELECT project_id, array_agg(DISTINCT day) FROM project_analytics WHERE project_id <= 3 AND day < (SELECT min(day) + 5 FROM project_analytics) GROUP BY 1 ORDER BY 1');
d('array_agg distinct bool', 'SELECT project_id, array_agg(DISTINCT is_success) FROM scrape_pages GROUP BY 1 ORDER BY 1');
d('array_agg distinct filtered', 'SELECT tld, array_agg(DISTINCT category) FILTER (WHERE robots_allowed) FROM domains GROUP BY tld ORDER BY tld');
d('string_agg distinct of a whole table', "SELECT string_agg(DISTINCT event_type, '|') FROM events");
d('array_agg distinct float', 'SELECT project_id, array_agg(DISTINCT floor(error_rate * 10)) FROM project_analytics GROUP BY 1 ORDER BY 1');
p('string_agg distinct with a column delimiter', 'SELECT string_agg(DISTINCT mimetype, urlkey) FROM cdx_records WHERE id <= 5', 'Postgres sorts by both arguments; not translated');

group('float4');
// Postgres resolves real with an integer or numeric to the float8 operator (the real widened, the
// numeric read as float8); CASE/COALESCE/GREATEST and IN lists of several constants keep float4
// (src/engines/duckdb/float4.ts)
d('real compared with a numeric literal is compared in float8', "SELECT count(*) AS n FROM content_analytics WHERE CAST('0.1' AS real) = 0.1 OR CAST('0.3' AS real) <= 0.3");
d('real compared with a numeric literal, not equal', "SELECT count(*) AS n FROM content_analytics WHERE CAST('0.1' AS real) <> 0.1 AND 0.3 > CAST('0.3' AS real)");
d('real column compared with numeric and integer literals', 'SELECT count(*) FILTER (WHERE sentiment > 0.1) AS a, count(*) FILTER (WHERE sentiment <= -0.25) AS b, count(*) FILTER (WHERE sentiment < 1) AS c, count(*) FILTER (WHERE 0.5 < sentiment) AS d FROM content_analytics');
d('real arithmetic with integers and numerics is float8', 'SELECT page_id, sentiment * 100 AS pct, sentiment + 1 AS plus, sentiment / 3 AS third, sentiment - 0.5 AS shifted, 2.5 * sentiment AS scaled FROM content_analytics WHERE sentiment IS NOT NULL ORDER BY page_id LIMIT 40');
d('avg of real arithmetic', 'SELECT avg(sentiment * 100) AS a, avg(sentiment + 0.1) AS b, max(sentiment * 3) AS c FROM content_analytics');
d('real with real and with an untyped literal stays float4', "SELECT page_id, sentiment * sentiment AS sq, sentiment + '0.5' AS plus, sentiment * CAST('1.5' AS real) AS scaled FROM content_analytics WHERE sentiment IS NOT NULL ORDER BY page_id LIMIT 40");
d('real with a float8 column', 'SELECT page_id, sentiment * readability AS x, sentiment < readability AS lt FROM content_analytics WHERE sentiment IS NOT NULL ORDER BY page_id LIMIT 40');
d('real in BETWEEN with numeric bounds', 'SELECT count(*) FILTER (WHERE sentiment BETWEEN -0.1 AND 0.1) AS a, count(*) FILTER (WHERE sentiment NOT BETWEEN 0 AND 0.5) AS b FROM content_analytics');
d('real IN one numeric (the = operator)', "SELECT count(*) AS n FROM content_analytics WHERE CAST('0.1' AS real) IN (0.1)");
d('real IN several numerics (common type float4)', "SELECT count(*) AS n FROM content_analytics WHERE CAST('0.1' AS real) IN (0.1, 0.2)");
d('float8-only functions of a real', 'SELECT page_id, sqrt(abs(sentiment)) AS r, ceil(sentiment * 10) AS c, floor(sentiment) AS f, exp(sentiment) AS e FROM content_analytics WHERE sentiment IS NOT NULL ORDER BY page_id LIMIT 40');
d('CASE/COALESCE/GREATEST of a real with numerics stay float4', 'SELECT page_id, coalesce(sentiment, 0.1) AS c, greatest(sentiment, 0) AS g, CASE WHEN sentiment > 0 THEN sentiment ELSE 0.3 END AS k, least(sentiment, 0.7, 1) AS l FROM content_analytics ORDER BY page_id LIMIT 40');
d('real in window functions', 'SELECT page_id, lag(sentiment) OVER (ORDER BY page_id) AS prev, avg(sentiment) OVER (ORDER BY page_id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS mov, max(sentiment * 2) OVER (PARTITION BY project_id) AS mx FROM content_analytics WHERE sentiment IS NOT NULL ORDER BY page_id LIMIT 40');
d('real through a subquery and a CTE', 'WITH s AS (SELECT page_id, sentiment AS x FROM content_analytics) SELECT q.page_id, q.y * 10 AS y10, q.y > 0.2 AS big FROM (SELECT page_id, x AS y FROM s WHERE x IS NOT NULL) q ORDER BY q.page_id LIMIT 30');
group('float4 with numerics');
d('real compared with a numeric column', 'SELECT count(*) FILTER (WHERE sentiment * 100 < quality_score) AS a, count(*) FILTER (WHERE sentiment >= quality_score / 100) AS b, count(*) FILTER (WHERE quality_score > sentiment) AS c FROM content_analytics');
d('CASE over a real with numeric WHEN values', "SELECT count(*) FILTER (WHERE CASE CAST('0.1' AS real) WHEN 0.1 THEN true ELSE false END) AS n FROM content_analytics");
d('real UNION numeric constants (float4)', 'SELECT x FROM (SELECT sentiment AS x FROM content_analytics WHERE page_id < 60 AND sentiment IS NOT NULL UNION ALL SELECT 0.1 UNION ALL SELECT 0.3) u ORDER BY x');
p('float4 sum below the top level', 'SELECT project_id FROM content_analytics GROUP BY 1 HAVING sum(sentiment) > 1 ORDER BY 1', 'sum(real) accumulates in float4 in Postgres, in double in DuckDB');
p('running float4 sum', 'SELECT page_id, sum(sentiment) OVER (ORDER BY page_id) FROM content_analytics WHERE sentiment IS NOT NULL ORDER BY page_id LIMIT 30', 'sum(real) accumulates in float4 in Postgres, in double in DuckDB');

group('params');
const dp = (name: string, sql: string, params: string[]): void => {
  cases.push({ name: `${section}: ${name}`, sql, expect: 'duckdb', params });
};
dp('int range', 'SELECT status_code, count(*) FROM scrape_pages WHERE fetch_ms > $1 GROUP BY 1 ORDER BY 1', ['150']);
dp('date range', "SELECT CAST(date_trunc('month', archive_date) AS date) AS m, count(*) FROM cdx_records WHERE archive_date >= $1 AND archive_date < $2 GROUP BY 1 ORDER BY 1", ['2024-01-01', '2024-07-01']);
dp('timestamptz range', "SELECT date_trunc('day', occurred_at) AS d, count(*) FROM events WHERE occurred_at >= $1 GROUP BY 1 ORDER BY 1", ['2024-12-01 00:00:00+00']);
dp('text LIKE pattern', 'SELECT mimetype, count(*), sum(length) FROM cdx_records WHERE mimetype LIKE $1 GROUP BY 1 ORDER BY 1', ['text/%']);
dp('range and limit', 'SELECT project_id, count(*) FROM scrape_pages WHERE depth <= $1 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $2', ['2', '5']);
cases.push({
  name: 'params: numeric parameter',
  sql: 'SELECT language, count(*) FROM content_analytics WHERE quality_score > $1 GROUP BY 1 ORDER BY 1',
  expect: 'postgres',
  why: 'a numeric parameter is bound as DECIMAL(38,10): a value with more decimals goes to Postgres',
  params: ['50.00000000000001'],
});
// an aggregate filtered by col = $1 needs a cost estimate: an execution asks EXPLAIN with the values it
// binds (the explain hint, which has none, reports the route without it)
dp('equality filter (cost asked with the bound values)', 'SELECT depth, count(*) FROM scrape_pages WHERE project_id = $1 GROUP BY 1 ORDER BY 1', ['1']);

// Parameter values are read by Postgres's input functions, not DuckDB's casts (src/session/param-values.ts):
// each such case runs with text values (extended text) and with the same values in binary (extended
// binary), and must answer on DuckDB as Postgres does.
const int4 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const int8 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
};
const float8 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return b;
};
/** microseconds since 2000-01-01 00:00:00 (UTC for timestamptz), Postgres's binary timestamp */
const pgMicros = (iso: string, micros = 0n): Buffer => int8(BigInt(Date.parse(iso) - Date.parse('2000-01-01T00:00:00Z')) * 1000n + micros);
const pgDays = (iso: string): Buffer => int4((Date.parse(iso) - Date.parse('2000-01-01T00:00:00Z')) / 86_400_000);
const bool = (v: boolean): Buffer => Buffer.from([v ? 1 : 0]);
const interval = (micros: bigint, days: number, months: number): Buffer => Buffer.concat([int8(micros), int4(days), int4(months)]);
const OID = { bool: 16, int4: 23, float8: 701, date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, interval: 1186, uuid: 2950 };
const dpb = (name: string, sql: string, params: string[], binary: { types: number[]; values: Array<Buffer | null> }): void => {
  cases.push({ name: `${section}: ${name}`, sql, expect: 'duckdb', params, binary });
};
dpb('timestamptz with seven fractional digits (Postgres rounds, DuckDB truncates)', 'SELECT $1::timestamptz AS t, count(*) AS n FROM events WHERE occurred_at < $1', ['2024-06-01 10:00:00.1234567+00'], { types: [OID.timestamptz], values: [pgMicros('2024-06-01T10:00:00Z', 123457n)] });
dpb('timestamp with seven fractional digits', 'SELECT $1::timestamp AS t, count(*) AS n FROM cdx_records WHERE captured_at >= $1', ['2024-03-01 12:00:00.9999996'], { types: [OID.timestamp], values: [pgMicros('2024-03-01T12:00:01Z')] });
dpb('timestamptz in another notation', 'SELECT $1::timestamptz AS t, count(*) AS n FROM events WHERE occurred_at >= $1', ['June 1, 2024 10:00 PM +02'], { types: [OID.timestamptz], values: [pgMicros('2024-06-01T20:00:00Z')] });
dpb('integer with blanks and sign', 'SELECT $1::int AS v, count(*) AS n FROM scrape_pages WHERE fetch_ms > $1', [' +150 '], { types: [OID.int4], values: [int4(150)] });
dpb('bool as on/off', 'SELECT $1::bool AS v, count(*) AS n FROM cdx_records WHERE is_revisit = $1', ['on'], { types: [OID.bool], values: [bool(true)] });
dpb('date in another notation and infinity', 'SELECT $1::date AS a, $2::date AS b, count(*) AS n FROM cdx_records WHERE archive_date >= $1 AND archive_date < $2', ['Jan 5, 2024', 'infinity'], { types: [OID.date, OID.date], values: [pgDays('2024-01-05T00:00:00Z'), int4(0x7fffffff)] });
dpb('interval in ISO 8601 notation', 'SELECT $1::interval AS v, count(*) AS n FROM projects WHERE schedule_interval < $1', ['P1DT2H'], { types: [OID.interval], values: [interval(7_200_000_000n, 1, 0)] });
dpb('time with AM/PM', 'SELECT $1::time AS v, count(*) AS n FROM projects WHERE preferred_crawl_time < $1', ['10:30 PM'], { types: [OID.time], values: [int8(81_000_000_000n)] });
dpb('uuid with braces', 'SELECT $1::uuid AS v, count(*) AS n FROM events WHERE session_id <> $1', ['{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'], { types: [OID.uuid], values: [Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'hex')] });
// numeric_send: ndigits, weight, sign, dscale, base-10000 digits (50.5: 50 and 5000, weight 0, dscale 1)
const numeric = (digits: number[], weight: number, dscale: number, negative = false): Buffer => Buffer.concat([Buffer.from([0, digits.length]), int4(((weight & 0xffff) << 16) | (negative ? 0x4000 : 0)).subarray(0, 4), Buffer.from([0, dscale]), ...digits.map((d) => Buffer.from([d >> 8, d & 0xff]))]);
dpb('numeric compared with a numeric column', 'SELECT language, count(*) FROM content_analytics WHERE quality_score > $1 AND quality_score <= $2 GROUP BY 1 ORDER BY 1 NULLS FIRST', ['50.5', ' 9e1 '], { types: [1700, 1700], values: [numeric([50, 5000], 0, 1), numeric([90], 0, 0)] });
dpb('float8 with an exponent and blanks', 'SELECT $1::float8 AS v, count(*) AS n FROM domains WHERE page_rank > $1', ['  5e-1 '], { types: [OID.float8], values: [float8(0.5)] });

export const analyticsCorpus: readonly AnalyticsCase[] = cases;
