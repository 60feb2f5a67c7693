// The parser (libpg-query: the real Postgres parser compiled to WASM) and the per-text cache of
// statement facts. Parsing costs tens of microseconds, so results are kept in a bounded LRU keyed by
// the statement text: drivers repeat the same parameterised text.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import createParserModule from 'libpg-query/wasm/libpg-query.js';
import { LRUCache } from 'lru-cache';
import { factsOfStatement, type StatementFacts } from './facts.js';

// ---- the parser instance ------------------------------------------------------------------------------
//
// libpg-query is Postgres's parser compiled to WASM. Its C code runs on the main thread and recurses per
// level of the parse tree, both in the grammar actions and when the tree is written out as JSON; a deep
// enough tree overflows the JS engine's stack inside WASM code. The RangeError unwinds the WASM frames
// without running any of their cleanup: the module's own stack pointer is left where the overflow
// happened and its allocations and memory contexts half-done. Measured: after ~35 such overflows every
// later parse fails with "memory access out of bounds", for every session, until restart. So:
// 1. statements are bounded before they are parsed (complexityOf: a cheap text scan); one beyond the
//    bounds goes to Postgres unparsed (route reason too_complex), as any statement the router cannot
//    parse does;
// 2. any exception thrown from inside the WASM call (a trap, a RangeError: anything but the parser's
//    own syntax error report, which is returned as data) discards the instance; a fresh one is
//    instantiated from the already-compiled module (about a millisecond of work, done asynchronously),
//    and until it is ready statements go to Postgres, their failure not cached.

/** The parts of the Emscripten module the router calls (its exported C functions and heap helpers). */
interface ParserInstance {
  _malloc(n: number): number;
  _free(p: number): void;
  _wasm_parse_query_raw(sqlPtr: number): number;
  _wasm_free_parse_result(resultPtr: number): void;
  lengthBytesUTF8(s: string): number;
  stringToUTF8(s: string, p: number, max: number): void;
  UTF8ToString(p: number): string;
  getValue(p: number, type: 'i32'): number;
}

/** WebAssembly's JS API (not in the ES2023 lib this project compiles against; Node has it). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<object>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | null = null;
let instance: ParserInstance | null = null;
let instantiating: Promise<void> | null = null;
let parserReloads = 0;

async function instantiate(): Promise<void> {
  if (!compiled) {
    const wasmPath = createRequire(import.meta.url).resolve('libpg-query/wasm/libpg-query.wasm');
    compiled = await wasm.compile(readFileSync(wasmPath));
  }
  const mod = compiled;
  instance = (await createParserModule({
    // Emscripten's hook for supplying the instance: reuse the compiled module instead of reading and
    // compiling the 1 MB file again
    instantiateWasm(imports: object, done: (instance: object, module: object) => void) {
      void wasm.instantiate(mod, imports).then((i) => done(i, mod));
      return {};
    },
  })) as ParserInstance;
}

/** Starts (once) replacing the parser instance; parses fail (uncached) until it is ready. */
function reinstantiate(): void {
  instance = null;
  parserReloads++;
  instantiating ??= instantiate().finally(() => {
    instantiating = null;
  });
  instantiating.catch(() => undefined);
}

/** Loads the parser's WASM module. Await once at startup, before the first route(). */
export async function initRouter(): Promise<void> {
  if (instance) return;
  instantiating ??= instantiate().finally(() => {
    instantiating = null;
  });
  await instantiating;
}

/** Resolves once a parser instance is ready (after a reload). For tests. */
export async function parserReady(): Promise<void> {
  while (!instance) await (instantiating ?? initRouter());
}

type RawParse = { tree: { stmts?: Array<{ stmt?: unknown }> } } | { syntaxError: string } | { broken: string };

/** One call into the parser. A syntax error is data; anything thrown means the instance is damaged. */
function rawParse(p: ParserInstance, sql: string): RawParse {
  let sqlPtr = 0;
  let resultPtr = 0;
  try {
    const len = p.lengthBytesUTF8(sql) + 1;
    sqlPtr = p._malloc(len);
    p.stringToUTF8(sql, sqlPtr, len);
    resultPtr = p._wasm_parse_query_raw(sqlPtr);
    if (!resultPtr) throw new Error('parser returned no result');
    // struct PgQueryParseResult { char *parse_tree; char *stderr_buffer; PgQueryError *error; }
    const treePtr = p.getValue(resultPtr, 'i32');
    const errorPtr = p.getValue(resultPtr + 8, 'i32');
    if (errorPtr) {
      // struct PgQueryError { char *message; ... }
      const msgPtr = p.getValue(errorPtr, 'i32');
      return { syntaxError: msgPtr ? p.UTF8ToString(msgPtr) : 'syntax error' };
    }
    if (!treePtr) throw new Error('parser returned no tree');
    const json = p.UTF8ToString(treePtr);
    p._free(sqlPtr);
    p._wasm_free_parse_result(resultPtr);
    sqlPtr = resultPtr = 0;
    return { tree: JSON.parse(json) as { stmts?: Array<{ stmt?: unknown }> } };
  } catch (e) {
    // Nothing more is called on this instance (its stack and heap may be inconsistent): let it go.
    return { broken: `${(e as Error).name}: ${(e as Error).message}` };
  } finally {
    if (sqlPtr || resultPtr) {
      try {
        if (sqlPtr) p._free(sqlPtr);
        if (resultPtr) p._wasm_free_parse_result(resultPtr);
      } catch {
        /* a damaged instance: it is discarded anyway */
      }
    }
  }
}

// ---- bounds checked before parsing ----------------------------------------------------------------

/**
 * What a statement may hold and still be parsed (and walked, and fingerprinted, which recurse per tree
 * level in JS too) on the main thread. Measured on libpg-query 17 (2 shared cores):
 * - `WHERE id > 1+1+…+1` parses at 5,000 terms and overflows the stack at 10,000 (JSON.stringify of its
 *   tree overflows near 3,000): 1,000 nesting tokens and 256 levels of brackets leave a wide margin and
 *   are far beyond hand-written or generated analytical SQL;
 * - the lexer (scan.l compiled by flex) is quadratic on nested comments (`/*` 40,000 deep then closed:
 *   26 s) and on long runs of operator characters (80,000 `+-`: 4 s; `*`+`/` alternating: 11 s), all in
 *   one synchronous call (the flex rule for a comment start takes every operator character after it, then
 *   backs up): comment nesting and runs of operator characters, in comments too, are bounded (256: a
 *   run that long costs well under a millisecond; PostgreSQL refuses an operator longer than 63 anyway);
 * - parsing costs about 1-2 µs per character (a 280 kB IN list: 200-400 ms), so text beyond 128 KiB is
 *   not parsed either: it would hold every session for that long.
 */
export const PARSE_LIMITS = {
  /** characters of statement text */
  maxLength: 128 * 1024,
  /** depth of ( and [ */
  maxBracketDepth: 256,
  /** operators and keywords that can each add a level to the tree (+, ::, NOT, CASE, IS, ...) */
  maxNestingTokens: 1_000,
  /** depth of nested /* comments *\/ */
  maxCommentDepth: 32,
  /** characters in one run of operator characters (in a comment too: a banner of 80 stars is fine) */
  maxOperatorRun: 256,
};

/** Keywords that, like an operator, can nest an expression inside another (a NOT NOT NOT … chain). */
const NESTING_KEYWORDS = new Set(['NOT', 'CASE', 'IS', 'ISNULL', 'NOTNULL', 'COLLATE', 'AT', 'LIKE', 'ILIKE', 'SIMILAR', 'BETWEEN', 'IN', 'OVERLAPS', 'SELECT']);

const isIdentChar = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80;
const OPERATOR_CHARS = new Uint8Array(128);
for (const ch of '+-*/<>=~!@#%^&|`?:') OPERATOR_CHARS[ch.charCodeAt(0)] = 1;
const isOperatorChar = (c: number) => c < 128 && OPERATOR_CHARS[c] === 1;

/**
 * A single pass over the text, without parsing: the deepest bracket nesting and the number of tokens
 * that can nest (operator runs and the keywords above), skipping string literals (including E'' and
 * dollar quotes), quoted identifiers and comments, whose contents are not syntax. Linear time.
 */
export function complexityOf(sql: string): { bracketDepth: number; nestingTokens: number; commentDepth: number; operatorRun: number } {
  let depth = 0;
  let maxDepth = 0;
  let nesting = 0;
  let commentDepth = 0;
  const n = sql.length;
  // The longest run of operator characters anywhere, literals and comments included: the lexer's comment
  // start rule takes "/*" and every operator character after it, then backs up, so "/*/*…*/*/" costs
  // quadratic time across comment boundaries (measured: 200 groups of 16-deep comments, 0.8 s).
  // Counted on the raw text, a string holding a long run of "-" also counts: it merely goes to Postgres.
  let operatorRun = 0;
  for (let j = 0, run = 0; j < n; j++) {
    run = isOperatorChar(sql.charCodeAt(j)) ? run + 1 : 0;
    if (run > operatorRun) operatorRun = run;
  }
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 /* ' */) {
      const escapes = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !(i > 1 && isIdentChar(sql.charCodeAt(i - 2)));
      i++;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (escapes && d === 0x5c /* \ */) i += 2;
        else if (d === 0x27) {
          if (sql.charCodeAt(i + 1) === 0x27) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === 0x22 /* " */) {
      i++;
      while (i < n) {
        if (sql.charCodeAt(i) === 0x22) {
          if (sql.charCodeAt(i + 1) === 0x22) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      // comments nest in PostgreSQL (scan.l xc)
      let level = 1;
      if (commentDepth < 1) commentDepth = 1;
      i += 2;
      while (i < n && level > 0) {
        const d = sql.charCodeAt(i);
        if (d === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
          level++;
          if (level > commentDepth) commentDepth = level;
          i += 2;
        } else if (d === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
          level--;
          i += 2;
        } else i++;
      }
    } else if (c === 0x24 /* $ */ && !(i > 0 && isIdentChar(sql.charCodeAt(i - 1)))) {
      const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        i = end < 0 ? n : end + m[0].length;
      } else i++; // $1: a parameter
    } else if (c === 0x28 /* ( */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
      i++;
    } else if (c === 0x29 /* ) */ || c === 0x5d /* ] */) {
      depth--;
      i++;
    } else if (isOperatorChar(c)) {
      nesting++;
      const start = i;
      while (i < n && isOperatorChar(sql.charCodeAt(i))) {
        // a comment start ends an operator (scan.l)
        if (i > start && ((sql.charCodeAt(i) === 0x2d && sql.charCodeAt(i + 1) === 0x2d) || (sql.charCodeAt(i) === 0x2f && sql.charCodeAt(i + 1) === 0x2a))) break;
        i++;
      }
    } else if (isIdentChar(c)) {
      const start = i;
      while (i < n && isIdentChar(sql.charCodeAt(i))) i++;
      if (i - start <= 8 && NESTING_KEYWORDS.has(sql.slice(start, i).toUpperCase())) nesting++;
    } else i++;
  }
  return { bracketDepth: maxDepth, nestingTokens: nesting, commentDepth, operatorRun };
}

/** Why a statement is beyond PARSE_LIMITS, or null. */
export function tooComplex(sql: string): string | null {
  if (sql.length > PARSE_LIMITS.maxLength) return `statement of ${sql.length} characters (more than ${PARSE_LIMITS.maxLength}) not parsed`;
  const c = complexityOf(sql);
  if (c.bracketDepth > PARSE_LIMITS.maxBracketDepth) return `brackets nested ${c.bracketDepth} deep (more than ${PARSE_LIMITS.maxBracketDepth}): not parsed`;
  if (c.nestingTokens > PARSE_LIMITS.maxNestingTokens) return `${c.nestingTokens} operators and nesting keywords (more than ${PARSE_LIMITS.maxNestingTokens}): not parsed`;
  if (c.commentDepth > PARSE_LIMITS.maxCommentDepth) return `comments nested ${c.commentDepth} deep (more than ${PARSE_LIMITS.maxCommentDepth}): not parsed`;
  if (c.operatorRun > PARSE_LIMITS.maxOperatorRun) return `a run of ${c.operatorRun} operator characters (more than ${PARSE_LIMITS.maxOperatorRun}): not parsed`;
  return null;
}

// ---- parse with a cache ---------------------------------------------------------------------------------

export type ParsedText =
  | { ok: true; statements: StatementFacts[]; fingerprint: string }
  | { ok: false; error: string; /** too_complex: beyond PARSE_LIMITS, not parsed */ reason?: 'too_complex' };

// Bounded by count and by the text held as keys (statement texts run up to PARSE_LIMITS.maxLength; the
// facts of a text are of the same order), so a client sending many distinct large statements cannot grow
// the process without bound.
const parsed = new LRUCache<string, ParsedText>({ max: 10_000, maxSize: 32 * 1024 * 1024, sizeCalculation: (_v, k) => k.length + 64 });
let parses = 0;
let tooComplexCount = 0;

/** Counters for metrics and tests: texts actually parsed (cache misses), texts refused as too complex,
 *  parser instances replaced after a failure inside the parser. */
export function routerStats(): { parses: number; parseCacheSize: number; tooComplex: number; parserReloads: number } {
  return { parses, parseCacheSize: parsed.size, tooComplex: tooComplexCount, parserReloads };
}

/** Parses a query string (cached). Never throws: a parse failure is `{ ok: false }`. */
export function parseText(sql: string): ParsedText {
  const hit = parsed.get(sql);
  if (hit) return hit;
  const { out, cache } = parseUncached(sql);
  // a text beyond the length bound is not kept: the key alone could be megabytes
  if (cache && sql.length <= PARSE_LIMITS.maxLength) parsed.set(sql, out);
  return out;
}

/** A parse result, and whether it holds for this text for good (false: the parser was unavailable). */
function parseUncached(sql: string): { out: ParsedText; cache: boolean } {
  const r = parseOnce(sql);
  return 'transient' in r ? { out: { ok: false, error: r.transient }, cache: false } : { out: r, cache: true };
}

function parseOnce(sql: string): ParsedText | { transient: string } {
  if (sql.trim() === '') return { ok: true, statements: [], fingerprint: fingerprintOf([]) };
  const why = tooComplex(sql);
  if (why) {
    tooComplexCount++;
    return { ok: false, error: why, reason: 'too_complex' };
  }
  const p = instance;
  // not loaded, or being replaced after a failure: this text goes to Postgres, and is parsed next time
  if (!p) return { transient: instantiating ? 'parser being reloaded' : 'router not initialised (initRouter() not awaited)' };
  parses++;
  const r = rawParse(p, sql);
  if ('broken' in r) {
    reinstantiate();
    return { transient: `parser failed (${r.broken}); reloaded` };
  }
  if ('syntaxError' in r) return { ok: false, error: r.syntaxError };
  const stmts = (r.tree.stmts ?? []).map((s) => s.stmt);
  try {
    return { ok: true, statements: stmts.map(factsOfStatement), fingerprint: fingerprintOf(stmts) };
  } catch (e) {
    // a parse tree shape the walk did not expect (or one too deep for it): treat like an unparsable
    // statement (→ Postgres)
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
