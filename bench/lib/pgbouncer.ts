// A PgBouncer child in session mode, the reference point for "what a pooler in the path costs".
// PgBouncer refuses to run as root, so as root it is started as the `postgres` system user (runuser),
// with its generated config in a folder that user can read.
import { mkdtemp, writeFile, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/support/servers.js';
import { run, startChild, waitForPort, which, type ServerChild } from './processes.js';
import type { Endpoint } from './pgbench.js';

export interface Pgbouncer {
  endpoint: Endpoint;
  version: string;
  stop(): Promise<void>;
}

export type PgbouncerStart = { ok: true; bouncer: Pgbouncer } | { ok: false; reason: string };

const INSTALL_HINT = 'install it with `apt-get install -y pgbouncer` (Debian/Ubuntu) to include it';

export async function startPgbouncer(upstream: Endpoint): Promise<PgbouncerStart> {
  const bin = which('pgbouncer');
  if (!bin) return { ok: false, reason: `pgbouncer not found on PATH; ${INSTALL_HINT}` };
  const version = (await run(bin, ['-V'])).stdout.split('\n')[0]?.trim() ?? 'pgbouncer';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const runAs = isRoot ? which('runuser') : null;
  if (isRoot && !runAs) return { ok: false, reason: 'running as root and runuser is missing: pgbouncer refuses to run as root' };

  const dir = await mkdtemp(join(tmpdir(), 'duckgate-pgbouncer-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  await writeFile(join(dir, 'userlist.txt'), `${q(upstream.user)} ${q(upstream.password ?? '')}\n`, { mode: 0o644 });
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.host} port=${upstream.port}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      // clients are not checked (the bench is local); the server login uses the userlist password if any
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = session',
      'max_client_conn = 200',
      'default_pool_size = 50',
      'log_connections = 0',
      'log_disconnections = 0',
      'ignore_startup_parameters = extra_float_digits',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const ini = join(dir, 'pgbouncer.ini');
  const proc: ServerChild = runAs ? startChild(runAs, ['-u', 'postgres', '--', bin, ini]) : startChild(bin, [ini]);
  try {
    await waitForPort('127.0.0.1', port, 10_000, proc.child);
  } catch (e) {
    await proc.stop(2000);
    await rm(dir, { recursive: true, force: true });
    return { ok: false, reason: `pgbouncer did not start: ${(e as Error).message}\n${proc.tail()}` };
  }
  return {
    ok: true,
    bouncer: {
      endpoint: { ...upstream, host: '127.0.0.1', port },
      version,
      async stop() {
        await proc.stop(5000);
        await rm(dir, { recursive: true, force: true });
      },
    },
  };
}
