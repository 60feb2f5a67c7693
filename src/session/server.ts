// The client-facing listener: accepts connections, hands each to a Session, and shuts down gracefully.
import { createServer, type Server, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from '../observability/logger.js';
import { errorResponse } from '../protocol/backend.js';
import { tooManyConnections } from '../protocol/errors.js';
import type { UpstreamTarget } from '../engines/postgres/upstream.js';
import { SessionRegistry } from './registry.js';
import { Session, type SessionLimits } from './session.js';
import type { AnalyticsOptions } from './analytics.js';

export interface ProxyServerOptions {
  target: UpstreamTarget;
  limits: SessionLimits & { maxConnections: number };
  tls: SecureContext | null;
  log: Logger;
  /** the DuckDB path; null: duckgate is a pure relay */
  analytics: AnalyticsOptions | null;
}

/** How long a refused connection (53300) may stay open for the client to read its error. */
const REFUSED_GRACE_MS = 2_000;

export class ProxyServer {
  readonly registry = new SessionRegistry<Session>();
  private readonly sessions = new Set<Session>();
  private server: Server;
  private stopping = false;

  constructor(private readonly opts: ProxyServerOptions) {
    this.server = createServer({ pauseOnConnect: false, noDelay: true }, (sock) => this.accept(sock));
    this.server.on('error', (e) => opts.log.error({ err: e }, 'listener error'));
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        if (a === null || typeof a === 'string') return reject(new Error('listener has no address'));
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  private accept(sock: Socket): void {
    sock.on('error', () => undefined);
    if (this.sessions.size >= this.opts.limits.maxConnections) {
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
      tls: this.opts.tls,
      registry: this.registry,
      log: this.opts.log,
      shuttingDown: () => this.stopping,
      onClose: (s) => this.sessions.delete(s),
      analytics: this.opts.analytics,
    });
    this.sessions.add(session);
    session.start();
  }

  /**
   * Stops accepting, closes idle sessions at once (57P01, as a fast shutdown of Postgres would), lets
   * sessions with a running statement or open transaction finish up to timeoutMs, then closes the rest.
   */
  async close(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) if (!s.busy) s.closeForShutdown();
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      for (const s of this.sessions) if (!s.busy) s.closeForShutdown();
    }
    for (const s of this.sessions) s.closeForShutdown();
    await closed;
  }
}
