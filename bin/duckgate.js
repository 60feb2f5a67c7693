#!/usr/bin/env node
// Entry point for `npx duckgate`. A built tree (npm run build) runs from dist/; a fresh clone runs the
// TypeScript sources through tsx, so `npx duckgate start` works without a build step. A checkout whose
// sources changed after the last build runs the sources too (with a notice): a stale dist/ would
// otherwise run old code silently (benchmarks included).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli.js');
const sources = join(root, 'src');

/** Newest modification time of the .ts files under dir (0 when there is no such folder). */
function newestSource(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const stale = existsSync(built) && newestSource(sources) > statSync(built).mtimeMs;
if (existsSync(built) && !stale) {
  await import(pathToFileURL(built).href);
} else {
  if (stale) process.stderr.write('duckgate: src/ is newer than dist/ (run npm run build); running the sources\n');
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(sources, 'cli.ts')).href);
}
