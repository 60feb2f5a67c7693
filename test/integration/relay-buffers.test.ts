// The relay reads upstream replies into one reused buffer per session. When the client is slow, a write
// to it does not complete at once and the client socket keeps a view of that buffer: the next read must
// then go into a fresh one, or queued bytes would be overwritten. A client that stops reading while a
// large result streams, then reads it all, must get every row intact and in order.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDataRow } from '../../src/protocol/backend-scan.js';
import { startTestDuckgate, type TestDuckgate } from '../support/duckgate.js';
import { createTestDatabase } from '../support/servers.js';
import { serialize, WireClient } from '../support/wire-client.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;

beforeAll(async () => {
  db = await createTestDatabase('relay_buffers');
  dg = await startTestDuckgate(db.url);
});

afterAll(async () => {
  await dg?.close();
  await db?.drop();
});

const ROWS = 300_000; // about 17 MB of DataRows: more than the loopback socket buffers hold

/** Columns of a DataRow body, as text. */
function columns(body: Buffer): string[] {
  return decodeDataRow(body).map((v) => v?.toString('utf8') ?? '');
}

describe('relay read buffer', () => {
  it('a client that pauses while a large result streams gets every row intact and in order', async () => {
    const c = await WireClient.connect(dg.host, dg.port, { user: 'postgres', database: db.name });
    try {
      c.socket.pause();
      c.send(serialize.query(`SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`));
      // Let duckgate's writes to the client back up, then drain them in small steps: writes that
      // complete only in part (some below the socket's high-water mark, so reading goes on) are the
      // case where a reused read buffer would be overwritten under a pending write.
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 300; i++) {
        c.socket.resume();
        await new Promise((r) => setImmediate(r));
        c.socket.pause();
        await new Promise((r) => setTimeout(r, 1));
      }
      c.socket.resume();
      let rows = 0;
      let bad: string | null = null;
      for (;;) {
        const m = await c.next(30_000);
        if (!m) throw new Error('connection closed before ReadyForQuery');
        if (m.type === 'D') {
          rows++;
          const [g, h] = columns(m.body);
          if (bad === null && (g !== String(rows) || h !== createHash('md5').update(String(rows)).digest('hex'))) bad = `row ${rows}: ${g} ${h}`;
        } else if (m.type === 'E') {
          throw new Error(`unexpected error: ${m.body.toString()}`);
        } else if (m.type === 'Z') {
          break;
        }
      }
      expect(bad).toBeNull();
      expect(rows).toBe(ROWS);
      // the session is still in step: a further statement answers normally
      const again = await c.roundtrip([serialize.query('SELECT 42')]);
      expect(again.filter((m) => m.type === 'D').map((m) => columns(m.body)[0])).toEqual(['42']);
    } finally {
      c.close();
    }
  }, 120_000);
});
