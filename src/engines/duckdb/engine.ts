// The DuckDB engine: runs a Postgres SELECT on the shared DuckDB instance and yields complete DataRow
// messages encoded exactly as Postgres would send them for the RowDescription Postgres itself computed.
//
//   const engine = new DuckdbEngine(instance, { connections: 4, statementTimeoutMs: 60_000 });
//   const cursor = await engine.open({ sql, params, paramTypeOids, fields, session, resolve, signal });
//   for (;;) { const { data, rows, done } = await cursor.next(maxRows); write(data); if (done) break; }
//   // or: for await (const dataRows of cursor) write(dataRows);   then cursor.rowCount → 'SELECT n'
//
// The session writes RowDescription before (from Postgres's Describe) and CommandComplete /
// PortalSuspended after; `next(maxRows)` returning done=false is the PortalSuspended case (the cursor
// keeps its DuckDB result and connection until closed or exhausted).
//
// Connections and running statements are counted apart. `connections` bounds the statements DuckDB is
// working on at once: open() and each fetch of a cursor hold a running slot only while inside DuckDB.
// A cursor whose client reads slowly, stops reading, or leaves a portal suspended between Execute
// messages holds its own DuckDB connection and pending result (so it keeps returning rows of the same
// snapshot, as a Postgres portal does) but no slot: it cannot take DuckDB away from other sessions.
// Materialising the rest of such a result instead would cost unbounded memory; moving the statement to
// Postgres would change its snapshot mid-result. A resumed cursor gets the next free slot ahead of new
// statements (it waits only for statements that are running, which their timeout bounds).
//
// Errors are DuckdbEngineError: kind 'refused' (cannot be answered exactly: run on Postgres), 'busy' (no
// running slot free within queueTimeoutMs: run on Postgres), 'input' (DuckDB rejected a value: a
// conversion of a parameter, literal or datum; Postgres answers, and it is no failure of the engine),
// 'failed' (DuckDB error: run on Postgres), 'timeout' (duckdb.statementTimeoutMs, counted only while
// DuckDB works on the statement: run on Postgres), 'statement_timeout' (the session's own
// statement_timeout passed, wall clock from open(): answer 57014 as Postgres would), 'canceled' (the
// caller's AbortSignal fired: answer the client with 57014 as Postgres would).
import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement, DuckDBResult, DuckDBValue } from '@duckdb/node-api';
import { logger } from '../../observability/logger.js';
import { duckdbPreaggregated, duckdbRows, duckdbStatements } from '../../observability/metrics.js';
import { alignColumns, wrapWithCasts, type PgField } from './align.js';
import { encodeBinary } from './encode-binary.js';
import { encodeText } from './encode-text.js';
import { Oid, UnencodableError, unsupportedSession, type SessionOptions } from './pg-types.js';
import { initRewriter, rewrite, type Resolver, type RewriteResult } from './rewrite.js';
import type { RelationFacts } from './preaggregate.js';
import { calendarMacros, clockMacros, type SessionClock } from './calendar.js';
import { fixedOffsetSeconds, utcOffsetSeconds } from './timezone.js';

export type { PgField } from './align.js';
export type { SessionOptions } from './pg-types.js';
export type { Resolver } from './rewrite.js';
export type { SessionClock } from './calendar.js';
export { binaryParamText } from './params.js';

export type DuckdbErrorKind = 'refused' | 'busy' | 'input' | 'failed' | 'timeout' | 'statement_timeout' | 'canceled';

export class DuckdbEngineError extends Error {
  override name = 'DuckdbEngineError';
  /**
   * What may be logged of the error: DuckDB's error class ('Conversion Error', 'Binder Error', …) or the
   * kind. The message itself may quote a client's parameter or literal values and is never logged.
   */
  readonly errorClass: string;
  /**
   * The SQLSTATE Postgres raises for this error (a guard of the rewrite, or a DuckDB error Postgres
   * raises alike), when known: a session that already sent rows ends the statement with it.
   */
  readonly sqlstate: string | null;
  /**
   * A refusal for what the statement is (its translation or its column types), not for the values it
   * met nor the session's settings: the same statement shape is refused again (router/refusals.ts).
   */
  readonly byShape: boolean;
  constructor(readonly kind: DuckdbErrorKind, message: string, errorClass?: string, opts: { sqlstate?: string; byShape?: boolean } = {}) {
    const tagged = GUARD_ERROR.exec(message);
    super(tagged ? tagged[2]! : message);
    this.errorClass = errorClass ?? duckdbErrorClass(message) ?? kind;
    this.sqlstate = opts.sqlstate ?? (tagged ? tagged[1]! : postgresSqlstate(message));
    this.byShape = opts.byShape ?? false;
  }
}

/** A guard's error raised in DuckDB: 'duckgate: [SQLSTATE] Postgres's message' (see CONNECTION_SETUP_SQL). */
const GUARD_ERROR = /duckgate: \[([0-9A-Z]{5})\] ([^\n]*)/;

/** DuckDB errors Postgres raises alike for the same values, with Postgres's SQLSTATE. */
function postgresSqlstate(message: string): string | null {
  if (/cannot take square root of a negative number/.test(message)) return '2201F';
  if (/cannot take logarithm of (zero|a negative number)/.test(message)) return '2201E';
  if (/Overflow in (addition|subtraction|multiplication) of INT(16|32|64)/.test(message)) return '22003';
  return null;
}

/** DuckDB's error class from its message ('Conversion Error: Could not convert …'), or null. */
export function duckdbErrorClass(message: string): string | null {
  const m = /^([A-Za-z][A-Za-z ]{0,40} Error):/.exec(message);
  return m ? m[1]! : null;
}

/**
 * DuckDB errors about a value rather than the engine: a parameter, literal or datum DuckDB would not
 * convert (Postgres validated the client's parameters already, see analytics.ts, but accepts forms
 * DuckDB does not, such as 'today' for a date). Postgres answers such a statement; it says nothing of
 * DuckDB's health.
 */
const INPUT_ERROR_CLASSES = new Set(['Conversion Error', 'Invalid Input Error', 'Out of Range Error']);

export interface DuckdbEngineOptions {
  /** connections kept open; each runs one statement at a time */
  connections?: number;
  /** interrupt statements DuckDB has worked on longer than this, time waiting on the client excluded (0: never) */
  statementTimeoutMs?: number;
  /** refuse a statement that waited this long for a running slot (0: wait indefinitely) */
  queueTimeoutMs?: number;
  /**
   * The PG→DuckDB translation (default: rewrite.ts's rewrite). A seam for the composition root: the
   * differential generator's own test wraps it with a deliberately wrong translation to prove it finds one.
   */
  translate?: Translate;
}

/** The signature of rewrite(): Postgres SQL and what is known of it → DuckDB SQL or a refusal. */
export type Translate = typeof rewrite;

export interface ExecuteRequest {
  /** the statement as the client sent it (Postgres SQL, $n placeholders) */
  sql: string;
  /** parameter values in text format, as bound by the client (null = NULL) */
  params?: ReadonlyArray<string | null>;
  /** Postgres's ParameterDescription for the statement */
  paramTypeOids?: readonly number[];
  /** Postgres's RowDescription plus the result format code per column the client asked for */
  fields: readonly PgField[];
  session: SessionOptions;
  /** table name → DuckDB relation (the session's search_path applied), null when not mirrored */
  resolve: Resolver;
  signal?: AbortSignal;
  /**
   * ms left of the session's statement_timeout (0/undefined: none): wall clock from open(), time waiting
   * on the client included, as Postgres counts it; when it passes the statement ends as
   * 'statement_timeout'. The engine's own statementTimeoutMs applies independently.
   */
  statementTimeoutMs?: number;
  /** now()/current_date/localtimestamp as the session's Postgres connection read them; a statement
   *  that uses them is refused without */
  clock?: SessionClock;
}

interface PooledConnection {
  conn: DuckDBConnection;
  timeZone: string | null;
  /**
   * Prepared statements kept for re-execution (DuckDB plans a statement in ~1–3 ms, a large part of a
   * small analytical query). Only statements without now()/current_date (their constants are expanded
   * when prepared); dropped when the TimeZone, and with it the calendar macros, changes. DuckDB re-binds
   * a prepared statement itself when a table it reads was replaced.
   */
  prepared: Map<string, DuckDBPreparedStatement>;
}

const PREPARED_PER_CONNECTION = 64;
/** How long the table facts (columns, sizes) serve before open() reads them again. */
const FACTS_TTL_MS = 10_000;

function dropPrepared(pc: PooledConnection): void {
  for (const p of pc.prepared.values()) {
    try {
      p.destroySync();
    } catch (e) {
      logger.debug({ errorClass: (e as Error)?.name }, 'duckdb prepared statement destroy failed');
    }
  }
  pc.prepared.clear();
}

/** The smallest normal float8: a result below it (subnormal) is an ERANGE underflow for C's exp/pow */
const DBL_MIN = '2.2250738585072014e-308';

/**
 * Postgres semantics on a DuckDB connection: int / int truncates; x / 0 errors (dg_nz). dg_fadd,
 * dg_fsub, dg_fmul, dg_fdiv are + - * / where an operand may be float (rewrite.ts): they raise 22003 where
 * Postgres's float8pl/mi/mul/div (float.c) raise on overflow (Infinity from finite operands) and, for * and
 * /, on underflow (0 from non-zero operands); for other types (integer division gives 0 alike) the
 * checks fold away when DuckDB binds (typeof) and the result is the plain operation's. dg_fdiv is given
 * the quotient, written in the statement: this text is parsed as a whole before its SET integer_division
 * applies, so a / inside a macro here would divide integers as DOUBLEs. dg_sqrt, dg_ln,
 * dg_exp, dg_power raise where Postgres's float8 functions raise (float.c: dexp, dpow: 22003 on overflow
 * and underflow, 2201F for 0 to a negative power and a negative number to a non-integer one) instead of
 * returning Infinity, 0 or NaN, and refuse a DECIMAL argument (Postgres's numeric functions compute
 * exactly). DuckDB's own sqrt/ln already raise for negative arguments and zero. A guard's error names
 * Postgres's SQLSTATE as 'duckgate: [XXXXX] message': raised before the first row, the statement goes to
 * Postgres (which raises its own error); after rows were sent, the client gets that SQLSTATE. dg_text(x) is
 * the text of x inside || (the cast to text: a bool is 'true'), dg_out(x) inside concat() (the output
 * function: a bool is 't'), for the types DuckDB prints as Postgres does (text, integers, bool, uuid).
 * Any other type has no overload, so DuckDB refuses the statement when it binds (float8 8 is '8' in
 * Postgres, '8.0' in DuckDB; an interval '3 mons' there, '3 months' here).
 */
export const CONNECTION_SETUP_SQL = `SET integer_division = true;
CREATE OR REPLACE TEMP MACRO dg_nz(b) AS CASE WHEN b = 0 THEN error('duckgate: [22012] division by zero') ELSE b END;
CREATE OR REPLACE TEMP MACRO dg_fadd(a, b) AS CASE WHEN typeof(a + b) IN ('FLOAT', 'DOUBLE') AND isinf(try_cast(a + b AS DOUBLE)) AND NOT isinf(try_cast(a AS DOUBLE)) AND NOT isinf(try_cast(b AS DOUBLE))
  THEN error('duckgate: [22003] value out of range: overflow') ELSE a + b END;
CREATE OR REPLACE TEMP MACRO dg_fsub(a, b) AS CASE WHEN typeof(a - b) IN ('FLOAT', 'DOUBLE') AND isinf(try_cast(a - b AS DOUBLE)) AND NOT isinf(try_cast(a AS DOUBLE)) AND NOT isinf(try_cast(b AS DOUBLE))
  THEN error('duckgate: [22003] value out of range: overflow') ELSE a - b END;
CREATE OR REPLACE TEMP MACRO dg_fmul(a, b) AS CASE WHEN typeof(a * b) IN ('FLOAT', 'DOUBLE') AND isinf(try_cast(a * b AS DOUBLE)) AND NOT isinf(try_cast(a AS DOUBLE)) AND NOT isinf(try_cast(b AS DOUBLE))
  THEN error('duckgate: [22003] value out of range: overflow')
  WHEN typeof(a * b) IN ('FLOAT', 'DOUBLE') AND try_cast(a * b AS DOUBLE) = 0 AND try_cast(a AS DOUBLE) <> 0 AND try_cast(b AS DOUBLE) <> 0 THEN error('duckgate: [22003] value out of range: underflow') ELSE a * b END;
CREATE OR REPLACE TEMP MACRO dg_fdiv(a, b, q) AS CASE WHEN typeof(q) IN ('FLOAT', 'DOUBLE') AND isinf(try_cast(q AS DOUBLE)) AND NOT isinf(try_cast(a AS DOUBLE))
  THEN error('duckgate: [22003] value out of range: overflow')
  WHEN typeof(q) IN ('FLOAT', 'DOUBLE') AND try_cast(q AS DOUBLE) = 0 AND try_cast(a AS DOUBLE) <> 0 AND NOT isinf(try_cast(b AS DOUBLE)) THEN error('duckgate: [22003] value out of range: underflow') ELSE q END;
CREATE OR REPLACE TEMP MACRO dg_sqrt(x) AS CASE WHEN typeof(x) LIKE 'DECIMAL%' THEN error('duckgate: sqrt(numeric) is computed in numeric') ELSE sqrt(x) END;
CREATE OR REPLACE TEMP MACRO dg_ln(x) AS CASE WHEN typeof(x) LIKE 'DECIMAL%' THEN error('duckgate: ln(numeric) is computed in numeric') ELSE ln(x) END;
CREATE OR REPLACE TEMP MACRO dg_exp(x) AS CASE WHEN typeof(x) LIKE 'DECIMAL%' THEN error('duckgate: exp(numeric) is computed in numeric')
  WHEN isinf(try_cast(x AS DOUBLE)) THEN exp(x)
  WHEN isinf(exp(x)) THEN error('duckgate: [22003] value out of range: overflow')
  WHEN exp(x) < ${DBL_MIN} THEN error('duckgate: [22003] value out of range: underflow') ELSE exp(x) END;
CREATE OR REPLACE TEMP MACRO dg_power(x, y) AS CASE WHEN typeof(x) LIKE 'DECIMAL%' OR typeof(y) LIKE 'DECIMAL%' THEN error('duckgate: power(numeric) is computed in numeric')
  WHEN x = 0 AND y < 0 THEN error('duckgate: [2201F] zero raised to a negative power is undefined')
  WHEN x < 0 AND floor(y) <> y THEN error('duckgate: [2201F] a negative number raised to a non-integer power yields a complex result')
  WHEN isinf(try_cast(x AS DOUBLE)) OR isinf(try_cast(y AS DOUBLE)) THEN power(x, y)
  WHEN isinf(power(x, y)) OR (power(x, y) <> 0 AND abs(power(x, y)) < ${DBL_MIN}) THEN error('duckgate: [22003] value out of range: overflow')
  WHEN power(x, y) = 0 AND x <> 0 THEN error('duckgate: [22003] value out of range: underflow') ELSE power(x, y) END;
CREATE OR REPLACE TEMP MACRO dg_text(x VARCHAR) AS x, (x BIGINT) AS CAST(x AS VARCHAR), (x HUGEINT) AS CAST(x AS VARCHAR),
  (x BOOLEAN) AS CASE WHEN x THEN 'true' WHEN NOT x THEN 'false' END, (x UUID) AS CAST(x AS VARCHAR);
CREATE OR REPLACE TEMP MACRO dg_out(x VARCHAR) AS x, (x BIGINT) AS CAST(x AS VARCHAR), (x HUGEINT) AS CAST(x AS VARCHAR),
  (x BOOLEAN) AS CASE WHEN x THEN 't' WHEN NOT x THEN 'f' END, (x UUID) AS CAST(x AS VARCHAR)`;

/** Sets a connection's TimeZone (a duckdbTimeZone() result) and the calendar macros that go with it. */
export function timeZoneSql(duckTz: string): string {
  return `SET TimeZone = '${duckTz.replace(/'/g, "''")}';\n${calendarMacros(fixedOffsetSeconds(duckTz))}`;
}

/** Why a translated statement still cannot run for this session, or null. */
export function sessionRefusal(plan: Extract<RewriteResult, { ok: true }>, session: SessionOptions): string | null {
  // timestamptz - timestamptz is elapsed time in 24-hour days in Postgres (timestamptz_mi,
  // interval_justify_hours); DuckDB's calendar counts a day across a DST change as 23 or 25 hours.
  // The two agree only where the zone has no transitions.
  if (plan.subtractsValues && fixedOffsetSeconds(duckdbTimeZone(session.timeZone) ?? session.timeZone) === null)
    return `a subtraction of two values under TimeZone ${session.timeZone}, which has DST`;
  const ctype = session.ctype ?? 'C';
  if (plan.caseMapping && ctype !== 'C' && ctype !== 'POSIX') return `lower/upper/ILIKE under LC_CTYPE ${ctype} (translated for the C ctype only)`;
  return null;
}

/** DuckDB TimeZone setting equivalent to a Postgres one, or null when DuckDB has no exact equivalent. */
export function duckdbTimeZone(pgZone: string): string | null {
  const z = pgZone.trim();
  if (/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(z) && !/[+-]\d/.test(z)) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: z });
      return z;
    } catch {
      /* fall through to fixed offsets */
    }
  }
  try {
    const a = utcOffsetSeconds(z, 0);
    const b = utcOffsetSeconds(z, 15_778_800); // half a year later: a fixed zone has the same offset
    if (a !== b || a % 3600 !== 0) return null;
    const h = a / 3600;
    return h === 0 ? 'UTC' : `Etc/GMT${h > 0 ? '-' : '+'}${Math.abs(h)}`; // Etc/GMT signs are POSIX (inverted)
  } catch {
    return null;
  }
}

interface SlotWaiter {
  /** a cursor resuming a statement: served before new statements, never refused */
  resume: boolean;
  grant(): void;
}

export class DuckdbEngine {
  /** connections no statement or cursor uses, kept for reuse (their prepared statements, TimeZone) */
  private readonly idle: PooledConnection[] = [];
  /** statements DuckDB is working on right now (inside open() or a cursor's fetch) */
  private running = 0;
  private waiters: SlotWaiter[] = [];
  private readonly max: number;
  private readonly timeoutMs: number;
  private readonly plans = new Map<string, { result: RewriteResult; lookups: Array<[string | null, string, string | null]>; factsVersion: number; missedFacts: boolean }>();
  /** the last planFor() read a relation without facts (a table newer than the facts: see openInner) */
  private missedFacts = false;
  /** columns and sizes of DuckDB's tables by quoted reference, for pre-aggregation (refreshFacts) */
  private facts = new Map<string, RelationFacts>();
  private factsSignature = '';
  private factsVersion = 0;
  private factsAt = 0;
  private factsLoading: Promise<void> | null = null;
  private factsConn: DuckDBConnection | null = null;
  private readonly alignedSql = new Map<string, string>();
  private closed = false;

  constructor(private readonly instance: DuckDBInstance, opts: DuckdbEngineOptions = {}) {
    this.max = Math.max(1, opts.connections ?? 4);
    this.timeoutMs = opts.statementTimeoutMs ?? 60_000;
    this.queueTimeoutMs = opts.queueTimeoutMs ?? 10_000;
    this.translate = opts.translate ?? rewrite;
  }
  private readonly translate: Translate;
  private readonly queueTimeoutMs: number;

  /** Loads the SQL parser; call once before the first plan()/open(). */
  static async init(): Promise<void> {
    await initRewriter();
  }

  /**
   * The rewrite for a statement (cached by text and result types): cheap enough for the router to ask
   * whether DuckDB could answer before committing to it.
   */
  plan(sql: string, resolve: Resolver, fieldTypeOids: readonly number[], paramTypeOids: readonly number[] = [], session?: SessionOptions): RewriteResult {
    const p = this.planFor(sql, resolve, fieldTypeOids, paramTypeOids);
    // refused without a relation's column types: read them for the next plan (open() waits for them)
    if (!p.ok && this.missedFacts) void this.refreshFacts();
    const refusal = p.ok && session ? sessionRefusal(p, session) : null;
    return refusal ? { ok: false, reason: refusal } : p;
  }

  private planFor(sql: string, resolve: Resolver, fieldTypeOids: readonly number[], paramTypeOids: readonly number[]): RewriteResult {
    const key = `${fieldTypeOids.join(',')}|${paramTypeOids.join(',')}|${sql}`;
    const hit = this.plans.get(key);
    // The same text names other tables under another search_path: a cached rewrite is reused only if
    // every table name it looked up still resolves to the same DuckDB relation for this session (and
    // was planned with the table facts of now).
    if (hit && hit.factsVersion === this.factsVersion && hit.lookups.every(([schema, name, rel]) => resolve(schema, name) === rel)) {
      this.missedFacts = hit.missedFacts;
      return hit.result;
    }
    const lookups: Array<[string | null, string, string | null]> = [];
    const recording: Resolver = (schema, name) => {
      const rel = resolve(schema, name);
      lookups.push([schema, name, rel]);
      return rel;
    };
    const facts = this.facts;
    let missedFacts = false;
    const relation = (ref: string): RelationFacts | undefined => {
      const f = facts.get(ref);
      if (!f) missedFacts = true;
      return f;
    };
    const result = this.translate(sql, { resolve: recording, fieldTypeOids, paramTypeOids, relation });
    this.missedFacts = missedFacts;
    if (this.plans.size > 2000) this.plans.clear();
    this.plans.set(key, { result, lookups, factsVersion: this.factsVersion, missedFacts });
    return result;
  }

  /**
   * Reads the columns and estimated sizes of DuckDB's tables (duckdb_columns, duckdb_tables), which the
   * rewrite uses to decide where pre-aggregating pays. Only a change of a column, a type or a size's
   * order of magnitude (power of two) counts as new facts and replans cached statements.
   */
  async refreshFacts(): Promise<void> {
    this.factsLoading ??= (async () => {
      try {
        if (this.closed) return;
        this.factsConn ??= await this.instance.connect();
        const rows = (
          await this.factsConn.runAndReadAll(
            `SELECT c.schema_name, c.table_name, c.column_name, c.data_type, t.estimated_size
               FROM duckdb_columns() c LEFT JOIN duckdb_tables() t
                 ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
              WHERE NOT c.internal AND c.database_name = current_database()
              ORDER BY c.schema_name, c.table_name, c.column_index`,
          )
        ).getRows();
        const facts = new Map<string, { columns: Map<string, string>; rows: number | null }>();
        const quote = (x: string) => `"${x.replaceAll('"', '""')}"`;
        for (const [schema, table, column, type, size] of rows) {
          const ref = `${quote(String(schema))}.${quote(String(table))}`;
          let f = facts.get(ref);
          if (!f) facts.set(ref, (f = { columns: new Map(), rows: size === null || size === undefined ? null : Number(size) }));
          f.columns.set(String(column), String(type));
        }
        const signature = [...facts]
          .map(([ref, f]) => `${ref}:${f.rows === null ? '-' : Math.floor(Math.log2(f.rows + 1))}:${[...f.columns].map(([c, t]) => `${c} ${t}`).join(',')}`)
          .join(';');
        this.facts = facts;
        if (signature !== this.factsSignature) {
          this.factsSignature = signature;
          this.factsVersion++;
        }
      } catch {
        // without facts statements are simply not pre-aggregated; the next refresh tries again
      } finally {
        this.factsAt = Date.now();
        this.factsLoading = null;
      }
    })();
    return this.factsLoading;
  }

  /** @internal takes a running slot at once if one is free */
  tryAcquireSlot(): boolean {
    if (this.running >= this.max) return false;
    this.running++;
    return true;
  }

  /**
   * @internal waits for a running slot. A new statement (resume false) waits at most `timeoutMs` (then
   * `onTimeout()` is thrown) and stops waiting when `signal` fires; a resuming cursor waits, ahead of
   * new statements, for as long as the running statements take.
   */
  acquireSlot(resume: boolean, timeoutMs = 0, onTimeout?: () => DuckdbEngineError, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new DuckdbEngineError('failed', 'DuckDB engine is closed'));
    if (this.tryAcquireSlot()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const leave = (e: DuckdbEngineError): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        cleanup();
        reject(e);
      };
      const timer = !resume && timeoutMs > 0 ? setTimeout(() => leave(onTimeout?.() ?? new DuckdbEngineError('busy', `no DuckDB slot free within ${timeoutMs} ms`)), timeoutMs) : null;
      const onAbort = (): void => leave(new DuckdbEngineError('canceled', 'canceling statement due to user request'));
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: SlotWaiter = {
        resume,
        grant: () => {
          cleanup();
          resolve();
        },
      };
      if (!resume) signal?.addEventListener('abort', onAbort, { once: true });
      if (resume) {
        const at = this.waiters.findIndex((w) => !w.resume);
        if (at < 0) this.waiters.push(waiter);
        else this.waiters.splice(at, 0, waiter);
      } else this.waiters.push(waiter);
    });
  }

  /** @internal gives a running slot back (to the first waiter, if any) */
  releaseSlot(): void {
    const w = this.waiters.shift();
    if (w) w.grant();
    else this.running--;
  }

  /** A connection for a new statement: an idle one, or a new one (not limited: slots limit the work). */
  private async connection(): Promise<PooledConnection> {
    const c = this.idle.pop();
    if (c) return c;
    let conn: DuckDBConnection | null = null;
    try {
      conn = await this.instance.connect();
      await conn.run(CONNECTION_SETUP_SQL);
      return { conn, timeZone: null, prepared: new Map() };
    } catch (e) {
      conn?.closeSync();
      throw new DuckdbEngineError('failed', `DuckDB connect: ${(e as Error).message}`);
    }
  }

  /** @internal returns a connection to the pool (closed when the pool is full or the engine closed) */
  release(c: PooledConnection): void {
    if (this.closed || this.idle.length >= this.max) {
      dropPrepared(c);
      try {
        c.conn.closeSync();
      } catch (e) {
        logger.debug({ errorClass: (e as Error)?.name }, 'duckdb connection close failed');
      }
    } else this.idle.push(c);
  }

  /** Rewrites, aligns, binds and starts the statement; rows are read through the returned cursor. */
  async open(req: ExecuteRequest): Promise<DuckdbCursor> {
    try {
      return await this.openInner(req);
    } catch (e) {
      duckdbStatements.inc({ outcome: e instanceof DuckdbEngineError ? e.kind : 'failed' });
      throw e;
    }
  }

  private async openInner(req: ExecuteRequest): Promise<DuckdbCursor> {
    const bad = unsupportedSession(req.session);
    if (bad) throw new DuckdbEngineError('refused', bad);
    const tz = duckdbTimeZone(req.session.timeZone);
    if (tz === null) throw new DuckdbEngineError('refused', `TimeZone ${req.session.timeZone} has no DuckDB equivalent`);
    if (Date.now() - this.factsAt > FACTS_TTL_MS) await this.refreshFacts();
    let plan = this.planFor(req.sql, req.resolve, req.fields.map((f) => f.typeOid), req.paramTypeOids ?? []);
    // A refusal made without the column types of a relation (one newer than the facts: float4.ts
    // refuses what it cannot type) is decided again with fresh facts.
    if (!plan.ok && this.missedFacts) {
      await this.refreshFacts();
      plan = this.planFor(req.sql, req.resolve, req.fields.map((f) => f.typeOid), req.paramTypeOids ?? []);
    }
    if (!plan.ok) throw new DuckdbEngineError('refused', plan.reason, undefined, { byShape: plan.byValue !== true && !this.missedFacts });
    const refusal = sessionRefusal(plan, req.session);
    if (refusal) throw new DuckdbEngineError('refused', refusal);
    if (req.signal?.aborted) throw new DuckdbEngineError('canceled', 'canceling statement due to user request');

    // The session's statement_timeout runs on the wall clock from here, the wait for a slot included.
    const sessionMs = req.statementTimeoutMs ?? 0;
    const deadline = sessionMs > 0 ? performance.now() + sessionMs : Infinity;
    const statementTimeout = (): DuckdbEngineError => new DuckdbEngineError('statement_timeout', 'canceling statement due to statement timeout');
    // A new statement waits for a slot at most queueTimeoutMs (then Postgres answers it), and no longer
    // than the session's statement_timeout allows.
    const wait = Math.min(this.queueTimeoutMs > 0 ? this.queueTimeoutMs : Infinity, deadline - performance.now());
    await this.acquireSlot(
      false,
      wait === Infinity ? 0 : Math.max(1, wait),
      () => (performance.now() >= deadline ? statementTimeout() : new DuckdbEngineError('busy', `no DuckDB slot free within ${this.queueTimeoutMs} ms`)),
      req.signal,
    );
    let pc: PooledConnection;
    try {
      pc = await this.connection();
    } catch (e) {
      this.releaseSlot();
      throw e;
    }
    let prepared: DuckDBPreparedStatement | null = null;
    const guard = new InterruptGuard(pc.conn, req.signal, this.timeoutMs, deadline === Infinity ? 0 : Math.max(1, deadline - performance.now()));
    guard.run();
    try {
      if (pc.timeZone !== tz) {
        dropPrepared(pc);
        pc.timeZone = null;
        await pc.conn.run(timeZoneSql(tz));
        pc.timeZone = tz;
      }
      if (plan.clock) {
        if (!req.clock) throw new DuckdbEngineError('refused', 'now()/current_date without the session clock');
        await pc.conn.run(clockMacros(req.clock));
      }
      // The statement with its type-alignment casts, found by preparing it once to learn DuckDB's
      // column types. Cached under everything it depends on: the rewritten statement (which names the
      // DuckDB relations), Postgres's column names,
      // types and typmods, and the parameter types (the mirror's DuckDB types follow Postgres's, so a
      // schema change that alters them alters the RowDescription, and with it the key).
      const alignKey = `${req.fields.map((f) => `${f.typeOid}.${f.typmod}.${f.name}`).join('\u0001')}|${(req.paramTypeOids ?? []).join(',')}|${plan.sql}`;
      let sql = this.alignedSql.get(alignKey);
      if (sql === undefined) {
        const inner = await pc.conn.prepare(plan.sql);
        const types = Array.from({ length: inner.columnCount }, (_, i) => inner.columnType(i));
        const names = Array.from({ length: inner.columnCount }, (_, i) => inner.columnName(i));
        inner.destroySync();
        if (plan.checkNames) {
          const differ = starNamesDiffer(names, req.fields);
          if (differ) throw new DuckdbEngineError('refused', differ);
        }
        const aligned = alignColumns(types, req.fields, plan.kinds);
        if (!aligned.ok) throw new DuckdbEngineError('refused', aligned.reason, undefined, { byShape: true });
        sql = wrapWithCasts(plan.sql, aligned.casts);
        if (this.alignedSql.size > 2000) this.alignedSql.clear();
        this.alignedSql.set(alignKey, sql);
      }
      const cached = plan.clock ? undefined : pc.prepared.get(sql);
      if (cached) {
        // most recently used last, so the first key is the one to evict
        pc.prepared.delete(sql);
        pc.prepared.set(sql, cached);
        prepared = cached;
      } else {
        prepared = await pc.conn.prepare(sql);
        if (!plan.clock) {
          if (pc.prepared.size >= PREPARED_PER_CONNECTION) {
            const [oldest, stmt] = pc.prepared.entries().next().value as [string, DuckDBPreparedStatement];
            pc.prepared.delete(oldest);
            stmt.destroySync();
          }
          pc.prepared.set(sql, prepared);
        }
      }
      const owned = !pc.prepared.has(sql);
      const params = req.params ?? [];
      if (prepared.parameterCount !== params.length)
        throw new DuckdbEngineError('refused', `statement has ${prepared.parameterCount} parameters, ${params.length} bound`);
      params.forEach((p, i) => (p === null ? prepared!.bindNull(i + 1) : prepared!.bindVarchar(i + 1, p)));
      // canceled or timed out while being set up: not started at all
      if (guard.fired) throw new Error('interrupted');
      const result = await prepared.stream();
      // An interrupt that fired while DuckDB was preparing is cleared when the query starts: repeat it
      // now that the query is pending, or a cancel or timeout in that window would be lost.
      guard.reapply();
      if (plan.preAggregated > 0) duckdbPreaggregated.inc();
      guard.pause();
      this.releaseSlot();
      return new DuckdbCursor(this, pc, owned ? prepared : null, result, encodingFields(req.fields, plan.scales), req.session, guard);
    } catch (e) {
      guard.dispose();
      if (prepared) {
        // a statement that failed is not kept for the next execution
        for (const [k, v] of pc.prepared) if (v === prepared) pc.prepared.delete(k);
        try {
          prepared.destroySync();
        } catch {
          /* already unusable */
        }
      }
      this.release(pc);
      this.releaseSlot();
      throw guard.translate(e);
    }
  }

  /** Convenience: the whole result as DataRow buffers (one per DuckDB chunk). */
  async *execute(req: ExecuteRequest): AsyncGenerator<Buffer, number> {
    const cursor = await this.open(req);
    try {
      for (;;) {
        const { data, done } = await cursor.next(Infinity);
        if (data.length) yield data;
        if (done) return cursor.rowCount;
      }
    } finally {
      cursor.close();
    }
  }

  close(): void {
    this.closed = true;
    this.factsConn?.closeSync();
    this.factsConn = null;
    for (const c of this.idle.splice(0)) {
      dropPrepared(c);
      c.conn.closeSync();
    }
  }
}

/**
 * For a top-level *: DuckDB expanded it over the mirror's columns, Postgres over the table's. The same
 * names in the same order (the types are aligned separately) mean the same columns; anything else (a
 * mirror with columns in another order, a dropped or added column, DuckDB renaming a duplicate) is
 * refused. Returns the reason, or null.
 */
export function starNamesDiffer(duckNames: readonly string[], fields: readonly PgField[]): string | null {
  if (duckNames.length !== fields.length) return `SELECT *: DuckDB has ${duckNames.length} columns, Postgres ${fields.length}`;
  for (let i = 0; i < fields.length; i++) {
    if (duckNames[i] !== fields[i]!.name) return `SELECT *: column ${i + 1} is ${duckNames[i]} in DuckDB, ${fields[i]!.name} in Postgres`;
  }
  return null;
}

/**
 * The fields the encoder works from: Postgres's, except where the rewrite fixed a numeric display scale
 * (round(x, n) is numeric(-1) in the RowDescription yet always printed with n digits): that column is
 * encoded as numeric(1000, n), whose rescale rounds half away from zero as Postgres's round does.
 */
export function encodingFields(fields: readonly PgField[], scales: ReadonlyArray<number | null>): readonly PgField[] {
  if (scales.every((x) => x === null)) return fields;
  return fields.map((f, i) => {
    const n = scales[i];
    if (n === null || n === undefined || f.typeOid !== Oid.numeric || f.typmod !== -1) return f;
    return { ...f, typmod: ((1000 << 16) | n) + 4 };
  });
}

/**
 * Interrupts the DuckDB connection on abort or timeout and turns the resulting error into the right kind.
 *
 * Two clocks: the engine's own statementTimeoutMs counts only while DuckDB works on the statement
 * (between run() and pause(): inside open() and inside each fetch), so a client that reads slowly, or a
 * portal read in pieces, does not spend it; the session's statement_timeout is wall clock from open(),
 * as Postgres counts it (postgres.c keeps the timer running across the Execute messages of a suspended
 * portal until the statement completes), and fires even between fetches: the next fetch then ends the
 * statement.
 */
class InterruptGuard {
  private reason: 'timeout' | 'statement_timeout' | 'canceled' | null = null;
  /** ms of DuckDB work left (Infinity: no limit) */
  private budget: number;
  private runningSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly deadlineTimer: NodeJS.Timeout | null;
  private readonly onAbort = (): void => this.fire('canceled');

  constructor(private readonly conn: DuckDBConnection, private signal: AbortSignal | undefined, engineMs: number, sessionMs: number) {
    this.budget = engineMs > 0 ? engineMs : Infinity;
    this.deadlineTimer = sessionMs > 0 ? setTimeout(() => this.fire('statement_timeout'), sessionMs) : null;
    // A cancel that came while the statement waited for its slot or connection fires no event any more.
    if (signal?.aborted) this.fire('canceled');
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Listens to another cancel signal from now on (undefined: none). */
  watch(signal: AbortSignal | undefined): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    this.signal = signal;
    if (signal?.aborted) this.fire('canceled');
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** DuckDB starts working on the statement: the engine's clock runs. */
  run(): void {
    if (this.runningSince !== null) return;
    this.runningSince = performance.now();
    if (this.budget !== Infinity) this.timer = setTimeout(() => this.fire('timeout'), Math.max(0, this.budget));
  }

  /**
   * The client has the first rows: the statement can no longer go to Postgres, and duckgate's own
   * budget, which exists to send a slow statement there in time, would only turn an answer Postgres
   * gives into an error. From here only the session's statement_timeout and a cancel end it.
   */
  endBudget(): void {
    this.budget = Infinity;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** DuckDB stopped (the result waits for the caller): the engine's clock stops. */
  pause(): void {
    if (this.runningSince === null) return;
    this.budget -= performance.now() - this.runningSince;
    this.runningSince = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private fire(r: 'timeout' | 'statement_timeout' | 'canceled'): void {
    if (this.reason) return;
    this.reason = r;
    this.interrupt();
    // DuckDB clears an interrupt when a query starts: one that lands between two of the statement's
    // calls (setup, prepare, the start of the query, which for an aggregate runs it to the end) would be
    // lost and the statement run to completion. Repeated until the statement is disposed, it stops the
    // query whenever it runs.
    this.again = setInterval(() => this.interrupt(), 25);
    this.again.unref();
  }

  private again: NodeJS.Timeout | null = null;

  private interrupt(): void {
    try {
      this.conn.interrupt();
    } catch {
      /* the connection is already closed: nothing runs on it */
    }
  }

  reapply(): void {
    if (this.reason) this.conn.interrupt();
  }

  get fired(): 'timeout' | 'statement_timeout' | 'canceled' | null {
    return this.reason;
  }

  translate(e: unknown): DuckdbEngineError {
    if (e instanceof DuckdbEngineError) return e;
    if (this.reason === 'canceled') return new DuckdbEngineError('canceled', 'canceling statement due to user request');
    if (this.reason === 'statement_timeout') return new DuckdbEngineError('statement_timeout', 'canceling statement due to statement timeout');
    if (this.reason === 'timeout') return new DuckdbEngineError('timeout', 'DuckDB statement timeout');
    if (e instanceof UnencodableError) return new DuckdbEngineError('refused', e.message);
    const message = (e as Error)?.message ?? String(e);
    // dg_text has no overload for a type whose text DuckDB writes differently: a refusal, not a failure
    if (message.includes('Macro dg_text()') || message.includes('Macro dg_out()')) return new DuckdbEngineError('refused', `text of a value DuckDB prints otherwise: ${message}`, 'Binder Error');
    // the rewrite's own guards (calendar.ts, numeric casts) and dg_nz's division by zero raise where
    // Postgres answers otherwise or raises itself: Postgres answers, and it is no failure of DuckDB's
    if (message.includes('duckgate: ') || message.includes('division by zero')) return new DuckdbEngineError('refused', message);
    const cls = duckdbErrorClass(message);
    if (cls !== null && INPUT_ERROR_CLASSES.has(cls)) return new DuckdbEngineError('input', message, cls);
    return new DuckdbEngineError('failed', message);
  }

  dispose(): void {
    this.pause();
    if (this.again) clearInterval(this.again);
    this.again = null;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

export class DuckdbCursor {
  /** rows handed out so far (for CommandComplete 'SELECT n') */
  rowCount = 0;
  private columns: DuckDBValue[][] | null = null;
  private pos = 0;
  private chunkRows = 0;
  private finished = false;
  private released = false;

  constructor(
    private readonly engine: DuckdbEngine,
    private readonly pc: PooledConnection,
    /** destroyed on close unless null (the connection keeps it for the next execution) */
    private readonly prepared: DuckDBPreparedStatement | null,
    private readonly result: DuckDBResult,
    private readonly fields: readonly PgField[],
    private readonly session: SessionOptions,
    private readonly guard: InterruptGuard,
  ) {}

  /**
   * Up to maxRows rows as concatenated DataRow messages. done=true once the result is exhausted (the
   * cursor is then closed); done=false means more rows remain (PortalSuspended).
   */
  async next(maxRows: number): Promise<{ data: Buffer; rows: number; done: boolean }> {
    if (this.released && !this.finished) throw new DuckdbEngineError('failed', 'DuckDB cursor read after it was closed');
    const parts: Buffer[] = [];
    let rows = 0;
    // a running slot is taken only when DuckDB has to produce a chunk, and given back before returning
    let holding = false;
    try {
      while (rows < maxRows) {
        if (this.columns === null || this.pos >= this.chunkRows) {
          if (this.finished) break;
          if (!holding) {
            if (!this.engine.tryAcquireSlot()) await this.engine.acquireSlot(true);
            holding = true;
            this.guard.run();
          }
          if (this.guard.fired) throw new Error('interrupted');
          const chunk = await this.fetch();
          if (!chunk || chunk.rowCount === 0) {
            this.finished = true;
            break;
          }
          this.columns = chunk.getColumns();
          this.chunkRows = chunk.rowCount;
          this.pos = 0;
        }
        const take = Math.min(this.chunkRows - this.pos, maxRows - rows);
        parts.push(encodeDataRows(this.columns, this.pos, take, this.fields, this.session));
        this.pos += take;
        rows += take;
      }
    } catch (e) {
      this.close();
      const err = this.guard.translate(e);
      duckdbStatements.inc({ outcome: err.kind });
      throw err;
    } finally {
      if (holding) {
        this.guard.pause();
        this.engine.releaseSlot();
      }
    }
    this.rowCount += rows;
    duckdbRows.inc(rows);
    const done = this.finished && (this.columns === null || this.pos >= this.chunkRows);
    if (done) {
      duckdbStatements.inc({ outcome: 'ok' });
      this.close();
    }
    return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts), rows, done };
  }

  /**
   * Runs the statement up to its first chunk without handing out rows (a portal bound and described
   * before its first Execute): a failure surfaces here, while the caller can still go to Postgres.
   */
  async prime(): Promise<void> {
    if (this.columns !== null || this.finished) return;
    if (!this.engine.tryAcquireSlot()) await this.engine.acquireSlot(true);
    this.guard.run();
    try {
      if (this.guard.fired) throw new Error('interrupted');
      const chunk = await this.fetch();
      if (!chunk || chunk.rowCount === 0) this.finished = true;
      else {
        this.columns = chunk.getColumns();
        this.chunkRows = chunk.rowCount;
        this.pos = 0;
      }
    } catch (e) {
      this.close();
      const err = this.guard.translate(e);
      duckdbStatements.inc({ outcome: err.kind });
      throw err;
    } finally {
      this.guard.pause();
      this.engine.releaseSlot();
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const { data, done } = await this.next(Infinity);
        if (data.length) yield data;
        if (done) return;
      }
    } finally {
      this.close();
    }
  }

  /**
   * The first rows are about to go to the client: duckgate's own DuckDB budget no longer applies (see
   * endBudget). False when that budget ran out meanwhile (its interrupt may already have hit the
   * connection): the caller must then not send them, and goes to Postgres instead.
   */
  answered(): boolean {
    if (this.guard.fired === 'timeout') return false;
    this.guard.endBudget();
    return true;
  }

  /**
   * Which cancel signal ends the statement from now on. A portal suspended between Execute messages is
   * idle as Postgres sees it, and Postgres ignores a cancel that finds its backend idle (postgres.c,
   * ProcessInterrupts while DoingCommandRead): the caller unwatches it then, and watches the session's
   * signal again for the next Execute.
   */
  watch(signal: AbortSignal | undefined): void {
    if (!this.released) this.guard.watch(signal);
  }

  /** Releases the DuckDB result and connection (idempotent). */
  close(): void {
    if (this.released) return;
    this.released = true;
    this.guard.dispose();
    // Closed while a fetch is in flight (the session ended meanwhile): the connection goes back to the
    // pool only once DuckDB has returned, so no other statement starts on it under the pending fetch.
    if (this.fetching) this.interruptConnection();
    else this.releaseConnection();
  }

  private fetching = false;

  private async fetch(): Promise<Awaited<ReturnType<DuckDBResult['fetchChunk']>>> {
    this.fetching = true;
    try {
      return await this.result.fetchChunk();
    } finally {
      this.fetching = false;
      if (this.released) {
        this.releaseConnection();
        // eslint-disable-next-line no-unsafe-finally
        throw new DuckdbEngineError('canceled', 'DuckDB cursor closed during a fetch');
      }
    }
  }

  private interruptConnection(): void {
    try {
      this.pc.conn.interrupt();
    } catch {
      /* closed */
    }
  }

  private releaseConnection(): void {
    try {
      this.prepared?.destroySync();
    } catch (e) {
      logger.debug({ errorClass: (e as Error)?.name }, 'duckdb prepared statement destroy failed');
    }
    this.engine.release(this.pc);
  }
}

/**
 * DataRow ('D', int32 length, int16 column count, then per column int32 length (-1 = NULL) and the
 * bytes) for rows [from, from+count) of a column-major chunk, all in one buffer.
 */
export function encodeDataRows(
  columns: DuckDBValue[][],
  from: number,
  count: number,
  fields: readonly PgField[],
  session: SessionOptions,
): Buffer {
  const ncol = fields.length;
  const cells: Array<string | Buffer | null> = new Array(count * ncol);
  let size = 0;
  for (let r = 0; r < count; r++) {
    size += 7 + 4 * ncol;
    for (let c = 0; c < ncol; c++) {
      const v = columns[c]![from + r]!;
      let cell: string | Buffer | null = null;
      if (v !== null) {
        const f = fields[c]!;
        cell = f.format === 1 ? encodeBinary(v, f.typeOid, f.typmod, session) : encodeText(v, f.typeOid, f.typmod, session);
        size += typeof cell === 'string' ? Buffer.byteLength(cell) : cell.length;
      }
      cells[r * ncol + c] = cell;
    }
  }
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (let r = 0; r < count; r++) {
    const start = o;
    out[o] = 0x44; // 'D'
    o += 5;
    out.writeInt16BE(ncol, o);
    o += 2;
    for (let c = 0; c < ncol; c++) {
      const cell = cells[r * ncol + c];
      if (cell === null || cell === undefined) {
        out.writeInt32BE(-1, o);
        o += 4;
      } else if (typeof cell === 'string') {
        const n = out.write(cell, o + 4, 'utf8');
        out.writeInt32BE(n, o);
        o += 4 + n;
      } else {
        out.writeInt32BE(cell.length, o);
        cell.copy(out, o + 4);
        o += 4 + cell.length;
      }
    }
    out.writeInt32BE(o - start - 1, start + 1);
  }
  return out;
}
