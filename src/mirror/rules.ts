// Validation of the `mirror:` sections of the rules files (read and split by src/config/rules.ts).
//
//   mirror:
//     include: ['public.*']            # 'schema.table' patterns ('*' matches any run of characters)
//     exclude: ['public.secret_*']
//     tables:
//       public.cdx_records: { partitionBy: 'month(archive_date)' }
//
// Unknown keys are rejected with the file and path. Later files' lists are appended; a later file's
// per-table entry replaces an earlier one.
import { ConfigError } from '../config/load.js';

export type PartitionKey =
  | { kind: 'column'; column: string }
  | { kind: 'year' | 'month' | 'day'; column: string };

export interface MirrorRules {
  include: string[];
  exclude: string[];
  tables: Map<string, { partitionBy: PartitionKey | null }>;
}

export function emptyMirrorRules(): MirrorRules {
  return { include: [], exclude: [], tables: new Map() };
}

function fail(file: string, path: string, msg: string): never {
  throw new ConfigError(`rules file ${file}: mirror${path}: ${msg}`);
}

function stringList(v: unknown, file: string, path: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(file, path, 'expected a list of "schema.table" patterns');
  for (const p of v as string[]) if (!/^[^.]+\.[^.]+$/.test(p)) fail(file, path, `pattern "${p}" must look like schema.table (use * as a wildcard)`);
  return v as string[];
}

export function parsePartitionKey(s: string): PartitionKey | null {
  const fn = /^\s*(year|month|day)\s*\(\s*([A-Za-z_][A-Za-z0-9_$]*)\s*\)\s*$/.exec(s);
  if (fn) return { kind: fn[1] as 'year' | 'month' | 'day', column: fn[2]! };
  const col = /^\s*([A-Za-z_][A-Za-z0-9_$]*)\s*$/.exec(s);
  if (col) return { kind: 'column', column: col[1]! };
  return null;
}

export function parseMirrorRules(sections: Array<{ file: string; section: unknown }>): MirrorRules {
  const out = emptyMirrorRules();
  for (const { file, section } of sections) {
    if (section === null || section === undefined) continue;
    if (typeof section !== 'object' || Array.isArray(section)) fail(file, '', 'expected a mapping with include, exclude, tables');
    for (const [k, v] of Object.entries(section as Record<string, unknown>)) {
      switch (k) {
        case 'include':
          out.include.push(...stringList(v, file, '.include'));
          break;
        case 'exclude':
          out.exclude.push(...stringList(v, file, '.exclude'));
          break;
        case 'tables': {
          if (v === null || v === undefined) break;
          if (typeof v !== 'object' || Array.isArray(v)) fail(file, '.tables', 'expected a mapping of "schema.table" to settings');
          for (const [t, spec] of Object.entries(v as Record<string, unknown>)) {
            if (!/^[^.*]+\.[^.*]+$/.test(t)) fail(file, `.tables.${t}`, 'table names must be exact "schema.table"');
            let partitionBy: PartitionKey | null = null;
            if (spec !== null && spec !== undefined) {
              if (typeof spec !== 'object' || Array.isArray(spec)) fail(file, `.tables.${t}`, 'expected a mapping (partitionBy)');
              for (const [sk, sv] of Object.entries(spec as Record<string, unknown>)) {
                if (sk !== 'partitionBy') fail(file, `.tables.${t}`, `unknown key "${sk}" (known: partitionBy)`);
                if (sv === null) continue;
                if (typeof sv !== 'string') fail(file, `.tables.${t}.partitionBy`, 'expected a column name or year(col)/month(col)/day(col)');
                partitionBy = parsePartitionKey(sv);
                if (partitionBy === null) fail(file, `.tables.${t}.partitionBy`, `"${sv}" is not a column name or year(col)/month(col)/day(col)`);
              }
            }
            out.tables.set(t, { partitionBy });
          }
          break;
        }
        default:
          fail(file, '', `unknown key "${k}" (known: include, exclude, tables)`);
      }
    }
  }
  return out;
}

function globToRegExp(p: string): RegExp {
  return new RegExp(`^${p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Whether `schema.table` is mirrored: in the configured schemas, matching include (if any), not excluded. */
export function isIncluded(rules: MirrorRules, schemas: string[], schema: string, table: string): boolean {
  const full = `${schema}.${table}`;
  if (rules.include.length > 0) {
    if (!rules.include.some((p) => globToRegExp(p).test(full))) return false;
  } else if (!schemas.includes(schema)) return false;
  return !rules.exclude.some((p) => globToRegExp(p).test(full));
}
