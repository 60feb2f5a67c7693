// Runs one generated session against one server (Postgres or duckgate) over a raw socket and records
// what came back; compares two such records.
//
// How a run ends. After the session's own messages the runner sends an end marker, a simple Query
// `SELECT 'fuzz-end' AS fuzz_end`, and reads until
//   - the marker's ReadyForQuery came back                    → end 'marker'
//   - the server closed the connection                        → end 'closed'
//   - (Postgres only) nothing arrived for idleMs and the backend waits on its client (ClientRead in
//     pg_stat_activity)                                        → end 'idle': Postgres is waiting for
//     bytes that will never come (a length that claims more than was sent) or ignores the marker (it
//     is swallowed as COPY data or skipped until a Sync). The client then half-closes (FIN) and reads
//     until the server closes.
// duckgate is run against the record Postgres made: it must reach the same end. Where Postgres ended
// 'idle', duckgate gets the same treatment once it has sent as many messages as Postgres had (or
// nothing for idleMs). A duckgate that neither reaches Postgres's end nor sends a byte for hangMs
// hangs; so does one that does not close within hangMs of the client's FIN.
//
// What "the same outcome" means (compare()):
//   - the same sequence of backend message types, and the connection closed or not at the same point;
//   - ErrorResponse and NoticeResponse: the same severity (V) and SQLSTATE (C). The message text is not
//     compared (duckgate's own protocol-violation texts are worded its own way; the SQLSTATE is what
//     clients act on). NoticeResponse ordering is compared strictly: nothing in these sessions makes a
//     notice asynchronous (no LISTEN, no RAISE from triggers), so Postgres's order is deterministic.
//   - ReadyForQuery: the same transaction status.
// Beyond the outcome, every other message body is compared byte for byte (RowDescription, DataRow,
// CommandComplete, ParameterDescription, ParameterStatus, Copy*): the data never changes during a run
// (schema.ts), and duckgate promises the same bytes. A difference there is reported as 'bytes', a
// difference in the outcome as 'outcome'. The startup phase (Authentication, ParameterStatus,
// BackendKeyData) is compared by message types only: BackendKeyData is duckgate's own.
import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import type { FuzzSession } from './generator.js';
import * as m from './messages.js';

export interface Target {
  name: 'postgres' | 'duckgate';
  host: string;
  port: number;
  user: string;
  database: string;
}

export interface Observed {
  type: string;
  body: Buffer;
}

export type End = 'marker' | 'closed' | 'idle' | 'hang' | 'connect-failed';

export interface RunRecord {
  target: string;
  /** messages after the startup phase (all messages for a custom startup packet) */
  messages: Observed[];
  startupTypes: string;
  end: End;
  /** for end 'idle': whether the server closed after the client's FIN */
  closedAfterFin: boolean | null;
  /** for end 'idle': messages (after startup) received before the client's FIN */
  messagesBeforeFin?: number;
  /** bytes that never formed a whole message (e.g. a protocol-2 error, which has no length) */
  leftover: Buffer;
  ms: number;
  /** for a hang: what was still awaited */
  hangNote?: string;
}

export interface RunTiming {
  hangMs: number;
  idleMs: number;
  /**
   * Postgres only: is this backend (pid from BackendKeyData) waiting to read from its client? Quiet
   * alone is no proof on a busy machine; pg_stat_activity's wait_event ClientRead is.
   */
  waitingForClient?: (pid: number) => Promise<boolean>;
}

/**
 * The end marker. The ROLLBACK first ends a transaction the session left open or failed, so the marker
 * runs (and is answered the same way) whatever state the session ended in; its own replies (a WARNING
 * 25P01 outside a transaction, CommandComplete) are compared like the rest.
 */
export const END_MARKER_SQL = "ROLLBACK; SELECT 'fuzz-end' AS fuzz_end";

/** Postgres quiet and busy this long is taken as idle anyway (a lock wait would otherwise never end). */
const PG_STUCK_MS = 60_000;

/** Reads backend messages off a socket as they come. */
class Reader {
  buf: Buffer = Buffer.alloc(0);
  messages: Observed[] = [];
  closed = false;
  lastByteAt = Date.now();
  private waiters: Array<() => void> = [];

  constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.lastByteAt = Date.now();
      this.frame();
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => undefined);
  }

  private frame(): void {
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1);
      // a protocol-2 style error (no length) or garbage: keep it as leftover bytes
      if (len < 4 || len > 64 * 1024 * 1024) return;
      if (this.buf.length < len + 1) return;
      this.messages.push({ type: String.fromCharCode(this.buf[0]!), body: Buffer.from(this.buf.subarray(5, len + 1)) });
      this.buf = this.buf.subarray(len + 1);
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits for data, close, or ms milliseconds. */
  wait(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(1, ms));
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** Index just past the end marker's ReadyForQuery, or -1. */
function markerEnd(msgs: Observed[], from: number): number {
  for (let i = from; i < msgs.length; i++) {
    const x = msgs[i]!;
    if (x.type === 'T' && x.body.includes('fuzz_end\0')) {
      for (let j = i + 1; j < msgs.length; j++) if (msgs[j]!.type === 'Z') return j + 1;
      return -1;
    }
  }
  return -1;
}

async function write(sock: Socket, bytes: Buffer, splits: number[]): Promise<void> {
  if (splits.length === 0) {
    sock.write(bytes);
    return;
  }
  let at = 0;
  for (const s of [...splits, bytes.length]) {
    if (s <= at) continue;
    sock.write(bytes.subarray(at, s));
    at = s;
    // a pause, so the pieces arrive as separate reads
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Runs the session against a target. `expect` is Postgres's record when this is duckgate's run: it
 * says how the run should end (see the file comment).
 */
export async function runSession(target: Target, session: FuzzSession, timing: RunTiming, expect?: RunRecord): Promise<RunRecord> {
  const started = Date.now();
  const rec: RunRecord = { target: target.name, messages: [], startupTypes: '', end: 'hang', closedAfterFin: null, leftover: Buffer.alloc(0), ms: 0 };
  let sock: Socket;
  try {
    sock = connect({ host: target.host, port: target.port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
  } catch (e) {
    rec.end = 'connect-failed';
    rec.hangNote = (e as Error).message;
    rec.ms = Date.now() - started;
    return rec;
  }
  sock.setNoDelay(true);
  const rd = new Reader(sock);
  let backendPid: number | null = null;
  try {
    let from = 0;
    if (session.startup) {
      sock.write(session.startup.bytes);
    } else {
      sock.write(m.startupPacket({ user: target.user, database: target.database, client_encoding: 'UTF8' }));
      // startup: until ReadyForQuery, or a close
      for (;;) {
        const z = rd.messages.findIndex((x) => x.type === 'Z');
        if (z >= 0) {
          rec.startupTypes = rd.messages.slice(0, z + 1).map((x) => x.type).join('');
          const k = rd.messages.find((x) => x.type === 'K');
          if (k && k.body.length >= 4) backendPid = k.body.readInt32BE(0);
          from = z + 1;
          break;
        }
        if (rd.closed) {
          rec.startupTypes = rd.messages.map((x) => x.type).join('');
          rec.end = 'closed';
          return finish();
        }
        if (Date.now() - rd.lastByteAt > timing.hangMs) {
          rec.hangNote = 'no ReadyForQuery after the startup packet';
          return finish();
        }
        await rd.wait(timing.hangMs);
      }
      const bytes = Buffer.concat([...session.steps.map((s) => s.bytes), m.query(END_MARKER_SQL).bytes]);
      rd.lastByteAt = Date.now();
      await write(sock, bytes, session.splits);
    }
    // the session: until the marker, a close, idle (Postgres) or a hang (duckgate)
    for (;;) {
      const msgs = rd.messages.slice(from);
      if (!session.startup && markerEnd(rd.messages, from) >= 0) {
        rec.end = 'marker';
        break;
      }
      if (rd.closed) {
        rec.end = 'closed';
        break;
      }
      const quiet = Date.now() - rd.lastByteAt;
      if (!expect || expect.end !== 'marker') {
        // Postgres: idle means it waits for the client. duckgate, when Postgres went idle: once it has
        // said as much as Postgres did, idle likewise.
        // (what Postgres said before the FIN: its answer to the FIN itself comes after ours)
        const enough = !expect || msgs.length >= (expect.messagesBeforeFin ?? expect.messages.length);
        if (quiet >= timing.idleMs && enough) {
          if (!expect && timing.waitingForClient && backendPid !== null && quiet < PG_STUCK_MS) {
            const waiting = await timing.waitingForClient(backendPid).catch(() => true);
            if (!waiting) {
              await rd.wait(100);
              continue;
            }
          }
          rec.end = 'idle';
          break;
        }
      }
      if (expect && quiet >= timing.hangMs) {
        rec.hangNote = `no byte for ${timing.hangMs} ms after ${msgs.length} messages (Postgres: ${expect.messages.length}, end ${expect.end})`;
        return finish();
      }
      await rd.wait(100);
    }
    if (rec.end === 'idle') {
      // the client gives up: FIN, then the server must close
      rec.messagesBeforeFin = rd.messages.length - from;
      sock.end();
      const deadline = Date.now() + timing.hangMs;
      while (!rd.closed && Date.now() < deadline) await rd.wait(deadline - Date.now());
      rec.closedAfterFin = rd.closed;
      if (!rd.closed) rec.hangNote = `did not close within ${timing.hangMs} ms of the client's FIN`;
    }
    return finish();
  } finally {
    sock.destroy();
  }

  function finish(): RunRecord {
    const z = session.startup ? 0 : rd.messages.findIndex((x) => x.type === 'Z') + 1;
    let msgs = rd.messages.slice(Math.max(0, z));
    if (rec.end === 'marker') {
      // drop the marker's own reply (its RowDescription through its ReadyForQuery)
      const t = msgs.findIndex((x) => x.type === 'T' && x.body.includes('fuzz_end\0'));
      if (t >= 0) msgs = msgs.slice(0, t);
    }
    rec.messages = msgs;
    rec.leftover = Buffer.from(rd.buf);
    rec.ms = Date.now() - started;
    if (rec.end === 'idle' && rec.closedAfterFin === false) rec.end = 'hang';
    return rec;
  }
}

// ---- comparison ------------------------------------------------------------------------------------

export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const end = body.indexOf(0, pos + 1);
    if (end < 0) break;
    out[String.fromCharCode(body[pos]!)] = body.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return out;
}

/** The outcome token of a message: type, plus severity+SQLSTATE for errors/notices, status for Z. */
export function outcomeToken(x: Observed): string {
  if (x.type === 'E' || x.type === 'N') {
    const f = errorFields(x.body);
    return `${x.type}(${f['V'] ?? f['S'] ?? '?'} ${f['C'] ?? '?'})`;
  }
  if (x.type === 'Z') return `Z(${String.fromCharCode(x.body[0] ?? 63)})`;
  return x.type;
}

/** The full token: the outcome token, plus the body for messages compared byte for byte. */
export function fullToken(x: Observed): string {
  const o = outcomeToken(x);
  if (x.type === 'E' || x.type === 'N' || x.type === 'Z') return o;
  if (x.body.length === 0) return o;
  if (x.type === 'C') return `C(${x.body.toString('utf8', 0, x.body.length - 1)})`;
  if (x.type === 'S') return `S(${x.body.toString('utf8').replace(/\0/g, '=').replace(/=$/, '')})`;
  return `${x.type}#${createHash('sha1').update(x.body).digest('hex').slice(0, 10)}`;
}

/** Readable list of tokens, runs of equal types compressed (D×3000). */
export function summarize(tokens: string[], max = 40): string {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; ) {
    const t = tokens[i]!;
    const base = t.replace(/#.*/, '');
    let j = i + 1;
    while (j < tokens.length && tokens[j]!.replace(/#.*/, '') === base && base.length === 1) j++;
    out.push(j - i > 1 ? `${base}×${j - i}` : t.replace(/#.*/, ''));
    i = j;
  }
  return out.length > max ? `${out.slice(0, max).join(' ')} …(${out.length - max} more)` : out.join(' ');
}

function endToken(r: RunRecord): string {
  if (r.end === 'idle') return r.closedAfterFin ? 'idle, closed after FIN' : 'idle, open after FIN';
  return r.end;
}

export interface Difference {
  kind: 'hang' | 'outcome' | 'bytes' | 'connect';
  /** groups differences of the same cause (reports count by it) */
  signature: string;
  detail: string;
}

/** null when duckgate's record is the same outcome (and the same bytes) as Postgres's. */
export function compare(pg: RunRecord, dg: RunRecord): Difference | null {
  const pgO = pg.messages.map(outcomeToken);
  const dgO = dg.messages.map(outcomeToken);
  if (dg.end === 'connect-failed') return { kind: 'connect', signature: 'connect failed', detail: dg.hangNote ?? '' };
  if (dg.end === 'hang' && pg.end !== 'hang') {
    const got = summarize(dgO.slice(-6));
    const k = firstDiff(pgO, dgO);
    const awaited = k < pgO.length ? pgO[k]! : endToken(pg);
    return {
      kind: 'hang',
      // (what came before is in the detail: the signature groups by what was awaited)
      signature: `hang: Postgres sent ${awaited}, duckgate nothing`,
      detail: `${dg.hangNote ?? ''}\n  postgres: ${summarize(pgO)} [${endToken(pg)}]\n  duckgate: ${summarize(dgO)} … (last: ${got})`,
    };
  }
  const startupSame = pg.startupTypes === dg.startupTypes;
  const endSame = endToken(pg) === endToken(dg);
  const leftoverSame = pg.leftover.equals(dg.leftover);
  const k = firstDiff(pgO, dgO);
  if (k < Math.max(pgO.length, dgO.length) || !endSame || !startupSame || !leftoverSame) {
    const at = k < Math.max(pgO.length, dgO.length) ? k : -1;
    const pgAt = at >= 0 ? (pgO[at] ?? `(${endToken(pg)})`) : `(${endToken(pg)})`;
    const dgAt = at >= 0 ? (dgO[at] ?? `(${endToken(dg)})`) : `(${endToken(dg)})`;
    const ctx = at > 0 ? ` after ${pgO[at - 1]}` : '';
    const sig = !startupSame
      ? `startup: Postgres ${pg.startupTypes || '-'} / duckgate ${dg.startupTypes || '-'} then ${pgAt} / ${dgAt}`
      : !leftoverSame && at < 0 && endSame
        ? 'leftover bytes differ'
        : `Postgres ${pgAt} / duckgate ${dgAt}`;
    return {
      kind: 'outcome',
      signature: sig,
      detail:
        `  first difference at reply message ${at >= 0 ? at + 1 : '(end)'}${ctx}\n` +
        `  postgres: ${summarize(pgO)} [${endToken(pg)}]${pg.leftover.length ? ` leftover ${m.hex(pg.leftover, 32)}` : ''}\n` +
        `  duckgate: ${summarize(dgO)} [${endToken(dg)}]${dg.leftover.length ? ` leftover ${m.hex(dg.leftover, 32)}` : ''}` +
        errorTexts(pg, dg, at),
    };
  }
  const pgF = pg.messages.map(fullToken);
  const dgF = dg.messages.map(fullToken);
  const j = firstDiff(pgF, dgF);
  if (j < pgF.length) {
    const t = pg.messages[j]!.type;
    return {
      kind: 'bytes',
      signature: `bytes: ${t} differs${t === 'C' || t === 'S' ? ` (${pgF[j]} / ${dgF[j]})` : ''} after ${pgO[j - 1] ?? 'start'}`,
      detail: `  message ${j + 1} (${t}):\n    postgres: ${m.hex(pg.messages[j]!.body, 200)}\n    duckgate: ${m.hex(dg.messages[j]!.body, 200)}`,
    };
  }
  return null;
}

function firstDiff(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? a.length : n;
}

function errorTexts(pg: RunRecord, dg: RunRecord, at: number): string {
  const lines: string[] = [];
  for (const [who, r] of [
    ['postgres', pg],
    ['duckgate', dg],
  ] as const) {
    const x = at >= 0 ? r.messages[at] : undefined;
    if (x && (x.type === 'E' || x.type === 'N')) {
      const f = errorFields(x.body);
      lines.push(`\n  ${who} says: ${f['V']} ${f['C']} ${f['M']}`);
    }
  }
  return lines.join('');
}

/** The session as a readable list (what a reproduction shows). */
export function describeSession(s: FuzzSession): string {
  const lines: string[] = [];
  lines.push(`session ${s.index} of seed ${s.seed}: family ${s.family}${s.mutated ? `, mutated (${s.mutations.join('; ')})` : ''}`);
  if (s.startup) lines.push(`  startup: ${s.startup.label}`);
  else lines.push('  (startup: user/database as configured, then)');
  s.steps.forEach((st, i) => lines.push(`  ${String(i + 1).padStart(3)}. ${st.label}`));
  if (!s.startup) lines.push(`  (then the end marker: Query(${m.q(END_MARKER_SQL)}))`);
  if (s.splits.length) lines.push(`  written in pieces split at bytes ${s.splits.join(', ')}`);
  return lines.join('\n');
}
