// Runs a statement DuckDB answered once more on PostgreSQL, for shadow execution (session/shadow.ts):
// on duckgate's own connection (control credentials), in a REPEATABLE READ READ ONLY transaction whose
// snapshot is taken by a first statement that also reads the WAL position, under the client session's
// result-changing settings (SET LOCAL), with the client's parameters as text (their types inferred by
// Postgres, as for a client's Parse that declared none: the caller shadows only such statements),
// results in text. Returns the rows as text values and the WAL positions around the snapshot, so
// the caller can tell whether the two answers read the same committed state.
import pg from 'pg';

export interface ShadowSettings {
  searchPath: string;
  timeZone: string;
  dateStyle: string;
  intervalStyle: string;
  extraFloatDigits: string;
  byteaOutput: string;
}

export interface ShadowRunResult {
  rows: Array<Array<string | null>>;
  /** pg_current_wal_lsn() before the snapshot was taken, and inside it */
  lsnBefore: string;
  lsnInside: string;
}

/** One connection, one statement at a time (callers drop samples while it is busy). */
export class ShadowRunner {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;

  constructor(
    private readonly url: string,
    private readonly statementTimeoutMs: number,
  ) {}

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    this.connecting ??= (async () => {
      const c = new pg.Client({ connectionString: this.url, application_name: 'duckgate-shadow', statement_timeout: this.statementTimeoutMs });
      c.on('error', () => {
        // a lost connection is replaced at the next sample
        if (this.client === c) this.client = null;
      });
      await c.connect();
      this.client = c;
      return c;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  async run(sql: string, params: Array<string | null>, s: ShadowSettings): Promise<ShadowRunResult> {
    const c = await this.connection();
    // raw text values: no parsing into JS types, so they compare as the bytes a client would get
    const raw = { getTypeParser: () => (v: string) => v };
    try {
      const before = (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const inside = (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
      await c.query(
        `SELECT set_config('search_path', $1, true), set_config('TimeZone', $2, true), set_config('DateStyle', $3, true),
                set_config('IntervalStyle', $4, true), set_config('extra_float_digits', $5, true), set_config('bytea_output', $6, true)`,
        [s.searchPath, s.timeZone, s.dateStyle, s.intervalStyle, s.extraFloatDigits, s.byteaOutput],
      );
      const res = await c.query({ text: sql, values: params, rowMode: 'array', types: raw });
      await c.query('COMMIT');
      return { rows: res.rows as Array<Array<string | null>>, lsnBefore: before, lsnInside: inside };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
