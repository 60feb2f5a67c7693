// The apply loop (src/mirror/apply.ts) against an in-memory Destination: the loop is pure stream logic
// (pgoutput in, batches and status updates out), so a recording destination shows exactly what it hands
// over and what it tells the slot. What users run (the DuckDB + lake destination) is covered by the
// mirror integration tests against a real PostgreSQL.
import { describe, expect, it } from 'vitest';
import { ApplyLoop, type ApplyHost, type StreamLike } from '../../src/mirror/apply.js';
import type { ColumnDef, TableDef } from '../../src/mirror/catalog.js';
import type { Accepted, Batch, Destination, RowChange } from '../../src/mirror/destination.js';
import { TableRegistry } from '../../src/mirror/lifecycle.js';
import type { Lsn } from '../../src/mirror/lsn.js';

// ---- pgoutput / replication message encoding (formats: protocol-logicalrep-message-formats.html) ----

function msg(parts: Array<[string, number | bigint | string | Buffer]>): Buffer {
  const out: Buffer[] = [];
  for (const [kind, v] of parts) {
    if (kind === 'c') out.push(Buffer.from(v as string, 'latin1'));
    else if (kind === 'u8') out.push(Buffer.from([v as number]));
    else if (kind === 'i16') {
      const b = Buffer.alloc(2);
      b.writeInt16BE(v as number);
      out.push(b);
    } else if (kind === 'i32') {
      const b = Buffer.alloc(4);
      b.writeInt32BE(v as number);
      out.push(b);
    } else if (kind === 'u64') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(v as bigint);
      out.push(b);
    } else if (kind === 's') out.push(Buffer.from(`${v as string}\0`));
    else out.push(v as Buffer);
  }
  return Buffer.concat(out);
}
/** XLogData ('w') carrying one pgoutput message */
const xlog = (walEnd: Lsn, payload: Buffer) => msg([['c', 'w'], ['u64', walEnd], ['u64', walEnd], ['u64', 0n], ['raw', payload]]);
const keepalive = (walEnd: Lsn, reply: boolean) => msg([['c', 'k'], ['u64', walEnd], ['u64', 0n], ['u8', reply ? 1 : 0]]);
const begin = (finalLsn: Lsn) => msg([['c', 'B'], ['u64', finalLsn], ['u64', 1_000_000n], ['i32', 1]]);
const commit = (commitLsn: Lsn, endLsn: Lsn) => msg([['c', 'C'], ['u8', 0], ['u64', commitLsn], ['u64', endLsn], ['u64', 1_000_000n]]);
const RELID = 16384;
const relation = () =>
  msg([['c', 'R'], ['i32', RELID], ['s', 'public'], ['s', 'items'], ['c', 'd'], ['i16', 1], ['u8', 1], ['s', 'id'], ['i32', 23], ['i32', -1]]);
const insert = (id: number) => {
  const v = Buffer.from(String(id));
  return msg([['c', 'I'], ['i32', RELID], ['c', 'N'], ['i16', 1], ['c', 't'], ['i32', v.length], ['raw', v]]);
};

/** One transaction committing at `commitLsn` with `rows` inserts, as the stream carries it. */
function tx(commitLsn: Lsn, rows: number): { msgs: Buffer[]; endLsn: Lsn } {
  const endLsn = commitLsn + 0x10n;
  const msgs = [xlog(commitLsn, begin(commitLsn))];
  for (let i = 0; i < rows; i++) msgs.push(xlog(commitLsn, insert(Number(commitLsn) * 100 + i)));
  msgs.push(xlog(endLsn, commit(commitLsn, endLsn)));
  return { msgs, endLsn };
}

// ---- the in-memory destination ---------------------------------------------------------------------

class MemoryDestination implements Destination {
  staged: Array<{ table: string; commitLsn: Lsn; change: RowChange }> = [];
  batches: Array<{ batch: Batch; changes: Array<{ table: string; commitLsn: Lsn; change: RowChange }> }> = [];
  accepted: Lsn = 0n;
  durable: Lsn;
  durableCalls: Lsn[] = [];
  /** when set, makeDurable() makes durable only up to this (a destination lagging behind) */
  durableCap: Lsn | null = null;
  constructor(start: Lsn) {
    this.durable = start;
  }
  stage(table: string, commitLsn: Lsn, change: RowChange): void {
    this.staged.push({ table, commitLsn, change });
  }
  discard(table?: string): void {
    this.staged = table === undefined ? [] : this.staged.filter((s) => s.table !== table);
  }
  async applyBatch(batch: Batch): Promise<Accepted> {
    await Promise.resolve();
    const changes = this.staged;
    this.staged = [];
    this.batches.push({ batch: { ...batch, commits: [...batch.commits] }, changes });
    this.accepted = batch.endLsn;
    return { tables: [{ table: 'public.items', rows: changes.length }], undurableRows: 0 };
  }
  async makeDurable(upTo: Lsn): Promise<Lsn> {
    await Promise.resolve();
    this.durableCalls.push(upTo);
    this.durable = this.durableCap !== null && this.durableCap < upTo ? this.durableCap : upTo;
    return this.durable;
  }
  durableLsn(): Lsn {
    return this.durable;
  }
}

class RecordingStream implements StreamLike {
  /** the flush position of each Standby Status Update sent */
  confirmed: Lsn[] = [];
  pause(): void {}
  resume(): void {}
  send(b: Buffer): void {
    expect(b.toString('latin1', 0, 1)).toBe('r');
    const written = b.readBigUInt64BE(1);
    const flushed = b.readBigUInt64BE(9);
    const applied = b.readBigUInt64BE(17);
    // the three positions are the same: what is durable
    expect([written, applied]).toEqual([flushed, flushed]);
    this.confirmed.push(flushed);
  }
}

function setup(opts: { start: Lsn; batchMaxRows?: number; batchMaxMs?: number }) {
  const def = {
    relid: RELID,
    schema: 'public',
    name: 'items',
    columns: [{ name: 'id', typeOid: 23, typmod: -1 } as unknown as ColumnDef],
    key: ['id'],
    partitionBy: null,
  } satisfies TableDef;
  const tables = new TableRegistry([['public.items', { def, state: 'ready', validFrom: 0n, lastAppliedAt: null, served: true }]]);
  tables.byRelid.set(RELID, 'public.items');
  const dest = new MemoryDestination(opts.start);
  const applied: Lsn[] = [];
  const failures: Error[] = [];
  const host: ApplyHost = {
    stopped: () => false,
    failed: () => failures.length > 0,
    fail: (e) => failures.push(e),
    applied: (lsn) => applied.push(lsn),
    resync: async () => undefined,
    maintenance: async () => undefined,
  };
  const loop = new ApplyLoop(
    dest,
    tables,
    // durability only when asked: the test decides when makeDurable runs
    { batchMaxRows: opts.batchMaxRows ?? 1_000_000, batchMaxMs: opts.batchMaxMs ?? 3_600_000, durableIntervalMs: 3_600_000, publicationName: 'duckgate_pub' },
    host,
  );
  const stream = new RecordingStream();
  loop.attach(stream, opts.start);
  /** queues the messages together (as one read from the socket) and waits until the loop is idle */
  const feed = async (msgs: Buffer[]) => {
    for (const m of msgs) loop.onPayload(m);
    for (let i = 0; i < 20; i++) {
      await loop.idle();
      await new Promise((r) => setImmediate(r));
    }
    expect(failures).toEqual([]);
  };
  return { loop, dest, stream, applied, feed };
}

describe('apply loop (in-memory destination)', () => {
  it('tells the slot only what makeDurable returned, never an accepted-only position', async () => {
    const start = 0x1000n;
    const { loop, dest, stream, applied, feed } = setup({ start });
    const t1 = tx(0x2000n, 2);
    await feed([xlog(0x1000n, relation()), ...t1.msgs]);
    // accepted: visible and reported as applied, but not durable
    expect(dest.batches).toHaveLength(1);
    expect(loop.applied).toBe(t1.endLsn);
    expect(applied).toEqual([t1.endLsn]);
    expect(dest.durableCalls).toEqual([]);
    // the server asks for a reply: the status carries the durable position, not the applied one
    await feed([keepalive(t1.endLsn, true)]);
    expect(stream.confirmed.length).toBeGreaterThan(0);
    expect(stream.confirmed.every((l) => l === start)).toBe(true);
    expect(loop.confirmed).toBe(start);

    // durable: the confirmed position moves to what the destination made durable
    await loop.makeDurable();
    expect(dest.durableCalls).toEqual([t1.endLsn]);
    expect(loop.confirmed).toBe(t1.endLsn);
    expect(stream.confirmed.at(-1)).toBe(t1.endLsn);

    // a destination durable only part of the way: the slot hears that part, not the applied position
    const t2 = tx(0x3000n, 1);
    await feed(t2.msgs);
    expect(loop.applied).toBe(t2.endLsn);
    dest.durableCap = 0x2800n;
    await loop.makeDurable();
    expect(loop.confirmed).toBe(0x2800n);
    expect(stream.confirmed.at(-1)).toBe(0x2800n);
    expect(stream.confirmed.every((l) => l <= dest.durable)).toBe(true);
  });

  // every change of a batch belongs to a transaction the batch commits, and the batch holds all of that
  // transaction's rows; every transaction is in exactly one batch
  function expectWholeTransactions(dest: MemoryDestination, txs: Array<{ msgs: Buffer[]; endLsn: Lsn; commitLsn: Lsn }>): void {
    const commitOf = new Map(txs.map((t) => [t.endLsn, t.commitLsn]));
    const seen = new Set<Lsn>();
    for (const { batch, changes } of dest.batches) {
      const commits = new Set(batch.commits.map((c) => commitOf.get(c.endLsn)!));
      expect(batch.endLsn).toBe(batch.commits.at(-1)!.endLsn);
      for (const c of changes) expect(commits.has(c.commitLsn)).toBe(true);
      for (const t of txs) {
        if (!commits.has(t.commitLsn)) continue;
        expect(changes.filter((c) => c.commitLsn === t.commitLsn)).toHaveLength(t.msgs.length - 2);
        expect(seen.has(t.commitLsn)).toBe(false);
        seen.add(t.commitLsn);
      }
    }
    expect(seen.size).toBe(txs.length);
  }
  const txAt = (commitLsn: Lsn, rows: number) => ({ ...tx(commitLsn, rows), commitLsn });

  for (const [label, limits] of [
    // a batch closes after every commit (2 rows < a transaction's 3): batches of one transaction each
    ['small batches', { batchMaxRows: 2, batchMaxMs: 0 }],
    // batches grow until the queue drains: the queue drains with a transaction half received
    ['large batches', { batchMaxRows: 1_000_000, batchMaxMs: 3_600_000 }],
  ] as const) {
    it(`never splits a transaction across batches (${label})`, async () => {
      const { loop, dest, feed } = setup({ start: 0x1000n, ...limits });
      const txs = [txAt(0x2000n, 3), txAt(0x3000n, 1), txAt(0x4000n, 3), txAt(0x5000n, 5)];
      // the last transaction arrives in two parts: the loop goes idle with its first half staged
      const last = txs[3]!.msgs;
      await feed([xlog(0x1000n, relation()), ...txs[0]!.msgs, ...txs[1]!.msgs, ...txs[2]!.msgs, ...last.slice(0, 3)]);
      const before = dest.batches.length;
      // with half a transaction staged, an explicit apply (as stop() does) hands nothing over
      await loop.applyPending();
      expect(dest.batches.length).toBe(before);
      expect(dest.staged.length).toBeGreaterThan(0);
      await feed(last.slice(3));
      expect(loop.applied).toBe(txs[3]!.endLsn);
      expectWholeTransactions(dest, txs);
      if (label === 'small batches') expect(dest.batches.length).toBeGreaterThan(1);
      else expect(dest.batches.length).toBe(before + 1);
    });
  }

  it('skips transactions below the applied position (a resent stream after a reconnect)', async () => {
    const { loop, dest, feed } = setup({ start: 0x3000n });
    await feed([xlog(0x1000n, relation()), ...tx(0x2000n, 2).msgs, ...tx(0x4000n, 1).msgs]);
    expect(dest.batches.flatMap((b) => b.changes.map((c) => c.commitLsn))).toEqual([0x4000n]);
    expect(loop.applied).toBe(0x4010n);
  });
});

describe('apply loop: which tables are current (the per-table freshness fence)', () => {
  it('while a batch changing one table is still being applied, other tables are current up to the decoded position; that table only once applied', async () => {
    const start = 0x1000n;
    const { loop, dest, feed } = setup({ start });
    await feed([xlog(0x1000n, relation())]);
    // the destination holds the batch until released: the transaction is decoded, staged, not applied
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const apply = dest.applyBatch.bind(dest);
    dest.applyBatch = async (b) => {
      await gate;
      return apply(b);
    };
    const t1 = tx(0x2000n, 3);
    const after = t1.endLsn + 0x100n;
    for (const m of [...t1.msgs, keepalive(after, false)]) loop.onPayload(m);
    for (let i = 0; i < 10 && loop.decodedEnd < after; i++) await new Promise((r) => setImmediate(r));
    expect(loop.decodedEnd).toBe(after);
    expect(loop.applied).toBe(start);
    // a read of another table need not wait for the batch; a read of items must, at or past its commit
    expect(loop.currentFor(['public.other'], after)).toBe(true);
    expect(loop.currentFor(['public.items'], after)).toBe(false);
    expect(loop.currentFor(['public.items'], t1.endLsn)).toBe(false);
    expect(loop.currentFor(['public.items'], 0x2000n)).toBe(true); // began before the commit ended
    // nothing is known past what was decoded
    expect(loop.currentFor(['public.other'], after + 1n)).toBe(false);
    release();
    for (let i = 0; i < 20; i++) {
      await loop.idle();
      await new Promise((r) => setImmediate(r));
    }
    expect(loop.applied).toBe(t1.endLsn);
    expect(loop.currentFor(['public.items'], after)).toBe(true);
  });

  it('a transaction still being decoded whose commit may come before the position holds every table', async () => {
    const start = 0x1000n;
    const { loop, feed } = setup({ start });
    await feed([xlog(0x1000n, relation()), keepalive(0x1800n, false)]);
    expect(loop.currentFor(['public.other'], 0x1800n)).toBe(true);
    // BEGIN of a transaction whose commit record is at 0x1900: its tables are not known until COMMIT
    loop.onPayload(xlog(0x1900n, begin(0x1900n)));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(loop.currentFor(['public.other'], 0x1800n)).toBe(true);
    expect(loop.currentFor(['public.other'], 0x2000n)).toBe(false);
  });
});
