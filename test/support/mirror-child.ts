// Runs only the Mirror (no proxy) against an upstream and a data dir: the crash test kills it with SIGKILL.
// argv: <upstreamUrl> <dataDir> <configJson>. Prints "READY <lsn>" once streaming, "APPLIED <lsn>" after batches.
import { DuckDBInstance } from '@duckdb/node-api';
import { Mirror } from '../../src/mirror/index.js';
import type { Config } from '../../src/config/schema.js';

const [url, dataDir, cfgJson] = process.argv.slice(2);
const config = JSON.parse(cfgJson!) as Config;
const db = await DuckDBInstance.create(':memory:');
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
