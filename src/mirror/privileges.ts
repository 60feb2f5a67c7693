// What the mirror's control role must be allowed to do, checked up front so that a non-superuser role
// hears every missing privilege at once, each with the statement that grants it, instead of meeting them
// one by one as bare "permission denied" errors. The rules are PostgreSQL's (docs: "Logical Replication:
// Security", CREATE PUBLICATION, ALTER PUBLICATION):
//   - a replication slot and the change stream need the REPLICATION attribute (or superuser);
//   - CREATE PUBLICATION needs CREATE on the current database;
//   - ALTER PUBLICATION needs ownership of the publication, and ADD TABLE ownership of each table
//     (membership in the owning role counts: pg_class_ownercheck → has_privs_of_role);
//   - the snapshot (COPY … TO STDOUT of each table) needs USAGE on its schema and SELECT on the table.
import type pg from 'pg';
import { pgIdent, tableKey } from './types.js';


/** Problems with the role itself, the database or the publication: the mirror cannot run without these. */
export async function rolePrivilegeProblems(c: pg.Client, publication: string): Promise<string[]> {
  const r = (
    await c.query<{ role: string; super: boolean; repl: boolean; db: string; can_create: boolean; pub_owner: string | null; owns_pub: boolean | null }>(
      `SELECT r.rolname::text AS role, r.rolsuper AS super, r.rolreplication AS repl, current_database()::text AS db,
              has_database_privilege(current_database(), 'CREATE') AS can_create,
              p.pubowner::regrole::text AS pub_owner, pg_has_role(p.pubowner, 'USAGE') AS owns_pub
         FROM pg_roles r LEFT JOIN pg_publication p ON p.pubname = $1
        WHERE r.rolname = current_user`,
      [publication],
    )
  ).rows[0];
  if (!r || r.super) return [];
  const role = pgIdent(r.role);
  const out: string[] = [];
  if (!r.repl) out.push(`role ${r.role} may not replicate (creating the slot, streaming changes): run ALTER ROLE ${role} REPLICATION;`);
  if (r.pub_owner === null && !r.can_create)
    out.push(`role ${r.role} may not create publication ${publication} in database ${r.db}: run GRANT CREATE ON DATABASE ${pgIdent(r.db)} TO ${role}; (or create it as its owner: CREATE PUBLICATION ${pgIdent(publication)}; ALTER PUBLICATION ${pgIdent(publication)} OWNER TO ${role};)`);
  if (r.pub_owner !== null && !r.owns_pub)
    out.push(`publication ${publication} belongs to ${r.pub_owner}, and role ${r.role} may not change it: run ALTER PUBLICATION ${pgIdent(publication)} OWNER TO ${role};`);
  return out;
}

/**
 * Per table the privileges the role lacks to copy it and to add it to the publication, each with the
 * statement to run. Tables already in the publication need no ownership (nothing to add).
 */
export async function tablePrivilegeProblems(
  c: pg.Client,
  publication: string,
  tables: Array<{ relid: number; schema: string; name: string }>,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (tables.length === 0) return out;
  const rows = (
    await c.query<{ relid: string; role: string; owner: string; owns: boolean; sel: boolean; usage: boolean; published: boolean; super: boolean }>(
      `SELECT c.oid::int8::text AS relid, current_user::text AS role, c.relowner::regrole::text AS owner,
              pg_has_role(c.relowner, 'USAGE') AS owns, has_table_privilege(c.oid, 'SELECT') AS sel,
              has_schema_privilege(c.relnamespace, 'USAGE') AS usage,
              EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE p.pubname = $2 AND pr.prrelid = c.oid) AS published,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super
         FROM pg_class c WHERE c.oid = ANY($1::oid[])`,
      [tables.map((t) => t.relid), publication],
    )
  ).rows;
  const byRelid = new Map(rows.map((r) => [Number(r.relid), r]));
  for (const t of tables) {
    const r = byRelid.get(t.relid);
    if (!r || r.super) continue;
    const q = `${pgIdent(t.schema)}.${pgIdent(t.name)}`;
    const role = pgIdent(r.role);
    const fixes: string[] = [];
    const lacks: string[] = [];
    if (!r.usage) {
      lacks.push(`USAGE on schema ${t.schema}`);
      fixes.push(`GRANT USAGE ON SCHEMA ${pgIdent(t.schema)} TO ${role};`);
    }
    if (!r.sel && !r.owns) {
      lacks.push('SELECT (for the snapshot)');
      fixes.push(`GRANT SELECT ON ${q} TO ${role};`);
    }
    if (!r.published && !r.owns) {
      lacks.push(`ownership (to add it to publication ${publication}; the table belongs to ${r.owner})`);
      fixes.push(`ALTER TABLE ${q} OWNER TO ${role}; (or GRANT ${pgIdent(r.owner)} TO ${role}; or, as ${r.owner}: ALTER PUBLICATION ${pgIdent(publication)} ADD TABLE ${q};)`);
    }
    if (lacks.length) out.set(tableKey(t.schema, t.name), `not mirrored: role ${r.role} lacks ${lacks.join(', ')} on ${t.schema}.${t.name}: run ${fixes.join(' ')}`);
  }
  return out;
}
