// Session settings Postgres does not report with ParameterStatus (search_path, extra_float_digits, …)
// but later routing needs. They are tracked from the SET / RESET / DISCARD statements the client sends.
// This is a hint, not the truth: SET inside a function or a rolled-back transaction is not seen, so the
// DuckDB path re-reads the authoritative values from the upstream before relying on them.

const TRACKED = new Set(['search_path', 'extra_float_digits', 'timezone', 'datestyle', 'intervalstyle', 'bytea_output', 'duckgate.route']);

const SET_RE = /^\s*SET\s+(?:SESSION\s+)?(?!LOCAL\b)("?[\w.]+"?)\s*(?:=|\bTO\b)\s*([\s\S]*?)\s*;?\s*$/i;
const RESET_RE = /^\s*RESET\s+("?[\w.]+"?|ALL)\s*;?\s*$/i;
const DISCARD_RE = /^\s*DISCARD\s+ALL\s*;?\s*$/i;
const DEALLOCATE_ALL_RE = /^\s*DEALLOCATE\s+(?:PREPARE\s+)?ALL\s*;?\s*$/i;
const DEALLOCATE_RE = /^\s*DEALLOCATE\s+(?:PREPARE\s+)?(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))\s*;?\s*$/i;

export function trackSettingChange(sql: string, settings: Map<string, string>, prepared: Map<string, unknown>): void {
  // Cheap first-character test keeps this off the hot path for ordinary statements.
  const c = sql.trimStart().slice(0, 1).toUpperCase();
  if (c !== 'S' && c !== 'R' && c !== 'D') return;
  let m = SET_RE.exec(sql);
  if (m) {
    const name = m[1]!.replace(/"/g, '').toLowerCase();
    if (TRACKED.has(name)) settings.set(name, m[2]!);
    return;
  }
  m = RESET_RE.exec(sql);
  if (m) {
    const name = m[1]!.replace(/"/g, '').toLowerCase();
    if (name === 'all') settings.clear();
    else settings.delete(name);
    return;
  }
  if (DISCARD_RE.test(sql)) {
    settings.clear();
    prepared.clear();
    return;
  }
  if (DEALLOCATE_ALL_RE.test(sql)) {
    prepared.clear();
    return;
  }
  // DEALLOCATE name: a Parse of that name afterwards is a new statement (an unquoted name folds to lower case)
  m = DEALLOCATE_RE.exec(sql);
  if (m) prepared.delete(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.toLowerCase());
}
