// Runs only the Mirror (no proxy) against an upstream and a data dir: the crash test kills it with SIGKILL.
// argv: <upstreamUrl> <dataDir> <configJson>. Prints "READY <lsn>" once streaming, "APPLIED <lsn>" after batches.
// DUCKGATE_TEST_DUCKDB_FILE=1: the serving tables live in a DuckDB file in the data dir, opened as main.ts
// opens it (reset first), so the crash test can measure what a real duckgate keeps on disk.
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openDuckdbInstance } from '../../src/engines/duckdb/instance.js';
import { Mirror } from '../../src/mirror/index.js';
import { resetServingFile } from '../../src/mirror/storage.js';
import type { Config } from '../../src/config/schema.js';

const [url, dataDir, cfgJson] = process.argv.slice(2);
const config = JSON.parse(cfgJson!) as Config;
let db: DuckDBInstance;
if (process.env.DUCKGATE_TEST_DUCKDB_FILE === '1') {
  const path = join(dataDir!, 'duckdb', 'duckgate.duckdb');
  resetServingFile(dataDir!, path);
  db = await openDuckdbInstance({ path, threads: 1 });
} else db = await DuckDBInstance.create(':memory:');
const mirror = new Mirror({ config, upstreamUrl: url!, duckdb: db, dataDir: dataDir! });
mirror.on('applied', (e: { lsn: string }) => process.stdout.write(`APPLIED ${e.lsn}\n`));
await mirror.start();
if (mirror.problem) {
  process.stdout.write(`PROBLEM ${mirror.problem}\n`);
  process.exit(2);
}
process.stdout.write(`READY ${mirror.appliedLsn()}\n`);
process.on('SIGTERM', () => {
  void mirror.stop().then(() => process.exit(0));
});
