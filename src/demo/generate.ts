// Data generation for the demo schema, as INSERT ... SELECT over generate_series so the rows are made
// inside Postgres (millions per second of CPU, no client round trips). Every value is a pure function
// of the row id through hashint8extended(id, salt): the same N gives byte-identical tables on any
// server, whatever the plan or the parallelism. Nothing reads now() or random().
//
// Realism, so analytical queries have something to find: power-law skew on domains, projects and
// users (a few are huge); growth over the two years (more rows later); a day/night rhythm for user
// events; NULLs where a real crawler leaves them (failed fetches, unknown language, public crawls).
//
// Derived columns live in subqueries ending in OFFSET 0: that keeps the planner from flattening them
// into the outer SELECT, where each reference would recompute the expression (hashes, to_char, md5).
import { DEMO_DAYS, DEMO_START } from './schema.js';

/** Row counts of one demo load, derived from the cdx_records count. */
export interface DemoSizes {
  users: number;
  projects: number;
  domains: number;
  scrapePages: number;
  events: number;
  cdxRecords: number;
}

export function demoSizes(rows: number): DemoSizes {
  return {
    users: 200,
    projects: 50,
    domains: 2000,
    scrapePages: Math.max(1, Math.floor(rows / 4)),
    events: Math.max(1, Math.floor(rows / 2)),
    cdxRecords: rows,
  };
}

/** Uniform in [0, 1) from the id expression and a salt: 52 bits of the seeded 64-bit hash. */
export function r(salt: number, id = 'g.i'): string {
  return `((hashint8extended(${id}, ${salt}) & 4503599627370495)::float8 / 4503599627370496.0)`;
}

/** Integer in [lo, hi] drawn uniformly. */
function int(lo: number, hi: number, rand: string): string {
  return `(${lo} + floor(${rand} * ${hi - lo + 1})::int)`;
}

/** Integer in [1, n] skewed towards 1 (power-law-like: exponent > 1 concentrates on low ids). */
function skewedId(n: number, exponent: number, rand: string): string {
  return `(1 + floor(${n} * power(${rand}, ${exponent}))::int)`;
}

function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Uniform pick from a list of SQL literals. */
function pick(values: readonly string[], rand: string): string {
  return `(ARRAY[${values.map(lit).join(', ')}])[1 + floor(${rand} * ${values.length})::int]`;
}

/** Weighted pick: pairs of (SQL expression, weight). Weights need not sum to 1. */
function weighted(pairs: ReadonlyArray<readonly [string, number]>, rand: string): string {
  const total = pairs.reduce((a, [, w]) => a + w, 0);
  let acc = 0;
  const whens = pairs.slice(0, -1).map(([v, w]) => {
    acc += w / total;
    return `WHEN ${rand} < ${acc.toFixed(6)} THEN ${v}`;
  });
  return `(CASE ${whens.join(' ')} ELSE ${pairs[pairs.length - 1]![0]} END)`;
}

const WORDS = [
  'acme', 'news', 'shop', 'tech', 'daily', 'open', 'green', 'blue', 'data', 'cloud',
  'home', 'travel', 'food', 'city', 'sport', 'health', 'music', 'photo', 'market', 'learn',
];
const TLDS = [['com', 45], ['org', 12], ['net', 8], ['io', 6], ['de', 7], ['fr', 4], ['uk', 4], ['jp', 3], ['edu', 4], ['gov', 2], ['info', 3], ['dev', 2]] as const;
const CATEGORIES = ['news', 'e-commerce', 'blog', 'government', 'education', 'technology', 'travel', 'sports', 'health', 'entertainment'];
const SECTIONS = ['articles', 'products', 'blog', 'docs', 'category', 'news', 'about', 'search', 'tags', 'help'];
const FIRST = ['Ada', 'Ben', 'Chloé', 'Dmitri', 'Emma', 'Farid', 'Grace', 'Hiro', 'Inès', 'Jonas', 'Kemi', 'Lars', 'Mei', 'Noah', "O'Neil", 'Priya'];
const LAST = ['Ng', 'Smith', 'Müller', 'García', 'Rossi', 'Tanaka', 'Okafor', 'Dubois', 'Kowalski', 'Silva', 'Johansson', 'Chen'];
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA', 'NL', 'ES'];
const TAGS = ['news', 'product', 'review', 'howto', 'opinion', 'sports', 'finance', 'tech', 'travel', 'recipe', 'video', 'legal'];

const startTz = `timestamptz '${DEMO_START} 00:00:00+00'`;
const startTs = `timestamp '${DEMO_START} 00:00:00'`;
const spanSeconds = DEMO_DAYS * 86400;

export function usersSql(n: number): string {
  const plan = weighted([["'free'", 55], ["'starter'", 25], ["'pro'", 15], ["'enterprise'", 5]], r(3));
  return `
INSERT INTO users (id, email, full_name, plan, country, is_active, created_at, last_login_at, api_key_hash, credits)
SELECT g.i,
       'user' || g.i || '@' || ${pick(['example.com', 'mail.test', 'corp.example', 'archive.test'], r(1))},
       CASE WHEN ${r(2)} < 0.04 THEN NULL ELSE ${pick(FIRST, r(20))} || ' ' || ${pick(LAST, r(21))} END,
       ${plan}::plan_tier,
       CASE WHEN ${r(4)} < 0.08 THEN NULL ELSE ${pick(COUNTRIES, r(5))} END,
       ${r(6)} >= 0.1,
       timestamptz '2021-06-01 00:00:00+00' + floor(${r(7)} * 1300 * 86400)::bigint * interval '1 second',
       CASE WHEN ${r(8)} < 0.12 THEN NULL ELSE timestamp '2024-06-01 00:00:00' + floor(${r(9)} * 214 * 86400 * 1000)::bigint * interval '1 millisecond' END,
       CASE WHEN ${r(10)} < 0.3 THEN NULL ELSE sha256(convert_to('demo-key-' || g.i, 'UTF8')) END,
       round((power(${r(11)}, 3) * 50000)::numeric, 2)
FROM generate_series(1, ${n}) AS g(i)`;
}

export function projectsSql(n: number, users: number): string {
  const status = weighted([["'active'", 70], ["'paused'", 20], ["'archived'", 10]], r(3));
  const schedule = weighted(
    [["interval '1 day'", 40], ["interval '6 hours'", 15], ["interval '7 days'", 20], ["interval '1 mon'", 10], ["interval '1 day 12:30:00'", 5], ['NULL', 10]],
    r(8),
  );
  return `
INSERT INTO projects (id, user_id, name, description, status, crawl_depth, max_pages, schedule_interval, preferred_crawl_time, settings, created_at, updated_at)
SELECT g.i,
       ${skewedId(users, 2, r(1))},
       initcap(${pick(WORDS, r(2))}) || ' ' || ${pick(['crawl', 'monitor', 'archive', 'audit', 'snapshot'], r(22))} || ' #' || g.i,
       CASE WHEN ${r(4)} < 0.25 THEN NULL ELSE 'Tracks ' || ${pick(CATEGORIES, r(5))} || ' sites; depth ' || ${int(1, 6, r(6))} END,
       ${status},
       ${int(1, 6, r(6))}::smallint,
       CASE WHEN ${r(7)} < 0.3 THEN NULL ELSE (1000 * ${int(1, 500, r(23))}) END,
       ${schedule},
       CASE WHEN ${r(9)} < 0.2 THEN NULL ELSE time '00:00' + floor(${r(10)} * 96)::int * interval '15 minutes' END,
       jsonb_build_object(
         'respect_robots', ${r(11)} < 0.9,
         'user_agent', ${pick(['duckbot/1.0', 'Mozilla/5.0 (compatible; duckbot)', 'archiver/2.3'], r(12))},
         'render_js', ${r(13)} < 0.35,
         'rate_limit_rps', ${int(1, 20, r(14))},
         'include', jsonb_build_array(${pick(SECTIONS, r(15))}, ${pick(SECTIONS, r(16))})
       ),
       timestamptz '2021-09-01 00:00:00+00' + floor(${r(17)} * 480 * 86400)::bigint * interval '1 second',
       CASE WHEN ${r(18)} < 0.15 THEN NULL ELSE timestamptz '2023-01-01 00:00:00+00' + floor(${r(19)} * ${spanSeconds})::bigint * interval '1 second' END
FROM generate_series(1, ${n}) AS g(i)`;
}

export function domainsSql(n: number): string {
  // Unique by construction: (i % 20, (i / 20) % 20, i / 400) identifies i.
  const label = `(ARRAY[${WORDS.map(lit).join(', ')}])[1 + g.i % 20] || (ARRAY[${WORDS.map(lit).join(', ')}])[1 + (g.i / 20) % 20] || CASE WHEN g.i >= 400 THEN (g.i / 400)::text ELSE '' END`;
  const tld = weighted(
    TLDS.map(([t, w]) => [lit(t), w] as const),
    r(1),
  );
  return `
INSERT INTO domains (id, name, tld, category, first_seen, robots_allowed, page_rank)
SELECT s.i, s.label || '.' || s.tld, s.tld, s.category, s.first_seen, s.robots_allowed, s.page_rank
FROM (
  SELECT g.i, ${label} AS label, ${tld} AS tld,
         CASE WHEN ${r(2)} < 0.1 THEN NULL ELSE ${pick(CATEGORIES, r(3))} END AS category,
         date '2015-01-01' + floor(${r(4)} * 3650)::int AS first_seen,
         CASE WHEN ${r(5)} < 0.05 THEN NULL ELSE ${r(6)} < 0.92 END AS robots_allowed,
         CASE WHEN ${r(7)} < 0.02 THEN NULL ELSE 10 * power(${r(8)}, 4) END AS page_rank
  FROM generate_series(1, ${n}) AS g(i)
  OFFSET 0
) s`;
}

export function scrapePagesSql(lo: number, hi: number, sz: DemoSizes): string {
  const status = weighted(
    [['200', 84], ['301', 4], ['302', 3], ['304', 1], ['403', 1.5], ['404', 4.5], ['429', 0.5], ['500', 1], ['503', 0.5]],
    r(4),
  );
  const contentType = weighted(
    [["'text/html; charset=utf-8'", 78], ["'application/pdf'", 5], ["'application/json'", 5], ["'image/jpeg'", 5], ["'text/plain'", 4], ['NULL', 3]],
    r(5),
  );
  return `
INSERT INTO scrape_pages (id, project_id, domain_id, url, status_code, content_type, content_length, fetch_ms, depth, is_success, content_hash, scraped_at, error_message)
SELECT s.i, s.project_id, s.domain_id,
       'https://' || CASE WHEN s.www THEN 'www.' ELSE '' END || d.name || s.path,
       s.status_code, CASE WHEN s.status_code BETWEEN 300 AND 399 THEN NULL ELSE s.content_type END,
       CASE WHEN s.status_code <> 200 OR s.r_len < 0.02 THEN NULL ELSE floor(200 + exp(6 + 6.5 * s.r_len))::int END,
       s.fetch_ms, s.depth, s.status_code < 400,
       CASE WHEN s.status_code <> 200 THEN NULL ELSE decode(md5('page-' || s.i), 'hex') END,
       s.scraped_at,
       CASE WHEN s.status_code >= 500 THEN 'upstream error ' || s.status_code
            WHEN s.status_code = 429 THEN 'rate limited; retry after ' || (s.fetch_ms % 120) || 's'
            WHEN s.status_code >= 400 THEN 'HTTP ' || s.status_code
            ELSE NULL END
FROM (
  SELECT g.i,
         ${skewedId(sz.projects, 2, r(1))} AS project_id,
         ${skewedId(sz.domains, 3, r(2))} AS domain_id,
         ${r(3)} < 0.6 AS www,
         '/' || ${pick(SECTIONS, r(6))} || '/' || ${pick(WORDS, r(7))} || '-' || floor(power(${r(8)}, 2) * 20000)::int || CASE WHEN ${r(9)} < 0.1 THEN '?page=' || ${int(2, 30, r(10))} ELSE '' END AS path,
         ${status}::smallint AS status_code,
         ${contentType} AS content_type,
         ${r(11)} AS r_len,
         floor(20 + exp(3 + 5 * power(${r(12)}, 1.5)))::int AS fetch_ms,
         ${weighted([['0', 10], ['1', 35], ['2', 30], ['3', 15], ['4', 7], ['5', 3]], r(13))}::smallint AS depth,
         ${startTz} + floor(sqrt(${r(14)}) * ${spanSeconds * 1000})::bigint * interval '1 millisecond' AS scraped_at
  FROM generate_series(${lo}, ${hi}) AS g(i)
  OFFSET 0
) s JOIN domains d ON d.id = s.domain_id`;
}

export function contentAnalyticsSql(lo: number, hi: number): string {
  const id = 'p.id';
  const lang = weighted(
    [["'en'", 55], ["'de'", 9], ["'fr'", 7], ["'es'", 7], ["'ja'", 5], ["'pt'", 4], ["'ru'", 3], ["'zh'", 3], ["'pt-BR'", 2], ['NULL', 5]],
    r(31, id),
  );
  const nTags = weighted([['0', 10], ['1', 30], ['2', 35], ['3', 25]], r(32, id));
  return `
INSERT INTO content_analytics (page_id, project_id, word_count, language, quality_score, readability, sentiment, has_images, image_count, link_count, tags, heading_counts, metadata, analyzed_at)
SELECT s.id, s.project_id,
       CASE WHEN s.html THEN s.word_count END,
       CASE WHEN s.html THEN s.language END,
       CASE WHEN s.html AND ${r(33, 's.id')} >= 0.03 THEN round((100 * (1 - power(${r(34, 's.id')}, 0.7)))::numeric, 2) END,
       CASE WHEN s.html THEN 5 + 85 * ${r(35, 's.id')} END,
       CASE WHEN s.html AND ${r(36, 's.id')} >= 0.1 THEN (2 * ${r(37, 's.id')} - 1)::real END,
       s.image_count > 0,
       CASE WHEN s.html THEN s.image_count END,
       CASE WHEN s.html THEN floor(power(${r(38, 's.id')}, 2) * 400)::int END,
       CASE WHEN NOT s.html OR ${r(39, 's.id')} < 0.05 THEN NULL
            ELSE (ARRAY[${pick(TAGS, r(40, 's.id'))}, ${pick(TAGS, r(41, 's.id'))}, ${pick(TAGS, r(42, 's.id'))}])[1:s.n_tags] END,
       CASE WHEN s.html THEN ARRAY[${int(0, 2, r(43, 's.id'))}, ${int(0, 12, r(44, 's.id'))}, ${int(0, 30, r(45, 's.id'))}] END,
       CASE WHEN NOT s.html OR ${r(46, 's.id')} < 0.07 THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object(
         'title', initcap(${pick(WORDS, r(47, 's.id'))} || ' ' || ${pick(TAGS, r(48, 's.id'))}),
         'author', CASE WHEN ${r(49, 's.id')} < 0.4 THEN ${pick(FIRST, r(50, 's.id'))} || ' ' || ${pick(LAST, r(51, 's.id'))} END,
         'canonical', ${r(52, 's.id')} < 0.7,
         'og', CASE WHEN ${r(53, 's.id')} < 0.6 THEN jsonb_build_object('type', ${pick(['article', 'website', 'product', 'video'], r(54, 's.id'))}, 'has_image', s.image_count > 0) END,
         'schema_org', CASE WHEN ${r(55, 's.id')} < 0.3 THEN jsonb_build_array(${pick(['Article', 'Product', 'BreadcrumbList', 'Organization', 'FAQPage'], r(56, 's.id'))}) END,
         'word_count', s.word_count
       )) END,
       s.scraped_at + (1 + floor(${r(57, 's.id')} * 3600))::int * interval '1 second'
FROM (
  SELECT p.id, p.project_id, p.scraped_at,
         p.status_code = 200 AND p.content_type LIKE 'text/html%' AS html,
         floor(50 + exp(4 + 4.5 * ${r(30, id)}))::int AS word_count,
         ${lang} AS language,
         ${nTags} AS n_tags,
         (CASE WHEN ${r(58, id)} < 0.3 THEN 0 ELSE floor(power(${r(59, id)}, 2) * 80)::int END)::smallint AS image_count
  FROM scrape_pages p
  WHERE p.id BETWEEN ${lo} AND ${hi}
  OFFSET 0
) s`;
}

/** Daily per-project rollups of scrape_pages over the whole span (zero-page days included, their averages NULL). */
export function projectAnalyticsSql(): string {
  return `
INSERT INTO project_analytics (project_id, day, pages, bytes, avg_fetch_ms, error_rate, unique_domains)
SELECT p.id, d.day, coalesce(a.pages, 0), coalesce(a.bytes, 0), a.avg_fetch_ms, a.error_rate, coalesce(a.unique_domains, 0)
FROM projects p
CROSS JOIN (SELECT (date '${DEMO_START}' + k) AS day FROM generate_series(0, ${DEMO_DAYS - 1}) AS k) d
LEFT JOIN (
  SELECT project_id, (scraped_at AT TIME ZONE 'UTC')::date AS day,
         count(*)::int AS pages,
         coalesce(sum(content_length), 0)::bigint AS bytes,
         round(avg(fetch_ms), 2) AS avg_fetch_ms,
         avg(CASE WHEN status_code >= 400 THEN 1.0 ELSE 0.0 END)::float8 AS error_rate,
         count(DISTINCT domain_id)::int AS unique_domains
  FROM scrape_pages
  GROUP BY 1, 2
) a ON a.project_id = p.id AND a.day = d.day`;
}

export function cdxRecordsSql(lo: number, hi: number, sz: DemoSizes): string {
  const mimetype = weighted(
    [["'text/html'", 68], ["'image/jpeg'", 8], ["'image/png'", 5], ["'application/javascript'", 5], ["'text/css'", 4], ["'application/pdf'", 3], ["'application/json'", 2], ["'warc/revisit'", 5]],
    r(3),
  );
  const status = weighted([['200', 88], ['301', 4], ['302', 3], ['404', 4], ['500', 0.6], ['503', 0.4]], r(4));
  return `
INSERT INTO cdx_records (id, urlkey, cdx_timestamp, archive_date, captured_at, original, mimetype, statuscode, digest, length, warc_offset, warc_filename, domain_id, project_id, is_revisit)
SELECT m.i,
       d.tld || ',' || split_part(d.name, '.', 1) || ')' || lower(m.path),
       to_char(m.captured_at, 'YYYYMMDDHH24MISS'),
       m.captured_at::date,
       m.captured_at,
       CASE WHEN m.https THEN 'https://' ELSE 'http://' END || CASE WHEN m.www THEN 'www.' ELSE '' END || d.name || m.path,
       m.mimetype,
       CASE WHEN m.is_revisit THEN NULL ELSE m.statuscode END,
       translate(upper(md5('cdx-' || m.page_no || '-' || m.domain_id || '-' || (m.i % 7))), '0189', 'QRST'),
       CASE WHEN m.is_revisit THEN 400 + floor(m.r_len * 400)::bigint ELSE floor(300 + exp(5 + 7 * power(m.r_len, 1.5)))::bigint END,
       (m.i % 40000) * 26000 + floor(m.r_len * 1000)::bigint,
       'DG-' || to_char(m.captured_at, 'YYYYMMDD') || '-' || lpad((m.i / 40000)::text, 5, '0') || '.warc.gz',
       m.domain_id, m.project_id, m.is_revisit
FROM (
  SELECT s.*, s.mimetype = 'warc/revisit' AS is_revisit,
         '/' || s.section || '/' || s.page_no || CASE s.mimetype
           WHEN 'image/jpeg' THEN '.jpg' WHEN 'image/png' THEN '.png' WHEN 'application/javascript' THEN '.js'
           WHEN 'text/css' THEN '.css' WHEN 'application/pdf' THEN '.pdf' WHEN 'application/json' THEN '.json'
           ELSE '.html' END AS path
  FROM (
    SELECT g.i,
           ${skewedId(sz.domains, 3, r(1))} AS domain_id,
           CASE WHEN ${r(2)} < 0.3 THEN NULL ELSE ${skewedId(sz.projects, 2, r(12))} END AS project_id,
           ${mimetype} AS mimetype,
           ${status}::smallint AS statuscode,
           ${pick(SECTIONS, r(5))} AS section,
           floor(power(${r(6)}, 2) * 5000)::int AS page_no,
           ${r(7)} AS r_len,
           ${r(8)} < 0.75 AS https,
           ${r(9)} < 0.5 AS www,
           ${startTs} + floor(power(${r(10)}, 0.6) * ${spanSeconds})::bigint * interval '1 second' AS captured_at
    FROM generate_series(${lo}, ${hi}) AS g(i)
    OFFSET 0
  ) s
  OFFSET 0
) m JOIN domains d ON d.id = m.domain_id`;
}

export function eventsSql(lo: number, hi: number, sz: DemoSizes): string {
  const type = weighted(
    [["'page_view'", 40], ["'api_call'", 12], ["'search'", 15], ["'crawl_started'", 10], ["'crawl_finished'", 9], ["'export'", 6], ["'login'", 5], ["'logout'", 3]],
    r(3),
  );
  return `
INSERT INTO events (id, user_id, project_id, event_type, occurred_at, payload, duration, session_id, user_agent)
SELECT s.i, s.user_id,
       CASE WHEN s.event_type IN ('login', 'logout', 'search') THEN NULL ELSE s.project_id END,
       s.event_type,
       s.occurred_at,
       CASE WHEN ${r(20, 's.i')} < 0.08 THEN NULL ELSE CASE s.event_type
         WHEN 'page_view' THEN jsonb_build_object('path', '/' || ${pick(['dashboard', 'projects', 'reports', 'settings', 'billing', 'explore'], r(21, 's.i'))}, 'referrer', CASE WHEN ${r(22, 's.i')} < 0.5 THEN NULL ELSE 'https://' || ${pick(WORDS, r(23, 's.i'))} || '.com/' END)
         WHEN 'api_call' THEN jsonb_build_object('endpoint', '/v1/' || ${pick(['cdx', 'pages', 'snapshots', 'exports', 'domains'], r(24, 's.i'))}, 'status', ${weighted([['200', 93], ['400', 3], ['429', 2], ['500', 2]], r(25, 's.i'))}, 'latency_ms', round((5 + exp(2 + 4 * ${r(26, 's.i')}))::numeric, 1))
         WHEN 'search' THEN jsonb_build_object('query', ${pick(WORDS, r(27, 's.i'))} || ' ' || ${pick(TAGS, r(28, 's.i'))}, 'results', floor(power(${r(29, 's.i')}, 3) * 5000)::int)
         WHEN 'crawl_started' THEN jsonb_build_object('pages_queued', ${int(10, 50000, r(30, 's.i'))}, 'depth', ${int(1, 6, r(31, 's.i'))})
         WHEN 'crawl_finished' THEN jsonb_build_object('pages', ${int(10, 50000, r(30, 's.i'))}, 'errors', ${int(0, 500, r(32, 's.i'))}, 'ok', ${r(33, 's.i')} < 0.9)
         WHEN 'export' THEN jsonb_build_object('format', ${pick(['csv', 'parquet', 'json', 'warc'], r(34, 's.i'))}, 'rows', ${int(1, 1000000, r(35, 's.i'))})
         ELSE jsonb_build_object('method', ${pick(['password', 'sso', 'api_key'], r(36, 's.i'))}) END END,
       CASE s.event_type
         WHEN 'page_view' THEN floor(${r(37, 's.i')} * 600000)::int * interval '1 millisecond'
         WHEN 'api_call' THEN floor(5 + exp(2 + 4 * ${r(26, 's.i')}))::int * interval '1 millisecond'
         WHEN 'search' THEN floor(${r(38, 's.i')} * 3000)::int * interval '1 millisecond'
         WHEN 'crawl_finished' THEN make_interval(days => CASE WHEN ${r(39, 's.i')} < 0.05 THEN 1 ELSE 0 END, hours => ${int(0, 20, r(40, 's.i'))}, mins => ${int(0, 59, r(41, 's.i'))}, secs => ${int(0, 59, r(42, 's.i'))})
         WHEN 'export' THEN floor(${r(43, 's.i')} * 900)::int * interval '1 second'
         ELSE NULL END,
       md5('session-' || s.user_id || '-' || (s.i / 30))::uuid,
       CASE WHEN s.event_type = 'api_call' THEN NULL ELSE ${weighted(
         [["'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0'", 45], ["'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) Safari/605.1'", 25], ["'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0'", 12], ["'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2) Mobile/15E148'", 13], ['NULL', 5]],
         r(44, 's.i'),
       )} END
FROM (
  SELECT g.i,
         ${skewedId(sz.users, 2.5, r(1))} AS user_id,
         ${skewedId(sz.projects, 2, r(2))} AS project_id,
         ${type} AS event_type,
         -- growth over the span, and a day/night rhythm peaking around 14:00 UTC
         ${startTz} + floor(sqrt(${r(4)}) * ${DEMO_DAYS})::int * interval '86400 seconds'
           + mod(floor((86400 * ((${r(5)} + ${r(6)}) / 2) + 7200) * 1000)::bigint, 86400000) * interval '1 millisecond' AS occurred_at
  FROM generate_series(${lo}, ${hi}) AS g(i)
  OFFSET 0
) s`;
}
