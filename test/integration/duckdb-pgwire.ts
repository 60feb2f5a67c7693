// A minimal raw PostgreSQL wire client for the DuckDB engine's oracle tests: it returns each column's
// bytes exactly as the server sent them (node-postgres decodes binary columns as UTF-8 text, which
// loses bytes). Trust authentication only (the suite's PostgreSQL trusts loopback).
import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import { decodeDataRow, decodeRowDescription } from '../../src/protocol/backend-scan.js';

export interface RawField {
  name: string;
  typeOid: number;
  typmod: number;
}
export interface RawResult {
  fields: RawField[];
  rows: Array<Array<Buffer | null>>;
}

export class RawPg {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(url: string): Promise<RawPg> {
    const u = new URL(url);
    const sock = connect(Number(u.port || 5432), u.hostname);
    await new Promise<void>((res, rej) => {
      sock.once('connect', res);
      sock.once('error', rej);
    });
    const c = new RawPg(sock);
    sock.write(serialize.startup({ user: decodeURIComponent(u.username || 'postgres'), database: u.pathname.slice(1) || 'postgres' }));
    await c.readUntilReady();
    return c;
  }

  private async next(): Promise<{ type: string; body: Buffer }> {
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length >= len + 1) {
          const type = String.fromCharCode(this.buf[0]!);
          const body = this.buf.subarray(5, len + 1);
          this.buf = this.buf.subarray(len + 1);
          return { type, body };
        }
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private async readUntilReady(): Promise<RawResult> {
    const res: RawResult = { fields: [], rows: [] };
    let error: string | null = null;
    for (;;) {
      const { type, body } = await this.next();
      if (type === 'T') {
        for (const f of decodeRowDescription(body)) res.fields.push({ name: f.name, typeOid: f.typeOid, typmod: f.typmod });
      } else if (type === 'D') {
        res.rows.push(decodeDataRow(body).map((v) => (v === null ? null : Buffer.from(v))));
      } else if (type === 'E') {
        error = body.toString('utf8').split('\0').find((f) => f.startsWith('M'))?.slice(1) ?? 'error';
      } else if (type === 'Z') {
        if (error !== null) throw new Error(error);
        return res;
      }
    }
  }

  /** Simple query (text results). */
  async simple(sql: string): Promise<RawResult> {
    this.sock.write(serialize.query(sql));
    return this.readUntilReady();
  }

  /** Extended protocol with every result column in `format` (0 text, 1 binary). */
  async query(sql: string, format: 0 | 1, params: Array<string | null> = []): Promise<RawResult> {
    this.sock.write(
      Buffer.concat([
        serialize.parse({ text: sql }),
        serialize.bind({ values: params, valueMapper: (v: unknown) => v, binary: format === 1 } as Parameters<typeof serialize.bind>[0]),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    return this.readUntilReady();
  }

  async end(): Promise<void> {
    this.sock.end(serialize.end());
  }
}
