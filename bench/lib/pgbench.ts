// pgbench runs and the parsing of their summary lines.
import { run } from './processes.js';

export type QueryMode = 'simple' | 'extended' | 'prepared';

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

export function endpointFromUrl(url: string): Endpoint {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
  };
}

function connArgs(e: Endpoint): string[] {
  return ['-h', e.host, '-p', String(e.port), '-U', e.user];
}

function env(e: Endpoint): NodeJS.ProcessEnv {
  // PGPASSWORD rather than a URL on the command line: pgbench takes no URL and `ps` would show it
  return { ...process.env, ...(e.password ? { PGPASSWORD: e.password } : {}) };
}

/** pgbench -i -s N (drops and recreates the pgbench_* tables in that database). */
export async function pgbenchInit(e: Endpoint, scale: number): Promise<void> {
  const r = await run('pgbench', ['-i', '-q', '-s', String(scale), ...connArgs(e), e.database], { env: env(e) });
  if (r.code !== 0) throw new Error(`pgbench -i failed (${r.code}):\n${r.stderr || r.stdout}`);
}

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  transactions: number;
  failed: number;
}

/** pgbench -S (select-only) for `seconds`, `clients` clients on as many threads. */
export async function pgbenchSelectOnly(e: Endpoint, mode: QueryMode, clients: number, seconds: number): Promise<PgbenchResult> {
  const args = ['-S', '-n', '-M', mode, '-c', String(clients), '-j', String(clients), '-T', String(seconds), ...connArgs(e), e.database];
  const r = await run('pgbench', args, { env: env(e) });
  if (r.code !== 0) throw new Error(`pgbench ${args.join(' ')} failed (${r.code}):\n${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`);
  return parsePgbench(r.stdout);
}

/** Reads the summary pgbench prints (PostgreSQL 15 wording). */
export function parsePgbench(out: string): PgbenchResult {
  const num = (re: RegExp): number | undefined => {
    const m = re.exec(out);
    return m ? Number(m[1]) : undefined;
  };
  const tps = num(/^tps = ([\d.]+)/m);
  const latencyMs = num(/^latency average = ([\d.]+) ms/m);
  const transactions = num(/^number of transactions actually processed: (\d+)/m);
  if (tps === undefined || latencyMs === undefined || transactions === undefined) throw new Error(`could not read pgbench output:\n${out}`);
  return { tps, latencyMs, transactions, failed: num(/^number of failed transactions: (\d+)/m) ?? 0 };
}
