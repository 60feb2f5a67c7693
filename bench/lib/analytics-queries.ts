// The statements bench:analytics times: analytical reads over the demo schema (src/demo) modelled on
// the seeds' dashboards (performance summary, domain analysis, quality distribution, hourly events)
// and on what BI tools send (Metabase's date buckets, quoted and fully qualified). Results are small
// (aggregates, top-N): the bench measures query work, not the transfer of millions of rows.
//
// `expect` is where duckgate should run the statement today; a statement expected on DuckDB that runs
// on Postgres is flagged in the report. The percentile is expected on Postgres: ordered-set aggregates
// (WITHIN GROUP) are not translated by the DuckDB rewrite (src/engines/duckdb/rewrite.ts).

export interface BenchStatement {
  name: string;
  sql: string;
  expect: 'duckdb' | 'postgres';
}

const q = (name: string, sql: string, expect: 'duckdb' | 'postgres' = 'duckdb'): BenchStatement => ({
  name,
  sql: sql.replace(/\s+/g, ' ').trim(),
  expect,
});

export const STATEMENTS: readonly BenchStatement[] = [
  q(
    'performance_summary_per_project',
    `SELECT p.name, count(*) AS pages, avg(sp.fetch_ms) AS avg_fetch_ms, sum(sp.content_length) AS bytes,
            count(*) FILTER (WHERE NOT sp.is_success) AS failures
       FROM scrape_pages sp JOIN projects p ON p.id = sp.project_id
      GROUP BY p.name ORDER BY pages DESC, p.name LIMIT 20`,
  ),
  q(
    'domain_analysis',
    `SELECT d.name, d.category, count(*) AS captures, count(DISTINCT c.urlkey) AS urls, sum(c.length) AS bytes,
            min(c.archive_date) AS first_capture, max(c.archive_date) AS last_capture
       FROM cdx_records c JOIN domains d ON d.id = c.domain_id
      GROUP BY d.name, d.category ORDER BY captures DESC, d.name LIMIT 25`,
  ),
  q(
    'quality_distribution',
    `SELECT CASE WHEN quality_score IS NULL THEN 'unscored' WHEN quality_score >= 80 THEN 'excellent'
                 WHEN quality_score >= 60 THEN 'good' WHEN quality_score >= 40 THEN 'fair' ELSE 'poor' END AS band,
            count(*) AS pages, avg(word_count) AS avg_words, max(quality_score) AS best
       FROM content_analytics GROUP BY 1 ORDER BY 1`,
  ),
  q(
    'hourly_events',
    `SELECT extract(hour FROM occurred_at) AS hour, count(*) AS events, count(DISTINCT user_id) AS users
       FROM events GROUP BY 1 ORDER BY 1`,
  ),
  q(
    'metabase_monthly_archive',
    `SELECT date_trunc('month', "public"."cdx_records"."archive_date") AS "archive_date", count(*) AS "count"
       FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC`,
  ),
  q(
    'metabase_weekly_captured_as_date',
    `SELECT CAST(date_trunc('week', "public"."cdx_records"."captured_at") AS date) AS "captured_at", count(*) AS "count"
       FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC`,
  ),
  q(
    'metabase_day_of_week',
    `SELECT CAST(extract(dow FROM "public"."cdx_records"."captured_at") AS integer) AS "captured_at", count(*) AS "count"
       FROM "public"."cdx_records" GROUP BY 1 ORDER BY 1 ASC`,
  ),
  q(
    'top_mimetypes',
    `SELECT mimetype, count(*) AS captures, sum(length) AS bytes FROM cdx_records
      GROUP BY mimetype ORDER BY captures DESC, mimetype LIMIT 10`,
  ),
  q(
    'status_code_distribution',
    `SELECT statuscode, count(*) AS captures FROM cdx_records GROUP BY statuscode ORDER BY statuscode NULLS FIRST`,
  ),
  q(
    'captures_per_tld',
    `SELECT d.tld, count(*) AS captures, count(DISTINCT c.domain_id) AS domains, sum(c.length) AS bytes
       FROM cdx_records c JOIN domains d ON d.id = c.domain_id GROUP BY d.tld ORDER BY captures DESC, d.tld`,
  ),
  q(
    'category_by_year',
    `SELECT d.category, extract(year FROM c.archive_date) AS year, count(*) AS captures
       FROM cdx_records c JOIN domains d ON d.id = c.domain_id GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2`,
  ),
  q(
    'revisits_per_project',
    `SELECT project_id, count(*) FILTER (WHERE is_revisit) AS revisits, count(*) AS captures, max(captured_at) AS latest
       FROM cdx_records GROUP BY project_id ORDER BY project_id NULLS FIRST`,
  ),
  q(
    'distinct_urls',
    `SELECT count(DISTINCT urlkey) AS urls, count(DISTINCT digest) AS digests FROM cdx_records`,
  ),
  q(
    'window_top3_domains_per_tld',
    `SELECT tld, name, captures, rnk FROM (
        SELECT d.tld, d.name, count(*) AS captures, rank() OVER (PARTITION BY d.tld ORDER BY count(*) DESC) AS rnk
          FROM cdx_records c JOIN domains d ON d.id = c.domain_id GROUP BY d.tld, d.name) s
      WHERE rnk <= 3 ORDER BY tld, rnk, name`,
  ),
  q(
    'window_running_daily_total',
    `SELECT archive_date, captures, sum(captures) OVER (ORDER BY archive_date) AS running_total
       FROM (SELECT archive_date, count(*) AS captures FROM cdx_records GROUP BY archive_date) s ORDER BY archive_date`,
  ),
  q(
    'window_month_over_month',
    `WITH monthly AS (
        SELECT date_trunc('month', captured_at) AS month, count(*) AS captures, sum(length) AS bytes
          FROM cdx_records GROUP BY 1)
      SELECT month, captures, captures - lag(captures) OVER (ORDER BY month) AS change, bytes
        FROM monthly ORDER BY month`,
  ),
  q(
    'events_by_type_and_weekday',
    `SELECT event_type, extract(isodow FROM occurred_at) AS weekday, count(*) AS events
       FROM events GROUP BY 1, 2 ORDER BY 1, 2`,
  ),
  q(
    'scrape_errors_by_category',
    `SELECT d.category, sp.status_code, count(*) AS pages, avg(sp.fetch_ms) AS avg_fetch_ms
       FROM scrape_pages sp JOIN domains d ON d.id = sp.domain_id
      WHERE sp.status_code >= 400 GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2`,
  ),
  q(
    'warc_files_per_day',
    `SELECT split_part(warc_filename, '-', 2) AS day, count(*) AS records, sum(length) AS bytes
       FROM cdx_records WHERE mimetype = 'text/html' GROUP BY 1 ORDER BY records DESC, day LIMIT 10`,
  ),
  q(
    'project_analytics_monthly',
    `SELECT date_trunc('month', day) AS month, sum(pages) AS pages, sum(bytes) AS bytes, max(unique_domains) AS max_domains
       FROM project_analytics GROUP BY 1 ORDER BY 1`,
  ),
  q(
    'median_length_per_mimetype',
    `SELECT mimetype, percentile_cont(0.5) WITHIN GROUP (ORDER BY length) AS median_length
       FROM cdx_records GROUP BY mimetype ORDER BY mimetype`,
  ),
];
