// Catalog queries the mirror needs: preconditions, which tables can be mirrored (and why not), their
// columns, and keeping the publication's table list equal to the mirrored set. The publication lists
// tables explicitly: FOR ALL TABLES would make UPDATE/DELETE fail on the users' tables that have no
// replica identity ("cannot update table … because it does not have a replica identity").
import type pg from 'pg';
import { rolePrivilegeProblems } from './privileges.js';
import { isIncluded, type MirrorRules, type PartitionKey } from './rules.js';
import { duckType, mapColumn, pgIdent, qualified, tableKey, type ColumnMapping, type PgColumnInfo } from './types.js';

export interface ColumnDef extends PgColumnInfo {
  mapping: ColumnMapping;
  duckType: string;
}

export interface TableDef {
  relid: number;
  schema: string;
  name: string;
  columns: ColumnDef[];
  /** primary key / replica identity index columns */
  key: string[];
  partitionBy: PartitionKey | null;
}

export { qualified, tableKey } from './types.js';

export interface PreconditionResult {
  ok: boolean;
  problems: string[];
}

/** wal_level, REPLICATION privilege, slots: each failure says exactly what to change. */
export async function checkPreconditions(c: pg.Client, slotName: string, publication?: string): Promise<PreconditionResult> {
  const problems: string[] = [];
  const wal = (await c.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
  if (wal !== 'logical')
    problems.push(`wal_level is '${wal}', logical replication needs 'logical': run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL`);
  const role = (
    await c.query<{ rolname: string; rolsuper: boolean; rolreplication: boolean }>(
      'SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user',
    )
  ).rows[0];
  // every missing privilege of the role at once, each with its statement (privileges.ts)
  if (publication !== undefined) problems.push(...(await rolePrivilegeProblems(c, publication)));
  else if (role && !role.rolsuper && !role.rolreplication)
    problems.push(`role ${role.rolname} may not replicate: run ALTER ROLE ${pgIdent(role.rolname)} REPLICATION; (and make sure it owns or may read the mirrored tables)`);
  const slots = (
    await c.query<{ max: string; used: string; mine: string }>(
      `SELECT current_setting('max_replication_slots') AS max, (SELECT count(*) FROM pg_replication_slots) AS used,
              (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1) AS mine`,
      [slotName],
    )
  ).rows[0]!;
  if (Number(slots.mine) === 0 && Number(slots.used) >= Number(slots.max))
    problems.push(`no free replication slot (max_replication_slots = ${slots.max}, all used): raise max_replication_slots and restart PostgreSQL, or drop an unused slot`);
  return { ok: problems.length === 0, problems };
}

interface RelRow {
  relid: string;
  schema: string;
  name: string;
  replident: string;
  persistence: string;
  key: string[] | null;
}

/** A table the rules select that cannot be mirrored, and the fix. */
export interface SkippedTable {
  table: string;
  reason: string;
}

/**
 * Tables the rules select that can be mirrored. Tables that cannot are appended to `skipped` with the
 * reason and the fix (the caller logs them, once per table and reason: this runs at every catalog poll).
 */
export async function discoverTables(c: pg.Client, rules: MirrorRules, schemas: string[], skipped: SkippedTable[] = []): Promise<TableDef[]> {
  const rels = (
    await c.query<RelRow>(`
      SELECT c.oid::int8::text AS relid, n.nspname::text AS schema, c.relname::text AS name, c.relreplident::text AS replident,
        c.relpersistence::text AS persistence,
        (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
           FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])
          WHERE i.indrelid = c.oid AND i.indisvalid AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END) AS key
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
      ORDER BY 2, 3`)
  ).rows;
  const chosen: RelRow[] = [];
  for (const r of rels) {
    if (!isIncluded(rules, schemas, r.schema, r.name)) continue;
    const table = `${r.schema}.${r.name}`;
    if (r.persistence === 'u') {
      // unlogged tables write no WAL, so they cannot be published (check_publication_add_relation)
      skipped.push({ table, reason: `not mirrored: ${table} is UNLOGGED (its changes are not in the WAL, so it cannot be published); ALTER TABLE ${qualified(r.schema, r.name)} SET LOGGED to mirror it` });
      continue;
    }
    if (r.replident === 'n' || !r.key || r.key.length === 0) {
      skipped.push({
        table,
        reason: `not mirrored: ${table} has no primary key or replica identity index; add a primary key, or ALTER TABLE ${qualified(r.schema, r.name)} REPLICA IDENTITY USING INDEX <a unique index on NOT NULL columns>`,
      });
      continue;
    }
    chosen.push(r);
  }
  if (chosen.length === 0) return [];
  const cols = await describeColumns(c, chosen.map((r) => Number(r.relid)));
  return chosen.map((r) => {
    const t = `${r.schema}.${r.name}`;
    return {
      relid: Number(r.relid),
      schema: r.schema,
      name: r.name,
      columns: cols.get(Number(r.relid)) ?? [],
      key: r.key!,
      partitionBy: rules.tables.get(t)?.partitionBy ?? null,
    };
  });
}

export async function describeColumns(c: pg.Client, relids: number[]): Promise<Map<number, ColumnDef[]>> {
  const rows = (
    await c.query<{
      relid: string;
      name: string;
      typeoid: string;
      typmod: number;
      attnum: number;
      pgtype: string;
      baseoid: string;
      typtype: string;
      elemoid: string;
      elemtyptype: string;
    }>(
      `SELECT a.attrelid::int8::text AS relid, a.attname::text AS name, a.atttypid::int8::text AS typeoid, a.atttypmod AS typmod, a.attnum::int AS attnum,
              format_type(a.atttypid, a.atttypmod) AS pgtype, bt.oid::int8::text AS baseoid, bt.typtype::text AS typtype,
              COALESCE(et.oid, 0)::int8::text AS elemoid, COALESCE(et.typtype::text, '') AS elemtyptype
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
         LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attrelid, a.attnum`,
      [relids],
    )
  ).rows;
  const out = new Map<number, ColumnDef[]>();
  for (const r of rows) {
    const info: PgColumnInfo = {
      name: r.name,
      typeOid: Number(r.typeoid),
      typmod: r.typmod,
      attnum: r.attnum,
      pgType: r.pgtype,
      baseOid: Number(r.baseoid),
      typtype: r.typtype,
      elemOid: Number(r.elemoid),
      elemTyptype: r.elemtyptype,
    };
    const mapping = mapColumn(info);
    const list = out.get(Number(r.relid)) ?? [];
    list.push({ ...info, mapping, duckType: duckType(mapping) });
    out.set(Number(r.relid), list);
  }
  return out;
}

/**
 * Makes the publication hold exactly `tables` (creating it if needed) as far as Postgres lets it, and
 * returns the tables it holds afterwards. A table that cannot be added (dropped since discovery, 42P01;
 * made unlogged or temporary; not owned, 42501) is left out and reported in `failed`: it is not
 * mirrored this time (its changes would not arrive) and is retried at the next catalog check. One such
 * table never fails the others.
 */
export async function syncPublication<T extends { schema: string; name: string }>(
  c: pg.Client,
  name: string,
  tables: T[],
  failed: Array<{ table: string; error: Error & { code?: string } }> = [],
): Promise<T[]> {
  const exists = (await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name])).rowCount! > 0;
  if (!exists) await c.query(`CREATE PUBLICATION ${pgIdent(name)}`);
  const cur = (await c.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [name])).rows;
  const want = new Set(tables.map((t) => tableKey(t.schema, t.name)));
  const have = new Set(cur.map((t) => tableKey(t.schemaname, t.tablename)));
  const add = tables.filter((t) => !have.has(tableKey(t.schema, t.name)));
  const drop = cur.filter((t) => !want.has(tableKey(t.schemaname, t.tablename)));
  const bad = new Set<string>();
  if (add.length) {
    try {
      await addTables(c, name, add);
    } catch {
      // one table at a time, so the ones that can be added are
      for (const t of add) {
        try {
          await addTables(c, name, [t]);
        } catch (e) {
          const k = tableKey(t.schema, t.name);
          bad.add(k);
          failed.push({ table: k, error: e as Error & { code?: string } });
        }
      }
    }
  }
  for (const t of drop) {
    try {
      await c.query(`ALTER PUBLICATION ${pgIdent(name)} DROP TABLE ${qualified(t.schemaname, t.tablename)}`);
    } catch (e) {
      // dropped meanwhile (it left the publication with it): nothing to do
      if ((e as { code?: string }).code !== '42P01') throw e;
    }
  }
  return tables.filter((t) => !bad.has(tableKey(t.schema, t.name)));
}

/**
 * ALTER PUBLICATION … ADD TABLE, kept only if every table still has a usable replica identity once it is
 * in. Discovery ran on an earlier snapshot: a concurrent ALTER TABLE … DROP CONSTRAINT …_pkey may commit
 * between it and the ADD (which waits for that DDL's lock), and the replica-identity guard (guard.ts),
 * which ran inside that DDL before the table was published, cannot take it out again: the table would
 * be published without an identity and the user's UPDATE/DELETE would fail. The check after the ADD
 * reads the catalog as committed once the lock was granted, and rolls the ADD back if so.
 */
async function addTables(c: pg.Client, publication: string, tables: Array<{ schema: string; name: string }>): Promise<void> {
  const names = tables.map((t) => qualified(t.schema, t.name));
  await c.query('BEGIN');
  try {
    await c.query(`ALTER PUBLICATION ${pgIdent(publication)} ADD TABLE ${names.join(', ')}`);
    const lacking = (
      await c.query<{ t: string }>(
        `SELECT c.oid::regclass::text AS t FROM pg_class c
          WHERE c.oid = ANY($1::regclass[]) AND c.relreplident <> 'f'
            AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisvalid
                             AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END)`,
        [names],
      )
    ).rows;
    if (lacking.length)
      throw Object.assign(new Error(`${lacking.map((r) => r.t).join(', ')} lost its replica identity while being published`), { code: '55000' });
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The pid of the process streaming from `slot` (another duckgate?), or null when it is free. */
export async function slotHolder(c: pg.Client, slot: string): Promise<number | null> {
  const r = (await c.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0];
  return r?.active_pid ?? null;
}
