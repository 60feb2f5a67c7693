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
export const bytesRelayed = new client.Counter({
  name: 'duckgate_bytes_relayed_total',
  help: 'Bytes relayed between client and upstream',
  labelNames: ['direction'] as const,
  registers: [registry],
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

// ---- mirror (src/mirror) ---------------------------------------------------------------------------
// (mirror metrics are added here)

// ---- router / duckdb engine ------------------------------------------------------------------------
// (router and DuckDB engine metrics are added here)

// ---- cache -----------------------------------------------------------------------------------------
// (cache metrics are added here)
