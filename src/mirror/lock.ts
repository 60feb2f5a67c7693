// The lake's lock file (<dataDir>/lake/LOCK): one process writes the lake at a time. It holds the owner's
// pid in decimal (verify.ts reads it the same way). A lock is stale when that process is gone, when it is
// a zombie (a duckgate killed with kill -9 stays in the process table, state Z, until its parent reaps
// it: a restart right after the kill used to find the lake "in use" and leave the mirror off for the
// whole run), or when the pid was reused by a process started after the lock was written (Linux: the
// process start time from /proc/<pid>/stat against the lock file's mtime).
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class LakeLockedError extends Error {
  constructor(
    readonly lakeDir: string,
    readonly pid: number,
  ) {
    super(`the lake ${lakeDir} is in use by process ${pid} (another duckgate on the same data dir?)`);
  }
}

export function lockFile(lakeDir: string): string {
  return join(lakeDir, 'LOCK');
}

/** Takes the lake's lock, or throws LakeLockedError naming the live owner. */
export function acquireLakeLock(lakeDir: string): void {
  mkdirSync(lakeDir, { recursive: true });
  const f = lockFile(lakeDir);
  const pid = lockOwner(f);
  if (pid !== null && pid !== process.pid) throw new LakeLockedError(lakeDir, pid);
  writeFileSync(f, String(process.pid));
}

export function releaseLakeLock(lakeDir: string): void {
  const f = lockFile(lakeDir);
  try {
    if (existsSync(f) && Number(readFileSync(f, 'utf8')) === process.pid) rmSync(f);
  } catch {
    /* best effort */
  }
}

/** The pid of the live process holding the lock file, or null when there is none or it is stale. */
export function lockOwner(file: string): number | null {
  let pid: number;
  let writtenAt: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
    writtenAt = statSync(file).mtimeMs;
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (pid === process.pid) return pid;
  return ownerAlive(pid, writtenAt) ? pid : null;
}

function ownerAlive(pid: number, lockWrittenAt: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const info = procInfo(pid);
  if (info === null) return true; // not Linux (or /proc hidden): trust the signal test
  if (info.state === 'Z' || info.state === 'X') return false;
  // pid reuse: the process holding the pid now started after the lock was written (2 s of slack for
  // clock-tick rounding and a lock written right at start)
  return info.startedAtMs === null || info.startedAtMs <= lockWrittenAt + 2000;
}

let bootTimeMs: number | null | undefined;

/** State and start time of a process from /proc/<pid>/stat (proc(5): fields 3 and 22). */
function procInfo(pid: number): { state: string; startedAtMs: number | null } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return existsSync('/proc/self/stat') ? { state: 'X', startedAtMs: null } : null;
  }
  // the command name (field 2) is in parentheses and may itself contain spaces or ')'
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = rest[0] ?? '?';
  const ticks = Number(rest[19]);
  if (bootTimeMs === undefined) {
    try {
      const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
      bootTimeMs = m ? Number(m[1]) * 1000 : null;
    } catch {
      bootTimeMs = null;
    }
  }
  // USER_HZ is 100 on every Linux architecture Node supports (sysconf(_SC_CLK_TCK))
  const startedAtMs = bootTimeMs === null || !Number.isFinite(ticks) ? null : bootTimeMs + (ticks / 100) * 1000;
  return { state, startedAtMs };
}
