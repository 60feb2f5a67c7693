// Session generator: from (seed, index) alone, one client session as a list of frontend messages.
//
// Families of valid sequences (every message well formed, in an order a real client may send; the
// server may still answer with errors, which is the point):
//   simple    simple Query: DuckDB-routed reads, relayed reads and writes, errors, empty query,
//             several statements in one Query
//   extended  Parse/Bind/Describe(S|P)/Execute(maxRows 0 or n)/Close(S|P)/Flush/Sync: named and unnamed
//             statements and portals, text and binary parameters and results, reuse of a statement
//   pipeline  extended messages not closed by a Sync or Flush, then a simple Query (pg-cursor's close()
//             after an error does this); Flush then more messages then Sync
//   tx        BEGIN / COMMIT / ROLLBACK / savepoints around either protocol, errors inside
//   copy      COPY FROM STDIN (simple, and extended the way tokio-postgres sends it), COPY TO STDOUT,
//             CopyFail, bad rows
//   startup   startup packets Postgres must reject (length, version, layout, unknown database)
// and `mutated`: a valid sequence of one of the first five families with 1 to 3 mutations (mutate.ts).
// The runner appends its own end marker (see runner.ts), so a sequence need not end in any state.
import { Rng } from './rng.js';
import * as m from './messages.js';
import type { Step } from './messages.js';
import { mutate } from './mutate.js';
import { analyticalReads, errors, relayedReads, settings, txControl, writes, type ParamSpec, type Stmt } from './schema.js';

export type Family = 'simple' | 'extended' | 'pipeline' | 'tx' | 'copy' | 'startup' | 'deep';
export const FAMILIES: readonly Family[] = ['simple', 'extended', 'pipeline', 'tx', 'copy', 'startup', 'deep'];

export interface FuzzContext {
  /** the database and user the session logs in as */
  database: string;
  user: string;
  /**
   * Base of the fz_log ids the session may write (uid … uid+7): one block per session index. Both runs of
   * a session (Postgres, duckgate) and every replay use the same ids, so a mutation that hits an id's
   * digits changes both runs alike; the runner deletes the block before each run (FuzzEnv.resetRows).
   */
  uid: number;
}

export interface FuzzSession {
  seed: number;
  index: number;
  family: Family;
  mutated: boolean;
  /** what each mutation did, in order */
  mutations: string[];
  /** a startup packet to send instead of the normal one (startup family) */
  startup: { label: string; bytes: Buffer } | null;
  steps: Step[];
  /** write the steps in this many pieces, split at these byte offsets (exercises framing across reads) */
  splits: number[];
}

/** The fz_log id block of a session: 9 digits (every run sends messages of the same lengths). */
export function uidFor(index: number): number {
  return 100_000_000 + index * 8;
}

export interface GenerateOptions {
  /** restrict the families drawn (default: all) */
  families?: readonly Family[];
  /** probability that a session is mutated (default 0.4) */
  mutateRate?: number;
}

export function generateSession(seed: number, index: number, ctx: FuzzContext, opts: GenerateOptions = {}): FuzzSession {
  const rng = new Rng(seed, index);
  const allowed = opts.families ?? FAMILIES;
  const family = rng.weighted(
    (
      [
        [22, 'simple'],
        [30, 'extended'],
        [12, 'pipeline'],
        [16, 'tx'],
        [10, 'copy'],
        [3, 'startup'],
        [2, 'deep'],
      ] as Array<[number, Family]>
    ).filter(([, f]) => allowed.includes(f)),
  );
  const g = new Gen(rng, ctx);
  let steps: Step[] = [];
  let startup: FuzzSession['startup'] = null;
  switch (family) {
    case 'simple':
      g.simple(rng.range(1, 6));
      break;
    case 'extended':
      g.extended(rng.range(1, 4));
      break;
    case 'pipeline':
      g.pipeline();
      break;
    case 'tx':
      g.tx();
      break;
    case 'copy':
      g.copy();
      break;
    case 'deep':
      g.deep();
      break;
    case 'startup':
      startup = startupCase(rng, ctx);
      break;
  }
  steps = g.steps;
  const mutations: string[] = [];
  const mutateRate = opts.mutateRate ?? 0.4;
  if (family !== 'startup' && family !== 'deep' && steps.length > 0 && rng.chance(mutateRate)) {
    const n = rng.weighted([
      [6, 1],
      [3, 2],
      [1, 3],
    ] as Array<[number, number]>);
    for (let i = 0; i < n; i++) {
      const r = mutate(rng, steps);
      steps = r.steps;
      mutations.push(r.description);
    }
  }
  // Split points for the writes: most sessions go in one write, some in pieces cut mid-message.
  const total = steps.reduce((a, s) => a + s.bytes.length, 0);
  const splits: number[] = [];
  if (total > 1 && rng.chance(0.2)) {
    const k = rng.range(1, 3);
    for (let i = 0; i < k; i++) splits.push(rng.range(1, total - 1));
    splits.sort((a, b) => a - b);
  }
  return { seed, index, family, mutated: mutations.length > 0, mutations, startup, steps, splits };
}

/** Builds valid sequences, keeping just enough state (statements defined) to reuse them. */
class Gen {
  steps: Step[] = [];
  private named: Array<{ name: string; stmt: Stmt }> = [];
  private counter = 0;

  constructor(
    private readonly rng: Rng,
    private readonly ctx: FuzzContext,
  ) {}

  private push(...s: Step[]): void {
    this.steps.push(...s);
  }

  /**
   * Any statement, weighted towards the analytical path. `SET duckgate.route` is duckgate's own: alone
   * in a Query it answers as Postgres does (SET), but duckgate refuses it combined with other
   * statements in one Query (0A000, by design), so a multi-statement Query never gets it.
   */
  private stmt(allowWrites = true, ownSettings = true): Stmt {
    const r = this.rng;
    const pool = r.weighted<Stmt[]>([
      [45, analyticalReads()],
      [15, relayedReads()],
      [12, errors()],
      [allowWrites ? 14 : 0, writes(this.ctx.uid)],
      [6, settings().filter((x) => ownSettings || !x.sql.includes('duckgate.'))],
    ]);
    return r.pick(pool);
  }

  /** The SQL of a statement for the simple protocol: parameters written in as literals. */
  private inline(s: Stmt): string {
    if (!s.params || s.params.length === 0) return s.sql;
    return s.sql.replace(/\$(\d+)/g, (_, d: string) => {
      const p = s.params![Number(d) - 1]!;
      return p.text === null ? 'NULL' : `'${p.text.replace(/'/g, "''")}'::${typeName(p.oid)}`;
    });
  }

  simple(n: number): void {
    const r = this.rng;
    for (let i = 0; i < n; i++) {
      const kind = r.weighted([
        [80, 'one'],
        [8, 'multi'],
        [6, 'empty'],
        [6, 'tx'],
      ] as Array<[number, string]>);
      if (kind === 'one') this.push(m.query(this.inline(this.stmt())));
      else if (kind === 'empty') this.push(m.query(r.pick(['', ' ', ';', '-- nothing'])));
      else if (kind === 'tx') this.push(m.query(r.pick(txControl()).sql));
      else {
        const parts = [this.inline(this.stmt(true, false)), this.inline(this.stmt(false, false)), ...(r.chance(0.5) ? [this.inline(this.stmt(false, false))] : [])];
        this.push(m.query(parts.join('; ')));
      }
    }
  }

  /** One extended-protocol batch ending in Sync (or Flush then Sync). */
  extended(batches: number): void {
    for (let b = 0; b < batches; b++) {
      const units = this.rng.range(1, 3);
      for (let u = 0; u < units; u++) this.unit();
      if (this.rng.chance(0.15)) {
        this.push(m.flush());
        if (this.rng.chance(0.5)) this.unit();
      }
      this.push(m.sync());
    }
  }

  /** Parse? Describe(S)? Bind Describe(P)? Execute+ Close? for one statement. */
  private unit(): void {
    const r = this.rng;
    let stmt: Stmt;
    let name: string;
    if (this.named.length > 0 && r.chance(0.3)) {
      // reuse a named statement parsed earlier in this session (Bind only)
      ({ name, stmt } = r.pick(this.named));
    } else {
      stmt = this.stmt();
      name = r.chance(0.5) ? '' : `s${this.counter++}`;
      const declared = (stmt.params ?? []).map((p) => (r.chance(0.8) ? p.oid : 0));
      this.push(m.parse(name, stmt.sql, declared));
      if (name !== '') this.named.push({ name, stmt });
      if (r.chance(0.3)) this.push(m.describe('S', name));
    }
    const portal = r.chance(0.6) ? '' : `p${this.counter++}`;
    this.push(this.bindFor(portal, name, stmt));
    if (r.chance(0.4)) this.push(m.describe('P', portal));
    const limit = r.chance(0.3) ? r.pick([1, 2, 5, 100]) : 0;
    this.push(m.execute(portal, limit));
    if (limit > 0 && r.chance(0.6)) {
      for (let k = r.range(1, 3); k > 0; k--) this.push(m.execute(portal, r.chance(0.3) ? 0 : limit));
    }
    if (portal !== '' && r.chance(0.3)) this.push(m.close('P', portal));
    if (name !== '' && r.chance(0.15)) {
      this.push(m.close('S', name));
      this.named = this.named.filter((x) => x.name !== name);
    }
  }

  private bindFor(portal: string, statement: string, stmt: Stmt): Step {
    const r = this.rng;
    const params = stmt.params ?? [];
    // format codes: none (all text), one for all, or one per parameter; binary only where we can encode it
    const useBinary = params.map((p) => p.binary !== undefined && r.chance(0.4));
    let paramFormats: number[];
    const style = r.int(3);
    if (style === 0 && useBinary.every((x) => !x)) paramFormats = [];
    else if (style === 1 && (useBinary.every((x) => x) || useBinary.every((x) => !x)) && params.length > 0) paramFormats = [useBinary[0] ? 1 : 0];
    else paramFormats = useBinary.map((x) => (x ? 1 : 0));
    const values = params.map((p, i) => (p.text === null ? null : useBinary[i] ? p.binary! : Buffer.from(p.text)));
    const labels = params.map((p, i) => (p.text === null ? 'NULL' : useBinary[i] ? `bin 0x${p.binary!.toString('hex')}` : m.q(p.text)));
    const resultFormats = r.weighted<number[]>([
      [5, []],
      [2, [0]],
      [3, [1]],
    ]);
    return m.bind({ portal, statement, paramFormats, params: values, paramLabels: labels, resultFormats });
  }

  pipeline(): void {
    const r = this.rng;
    const shape = r.int(4);
    if (shape === 0) {
      // Parse without Sync, then a Query: Postgres answers both at once (issue 9, relay defect 1)
      this.push(m.parse(r.chance(0.5) ? 's_pipe' : '', this.stmt(false).sql));
      this.push(m.query(this.inline(this.stmt(false))));
    } else if (shape === 1) {
      // pg-cursor's close() after an error: Close + Flush? no: Close alone, then the next Query
      this.extendedNoSync();
      this.push(m.close(r.pick(['P', 'S'] as const), ''));
      this.push(m.query(this.inline(this.stmt(false))));
    } else if (shape === 2) {
      // a whole batch without Sync, then Query, then a Sync
      this.extendedNoSync();
      this.push(m.query(this.inline(this.stmt(false))));
      if (r.chance(0.5)) this.push(m.sync());
    } else {
      // Flush in the middle, then more messages, then Sync (or a Query)
      this.extendedNoSync();
      this.push(m.flush());
      this.extendedNoSync();
      this.push(r.chance(0.7) ? m.sync() : m.query(this.inline(this.stmt(false))));
    }
    if (r.chance(0.5)) this.simple(1);
  }

  private extendedNoSync(): void {
    for (let u = this.rng.range(1, 2); u > 0; u--) this.unit();
  }

  tx(): void {
    const r = this.rng;
    const begin = r.pick(['BEGIN', 'BEGIN', 'BEGIN ISOLATION LEVEL REPEATABLE READ', 'BEGIN READ ONLY', 'START TRANSACTION']);
    const extendedBegin = r.chance(0.3);
    if (extendedBegin) this.push(m.parse('', begin), m.bind({ portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }), m.execute('', 0), m.sync());
    else this.push(m.query(begin));
    const n = r.range(1, 4);
    for (let i = 0; i < n; i++) {
      const what = r.int(5);
      if (what === 0) this.extended(1);
      else if (what === 1) this.push(m.query('SAVEPOINT sp'));
      else if (what === 2 && r.chance(0.5)) this.push(m.query(r.pick(['ROLLBACK TO SAVEPOINT sp', 'RELEASE SAVEPOINT sp'])));
      else this.simple(1);
    }
    const end = r.pick(['COMMIT', 'ROLLBACK', 'COMMIT', 'END', 'ABORT', 'ROLLBACK AND CHAIN']);
    if (r.chance(0.3)) this.push(m.parse('', end), m.bind({ portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }), m.execute('', 0), m.sync());
    else this.push(m.query(end));
    if (end === 'ROLLBACK AND CHAIN') this.push(m.query('ROLLBACK'));
    if (r.chance(0.4)) this.simple(1);
  }

  copy(): void {
    const r = this.rng;
    this.push(m.query('CREATE TEMP TABLE IF NOT EXISTS fz_tmp (id int, v text, d date)'));
    const rows = (): Step[] => {
      const out: Step[] = [];
      for (let k = r.range(0, 4); k > 0; k--) {
        out.push(
          m.copyData(
            r.weighted([
              [8, `${r.range(1, 99)}\tv${r.int(9)}\t2024-0${r.range(1, 9)}-1${r.int(9)}\n`],
              [1, `${r.range(1, 99)}\t\\N\t\\N\n`],
              [1, 'x\ty\tz\n'],
              [1, '1\t2\n'],
            ] as Array<[number, string]>),
          ),
        );
      }
      return out;
    };
    const shape = r.int(6);
    if (shape === 0 || shape === 1) {
      this.push(m.query('COPY fz_tmp FROM STDIN'), ...rows(), shape === 0 ? m.copyDone() : m.copyFail('fuzz says no'));
    } else if (shape === 2) {
      // tokio-postgres: Parse/Bind/Execute/Sync, CopyData, CopyDone, Sync. Postgres ignores the Sync
      // that arrives during copy-in, so the two Syncs bring one ReadyForQuery.
      this.push(
        m.parse('', 'COPY fz_tmp FROM STDIN'),
        m.bind({ portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }),
        m.execute('', 0),
        m.sync(),
        ...rows(),
        r.chance(0.8) ? m.copyDone() : m.copyFail('fuzz says no'),
        m.sync(),
      );
    } else if (shape === 3) {
      this.push(m.query(r.pick(['COPY (SELECT id, name, made, blob FROM fz_items WHERE id <= 30 ORDER BY id) TO STDOUT', 'COPY fz_tags TO STDOUT (FORMAT csv)', 'COPY fz_items (id, price, seen) TO STDOUT (FORMAT binary)'])));
    } else if (shape === 4) {
      this.push(m.query(`COPY fz_log (id, note) FROM STDIN`), m.copyData(`${this.ctx.uid + 4}\tcopied\n${this.ctx.uid + 5}\t\\N\n`), m.copyDone());
      this.push(m.query(`SELECT count(*) FROM fz_log WHERE id BETWEEN ${this.ctx.uid} AND ${this.ctx.uid + 7}`));
    } else {
      // COPY inside a transaction, then a read of what was copied
      this.push(m.query('BEGIN'), m.query('COPY fz_tmp FROM STDIN'), ...rows(), m.copyDone(), m.query('SELECT count(*) FROM fz_tmp'), m.query(r.pick(['COMMIT', 'ROLLBACK'])));
    }
    if (r.chance(0.5)) this.simple(1);
  }

  /** A long chain of terms (libpg-query's parser recursion; issue 9). */
  deep(): void {
    const r = this.rng;
    const n = r.pick([50, 300, 1000, 3000]);
    const sql = `SELECT count(*) FROM fz_items WHERE id > ${Array(n).fill('1').join('+')}`;
    this.push(r.chance(0.5) ? m.query(sql) : m.parse('', sql));
    if (this.steps[this.steps.length - 1]!.bytes[0] === 0x50) this.push(m.bind({ portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }), m.execute('', 0), m.sync());
    this.push(m.query('SELECT count(*) FROM fz_items'));
  }
}

function typeName(oid: number): string {
  switch (oid) {
    case 23:
      return 'int';
    case 25:
      return 'text';
    case 16:
      return 'bool';
    case 17:
      return 'bytea';
    case 1082:
      return 'date';
    case 1700:
      return 'numeric';
    default:
      return 'text';
  }
}

function startupCase(rng: Rng, ctx: FuzzContext): { label: string; bytes: Buffer } {
  const params = { user: ctx.user, database: ctx.database };
  switch (rng.int(7)) {
    case 0:
      return { label: 'StartupMessage with length 7', bytes: m.startupPacket(params, 196608, 7) };
    case 1:
      return { label: 'StartupMessage with length 20000', bytes: m.startupPacket(params, 196608, 20000) };
    case 2:
      return { label: 'StartupMessage protocol 2.0', bytes: m.startupPacket(params, 2 << 16) };
    case 3:
    {
      const b = Buffer.from(m.startupPacket(params).subarray(0, -1));
      b.writeInt32BE(b.length, 0);
      return { label: 'StartupMessage without the final terminator', bytes: b };
    }
    case 4:
      return { label: 'StartupMessage for a database that does not exist', bytes: m.startupPacket({ user: ctx.user, database: 'fz_no_such_db' }) };
    case 5:
      return { label: 'StartupMessage without a user', bytes: m.startupPacket({ database: ctx.database }) };
    default: {
      const b = rng.bytes(rng.range(1, 40));
      return { label: `random bytes instead of a startup packet: ${m.hex(b)}`, bytes: b };
    }
  }
}

export type { ParamSpec };
