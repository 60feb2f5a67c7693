// Adapts the Mirror to what the router and the analytical path need: a MirrorView object that keeps its
// identity while the set of servable tables is unchanged (the router caches decisions per view object),
// relation names, LSN and lag.
import type { Mirror, MirroredTable } from '../mirror/index.js';
import type { MirrorColumn, MirrorTable, MirrorView } from '../router/index.js';
import type { MirrorSource } from './analytics.js';
import { parseLsn } from '../mirror/lsn.js';

const compareLsn = (a: string, b: string): number => {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** How long the hot path may use the table list before asking the mirror again. */
const VIEW_TTL_MS = 250;

/**
 * The columns as the check query lists them from pg_attribute (attnum order): each name quoted (so no
 * name can run into the next), its type oid and typmod, and its attnum when the mirror knows every
 * column's (withAttnum). See analytics.ts identitySql: both must agree.
 */
export function columnsIdentity(columns: ReadonlyArray<{ name: string; typeOid: number; typmod: number; attnum?: number }>): { columns: string; withAttnum: boolean } {
  const withAttnum = columns.every((c) => c.attnum !== undefined);
  return { columns: columns.map((c) => `"${c.name.replace(/"/g, '""')}" ${c.typeOid} ${c.typmod}${withAttnum ? ` ${c.attnum}` : ''}`).join(','), withAttnum };
}

/** Applied batches remembered for shadow execution's comparisons (changedBetween). */
const HISTORY_MAX = 20_000;

export function mirrorSource(mirror: Mirror): MirrorSource {
  // Each applied batch that changed tables: its end position and the tables it touched ('schema.name').
  // A batch covers the positions after the previous one recorded up to its end.
  const history: Array<{ lsn: bigint; tables: readonly string[] }> = [];
  /** positions at or before this are no longer covered (older batches were dropped) */
  let historyFrom = -1n;
  mirror.on('applied', (e: { lsn: string; tables: string[] }) => {
    if (e.tables.length === 0) return;
    history.push({ lsn: parseLsn(e.lsn), tables: e.tables });
    if (history.length > HISTORY_MAX) historyFrom = history.shift()!.lsn;
  });
  let signature = '';
  let refreshedAt = 0;
  let view: MirrorView | null = null;
  let refs = new Map<string, string>();
  let identities = new Map<string, { relid: number; columns: string; withAttnum: boolean }>();
  let servable: MirroredTable[] = [];

  const refresh = (): void => {
    refreshedAt = Date.now();
    servable = mirror.tables().filter((t) => t.state === 'ready' && t.appliedLsn !== null);
    // The router looks tables up by 'schema.name': schema '.' table '..' and schema '..' table '.' share
    // that text, and serving one for the other would answer from the wrong table. Such tables go to Postgres.
    const seen = new Map<string, number>();
    for (const t of servable) seen.set(`${t.schema}.${t.name}`, (seen.get(`${t.schema}.${t.name}`) ?? 0) + 1);
    servable = servable.filter((t) => seen.get(`${t.schema}.${t.name}`) === 1);
    const sig = servable.map((t) => `${t.schema}.${t.name}[${t.primaryKey.join(',')}](${t.columns.map((c) => `${c.name}:${c.typeOid}:${c.typmod}:${c.attnum ?? ''}:${c.exact ? 1 : 0}${c.compares ?? ''}`).join(',')})#${t.relid}`).join(';');
    if (sig === signature && view) return;
    signature = sig;
    refs = new Map();
    identities = new Map();
    const tables = new Map<string, MirrorTable>();
    for (const t of servable) {
      const columns = new Map<string, MirrorColumn>(t.columns.map((c) => [c.name, { exact: c.exact, pgType: c.pgType, compares: c.compares }]));
      tables.set(`${t.schema}.${t.name}`, { schema: t.schema, name: t.name, columns, primaryKey: t.primaryKey, lagMs: null, appliedLsn: t.appliedLsn });
      refs.set(`${t.schema}.${t.name}`, t.duckdbRef);
      identities.set(`${t.schema}.${t.name}`, { relid: t.relid, ...columnsIdentity(t.columns) });
    }
    view = tables.size ? { tables } : null;
  };

  return {
    view() {
      // Every statement asks: rebuilding the list each time would put the whole catalog on the hot path.
      if (Date.now() - refreshedAt > VIEW_TTL_MS) refresh();
      return view;
    },
    relation(schema, name) {
      return refs.get(`${schema}.${name}`) ?? null;
    },
    identity(schema, name) {
      return identities.get(`${schema}.${name}`) ?? null;
    },
    checkCatalog() {
      mirror.checkCatalog();
    },
    revalidate() {
      // The slow path asks again right before DuckDB runs, so a table that just left 'ready' is not used.
      refresh();
    },
    appliedLsn() {
      return mirror.appliedLsn();
    },
    lagMs() {
      let oldest: number | null = null;
      for (const t of servable) {
        if (t.lastAppliedAt === null) return null;
        if (oldest === null || t.lastAppliedAt < oldest) oldest = t.lastAppliedAt;
      }
      return oldest === null ? null : Math.max(0, Date.now() - oldest);
    },
    whyNotServed(schema, name) {
      return mirror.whyNotServed(schema, name);
    },
    changedBetween(tables, from, to) {
      const lo = parseLsn(from);
      const hi = parseLsn(to);
      if (lo < historyFrom) return null;
      let prev = historyFrom;
      for (const h of history) {
        // the batch (prev, h.lsn] overlaps (lo, hi]; a quoted key (a schema with a dot) is matched
        // conservatively, as the router writes such names differently
        if (h.lsn > lo && prev < hi && h.tables.some((t) => tables.includes(t) || t.startsWith('"'))) return true;
        prev = h.lsn;
      }
      return false;
    },
    currentFor(lsn, tables) {
      return mirror.currentFor(lsn, tables);
    },
    waitForLsn(lsn, timeoutMs, tables) {
      // A mirror that cannot answer is a mirror that is not fresh: the statement goes to Postgres.
      if (timeoutMs <= 0) return Promise.resolve(tables ? mirror.currentFor(lsn, tables) : mirror.appliedLsn() !== null && compareLsn(mirror.appliedLsn()!, lsn) >= 0);
      try {
        return mirror.waitFor(lsn, timeoutMs, tables).catch(() => false);
      } catch {
        return Promise.resolve(false);
      }
    },
  };
}
