// The in-process DuckDB leg of bench:analytics: the same DuckDB file duckgate served from (opened
// read-only once duckgate has stopped and closed it), the same SQL duckgate ran (its rewrite of the
// Postgres statement, plus the casts that align result types to Postgres's RowDescription), on a
// connection set up as duckgate sets up its own (integer_division, dg_nz, TimeZone, calendar macros). What it leaves
// out is exactly duckgate's share: the wire protocol, routing, the control round trip to Postgres,
// and encoding values as Postgres would.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { alignColumns, wrapWithCasts, type PgField } from '../../src/engines/duckdb/align.js';
import { CONNECTION_SETUP_SQL, DuckdbEngine, duckdbTimeZone, timeZoneSql } from '../../src/engines/duckdb/engine.js';

export interface DuckdbLeg {
  /** DuckDB SQL for a Postgres statement, given Postgres's RowDescription; a reason when it has none */
  translate(pgSql: string, fields: readonly PgField[]): Promise<{ ok: true; sql: string } | { ok: false; reason: string }>;
  /** runs the statement and reads every result chunk; returns the row count */
  run(sql: string): Promise<number>;
  close(): void;
}

export async function openDuckdbLeg(file: string, opts: { pgTimeZone: string; threads?: number }): Promise<DuckdbLeg> {
  const options: Record<string, string> = { access_mode: 'READ_ONLY' };
  if (opts.threads && opts.threads > 0) options['threads'] = String(opts.threads);
  const instance = await DuckDBInstance.create(file, options);
  const conn: DuckDBConnection = await instance.connect();
  // as DuckdbEngine does: Postgres's integer division and division-by-zero error, the session's
  // TimeZone and the calendar macros the rewrite calls
  await conn.run(CONNECTION_SETUP_SQL);
  const tz = duckdbTimeZone(opts.pgTimeZone);
  if (tz === null) throw new Error(`TimeZone ${opts.pgTimeZone} has no DuckDB equivalent (duckgate would send everything to Postgres)`);
  await conn.run(timeZoneSql(tz));

  // the serving tables the mirror created, as the session's resolver would map them (search_path = public)
  const tables = new Set(
    (await conn.runAndReadAll("SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_catalog = current_database()"))
      .getRowObjects()
      .map((r) => String(r['t'])),
  );
  if (tables.size === 0) throw new Error(`the DuckDB file ${file} holds no tables: did the mirror snapshot finish?`);
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const resolve = (schema: string | null, name: string): string | null => {
    const s = schema ?? 'public';
    return tables.has(`${s}.${name}`) ? `${quote(s)}.${quote(name)}` : null;
  };

  await DuckdbEngine.init();
  // only plan() is used: the rewrite duckgate itself would run (no connections are opened by it)
  const engine = new DuckdbEngine(instance, { connections: 1 });
  // the table facts duckgate plans with (pre-aggregation decisions)
  await engine.refreshFacts();

  return {
    async translate(pgSql, fields) {
      const plan = engine.plan(pgSql, resolve, fields.map((f) => f.typeOid));
      if (!plan.ok) return { ok: false, reason: plan.reason };
      const prepared = await conn.prepare(plan.sql);
      const types = Array.from({ length: prepared.columnCount }, (_, i) => prepared.columnType(i));
      prepared.destroySync();
      const aligned = alignColumns(types, fields, plan.kinds);
      if (!aligned.ok) return { ok: false, reason: aligned.reason };
      return { ok: true, sql: wrapWithCasts(plan.sql, aligned.casts) };
    },
    async run(sql) {
      const reader = await conn.runAndReadAll(sql);
      return reader.currentRowCount;
    },
    close() {
      engine.close();
      conn.closeSync();
      instance.closeSync();
    },
  };
}
