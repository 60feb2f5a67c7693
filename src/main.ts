// The composition root: the only place concrete parts are built and wired together.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import pg from 'pg';
import { ConfigError, parseHostPort } from './config/load.js';
import type { Config } from './config/schema.js';
import { logger as rootLogger, type Logger } from './observability/logger.js';
import { startHttp } from './observability/http.js';
import { upstreamTarget } from './engines/postgres/upstream.js';
import { ProxyServer } from './session/server.js';
import { startEmbeddedUpstream, type EmbeddedUpstream } from './embedded.js';

export interface Duckgate {
  /** where clients connect */
  address: { host: string; port: number };
  /** the HTTP endpoint, when enabled */
  http: { host: string; port: number } | null;
  /** the upstream PostgreSQL URL in use (the embedded one's when none was configured) */
  upstreamUrl: string;
  proxy: ProxyServer;
  /** graceful stop: sessions get up to limits.shutdownTimeoutMs to finish */
  close(): Promise<void>;
}

function tlsContext(cfg: Config): SecureContext | null {
  if (!cfg.tls.cert && !cfg.tls.key) return null;
  if (!cfg.tls.cert || !cfg.tls.key) throw new ConfigError('tls.cert and tls.key must be set together');
  try {
    return createSecureContext({ cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) });
  } catch (e) {
    throw new ConfigError(`cannot load TLS certificate/key: ${(e as Error).message}`);
  }
}

export async function startDuckgate(cfg: Config, opts: { log?: Logger } = {}): Promise<Duckgate> {
  const log = opts.log ?? rootLogger;
  const listen = parseHostPort(cfg.listen, 'listen');
  const httpAddr = cfg.http ? parseHostPort(cfg.http, 'http') : null;
  const tls = tlsContext(cfg);
  const dataDir = resolve(cfg.dataDir);
  await mkdir(dataDir, { recursive: true });

  let embedded: EmbeddedUpstream | null = null;
  let upstreamUrl = cfg.upstream;
  if (!upstreamUrl) {
    embedded = await startEmbeddedUpstream({ dir: join(dataDir, 'postgres'), port: cfg.embedded.port, demoRows: cfg.embedded.demoRows, log });
    upstreamUrl = embedded.url;
  }
  const target = upstreamTarget(upstreamUrl, cfg.limits.upstreamConnectTimeoutMs);

  const proxy = new ProxyServer({
    target,
    limits: {
      maxMessageBytes: cfg.limits.maxMessageBytes,
      startupTimeoutMs: cfg.limits.startupTimeoutMs,
      maxConnections: cfg.limits.maxConnections,
    },
    tls,
    log,
  });
  let address: { host: string; port: number };
  try {
    address = await proxy.listen(listen.host, listen.port);
  } catch (e) {
    await embedded?.stop();
    throw new ConfigError(`cannot listen on ${cfg.listen}: ${(e as Error).message}`);
  }

  const controlUrl = upstreamUrl;
  const ready = async (): Promise<boolean> => {
    const c = new pg.Client({ connectionString: controlUrl, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  const http = httpAddr
    ? await startHttp({
        host: httpAddr.host,
        port: httpAddr.port,
        ready,
        status: () => ({ connections: proxy.connectionCount, upstream: `${target.host}:${target.port}` }),
      })
    : null;

  log.info({ listen: `${address.host}:${address.port}`, upstream: `${target.host}:${target.port}`, http: http ? `${http.host}:${http.port}` : null }, 'duckgate listening');

  let closing: Promise<void> | null = null;
  return {
    address,
    http: http ? { host: http.host, port: http.port } : null,
    upstreamUrl,
    proxy,
    close() {
      closing ??= (async () => {
        await proxy.close(cfg.limits.shutdownTimeoutMs);
        if (http) await new Promise<void>((r) => http.server.close(() => r()));
        await embedded?.stop();
      })();
      return closing;
    },
  };
}
