// Lake paths: every name PostgreSQL accepts maps to one folder strictly inside the lake, and nothing
// outside the lake can be removed through the mirror's removal guard.
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeName, encodeName, OutsideLakeError, removeInLake, removeTableFiles, tableDir } from '../../src/mirror/paths.js';

const hostile = ['..', '.', '/', '%2e%2e', 'a/../..', '../..', '.hidden', '_tmp', '_manifest.json', 'LOCK', '\\', '..\\..', ' ', 'é', 'a%2Fb', '%', '%5F'];

describe('lake paths', () => {
  const root = mkdtempSync(join(tmpdir(), 'duckgate-paths-'));
  const lake = join(root, 'data', 'lake');
  mkdirSync(lake, { recursive: true });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('maps every hostile name to a single folder strictly inside the lake', () => {
    for (const s of hostile)
      for (const t of hostile) {
        const d = tableDir(lake, s, t);
        const rel = relative(lake, d);
        expect(rel.split(sep), `${s}.${t}`).toHaveLength(2);
        expect(rel.startsWith('..'), `${s}.${t} -> ${rel}`).toBe(false);
        const [schemaDir, tableDirName] = rel.split(sep);
        expect(['.', '..', '', '_tmp', '_manifest.json', 'LOCK']).not.toContain(schemaDir);
        expect(['.', '..', '']).not.toContain(tableDirName);
      }
  });

  it('is reversible (so injective), and keeps the folder of names encodeURIComponent already kept safe', () => {
    const seen = new Set<string>();
    for (const s of [...hostile, 'public', 'cdx_records', 'Mixed Case', 'x'.repeat(63), 'é'.repeat(31)]) {
      expect(decodeName(encodeName(s))).toBe(s);
      expect(decodeName(encodeName(s, true))).toBe(s);
      expect(seen.has(encodeName(s))).toBe(false);
      seen.add(encodeName(s));
      expect(Buffer.byteLength(encodeName(s, true))).toBeLessThan(255);
    }
    for (const s of ['public', 'cdx_records', 'Mixed Case', 'a%b', 'a/b', 'é', '_private_table']) expect(encodeName(s)).toBe(encodeURIComponent(s));
    expect(encodeName('public', true)).toBe('public');
    expect(encodeName('_x', true)).toBe('%5Fx');
    expect(encodeName('..')).toBe('%2E.');
  });

  it('refuses to remove the lake itself, its parent, or anything reached through a symlink out of it', () => {
    const outside = join(root, 'outside');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'keep.txt'), 'x');
    symlinkSync(outside, join(lake, 'link'));
    for (const p of [lake, join(lake, '..'), join(lake, '..', '..'), join(lake, 'link', 'keep.txt'), join(lake, 'a', '..'), outside, '/'])
      expect(() => removeInLake(lake, p, { recursive: true }), p).toThrow(OutsideLakeError);
    expect(existsSync(join(outside, 'keep.txt'))).toBe(true);
    expect(existsSync(lake)).toBe(true);
    // the symlink itself is inside the lake: removing it removes the link, not its target
    removeInLake(lake, join(lake, 'link'), { recursive: true });
    expect(existsSync(join(lake, 'link'))).toBe(false);
    expect(existsSync(join(outside, 'keep.txt'))).toBe(true);
  });

  it('removes a table by its folder and its recorded files, leaving other tables and the lake', () => {
    const a = tableDir(lake, 'public', '..');
    const b = tableDir(lake, 'public', 'b');
    mkdirSync(join(a, '_delta'), { recursive: true });
    mkdirSync(b, { recursive: true });
    writeFileSync(join(a, 'g1.parquet'), 'x');
    writeFileSync(join(b, 'g1.parquet'), 'x');
    // a file an older layout recorded elsewhere in the lake, and one recorded outside it (never removed)
    mkdirSync(join(lake, 'old'), { recursive: true });
    writeFileSync(join(lake, 'old', 'g0.parquet'), 'x');
    writeFileSync(join(root, 'g0.parquet'), 'x');
    removeTableFiles(lake, 'public', '..', ['old/g0.parquet', '../../g0.parquet']);
    expect(existsSync(a)).toBe(false);
    expect(existsSync(join(lake, 'old'))).toBe(false);
    expect(existsSync(join(b, 'g1.parquet'))).toBe(true);
    expect(existsSync(join(root, 'g0.parquet'))).toBe(true);
  });
});
