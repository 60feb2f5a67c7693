// Command line: `duckgate start`, `duckgate --help`. Flags override DUCKGATE_* environment variables,
// which override the YAML config file, which overrides the defaults in src/config/schema.ts.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, options } from './config/load.js';
import { controlUrl, upstreamTarget } from './engines/postgres/upstream.js';
import { startDuckgate } from './main.js';
import { logger } from './observability/logger.js';

const VERSION = '0.1.0';

const FLAGS = {
  upstream: { type: 'string' },
  listen: { type: 'string' },
  'unix-socket-dir': { type: 'string' },
  http: { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  redis: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export function helpText(): string {
  const envLines = options()
    .filter((o) => o.option.env)
    .map((o) => `  ${o.option.env!.padEnd(25)} ${o.path}`)
    .join('\n');
  return `duckgate ${VERSION}: a PostgreSQL wire proxy that answers analytical reads from DuckDB

Usage:
  duckgate start [options]          run the proxy
  duckgate mirror verify [table…]   compare mirrored tables with PostgreSQL (exit 1 on a difference)
  duckgate mirror drop              remove the replication slot and publication duckgate created
  duckgate --help | --version

Options (each also read from the environment and the config file; flags win):
  --upstream CONN   PostgreSQL to proxy, as libpq reads it: a postgres:// or postgresql:// URL,
                    e.g. postgres://user:pass@host:5432/db?sslmode=verify-full&sslrootcert=ca.pem,
                    or a key=value string, e.g. "host=db port=5432 dbname=app user=me". A host
                    is required (a path: the server's Unix-socket directory); port defaults to
                    5432; sslmode to disable (prefer, require, verify-ca, verify-full as in
                    libpq; verify-full checks the certificate and the host name). Anything else
                    is refused. It gives the server address and duckgate's own control
                    credentials; each client's startup user and database are used for its own
                    session. Unset: an embedded PostgreSQL with demo data is started under the
                    data dir.                                            [DUCKGATE_UPSTREAM]
  --listen H:P      address clients connect to (default 127.0.0.1:6432)     [DUCKGATE_LISTEN]
  --unix-socket-dir DIR
                    also accept clients on the Unix-domain socket DIR/.s.PGSQL.<listen port>
                    (psql -h DIR -p PORT); default: none             [DUCKGATE_UNIX_SOCKET_DIR]
  --http H:P        /healthz, /readyz and /metrics (default 127.0.0.1:9187; "" disables)
                                                                           [DUCKGATE_HTTP]
  --data-dir DIR    state: Parquet lake, DuckDB, embedded PostgreSQL (default ./.duckgate)
                                                                           [DUCKGATE_DATA_DIR]
  --config FILE     YAML config file (see duckgate.example.yaml)            [DUCKGATE_CONFIG]
  --redis URL       Redis for the shared result cache (accepted; the result cache is
                    not built yet, so nothing uses it)                     [DUCKGATE_REDIS]
  -h, --help        this text
  -V, --version     the version

Environment variables:
${envLines}
  DUCKGATE_LOG_LEVEL     pino log level (default info)
`;
}

async function runStart(flags: Record<string, string | undefined>): Promise<void> {
  const cfg = loadConfig({ flags });
  const dg = await startDuckgate(cfg);
  const user = cfg.upstream ? (decodeURIComponent(new URL(cfg.upstream).username) || 'postgres') : 'postgres';
  const db = new URL(dg.upstreamUrl).pathname.slice(1) || 'postgres';
  process.stdout.write(
    `duckgate is listening on ${dg.address.host}:${dg.address.port}` +
      (dg.http ? `, metrics on http://${dg.http.host}:${dg.http.port}/metrics` : '') +
      (dg.unixSocket ? `, and on the Unix-domain socket ${dg.unixSocket}` : '') +
      `\nconnect with:  psql postgres://${user}@${dg.address.host}:${dg.address.port}/${db}\n`,
  );
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal: sig }, 'shutting down: no new connections, running statements may finish');
    dg.close().then(
      () => process.exit(0),
      (e) => {
        logger.error({ err: e }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`duckgate: ${(e as Error).message}\n\n${helpText()}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(helpText());
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const flags: Record<string, string | undefined> = {
    upstream: values.upstream,
    listen: values.listen,
    'unix-socket-dir': values['unix-socket-dir'],
    http: values.http,
    'data-dir': values['data-dir'],
    config: values.config,
    redis: values.redis,
  };
  const [cmd, sub, ...rest] = positionals;
  try {
    switch (cmd) {
      case 'start':
        await runStart(flags);
        return -1; // keeps running
      case 'mirror':
        return await runMirror(sub, rest, flags);
      case undefined:
        process.stdout.write(helpText());
        return 0;
      default:
        process.stderr.write(`duckgate: unknown command "${cmd}"\n\n${helpText()}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`duckgate: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`duckgate: ${e instanceof Error ? (e.stack ?? e.message) : `failed: ${String(e)}`}\n`);
    return 1;
  }
}

async function runMirror(sub: string | undefined, tables: string[], flags: Record<string, string | undefined>): Promise<number> {
  const cfg = loadConfig({ flags });
  if (!cfg.upstream) {
    process.stderr.write('duckgate: mirror commands need --upstream (or DUCKGATE_UPSTREAM / upstream in the config file)\n');
    return 2;
  }
  const { mirrorVerify, mirrorDrop, formatVerifyTable } = await import('./mirror/index.js');
  let upstreamUrl: string;
  try {
    upstreamUrl = await controlUrl(cfg.upstream, upstreamTarget(cfg.upstream, cfg.limits.upstreamConnectTimeoutMs));
  } catch (e) {
    throw new ConfigError(`upstream: ${(e as Error).message}`);
  }
  switch (sub) {
    case 'verify': {
      const result = await mirrorVerify({ config: cfg, upstreamUrl, dataDir: resolve(cfg.dataDir), tables: tables.length ? tables : undefined });
      process.stdout.write(formatVerifyTable(result) + '\n');
      return result.ok ? 0 : 1;
    }
    case 'drop':
      await mirrorDrop({ config: cfg, upstreamUrl });
      process.stdout.write(`dropped replication slot ${cfg.mirror.slotName} and publication ${cfg.mirror.publicationName}\n`);
      return 0;
    default:
      process.stderr.write(`duckgate: unknown mirror command "${sub ?? ''}" (verify, drop)\n`);
      return 2;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
