// Which tables the mirror follows, kept apart from how it follows them (mirror.ts): discovery (rules,
// keys, persistence, the control role's privileges), the publication kept equal to that set as far as
// Postgres lets it, the tables left out and why (each logged once per table and reason: discovery runs at
// every catalog poll), and the replica-identity guard (guard.ts).
import type pg from 'pg';
import { logger } from '../observability/logger.js';
import { discoverTables, syncPublication, tableKey, type SkippedTable, type TableDef } from './catalog.js';
import { installGuard } from './guard.js';
import { OnceNotices } from './lifecycle.js';
import { tablePrivilegeProblems } from './privileges.js';
import type { MirrorRules } from './rules.js';

export class MirrorCatalog {
  /** tables the rules select that are not mirrored (no key, unlogged, not publishable, no privilege) */
  private skipped = new Map<string, string>();
  private readonly notices = new OnceNotices();
  /** 'installed', or 'not installed: <why>'; null before the first attempt */
  guard: string | null = null;

  constructor(
    private readonly publication: string,
    private readonly schemas: string[],
  ) {}

  skippedTables(): SkippedTable[] {
    return [...this.skipped].map(([table, reason]) => ({ table, reason }));
  }

  /** The tables the rules select that can be mirrored; the others are noted (logged once per reason). */
  async discover(c: pg.Client, rules: MirrorRules): Promise<TableDef[]> {
    const skipped: SkippedTable[] = [];
    let defs = await discoverTables(c, rules, this.schemas, skipped);
    // tables the control role may not copy or publish are skipped, each with the statement to run
    const lacking = await tablePrivilegeProblems(c, this.publication, defs);
    if (lacking.size) {
      for (const [table, reason] of lacking) skipped.push({ table, reason });
      defs = defs.filter((d) => !lacking.has(tableKey(d.schema, d.name)));
    }
    this.skipped = new Map(skipped.map((s) => [s.table, s.reason]));
    for (const s of skipped) if (this.notices.note(s.table, s.reason)) logger.warn({ table: s.table }, s.reason);
    for (const d of defs) this.notices.clear(tableKey(d.schema, d.name));
    this.notices.retain(new Set(skipped.map((s) => s.table)));
    return defs;
  }

  /**
   * Puts `defs` into the publication; returns those that are in it. A table that could not be added
   * (dropped since discovery, 42P01, and the like) is not mirrored now and is tried again at the next
   * catalog check: its changes would not reach the stream.
   */
  async publish(c: pg.Client, defs: TableDef[]): Promise<TableDef[]> {
    const failed: Array<{ table: string; error: Error & { code?: string } }> = [];
    const published = await syncPublication(c, this.publication, defs, failed);
    for (const f of failed) {
      const reason = `not mirrored for now: ${f.table} could not be added to publication ${this.publication} (${f.error.code ?? 'error'}: ${f.error.message}); tried again at the next catalog check`;
      if (f.error.code !== '42P01') {
        this.skipped.set(f.table, reason);
        if (this.notices.note(f.table, reason)) logger.warn({ table: f.table }, reason);
      } else logger.info({ table: f.table }, 'mirror: table dropped before it could be published; skipped');
    }
    return published;
  }

  /** Installs the replica-identity guard once, or says (once per reason) what the risk is and how to close it. */
  async ensureGuard(c: pg.Client): Promise<void> {
    if (this.guard === 'installed') return;
    const g = await installGuard(c, this.publication);
    if (g.installed) {
      this.guard = 'installed';
      logger.info({ publication: this.publication }, 'mirror: replica-identity guard installed (a mirrored table that loses its primary key leaves the publication in the same transaction)');
      return;
    }
    const state = `not installed: ${g.reason}`;
    if (this.guard !== state)
      logger.warn(
        { publication: this.publication },
        `mirror: replica-identity guard not installed (${g.reason}). Risk: if a mirrored table loses its primary key or replica identity (ALTER TABLE … DROP CONSTRAINT …_pkey, REPLICA IDENTITY NOTHING, DROP INDEX of its identity index), UPDATE and DELETE on it fail with "cannot update table … because it does not have a replica identity and publishes updates" until duckgate's next catalog check (mirror.catalogPollMs), and for as long as duckgate is stopped. To close it, run as a superuser in this database: ${g.sql.join('; ')}`,
      );
    this.guard = state;
  }
}
