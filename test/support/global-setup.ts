// Starts one embedded PostgreSQL and one redis-server for the whole run unless the environment already
// names servers. Test files isolate themselves with their own databases (createTestDatabase).
import { startEmbeddedPostgres, startRedis, type TestPostgres, type TestRedis } from './servers.js';

let pgServer: TestPostgres | undefined;
let redisServer: TestRedis | undefined;

export async function setup(): Promise<void> {
  if (!process.env.DUCKGATE_TEST_PG_URL) {
    pgServer = await startEmbeddedPostgres();
    process.env.DUCKGATE_TEST_PG_URL = pgServer.url;
    process.env.DUCKGATE_TEST_PG_EMBEDDED = '1';
  }
  if (!process.env.DUCKGATE_TEST_REDIS_URL) {
    redisServer = await startRedis();
    process.env.DUCKGATE_TEST_REDIS_URL = redisServer.url;
  }
}

export async function teardown(): Promise<void> {
  await redisServer?.stop();
  await pgServer?.stop();
}
