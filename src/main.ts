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
import { controlUrl as controlUrlFor, upstreamTarget } from './engines/postgres/upstream.js';
import { ProxyServer } from './session/server.js';
import { startEmbeddedUpstream, type EmbeddedUpstream } from './embedded.js';
import { readRules, shippedRulesFile } from './config/rules.js';
import { DuckdbEngine, type Translate } from './engines/duckdb/engine.js';
import { instanceOptionsFromConfig, openDuckdbInstance } from './engines/duckdb/instance.js';
import { Mirror, parseMirrorRules } from './mirror/index.js';
import { resetServingFile } from './mirror/storage.js';
import { initRouter, parseRoutingRules } from './router/index.js';
import type { AnalyticsOptions } from './session/analytics.js';
import { DuckdbGuard } from './session/duckdb-guard.js';
import { mirrorSource } from './session/mirror-source.js';
import { Shadow } from './session/shadow.js';
import { ShadowRunner } from './engines/postgres/shadow-run.js';

export interface Duckgate {
  /** where clients connect */
  address: { host: string; port: number };
  /** the Unix-domain socket clients may also connect to (unixSocketDir), or null */
  unixSocket: string | null;
  /** the HTTP endpoint, when enabled */
  http: { host: string; port: number } | null;
  /** the upstream PostgreSQL URL in use (the embedded one's when none was configured) */
  upstreamUrl: string;
  proxy: ProxyServer;
  /** the mirror, when analytics are enabled */
  mirror: Mirror | null;
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

export interface StartOptions {
  log?: Logger;
  /** replaces the DuckDB engine's PG→DuckDB translation (tests of the differential generator only) */
  translate?: Translate;
}

export async function startDuckgate(cfg: Config, opts: StartOptions = {}): Promise<Duckgate> {
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
  let target: ReturnType<typeof upstreamTarget>;
  try {
    target = upstreamTarget(upstreamUrl, cfg.limits.upstreamConnectTimeoutMs);
  } catch (e) {
    await embedded?.stop();
    throw new ConfigError(`upstream: ${(e as Error).message}`);
  }
  // duckgate's own node-postgres connections cannot do sslmode=prefer: resolved once here (upstream.ts)
  upstreamUrl = await controlUrlFor(upstreamUrl, target);

  // Rules are validated before anything starts, so a typo fails fast with the file named.
  const raw = readRules([shippedRulesFile, ...cfg.rules]);
  const routingRules = parseRoutingRules(
    raw.routing.map((r) => r.section),
    raw.routing.map((r) => r.file),
    { defaultMaxLagMs: cfg.mirror.maxLagMs },
  );

  let mirror: Mirror | null = null;
  let guard: DuckdbGuard | null = null;
  let duck: Awaited<ReturnType<typeof openDuckdbInstance>> | null = null;
  let engine: DuckdbEngine | null = null;
  let analytics: AnalyticsOptions | null = null;
  let shadowRunner: ShadowRunner | null = null;
  let shadow: Shadow | null = null;
  if (cfg.analytics.enabled && cfg.mirror.enabled) {
    await Promise.all([initRouter(), DuckdbEngine.init()]);
    const duckOpts = instanceOptionsFromConfig({ dataDir, duckdb: cfg.duckdb });
    // the serving file is rebuilt from the lake at every start: begin from an empty one (mirror/storage.ts)
    resetServingFile(dataDir, duckOpts.path);
    duck = await openDuckdbInstance(duckOpts);
    engine = new DuckdbEngine(duck, { connections: cfg.duckdb.connections, statementTimeoutMs: cfg.duckdb.statementTimeoutMs, queueTimeoutMs: cfg.duckdb.queueTimeoutMs, translate: opts.translate });
    mirror = new Mirror({ config: cfg, upstreamUrl, duckdb: duck, dataDir, rules: parseMirrorRules(raw.mirror) });
    guard = new DuckdbGuard(engine, {
      errorPercent: cfg.analytics.breakerErrorPercent,
      resetMs: cfg.analytics.breakerResetMs,
      failedTtlMs: cfg.analytics.failedFingerprintTtlMs,
      log,
    });
    const g = guard;
    const source = mirrorSource(mirror);
    // Shadow execution runs its Postgres side on duckgate's own connection, bounded like DuckDB's own
    // statements (duckdb.statementTimeoutMs): a sample must not hold a backend for long.
    if (cfg.analytics.shadowSampleRate > 0) {
      shadowRunner = new ShadowRunner(upstreamUrl, cfg.duckdb.statementTimeoutMs);
      shadow = new Shadow({ sampleRate: Math.min(1, cfg.analytics.shadowSampleRate), maxRows: cfg.analytics.shadowMaxRows, runner: shadowRunner, history: source, log });
    }
    analytics = {
      engine: g,
      costs: new Map(),
      mirror: source,
      rules: routingRules,
      freshnessWaitMs: cfg.analytics.freshnessWaitMs,
      allowReadOnlyTransactions: cfg.analytics.allowReadOnlyTransactions,
      breakerOpen: () => g.isOpen,
      reportFailure: (fp, e) => g.reportFailure(fp, e),
      recentlyFailed: (fp) => g.recentlyFailed(fp),
      ...(shadow ? { shadow } : {}),
      log,
    };
  }

  const proxy = new ProxyServer({
    target,
    limits: {
      maxMessageBytes: cfg.limits.maxMessageBytes,
      startupTimeoutMs: cfg.limits.startupTimeoutMs,
      maxConnections: cfg.limits.maxConnections,
      reservedConnections: cfg.limits.reservedConnections,
      maxStartupConnections: cfg.limits.maxStartupConnections,
    },
    tls,
    log,
    analytics,
  });
  let address: { host: string; port: number };
  try {
    address = await proxy.listen(listen.host, listen.port);
  } catch (e) {
    await embedded?.stop();
    duck?.closeSync();
    throw new ConfigError(`cannot listen on ${cfg.listen}: ${(e as Error).message}`);
  }
  // The Unix-domain socket takes the TCP listener's port in its name (.s.PGSQL.<port>), as PostgreSQL's does.
  let unixSocket: string | null = null;
  if (cfg.unixSocketDir) {
    try {
      unixSocket = await proxy.listenUnix(resolve(cfg.unixSocketDir), address.port);
    } catch (e) {
      await proxy.close(0);
      await embedded?.stop();
      duck?.closeSync();
      throw new ConfigError(`cannot listen on a Unix-domain socket in ${cfg.unixSocketDir}: ${(e as Error).message}`);
    }
  }

  const controlUrl = upstreamUrl;
  // ready: the upstream answers and the mirror (when there is one) is not down and retrying
  const ready = async (): Promise<{ ready: boolean; reason?: string }> => {
    const c = new pg.Client({ connectionString: controlUrl, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      const why = mirror?.notReadyReason() ?? null;
      return why === null ? { ready: true } : { ready: false, reason: why };
    } catch (e) {
      return { ready: false, reason: `upstream PostgreSQL not reachable: ${(e as Error).message}` };
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  const http = httpAddr
    ? await startHttp({
        host: httpAddr.host,
        port: httpAddr.port,
        ready,
        status: () => ({ connections: proxy.connectionCount, upstream: `${target.host}:${target.port}`, mirror: mirror?.status() ?? null }),
      })
    : null;

  // The mirror starts after the listener: clients are served (by Postgres) while the snapshot runs.
  let mirrorStarting: Promise<void> = Promise.resolve();
  if (mirror) {
    const m = mirror;
    mirrorStarting = m.start().catch((e: unknown) => log.error({ err: e }, 'mirror failed to start; duckgate keeps proxying to Postgres'));
  }

  log.info({ listen: `${address.host}:${address.port}`, unixSocket, upstream: `${target.host}:${target.port}`, http: http ? `${http.host}:${http.port}` : null }, 'duckgate listening');

  let closing: Promise<void> | null = null;
  return {
    address,
    unixSocket,
    http: http ? { host: http.host, port: http.port } : null,
    upstreamUrl,
    proxy,
    mirror,
    close() {
      closing ??= (async () => {
        await proxy.close(cfg.limits.shutdownTimeoutMs);
        if (http) await new Promise<void>((r) => http.server.close(() => r()));
        guard?.shutdown();
        await shadowRunner?.close();
        await mirror?.stop().catch((e: unknown) => log.error({ err: e }, 'mirror stop failed'));
        // A snapshot may still be running (stop() ends its connections, so it fails soon): DuckDB is
        // closed only once nothing uses it, since closing under a running statement can crash the process.
        const settled = await Promise.race([mirrorStarting.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
        engine?.close();
        if (settled) duck?.closeSync();
        else log.warn('mirror start did not settle within 10 s of stop; leaving DuckDB open');
        await embedded?.stop();
      })();
      return closing;
    },
  };
}
