// The demo dataset against a real PostgreSQL: sizes, keys, the type variety the differential corpus
// relies on, NULLs and time span, determinism (independent of chunking and of concurrent loaders)
// and idempotence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../support/servers.js';
import { loadDemo, demoSizes, DEMO_TABLES, type DemoTable } from '../../src/demo/index.js';

const ROWS = 2000;

const ORDER_BY: Record<DemoTable, string> = {
  users: 'id',
  projects: 'id',
  domains: 'id',
  scrape_pages: 'id',
  content_analytics: 'page_id',
  project_analytics: 'project_id, day',
  cdx_records: 'id',
  events: 'id',
};

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    // Checksums hash the text form of rows: fix the settings that change it.
    await c.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1");
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function checksums(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const out: Record<string, string> = {};
    for (const t of DEMO_TABLES) {
      const { rows } = await c.query<{ h: string }>(`SELECT md5(string_agg(t::text, E'\\n' ORDER BY ${ORDER_BY[t]})) AS h FROM ${t} t`);
      out[t] = rows[0]!.h;
    }
    return out;
  });
}

async function counts(url: string): Promise<Record<string, number>> {
  return withClient(url, async (c) => {
    const out: Record<string, number> = {};
    for (const t of DEMO_TABLES) out[t] = Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
    return out;
  });
}

describe('demo dataset', () => {
  let a: Awaited<ReturnType<typeof createTestDatabase>>;
  let b: Awaited<ReturnType<typeof createTestDatabase>>;
  let createdB: boolean[] = [];

  beforeAll(async () => {
    a = await createTestDatabase('demo_a');
    b = await createTestDatabase('demo_b');
    await loadDemo(a.url, { rows: ROWS });
    // b: small chunks, and two loaders racing on the same database
    const results = await Promise.all([loadDemo(b.url, { rows: ROWS, chunkRows: 333 }), loadDemo(b.url, { rows: ROWS, chunkRows: 777 })]);
    createdB = results.map((r) => r.created);
  });

  afterAll(async () => {
    await a?.drop();
    await b?.drop();
  });

  it('sizes the tables from the cdx_records count', async () => {
    const sz = demoSizes(ROWS);
    const n = await counts(a.url);
    expect(n).toEqual({
      users: 200,
      projects: 50,
      domains: 2000,
      scrape_pages: ROWS / 4,
      content_analytics: ROWS / 4,
      project_analytics: 50 * 731,
      cdx_records: ROWS,
      events: ROWS / 2,
    });
    expect(sz.scrapePages).toBe(ROWS / 4);
  });

  it('gives every table a primary key, and the foreign keys and secondary indexes', async () => {
    await withClient(a.url, async (c) => {
      const { rows } = await c.query<{ rel: string; p: number; f: number; ix: number }>(
        `SELECT cl.relname AS rel,
                count(*) FILTER (WHERE co.contype = 'p')::int AS p,
                count(*) FILTER (WHERE co.contype = 'f')::int AS f,
                (SELECT count(*)::int FROM pg_index i WHERE i.indrelid = cl.oid) AS ix
         FROM pg_class cl LEFT JOIN pg_constraint co ON co.conrelid = cl.oid
         WHERE cl.relname = ANY($1) AND cl.relkind = 'r' GROUP BY cl.oid, cl.relname ORDER BY 1`,
        [DEMO_TABLES],
      );
      expect(rows.map((r) => r.rel).sort()).toEqual([...DEMO_TABLES].sort());
      for (const r of rows) expect(r.p, r.rel).toBe(1);
      expect(rows.reduce((s, r) => s + r.f, 0)).toBe(9);
      expect(rows.find((r) => r.rel === 'cdx_records')!.ix).toBeGreaterThanOrEqual(3);
    });
  });

  it('covers the types duckgate must answer faithfully, with their typmods', async () => {
    await withClient(a.url, async (c) => {
      const { rows } = await c.query<{ rel: string; col: string; ty: string }>(
        `SELECT cl.relname AS rel, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS ty
         FROM pg_attribute a JOIN pg_class cl ON cl.oid = a.attrelid
         WHERE cl.relname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped`,
        [DEMO_TABLES],
      );
      const types = new Set(rows.map((r) => r.ty));
      for (const t of [
        'smallint', 'integer', 'bigint', 'numeric(5,2)', 'numeric(10,2)', 'numeric(12,2)', 'double precision', 'real',
        'text', 'character varying(255)', 'character(2)', 'character(14)', 'character(32)', 'boolean', 'date',
        'time without time zone', 'timestamp without time zone', 'timestamp with time zone', 'interval', 'uuid',
        'jsonb', 'bytea', 'text[]', 'integer[]', 'plan_tier',
      ]) {
        expect(types, t).toContain(t);
      }
      const col = (rel: string, name: string) => rows.find((r) => r.rel === rel && r.col === name)?.ty;
      expect(col('cdx_records', 'length')).toBe('bigint');
      expect(col('cdx_records', 'statuscode')).toBe('smallint');
      expect(col('events', 'session_id')).toBe('uuid');
      expect(col('project_analytics', 'avg_fetch_ms')).toBe('numeric(10,2)');
    });
  });

  it('has NULLs, skew and a two-year span where real data would', async () => {
    await withClient(a.url, async (c) => {
      const q = async (sql: string) => (await c.query(sql)).rows[0];
      const nulls = await q(`SELECT
          (SELECT count(*) FROM cdx_records WHERE statuscode IS NULL)::int AS cdx_status,
          (SELECT count(*) FROM cdx_records WHERE project_id IS NULL)::int AS cdx_project,
          (SELECT count(*) FROM content_analytics WHERE language IS NULL)::int AS lang,
          (SELECT count(*) FROM content_analytics WHERE tags IS NULL)::int AS tags,
          (SELECT count(*) FROM events WHERE payload IS NULL)::int AS payload,
          (SELECT count(*) FROM events WHERE duration IS NULL)::int AS duration,
          (SELECT count(*) FROM scrape_pages WHERE content_length IS NULL)::int AS clen,
          (SELECT count(*) FROM project_analytics WHERE avg_fetch_ms IS NULL)::int AS avg_ms`);
      for (const [k, v] of Object.entries(nulls)) expect(v, k).toBeGreaterThan(0);
      // every row is not NULL either: a column of only NULLs would test nothing
      const notNull = await q(`SELECT
          (SELECT count(statuscode) FROM cdx_records)::int AS cdx_status,
          (SELECT count(language) FROM content_analytics)::int AS lang,
          (SELECT count(payload) FROM events)::int AS payload,
          (SELECT count(avg_fetch_ms) FROM project_analytics)::int AS avg_ms`);
      for (const [k, v] of Object.entries(notNull)) expect(v, k).toBeGreaterThan(0);

      const span = await q(`SELECT (max(scraped_at) - min(scraped_at)) > interval '600 days' AS sp,
                                   (SELECT max(archive_date) - min(archive_date) FROM cdx_records) AS cdx_days,
                                   (SELECT count(DISTINCT date_trunc('month', occurred_at)) FROM events)::int AS months
                            FROM scrape_pages`);
      expect(span.sp).toBe(true);
      expect(span.cdx_days).toBeGreaterThan(600);
      expect(span.months).toBeGreaterThanOrEqual(20);

      // power-law skew: the busiest domain holds far more than an even share (1/2000) of captures
      const top = await q(`SELECT max(n)::float8 / sum(n) AS share FROM (SELECT count(*) AS n FROM cdx_records GROUP BY domain_id) s`);
      expect(top.share).toBeGreaterThan(0.01);
      // growth: the second year has more pages than the first
      const growth = await q(`SELECT count(*) FILTER (WHERE scraped_at >= '2024-01-01') > count(*) FILTER (WHERE scraped_at < '2024-01-01') AS g FROM scrape_pages`);
      expect(growth.g).toBe(true);
    });
  });

  it('is deterministic: independent loads (chunked differently, raced) give identical tables', async () => {
    expect(createdB.sort()).toEqual([false, true]);
    const [ha, hb] = await Promise.all([checksums(a.url), checksums(b.url)]);
    for (const t of DEMO_TABLES) expect(ha[t], t).toMatch(/^[0-9a-f]{32}$/);
    expect(hb).toEqual(ha);
  });

  it('is idempotent: a second load changes nothing', async () => {
    const before = await checksums(a.url);
    expect(await loadDemo(a.url, { rows: ROWS * 2 })).toEqual({ created: false });
    expect(await checksums(a.url)).toEqual(before);
  });

  it('leaves the events sequence past the generated ids', async () => {
    await withClient(b.url, async (c) => {
      const { rows } = await c.query(`INSERT INTO events (user_id, event_type, occurred_at, session_id)
        VALUES (1, 'login', now(), gen_random_uuid()) RETURNING id`);
      expect(Number(rows[0].id)).toBe(ROWS / 2 + 1);
    });
  });

  it('rejects a bad row count before touching the database', async () => {
    await expect(loadDemo('postgres://nobody@127.0.0.1:1/none', { rows: 0 })).rejects.toThrow(/positive integer/);
    await expect(loadDemo('postgres://nobody@127.0.0.1:1/none', { rows: 1.5 })).rejects.toThrow(/positive integer/);
  });
});
