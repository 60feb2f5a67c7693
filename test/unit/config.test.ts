import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaults, loadConfig, parseHostPort } from '../../src/config/load.js';

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'dgcfg-')), 'c.yaml');
  writeFileSync(p, text);
  return p;
}

describe('config', () => {
  it('has defaults', () => {
    const d = defaults();
    expect(d.listen).toBe('127.0.0.1:6432');
    expect(d.upstream).toBeNull();
    expect(d.limits.maxMessageBytes).toBeGreaterThan(0);
  });

  it('file < env < flags', () => {
    const f = file('listen: 127.0.0.1:7000\nhttp: 127.0.0.1:7001\nlimits:\n  startupTimeoutMs: 1234\n');
    const env = { DUCKGATE_CONFIG: f, DUCKGATE_HTTP: '127.0.0.1:7002', DUCKGATE_LISTEN: '127.0.0.1:7003' };
    const cfg = loadConfig({ env, flags: { listen: '127.0.0.1:7004' } });
    expect(cfg.listen).toBe('127.0.0.1:7004');
    expect(cfg.http).toBe('127.0.0.1:7002');
    expect(cfg.limits.startupTimeoutMs).toBe(1234);
  });

  it('rejects unknown keys with their path', () => {
    const f = file('limits:\n  maxMesageBytes: 10\n');
    expect(() => loadConfig({ env: {}, flags: { config: f } })).toThrow(/unknown config key "limits.maxMesageBytes"/);
  });

  it('rejects wrong types', () => {
    const f = file('limits:\n  maxMessageBytes: lots\n');
    expect(() => loadConfig({ env: {}, flags: { config: f } })).toThrow(ConfigError);
  });

  it('an empty env value unsets an optional string', () => {
    expect(loadConfig({ env: { DUCKGATE_HTTP: '' } }).http).toBeNull();
  });

  it('reports a missing file', () => {
    expect(() => loadConfig({ env: {}, flags: { config: '/nonexistent/duckgate.yaml' } })).toThrow(/cannot read config file/);
  });

  it('parses host:port', () => {
    expect(parseHostPort('0.0.0.0:6432', 'x')).toEqual({ host: '0.0.0.0', port: 6432 });
    expect(parseHostPort('[::1]:5', 'x')).toEqual({ host: '::1', port: 5 });
    expect(parseHostPort('6432', 'x')).toEqual({ host: '127.0.0.1', port: 6432 });
    expect(() => parseHostPort('nope', 'listen')).toThrow(/listen/);
  });
});
