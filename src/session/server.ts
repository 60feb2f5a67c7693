// The client-facing listeners (TCP, and a Unix-domain socket when configured): accept connections, hand
// each to a Session, count connection slots, and shut down gracefully.
import { lstat, chmod, unlink } from 'node:fs/promises';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import type { Logger } from '../observability/logger.js';
import * as metrics from '../observability/metrics.js';
import { errorResponse } from '../protocol/backend.js';
import { PgError, SqlState, tooManyConnections } from '../protocol/errors.js';
import type { UpstreamTarget } from '../engines/postgres/upstream.js';
import { SessionRegistry } from './registry.js';
import { Session, type SessionLimits } from './session.js';
import type { AnalyticsOptions } from './analytics.js';

export interface ConnectionLimits {
  /** authenticated sessions at once */
  maxConnections: number;
  /** of maxConnections, kept for superusers (PostgreSQL's superuser_reserved_connections) */
  reservedConnections: number;
  /** connections still in startup / authentication at once; beyond it the oldest is closed */
  maxStartupConnections: number;
}

export interface ProxyServerOptions {
  target: UpstreamTarget;
  limits: SessionLimits & ConnectionLimits;
  tls: SecureContext | null;
  log: Logger;
  /** the DuckDB path; null: duckgate is a pure relay */
  analytics: AnalyticsOptions | null;
}

/** How long a refused connection (53300) may stay open for the client to read its error. */
const REFUSED_GRACE_MS = 2_000;

/**
 * A connection that sent its startup packet and has been authenticating for less than this is not
 * evicted: a real client's exchange (SCRAM included) takes milliseconds; psql asks for a password
 * between two connections, not in the middle of one.
 */
const AUTH_GRACE_MS = 1_000;

/**
 * Connection slots. A connection is first `authenticating` (startup packet, TLS, the upstream's
 * authentication exchange) and becomes `authenticated` at the upstream's first ReadyForQuery. The two are
 * counted apart, so sockets that never authenticate (a trickle of 1,000 idle connections used to fill
 * every slot for startupTimeoutMs at a time) cannot keep real clients out:
 * - authenticated sessions are limited by maxConnections; the last reservedConnections of them are for
 *   superusers only (checked once authenticated, from the upstream's is_superuser ParameterStatus, as
 *   PostgreSQL checks superuser_reserved_connections in InitPostgres after authentication);
 * - connections still authenticating are limited by maxStartupConnections: a new one arriving when they
 *   are all taken closes the oldest that has not even sent a startup packet, else the oldest that has
 *   been authenticating for over AUTH_GRACE_MS, silently, as PostgreSQL closes a connection whose
 *   authentication_timeout expired; if every one of them is younger (a burst of real clients), the new
 *   one is refused with 53300 instead. A real client completes its startup in milliseconds, so it is
 *   never the oldest for long; an attacker's idle sockets always are.
 */
export class ProxyServer {
  readonly registry = new SessionRegistry<Session>();
  /** not yet authenticated, oldest first (Map keeps insertion order), with their raw sockets and arrival */
  private readonly authenticating = new Map<Session, { sock: Socket; since: number }>();
  private readonly authenticated = new Set<Session>();
  private readonly servers: Server[] = [];
  private stopping = false;

  constructor(private readonly opts: ProxyServerOptions) {}

  private newServer(unix: boolean): Server {
    const server = createServer({ pauseOnConnect: false, noDelay: true }, (sock) => this.accept(sock, unix));
    server.on('error', (e) => this.opts.log.error({ err: e }, 'listener error'));
    this.servers.push(server);
    return server;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = this.newServer(false);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address();
        if (a === null || typeof a === 'string') return reject(new Error('listener has no address'));
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /**
   * Listens on `<dir>/.s.PGSQL.<port>`, the name libpq looks for (UNIXSOCK_PATH in pqcomm.h), with
   * PostgreSQL's default unix_socket_permissions 0777 (authentication is the upstream's either way). A
   * socket file left by a process that died is replaced; one that answers belongs to a running server
   * and is an error, as is a path that is not a socket. Node removes the file when the listener closes.
   * Sessions on it never offer TLS, as PostgreSQL answers SSLRequest with N on a Unix-domain socket.
   */
  async listenUnix(dir: string, port: number): Promise<string> {
    const path = join(dir, `.s.PGSQL.${port}`);
    const st = await lstat(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (st) {
      if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
      const alive = await new Promise<boolean>((resolve) => {
        const c = netConnect({ path });
        c.once('connect', () => {
          c.destroy();
          resolve(true);
        });
        c.once('error', () => resolve(false));
      });
      if (alive) throw new Error(`another server is already listening on ${path}`);
      this.opts.log.info({ path }, 'removing stale Unix-domain socket file');
      await unlink(path).catch(() => undefined);
    }
    const server = this.newServer(true);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(path, 0o777);
    return path;
  }

  /** Open client connections, authenticated or not. */
  get connectionCount(): number {
    return this.authenticating.size + this.authenticated.size;
  }

  /** Slot counts, for the status page and tests. */
  get slots(): { authenticating: number; authenticated: number } {
    return { authenticating: this.authenticating.size, authenticated: this.authenticated.size };
  }

  private updateMetrics(): void {
    metrics.connectionSlots.set({ slot: 'authenticating' }, this.authenticating.size);
    metrics.connectionSlots.set({ slot: 'authenticated' }, this.authenticated.size);
  }

  private accept(sock: Socket, unix: boolean): void {
    sock.on('error', () => undefined);
    const limits = this.opts.limits;
    let refuse: 'max_connections' | 'startup_full' | null = this.authenticated.size >= limits.maxConnections ? 'max_connections' : null;
    while (!refuse && this.authenticating.size >= Math.max(1, limits.maxStartupConnections)) {
      if (!this.evictOldestAuthenticating()) refuse = 'startup_full';
    }
    if (refuse) {
      metrics.connectionsRefused.inc({ reason: refuse });
      // Read (and drop) whatever the client sends so its FIN is seen and the socket closes; a client
      // that never closes its side is cut off after a grace period. Either way the socket cannot keep
      // server.close() (and so a graceful shutdown) waiting forever.
      sock.resume();
      sock.setTimeout(REFUSED_GRACE_MS, () => sock.destroy());
      sock.end(errorResponse(tooManyConnections()));
      return;
    }
    const session = new Session(sock, {
      target: this.opts.target,
      limits: this.opts.limits,
      tls: unix ? null : this.opts.tls,
      registry: this.registry,
      log: this.opts.log,
      shuttingDown: () => this.stopping,
      onClose: (s) => {
        this.authenticating.delete(s);
        this.authenticated.delete(s);
        this.updateMetrics();
      },
      onAuthenticated: (s) => this.admit(s),
      analytics: this.opts.analytics,
    });
    this.authenticating.set(session, { sock, since: Date.now() });
    this.updateMetrics();
    session.start();
  }

  /** Closes the connection to make room for a new one (see the class comment); false: none may go. */
  private evictOldestAuthenticating(): boolean {
    let victim: Session | null = null;
    const graceStart = Date.now() - AUTH_GRACE_MS;
    for (const [s, { since }] of this.authenticating) {
      if (s.state === 'startup') {
        victim = s;
        break;
      }
      if (since < graceStart) victim ??= s;
    }
    if (!victim) return false;
    const { sock } = this.authenticating.get(victim)!;
    this.authenticating.delete(victim);
    metrics.connectionsRefused.inc({ reason: 'startup_evicted' });
    this.opts.log.debug({ state: victim.state }, 'closing the oldest unauthenticated connection: maxStartupConnections reached');
    sock.destroy();
    victim.close();
    return true;
  }

  /** A session finished authenticating: it takes an authenticated slot, or is refused (53300). */
  private admit(s: Session): PgError | null {
    this.authenticating.delete(s);
    const limits = this.opts.limits;
    let refused: PgError | null = null;
    if (this.authenticated.size >= limits.maxConnections) {
      metrics.connectionsRefused.inc({ reason: 'max_connections' });
      refused = tooManyConnections();
    } else if (this.authenticated.size >= limits.maxConnections - limits.reservedConnections && s.serverParams.get('is_superuser') !== 'on') {
      metrics.connectionsRefused.inc({ reason: 'reserved' });
      refused = new PgError(SqlState.tooManyConnections, 'remaining connection slots are reserved for roles with the SUPERUSER attribute', 'FATAL');
    } else this.authenticated.add(s);
    this.updateMetrics();
    return refused;
  }

  /**
   * Stops accepting, closes idle sessions at once (57P01, as a fast shutdown of Postgres would), lets
   * sessions with a running statement or open transaction finish up to timeoutMs, then closes the rest.
   */
  async close(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const closed = Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    const all = () => [...this.authenticating.keys(), ...this.authenticated];
    for (const s of all()) if (!s.busy) s.closeForShutdown();
    const deadline = Date.now() + timeoutMs;
    while (this.connectionCount > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      for (const s of all()) if (!s.busy) s.closeForShutdown();
    }
    for (const s of all()) s.closeForShutdown();
    await closed;
  }
}
