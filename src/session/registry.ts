// Sessions by the BackendKeyData duckgate handed out, so a CancelRequest on a new connection finds the
// session (and through it the upstream backend or DuckDB query) it means.
//
// Session mode: the pid a client gets is its upstream backend's own, so pg_backend_pid(), the pid in
// NotificationResponse (LISTEN/NOTIFY clients skip their own notifications by it), pg_stat_activity and
// pg_terminate_backend(<that pid>) all agree with what the client was told. The secret is duckgate's
// own (random per session): a cancel must name both, so it cannot be forged from a pid seen elsewhere.
// Two live sessions may carry the same pid (a backend that ended and whose pid the OS gave to a new
// backend before the old session closed), so a pid maps to every session holding it and the secret
// tells them apart.
//
// Transaction pooling (later) cannot do this: a client then runs on whichever backend is free, so
// duckgate must hand out pids of its own, from a space that cannot be mistaken for a backend's (e.g.
// counting down from 2^31-1), map each to the client's session, forward a cancel to the backend the
// client's transaction runs on at that moment (or drop it when none), and rewrite the pid of a
// NotificationResponse sent by the client's current backend to the client's own pid. pg_backend_pid()
// and pg_stat_activity can then not match, as with PgBouncer.
import { randomInt } from 'node:crypto';

export interface Cancellable {
  cancel(): Promise<void>;
}

interface Entry<S> {
  secret: number;
  session: S;
}

export class SessionRegistry<S extends Cancellable> {
  private readonly byPid = new Map<number, Array<Entry<S>>>();
  private count = 0;

  /** Registers a session under its upstream backend's pid and returns its (pid, secret) key. */
  add(session: S, pid: number): { pid: number; secret: number } {
    const list = this.byPid.get(pid) ?? [];
    let secret: number;
    // a secret no other session under this pid holds, so a cancel always names one session
    do secret = randomInt(-0x80000000, 0x7fffffff);
    while (list.some((e) => e.secret === secret));
    list.push({ secret, session });
    this.byPid.set(pid, list);
    this.count++;
    return { pid, secret };
  }

  /** Forgets the session registered under pid (only that one: another may hold the same pid). */
  remove(pid: number, session: S): void {
    const list = this.byPid.get(pid);
    if (!list) return;
    const i = list.findIndex((e) => e.session === session);
    if (i < 0) return;
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) this.byPid.delete(pid);
  }

  /** The session for a CancelRequest, or undefined when pid/secret do not match (silently ignored, as Postgres does). */
  find(pid: number, secret: number): S | undefined {
    return this.byPid.get(pid)?.find((e) => e.secret === secret)?.session;
  }

  get size(): number {
    return this.count;
  }

  all(): S[] {
    return [...this.byPid.values()].flatMap((l) => l.map((e) => e.session));
  }
}
