// The generator's view of the demo schema (src/demo/schema.ts): which columns it may use, with a type
// class for generating well-typed expressions, and the foreign keys it joins along. jsonb, bytea, arrays
// and the enum are left out on purpose: duckgate refuses most operations on them (their comparisons and
// orderings are Postgres's own), so generated statements over them would mostly test refusals.
import pg from 'pg';

/**
 * Type classes the generator reasons in. The exact Postgres type (int2 vs int4, numeric(5,2) vs
 * numeric(12,2), float4 vs float8, varchar vs char) is kept in `pg` for the choices where it matters.
 */
export type Ty = 'int' | 'num' | 'float' | 'text' | 'bool' | 'date' | 'ts' | 'tstz' | 'interval' | 'time' | 'uuid';

export interface Column {
  name: string;
  ty: Ty;
  pg: string;
  nullable: boolean;
}

export interface Table {
  name: string;
  /** the primary key's columns */
  pk: string[];
  columns: Column[];
}

const c = (name: string, ty: Ty, pgType: string, nullable = false): Column => ({ name, ty, pg: pgType, nullable });

export const TABLES: readonly Table[] = [
  {
    name: 'users',
    pk: ['id'],
    columns: [
      c('id', 'int', 'int4'), c('email', 'text', 'varchar'), c('full_name', 'text', 'text', true), c('country', 'text', 'bpchar', true),
      c('is_active', 'bool', 'bool'), c('created_at', 'tstz', 'timestamptz'), c('last_login_at', 'ts', 'timestamp', true), c('credits', 'num', 'numeric(12,2)'),
    ],
  },
  {
    name: 'projects',
    pk: ['id'],
    columns: [
      c('id', 'int', 'int4'), c('user_id', 'int', 'int4'), c('name', 'text', 'varchar'), c('description', 'text', 'text', true), c('status', 'text', 'varchar'),
      c('crawl_depth', 'int', 'int2'), c('max_pages', 'int', 'int4', true), c('schedule_interval', 'interval', 'interval', true),
      c('preferred_crawl_time', 'time', 'time', true), c('created_at', 'tstz', 'timestamptz'), c('updated_at', 'tstz', 'timestamptz', true),
    ],
  },
  {
    name: 'domains',
    pk: ['id'],
    columns: [
      c('id', 'int', 'int4'), c('name', 'text', 'varchar'), c('tld', 'text', 'varchar'), c('category', 'text', 'text', true), c('first_seen', 'date', 'date'),
      c('robots_allowed', 'bool', 'bool', true), c('page_rank', 'float', 'float8', true),
    ],
  },
  {
    name: 'scrape_pages',
    pk: ['id'],
    columns: [
      c('id', 'int', 'int8'), c('project_id', 'int', 'int4'), c('domain_id', 'int', 'int4'), c('url', 'text', 'text'), c('status_code', 'int', 'int2'),
      c('content_type', 'text', 'varchar', true), c('content_length', 'int', 'int4', true), c('fetch_ms', 'int', 'int4'), c('depth', 'int', 'int2'),
      c('is_success', 'bool', 'bool'), c('scraped_at', 'tstz', 'timestamptz'), c('error_message', 'text', 'text', true),
    ],
  },
  {
    name: 'content_analytics',
    pk: ['page_id'],
    columns: [
      c('page_id', 'int', 'int8'), c('project_id', 'int', 'int4'), c('word_count', 'int', 'int4', true), c('language', 'text', 'varchar', true),
      c('quality_score', 'num', 'numeric(5,2)', true), c('readability', 'float', 'float8', true), c('sentiment', 'float', 'float4', true),
      c('has_images', 'bool', 'bool'), c('image_count', 'int', 'int2', true), c('link_count', 'int', 'int4', true), c('analyzed_at', 'tstz', 'timestamptz'),
    ],
  },
  {
    name: 'project_analytics',
    pk: ['project_id', 'day'],
    columns: [
      c('project_id', 'int', 'int4'), c('day', 'date', 'date'), c('pages', 'int', 'int4'), c('bytes', 'int', 'int8'), c('avg_fetch_ms', 'num', 'numeric(10,2)', true),
      c('error_rate', 'float', 'float8', true), c('unique_domains', 'int', 'int4'),
    ],
  },
  {
    name: 'cdx_records',
    pk: ['id'],
    columns: [
      c('id', 'int', 'int8'), c('urlkey', 'text', 'text'), c('cdx_timestamp', 'text', 'bpchar'), c('archive_date', 'date', 'date'), c('captured_at', 'ts', 'timestamp'),
      c('original', 'text', 'text'), c('mimetype', 'text', 'varchar'), c('statuscode', 'int', 'int2', true), c('length', 'int', 'int8'), c('warc_offset', 'int', 'int8'),
      c('domain_id', 'int', 'int4'), c('project_id', 'int', 'int4', true), c('is_revisit', 'bool', 'bool'),
    ],
  },
  {
    name: 'events',
    pk: ['id'],
    columns: [
      c('id', 'int', 'int8'), c('user_id', 'int', 'int4'), c('project_id', 'int', 'int4', true), c('event_type', 'text', 'text'), c('occurred_at', 'tstz', 'timestamptz'),
      c('duration', 'interval', 'interval', true), c('session_id', 'uuid', 'uuid'), c('user_agent', 'text', 'text', true),
    ],
  },
];

/** Foreign keys: from.col references to.col (the joins a real report makes). */
export const FOREIGN_KEYS: ReadonlyArray<{ from: string; col: string; to: string; toCol: string }> = [
  { from: 'projects', col: 'user_id', to: 'users', toCol: 'id' },
  { from: 'scrape_pages', col: 'project_id', to: 'projects', toCol: 'id' },
  { from: 'scrape_pages', col: 'domain_id', to: 'domains', toCol: 'id' },
  { from: 'content_analytics', col: 'page_id', to: 'scrape_pages', toCol: 'id' },
  { from: 'content_analytics', col: 'project_id', to: 'projects', toCol: 'id' },
  { from: 'project_analytics', col: 'project_id', to: 'projects', toCol: 'id' },
  { from: 'cdx_records', col: 'domain_id', to: 'domains', toCol: 'id' },
  { from: 'cdx_records', col: 'project_id', to: 'projects', toCol: 'id' },
  { from: 'events', col: 'user_id', to: 'users', toCol: 'id' },
  { from: 'events', col: 'project_id', to: 'projects', toCol: 'id' },
];

/** Rows per table at the demo's 2000 cdx rows (src/demo/generate.ts demoSizes), to bound join sizes. */
export const ROWS: Readonly<Record<string, number>> = {
  users: 200, projects: 50, domains: 2000, scrape_pages: 500, content_analytics: 500, project_analytics: 36550, cdx_records: 2000, events: 1000,
};

export function table(name: string): Table {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`unknown table ${name}`);
  return t;
}

/** Values present in the data, per "table.column", as Postgres's text: literals that hit rows. */
export type Samples = ReadonlyMap<string, readonly string[]>;

/**
 * Reads up to `perColumn` distinct values of every column, spread evenly over the sorted distinct values
 * (deterministic for a given dataset, so a seed regenerates the same statements).
 */
export async function sampleValues(url: string, perColumn = 12): Promise<Samples> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const out = new Map<string, string[]>();
  try {
    for (const t of TABLES) {
      for (const col of t.columns) {
        const { rows } = await client.query<{ v: string }>(
          `SELECT v FROM (SELECT v, row_number() OVER (ORDER BY v) AS i, count(*) OVER () AS n
             FROM (SELECT DISTINCT "${col.name}"::text AS v FROM "${t.name}" WHERE "${col.name}" IS NOT NULL) d) s
           WHERE (i - 1) % greatest(n / ${perColumn}, 1) = 0 ORDER BY v LIMIT ${perColumn}`,
        );
        out.set(`${t.name}.${col.name}`, rows.map((r) => r.v));
      }
    }
  } finally {
    await client.end();
  }
  return out;
}
