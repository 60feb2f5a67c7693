// Sessions by the BackendKeyData duckgate handed out, so a CancelRequest on a new connection finds the
// session (and through it the upstream backend or DuckDB query) it means.
import { randomInt } from 'node:crypto';

export interface Cancellable {
  cancel(): Promise<void>;
}

export class SessionRegistry<S extends Cancellable> {
  private nextPid = 1;
  private readonly byPid = new Map<number, { secret: number; session: S }>();

  /** Registers a session and returns its (pid, secret) key. */
  add(session: S): { pid: number; secret: number } {
    const pid = this.nextPid;
    this.nextPid = this.nextPid >= 0x7fffffff ? 1 : this.nextPid + 1;
    const secret = randomInt(-0x80000000, 0x7fffffff);
    this.byPid.set(pid, { secret, session });
    return { pid, secret };
  }

  remove(pid: number): void {
    this.byPid.delete(pid);
  }

  /** The session for a CancelRequest, or undefined when pid/secret do not match (silently ignored, as Postgres does). */
  find(pid: number, secret: number): S | undefined {
    const e = this.byPid.get(pid);
    return e && e.secret === secret ? e.session : undefined;
  }

  get size(): number {
    return this.byPid.size;
  }

  all(): S[] {
    return [...this.byPid.values()].map((e) => e.session);
  }
}
