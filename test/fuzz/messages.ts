// Frontend messages for the fuzzer, each with a readable label so a failing session prints as a list a
// person can follow (and paste into a test). Built by hand rather than with pg-protocol's serializer:
// the fuzzer needs every field under its control (any parameter count, any format code, raw text
// bytes), and a mutation needs to know where in a message each field lies.
// Formats: https://www.postgresql.org/docs/15/protocol-message-formats.html

export interface Step {
  /** what the message is, e.g. Parse("s1", "SELECT $1::int", [23]) */
  label: string;
  /** the exact bytes sent: type byte, Int32 length (counting itself), body */
  bytes: Buffer;
}

const cstr = (s: string | Buffer): Buffer => Buffer.concat([typeof s === 'string' ? Buffer.from(s, 'utf8') : s, Buffer.from([0])]);
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
};
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A typed message: type byte + Int32 length + body. */
export function frame(type: string | number, body: Buffer, lengthOverride?: number): Buffer {
  const head = Buffer.alloc(5);
  head[0] = typeof type === 'string' ? type.charCodeAt(0) : type;
  head.writeInt32BE(lengthOverride ?? body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** Quotes a string for a label (JSON escaping shows control characters and stays on one line). */
export function q(s: string): string {
  return JSON.stringify(s.length > 160 ? `${s.slice(0, 160)}…(${s.length} chars)` : s);
}

export function hex(b: Buffer, max = 96): string {
  const h = b.subarray(0, max).toString('hex').replace(/(..)/g, '$1 ').trim();
  return b.length > max ? `${h} …(${b.length} bytes)` : h;
}

export function query(sql: string | Buffer): Step {
  const label = typeof sql === 'string' ? `Query(${q(sql)})` : `Query(bytes ${hex(sql)})`;
  return { label, bytes: frame('Q', cstr(sql)) };
}

export function parse(name: string, sql: string | Buffer, types: number[] = []): Step {
  const text = typeof sql === 'string' ? q(sql) : `bytes ${hex(sql)}`;
  return {
    label: `Parse(${q(name)}, ${text}, [${types.join(', ')}])`,
    bytes: frame('P', Buffer.concat([cstr(name), cstr(sql), i16(types.length), ...types.map(u32)])),
  };
}

export interface BindSpec {
  portal: string;
  statement: string;
  paramFormats: number[];
  params: Array<Buffer | null>;
  resultFormats: number[];
  /** shown instead of the raw parameter bytes */
  paramLabels?: string[];
  /** the parameter count as sent (default params.length): a wrong count is a fuzz case */
  countOverride?: number;
}

export function bind(b: BindSpec): Step {
  const params: Buffer[] = [];
  for (const p of b.params) params.push(p === null ? i32(-1) : Buffer.concat([i32(p.length), p]));
  const shown = b.paramLabels ?? b.params.map((p) => (p === null ? 'NULL' : `0x${p.toString('hex')}`));
  const count = b.countOverride ?? b.params.length;
  return {
    label: `Bind(portal ${q(b.portal)}, stmt ${q(b.statement)}, paramFormats [${b.paramFormats.join(',')}], params${count !== b.params.length ? ` (count sent: ${count})` : ''} [${shown.join(', ')}], resultFormats [${b.resultFormats.join(',')}])`,
    bytes: frame(
      'B',
      Buffer.concat([cstr(b.portal), cstr(b.statement), i16(b.paramFormats.length), ...b.paramFormats.map(i16), i16(count), ...params, i16(b.resultFormats.length), ...b.resultFormats.map(i16)]),
    ),
  };
}

export function describe(target: 'S' | 'P', name: string): Step {
  return { label: `Describe(${target}, ${q(name)})`, bytes: frame('D', Buffer.concat([Buffer.from(target), cstr(name)])) };
}

export function execute(portal: string, maxRows: number): Step {
  return { label: `Execute(${q(portal)}, maxRows ${maxRows})`, bytes: frame('E', Buffer.concat([cstr(portal), i32(maxRows)])) };
}

export function close(target: 'S' | 'P', name: string): Step {
  return { label: `Close(${target}, ${q(name)})`, bytes: frame('C', Buffer.concat([Buffer.from(target), cstr(name)])) };
}

export function sync(): Step {
  return { label: 'Sync', bytes: frame('S', Buffer.alloc(0)) };
}

export function flush(): Step {
  return { label: 'Flush', bytes: frame('H', Buffer.alloc(0)) };
}

export function copyData(data: string | Buffer): Step {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  return { label: `CopyData(${typeof data === 'string' ? q(data) : hex(b)})`, bytes: frame('d', b) };
}

export function copyDone(): Step {
  return { label: 'CopyDone', bytes: frame('c', Buffer.alloc(0)) };
}

export function copyFail(reason: string): Step {
  return { label: `CopyFail(${q(reason)})`, bytes: frame('f', cstr(reason)) };
}

export function terminate(): Step {
  return { label: 'Terminate', bytes: frame('X', Buffer.alloc(0)) };
}

/** Arbitrary bytes, labelled by what they are meant to be. */
export function raw(label: string, bytes: Buffer): Step {
  return { label: `${label}: ${hex(bytes)}`, bytes };
}

/** A StartupMessage (protocol 3.0 unless told otherwise). */
export function startupPacket(params: Record<string, string>, version = 196608, lengthOverride?: number): Buffer {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]);
  return Buffer.concat([i32(lengthOverride ?? body.length + 8), i32(version), body]);
}

// Parameter values in the binary format (https://www.postgresql.org/docs/15/protocol-overview.html,
// the type's send function: int4send, boolsend, date_send, byteasend, textsend).
export const binary = {
  int4: (n: number): Buffer => i32(n),
  int8: (n: bigint): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    return b;
  },
  bool: (v: boolean): Buffer => Buffer.from([v ? 1 : 0]),
  /** days since 2000-01-01 */
  date: (iso: string): Buffer => i32(Math.round((Date.parse(`${iso}T00:00:00Z`) - Date.parse('2000-01-01T00:00:00Z')) / 86_400_000)),
  text: (s: string): Buffer => Buffer.from(s, 'utf8'),
};
