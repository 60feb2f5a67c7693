// The fuzz database: a few mirrored tables (primary keys, every type the analytical path encodes) whose
// rows never change during a run, so two runs of one session see the same data and replies can be
// compared byte for byte; and the places sessions may write without disturbing that:
//   fz_log   mirrored, written only at ids of one session's own block (see FuzzContext.uid), emptied
//            before each run of that session, and only ever read back at those ids: committed writes
//            there exercise replication and the read-your-writes fence without changing what any other
//            session reads;
//   fz_tmp   a temporary table a session creates for itself (also the COPY FROM STDIN target).
// A write to fz_items / fz_tags is generated only where it must fail (a duplicate key).

export const FUZZ_TABLES = ['fz_items', 'fz_tags', 'fz_log'] as const;

export const SETUP_SQL = `
CREATE TABLE fz_items (
  id int PRIMARY KEY,
  name text NOT NULL,
  price numeric(12,2),
  qty int,
  made date,
  seen timestamptz,
  active bool,
  blob bytea
);
INSERT INTO fz_items
SELECT g,
       'item-' || g || CASE WHEN g % 7 = 0 THEN ' é' ELSE '' END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 37 % 10000) / 100.0 END,
       g % 13,
       date '2024-01-01' + (g % 400),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes 11 seconds',
       CASE WHEN g % 17 = 0 THEN NULL ELSE g % 3 = 0 END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 8, '0'), 'hex') END
FROM generate_series(1, 3000) g;
CREATE TABLE fz_tags (id int PRIMARY KEY, item_id int NOT NULL, tag text NOT NULL, weight numeric);
INSERT INTO fz_tags SELECT g, (g * 7) % 3000 + 1, 'tag' || (g % 17), (g % 10) / 4.0 FROM generate_series(1, 5000) g;
CREATE TABLE fz_log (id int PRIMARY KEY, note text, at date);
ANALYZE;
`;

/** A statement parameter: its type as Parse declares it (0: let the server infer) and its values. */
export interface ParamSpec {
  oid: number;
  text: string | null;
  /** the value in the binary format, when the fuzzer may send it so */
  binary?: Buffer;
}

export interface Stmt {
  sql: string;
  params?: ParamSpec[];
  /** what the statement is for (reports count sessions by it) */
  kind: 'duckdb' | 'relay' | 'error' | 'write' | 'tx' | 'setting';
}

const i4 = (n: number): ParamSpec => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return { oid: 23, text: String(n), binary: b };
};
const dateP = (iso: string): ParamSpec => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(Math.round((Date.parse(`${iso}T00:00:00Z`) - Date.parse('2000-01-01T00:00:00Z')) / 86_400_000));
  return { oid: 1082, text: iso, binary: b };
};
const boolP = (v: boolean): ParamSpec => ({ oid: 16, text: v ? 't' : 'f', binary: Buffer.from([v ? 1 : 0]) });
const textP = (s: string): ParamSpec => ({ oid: 25, text: s, binary: Buffer.from(s) });
const byteaP = (hexs: string): ParamSpec => ({ oid: 17, text: `\\x${hexs}`, binary: Buffer.from(hexs, 'hex') });

/** Analytical reads over the mirrored tables: with cost_threshold 0 these are DuckDB's. */
export function analyticalReads(): Stmt[] {
  return [
    { kind: 'duckdb', sql: 'SELECT count(*) FROM fz_items' },
    { kind: 'duckdb', sql: 'SELECT count(*), sum(qty), min(price), max(price), min(made), max(seen) FROM fz_items' },
    { kind: 'duckdb', sql: 'SELECT active, count(*), sum(price), avg(qty) FROM fz_items GROUP BY active ORDER BY active' },
    { kind: 'duckdb', sql: 'SELECT qty, count(*) AS n, max(name) FROM fz_items GROUP BY qty ORDER BY qty' },
    { kind: 'duckdb', sql: 'SELECT id, name, price, qty, made, seen, active, blob FROM fz_items WHERE id <= 40 ORDER BY id' },
    { kind: 'duckdb', sql: 'SELECT t.tag, count(*), sum(t.weight) FROM fz_tags t JOIN fz_items i ON i.id = t.item_id WHERE i.active GROUP BY t.tag ORDER BY t.tag' },
    { kind: 'duckdb', sql: "SELECT CAST(date_trunc('month', made) AS date) AS m, count(*) FROM fz_items GROUP BY 1 ORDER BY 1" },
    { kind: 'duckdb', sql: 'SELECT id, seen FROM fz_items ORDER BY seen DESC, id LIMIT 25' },
    { kind: 'duckdb', sql: 'SELECT id, name, price FROM fz_items ORDER BY id' },
    { kind: 'duckdb', sql: "SELECT count(*) FROM fz_items WHERE name LIKE 'item-1%'" },
    { kind: 'duckdb', sql: 'SELECT upper(name), length(blob), blob FROM fz_items WHERE qty = 3 ORDER BY id LIMIT 50' },
    { kind: 'duckdb', sql: 'SELECT tag, count(*) FROM fz_tags GROUP BY tag ORDER BY 2 DESC, 1' },
    { kind: 'duckdb', sql: 'SELECT count(*) FROM fz_items', params: [] },
    { kind: 'duckdb', sql: 'SELECT count(*) FROM fz_items WHERE qty > $1', params: [i4(5)] },
    { kind: 'duckdb', sql: 'SELECT id, name FROM fz_items WHERE made >= $1 ORDER BY id LIMIT 10', params: [dateP('2024-06-01')] },
    { kind: 'duckdb', sql: 'SELECT count(*), sum(price) FROM fz_items WHERE active = $1', params: [boolP(true)] },
    { kind: 'duckdb', sql: 'SELECT id FROM fz_items WHERE name = $1 ORDER BY id', params: [textP('item-14 é')] },
    { kind: 'duckdb', sql: 'SELECT count(*) FROM fz_items WHERE blob = $1', params: [byteaP('0000000c')] },
    { kind: 'duckdb', sql: 'SELECT qty, count(*) FROM fz_items WHERE price < $1 GROUP BY qty ORDER BY qty', params: [{ oid: 1700, text: '50.5' }] },
    { kind: 'duckdb', sql: 'SELECT qty, sum(price) FROM fz_items WHERE id BETWEEN $1 AND $2 GROUP BY qty ORDER BY qty', params: [i4(100), i4(900)] },
  ];
}

export function relayedReads(): Stmt[] {
  return [
    { kind: 'relay', sql: 'SELECT 1 AS one' },
    { kind: 'relay', sql: 'SELECT $1::text AS echo', params: [textP('héllo')] },
    { kind: 'relay', sql: 'SELECT $1::int + 1 AS n', params: [i4(41)] },
    { kind: 'relay', sql: 'SHOW DateStyle' },
    { kind: 'relay', sql: "VALUES (1, 'a'), (2, NULL)" },
    { kind: 'relay', sql: 'SELECT generate_series(1, 50) AS g' },
    { kind: 'relay', sql: "SELECT current_setting('TimeZone') AS tz" },
    { kind: 'relay', sql: 'SELECT id, name FROM fz_items WHERE id = 7' },
    { kind: 'relay', sql: 'SELECT count(*) FROM fz_items FOR SHARE' },
  ];
}

export function settings(): Stmt[] {
  return [
    { kind: 'setting', sql: "SET application_name = 'fuzz'" },
    { kind: 'setting', sql: "SET TimeZone = 'America/New_York'" },
    { kind: 'setting', sql: 'RESET TimeZone' },
    { kind: 'setting', sql: 'SET extra_float_digits = 0' },
    { kind: 'setting', sql: "SET DateStyle = 'SQL, DMY'" },
    { kind: 'setting', sql: 'SET duckgate.route = postgres' },
    { kind: 'setting', sql: 'RESET ALL' },
  ];
}

export function errors(): Stmt[] {
  return [
    { kind: 'error', sql: 'SELECT 1/0' },
    { kind: 'error', sql: 'SELECT * FROM fz_missing' },
    { kind: 'error', sql: 'SELEC 1' },
    { kind: 'error', sql: "SELECT 'x'::int" },
    { kind: 'error', sql: 'SELECT nosuchcol FROM fz_items' },
    { kind: 'error', sql: 'SELECT sum(qty) / (count(*) - count(*)) FROM fz_items' },
    { kind: 'error', sql: 'SELECT count(*) FROM fz_items WHERE qty / 0 > 1' },
    { kind: 'error', sql: "INSERT INTO fz_items (id, name) VALUES (1, 'dup')" },
    { kind: 'error', sql: 'SELECT count(*) FROM fz_items WHERE qty > $1', params: [{ oid: 23, text: 'abc' }] },
    { kind: 'error', sql: 'SELECT id FROM fz_items WHERE made = $1', params: [{ oid: 1082, text: '2024-13-45' }] },
  ];
}

/** Writes of one session: uid is the 9-digit base of its own id block (see FuzzContext). */
export function writes(uid: number): Stmt[] {
  return [
    { kind: 'write', sql: 'CREATE TEMP TABLE IF NOT EXISTS fz_tmp (id int, v text, d date)' },
    { kind: 'write', sql: "INSERT INTO fz_tmp VALUES (1, 'a', '2024-01-01'), (2, NULL, NULL)" },
    { kind: 'write', sql: 'SELECT count(*), max(v) FROM fz_tmp' },
    { kind: 'write', sql: `INSERT INTO fz_log (id, note, at) VALUES (${uid}, 'fuzz', '2024-01-02')` },
    { kind: 'write', sql: `INSERT INTO fz_log (id, note) VALUES (${uid + 1}, 'r') RETURNING note, at` },
    { kind: 'write', sql: `UPDATE fz_log SET note = 'upd' WHERE id = ${uid}` },
    { kind: 'write', sql: `DELETE FROM fz_log WHERE id = ${uid + 1}` },
    { kind: 'write', sql: `SELECT count(*), max(note) FROM fz_log WHERE id BETWEEN ${uid} AND ${uid + 3}` },
    { kind: 'write', sql: 'INSERT INTO fz_log (id, note) VALUES ($1, $2)', params: [i4(uid + 2), textP('p')] },
  ];
}

export function txControl(): Stmt[] {
  return [
    { kind: 'tx', sql: 'BEGIN' },
    { kind: 'tx', sql: 'COMMIT' },
    { kind: 'tx', sql: 'ROLLBACK' },
    { kind: 'tx', sql: 'SAVEPOINT sp' },
    { kind: 'tx', sql: 'ROLLBACK TO SAVEPOINT sp' },
    { kind: 'tx', sql: 'BEGIN ISOLATION LEVEL REPEATABLE READ' },
    { kind: 'tx', sql: 'BEGIN READ ONLY' },
  ];
}
