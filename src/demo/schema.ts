// The demo schema: a web crawler / web archive analytics product. It is what `npm start` shows,
// what `npm run bench:data` loads at scale, and what the differential corpus queries. It carries on
// purpose one column of nearly every type duckgate must answer faithfully (int2/4/8, numeric(p,s),
// float4/8, text, varchar(n), char(n), bool, date, time, timestamp, timestamptz, interval, uuid,
// jsonb, bytea, arrays and an enum), so the corpus can exercise them over real-looking data.
//
// Foreign keys and secondary indexes are created after the data is in (see load.ts): per-row RI
// triggers during a 10M-row INSERT ... SELECT would cost more than the whole generation.

/** Tables in dependency order (referenced tables first). */
export const DEMO_TABLES = [
  'users',
  'projects',
  'domains',
  'scrape_pages',
  'content_analytics',
  'project_analytics',
  'cdx_records',
  'events',
] as const;
export type DemoTable = (typeof DEMO_TABLES)[number];

/** The span of generated activity: two full years, so month/week/day buckets are meaningful. */
export const DEMO_START = '2023-01-01';
export const DEMO_DAYS = 731; // 2023-01-01 .. 2024-12-31 (2024 is a leap year)

export const CREATE_SCHEMA_SQL = `
CREATE TYPE plan_tier AS ENUM ('free', 'starter', 'pro', 'enterprise');

CREATE TABLE users (
  id             integer       PRIMARY KEY,
  email          varchar(255)  NOT NULL UNIQUE,
  full_name      text,
  plan           plan_tier     NOT NULL,
  country        char(2),
  is_active      boolean       NOT NULL,
  created_at     timestamptz   NOT NULL,
  last_login_at  timestamp,
  api_key_hash   bytea,
  credits        numeric(12,2) NOT NULL
);

CREATE TABLE projects (
  id                   integer      PRIMARY KEY,
  user_id              integer      NOT NULL,
  name                 varchar(120) NOT NULL,
  description          text,
  status               varchar(16)  NOT NULL,
  crawl_depth          smallint     NOT NULL,
  max_pages            integer,
  schedule_interval    interval,
  preferred_crawl_time time,
  settings             jsonb        NOT NULL,
  created_at           timestamptz  NOT NULL,
  updated_at           timestamptz
);

CREATE TABLE domains (
  id             integer      PRIMARY KEY,
  name           varchar(253) NOT NULL UNIQUE,
  tld            varchar(24)  NOT NULL,
  category       text,
  first_seen     date         NOT NULL,
  robots_allowed boolean,
  page_rank      float8
);

CREATE TABLE scrape_pages (
  id             bigint       PRIMARY KEY,
  project_id     integer      NOT NULL,
  domain_id      integer      NOT NULL,
  url            text         NOT NULL,
  status_code    smallint     NOT NULL,
  content_type   varchar(100),
  content_length integer,
  fetch_ms       integer      NOT NULL,
  depth          smallint     NOT NULL,
  is_success     boolean      NOT NULL,
  content_hash   bytea,
  scraped_at     timestamptz  NOT NULL,
  error_message  text
);

CREATE TABLE content_analytics (
  page_id        bigint       PRIMARY KEY,
  project_id     integer      NOT NULL,
  word_count     integer,
  language       varchar(8),
  quality_score  numeric(5,2),
  readability    float8,
  sentiment      real,
  has_images     boolean      NOT NULL,
  image_count    smallint,
  link_count     integer,
  tags           text[],
  heading_counts integer[],
  metadata       jsonb,
  analyzed_at    timestamptz  NOT NULL
);

CREATE TABLE project_analytics (
  project_id     integer       NOT NULL,
  day            date          NOT NULL,
  pages          integer       NOT NULL,
  bytes          bigint        NOT NULL,
  avg_fetch_ms   numeric(10,2),
  error_rate     float8,
  unique_domains integer       NOT NULL,
  PRIMARY KEY (project_id, day)
);

CREATE TABLE cdx_records (
  id             bigint       PRIMARY KEY,
  urlkey         text         NOT NULL,
  cdx_timestamp  char(14)     NOT NULL,
  archive_date   date         NOT NULL,
  captured_at    timestamp    NOT NULL,
  original       text         NOT NULL,
  mimetype       varchar(100) NOT NULL,
  statuscode     smallint,
  digest         char(32)     NOT NULL,
  length         bigint       NOT NULL,
  warc_offset    bigint       NOT NULL,
  warc_filename  text         NOT NULL,
  domain_id      integer      NOT NULL,
  project_id     integer,
  is_revisit     boolean      NOT NULL
);

CREATE TABLE events (
  id          bigserial    PRIMARY KEY,
  user_id     integer      NOT NULL,
  project_id  integer,
  event_type  text         NOT NULL,
  occurred_at timestamptz  NOT NULL,
  payload     jsonb,
  duration    interval,
  session_id  uuid         NOT NULL,
  user_agent  text
);
`;

/** Foreign keys, added (and validated in one pass each) once the rows are in. */
export const FOREIGN_KEYS_SQL: ReadonlyArray<{ table: DemoTable; sql: string }> = [
  { table: 'projects', sql: 'ALTER TABLE projects ADD FOREIGN KEY (user_id) REFERENCES users (id)' },
  { table: 'scrape_pages', sql: 'ALTER TABLE scrape_pages ADD FOREIGN KEY (project_id) REFERENCES projects (id)' },
  { table: 'scrape_pages', sql: 'ALTER TABLE scrape_pages ADD FOREIGN KEY (domain_id) REFERENCES domains (id)' },
  { table: 'content_analytics', sql: 'ALTER TABLE content_analytics ADD FOREIGN KEY (page_id) REFERENCES scrape_pages (id)' },
  { table: 'project_analytics', sql: 'ALTER TABLE project_analytics ADD FOREIGN KEY (project_id) REFERENCES projects (id)' },
  { table: 'cdx_records', sql: 'ALTER TABLE cdx_records ADD FOREIGN KEY (domain_id) REFERENCES domains (id)' },
  { table: 'cdx_records', sql: 'ALTER TABLE cdx_records ADD FOREIGN KEY (project_id) REFERENCES projects (id)' },
  { table: 'events', sql: 'ALTER TABLE events ADD FOREIGN KEY (user_id) REFERENCES users (id)' },
  { table: 'events', sql: 'ALTER TABLE events ADD FOREIGN KEY (project_id) REFERENCES projects (id)' },
];

/** Secondary indexes for the lookups a real product makes (the analytical scans need none). */
export const INDEXES_SQL: ReadonlyArray<{ table: DemoTable; sql: string }> = [
  { table: 'projects', sql: 'CREATE INDEX projects_user_id_idx ON projects (user_id)' },
  { table: 'scrape_pages', sql: 'CREATE INDEX scrape_pages_project_scraped_idx ON scrape_pages (project_id, scraped_at)' },
  { table: 'scrape_pages', sql: 'CREATE INDEX scrape_pages_domain_idx ON scrape_pages (domain_id)' },
  { table: 'content_analytics', sql: 'CREATE INDEX content_analytics_project_idx ON content_analytics (project_id)' },
  { table: 'cdx_records', sql: 'CREATE INDEX cdx_records_urlkey_ts_idx ON cdx_records (urlkey, cdx_timestamp)' },
  { table: 'cdx_records', sql: 'CREATE INDEX cdx_records_domain_date_idx ON cdx_records (domain_id, archive_date)' },
  { table: 'events', sql: 'CREATE INDEX events_user_occurred_idx ON events (user_id, occurred_at)' },
  { table: 'events', sql: 'CREATE INDEX events_occurred_idx ON events (occurred_at)' },
];
