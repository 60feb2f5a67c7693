// The differential harness: replays a corpus of statements (simple and extended protocol) against
// PostgreSQL directly and through duckgate, and compares every backend message byte for byte.
// Excepted: BackendKeyData (duckgate hands out its own) and the startup's ParameterStatus values, which
// are compared separately by name. Later features feed their own corpora through the same harness.
import { bind, serialize, WireClient, type Msg } from '../support/wire-client.js';

export type Step =
  | { kind: 'simple'; sql: string }
  | {
      kind: 'extended';
      sql: string;
      /** statement name ('' = unnamed) */
      name?: string;
      paramTypes?: number[];
      /** a string is sent as its UTF-8 bytes, a Buffer as it is (in the format paramFormats gives) */
      params?: Array<string | Buffer | null>;
      /** parameter format codes as in Bind: [] all text, [1] all binary, or one per parameter */
      paramFormats?: number[];
      /** result format codes: [] all text, [1] all binary, or one per column */
      resultFormats?: number[];
      /** Execute row limit; the portal is executed until complete */
      maxRows?: number;
      /** Describe the statement ('S', with ParameterDescription) or the portal ('P'); default 'P' */
      describe?: 'S' | 'P';
      /** send Parse+Describe+Flush first, like postgres.js, then Bind/Execute/Sync */
      flushFirst?: boolean;
    }
  /** several extended executions pipelined before one Sync */
  | { kind: 'pipeline'; sqls: string[] }
  /** COPY FROM STDIN with the given data chunks */
  | { kind: 'copy-in'; sql: string; chunks: string[]; fail?: string };

export interface Case {
  name: string;
  steps: Step[];
}

export interface Recorded {
  /** one entry per step: the messages it produced, rendered comparably */
  steps: string[][];
}

export function render(m: Msg): string {
  return `${m.type} ${m.body.toString('hex')}`;
}

async function runStep(c: WireClient, s: Step): Promise<Msg[]> {
  switch (s.kind) {
    case 'simple':
      return c.roundtrip([serialize.query(s.sql)]);
    case 'extended': {
      const name = s.name ?? '';
      const msgs: Buffer[] = [];
      if (s.flushFirst) {
        const pre = await (async () => {
          c.send(serialize.parse({ name, text: s.sql, types: s.paramTypes ?? [] }), serialize.describe({ type: 'S', name }), serialize.flush());
          return c.readUntil((m) => m.type === 'T' || m.type === 'n' || m.type === 'E');
        })();
        if (pre.some((m) => m.type === 'E')) return [...pre, ...(await c.roundtrip([serialize.sync()]))];
        msgs.push(bind({ statement: name, params: s.params ?? [], paramFormats: s.paramFormats ?? [], resultFormats: s.resultFormats ?? [] }));
        msgs.push(serialize.execute({ rows: s.maxRows ?? 0 }), serialize.sync());
        return [...pre, ...(await c.roundtrip(msgs))];
      }
      msgs.push(serialize.parse({ name, text: s.sql, types: s.paramTypes ?? [] }));
      if (s.describe === 'S') msgs.push(serialize.describe({ type: 'S', name }));
      msgs.push(bind({ statement: name, params: s.params ?? [], paramFormats: s.paramFormats ?? [], resultFormats: s.resultFormats ?? [] }));
      if (s.describe !== 'S') msgs.push(serialize.describe({ type: 'P', name: '' }));
      msgs.push(serialize.execute({ rows: s.maxRows ?? 0 }));
      if (!s.maxRows) {
        msgs.push(serialize.sync());
        return c.roundtrip(msgs);
      }
      // Row-limited: keep executing while the portal is suspended, then Sync.
      msgs.push(serialize.flush());
      c.send(...msgs);
      const out: Msg[] = [];
      for (;;) {
        const part = await c.readUntil((m) => m.type === 's' || m.type === 'C' || m.type === 'E' || m.type === 'I');
        out.push(...part);
        const last = part[part.length - 1];
        if (!last || last.type !== 's') break;
        c.send(serialize.execute({ rows: s.maxRows }), serialize.flush());
      }
      out.push(...(await c.roundtrip([serialize.sync()])));
      return out;
    }
    case 'pipeline': {
      const msgs: Buffer[] = [];
      for (const sql of s.sqls) {
        msgs.push(serialize.parse({ text: sql }), bind({}), serialize.describe({ type: 'P' }), serialize.execute({}));
      }
      msgs.push(serialize.sync());
      return c.roundtrip(msgs);
    }
    case 'copy-in': {
      c.send(serialize.query(s.sql));
      const head = await c.readUntil((m) => m.type === 'G' || m.type === 'Z');
      if (head[head.length - 1]?.type === 'Z') return head;
      for (const ch of s.chunks) c.send(serialize.copyData(Buffer.from(ch)));
      c.send(s.fail ? serialize.copyFail(s.fail) : serialize.copyDone());
      return [...head, ...(await c.readUntil((m) => m.type === 'Z'))];
    }
  }
}

/** Runs the cases in order on one connection and records each step's replies. */
export async function record(c: WireClient, cases: Case[]): Promise<Map<string, string[][]>> {
  const out = new Map<string, string[][]>();
  for (const k of cases) {
    const steps: string[][] = [];
    for (const s of k.steps) steps.push((await runStep(c, s)).map(render));
    out.set(k.name, steps);
  }
  return out;
}

/** Decodes a rendered message back to readable text for failure messages. */
export function explain(rendered: string): string {
  const [type, hex] = rendered.split(' ');
  return `${type} ${Buffer.from(hex ?? '', 'hex').toString('utf8').replace(/[^\x20-\x7e]/g, '.')}`;
}
