// duckgate as a transparent proxy: the passthrough corpus through duckgate must produce exactly the
// backend messages PostgreSQL sends directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/demo/index.js';
import { explain, record } from '../differential/harness.js';
import { passthroughCorpus } from '../differential/corpus-passthrough.js';
import { createTestDatabase } from '../support/servers.js';
import { startTestDuckgate, type TestDuckgate } from '../support/duckgate.js';
import { WireClient } from '../support/wire-client.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dg: TestDuckgate;

beforeAll(async () => {
  db = await createTestDatabase('diffpass');
  await loadDemo(db.url, { rows: 400 });
  dg = await startTestDuckgate(db.url);
});

afterAll(async () => {
  await dg?.close();
  await db?.drop();
});

function endpoints() {
  const u = new URL(db.url);
  return { direct: { host: u.hostname, port: Number(u.port) }, proxy: { host: dg.host, port: dg.port }, params: { user: 'postgres', database: db.name } };
}

describe('differential: passthrough corpus', () => {
  it('startup: same ParameterStatus names and values, own BackendKeyData', async () => {
    const e = endpoints();
    const a = await WireClient.connect(e.direct.host, e.direct.port, e.params);
    const b = await WireClient.connect(e.proxy.host, e.proxy.port, e.params);
    try {
      const params = (msgs: typeof a.startup) => msgs.filter((m) => m.type === 'S').map((m) => m.body.toString('utf8'));
      expect(params(b.startup)).toEqual(params(a.startup));
      expect(b.startup.map((m) => m.type)).toEqual(a.startup.map((m) => m.type));
      const key = (msgs: typeof a.startup) => msgs.find((m) => m.type === 'K')!.body;
      expect(key(b.startup).length).toBe(8);
      // duckgate hands out its own key, not the upstream's
      expect(key(b.startup).equals(key(a.startup))).toBe(false);
    } finally {
      a.close();
      b.close();
    }
  });

  it(`replays ${passthroughCorpus.length} cases with identical backend messages`, async () => {
    const e = endpoints();
    const a = await WireClient.connect(e.direct.host, e.direct.port, e.params);
    const b = await WireClient.connect(e.proxy.host, e.proxy.port, e.params);
    try {
      const direct = await record(a, passthroughCorpus);
      const proxied = await record(b, passthroughCorpus);
      for (const c of passthroughCorpus) {
        const want = direct.get(c.name)!;
        const got = proxied.get(c.name)!;
        expect(want.flat().length, `${c.name}: direct run produced messages`).toBeGreaterThan(0);
        expect(got.map((s) => s.map(explain)), c.name).toEqual(want.map((s) => s.map(explain)));
        expect(got, c.name).toEqual(want);
      }
    } finally {
      a.close();
      b.close();
    }
  });
});
