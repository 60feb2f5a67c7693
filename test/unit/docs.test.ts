// The README's configuration reference, the example config and --help must say what the code does.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown, exampleYaml } from '../../src/config/docs.js';
import { loadConfig, options } from '../../src/config/load.js';

describe('documentation stays true to the config schema', () => {
  it('README carries the generated reference (run npm run docs:config after changing the schema)', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain(configReferenceMarkdown());
  });

  it('duckgate.example.yaml is the generated example and loads cleanly', () => {
    expect(readFileSync('duckgate.example.yaml', 'utf8')).toBe(exampleYaml());
    const cfg = loadConfig({ flags: { config: 'duckgate.example.yaml' }, env: {} });
    expect(cfg.listen).toBe('127.0.0.1:6432');
  });

  it('every option has a doc string', () => {
    for (const { path, option } of options()) expect(option.doc.length, path).toBeGreaterThan(10);
  });
});
