// Every prom-client metric duckgate exposes is defined here, in one registry, so /metrics, the admin
// console and the tests all see the same set. Sections are kept per subsystem.
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'duckgate_process_' });

// ---- proxy / sessions ------------------------------------------------------------------------------
export const connectionsTotal = new client.Counter({
  name: 'duckgate_connections_total',
  help: 'Client connections accepted',
  registers: [registry],
});
export const connectionsActive = new client.Gauge({
  name: 'duckgate_connections_active',
  help: 'Client connections currently open',
  registers: [registry],
});
export const connectionErrors = new client.Counter({
  name: 'duckgate_connection_errors_total',
  help: 'Client connections closed by an error, by SQLSTATE',
  labelNames: ['sqlstate'] as const,
  registers: [registry],
});
export const queriesTotal = new client.Counter({
  name: 'duckgate_queries_total',
  help: 'Statements handled, by engine and routing reason',
  labelNames: ['engine', 'reason'] as const,
  registers: [registry],
});
/**
 * Relay byte counts are plain numbers on the hot path (a prom-client inc() per chunk costs more than the
 * chunk's own bookkeeping); the counter reads them when scraped.
 */
export const relayed = { toUpstream: 0, toClient: 0 };
export const bytesRelayed = new client.Counter({
  name: 'duckgate_bytes_relayed_total',
  help: 'Bytes relayed between client and upstream',
  labelNames: ['direction'] as const,
  registers: [registry],
  collect() {
    this.reset();
    this.inc({ direction: 'to_upstream' }, relayed.toUpstream);
    this.inc({ direction: 'to_client' }, relayed.toClient);
  },
});
export const upstreamConnectErrors = new client.Counter({
  name: 'duckgate_upstream_connect_errors_total',
  help: 'Failed attempts to connect to the upstream PostgreSQL',
  registers: [registry],
});
export const cancelRequests = new client.Counter({
  name: 'duckgate_cancel_requests_total',
  help: 'CancelRequests received, by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
/** Connections by slot kind: 'authenticating' (startup, TLS, authentication) or 'authenticated'. */
export const connectionSlots = new client.Gauge({
  name: 'duckgate_connection_slots',
  help: 'Open client connections by slot: authenticating (not yet authenticated) or authenticated',
  labelNames: ['slot'] as const,
  registers: [registry],
});
export const connectionsRefused = new client.Counter({
  name: 'duckgate_connections_refused_total',
  help: 'Client connections refused or closed for want of a slot, by reason (max_connections, reserved, startup_evicted, startup_full)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

// ---- mirror (src/mirror) ---------------------------------------------------------------------------
// (mirror metrics are added here)
export const mirrorSnapshotRows = new client.Gauge({
  name: 'duckgate_mirror_snapshot_rows',
  help: 'Rows copied so far by the running (or last) snapshot of a table',
  labelNames: ['table'] as const,
  registers: [registry],
});
export const mirrorRowsApplied = new client.Counter({
  name: 'duckgate_mirror_rows_applied_total',
  help: 'Changed rows (change events) applied to the mirror, per table',
  labelNames: ['table'] as const,
  registers: [registry],
});
export const mirrorTransactionsApplied = new client.Counter({
  name: 'duckgate_mirror_transactions_applied_total',
  help: 'Upstream transactions applied to the mirror',
  registers: [registry],
});
export const mirrorApplyLatency = new client.Histogram({
  name: 'duckgate_mirror_apply_latency_seconds',
  help: 'From the upstream commit to the change being visible in DuckDB',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});
export const mirrorLagSeconds = new client.Gauge({
  name: 'duckgate_mirror_lag_seconds',
  help: 'Age of the newest upstream commit applied, when changes were pending, per table',
  labelNames: ['table'] as const,
  registers: [registry],
});
export const mirrorLagBytes = new client.Gauge({
  name: 'duckgate_mirror_lag_bytes',
  help: 'WAL bytes between the upstream WAL end and the applied LSN, per table',
  labelNames: ['table'] as const,
  registers: [registry],
});
export const mirrorRetainedWalBytes = new client.Gauge({
  name: 'duckgate_mirror_retained_wal_bytes',
  help: 'WAL the upstream retains for the mirror slot (pg_current_wal_lsn() - restart_lsn)',
  registers: [registry],
});
export const mirrorSlotInvalidations = new client.Counter({
  name: 'duckgate_mirror_slot_invalidations_total',
  help: 'Times the mirror slot was given up (dropped) and the tables copied again: reason=ceiling (more WAL retained than mirror.maxRetainedWalBytes) or lost (PostgreSQL invalidated it: max_slot_wal_keep_size)',
  labelNames: ['reason'],
  registers: [registry],
});
export const mirrorCompactions = new client.Counter({
  name: 'duckgate_mirror_compactions_total',
  help: 'Compaction runs (delta files folded into new base files), per table',
  labelNames: ['table'] as const,
  registers: [registry],
});
export const mirrorLakeBytes = new client.Gauge({
  name: 'duckgate_mirror_lake_bytes',
  help: 'Size of the Parquet lake on disk',
  registers: [registry],
});
export const mirrorAppliedLsn = new client.Gauge({
  name: 'duckgate_mirror_applied_lsn',
  help: 'LSN up to which all changes are visible in DuckDB (as a number)',
  registers: [registry],
});
export const mirrorUp = new client.Gauge({
  name: 'duckgate_mirror_up',
  help: '1 while the mirror streams changes, 0 while it starts, reconnects or retries (see /status for why)',
  registers: [registry],
});
export const mirrorRetries = new client.Counter({
  name: 'duckgate_mirror_retries_total',
  help: 'Times the mirror scheduled a new attempt after a failure (lost connection, PostgreSQL restart, unmet precondition, slot or lake busy)',
  registers: [registry],
});
export const mirrorTablesInError = new client.Gauge({
  name: 'duckgate_mirror_tables_in_error',
  help: 'Mirrored tables not served because a copy or an apply failed (each is retried with backoff)',
  registers: [registry],
});

// ---- router / duckdb engine ------------------------------------------------------------------------
// (router and DuckDB engine metrics are added here)
// DuckDB engine (src/engines/duckdb)
export const duckdbStatements = new client.Counter({
  name: 'duckgate_duckdb_statements_total',
  help: 'Statements the DuckDB engine was asked to run, by outcome (ok, refused, busy, input: a value DuckDB rejects, failed, timeout: duckdb.statementTimeoutMs, statement_timeout: the session statement_timeout, canceled)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const duckdbPreaggregated = new client.Counter({
  name: 'duckgate_duckdb_preaggregated_total',
  help: 'Statements the DuckDB engine started over pre-aggregated groups (a grouped level whose aggregates it computed in two steps)',
  registers: [registry],
});
export const duckdbRows = new client.Counter({
  name: 'duckgate_duckdb_rows_total',
  help: 'Rows encoded and returned by the DuckDB engine',
  registers: [registry],
});

// ---- session: the analytical path (src/session/analytics.ts) ---------------------------------------
export const duckdbStatementSeconds = new client.Histogram({
  name: 'duckgate_duckdb_statement_seconds',
  help: 'Time from DuckDB execution start to the last row written to the client',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});
export const shadowTotal = new client.Counter({
  name: 'duckgate_shadow_total',
  help: 'Shadow execution: DuckDB answers compared with PostgreSQL\'s, by outcome (same, different, inconclusive: a table changed in between or the mirror did not catch up, error: the Postgres run failed)',
  labelNames: ['outcome'],
  registers: [registry],
});
export const fenceWaitSeconds = new client.Histogram({
  name: 'duckgate_freshness_fence_wait_seconds',
  help: 'Time a strictly fresh DuckDB read waited for the mirror to reach the WAL position at its start (0 when it already had)',
  buckets: [0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});
export const duckdbFallbacks = new client.Counter({
  name: 'duckgate_duckdb_fallbacks_total',
  help: 'Statements DuckDB failed on (before the first row) that were re-run on Postgres',
  registers: [registry],
});
export const duckdbBreakerOpen = new client.Gauge({
  name: 'duckgate_duckdb_breaker_open',
  help: '1 while the DuckDB circuit breaker is open (everything goes to Postgres)',
  registers: [registry],
});

// ---- cache -----------------------------------------------------------------------------------------
// (cache metrics are added here)
