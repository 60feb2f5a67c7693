// A raw protocol-3 client for tests: sends exactly the bytes a test asks for and records every backend
// message as it came (type + body bytes), so two servers' replies can be compared byte for byte.
import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';

export interface Msg {
  type: string;
  body: Buffer;
}

export class WireClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed = false;
  readonly startup: Msg[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async open(host: string, port: number): Promise<WireClient> {
    const sock = connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    sock.setNoDelay(true);
    return new WireClient(sock);
  }

  /** Opens a connection and completes a trust-auth startup; the startup replies are kept in `startup`. */
  static async connect(host: string, port: number, params: Record<string, string>): Promise<WireClient> {
    const c = await WireClient.open(host, port);
    c.send(serialize.startup(params));
    c.startup.push(...(await c.readUntil((m) => m.type === 'Z' || (m.type === 'E' && c.fatal(m)))));
    return c;
  }

  private fatal(m: Msg): boolean {
    return errorFields(m).V === 'FATAL';
  }

  send(...bufs: Buffer[]): void {
    this.socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
  }

  /** Next complete message, or null once the connection closed with nothing left. */
  async next(timeoutMs = 10_000): Promise<Msg | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length >= len + 1) {
          const m = { type: String.fromCharCode(this.buf[0]!), body: Buffer.from(this.buf.subarray(5, len + 1)) };
          this.buf = this.buf.subarray(len + 1);
          return m;
        }
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Messages up to and including the first that matches (or until the connection closes). */
  async readUntil(stop: (m: Msg) => boolean, timeoutMs = 10_000): Promise<Msg[]> {
    const out: Msg[] = [];
    for (;;) {
      const m = await this.next(timeoutMs);
      if (!m) return out;
      out.push(m);
      if (stop(m)) return out;
    }
  }

  /** Sends messages and reads replies through the n-th ReadyForQuery. */
  async roundtrip(msgs: Buffer[], readyCount = 1): Promise<Msg[]> {
    this.send(...msgs);
    const out: Msg[] = [];
    let seen = 0;
    while (seen < readyCount) {
      const part = await this.readUntil((m) => m.type === 'Z');
      if (part.length === 0) break;
      out.push(...part);
      if (part[part.length - 1]!.type === 'Z') seen++;
      else break;
    }
    return out;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    if (!this.closed) this.socket.end(serialize.end());
    this.socket.destroySoon();
  }
}

export function errorFields(m: Msg): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < m.body.length && m.body[pos] !== 0) {
    const end = m.body.indexOf(0, pos + 1);
    out[String.fromCharCode(m.body[pos]!)] = m.body.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return out;
}

/** A Bind with per-column result format codes (pg-protocol's serializer only does all-text or all-binary). */
export function bind(opts: { portal?: string; statement?: string; params?: Array<string | Buffer | null>; paramFormats?: number[]; resultFormats?: number[] }): Buffer {
  const parts: Buffer[] = [];
  const cstr = (s: string) => Buffer.from(s + '\0');
  const i16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  const i32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  parts.push(cstr(opts.portal ?? ''), cstr(opts.statement ?? ''));
  const pf = opts.paramFormats ?? [];
  parts.push(i16(pf.length), ...pf.map(i16));
  const params = opts.params ?? [];
  parts.push(i16(params.length));
  for (const p of params) {
    if (p === null) parts.push(i32(-1));
    else {
      const b = typeof p === 'string' ? Buffer.from(p) : p;
      parts.push(i32(b.length), b);
    }
  }
  const rf = opts.resultFormats ?? [];
  parts.push(i16(rf.length), ...rf.map(i16));
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head[0] = 'B'.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A message with an arbitrary type byte and body (for malformed-input tests). */
export function rawMessage(type: string, body: Buffer, lengthOverride?: number): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(lengthOverride ?? body.length + 4, 1);
  return Buffer.concat([head, body]);
}

export { serialize };

/**
 * Sends bytes on a new connection and returns everything received until the server closes it; rejects
 * when it has not closed within timeoutMs.
 */
export function rawExchange(host: string, port: number, bytes: Buffer, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    const s = connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connection to ${host}:${port} not closed within ${timeoutMs} ms`));
    }, timeoutMs);
    t.unref();
    s.on('error', reject);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => got.push(d));
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(got));
    });
  });
}
