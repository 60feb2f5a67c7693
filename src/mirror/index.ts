/**
 * The Parquet mirror (issue 3): a faithful, fresh, durable copy of the mirrored Postgres tables.
 *
 * Contract (relied on by the router, the DuckDB engine, the session and the CLI):
 *
 *   new Mirror({ config, upstreamUrl, duckdb, dataDir })
 *     upstreamUrl: superuser/replication-capable control URL including the database
 *     duckdb:      the DuckDBInstance shared with the query engine (serving tables are created in it)
 *   start()        checks preconditions (wal_level=logical, REPLICATION privilege, a free slot, a key per
 *                  table) and logs exactly what to change when one fails; takes the initial snapshot (or
 *                  resumes from the lake's durable LSN) and starts streaming. Resolves once streaming runs
 *                  (so after the initial snapshot), or once the first attempt failed; never throws. The
 *                  mirror never stops for good: a failed start, a lost connection, a PostgreSQL restart,
 *                  the slot or the lake held by another process are retried with capped, jittered
 *                  backoff (mirror.retryMinMs .. retryMaxMs); meanwhile `problem` says why, nothing is
 *                  servable and duckgate keeps proxying. A table that cannot be mirrored is skipped and
 *                  retried (lifecycle.ts), never the whole mirror.
 *   stop()         clean stop: everything applied is durable, the slot is told so.
 *   appliedLsn()   'X/Y': every change committed before it is visible in DuckDB (null before start).
 *   tables()       MirroredTable[]: what is mirrored, with primaryKey, state and lastError; serve only
 *                  state === 'ready' with an appliedLsn (null while the mirror reconnects).
 *   status()       MirrorStatus for /status: phase (starting/streaming/retrying/stopped), problem, next
 *                  retry, each table's state and last error, the tables not mirrored and why.
 *   notReadyReason()  why /readyz should fail (the mirror is retrying), else null.
 *   whyNotServed(schema, name)  one line saying why a table is not served from DuckDB (mirror not
 *                  running, the table's state and last error, skipped with the fix), null when served:
 *                  the detail for `/* duckgate: explain *\/` when the route is not_mirrored/no_mirror.
 *   waitFor(lsn, timeoutMs)  resolves true once appliedLsn() >= lsn (read-your-writes fencing helper).
 *   event 'applied' { lsn, tables: ['schema.table', …] } after each applied batch (tables = those that
 *                  changed; [] when only the position advanced).
 *   mirrorVerify(), formatVerifyTable(), mirrorDrop(): the CLI's `mirror verify` / `mirror drop`.
 *
 * Design (measured in bench/mirror.ts; figures in the report):
 * - Durable truth = the lake under <dataDir>/lake (see lake.ts): ZSTD Parquet base files, hive-partitioned
 *   by rule, plus delta files of changes since the last compaction, and _manifest.json (atomic, fsync'd)
 *   naming the files and the applied LSN. The slot's confirmed LSN only moves to what the manifest holds.
 *   On restart: unreferenced files are deleted, the stream resumes at the manifest LSN and transactions
 *   whose commit LSN is below it are skipped: kill -9 at any moment loses and duplicates nothing.
 * - Visibility and durability are decoupled (group commit, measured in bench/mirror.ts): a batch is made
 *   visible in the serving tables as soon as it is committed upstream; its events stay in DuckDB temp
 *   tables until the lake flush (every mirror.durableIntervalMs, or after batchMaxRows rows, or before any
 *   re-snapshot/stop) writes them as one delta file per table, fsyncs, writes the manifest and only then
 *   confirms the LSN to the slot. A crash loses only the in-memory serving copy, rebuilt from the lake,
 *   and the slot replays from the last durable LSN. Batches grow adaptively when the stream is behind
 *   (up to the last batch's apply time), and a batch's loads + serving changes are one DuckDB call.
 * - Serving = native DuckDB tables (duckdbRef '"schema"."table"' in the shared instance), rebuilt from
 *   the lake at start and kept in sync from the same apply loop: each micro-batch is applied in ONE
 *   DuckDB transaction (DELETE the touched keys, INSERT the latest upsert per key), before it is durable
 *   in the lake (group commit, above), so readers never see half a transaction. Chosen over views on read_parquet with
 *   merge-on-read because native tables scan several times faster (no Parquet decode, no window over the
 *   deltas per query) — see the bench figures; the lake stays the portable, crash-safe copy.
 * - Values travel as Postgres text (COPY csv for the snapshot, pgoutput proto 1 for changes) and are
 *   turned into typed DuckDB values by ONE cast expression per type (types.ts), so both paths agree.
 *   A column the mirror cannot hold exactly (unconstrained or >38-digit numeric, timetz, ranges, …) is
 *   kept as text with exact=false: statements touching it must go to Postgres.
 * - Schema changes: a Relation message that differs from the mirrored definition, or the periodic catalog
 *   check (new/dropped/renamed/altered tables), re-snapshots the table at a new consistent point
 *   (temporary slot with an exported snapshot) while the main stream continues; meanwhile the table is
 *   'resyncing' (not servable).
 * - Resilience (issue 9): supervisor.ts holds the mirror's phase (starting, streaming, retrying, stopped)
 *   and retries every ordinary failure with capped, jittered backoff (backoff.ts); after a failure while
 *   streaming the applied changes are made durable first, so the next session resumes keeping the
 *   serving tables. lifecycle.ts holds each table's state and its retry; catalog-sync.ts decides which
 *   tables are mirrored (and why not) and keeps the publication equal to them; guard.ts installs the
 *   event trigger that takes a table losing its replica identity out of the publication in the DDL's own
 *   transaction; lock.ts is the lake's lock (stale when its owner is dead, a zombie or a reused pid).
 *
 * Module layout (issue 9, "Shape of the mirror"):
 * - mirror.ts: the composition (public API above, supervision, start/resume/reconcile, re-snapshots,
 *   catalog poll); it wires the pieces below together and holds the per-table runtime map they share.
 * - apply.ts: the apply loop. Consumes the replication stream (pgoutput), assembles transactions, forms
 *   batches of whole committed transactions (adaptive size), hands them to a Destination and sends the
 *   slot its status. Knows nothing of DuckDB. `applied` moves when a batch is accepted; `confirmed` (the
 *   only position ever sent to the slot) moves only to what Destination.makeDurable() returned.
 * - destination.ts: the Destination interface (stage / discard / applyBatch -> accepted /
 *   makeDurable(upTo) -> durable LSN / durableLsn), after supabase etl's Accepted/Durable.
 * - duckdb-destination.ts: the DuckDB + lake destination (staged CSV, serving tables, delta files and
 *   manifest, table copies into base files and serving tables, loading from the lake, compaction).
 * - lifecycle.ts (table states, TableRuntime, and the TableRegistry of them all, shared by the three
 *   above), supervisor.ts (phases, retry schedule), catalog-sync.ts (which tables, publication, guard).
 * Left: the mirror drives the destination's table operations (beginCopy/copyTable/finishCopy,
 * removeTable, loadServing, compact, reset) on the concrete DuckDbDestination, not through an
 * interface; the snapshot copy (snapshot.ts) reads PostgreSQL and writes DuckDB in one stream, so it
 * stays on the destination's side.
 */
export { Mirror, type MirrorOptions, type MirroredTable, type MirrorPhase, type MirrorStatus, type TableState } from './mirror.js';
export { mirrorVerify, mirrorDrop, formatVerifyTable, type VerifyResult, type VerifyRow } from './verify.js';
export { parseMirrorRules, type MirrorRules, type PartitionKey } from './rules.js';
