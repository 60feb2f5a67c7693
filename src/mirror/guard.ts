// The replica-identity guard: duckgate must never break a write that works directly.
//
// A table in a publication that publishes UPDATE/DELETE must have a usable replica identity, else
// Postgres refuses UPDATE and DELETE on it ("cannot update table … because it does not have a replica
// identity and publishes updates", CheckCmdReplicaIdentity in src/backend/executor/execReplication.c).
// When a mirrored table loses its identity (ALTER TABLE t DROP CONSTRAINT t_pkey, REPLICA IDENTITY
// NOTHING, DROP INDEX of its REPLICA IDENTITY USING INDEX index), it stays in duckgate's publication
// until the mirror's next catalog poll, or for as long as duckgate is stopped, and the user's writes
// fail meanwhile. The guard is an event trigger on ddl_command_end that, in the same transaction as the
// DDL, drops every table of duckgate's publication that has no usable replica identity any more, and
// emits a transactional logical message (prefix 'duckgate', content '<publication>:<relid>') so the
// running mirror stops serving the table at exactly that point of the stream. The same function runs on
// ddl_command_start for ALTER TABLE: PostgreSQL refuses ALTER TABLE … SET UNLOGGED on a published table
// (55000), so a statement that says UNLOGGED first takes the published tables it names out.
//
// Event triggers can only be created by superusers (CREATE EVENT TRIGGER, PostgreSQL docs), so the guard
// is installed when the control role is one; otherwise the mirror says at start what the risk is and
// the statements that close it. The trigger function is SECURITY DEFINER (it runs as the publication's
// owner, not as whoever altered the table) and never fails the user's DDL: any error inside it is
// caught and only logged in the server log.
import type pg from 'pg';
import { pgIdent, sqlString } from './types.js';

/** Schema holding the guard function (created if needed, dropped by `mirror drop` when empty). */
export const GUARD_SCHEMA = '_duckgate';
/** Prefix of the logical messages the guard emits. */
export const GUARD_MESSAGE_PREFIX = 'duckgate';

function names(publication: string): { fn: string; trigger: string; startTrigger: string } {
  // names are per publication (several duckgates may mirror one database with their own publications);
  // identifiers are at most 63 bytes (NAMEDATALEN - 1)
  const base = `guard_${publication}`.slice(0, 60);
  return {
    fn: `${pgIdent(GUARD_SCHEMA)}.${pgIdent(base)}`,
    trigger: pgIdent(`duckgate_${base}`.slice(0, 63)),
    startTrigger: pgIdent(`duckgate_start_${base}`.slice(0, 63)),
  };
}

/** The statements that install the guard for `publication` (also printed for an admin to run). */
export function guardSql(publication: string): string[] {
  const { fn, trigger, startTrigger } = names(publication);
  const pub = sqlString(publication);
  // ddl_command_end: usable identity (RelationGetReplicaIndex / CheckCmdReplicaIdentity): FULL; DEFAULT
  // with a primary key; USING INDEX with a valid index marked indisreplident. NOTHING, or an index that
  // is gone, is not.
  // ddl_command_start: ALTER TABLE … SET UNLOGGED fails on a published table ("cannot change table … to
  // unlogged because it is part of a publication", ATPrepChangePersistence in tablecmds.c), so a
  // statement that says UNLOGGED first takes the published tables it names out (the statement's target
  // is not known before it runs: a table named in it by chance is only copied again by the mirror).
  const body = `
DECLARE r record; q text; starting boolean := TG_EVENT = 'ddl_command_start';
BEGIN
  IF starting THEN
    q := pg_catalog.lower(pg_catalog.current_query());
    IF q IS NULL OR pg_catalog.strpos(q, 'unlogged') = 0 THEN RETURN; END IF;
  END IF;
  FOR r IN
    SELECT c.oid AS relid, n.nspname, c.relname
      FROM pg_catalog.pg_publication p
      JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid
      JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE p.pubname = ${pub}
       AND CASE WHEN starting THEN pg_catalog.strpos(q, pg_catalog.lower(c.relname)) > 0
                ELSE (p.pubupdate OR p.pubdelete) AND c.relreplident <> 'f'
                     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                      WHERE i.indrelid = c.oid AND i.indisvalid
                                        AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END)
           END
  LOOP
    BEGIN
      EXECUTE pg_catalog.format('ALTER PUBLICATION %I DROP TABLE %I.%I', ${pub}, r.nspname, r.relname);
      IF pg_catalog.current_setting('wal_level') = 'logical' THEN
        PERFORM pg_catalog.pg_logical_emit_message(true, ${sqlString(GUARD_MESSAGE_PREFIX)}, ${pub} || ':' || r.relid::text);
      END IF;
      RAISE LOG 'duckgate: %.% removed from publication % (%)', r.nspname, r.relname, ${pub}, CASE WHEN starting THEN 'an ALTER TABLE may make it UNLOGGED' ELSE 'no replica identity any more' END;
    EXCEPTION WHEN OTHERS THEN
      RAISE LOG 'duckgate: could not remove %.% from publication %: %', r.nspname, r.relname, ${pub}, SQLERRM;
    END;
  END LOOP;
END`;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${pgIdent(GUARD_SCHEMA)}`,
    `REVOKE ALL ON SCHEMA ${pgIdent(GUARD_SCHEMA)} FROM PUBLIC`,
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ${dollar(body)}`,
    `REVOKE ALL ON FUNCTION ${fn}() FROM PUBLIC`,
    `DROP EVENT TRIGGER IF EXISTS ${trigger}`,
    `CREATE EVENT TRIGGER ${trigger} ON ddl_command_end WHEN TAG IN ('ALTER TABLE', 'DROP INDEX', 'ALTER INDEX') EXECUTE FUNCTION ${fn}()`,
    `DROP EVENT TRIGGER IF EXISTS ${startTrigger}`,
    `CREATE EVENT TRIGGER ${startTrigger} ON ddl_command_start WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION ${fn}()`,
  ];
}

function dollar(body: string): string {
  let tag = '$dg$';
  for (let i = 0; body.includes(tag); i++) tag = `$dg${i}$`;
  return `${tag}${body}${tag}`;
}

export type GuardResult = { installed: true } | { installed: false; reason: string; sql: string[] };

/**
 * Installs the guard when the control role is a superuser (in one transaction: either all of it or
 * nothing); otherwise returns why not and the statements an administrator can run.
 */
export async function installGuard(c: pg.Client, publication: string): Promise<GuardResult> {
  const sql = guardSql(publication);
  const su = (await c.query<{ su: boolean }>('SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user')).rows[0]?.su === true;
  if (!su) return { installed: false, reason: 'the control role is not a superuser (only superusers may create event triggers)', sql };
  await c.query('BEGIN');
  try {
    for (const q of sql) await c.query(q);
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    return { installed: false, reason: (e as Error).message, sql };
  }
  return { installed: true };
}

/** Removes the guard of `publication` (and the schema when nothing else is left in it). */
export async function dropGuard(c: pg.Client, publication: string): Promise<void> {
  const { fn, trigger, startTrigger } = names(publication);
  // only what exists is dropped (a role that is not a superuser never installed one, and may not drop
  // event triggers at all)
  // (looked up in the catalogs: to_regprocedure would need USAGE on the guard's schema)
  const has = (
    await c.query<{ t: boolean; s: boolean; f: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $1) AS t, EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $4) AS s,
              EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $2 AND p.proname = $3 AND p.pronargs = 0) AS f`,
      [unquote(trigger), GUARD_SCHEMA, unquote(fn.slice(fn.indexOf('.') + 1)), unquote(startTrigger)],
    )
  ).rows[0]!;
  if (has.t) await c.query(`DROP EVENT TRIGGER ${trigger}`);
  if (has.s) await c.query(`DROP EVENT TRIGGER ${startTrigger}`);
  if (has.f) await c.query(`DROP FUNCTION ${fn}()`);
  const left = await c.query(
    `SELECT 1 FROM pg_namespace n WHERE n.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = n.oid AND d.refclassid = 'pg_namespace'::regclass)`,
    [GUARD_SCHEMA],
  );
  // the schema is shared by the guards of every publication: removed with the last one, when we may
  if (left.rowCount === 1) await c.query(`DROP SCHEMA IF EXISTS ${pgIdent(GUARD_SCHEMA)}`).catch(() => undefined);
}

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident;
}

/** The relid a guard message of `publication` names, or null when the message is not one. */
export function guardMessageRelid(publication: string, prefix: string, content: Buffer): number | null {
  if (prefix !== GUARD_MESSAGE_PREFIX) return null;
  const s = content.toString('utf8');
  const head = `${publication}:`;
  if (!s.startsWith(head)) return null;
  const relid = Number(s.slice(head.length));
  return Number.isInteger(relid) && relid > 0 ? relid : null;
}
