// Reads the rules files (rules/default.yaml shipped with duckgate, then any listed in config.rules).
// Each file has two sections: `mirror` (what is mirrored, see src/mirror/rules.ts) and `routing`
// (route overrides, see src/router/rules.ts). This module only reads and splits the YAML; each
// section is validated by its owner. Later files' entries are appended after earlier ones.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './load.js';

export const shippedRulesFile = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules', 'default.yaml');

export interface RawRules {
  /** the `mirror` mappings of each file, in order */
  mirror: Array<{ file: string; section: unknown }>;
  /** the `routing` mappings of each file, in order */
  routing: Array<{ file: string; section: unknown }>;
}

export function readRules(files: string[]): RawRules {
  const out: RawRules = { mirror: [], routing: [] };
  for (const file of files) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`rules file ${file}: ${(e as Error).message}`);
    }
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`rules file ${file}: expected a mapping with mirror: and routing:`);
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      if (k === 'mirror') out.mirror.push({ file, section: v });
      else if (k === 'routing') out.routing.push({ file, section: v });
      else throw new ConfigError(`rules file ${file}: unknown key "${k}" (known: mirror, routing)`);
    }
  }
  return out;
}
