// The search_path the router resolves unqualified table names with, between two control round trips.
//
// The authoritative path is current_schemas(false), read in every control round trip of the analytical
// path (analytics.ts). But a statement is routed BEFORE that round trip, with the path known so far: after
// `SET search_path = other` the router still resolved with the old path (the first statement after the
// change went to DuckDB for the old schema's table, saw the new path in its round trip and fell back), and
// a name found only in the new first schema was "not mirrored" under the old path, went to Postgres with
// no round trip, so the path was never learned again (after SET … then RESET, tables of the first schema
// stayed on Postgres for the rest of the session). The session therefore follows SET/RESET search_path as
// the client sends them and routes with the path they make; the round trip still checks it.

/** What the router should resolve with once the tracked search_path setting is `value` (undefined: RESET). */
export function searchPathAfter(value: string | undefined, sessionDefault: readonly string[], current: readonly string[]): string[] {
  if (value === undefined) return [...sessionDefault];
  const v = value.trim();
  if (/^default$/i.test(v)) return [...sessionDefault];
  const out: string[] = [];
  // a list of identifiers or string literals: a, "B", 'c', "$user"
  const re = /\s*(?:"((?:[^"]|"")*)"|'((?:[^']|'')*)'|([^\s,'"]+))\s*(,|$)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < v.length && (m = re.exec(v)) !== null) {
    at = re.lastIndex;
    const name = m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3]!.toLowerCase();
    // "$user" names a schema only if one of the user's name exists; current_schemas(false) drops it
    // otherwise. Assumed absent: if it exists, the round trip sees the real path and corrects it.
    if (name !== '$user' && name !== '') out.push(name);
    if (m[4] === '') break;
  }
  if (at < v.length) return [...current]; // not understood: the round trip will tell
  return out;
}
