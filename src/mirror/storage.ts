// The serving DuckDB file is a cache: at every start the mirror builds each serving table again from the
// lake (loadServing) or a snapshot, so nothing in the file survives a restart that is still used. DuckDB
// does not give freed blocks back to the file system (a DROP or CREATE OR REPLACE only marks them free),
// and after kill -9 it replays its whole WAL at open: measured on the demo schema (200,000 rows), the
// file went from 21% of PostgreSQL's size after the first clean start to 41% and 58% after restarts,
// with its WAL at 25-50% more while it ran. Starting from a fresh file keeps it at one copy of the
// serving tables (~20%), whatever the number of restarts or crashes.
import { existsSync, rmSync } from 'node:fs';
import { join, relative, resolve, isAbsolute, sep } from 'node:path';
import { logger } from '../observability/logger.js';
import { lockFile, lockOwner } from './lock.js';

/**
 * Removes the serving DuckDB file (and its WAL) before it is opened, when it is duckgate's own: inside
 * the data dir, and no live process holds the lake (another duckgate on the same data dir keeps its
 * file). A file configured elsewhere (duckdb.path outside the data dir) is never removed. Returns
 * whether it removed anything.
 */
export function resetServingFile(dataDir: string, path: string): boolean {
  if (path === ':memory:') return false;
  const rel = relative(resolve(dataDir), resolve(path));
  if (rel === '' || isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) return false;
  const owner = lockOwner(lockFile(join(dataDir, 'lake')));
  if (owner !== null) {
    logger.warn({ path, pid: owner }, 'the lake is in use by another process: the serving DuckDB file is kept');
    return false;
  }
  let removed = false;
  // <file>.tmp is DuckDB's default spill folder for a file database (left behind by a kill -9)
  for (const f of [path, `${path}.wal`, `${path}.tmp`]) {
    if (!existsSync(f)) continue;
    rmSync(f, { force: true, recursive: true });
    removed = true;
  }
  if (removed) logger.debug({ path }, 'serving DuckDB file reset (the mirror rebuilds it from the lake)');
  return removed;
}
