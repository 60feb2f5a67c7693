// The parser (libpg-query: the real Postgres parser compiled to WASM) and the per-text cache of
// statement facts. Parsing costs tens of microseconds, so results are kept in a bounded LRU keyed by
// the statement text: drivers repeat the same parameterised text.
import { createHash } from 'node:crypto';
import { loadModule, parseSync } from 'libpg-query';
import { LRUCache } from 'lru-cache';
import { factsOfStatement, type StatementFacts } from './facts.js';

let loaded = false;

/** Loads the parser's WASM module. Await once at startup, before the first route(). */
export async function initRouter(): Promise<void> {
  if (loaded) return;
  await loadModule();
  loaded = true;
}

export type ParsedText =
  | { ok: true; statements: StatementFacts[]; fingerprint: string }
  | { ok: false; error: string };

const parsed = new LRUCache<string, ParsedText>({ max: 10_000 });
let parses = 0;

/** Counters for metrics and tests: how many texts were actually parsed (cache misses). */
export function routerStats(): { parses: number; parseCacheSize: number } {
  return { parses, parseCacheSize: parsed.size };
}

/** Parses a query string (cached). Never throws: a parse failure is `{ ok: false }`. */
export function parseText(sql: string): ParsedText {
  const hit = parsed.get(sql);
  if (hit) return hit;
  const out = parseUncached(sql);
  parsed.set(sql, out);
  return out;
}

function parseUncached(sql: string): ParsedText {
  if (!loaded) return { ok: false, error: 'router not initialised (initRouter() not awaited)' };
  if (sql.trim() === '') return { ok: true, statements: [], fingerprint: fingerprintOf([]) };
  let tree: { stmts?: Array<{ stmt?: unknown }> };
  parses++;
  try {
    tree = parseSync(sql);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const stmts = (tree.stmts ?? []).map((s) => s.stmt);
  try {
    return { ok: true, statements: stmts.map(factsOfStatement), fingerprint: fingerprintOf(stmts) };
  } catch (e) {
    // a parse tree shape the walk did not expect: treat like an unparsable statement (→ Postgres)
    return { ok: false, error: `router: ${(e as Error).message}` };
  }
}

/** duckgate's statement fingerprint: the parse tree with constants and source positions removed,
 *  hashed. Same query shape with other literals → same fingerprint; comments and whitespace do not
 *  count. (libpg-query's WASM build has no pg_query fingerprint, so this is duckgate's own; it is
 *  what `/* duckgate: explain *\/` shows and what `fingerprint:` routing rules match.) */
function fingerprintOf(stmts: unknown[]): string {
  const json = JSON.stringify(stmts, (key, value: unknown) => {
    if (key === 'location' || key === 'stmt_location' || key === 'stmt_len') return undefined;
    if (key === 'A_Const') return '?';
    return value;
  });
  return createHash('sha1').update(json).digest('hex').slice(0, 16);
}

/** Facts of a single-statement text (cached by text). Multi-statement and unparsable texts give an error. */
export function statementFacts(sql: string): StatementFacts | { error: string } {
  const p = parseText(sql);
  if (!p.ok) return { error: p.error };
  if (p.statements.length !== 1) return { error: p.statements.length === 0 ? 'empty query' : `${p.statements.length} statements in one query` };
  return p.statements[0]!;
}
