// Cheap text tests, run before (and mostly instead of) parsing: the passthrough hot path pays one
// linear scan of the statement text, never a parse.
import type { MirrorView, SessionRoute } from './types.js';

interface NameIndex {
  size: number;
  names: Set<string>;
  /** for small mirrors: the names as they can appear in lower-cased text (with "" for a quote) */
  needles: string[] | null;
}

const nameIndexes = new WeakMap<MirrorView['tables'], NameIndex>();
/** Up to this many tables, substring search beats tokenising the text. */
const SUBSTRING_MAX_TABLES = 32;

function nameIndex(mirror: MirrorView): NameIndex {
  const hit = nameIndexes.get(mirror.tables);
  // rebuilt when the map grew or shrank in place (a table added/removed without a new MirrorView)
  if (hit && hit.size === mirror.tables.size) return hit;
  const names = new Set<string>();
  for (const t of mirror.tables.values()) names.add(t.name.toLowerCase());
  const needles = names.size <= SUBSTRING_MAX_TABLES ? [...names].flatMap((n) => (n.includes('"') ? [n, n.replace(/"/g, '""')] : [n])) : null;
  const idx = { size: mirror.tables.size, names, needles };
  nameIndexes.set(mirror.tables, idx);
  return idx;
}

// An identifier as written: unquoted (any letters; Postgres folds ASCII to lower case) or "quoted"
// ("" inside is one "). Everything else (strings, numbers, punctuation) is skipped over.
const IDENT = /"((?:[^"]|"")+)"|[\p{L}_][\p{L}\p{N}_$]*/gu;

/** Does the text name a mirrored table? No parse: a substring search (small mirrors) or a scan of the
 *  identifier tokens (large ones), case-insensitive. False positives (a column, a string, a longer name
 *  containing a table's name) only cost a parse later; a statement that really reads a mirrored table
 *  is never missed. */
export function mentionsMirroredTable(sql: string, mirror: MirrorView): boolean {
  if (mirror.tables.size === 0) return false;
  const idx = nameIndex(mirror);
  const lower = sql.toLowerCase();
  if (idx.needles) {
    for (const n of idx.needles) if (lower.includes(n)) return true;
    return false;
  }
  IDENT.lastIndex = 0;
  for (let m = IDENT.exec(lower); m !== null; m = IDENT.exec(lower)) {
    const id = m[1] !== undefined ? m[1].replace(/""/g, '"') : m[0];
    if (idx.names.has(id)) return true;
  }
  return false;
}

/** Statement starts (at the beginning, or after a `;`) whose effects on the session must be tracked
 *  even when no mirrored table is named, or that are duckgate's own commands. Leading comments skipped. */
const SESSION_START = /(?:^|;)(?:\s|--[^\n]*\n?|\/\*[^]*?\*\/)*(?:set|reset|show|begin|start|discard|create|drop|alter|grant|revoke|comment|reassign|security)\b/i;

export function touchesSession(sql: string): boolean {
  return SESSION_START.test(sql);
}

/** The first keyword of a statement that is certainly not a query (no parse needed to send it to
 *  Postgres): 'write' or 'utility'; null when a parse must decide (SELECT, WITH, VALUES, TABLE, COPY…). */
const LEADING = /^(?:\s|--[^\n]*\n?|\/\*[^]*?\*\/)*(insert|update|delete|merge|truncate|call|do|vacuum|analyze|analyse|explain|lock|listen|unlisten|notify|prepare|execute|deallocate|fetch|move|declare|close|checkpoint|commit|end|rollback|abort|savepoint|release)\b/i;
const LEADING_WRITE: ReadonlySet<string> = new Set(['insert', 'update', 'delete', 'merge', 'truncate', 'call', 'do']);

export function leadingKind(sql: string): 'write' | 'utility' | null {
  const m = LEADING.exec(sql);
  if (!m) return null;
  return LEADING_WRITE.has(m[1]!.toLowerCase()) ? 'write' : 'utility';
}

/** Catalog names anywhere in the text: labels a not-mirrored statement 'catalog' without a parse. */
const CATALOG_TEXT = /\b(?:pg_catalog|information_schema|pg_[a-z_]+)\b|::\s*reg[a-z]+\b/i;

export function looksLikeCatalog(sql: string): boolean {
  return CATALOG_TEXT.test(sql);
}

export interface Hints {
  route: SessionRoute | null;
  explain: boolean;
  maxLagMs: number | null;
}

const HINT = /\/\*\s*duckgate\s*:([^]*?)\*\/|--\s*duckgate\s*:([^\n]*)/gi;

/** `/* duckgate: route=postgres *\/`, `/* duckgate: explain *\/`, `-- duckgate: route=duckdb max_lag=30s`.
 *  Options are separated by spaces or commas; unknown options are ignored (a comment must never make a
 *  statement fail). */
export function readHints(sql: string): Hints | null {
  if (!/duckgate/i.test(sql)) return null;
  const out: Hints = { route: null, explain: false, maxLagMs: null };
  let found = false;
  HINT.lastIndex = 0;
  for (let m = HINT.exec(sql); m !== null; m = HINT.exec(sql)) {
    for (const opt of (m[1] ?? m[2] ?? '').split(/[\s,]+/)) {
      const [k, v] = opt.toLowerCase().split('=', 2) as [string, string | undefined];
      if (k === 'explain' && v === undefined) {
        out.explain = true;
        found = true;
      } else if (k === 'route' && (v === 'postgres' || v === 'duckdb' || v === 'auto')) {
        out.route = v;
        found = true;
      } else if (k === 'max_lag' && v !== undefined) {
        const ms = parseDuration(v);
        if (ms !== null) {
          out.maxLagMs = ms;
          found = true;
        }
      }
    }
  }
  return found ? out : null;
}

/** '5s', '500ms', '2m', '1h', or a number of milliseconds; 'strict' is 0 (no lag: the LSN fence).
 *  null if not a duration. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  if (/^\s*strict\s*$/i.test(v)) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/i.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const mult = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
  return n * mult;
}

const LIMIT_WORD = /(?:limit|offset|fetch\s+first|fetch\s+next|top)\s*$/i;

/**
 * The statement with its literal constants replaced, as the key decisions are cached under: a point
 * lookup sent as simple-protocol text with a different constant each time must not be parsed each time.
 * Only constants that cannot change a decision are folded: strings, and numbers that do not follow
 * LIMIT/OFFSET/FETCH (the router's small-LIMIT rule reads those). Statements touching the session (SET,
 * BEGIN, …) are keyed by their full text, since their values are the decision.
 */
export function decisionKeyText(sql: string): string {
  if (touchesSession(sql)) return sql;
  let out = '';
  let last = 0;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 39 /* ' */) {
      // '…' with '' escapes (standard_conforming_strings); an E'' string's backslashes end the fold
      let j = i + 1;
      for (;;) {
        if (j >= n) return sql;
        const d = sql.charCodeAt(j);
        if (d === 92 /* \ */) return sql;
        if (d === 39) {
          if (sql.charCodeAt(j + 1) === 39) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      out += sql.slice(last, i) + "'?'";
      last = j + 1;
      i = j + 1;
      continue;
    }
    if (c === 34 /* " */) {
      const j = sql.indexOf('"', i + 1);
      if (j < 0) return sql;
      i = j + 1;
      continue;
    }
    if (c === 36 /* $ */ || c === 45 /* - */ || c === 47 /* / */) {
      // dollar quotes, comments (hints live there) and $n parameters: keep the text as it is
      if (c === 36 && !(sql.charCodeAt(i + 1) >= 48 && sql.charCodeAt(i + 1) <= 57)) return sql;
      if ((c === 45 && sql.charCodeAt(i + 1) === 45) || (c === 47 && sql.charCodeAt(i + 1) === 42)) return sql;
      i++;
      while (c === 36 && i < n && sql.charCodeAt(i) >= 48 && sql.charCodeAt(i) <= 57) i++;
      continue;
    }
    const isDigit = c >= 48 && c <= 57;
    if (isDigit) {
      const prev = i > 0 ? sql.charCodeAt(i - 1) : 32;
      const prevIsWord = (prev >= 65 && prev <= 90) || (prev >= 97 && prev <= 122) || (prev >= 48 && prev <= 57) || prev === 95 || prev > 127;
      let j = i;
      while (j < n && ((sql.charCodeAt(j) >= 48 && sql.charCodeAt(j) <= 57) || sql.charCodeAt(j) === 46)) j++;
      if (!prevIsWord && !LIMIT_WORD.test(sql.slice(Math.max(0, i - 16), i))) {
        out += sql.slice(last, i) + '0';
        last = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  return last === 0 ? sql : out + sql.slice(last);
}
