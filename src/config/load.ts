import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConninfoError, normaliseUpstream } from './conninfo.js';
import { isOption, schema, type Config, type Option } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Tree = { readonly [k: string]: Option | Tree };

/** Defaults for every option. */
export function defaults(): Config {
  const walk = (t: Tree): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(t)) out[k] = isOption(v) ? structuredClone(v.default) : walk(v as Tree);
    return out;
  };
  return walk(schema as unknown as Tree) as unknown as Config;
}

function coerce(o: Option, raw: unknown, where: string): unknown {
  switch (o.kind) {
    case 'string':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number') return String(raw);
      break;
    case 'string?':
      if (raw === null || raw === '') return null;
      if (typeof raw === 'string') return raw;
      break;
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (Number.isFinite(n)) return n;
      break;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'on') return true;
      if (raw === 'false' || raw === '0' || raw === 'off') return false;
      break;
    case 'string[]':
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw;
      if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter(Boolean);
      break;
  }
  throw new ConfigError(`${where}: expected ${o.kind}, got ${JSON.stringify(raw)}`);
}

function merge(target: Record<string, unknown>, t: Tree, src: unknown, path: string): void {
  if (src === null || src === undefined) return;
  if (typeof src !== 'object' || Array.isArray(src)) throw new ConfigError(`${path || 'config'}: expected a mapping`);
  for (const [k, v] of Object.entries(src as Record<string, unknown>)) {
    const where = path ? `${path}.${k}` : k;
    const node = t[k];
    if (node === undefined) {
      const known = Object.keys(t).join(', ');
      throw new ConfigError(`unknown config key "${where}" (known here: ${known})`);
    }
    if (isOption(node)) target[k] = coerce(node, v, where);
    else merge(target[k] as Record<string, unknown>, node as Tree, v, where);
  }
}

/** Every leaf option with its dotted path, for env/flag lookup and documentation. */
export function options(): Array<{ path: string; option: Option }> {
  const out: Array<{ path: string; option: Option }> = [];
  const walk = (t: Tree, prefix: string) => {
    for (const [k, v] of Object.entries(t)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (isOption(v)) out.push({ path: p, option: v });
      else walk(v as Tree, p);
    }
  };
  walk(schema as unknown as Tree, '');
  return out;
}

function setPath(cfg: Record<string, unknown>, path: string, o: Option, raw: unknown, where: string): void {
  const parts = path.split('.');
  let node = cfg;
  for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = coerce(o, raw, where);
}

export interface LoadInput {
  /** parsed --flag values, keyed by flag name */
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** a config object (e.g. from tests) merged after the file */
  overrides?: unknown;
}

/**
 * defaults < YAML file (--config / DUCKGATE_CONFIG) < overrides < environment < flags.
 */
export function loadConfig(input: LoadInput = {}): Config {
  const env = input.env ?? process.env;
  const flags = input.flags ?? {};
  const cfg = defaults() as unknown as Record<string, unknown>;
  const file = flags.config ?? env.DUCKGATE_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
    }
    merge(cfg, schema as unknown as Tree, doc, '');
  }
  if (input.overrides !== undefined) merge(cfg, schema as unknown as Tree, input.overrides, '');
  for (const { path, option } of options()) {
    if (option.env && env[option.env] !== undefined) setPath(cfg, path, option, env[option.env], option.env);
  }
  for (const { path, option } of options()) {
    if (option.flag && flags[option.flag] !== undefined) setPath(cfg, path, option, flags[option.flag], `--${option.flag}`);
  }
  // The upstream is read as libpq reads it (URL or key=value) and normalised to one URL, so the proxy,
  // the mirror and the CLI all see the same host, port and TLS settings; anything else is refused here.
  if (typeof cfg.upstream === 'string') {
    try {
      cfg.upstream = normaliseUpstream(cfg.upstream);
    } catch (e) {
      if (e instanceof ConninfoError) throw new ConfigError(`upstream: ${e.message}`);
      throw e;
    }
  }
  return cfg as unknown as Config;
}

/** host:port → parts; a bare port means 127.0.0.1. */
export function parseHostPort(s: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s) ?? /^()()(\d+)$/.exec(s);
  if (!m) throw new ConfigError(`${what}: expected host:port, got "${s}"`);
  const port = Number(m[3]);
  if (port < 0 || port > 65535) throw new ConfigError(`${what}: port out of range in "${s}"`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}
