// The one configuration schema: every option's type, default and documentation lives here. The YAML
// file, DUCKGATE_* environment variables and command-line flags are all validated against it, in that
// order of increasing precedence; unknown keys are rejected with the path that was wrong.

export type Kind = 'string' | 'string?' | 'number' | 'boolean' | 'string[]';

export interface Option<K extends Kind = Kind> {
  kind: K;
  default: KindType<K>;
  doc: string;
  /** environment variable that sets it */
  env?: string;
  /** command-line flag that sets it (without the leading --) */
  flag?: string;
}

type KindType<K extends Kind> = K extends 'string'
  ? string
  : K extends 'string?'
    ? string | null
    : K extends 'number'
      ? number
      : K extends 'boolean'
        ? boolean
        : string[];

function opt<K extends Kind>(kind: K, def: KindType<K>, doc: string, extra: { env?: string; flag?: string } = {}): Option<K> {
  return { kind, default: def, doc, ...extra };
}

/** The schema tree. Leaves are Options; inner nodes are sections (YAML mappings). */
export const schema = {
  listen: opt('string', '127.0.0.1:6432', 'Address clients connect to (host:port).', { env: 'DUCKGATE_LISTEN', flag: 'listen' }),
  upstream: opt(
    'string?',
    null,
    'PostgreSQL to proxy, as libpq reads it: a postgres:// or postgresql:// URL, or a key=value string ("host=db port=5432 dbname=app sslmode=verify-full sslrootcert=ca.pem"). It gives the server address, TLS settings and duckgate\'s own control credentials; clients\' own user and database are used for their sessions. A host is required (a path: the directory of the server\'s Unix-domain socket); port defaults to 5432, sslmode to disable (prefer, require, verify-ca, verify-full as in libpq). Unset: an embedded PostgreSQL with demo data is started under the data dir.',
    { env: 'DUCKGATE_UPSTREAM', flag: 'upstream' },
  ),
  unixSocketDir: opt(
    'string?',
    null,
    'Also accept clients on a Unix-domain socket in this folder, at <dir>/.s.PGSQL.<listen port> as PostgreSQL names it (psql -h <dir> -p <port>); unset: no socket. A stale socket file is replaced at start when nothing answers on it, and removed at shutdown.',
    { env: 'DUCKGATE_UNIX_SOCKET_DIR', flag: 'unix-socket-dir' },
  ),
  http: opt('string?', '127.0.0.1:9187', 'Address of the HTTP endpoint serving /healthz, /readyz and /metrics; empty disables it.', {
    env: 'DUCKGATE_HTTP',
    flag: 'http',
  }),
  dataDir: opt('string', './.duckgate', 'Folder for duckgate\'s state: the Parquet lake, DuckDB files, the embedded PostgreSQL.', {
    env: 'DUCKGATE_DATA_DIR',
    flag: 'data-dir',
  }),
  redis: opt('string?', null, 'Redis URL for the shared (L2) result cache. Accepted so deployments can set it now; the result cache itself is not built yet, so it is not used.', { env: 'DUCKGATE_REDIS', flag: 'redis' }),
  rules: opt('string[]', [], 'Extra rules files (YAML) read after the shipped rules/default.yaml.'),
  tls: {
    cert: opt('string?', null, 'PEM certificate offered to clients that send SSLRequest; unset: SSL is refused with N.', { env: 'DUCKGATE_TLS_CERT' }),
    key: opt('string?', null, 'PEM private key for tls.cert.', { env: 'DUCKGATE_TLS_KEY' }),
  },
  limits: {
    maxMessageBytes: opt('number', 64 * 1024 * 1024, 'Largest frontend message accepted; larger ones are a protocol violation (08P01).'),
    startupTimeoutMs: opt('number', 10_000, 'A connection that has not completed startup and authentication by then is closed (08P01).'),
    upstreamConnectTimeoutMs: opt('number', 5_000, 'How long to wait for the upstream PostgreSQL to accept a connection.'),
    shutdownTimeoutMs: opt('number', 10_000, 'On SIGTERM/SIGINT: how long running sessions may finish before they are closed.'),
    maxConnections: opt('number', 1000, 'Authenticated client sessions at once; more are refused with 53300. Connections still authenticating are counted apart (maxStartupConnections).'),
    reservedConnections: opt('number', 3, 'Of maxConnections, this many are kept for superusers (the upstream reports is_superuser=on), as PostgreSQL\'s superuser_reserved_connections: others are refused with 53300 once only these are left.'),
    maxStartupConnections: opt('number', 100, 'Connections still in startup or authentication at once. When a new one arrives and all are taken, the oldest of them that has not sent a startup packet, else the oldest authenticating for over a second, is closed, so sockets that never authenticate cannot keep real clients out; if all are younger (a burst of real clients), the new one is refused with 53300.'),
  },
  // ---- mirror (src/mirror) ----------------------------------------------------------------------------
  mirror: {
    enabled: opt('boolean', true, 'Mirror tables into the Parquet lake (<dataDir>/lake) by logical replication.', { env: 'DUCKGATE_MIRROR' }),
    schemas: opt('string[]', ['public'], 'Schemas whose tables are mirrored when the rules give no include list.'),
    slotName: opt('string', 'duckgate_mirror', 'Logical replication slot duckgate creates and owns (cluster-wide name).'),
    publicationName: opt('string', 'duckgate_mirror', 'Publication duckgate creates and keeps in sync with the mirrored tables.'),
    batchMaxRows: opt('number', 200_000, 'A micro-batch is applied once it holds this many changed rows (or the stream is idle).'),
    batchMaxMs: opt('number', 100, 'A micro-batch is applied at the latest this long after its first commit.'),
    durableIntervalMs: opt('number', 1_000, 'Group commit: applied batches are written to the lake (delta Parquet + fsync + manifest) and confirmed to the slot at most this long after they became visible (sooner after batchMaxRows rows).'),
    statusIntervalMs: opt('number', 1_000, 'How often the slot is sent a status update (confirmed LSN) when nothing else happens.'),
    compactionIntervalMs: opt('number', 60_000, 'How often tables with pending delta files are compacted into new base files (0: never).'),
    compactionMinDeltaFiles: opt('number', 20, 'A table is compacted once it has at least this many delta files.'),
    snapshotChunkRows: opt('number', 1_000_000, 'Rows per Parquet file written during a snapshot.'),
    catalogPollMs: opt('number', 10_000, 'How often the catalog is checked for new, dropped or renamed tables.'),
    retryMinMs: opt('number', 500, 'First delay before the mirror retries after a lost connection, a PostgreSQL restart, an unmet precondition (wal_level), a slot or lake held by another process, or a table it could not copy.'),
    retryMaxMs: opt('number', 30_000, 'The retry delay doubles (with jitter) up to this ceiling; the mirror never gives up.'),
    maxRetainedWalBytes: opt('number', 1024 * 1024 * 1024, "Ceiling on the WAL the upstream keeps for the mirror's slot (pg_current_wal_lsn() - restart_lsn): beyond it the slot is given up (dropped) and the tables copied again, so a stuck or long-stopped duckgate cannot fill the server's disk (a mirror still catching up a backlog is given up only past twice the ceiling); 0: no ceiling. Checked every walCheckMs while streaming and at each start. While duckgate is not running only the server can bound it: set max_slot_wal_keep_size (a slot it invalidates is detected and recreated)."),
    walCheckMs: opt('number', 10_000, 'How often the WAL retained for the slot is checked against maxRetainedWalBytes (and for a slot PostgreSQL invalidated).'),
    maxLagMs: opt('number', 0, 'Freshness of DuckDB reads when no rule, hint or SET duckgate.max_lag says otherwise. 0 (strict): a read sees every transaction committed anywhere before it began, as a READ COMMITTED statement on Postgres does (it waits up to analytics.freshnessWaitMs for the mirror to reach the WAL position at its start, else Postgres answers). A number of milliseconds opts every read into that much staleness instead.'),
  },
  // ---- the analytical path (src/session/analytics.ts) ----
  analytics: {
    enabled: opt('boolean', true, 'Answer analytical reads over mirrored tables from DuckDB; false: duckgate is a pure relay.', { env: 'DUCKGATE_ANALYTICS' }),
    freshnessWaitMs: opt('number', 500, 'How long a strictly fresh read (and, under an opt-in max_lag, a read after the session\'s own write) may wait for the mirror to reach the WAL position at its start before it goes to Postgres.'),
    allowReadOnlyTransactions: opt('boolean', false, 'Also let DuckDB answer inside READ ONLY transactions at REPEATABLE READ or SERIALIZABLE, each statement then seeing the mirror at its own start instead of the transaction\'s snapshot. READ COMMITTED transaction blocks need no option: their reads are served until the transaction\'s first write.'),
    breakerErrorPercent: opt('number', 50, 'The DuckDB circuit breaker opens when this percentage of statements in its window fail.'),
    breakerResetMs: opt('number', 30_000, 'How long the DuckDB breaker stays open before it lets a trial statement through.'),
    failedFingerprintTtlMs: opt('number', 600_000, 'A statement shape that failed on DuckDB goes to Postgres for this long.'),
    shadowSampleRate: opt('number', 0, 'Shadow execution: the share (0 to 1) of DuckDB answers run again on PostgreSQL after the client has its answer, on duckgate\'s own connection, one at a time, and compared (duckgate_shadow_total by outcome). A difference is logged (the statement\'s fingerprint and tables, never values) and that statement shape goes to PostgreSQL from then on. Samples whole text results of statements without a clock or declared parameter types, outside transaction blocks. 0: off.'),
    shadowMaxRows: opt('number', 10_000, 'Shadow execution compares results of at most this many rows (larger ones are not kept).'),
  },
  embedded: {
    port: opt('number', 0, 'Port of the embedded PostgreSQL (0: a free port chosen at start).'),
    demoRows: opt('number', 20_000, 'Rows of cdx_records in the demo data loaded into a new embedded PostgreSQL.'),
  },
  // ---- DuckDB engine (src/engines/duckdb) ----
  duckdb: {
    path: opt('string', 'duckdb/duckgate.duckdb', 'DuckDB database file, relative to dataDir (absolute paths are kept; ":memory:" for an in-memory instance).', {
      env: 'DUCKGATE_DUCKDB_PATH',
    }),
    threads: opt('number', 0, 'DuckDB worker threads (0: DuckDB\'s default, the number of cores).', { env: 'DUCKGATE_DUCKDB_THREADS' }),
    memoryLimit: opt('string', '', 'DuckDB memory_limit, e.g. "4GB" (empty: DuckDB\'s default, 80% of RAM).', { env: 'DUCKGATE_DUCKDB_MEMORY_LIMIT' }),
    statementTimeoutMs: opt('number', 60_000, 'A statement DuckDB has worked on longer than this before its first rows reach the client is interrupted and re-run on Postgres with what is left of the session\'s statement_timeout; once rows are sent it can no longer move and runs to its end; 0 disables. The session\'s own statement_timeout ends a statement at its deadline with 57014, as Postgres does.'),
    connections: opt('number', 4, 'Statements DuckDB works on at once (and idle DuckDB connections kept). A result waiting on its client (a portal read in pieces, a client reading slowly) keeps its own connection but does not count.'),
    queueTimeoutMs: opt('number', 10_000, 'A statement waiting longer than this for DuckDB (all `connections` running statements) goes to Postgres instead.'),
  },
} as const;

type Tree = { readonly [k: string]: Option | Tree };

export type ConfigOf<T extends Tree> = {
  -readonly [K in keyof T]: T[K] extends Option<infer Kd> ? KindType<Kd> : T[K] extends Tree ? ConfigOf<T[K]> : never;
};

export type Config = ConfigOf<typeof schema>;

export function isOption(x: unknown): x is Option {
  return typeof x === 'object' && x !== null && 'kind' in x && 'doc' in x && 'default' in x;
}
