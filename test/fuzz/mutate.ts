// Mutations of a valid message sequence. Each returns the new sequence and a sentence saying what
// changed; the changed message is shown as hex in its label, so a reproduction has the exact bytes.
// What Postgres does with each is the reference (postgres.c SocketBackend / pqcomm.c pq_getmessage:
// an unknown message type is FATAL 08P01; a bad length is logged and the connection closed without a
// message; malformed fields inside a message are an ERROR 08P01 and the session goes on; invalid UTF-8
// in text is 22021), but the fuzzer never assumes it: it compares with what Postgres really did.
import type { Rng } from './rng.js';
import { frame, hex, type Step } from './messages.js';

export interface Mutation {
  steps: Step[];
  description: string;
}

type Mutator = (rng: Rng, steps: Step[]) => Mutation | null;

const typeOf = (s: Step): string => String.fromCharCode(s.bytes[0]!);

/** Rebuilds a message with a new body (length recomputed), keeping its type. */
function rebody(s: Step, body: Buffer, what: string): Step {
  const bytes = frame(s.bytes[0]!, body);
  return { label: `${what} [was ${s.label}]: ${hex(bytes)}`, bytes };
}

function pickIndex(rng: Rng, steps: Step[], pred: (s: Step) => boolean): number | null {
  const idx = steps.map((s, i) => (pred(s) ? i : -1)).filter((i) => i >= 0);
  return idx.length === 0 ? null : rng.pick(idx);
}

function replace(steps: Step[], i: number, ...with_: Step[]): Step[] {
  return [...steps.slice(0, i), ...with_, ...steps.slice(i + 1)];
}

const bitFlip: Mutator = (rng, steps) => {
  const i = rng.int(steps.length);
  const s = steps[i]!;
  const b = Buffer.from(s.bytes);
  // a third of flips hit the header (type or length), the rest the body
  const at = rng.chance(0.33) || b.length <= 5 ? rng.int(Math.min(5, b.length)) : rng.range(5, b.length - 1);
  const bit = rng.int(8);
  b[at]! ^= 1 << bit;
  return { steps: replace(steps, i, { label: `${s.label} with bit ${bit} of byte ${at} flipped: ${hex(b)}`, bytes: b }), description: `bit flip in message ${i + 1} (${typeOf(s)}) byte ${at} bit ${bit}` };
};

const badLength: Mutator = (rng, steps) => {
  // (a step may be shorter than a header: garbage, or a message an earlier mutation cut)
  const i = pickIndex(rng, steps, (x) => x.bytes.length >= 5);
  if (i === null) return null;
  const s = steps[i]!;
  const b = Buffer.from(s.bytes);
  const len = b.readInt32BE(1);
  const value = rng.weighted<number>([
    [3, Math.max(0, len - rng.range(1, 3))],
    [3, len + rng.range(1, 8)],
    [2, rng.int(4)],
    [1, 0x7fffffff],
    [1, -1],
    [1, 10_001 + rng.int(100)],
  ]);
  // (the Int32 as sent: an earlier mutation may have left a length near the top of the range)
  b.writeUInt32BE(value >>> 0, 1);
  const sent = b.readInt32BE(1);
  return { steps: replace(steps, i, { label: `${s.label} with length ${sent} (true ${len}): ${hex(b)}`, bytes: b }), description: `length of message ${i + 1} (${typeOf(s)}) set to ${sent}` };
};

const unknownType: Mutator = (rng, steps) => {
  const t = rng.pick([0x41, 0x7a, 0x21, 0x00, 0x70 /* p: a password message after startup */, 0x46 /* F: FunctionCall with garbage */, 0xff]);
  const body = rng.bytes(rng.int(12));
  const bytes = frame(t, body);
  const at = rng.int(steps.length + 1);
  return {
    steps: [...steps.slice(0, at), { label: `message of type 0x${t.toString(16)}: ${hex(bytes)}`, bytes }, ...steps.slice(at)],
    description: `message of type 0x${t.toString(16)} inserted at ${at + 1}`,
  };
};

const INVALID_UTF8 = [Buffer.from([0xc3, 0x28]), Buffer.from([0xff]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0x80])];

const invalidUtf8: Mutator = (rng, steps) => {
  const i = pickIndex(rng, steps, (s) => typeOf(s) === 'Q' || typeOf(s) === 'P' || typeOf(s) === 'B');
  if (i === null) return null;
  const s = steps[i]!;
  const body = s.bytes.subarray(5);
  const bad = rng.pick(INVALID_UTF8);
  let start: number;
  let end: number;
  if (typeOf(s) === 'Q') {
    start = 0;
    end = body.length - 1;
  } else {
    // Parse: after the statement name; Bind: in the portal name (a text field anyway)
    start = typeOf(s) === 'P' ? body.indexOf(0) + 1 : 0;
    end = body.indexOf(0, start);
  }
  if (end < start) return null;
  const at = rng.range(start, end);
  const nb = Buffer.concat([body.subarray(0, at), bad, body.subarray(at)]);
  return { steps: replace(steps, i, rebody(s, nb, `invalid UTF-8 ${bad.toString('hex')} inserted at ${at}`)), description: `invalid UTF-8 in message ${i + 1} (${typeOf(s)})` };
};

/** Field offsets of a Bind body (portal, statement, formats, parameters, result formats). */
function bindLayout(body: Buffer): { countAt: number; paramsAt: number; params: Buffer[]; lengths: number[]; tailAt: number } | null {
  try {
    let p = body.indexOf(0) + 1;
    p = body.indexOf(0, p) + 1;
    if (p <= 0) return null;
    const nf = body.readUInt16BE(p);
    p += 2 + 2 * nf;
    const countAt = p;
    const np = body.readUInt16BE(p);
    p += 2;
    const paramsAt = p;
    const params: Buffer[] = [];
    const lengths: number[] = [];
    for (let k = 0; k < np; k++) {
      const len = body.readInt32BE(p);
      const whole = body.subarray(p, p + 4 + Math.max(0, len));
      params.push(whole);
      lengths.push(len);
      p += 4 + Math.max(0, len);
    }
    if (p > body.length) return null;
    return { countAt, paramsAt, params, lengths, tailAt: p };
  } catch {
    return null;
  }
}

const wrongParamCount: Mutator = (rng, steps) => {
  const i = pickIndex(rng, steps, (s) => typeOf(s) === 'B');
  if (i === null) return null;
  const s = steps[i]!;
  const body = s.bytes.subarray(5);
  const L = bindLayout(body);
  if (!L) return null;
  const n = L.params.length;
  const how = rng.int(4);
  let nb: Buffer;
  let what: string;
  if (how === 0) {
    // one more parameter, well formed: "bind message supplies 2 parameters, but prepared statement requires 1"
    const extra = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('7')]);
    const cnt = Buffer.alloc(2);
    cnt.writeUInt16BE(n + 1);
    nb = Buffer.concat([body.subarray(0, L.countAt), cnt, body.subarray(L.paramsAt, L.tailAt), extra, body.subarray(L.tailAt)]);
    what = `Bind with an extra parameter (${n + 1})`;
  } else if (how === 1 && n > 0) {
    const cnt = Buffer.alloc(2);
    cnt.writeUInt16BE(n - 1);
    nb = Buffer.concat([body.subarray(0, L.countAt), cnt, ...L.params.slice(0, -1), body.subarray(L.tailAt)]);
    what = `Bind with one parameter fewer (${n - 1})`;
  } else if (how === 2) {
    // the count field alone changed: the rest of the message no longer fits it
    nb = Buffer.from(body);
    const v = rng.pick([n + 1, n + 2, 0xffff, 0x8000]);
    nb.writeUInt16BE(v & 0xffff, L.countAt);
    what = `Bind with parameter count field ${v} (really ${n})`;
  } else {
    // a parameter length that lies (longer or shorter than the bytes that follow), or -2
    if (n === 0) return null;
    nb = Buffer.from(body);
    let off = L.paramsAt;
    const k = rng.int(n);
    for (let j = 0; j < k; j++) off += 4 + Math.max(0, L.lengths[j]!);
    const v = rng.pick([-2, L.lengths[k]! + 3, Math.max(0, L.lengths[k]! - 1), 0x7fffffff]);
    nb.writeInt32BE(v, off);
    what = `Bind with parameter ${k + 1} length ${v} (really ${L.lengths[k]})`;
  }
  return { steps: replace(steps, i, rebody(s, nb, what)), description: `${what} at ${i + 1}` };
};

const badFormat: Mutator = (rng, steps) => {
  const i = pickIndex(rng, steps, (s) => typeOf(s) === 'B');
  if (i === null) return null;
  const s = steps[i]!;
  const body = s.bytes.subarray(5);
  const L = bindLayout(body);
  if (!L) return null;
  // result format codes: replace them with one invalid code, or too many codes
  const code = rng.pick([2, -1, 0x7fff]);
  const tail = rng.chance(0.5) ? Buffer.from([0, 1, (code >> 8) & 0xff, code & 0xff]) : Buffer.from([0, 9, ...Array(9).fill([0, 1]).flat()]);
  const nb = Buffer.concat([body.subarray(0, L.tailAt), tail]);
  return { steps: replace(steps, i, rebody(s, nb, `Bind with result format codes ${hex(tail)}`)), description: `bad result format codes in message ${i + 1}` };
};

const badSubtype: Mutator = (rng, steps) => {
  const i = pickIndex(rng, steps, (s) => typeOf(s) === 'D' || typeOf(s) === 'C');
  if (i === null) return null;
  const s = steps[i]!;
  const nb = Buffer.from(s.bytes.subarray(5));
  nb[0] = rng.pick([0x58, 0x73, 0x00]);
  return { steps: replace(steps, i, rebody(s, nb, `subtype 0x${nb[0]!.toString(16)}`)), description: `Describe/Close subtype 0x${nb[0]!.toString(16)} at ${i + 1}` };
};

const stringField: Mutator = (rng, steps) => {
  const i = pickIndex(rng, steps, (s) => s.bytes.length > 5);
  if (i === null) return null;
  const s = steps[i]!;
  const body = s.bytes.subarray(5);
  const how = rng.int(3);
  let nb: Buffer;
  let what: string;
  if (how === 0) {
    nb = body.subarray(0, body.length - 1);
    what = 'last byte removed';
  } else if (how === 1) {
    nb = Buffer.concat([body, rng.bytes(rng.range(1, 4))]);
    what = 'trailing bytes added';
  } else {
    const at = rng.int(body.length);
    nb = Buffer.concat([body.subarray(0, at), Buffer.from([0]), body.subarray(at)]);
    what = `NUL inserted at ${at}`;
  }
  return { steps: replace(steps, i, rebody(s, nb, what)), description: `${what} in message ${i + 1} (${typeOf(s)})` };
};

const reorder: Mutator = (rng, steps) => {
  if (steps.length < 2) return null;
  const how = rng.int(4);
  const i = rng.int(steps.length);
  if (how === 0) {
    const j = i === steps.length - 1 ? i - 1 : i + 1;
    const out = [...steps];
    [out[i], out[j]] = [out[j]!, out[i]!];
    return { steps: out, description: `messages ${Math.min(i, j) + 1} and ${Math.max(i, j) + 1} swapped` };
  }
  if (how === 1) return { steps: steps.filter((_, k) => k !== i), description: `message ${i + 1} (${typeOf(steps[i]!)}) dropped` };
  if (how === 2) return { steps: [...steps.slice(0, i + 1), steps[i]!, ...steps.slice(i + 1)], description: `message ${i + 1} (${typeOf(steps[i]!)}) sent twice` };
  // move a message to a random other place
  const j = rng.int(steps.length);
  const out = steps.filter((_, k) => k !== i);
  out.splice(j, 0, steps[i]!);
  return { steps: out, description: `message ${i + 1} (${typeOf(steps[i]!)}) moved to ${j + 1}` };
};

const garbage: Mutator = (rng, steps) => {
  const b = rng.bytes(rng.range(1, 40));
  const at = rng.chance(0.5) ? steps.length : rng.int(steps.length + 1);
  return { steps: [...steps.slice(0, at), { label: `garbage bytes: ${hex(b)}`, bytes: b }, ...steps.slice(at)], description: `${b.length} garbage bytes at ${at + 1}` };
};

const MUTATORS: Array<[number, Mutator]> = [
  [4, bitFlip],
  [2, badLength],
  [1, unknownType],
  [3, invalidUtf8],
  [3, wrongParamCount],
  [1, badFormat],
  [1, badSubtype],
  [2, stringField],
  [3, reorder],
  [1, garbage],
];

/** Applies one mutation (retrying another kind when one does not apply to these messages). */
export function mutate(rng: Rng, steps: Step[]): Mutation {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = rng.weighted(MUTATORS)(rng, steps);
    if (r) return r;
  }
  return garbage(rng, steps)!;
}
