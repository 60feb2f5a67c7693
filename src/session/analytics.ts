/**
 * The analytical path of a session: which client messages DuckDB may answer, and answering them.
 *
 *   unit of client messages (a Query, or an extended batch up to Sync)
 *     │  no mirror / names no mirrored table (text test, no parse) ───────────────▶ relay to Postgres
 *     ▼
 *   router.route(sql) ── postgres ───────────────────────────────────────────────▶ relay (reason counted)
 *     │ duckdb
 *     ▼
 *   one control round trip on the session's own upstream connection (it is idle: nothing else pending):
 *   Parse + Describe (Postgres is the type oracle), the session's settings, the user's privileges and
 *   row-level security on every touched table, the current WAL LSN
 *     │ error / no privilege / RLS / stale mirror / DuckDB refuses or fails before the first row
 *     ├──────────────────────────────────────────────────────────────────────────▶ relay to Postgres
 *     ▼
 *   DuckDB executes; rows are encoded to the RowDescription Postgres gave, in the formats asked for
 *
 * Nothing is sent to the client before DuckDB has produced its first chunk, so every refusal or failure
 * up to then falls back to Postgres without the client noticing.
 */
import type { DuckdbCursor, ExecuteRequest, PgField, Resolver } from '../engines/duckdb/engine.js';
import { binaryParamText, DuckdbEngineError } from '../engines/duckdb/engine.js';
import type { SessionOptions } from '../engines/duckdb/pg-types.js';
import type { Logger } from '../observability/logger.js';
import * as metrics from '../observability/metrics.js';
import * as be from '../protocol/backend.js';
import { decodeDataRow, decodeErrorFields, decodeParameterDescription, decodeRowDescription } from '../protocol/backend-scan.js';
import { B, F } from '../protocol/codes.js';
import { decodeBind, decodeDescribe, decodeExecute, decodeParse, decodeQuery, type Frame } from '../protocol/frontend.js';
import { mentionsMirroredTable, refusals, route, type DuckdbRoute, type MirrorView, type Route, type RoutingRules, type SessionRoute } from '../router/index.js';
import { serialize } from 'pg-protocol';
import { isUtf8 } from 'node:buffer';
import { formatLsn, parseLsn } from '../mirror/lsn.js';
import { PgError } from '../protocol/errors.js';
import { collationProbeSql, isBytewiseCollation } from './collation.js';
import { loggableError } from './duckdb-guard.js';
import { paramsMessages, readParamsAnswer } from './param-values.js';
import type { Shadow } from './shadow.js';

const compareLsn = (a: string, b: string): number => {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** What the session needs of the mirror (main adapts the real Mirror to this). */
export interface MirrorSource {
  /** null while nothing is mirrored (may be up to a fraction of a second old) */
  view(): MirrorView | null;
  /** re-reads the mirror's table states now (before a statement is run on DuckDB) */
  revalidate(): void;
  /** DuckDB relation for a mirrored table, or null */
  relation(schema: string, name: string): string | null;
  /** LSN up to which every committed change is visible in DuckDB */
  appliedLsn(): string | null;
  /** ms since the mirror was last known to be caught up, or null when unknown */
  lagMs(): number | null;
  /** resolves true once appliedLsn() >= lsn, or with tables once currentFor(lsn, tables); false after timeoutMs */
  waitForLsn(lsn: string, timeoutMs: number, tables?: readonly string[]): Promise<boolean>;
  /** DuckDB holds every change committed before lsn to these tables ('schema.name'), though changes to
   *  others may still be on their way */
  currentFor(lsn: string, tables: readonly string[]): boolean;
  /** whether a batch applied in (from, to] changed one of `tables`; null when not known that far back */
  changedBetween(tables: readonly string[], from: string, to: string): boolean | null;
  /**
   * The Postgres relation a mirrored table was copied from (pg_class oid) and its columns as
   * columnsIdentity (mirror-source.ts) lists them; null when not served
   */
  identity(schema: string, name: string): { relid: number; columns: string; withAttnum: boolean } | null;
  /** asks the mirror to check the catalog now (a statement saw DDL it has not caught up with) */
  checkCatalog(): void;
  /** why the mirror does not serve this table now (state, last error, next retry), null when it does */
  whyNotServed(schema: string, name: string): string | null;
}

export interface AnalyticsOptions {
  /** opens a DuckDB cursor (the engine, wrapped by the breaker); plan: the translation alone, for explain */
  engine: {
    open(req: ExecuteRequest): Promise<DuckdbCursor>;
    plan(sql: string, resolve: Resolver, fieldTypeOids: readonly number[], paramTypeOids: readonly number[], session?: SessionOptions): { ok: true } | { ok: false; reason: string };
  };
  /** EXPLAIN total cost per fingerprint, for routes whose shape alone does not decide */
  costs: Map<string, number>;
  mirror: MirrorSource;
  rules: RoutingRules;
  /** strict freshness: how long a read may wait for the mirror to reach the WAL position at its start */
  freshnessWaitMs: number;
  /** also serve reads in READ ONLY transactions at REPEATABLE READ or SERIALIZABLE (an opt-in: each
   *  statement then sees the mirror at its own start, not the transaction's snapshot) */
  allowReadOnlyTransactions: boolean;
  /** true while the DuckDB breaker is open: everything goes to Postgres */
  breakerOpen(): boolean;
  /** DuckDB failure/success reports for the breaker and the fallback memory */
  reportFailure(fingerprint: string, e: unknown): void;
  /** fingerprints recently failed on DuckDB: sent to Postgres until they expire */
  recentlyFailed(fingerprint: string): boolean;
  /** shadow execution (analytics.shadowSampleRate > 0): samples compared with Postgres off the client's path */
  shadow?: Shadow;
  log: Logger;
}

/** The session operations the analytical path uses. */
export interface SessionPort {
  readonly user: string;
  readonly txStatus: 'I' | 'T' | 'E';
  sessionRoute: SessionRoute;
  /** SET duckgate.max_lag: null when not set (the rules decide) */
  sessionMaxLagMs: number | null;
  /**
   * duckgate's settings as they were when the open transaction block first changed one, and as its
   * COMMIT keeps them: Postgres undoes SET at ROLLBACK and SET LOCAL at either end (guc.c AtEOXact_GUC);
   * the session puts them back when the block ends. null outside a block or when none was changed.
   */
  settingsTx: { before: DuckgateSettings; committed: DuckgateSettings } | null;
  /** the session wrote since its last fenced DuckDB read (read-your-writes under an opt-in max_lag) */
  dirty: boolean;
  /** search path as current_schemas(false) gave it at the last control round trip */
  searchPath: string[];
  /** sends messages on the session's idle upstream and returns the replies up to the n-th ReadyForQuery */
  control(msgs: Buffer[], readyCount: number): Promise<Array<{ type: number; body: Buffer; raw: Buffer }>>;
  /** writes to the client, waiting for drain when its buffer is full */
  write(buf: Buffer): Promise<void>;
  /** relays these client messages to Postgres as they came */
  relay(unit: Frame[]): void;
  /** aborted when the client sends a CancelRequest for this session */
  cancelSignal(): AbortSignal;
  /** SQL of a named prepared statement of this client, or null */
  preparedSql(name: string): string | null;
  /** parameter types the Parse of a named prepared statement of this client declared, or null */
  preparedParamTypes?(name: string): number[] | null;
  /** temporary tables this session created: they shadow mirrored tables of the same name */
  readonly tempTables: Set<string>;
  /**
   * A portal DuckDB answers across Execute messages (Execute with a row limit, then Flush): it lives
   * until the client's Sync ends the implicit transaction, as a Postgres portal would.
   */
  duckPortal: DuckPortal | null;
  /** after an error answered locally in a batch without Sync: drop client messages up to the Sync */
  discardUntilSync: boolean;
}

export interface DuckgateSettings {
  route: SessionRoute;
  maxLagMs: number | null;
}

export interface DuckPortal {
  name: string;
  /** null once exhausted (a further Execute returns no rows) */
  cursor: DuckdbCursor | null;
  fingerprint: string;
  /** the portal's RowDescription, in the formats it was bound with (a Describe of the portal) */
  rowDescription: Buffer;
}

/** Closes the session's DuckDB portal, if any (Sync, session end). */
export function closeDuckPortal(port: SessionPort): void {
  port.duckPortal?.cursor?.close();
  port.duckPortal = null;
}

export type Plan = null | (() => Promise<void>);

const DUCKGATE_WORD = /duckgate/i;

function count(engine: string, reason: string): void {
  metrics.queriesTotal.inc({ engine, reason });
}

/**
 * Decides, without I/O, whether a unit may be answered locally. null: relay it (the common, fast case).
 */
export function planUnit(unit: Frame[], port: SessionPort, opts: AnalyticsOptions, upstreamBusy = false): Plan {
  try {
    // Strings the path reads are decoded as UTF-8 (Node replaces invalid bytes silently): a unit with
    // invalid text goes to Postgres, which raises 22021 and keeps the session, as it would directly.
    if (!unit.every(stringsValid)) return null;
    const plan = planUnitInner(unit, port, opts, upstreamBusy);
    return plan && (() => plan().catch((e: unknown) => Promise.reject(sessionError(e, opts))));
  } catch (e) {
    // A message the analytical path cannot decode (malformed): Postgres decides what it is and answers
    // it, an ERROR the session survives or the protocol error it closes the connection with itself.
    // Planning never throws: the session must not end over what Postgres would answer.
    opts.log.debug({ errorClass: (e as Error)?.name }, 'analytical path: unit relayed undecoded');
    return null;
  }
}

/**
 * What a plan may reject with: a PgError for the session (a failed write to a client that is gone is
 * one). Anything else is a defect of this path: logged by class only (its message may quote a client's
 * values), and the session, whose state is then unknown, ends; no other session is touched.
 */
function sessionError(e: unknown, opts: AnalyticsOptions): PgError {
  if (e instanceof PgError) return e;
  opts.log.error({ ...loggableError(e), stack: (e as Error)?.stack?.split('\n').slice(1, 6).join('\n') }, 'analytical path failed; the session ends');
  return new PgError('XX000', 'internal error in the analytical path', 'FATAL');
}

/** Whether the strings of a message (SQL text, statement and portal names) are valid UTF-8. */
function stringsValid(f: Frame): boolean {
  const b = f.body;
  const upto = (from: number, n: number): boolean => {
    let pos = from;
    for (let i = 0; i < n; i++) {
      const z = b.indexOf(0, pos);
      if (z < 0) return true; // malformed: the decoders (or Postgres) say so
      if (!isUtf8(b.subarray(pos, z))) return false;
      pos = z + 1;
    }
    return true;
  };
  switch (f.type) {
    case F.query:
    case F.execute:
      return upto(0, 1);
    case F.parse:
    case F.bind:
      return upto(0, 2);
    case F.describe:
    case F.close:
      return b.length === 0 || upto(1, 1);
    default:
      return true;
  }
}

function planUnitInner(unit: Frame[], port: SessionPort, opts: AnalyticsOptions, upstreamBusy: boolean): Plan {
  // With a DuckDB portal open only Execute on it is answered here: other batches are relayed (the
  // portal is not replaced, the client may still read from it).
  if (port.duckPortal) return planPortal(unit, port, opts, upstreamBusy);
  // a batch relayed up to a Flush is still open upstream: everything up to its Sync follows it there
  if (upstreamBusy) return null;
  const first = unit[0]!;
  if (first.type === F.query) return planQuery(decodeQuery(first.body), unit, port, opts);
  if (first.type === F.parse && unit.length === 3 && unit[1]!.type === F.describe && unit[2]!.type === F.flush) return planDescribeOnly(unit, port, opts);
  if (first.type === F.parse || first.type === F.bind) return planExtended(unit, port, opts);
  return null;
}

/**
 * Parse + Describe statement + Flush (postgres.js, before the first execution of a statement with
 * parameters): relayed as is, the batch would stay open upstream until its Sync, so the Bind/Execute/
 * Sync that follows could not be answered by DuckDB. Neither message changes anything, so they go
 * upstream with a Sync of their own and the answer (without its ReadyForQuery) goes back; after an
 * error the session skips to the client's Sync, as Postgres would.
 */
function planDescribeOnly(unit: Frame[], port: SessionPort, opts: AnalyticsOptions): Plan {
  const parse = decodeParse(unit[0]!.body);
  const describe = decodeDescribe(unit[1]!.body);
  if (describe.target !== 'S' || describe.name !== parse.name) return null;
  const view = opts.mirror.view();
  if (!view || !mentionsMirroredTable(parse.sql, view)) return null;
  return async () => {
    const replies = await port.control([unit[0]!.raw, unit[1]!.raw, serialize.sync()], 1);
    const out = replies.filter((m) => m.type !== B.readyForQuery).map((m) => m.raw);
    await port.write(Buffer.concat(out));
    if (replies.some((m) => m.type === B.errorResponse)) port.discardUntilSync = true;
  };
}

/**
 * With a DuckDB portal open: Execute on it (then Sync or Flush) continues it; any other batch is
 * relayed, and a Sync in it ends the implicit transaction and so the portal.
 */
function planPortal(unit: Frame[], port: SessionPort, opts: AnalyticsOptions, upstreamBusy: boolean): Plan {
  const dp = port.duckPortal!;
  const last = unit[unit.length - 1]!;
  // Describe of the portal, Execute of it, or both, then Sync or Flush: answered here (Postgres has no
  // such portal; relayed, a Describe would get 34000 where Postgres gives the RowDescription).
  let i = 0;
  let describe = false;
  if (unit[i]?.type === F.describe) {
    const d = decodeDescribe(unit[i]!.body);
    if (d.target === 'P' && d.name === dp.name) {
      describe = true;
      i++;
    }
  }
  let exec: ReturnType<typeof decodeExecute> | null = null;
  if (unit[i]?.type === F.execute) {
    const e = decodeExecute(unit[i]!.body);
    if (e.portal === dp.name) {
      exec = e;
      i++;
    }
  }
  if (describe || exec) {
    const ends = i === unit.length - 1 && (last.type === F.sync || last.type === F.flush);
    const sync = ends && last.type === F.sync;
    if (upstreamBusy) {
      // A batch relayed without Sync may still be answering upstream: rows from here could overtake
      // its replies, and Postgres has no such portal. Clients read one portal at a time in practice.
      // That batch is still open upstream: its Sync (the client's) goes there and brings ReadyForQuery.
      return async () => {
        closeDuckPortal(port);
        const msg = 'duckgate: reading an analytical portal while another batch is open upstream is not supported';
        await port.write(be.errorResponse(new PgError('0A000', msg)));
        skipToSync(unit.slice(i), port);
      };
    }
    const head = describe ? [dp.rowDescription] : [];
    const maxRows = exec?.maxRows;
    const here = (): Promise<void> =>
      maxRows === undefined
        ? port.write(Buffer.concat([...head, ...(sync ? [be.readyForQuery(port.txStatus)] : [])])).then(() => {
            if (sync) closeDuckPortal(port);
          })
        : continuePortal(dp, maxRows, sync, port, opts, head);
    if (ends) return here;
    // More follows in the same batch (Execute, then Parse/Bind/... of another statement, then Sync):
    // the portal's messages are answered here, then the rest is planned as a unit of its own, as
    // Postgres handles the messages of a batch one after the other. After an error here Postgres skips
    // the rest up to the Sync.
    const rest = unit.slice(i);
    return async () => {
      await here();
      if (port.discardUntilSync) {
        port.discardUntilSync = false;
        skipToSync(rest, port);
        return;
      }
      const next = planUnit(rest, port, opts, false);
      if (next) await next();
      else port.relay(rest);
    };
  }
  if (unit.some((f) => endsPortal(f, dp.name))) closeDuckPortal(port);
  return null;
}

/**
 * After an error answered here, Postgres ignores the batch's messages up to its Sync (postgres.c,
 * ignore_till_sync): the Sync (and what follows it) is relayed, and the upstream answers ReadyForQuery;
 * without a Sync yet, the session skips the client's messages until it comes.
 */
function skipToSync(rest: Frame[], port: SessionPort): void {
  const at = rest.findIndex((f) => f.type === F.sync);
  if (at < 0) {
    port.discardUntilSync = true;
    return;
  }
  if (port.duckPortal) closeDuckPortal(port);
  port.relay(rest.slice(at));
}

/**
 * Whether a relayed message ends the DuckDB portal `name` as it would end a Postgres portal: Sync or a
 * simple Query (the implicit transaction commits), a Bind reusing the name (the unnamed portal is
 * replaced), or a Close of it.
 */
function endsPortal(f: Frame, name: string): boolean {
  if (f.type === F.sync || f.type === F.query) return true;
  const cstring = (from: number): string => {
    const z = f.body.indexOf(0, from);
    return f.body.toString('utf8', from, z < 0 ? f.body.length : z);
  };
  if (f.type === F.bind) return cstring(0) === name;
  if (f.type === F.close) return f.body[0] === 0x50 /* P */ && cstring(1) === name;
  return false;
}

async function continuePortal(dp: DuckPortal, maxRows: number, sync: boolean, port: SessionPort, opts: AnalyticsOptions, head: Buffer[] = []): Promise<void> {
  const end = sync ? [be.readyForQuery(port.txStatus)] : [];
  try {
    if (dp.cursor === null) {
      // Postgres runs an exhausted portal again as zero rows
      await port.write(Buffer.concat([...head, be.commandComplete('SELECT 0'), ...end]));
      return;
    }
    // running again: a cancel from now on is for it
    dp.cursor.watch(port.cancelSignal());
    const r = await streamRows(dp.cursor, null, maxRows, head, end, port);
    if (r.exhausted) dp.cursor = null;
    else dp.cursor.watch(undefined);
  } catch (e) {
    dp.cursor?.close();
    dp.cursor = null;
    port.duckPortal = null;
    // a failed write: the client is gone and the session ends (nothing is held against DuckDB)
    if (!(e instanceof DuckdbEngineError)) throw e;
    await port.write(Buffer.concat([be.errorResponse(streamError(e, dp.fingerprint, opts)), ...end]));
    if (!sync) port.discardUntilSync = true;
  } finally {
    if (sync) closeDuckPortal(port);
  }
}

/**
 * Writes `head`, then rows from the cursor up to `limit` (0: no limit), then CommandComplete when the
 * cursor ran out first, else PortalSuspended (Postgres suspends whenever the limit is reached, even on
 * the last row), then `tail`. Returns whether it suspended and whether the cursor is exhausted.
 * CommandComplete counts the rows of this Execute only, as Postgres's does (pquery.c PortalRunSelect).
 */
async function streamRows(
  cursor: DuckdbCursor,
  first: { data: Buffer; rows: number; done: boolean } | null,
  limit: number,
  head: Buffer[],
  tail: Buffer[],
  port: SessionPort,
  keep?: (data: Buffer, rows: number) => boolean,
): Promise<{ suspended: boolean; exhausted: boolean; kept: boolean }> {
  let left = limit > 0 ? limit : Infinity;
  let sent = 0;
  let kept = keep !== undefined;
  let chunk = first ?? (await cursor.next(Math.min(CHUNK_ROWS, left)));
  let parts = [...head, chunk.data];
  for (;;) {
    left -= chunk.rows;
    sent += chunk.rows;
    if (kept) kept = keep!(chunk.data, chunk.rows);
    if (chunk.done || left <= 0) {
      const suspended = left <= 0;
      parts.push(suspended ? be.portalSuspended() : be.commandComplete(`SELECT ${sent}`), ...tail);
      await port.write(Buffer.concat(parts));
      return { suspended, exhausted: chunk.done, kept };
    }
    await port.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    chunk = await cursor.next(Math.min(CHUNK_ROWS, left));
    parts = [chunk.data];
  }
}

/** The text values of the DataRow messages in these chunks (results sent in text format). */
function dataRowsText(chunks: readonly Buffer[]): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = [];
  for (const data of chunks) {
    for (let at = 0; at < data.length; ) {
      const len = data.readInt32BE(at + 1);
      if (data[at] === B.dataRow) rows.push(textColumns(data.subarray(at + 5, at + 1 + len)));
      at += 1 + len;
    }
  }
  return rows;
}

/**
 * The error a client gets when DuckDB fails after rows were sent (the statement cannot move any more).
 * Only the engine's own failures are reported against it (the guard filters the rest).
 */
function streamError(e: DuckdbEngineError, fingerprint: string, opts: AnalyticsOptions): PgError {
  opts.reportFailure(fingerprint, e);
  switch (e.kind) {
    case 'canceled':
      return new PgError('57014', 'canceling statement due to user request');
    case 'statement_timeout':
    case 'timeout':
      return new PgError('57014', 'canceling statement due to statement timeout');
    default:
      // an error Postgres raises alike (a guard of the rewrite: division by zero, overflow…) keeps its SQLSTATE
      return e.sqlstate ? new PgError(e.sqlstate, e.message) : new PgError('XX000', `DuckDB failed while streaming the result: ${e.message}`);
  }
}

const CHUNK_ROWS = 2048;

function context(port: SessionPort, view: MirrorView, opts: AnalyticsOptions) {
  return {
    mirror: view,
    searchPath: port.searchPath,
    user: port.user,
    transactionFailed: port.txStatus === 'E',
    sessionRoute: port.sessionRoute,
    sessionMaxLagMs: port.sessionMaxLagMs,
    rules: opts.rules,
    tempTables: port.tempTables,
  };
}

/** Session state a statement relayed to Postgres changes, as the router saw it. */
function applyEffects(r: Route, port: SessionPort): void {
  if (r.engine !== 'postgres' || !r.effects) return;
  for (const e of r.effects) {
    if (e.kind === 'create_temp') port.tempTables.add(e.name);
    else if (e.kind === 'drop') for (const n of e.names) port.tempTables.delete(n);
    else if (e.kind === 'discard' && (e.target === 'all' || e.target === 'temp')) port.tempTables.clear();
  }
}

function decideFor(sql: string, port: SessionPort, opts: AnalyticsOptions): Route | null {
  const view = opts.mirror.view();
  const own = DUCKGATE_WORD.test(sql);
  if (!own && (!view || !mentionsMirroredTable(sql, view))) return null;
  return route(sql, context(port, view ?? { tables: new Map() }, opts));
}

function planQuery(sql: string, unit: Frame[], port: SessionPort, opts: AnalyticsOptions): Plan {
  const r = decideFor(sql, port, opts);
  if (!r) return null;
  switch (r.engine) {
    case 'postgres':
      count('postgres', r.reason);
      applyEffects(r, port);
      return null;
    case 'duckdb':
      return () => runDuckdb({ sql, params: [], paramFormats: [], resultFormats: [], unit, simple: true, route: r }, port, opts);
    case 'explain': {
      // A DuckDB route is checked all the way (privileges, freshness, translation) without running it,
      // so the answer says where the statement would really go.
      const inner = r.route;
      if (inner.engine === 'postgres') return () => answerExplain({ engine: 'postgres', reason: inner.reason, detail: inner.detail, tables: inner.tables, fingerprint: inner.fingerprint }, port, opts);
      return () => runDuckdb({ sql, params: [], paramFormats: [], resultFormats: [], unit, simple: true, route: inner, explain: true }, port, opts);
    }
    case 'set':
    case 'show':
    case 'error':
      // In a failed transaction block Postgres answers every statement but its end with 25P02
      // (postgres.c, IsTransactionExitStmt): so do duckgate's own settings, which it would accept as
      // placeholder variables.
      if (port.txStatus === 'E')
        return async () => {
          const err = new PgError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
          await port.write(Buffer.concat([be.errorResponse(err), be.readyForQuery(port.txStatus)]));
        };
      return localAnswer(r, port);
  }
}

/** duckgate's own statements: SET / SHOW duckgate.*, and the router's errors. */
function localAnswer(r: Extract<Route, { engine: 'set' | 'show' | 'error' }>, port: SessionPort): Plan {
  switch (r.engine) {
    case 'set':
      return async () => {
        const notices: Buffer[] = [];
        if (r.local && port.txStatus === 'I') {
          // Postgres: SET LOCAL outside a transaction block has no effect (guc.c, WARNING 25P01)
          notices.push(be.noticeResponse({ severity: 'WARNING', sqlstate: '25P01', message: 'SET LOCAL can only be used in transaction blocks' }));
        } else {
          if (port.txStatus !== 'I' && port.settingsTx === null) port.settingsTx = { before: currentSettings(port), committed: currentSettings(port) };
          if (r.name === 'duckgate.route') port.sessionRoute = r.value;
          else port.sessionMaxLagMs = r.value;
          if (!r.local && port.settingsTx) port.settingsTx.committed = currentSettings(port);
        }
        await port.write(Buffer.concat([...notices, be.commandComplete('SET'), be.readyForQuery(port.txStatus)]));
      };
    case 'show':
      return async () => {
        const value = r.name === 'duckgate.route' ? port.sessionRoute : r.name === 'duckgate.max_lag' ? formatLag(port.sessionMaxLagMs) : null;
        if (value === null) {
          await port.write(
            Buffer.concat([be.errorResponse(new PgError('42704', `unrecognized configuration parameter "${r.name}"`)), be.readyForQuery(port.txStatus)]),
          );
          return;
        }
        await port.write(
          Buffer.concat([
            be.rowDescription([{ name: r.name, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typmod: -1, format: 0 }]),
            be.dataRow([Buffer.from(value)]),
            be.commandComplete('SHOW'),
            be.readyForQuery(port.txStatus),
          ]),
        );
      };
    case 'error':
      return async () => {
        await port.write(Buffer.concat([be.errorResponse(r.error), be.readyForQuery(port.txStatus)]));
      };
  }
}

function currentSettings(port: SessionPort): DuckgateSettings {
  return { route: port.sessionRoute, maxLagMs: port.sessionMaxLagMs };
}

/** At the end of a transaction block: COMMIT keeps plain SETs, ROLLBACK undoes them; SET LOCAL ends. */
export function endSettingsTransaction(port: SessionPort, committed: boolean): void {
  const t = port.settingsTx;
  if (!t) return;
  const keep = committed ? t.committed : t.before;
  port.sessionRoute = keep.route;
  port.sessionMaxLagMs = keep.maxLagMs;
  port.settingsTx = null;
}

/** SHOW duckgate.max_lag: 'default' (the rules decide), 'strict', or a duration in ms. */
function formatLag(ms: number | null): string {
  return ms === null ? 'default' : ms === 0 ? 'strict' : `${ms}ms`;
}

/**
 * Extended protocol: only the plain shape [Parse] Bind [Describe] Execute(no row limit) Sync, with text
 * parameters, is answered by DuckDB; everything else is relayed.
 */
/** The statement name a Bind refers to (its second string), without decoding the rest. */
function bindStatementName(body: Buffer): string | null {
  const a = body.indexOf(0);
  if (a < 0) return null;
  const b = body.indexOf(0, a + 1);
  return b < 0 ? null : body.toString('utf8', a + 1, b);
}

function planExtended(unit: Frame[], port: SessionPort, opts: AnalyticsOptions): Plan {
  // Cheap exit first, as for simple queries: most batches name no mirrored table.
  if (!opts.mirror.view()) return null;
  const head = unit[0]!;
  if (head.type === F.bind) {
    const name = bindStatementName(head.body);
    const text = name === null ? null : port.preparedSql(name);
    if (text === null || !mentionsMirroredTable(text, opts.mirror.view()!)) return null;
  }
  let i = 0;
  let parse: ReturnType<typeof decodeParse> | null = null;
  if (unit[i]?.type === F.parse) parse = decodeParse(unit[i++]!.body);
  // postgres.js describes the statement it just parsed before binding it
  let describeStatement: ReturnType<typeof decodeDescribe> | null = null;
  if (parse && unit[i]?.type === F.describe) {
    describeStatement = decodeDescribe(unit[i++]!.body);
    if (describeStatement.target !== 'S' || describeStatement.name !== parse.name) return null;
  }
  if (unit[i]?.type !== F.bind) return null;
  const bindFrame = unit[i]!;
  const bind = decodeBind(unit[i++]!.body);
  let describe: ReturnType<typeof decodeDescribe> | null = null;
  if (unit[i]?.type === F.describe) describe = decodeDescribe(unit[i++]!.body);
  // Sync ends the batch; Flush leaves it (and the portal) open for further Execute messages. A portal
  // bound and described without Execute, then Flush (pg-cursor, pg-query-stream), is read later.
  let exec: ReturnType<typeof decodeExecute> | null = null;
  if (unit[i]?.type === F.execute) exec = decodeExecute(unit[i++]!.body);
  const end = unit[i]?.type;
  if ((end !== F.sync && end !== F.flush) || i !== unit.length - 1) return null;
  if (exec === null && end !== F.flush) return null;
  if (exec !== null && exec.portal !== bind.portal) return null;
  if (describe && !(describe.target === 'P' && describe.name === bind.portal)) return null;
  // a format count that fits no parameter count is Postgres's protocol error to report
  if (bind.paramFormats.length > 1 && bind.paramFormats.length !== bind.params.length) return null;
  // so is a result format other than text or binary, which Postgres raises only at Execute (22023)
  if (bind.resultFormats.some((c) => c !== 0 && c !== 1)) return null;
  if (parse && parse.name !== bind.statement) return null;
  const sql = parse ? parse.sql : port.preparedSql(bind.statement);
  if (sql === null) return null;
  const r = decideFor(sql, port, opts);
  if (!r) return null;
  if (r.engine !== 'duckdb') {
    if (r.engine === 'postgres') {
      count('postgres', r.reason);
      applyEffects(r, port);
    }
    return null;
  }
  return () =>
    runDuckdb(
      {
        sql,
        parse: parse ? unit[0] : undefined,
        bind: bindFrame,
        statementName: bind.statement,
        params: bind.params,
        paramFormats: bind.paramFormats,
        resultFormats: bind.resultFormats,
        describePortal: describe !== null,
        unit,
        simple: false,
        route: r,
        portal: bind.portal,
        maxRows: exec ? exec.maxRows : 0,
        execute: exec !== null,
        sync: end === F.sync,
        describeStatement: describeStatement !== null,
      },
      port,
      opts,
    );
}

interface DuckJob {
  sql: string;
  simple: boolean;
  /** the client's Parse frame, relayed upstream first so the statement exists there too */
  parse?: Frame;
  /** the client's Bind frame: Postgres checks its values on a portal of ours before DuckDB runs */
  bind?: Frame;
  statementName?: string;
  /** as bound: in the format paramFormats gives (Bind: none = all text, one = all alike, else each) */
  params: Array<Buffer | null>;
  paramFormats: number[];
  resultFormats: number[];
  describePortal?: boolean;
  unit: Frame[];
  route: DuckdbRoute;
  /** `/* duckgate: explain *\/`: decide completely, answer where it would run, run nothing */
  explain?: boolean;
  /** extended protocol: the portal, Execute's row limit (0: none), and whether the batch ends in Sync */
  portal?: string;
  maxRows?: number;
  sync?: boolean;
  /** false: the batch binds (and describes) the portal without executing it yet */
  execute?: boolean;
  /** the batch has Describe of the statement between Parse and Bind (postgres.js) */
  describeStatement?: boolean;
}

const lit = (s: string): string => "'" + s.replace(/'/g, "''") + "'";
const qualified = (t: string): string => {
  const dot = t.indexOf('.');
  const q = (s: string) => '"' + s.replace(/"/g, '""') + '"';
  return dot < 0 ? q(t) : `${q(t.slice(0, dot))}.${q(t.slice(dot + 1))}`;
};

/** How many of the columns the statement reads carry a collation of their own (not default, C or POSIX). */
function collatedColumnsSql(r: DuckdbRoute): string {
  const which = r.tables.map((t) => {
    const used = r.columns.get(t);
    const names = used && !used.has('*') && used.size > 0 ? ` AND a.attname IN (${[...used].map(lit).join(', ')})` : '';
    return `(a.attrelid = ${lit(qualified(t))}::regclass${names})`;
  });
  if (which.length === 0) return "'0'";
  return `(SELECT count(*) FROM pg_attribute a WHERE (${which.join(' OR ')}) AND a.attnum > 0 AND NOT a.attisdropped AND a.attcollation NOT IN (0, 100, 950, 951))::text`;
}

/**
 * The database's default collation or ctype (libc's datcollate/datctype column) as '<C|POSIX|locale>'
 * for libc, '<provider>:<locale>' otherwise (PG15+ may use ICU, PG17 a builtin provider, whatever the
 * libc column says). to_jsonb reads the columns a given version has.
 */
function localeSql(libcColumn: 'datcollate' | 'datctype'): string {
  return (
    `(SELECT CASE WHEN coalesce(j ->> 'datlocprovider', 'c') = 'c' THEN j ->> '${libcColumn}' ` +
    "ELSE (j ->> 'datlocprovider') || ':' || coalesce(j ->> 'daticulocale', j ->> 'datlocale', '') END " +
    'FROM (SELECT to_jsonb(d) AS j FROM pg_database d WHERE datname = current_database()) x)'
  );
}

/** Built once: the same for every statement. */
const COLLATION_PROBE_SQL = collationProbeSql();

/**
 * Whether `name` (as the statement writes it) means, in this session now, the relation the mirror holds
 * with the same columns: 'ok', 'temp' (a temporary table of the session shadows it: pg_temp comes first
 * in every search path, namespace.c recomputeNamespacePath), 'missing', 'other' (another relation: a
 * table dropped and made again, or swapped in by rename) or 'columns' (columns renamed, retyped, added,
 * dropped, or dropped and added again). to_regclass resolves exactly as the statement's own name is resolved, without raising an
 * error for a missing one. The columns are listed as columnsIdentity (mirror-source.ts) does, from the
 * same pg_attribute rows the mirror's catalog reads (catalog.ts describeColumns), and compared here on
 * the server: one text value, no hash function needed. Written without a subquery over the resolution
 * (a plain CASE): measured ~70 us less per table than a join with pg_class.
 */
function identitySql(name: string, want: { relid: number; columns: string; withAttnum: boolean } | null): string {
  if (want === null) return "'missing'";
  const relid = `${want.relid}::oid`;
  const cols =
    `(SELECT string_agg('"' || replace(a.attname, '"', '""') || '" ' || a.atttypid::int8 || ' ' || a.atttypmod${want.withAttnum ? " || ' ' || a.attnum" : ''}, ',' ORDER BY a.attnum) ` +
    `FROM pg_attribute a WHERE a.attrelid = ${relid} AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')`;
  // an unqualified name that is not the mirrored relation: a temporary table of the session, if one of
  // that name exists (it is found first); a qualified one names no temporary table (the router relays pg_temp.x)
  const unqualified = /^"(?:[^"]|"")*"$/.test(name);
  const other = unqualified ? `CASE WHEN to_regclass(${lit('pg_temp.' + name)}) IS NOT NULL THEN 'temp' ELSE 'other' END` : "'other'";
  return (
    `CASE (to_regclass(${lit(name)})::oid = ${relid}) ` +
    `WHEN true THEN CASE WHEN ${cols} IS DISTINCT FROM ${lit(want.columns)} THEN 'columns' ELSE 'ok' END ` +
    `WHEN false THEN ${other} ELSE 'missing' END`
  );
}

/** The (table, name as written) pairs the check query proves, in the order of its identity columns. */
function identityChecks(r: DuckdbRoute): Array<{ table: string; name: string }> {
  return r.tables.flatMap((t) => (r.names?.get(t) ?? [qualified(t)]).map((name) => ({ table: t, name })));
}

/**
 * The per-statement check query: session settings, WAL position, privileges and RLS of touched tables,
 * and (last) whether each table's name still means the relation and columns the mirror holds.
 */
function checkSql(r: DuckdbRoute, mirror: MirrorSource): string {
  const cols = [
    "current_setting('search_path')",
    "array_to_string(current_schemas(false), ',')",
    "current_setting('TimeZone')",
    "current_setting('DateStyle')",
    "current_setting('IntervalStyle')",
    "current_setting('extra_float_digits')",
    "current_setting('bytea_output')",
    "current_setting('statement_timeout')",
    // The insert position, not the write position: a transaction committed with synchronous_commit = off
    // is visible to others before its commit record is written (xact.c RecordTransactionCommit). With
    // the WAL block size, to step back over a page header (see fenceTarget).
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text || ' ' || current_setting('wal_block_size')",
    // the database's default collation (see localeSql)
    localeSql('datcollate'),
    // the session clock for now()/current_date/localtimestamp (exact integers, independent of DateStyle);
    // in an implicit transaction this is a moment before the statement itself would have started, as
    // indistinguishable for the client as any instant between sending the query and its answer
    '(extract(epoch FROM now()) * 1000000)::int8::text',
    "(current_date - date '2000-01-01')::text",
    '(extract(epoch FROM localtimestamp) * 1000000)::int8::text',
    // LC_CTYPE, which lower()/upper()/ILIKE follow
    localeSql('datctype'),
    // columns read that carry a collation of their own (not the database default, C or POSIX): DuckDB
    // would order, and with a nondeterministic collation even compare, them differently
    collatedColumnsSql(r),
    // whether the database's encoding and default collation order the probe pairs bytewise
    COLLATION_PROBE_SQL,
    // the client's messages are decoded as UTF-8: only right under client_encoding UTF8
    "current_setting('client_encoding')",
    // Inside a transaction block: a READ COMMITTED statement takes its own snapshot, which the fence
    // matches, until the transaction has written (any write, row lock or temporary object assigns it
    // a transaction id: txid_current_if_assigned, PostgreSQL 10+); REPEATABLE READ and SERIALIZABLE
    // read the transaction's snapshot, which the mirror does not keep.
    "current_setting('transaction_isolation')",
    "current_setting('transaction_read_only')",
    '(txid_current_if_assigned() IS NOT NULL)::text',
    SETTINGS_PROBLEM_SQL,
    executeDeniedSql(r),
  ];
  for (const t of r.tables) {
    const rel = lit(qualified(t));
    const used = r.columns.get(t);
    let priv = `has_table_privilege(${rel}, 'SELECT')`;
    if (used && !used.has('*') && used.size > 0) {
      const each = [...used].map((c) => `has_column_privilege(${rel}, ${lit(c)}, 'SELECT')`).join(' AND ');
      priv = `(${priv} OR (${each}))`;
    }
    cols.push(`(${priv} AND NOT coalesce(row_security_active(${rel}), false))::text`);
  }
  for (const { table, name } of identityChecks(r)) {
    const dot = table.indexOf('.');
    cols.push(identitySql(name, mirror.identity(table.slice(0, dot), table.slice(dot + 1))));
  }
  return `SELECT ${cols.join(', ')}`;
}

/** The format of value i under a Bind's format codes: none = all text, one = all alike, else one each. */
function formatCode(codes: readonly number[], i: number): 0 | 1 {
  return (codes.length === 0 ? 0 : codes.length === 1 ? codes[0] : codes[i]) === 1 ? 1 : 0;
}

/** DataRow values as text (the control queries ask in text format). */
function textColumns(body: Buffer): Array<string | null> {
  return decodeDataRow(body).map((v) => (v === null ? null : v.toString('utf8')));
}

function parseIntervalMs(v: string): number {
  // statement_timeout as current_setting prints it: '0', '500ms', '5s', '2min', '1h'
  const m = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(v.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return n * ({ ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[unit]!;
}

const DESCRIBE_NAME = '__duckgate_describe';
const CHECK_NAME = '__duckgate_check';
/** the savepoint (and the statement that sets it) under which control queries run in a transaction block */
const SAVEPOINT_NAME = '__duckgate_savepoint';

/**
 * A control query as Parse/Bind/Execute/Close/Sync on a named statement and portal. A simple Query
 * would drop the client's unnamed prepared statement upstream (Postgres replaces it on every simple
 * Query), so the Bind relayed on a fallback, or a later Bind of that statement, would fail with 26000.
 */
function namedQuery(name: string, sql: string, values: Array<string | Buffer | null> = [], types: number[] = []): Buffer[] {
  return [
    // a statement of ours left by a round trip that failed half-way must not make this one fail (42P05)
    serialize.close({ type: 'S', name }),
    serialize.parse({ name, text: sql, types }),
    // pg-protocol sends a Buffer value in binary format, a string in text
    serialize.bind({ portal: name, statement: name, values }),
    serialize.execute({ portal: name }),
    // inside a transaction block a portal outlives the Sync (until the block ends): closed here, or the
    // next control query's Bind of the same name fails with 42P03
    serialize.close({ type: 'P', name }),
    serialize.close({ type: 'S', name }),
    serialize.sync(),
  ];
}

/**
 * The fence's target from the check's 'X/Y blocksize'. The insert position just past a page's short
 * header (offset 24: no record can end there, a continuation carries at least one byte and records are
 * 8-byte aligned) means "everything before this page": the walsender reports positions as record ends,
 * so the mirror would never reach the header's end while nothing more is written.
 */
export function fenceTarget(text: string | null): string | null {
  if (text === null) return null;
  const [lsn, blockSize] = text.split(' ');
  if (!lsn) return null;
  const block = BigInt(Number(blockSize) > 0 ? Number(blockSize) : 8192);
  const at = parseLsn(lsn);
  return at % block === 24n ? formatLsn(at - 24n) : lsn;
}

/** settings, WAL LSN and collation come first in the check row; privilege flags follow */
const CHECK_FIXED_COLUMNS = 22;

/**
 * Operators every statement may call without naming them: equality for GROUP BY, DISTINCT, joins and
 * IN; ordering for ORDER BY, min/max and BETWEEN; LIKE's.
 */
const IMPLIED_OPERATORS = ['=', '<>', '<', '>', '<=', '>=', '~~', '!~~', '~~*', '!~~*'];

/**
 * The functions the statement would call that the user may not EXECUTE (null when none): Postgres
 * checks EXECUTE on every function, operator and cast function when it starts the plan (execExpr.c
 * ExecInitFunc, ExecBuildGroupingEqual), also for built-ins such as abs(int) once revoked from PUBLIC;
 * DuckDB runs none of them, so the check is made here. Conservative: every overload of a called name,
 * every function behind a named or implied operator, every cast function. Only functions with an ACL
 * of their own (proacl not null) can deny anyone, so the scan stays small.
 */
function executeDeniedSql(r: DuckdbRoute): string {
  const names = [...new Set(r.calls.functions.map((f) => f.slice(f.lastIndexOf('.') + 1)))];
  const ops = [...new Set([...IMPLIED_OPERATORS, ...r.calls.operators])];
  const arr = (xs: string[]): string => (xs.length ? `ARRAY[${xs.map(lit).join(', ')}]` : "'{}'::text[]");
  return (
    '(SELECT string_agg(p.oid::regprocedure::text, \', \' ORDER BY p.oid) FROM pg_catalog.pg_proc p ' +
    "WHERE p.proacl IS NOT NULL AND NOT has_function_privilege(p.oid, 'EXECUTE') AND (" +
    `p.proname = ANY (${arr(names)}) ` +
    `OR p.oid IN (SELECT o.oprcode FROM pg_catalog.pg_operator o WHERE o.oprname = ANY (${arr(ops)})) ` +
    'OR p.oid IN (SELECT c.castfunc FROM pg_catalog.pg_cast c)))'
  );
}

/**
 * Settings that change a statement's answer and that the DuckDB path does not follow, each with the one
 * value it assumes; the check names those that differ ('' when none do). The others that can change an
 * answer are read and followed (search_path, TimeZone, DateStyle, IntervalStyle, extra_float_digits,
 * bytea_output, client_encoding, statement_timeout, the transaction's isolation) or cannot concern a
 * statement DuckDB is given (xmloption, default_text_search_config: no such function is shipped;
 * lc_time/lc_numeric/lc_monetary: no to_char pattern that reads them is translated). Planner settings
 * (enable_*, jit, work_mem, …) change only the order of rows a statement leaves unordered.
 *  - standard_conforming_strings off: backslashes in '…' are escapes (scan.l), DuckDB reads them as is
 *  - transform_null_equals on: `x = NULL` becomes `x IS NULL` (parse_expr.c)
 *  - array_nulls off: NULL in an array literal is the string 'NULL' (arrayfuncs.c)
 *  - timezone_abbreviations: which abbreviations a timestamptz literal may name, and their offsets
 *  - gin_fuzzy_search_limit: a GIN index scan may return a subset of the rows
 */
const SETTINGS_PROBLEM_SQL = `concat_ws(', ', ${[
  ['standard_conforming_strings', 'on'],
  ['transform_null_equals', 'off'],
  ['array_nulls', 'on'],
  ['timezone_abbreviations', 'Default'],
  ['gin_fuzzy_search_limit', '0'],
]
  .map(([name, value]) => `CASE WHEN current_setting('${name}') <> '${value}' THEN '${name} = ' || current_setting('${name}') END`)
  .join(', ')})`;
// Ordering, not equality: a database's default collation is deterministic, and Postgres breaks a
// strcoll() tie bytewise (varstr_cmp), so GROUP BY, DISTINCT, = and joins match DuckDB's under any.
// array_agg/string_agg(DISTINCT …) put their elements in sort order (rewrite.ts).
const ORDER_SENSITIVE = /\border\s+by\b|\bmin\s*\(|\bmax\s*\(|[<>]|\bbetween\b|\bgreatest\b|\bleast\b|\bpercentile|_agg\s*\(\s*distinct\b/i;

async function runDuckdb(job: DuckJob, port: SessionPort, opts: AnalyticsOptions): Promise<void> {
  const r = job.route;
  const sync = job.simple || job.sync !== false;
  // ReadyForQuery ends the answer only when the batch had a Sync; an error in a batch without one
  // makes Postgres skip the client's messages up to its Sync, and so must the session
  const end = (): Buffer[] => (sync ? [be.readyForQuery(port.txStatus)] : []);
  const afterError = (): void => {
    if (!sync) port.discardUntilSync = true;
  };
  // A cancel for this statement may come at any point, also while the control round trip or the
  // freshness fence runs: the signal of the session at the statement's start is the one to watch (the
  // session replaces it after each cancel).
  const signal = port.cancelSignal();
  let parseSent = false;
  /** the statement's own deadline (statement_timeout), set once the session's setting is known */
  let deadline = Infinity;
  /** when the statement's clock started */
  let t0 = Infinity;
  let stmtTimeout = '0';
  const left = (): number => deadline - performance.now();
  /**
   * Relays the unit to Postgres. After time was spent here (the freshness fence, DuckDB), a session
   * with a statement_timeout has only what is left of it: Postgres gets the rest as the statement's
   * timeout, set before and restored after it (a Sync-ended unit outside a transaction block only; a
   * batch left open by Flush cannot take a round trip of ours).
   */
  const fallback = async (reason: string, detail?: string, logged?: Record<string, unknown>, prefixed?: Buffer | null): Promise<void> => {
    if (job.explain) return answerExplain({ engine: 'postgres', reason, detail, tables: r.tables, fingerprint: r.fingerprint, freshness: freshnessOf(r) }, port, opts);
    count('postgres', reason);
    // Never the detail itself: it may quote a client's values (a DuckDB or Postgres error message).
    opts.log.debug({ reason, fingerprint: r.fingerprint, ...logged }, 'DuckDB route declined');
    // Postgres's answers to the client's own messages (its Parse) go first; if the client is gone by
    // now, the write fails and the session ends here.
    if (prefixed) await port.write(prefixed);
    // The client's Parse went upstream in the control round trip only once that has been sent: an
    // earlier fallback (breaker open, known low cost, failed recently) must relay it with the rest.
    const rest = job.parse && parseSent ? job.unit.slice(1) : job.unit;
    const spent = deadline !== Infinity && performance.now() - t0 >= SPENT_MS;
    if (spent && sync && port.txStatus === 'I') {
      const remaining = Math.floor(left());
      if (remaining <= 0) return statementTimedOut();
      await setStatementTimeout(String(remaining));
      port.relay(rest);
      // waits until Postgres has answered the relayed unit
      await setStatementTimeout(stmtTimeout);
      return;
    }
    port.relay(rest);
  };
  const setStatementTimeout = async (value: string): Promise<void> => {
    await port.control(namedQuery(CHECK_NAME, "SELECT set_config('statement_timeout', $1, false)", [value]), 1);
  };
  /** Bytes Postgres's answers to the client's own messages begin with (its Parse, a Describe), if any. */
  const out: Buffer[] = [];
  const prefix = () => (out.length ? Buffer.concat(out) : null);
  const relayRest = (reason: string, detail?: string, logged?: Record<string, unknown>): Promise<void> => fallback(reason, detail, logged, prefix());
  /** An error ending the statement before any row (rows can no longer follow), as Postgres sends it. */
  const answerError = async (err: PgError, head: Buffer[] = []): Promise<void> => {
    await abortTransactionBlock(port);
    const p = prefix();
    await port.write(Buffer.concat([...(p ? [p] : []), ...head, be.errorResponse(err), ...end()]));
    afterError();
  };
  // Postgres ends a statement at a cancel or its statement_timeout with 57014 wherever it is (for
  // duckgate, not a DuckDB failure, and not re-run: that would double the wait); it has sent the
  // statement's descriptions and BindComplete by then.
  let describedHead: Buffer[] = [];
  const canceled = (): Promise<void> => answerError(new PgError('57014', 'canceling statement due to user request'), describedHead);
  const statementTimedOut = (): Promise<void> => answerError(new PgError('57014', 'canceling statement due to statement timeout'), describedHead);

  if (readsByteaWithLiteral(r, job.sql, opts.mirror.view())) return fallback('inexact_column', 'a bytea column read by a statement with a string literal', { detail: 'bytea and string literal' });
  if (opts.breakerOpen()) return fallback('fallback', 'breaker open', { detail: 'breaker open' });
  const knownCost = r.needsCostCheck ? opts.costs.get(r.fingerprint) : undefined;
  if (knownCost !== undefined && knownCost < opts.rules.costThreshold) return fallback('not_analytical', `cost ${knownCost}`, { cost: knownCost });
  // EXPLAIN of a statement with parameters is asked with the values bound, as the client bound them
  // (and the parameter types its Parse declared); the cost is then kept for the statement's shape.
  const askCost = r.needsCostCheck && knownCost === undefined;
  if (opts.recentlyFailed(r.fingerprint)) return fallback('fallback', 'failed recently on DuckDB', { detail: 'failed recently on DuckDB' });
  if (opts.shadow?.differs(r.fingerprint)) return fallback('shadow_difference', 'its DuckDB answer differed from Postgres\'s in shadow execution', { detail: 'shadow difference' });
  // Inside a transaction block a portal outlives the Sync (pgjdbc with a fetch size reads it in pieces
  // across Syncs); a DuckDB portal ends at the Sync, so a read in pieces, bound now and executed later,
  // or left open with Flush, goes to Postgres.
  const inBlock = port.txStatus === 'T';
  if (inBlock && !job.explain && ((job.maxRows ?? 0) > 0 || job.execute === false || !sync)) {
    return fallback('in_transaction', 'a portal read in pieces inside a transaction block', { detail: 'portal in a transaction block' });
  }

  // One round trip: the client's own Parse first (so a named statement exists upstream for later
  // executions), then a Describe of the statement, then the check query. In the extended protocol the
  // client's own statement is described: its parameter types are the ones the client's Parse declared.
  // The client's Bind is checked there too, on a portal of ours: Postgres converts every parameter
  // (encoding, type input, counts, format codes) and raises exactly the error the client's own Bind
  // would get; the unit then goes to Postgres, which answers it, and DuckDB never sees the values.
  // Each statement of ours is closed before it is prepared: Close of a missing statement is no error,
  // and one left by an earlier round trip that failed half-way must not make every later one fail.
  const msgs: Buffer[] = [];
  if (job.parse) msgs.push(job.parse.raw, serialize.sync());
  // In a transaction block an error in a control query (a bad parameter, a table gone) would abort the
  // client's transaction: they run under a savepoint of ours, released after, rolled back to on error.
  if (inBlock) msgs.push(...namedQuery(SAVEPOINT_NAME, `SAVEPOINT ${SAVEPOINT_NAME}`));
  if (job.statementName !== undefined) {
    msgs.push(serialize.describe({ type: 'S', name: job.statementName }));
    if (job.bind) msgs.push(rebind(job.bind, DESCRIBE_NAME), serialize.close({ type: 'P', name: DESCRIBE_NAME }));
    msgs.push(serialize.sync());
  } else
    msgs.push(
      serialize.close({ type: 'S', name: DESCRIBE_NAME }),
      serialize.parse({ name: DESCRIBE_NAME, text: job.sql }),
      serialize.describe({ type: 'S', name: DESCRIBE_NAME }),
      serialize.close({ type: 'S', name: DESCRIBE_NAME }),
      // a simple Query drops the unnamed statement (exec_simple_query): so must one answered here
      ...(job.simple && !job.explain ? [serialize.close({ type: 'S', name: '' })] : []),
      serialize.sync(),
    );
  msgs.push(...namedQuery(CHECK_NAME, checkSql(r, opts.mirror)));
  /** the parameter types the client's own Parse declared (none without one in this batch) */
  const declared = job.parse ? decodeParse(job.parse.body).paramTypes : [];
  if (askCost) {
    const values = job.params.map((p, i) => {
      if (p === null) return null;
      return formatCode(job.paramFormats, i) === 1 ? p : p.toString('utf8');
    });
    msgs.push(...namedQuery(CHECK_NAME, `EXPLAIN (FORMAT JSON) ${job.sql}`, values, declared));
  }
  // each parameter's value as Postgres's input function reads it, in binary (param-values.ts)
  const askParams = job.params.length > 0 && !job.explain;
  if (askParams) msgs.push(...paramsMessages(job.sql, job.parse ? declared : (port.preparedParamTypes?.(job.statementName ?? '') ?? []), job.params, job.paramFormats));
  const paramReplies: Array<{ type: number; body: Buffer }> = [];
  if (inBlock) msgs.push(...namedQuery(SAVEPOINT_NAME, `RELEASE SAVEPOINT ${SAVEPOINT_NAME}`));
  parseSent = true;
  const replies = await port.control(msgs, (job.parse ? 3 : 2) + (askCost ? 1 : 0) + (askParams ? 1 : 0) + (inBlock ? 2 : 0));
  let idx = 0;
  if (job.parse) {
    // Relay what Postgres said of the client's Parse; an error there ends the batch like Postgres would.
    const head: Buffer[] = [];
    for (; idx < replies.length; idx++) {
      const m = replies[idx]!;
      if (m.type === B.readyForQuery) {
        idx++;
        break;
      }
      head.push(m.raw);
    }
    const failed = head.some((b) => b[0] === B.errorResponse);
    if (failed) {
      await port.write(Buffer.concat([...head, ...end()]));
      afterError();
      count('postgres', 'parse_error');
      return;
    }
    out.push(...head);
  }
  let paramTypes: number[] = [];
  let fields: be.FieldDescription[] | null = null;
  let describeError: string | null = null;
  let describeSqlstate: string | null = null;
  let bindFailed = false;
  /** Postgres's own answer to a Describe of the statement: the client's Describe S gets these bytes */
  const statementDescription: Buffer[] = [];
  let check: Array<string | null> | null = null;
  /**
   * What Postgres sends before a statement's first row (and before an error it raises while running):
   * the descriptions the client asked for, BindComplete.
   */
  const headFor = (described: be.FieldDescription[]): Buffer[] => {
    const h: Buffer[] = [];
    if (job.describeStatement) h.push(...statementDescription);
    if (!job.simple) h.push(be.bindComplete());
    if (job.simple || job.describePortal) h.push(be.rowDescription(described.map((f, i) => ({ ...f, format: formatCode(job.resultFormats, i) }))));
    return h;
  };
  // Replies come in segments, one per ReadyForQuery: our Describe, the check query, then EXPLAIN (in a
  // transaction block: after SAVEPOINT, before RELEASE).
  let segment = inBlock ? -1 : 0;
  let controlFailed = false;
  for (; idx < replies.length; idx++) {
    const m = replies[idx]!;
    if (m.type === B.readyForQuery) {
      segment++;
      continue;
    }
    if (m.type === B.errorResponse) controlFailed = true;
    if (segment === 0) {
      if (m.type === B.parameterDescription || m.type === B.rowDescription || m.type === B.noData) statementDescription.push(m.raw);
      if (m.type === B.parameterDescription) paramTypes = decodeParameterDescription(m.body);
      else if (m.type === B.rowDescription) fields = decodeRowDescription(m.body);
      else if (m.type === B.noData) fields = [];
      else if (m.type === B.errorResponse) {
        const e = decodeErrorFields(m.body);
        describeError = e.get('M') ?? 'error';
        describeSqlstate = e.get('C') ?? null;
        // the Describe came first: an error after a description is the Bind's (the client's values)
        bindFailed = fields !== null;
      }
    } else if (segment === 1) {
      if (m.type === B.dataRow) check = textColumns(m.body);
      else if (m.type === B.errorResponse) {
        const e = decodeErrorFields(m.body);
        describeError = e.get('M') ?? 'error';
        describeSqlstate = e.get('C') ?? null;
      }
    } else if (segment === 2 && askCost && m.type === B.dataRow) {
      // EXPLAIN (FORMAT JSON): one row, one column, [{"Plan": {"Total Cost": …}}]
      try {
        const plan = JSON.parse(textColumns(m.body)[0] ?? '[]') as Array<{ Plan?: { 'Total Cost'?: number } }>;
        const cost = plan[0]?.Plan?.['Total Cost'];
        if (typeof cost === 'number') {
          // one entry per statement shape: bounded, or a client sending ever new shapes grows it forever
          if (opts.costs.size >= MAX_COSTS && !opts.costs.has(r.fingerprint)) opts.costs.delete(opts.costs.keys().next().value!);
          opts.costs.set(r.fingerprint, cost);
        }
      } catch {
        /* unparseable: treated as unknown below */
      }
    } else if (askParams && segment === (askCost ? 3 : 2)) paramReplies.push(m);
  }
  // the client's transaction as it was before the round trip; the statement then goes to Postgres,
  // which raises its own error for it
  if (inBlock && controlFailed && (port.txStatus as SessionPort['txStatus']) === 'E') {
    await port.control([...namedQuery(SAVEPOINT_NAME, `ROLLBACK TO SAVEPOINT ${SAVEPOINT_NAME}`), ...namedQuery(SAVEPOINT_NAME, `RELEASE SAVEPOINT ${SAVEPOINT_NAME}`)], 2);
  }
  // A cancel that came during the round trip was for this statement (Postgres may have canceled one of
  // ours instead): end it as Postgres would have ended the statement itself.
  if (signal.aborted && !job.explain) {
    if (fields !== null && !bindFailed) describedHead = headFor(fields);
    return canceled();
  }
  if (bindFailed) return relayRest('bind_error', describeError ?? undefined, { sqlstate: describeSqlstate });
  if (askCost) {
    const cost = opts.costs.get(r.fingerprint);
    // The explain hint of a statement with parameters has no values to EXPLAIN with: an execution asks
    // Postgres's EXPLAIN with the values it binds, so the cost is not what decides here.
    const atExecution = cost === undefined && job.explain === true && job.params.length === 0 && paramTypes.length > 0;
    if (!atExecution && (cost === undefined || cost < opts.rules.costThreshold)) return relayRest('not_analytical', `cost ${cost ?? 'unknown'} below ${opts.rules.costThreshold}`, { cost: cost ?? null });
  }
  if (describeError !== null || fields === null || fields.length === 0 || check === null) {
    // a table or column the router took for mirrored is gone: the mirror has not seen that DDL yet
    if ((describeSqlstate === '42P01' || describeSqlstate === '42703') && !job.explain) opts.mirror.checkCatalog();
    return relayRest('fallback', describeError ?? 'no row description', { sqlstate: describeSqlstate, detail: describeError === null ? 'no row description' : 'control query failed' });
  }
  const [, schemas, timeZone, dateStyle, intervalStyle, efd, byteaOutput, stmtTimeoutSetting, walPosition, collation, nowUs, today, localUs, ctype, collatedColumns, collationProbe, clientEncoding, isolation, txReadOnly, txWritten, settingsProblem, executeDenied] = check;
  // The statement's clock starts when Postgres has answered the round trip, the closest duckgate sees to
  // when Postgres would have started the statement (earlier, the session may still have been waiting
  // for statements relayed before this one). The freshness fence counts, as it is this statement's.
  const walLsn = fenceTarget(walPosition);
  stmtTimeout = stmtTimeoutSetting ?? '0';
  const stmtMs = parseIntervalMs(stmtTimeout);
  if (stmtMs > 0) {
    t0 = performance.now();
    deadline = t0 + stmtMs;
  }
  // Messages decoded as UTF-8 mean what the client sent only under client_encoding UTF8.
  if (clientEncoding !== 'UTF8') return relayRest('fallback', `client_encoding ${clientEncoding}`, { detail: 'client_encoding not UTF8' });
  if (settingsProblem) return relayRest('setting', `${settingsProblem}: DuckDB does not follow it`, { detail: 'a setting DuckDB does not follow' });
  if (inBlock) {
    // From the transaction's first write (or row lock, or temporary object) its later reads must see
    // it; under REPEATABLE READ or SERIALIZABLE they read the transaction's snapshot: Postgres answers.
    if (txWritten === 'true') return relayRest('in_transaction', 'the transaction has written', { detail: 'transaction has written' });
    const readOnlyOptIn = opts.allowReadOnlyTransactions && txReadOnly === 'on';
    if (isolation !== 'read committed' && !readOnlyOptIn) return relayRest('in_transaction', `${isolation ?? 'unknown'} isolation`, { detail: 'isolation above READ COMMITTED' });
  }
  const privOk = check.slice(CHECK_FIXED_COLUMNS, CHECK_FIXED_COLUMNS + r.tables.length).every((v) => v === 'true');
  if (!privOk) return relayRest('privilege', 'no SELECT privilege or row-level security applies', { detail: 'privilege' });
  if (executeDenied) return relayRest('privilege', `no EXECUTE privilege on ${executeDenied}`, { detail: 'function privilege' });
  // DuckDB compares text bytewise, as Postgres does only under a code point collation (C, C.UTF-8…):
  // under any other, a statement that orders or compares values stays on Postgres.
  if (!isBytewiseCollation(collation ?? null, collationProbe ?? null) && ORDER_SENSITIVE.test(job.sql)) {
    return relayRest('collation', `database collation ${collation} is not bytewise`, { detail: 'collation' });
  }
  if (collatedColumns !== '0') {
    return relayRest('collation', `${collatedColumns ?? 'unknown'} column(s) read have a collation of their own`, { detail: 'collated columns' });
  }
  const searchPath = (schemas ?? '').split(',').filter(Boolean);
  if (searchPath.join(',') !== port.searchPath.join(',')) {
    // The route was decided with an outdated search_path: decide again with the real one.
    port.searchPath = searchPath;
    const again = route(job.sql, context(port, opts.mirror.view() ?? { tables: new Map() }, opts));
    if (again.engine !== 'duckdb' || again.tables.join() !== r.tables.join()) return relayRest(again.engine === 'postgres' ? again.reason : 'fallback', 'search_path changed', { detail: 'search_path changed' });
  }
  // Each table name must mean, in this session now, the very relation (and columns) the mirror holds:
  // a temporary table duckgate did not see created (pg_temp.t, in a DO block or a function) shadows
  // it, and another session's DDL (a swap by rename, drop and create, a column renamed) is seen by
  // the mirror only at its next catalog poll (pgoutput sends a Relation message only with the next
  // change of the table). Postgres answers; the mirror is asked to look at the catalog now.
  const identities = check.slice(CHECK_FIXED_COLUMNS + r.tables.length);
  const checks = identityChecks(r);
  const wrong = checks.map((c, i) => ({ ...c, state: identities[i] ?? 'missing' })).filter((c) => c.state !== 'ok');
  if (wrong.length > 0) {
    const detail = wrong.map((c) => `${c.name}: ${c.state === 'temp' ? 'a temporary table' : c.state === 'columns' ? 'columns changed' : c.state === 'other' ? 'another relation' : 'not found'}`).join('; ');
    if (wrong.every((c) => c.state === 'temp')) return relayRest('temp_table', detail, { detail: 'temporary table shadows a mirrored table' });
    if (!job.explain) opts.mirror.checkCatalog();
    return relayRest('stale_mirror', detail, { detail: 'mirror behind the catalog' });
  }

  const rowDescription = be.rowDescription(fields.map((f, i) => ({ ...f, format: formatCode(job.resultFormats, i) })));
  const head = headFor(fields);
  describedHead = head;

  // Freshness, strict by default: the mirror must have applied everything up to the WAL position read
  // in the round trip (after the statement arrived, so every transaction committed before it began is
  // at or below it), as a READ COMMITTED statement's snapshot would show. An opt-in max_lag lets the
  // mirror lag that far behind instead, except after the session's own write (read-your-writes).
  // Only the tables the statement reads must be current: a batch of writes to others may still be
  // applying (ApplyLoop.currentFor).
  if (r.maxLagMs === 0 || port.dirty) {
    let ok = walLsn !== null && opts.mirror.currentFor(walLsn, r.tables);
    const waitStart = performance.now();
    if (!ok && walLsn !== null) ok = await waitFence(opts.mirror, walLsn, r.tables, Math.min(opts.freshnessWaitMs, left()), signal);
    metrics.fenceWaitSeconds.observe((performance.now() - waitStart) / 1000);
    if (signal.aborted && !job.explain) return canceled();
    if (!ok && left() <= 0 && !job.explain) return statementTimedOut();
    if (!ok) return relayRest('stale', `mirror has not reached ${walLsn} yet`, { detail: r.maxLagMs === 0 ? 'mirror behind the statement start' : 'mirror behind the session\'s write' });
    // explain only looks: the next real read still proves the fence itself
    if (!job.explain) port.dirty = false;
  } else {
    // Current when the mirror has applied everything up to the WAL position seen now; otherwise it may
    // lag at most max_lag behind.
    const applied = opts.mirror.appliedLsn();
    const current = walLsn !== null && applied !== null && compareLsn(applied, walLsn) >= 0;
    const lag = opts.mirror.lagMs();
    if (!current && (lag === null || lag > r.maxLagMs)) return relayRest('stale', `mirror lag ${lag ?? 'unknown'} ms > ${r.maxLagMs} ms`, { lagMs: lag });
  }

  const formats = job.resultFormats;
  const pgFields: PgField[] = fields.map((f, i) => ({
    name: f.name,
    typeOid: f.typeOid,
    typmod: f.typmod,
    format: formatCode(formats, i),
  }));
  const session: SessionOptions = {
    timeZone: timeZone ?? 'UTC',
    dateStyle: dateStyle ?? 'ISO, MDY',
    intervalStyle: intervalStyle ?? 'postgres',
    extraFloatDigits: Number(efd ?? 1),
    byteaOutput: byteaOutput === 'escape' ? 'escape' : 'hex',
    ctype: ctype ?? 'unknown',
  };
  opts.mirror.revalidate();
  const search = searchPath;
  const resolve = (schema: string | null, name: string): string | null => {
    if (schema !== null) return opts.mirror.relation(schema, name);
    // Unqualified: Postgres takes the first schema on the path that has the table. The router accepted
    // the statement only if that is a mirrored one; resolve the same way.
    for (const s of search) {
      const rel = opts.mirror.relation(s, name);
      if (rel) return rel;
    }
    return null;
  };
  if (job.explain) {
    const plan = opts.engine.plan(job.sql, resolve, pgFields.map((f) => f.typeOid), paramTypes, session);
    if (!plan.ok) return fallback('unsupported_syntax', plan.reason);
    const current = walLsn !== null && opts.mirror.appliedLsn() !== null && compareLsn(opts.mirror.appliedLsn()!, walLsn) >= 0;
    return answerExplain({ engine: 'duckdb', reason: r.reason, detail: r.detail, tables: r.tables, fingerprint: r.fingerprint, freshness: freshnessOf(r) }, port, opts, current ? 0 : undefined);
  }
  // Parameters as text for DuckDB, written from the binary form of the value Postgres read (typed as in
  // the client's statement, or Postgres answers).
  const canonical = askParams ? readParamsAnswer(paramReplies) : ({ ok: true, types: [], values: [] } as const);
  if (!canonical.ok) return relayRest('fallback', `parameter values: ${canonical.reason}`, { sqlstate: canonical.sqlstate, detail: 'parameter values' });
  if (canonical.types.join() !== paramTypes.join()) return relayRest('fallback', 'parameter types differ', { detail: 'parameter values' });
  let params: Array<string | null>;
  try {
    params = canonical.values.map((p, i) => (p === null ? null : binaryParamText(paramTypes[i] ?? 0, p)));
  } catch (e) {
    return relayRest('unsupported_syntax', (e as Error).message, { detail: 'parameter value', errorClass: (e as Error)?.name });
  }
  if (left() <= 0) return statementTimedOut();
  /** An engine error before anything was sent: Postgres answers instead, unless the client ended it. */
  const declined = async (e: unknown): Promise<void> => {
    if (!(e instanceof DuckdbEngineError)) throw e;
    if (e.kind === 'canceled') return canceled();
    if (e.kind === 'statement_timeout') return statementTimedOut();
    opts.reportFailure(r.fingerprint, e);
    const reason = e.kind === 'refused' ? 'unsupported_syntax' : e.kind === 'busy' ? 'busy' : 'fallback';
    // the next statement of this shape goes to Postgres without this round trip (router/refusals.ts)
    if (e.kind === 'refused' && e.byShape) refusals.remember(r.fingerprint, e.message);
    return relayRest(reason, e.message, loggableError(e));
  };
  let cursor;
  const started = process.hrtime.bigint();
  // Shadow execution samples only what it can replay exactly on its own connection: a whole result in
  // text, text parameters whose types Postgres infers (none declared), outside a transaction block, with
  // no clock.
  const shadowing =
    opts.shadow !== undefined &&
    sync &&
    (job.maxRows ?? 0) === 0 &&
    job.execute !== false &&
    port.txStatus === 'I' &&
    !r.timeDependent &&
    pgFields.every((f) => f.format === 0) &&
    job.params.every((_, i) => formatCode(job.paramFormats, i) === 0) &&
    declared.every((t) => t === 0) &&
    opts.shadow.wants();
  const lsnFrom = opts.mirror.appliedLsn();
  try {
    cursor = await opts.engine.open({
      sql: job.sql,
      params,
      paramTypeOids: paramTypes,
      fields: pgFields,
      session,
      resolve,
      signal,
      statementTimeoutMs: deadline === Infinity ? 0 : Math.max(1, left()),
      clock:
        nowUs && today && localUs
          ? { nowMicros: BigInt(nowUs), currentDateDays: Number(today), localMicros: BigInt(localUs) }
          : undefined,
    });
  } catch (e) {
    return declined(e);
  }
  // The first chunk is fetched before anything is written: a failure up to here still goes to Postgres,
  // which then answers (or raises its own error) exactly as it would have.
  const limit = job.maxRows ?? 0;
  let firstChunk: { data: Buffer; rows: number; done: boolean } | null = null;
  try {
    if (job.execute === false) await cursor.prime();
    else firstChunk = await cursor.next(limit > 0 ? Math.min(CHUNK_ROWS, limit) : CHUNK_ROWS);
  } catch (e) {
    cursor.close();
    return declined(e);
  }
  const lsnTo = opts.mirror.appliedLsn();
  // From here on the client sees DuckDB's answer: it can no longer move to Postgres, so duckgate's own
  // DuckDB timeout (there to send slow statements to Postgres in time) would only turn it into an error.
  // One that fired just as the first rows came still sends the statement to Postgres.
  if (firstChunk !== null && !cursor.answered()) {
    cursor.close();
    return declined(new DuckdbEngineError('timeout', 'DuckDB statement timeout'));
  }
  count('duckdb', r.reason);
  const p = prefix();
  const first = p ? [p, ...head] : head;
  if (firstChunk === null) {
    // bound, not yet executed: idle as Postgres sees it until its Execute (see DuckdbCursor.watch)
    cursor.watch(undefined);
    port.duckPortal = { name: job.portal ?? '', cursor, fingerprint: r.fingerprint, rowDescription };
    await port.write(Buffer.concat(first));
    return;
  }
  const kept: Buffer[] | null = shadowing && lsnFrom !== null && lsnTo !== null ? [] : null;
  let keptRows = 0;
  const keep = kept
    ? (data: Buffer, rows: number): boolean => {
        keptRows += rows;
        if (keptRows > opts.shadow!.maxRows) return false;
        kept.push(data);
        return true;
      }
    : undefined;
  try {
    const { exhausted, kept: complete } = await streamRows(cursor, firstChunk, limit, first, end(), port, keep);
    if (kept && complete && exhausted) {
      // off the client's path: its answer is out, the comparison runs on duckgate's own connection
      void opts.shadow!.submit({
        fingerprint: r.fingerprint,
        sql: job.sql,
        // the client's own text (Postgres reads it again as it did for the client)
        params: job.params.map((p) => (p === null ? null : p.toString('utf8'))),
        tables: r.tables,
        settings: { searchPath: port.searchPath.join(','), timeZone: session.timeZone, dateStyle: session.dateStyle, intervalStyle: session.intervalStyle, extraFloatDigits: String(session.extraFloatDigits), byteaOutput: session.byteaOutput },
        typeOids: pgFields.map((f) => f.typeOid),
        lsnFrom: lsnFrom!,
        lsnTo: lsnTo!,
        rows: dataRowsText(kept),
      });
    }
    if (!sync) {
      // Flush: the portal stays readable until the Sync (exhausted, it answers further Executes with no
      // rows); suspended, it is idle as Postgres sees it (see DuckdbCursor.watch)
      if (!exhausted) cursor.watch(undefined);
      port.duckPortal = { name: job.portal ?? '', cursor: exhausted ? null : cursor, fingerprint: r.fingerprint, rowDescription };
    } else if (!exhausted) cursor.close();
    metrics.duckdbStatementSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  } catch (e) {
    // Rows were already sent: the statement cannot move to Postgres any more, so it ends in an error,
    // as a Postgres statement failing mid-result would. A failed write means the client is gone: the
    // session ends, and nothing is held against DuckDB.
    cursor.close();
    if (!(e instanceof DuckdbEngineError)) throw e;
    const err = streamError(e, r.fingerprint, opts);
    await abortTransactionBlock(port);
    await port.write(Buffer.concat([be.errorResponse(err), ...end()]));
    afterError();
  }
}

/**
 * Postgres aborts a transaction block at any statement's error: one answered here (a cancel, a
 * statement_timeout, DuckDB failing after rows were sent) must leave the upstream transaction failed
 * too, or the client's next statements would succeed where Postgres answers 25P02.
 */
async function abortTransactionBlock(port: SessionPort): Promise<void> {
  if (port.txStatus !== 'T') return;
  await port.control(namedQuery(CHECK_NAME, "SELECT 'duckgate: a statement of this transaction block failed'::int4"), 1);
}

/**
 * A bytea column compared with an untyped string literal: Postgres reads the literal as bytea input (hex
 * '\x0000000c' is four bytes, or its escape format), DuckDB as a BLOB in its own escape format ('\x0c'
 * is one byte, every other character itself), so b = '\x0000000c' matched a row on Postgres and none on
 * DuckDB. Which literal meets which column is not known here: a statement that reads a bytea column
 * and has any string literal goes to Postgres (an explicit '…'::bytea is translated exactly, see
 * rewrite.ts, but is kept on the safe side too).
 */
function readsByteaWithLiteral(r: DuckdbRoute, sql: string, view: MirrorView | null): boolean {
  if (!view || !(sql.includes("'") || /\$[A-Za-z_]*\$/.test(sql))) return false;
  for (const t of r.tables) {
    const table = view.tables.get(t);
    if (!table) continue;
    const used = r.columns.get(t);
    const names = !used || used.has('*') ? [...table.columns.keys()] : [...used];
    if (names.some((c) => /^bytea(\[\])*$/.test(table.columns.get(c)?.pgType ?? ''))) return true;
  }
  return false;
}

/** Statement shapes whose EXPLAIN cost is kept (the oldest is dropped first). */
const MAX_COSTS = 10_000;

/** Work done here for at least this long leaves a fallback only what is left of the statement_timeout. */
const SPENT_MS = 10;

/** Waits for the mirror to reach `lsn`, at most `ms`, and not past a cancel. */
async function waitFence(mirror: MirrorSource, lsn: string, tables: readonly string[], ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0 || signal.aborted) return false;
  let onAbort: (() => void) | null = null;
  const aborted = new Promise<boolean>((resolve) => {
    onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([mirror.waitForLsn(lsn, ms, tables).catch(() => false), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** The client's Bind with our portal name: the statement name, values and format codes as it sent them. */
function rebind(bind: Frame, portal: string): Buffer {
  const z = bind.body.indexOf(0);
  const tail = bind.body.subarray(z + 1);
  const len = 4 + Buffer.byteLength(portal) + 1 + tail.length;
  const headBuf = Buffer.alloc(5);
  headBuf[0] = F.bind;
  headBuf.writeInt32BE(len, 1);
  return Buffer.concat([headBuf, Buffer.from(portal + '\0'), tail]);
}

interface ExplainAnswer {
  engine: 'postgres' | 'duckdb';
  reason: string;
  detail?: string;
  tables: string[];
  fingerprint?: string;
  /** for a statement DuckDB could serve: 'strict', or the opt-in staleness bound and where it came from */
  freshness?: string;
}

function freshnessOf(r: DuckdbRoute): string {
  return r.maxLagMs === 0 ? `strict (${r.lagOrigin})` : `max_lag ${r.maxLagMs} ms (${r.lagOrigin})`;
}

/**
 * The detail of an explain answer; a statement that went to Postgres because its tables are not served
 * also says why the mirror does not serve each (being copied, last error and next retry, skipped and how
 * to fix it, mirror not running), which the router alone cannot know.
 */
function explainDetail(r: ExplainAnswer, port: SessionPort, opts: AnalyticsOptions): string {
  const detail = r.detail ?? '';
  if (r.engine !== 'postgres' || (r.reason !== 'no_mirror' && r.reason !== 'not_mirrored')) return detail;
  const whys = new Set<string>();
  for (const written of r.tables) {
    const dot = written.indexOf('.');
    const schema = dot < 0 ? port.searchPath.find((x) => x !== 'pg_catalog' && !x.startsWith('pg_temp')) : written.slice(0, dot);
    if (schema === undefined) continue;
    const why = opts.mirror.whyNotServed(schema, dot < 0 ? written : written.slice(dot + 1));
    if (why) whys.add(why);
  }
  return [detail, ...whys].filter((x) => x !== '').join('; ');
}

/** One row: where the statement would run and why. lagMs: 0 when the mirror is known to be current. */
async function answerExplain(r: ExplainAnswer, port: SessionPort, opts: AnalyticsOptions, lagMs?: number): Promise<void> {
  const cols = ['engine', 'reason', 'detail', 'tables', 'mirror_lag_ms', 'mirror_lsn', 'fingerprint', 'freshness'];
  const lag = lagMs ?? opts.mirror.lagMs();
  const values = [r.engine, r.reason, explainDetail(r, port, opts), r.tables.join(', '), lag === null ? null : String(lag), opts.mirror.appliedLsn(), r.fingerprint ?? '', r.freshness ?? ''];
  await port.write(
    Buffer.concat([
      be.rowDescription(cols.map((name) => ({ name, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typmod: -1, format: 0 }))),
      be.dataRow(values.map((v) => (v === null ? null : Buffer.from(v)))),
      be.commandComplete('SELECT 1'),
      be.readyForQuery(port.txStatus),
    ]),
  );
}
