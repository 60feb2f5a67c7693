// Where a mirrored table's files live, and the one guard every removal under the lake goes through.
//
// Any name PostgreSQL accepts (1 to 63 bytes, any character but NUL: see NAMEDATALEN in pg_config_manual.h)
// must map to ONE folder name strictly inside the lake. encodeURIComponent alone is not enough: it leaves
// '.' and '..' as they are, so a table named '..' had its folder at the lake root itself and dropping it
// removed the whole lake (and with a schema named '..' too, a folder outside the data dir).
//
// The encoding is encodeURIComponent (which escapes '/', '\', '%', spaces and every non-ASCII byte as %XX, so
// a name stays readable for Parquet tools and any Hive-style reader can decode it) plus, for the first
// character only:
//   '.'  -> %2E   ('.', '..', '.hidden': never a special or hidden folder)
//   and for a schema (a folder at the lake root, next to the lake's own entries):
//   '_'  -> %5F   (_tmp, _manifest.json are the lake's; Hive-convention tools skip '_' folders)
//   'LOCK' exactly -> %4COCK (the lake's lock file)
// Every output character is an unreserved one or a %XX escape, so decodeURIComponent reverses it: the
// mapping is injective. The longest output is 63 bytes * 3 = 189 bytes, under the 255-byte limit of a
// file name on common file systems. Names that encodeURIComponent already mapped safely (everything not
// starting with '.', and schemas not starting with '_' nor named LOCK) keep the folder they had, so
// existing lakes read on; the manifest names each file by its path anyway, so files written under an
// older folder stay readable and are removed by their recorded path (see removeTableFiles).
import { existsSync, readdirSync, realpathSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { logger } from '../observability/logger.js';

/** Names at the lake root that belong to the lake itself, not to a schema. */
const RESERVED_ROOT = new Set(['LOCK']);

/** The folder name of one Postgres identifier (a table, or a schema when `atRoot`). */
export function encodeName(name: string, atRoot = false): string {
  let s = encodeURIComponent(name);
  if (s.startsWith('.')) s = `%2E${s.slice(1)}`;
  if (atRoot) {
    if (s.startsWith('_')) s = `%5F${s.slice(1)}`;
    else if (RESERVED_ROOT.has(s)) s = `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}`;
  }
  return s;
}

/** Inverse of encodeName. */
export function decodeName(folder: string): string {
  return decodeURIComponent(folder);
}

/** <lake>/<schema>/<table>: always strictly inside the lake. */
export function tableDir(lakeDir: string, schema: string, name: string): string {
  return join(lakeDir, encodeName(schema, true), encodeName(name));
}

/** Thrown (and logged) when something asks to remove a path that is not strictly inside the lake. */
export class OutsideLakeError extends Error {
  constructor(
    readonly lakeDir: string,
    readonly target: string,
  ) {
    super(`refusing to remove ${target}: it is not strictly inside the lake ${lakeDir}`);
  }
}

/**
 * The real location `target` would have (its parent folder resolved through symlinks; the last
 * component kept, so a symlink inside the lake is itself removed, never what it points at), and whether
 * that is strictly inside the lake's real location.
 */
function insideLake(lakeDir: string, target: string): { ok: boolean; real: string } {
  let root: string;
  try {
    root = realpathSync(lakeDir);
  } catch {
    return { ok: false, real: target };
  }
  const abs = resolve(target);
  let parent: string;
  try {
    parent = realpathSync(dirname(abs));
  } catch {
    // the parent does not exist: there is nothing to remove (resolve it lexically for the check)
    parent = dirname(abs);
  }
  const real = join(parent, basename(abs));
  const rel = relative(root, real);
  const ok = rel !== '' && !isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`) && basename(abs) !== '..' && basename(abs) !== '.';
  return { ok, real };
}

/**
 * The only way the mirror removes anything under the lake: `target` (a file, or a folder when
 * `recursive`) is removed only when it resolves to a path strictly inside the lake; anything else is
 * refused with an error (and logged), never removed.
 */
export function removeInLake(lakeDir: string, target: string, opts: { recursive?: boolean } = {}): void {
  const { ok, real } = insideLake(lakeDir, target);
  if (!ok) {
    const e = new OutsideLakeError(lakeDir, target);
    logger.error({ lake: lakeDir, target, resolved: real }, e.message);
    throw e;
  }
  rmSync(real, { recursive: opts.recursive === true, force: true });
}

/** Removes empty folders from `dir` up to (not including) the lake root, all strictly inside the lake. */
export function pruneEmptyDirs(lakeDir: string, dir: string): void {
  let d = resolve(dir);
  for (;;) {
    const { ok } = insideLake(lakeDir, d);
    if (!ok || !existsSync(d)) return;
    try {
      if (readdirSync(d).length > 0) return;
      rmdirSync(d);
    } catch {
      return;
    }
    d = dirname(d);
  }
}

/**
 * Removes a table's files: its folder (under the current encoding) and every file the manifest names for
 * it (which may sit under an older folder), then the folders those leave empty.
 */
export function removeTableFiles(lakeDir: string, schema: string, name: string, files: string[]): void {
  removeInLake(lakeDir, tableDir(lakeDir, schema, name), { recursive: true });
  const dirs = new Set<string>();
  for (const f of files) {
    const p = join(lakeDir, f);
    try {
      removeInLake(lakeDir, p);
      dirs.add(dirname(p));
    } catch {
      // a path an old manifest recorded outside the lake (logged by removeInLake): left alone
    }
  }
  for (const d of dirs) pruneEmptyDirs(lakeDir, d);
  pruneEmptyDirs(lakeDir, join(lakeDir, encodeName(schema, true)));
}
