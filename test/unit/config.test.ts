import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaults, loadConfig, parseHostPort } from '../../src/config/load.js';
import { normaliseUpstream, parseConninfo } from '../../src/config/conninfo.js';

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

describe('upstream connection string (libpq URI or key=value; issue 9)', () => {
  const up = (s: string) => loadConfig({ env: {}, flags: { upstream: s } }).upstream;

  it('refuses host:port and other strings that are neither a URL nor key=value, with one line', () => {
    // once read by the WHATWG URL parser as scheme "localhost:", path "7101": 127.0.0.1:5432, database 101
    expect(() => up('localhost:7101')).toThrow(/^upstream: "localhost:7101" is neither a postgres:\/\/ URL nor a key=value connection string/);
    expect(() => up('db.example.com')).toThrow(ConfigError);
    expect(() => up('mysql://h/db')).toThrow(ConfigError);
  });

  it('never fills in a host; a missing port is libpq\'s documented 5432', () => {
    expect(() => up('postgres:///db')).toThrow(/no host given/);
    expect(() => up('dbname=app user=x')).toThrow(/no host given/);
    expect(up('postgresql://h/db')).toBe('postgres://h:5432/db');
    expect(up('host=h dbname=db')).toBe('postgres://h:5432/db');
  });

  it('reads key=value with libpq quoting', () => {
    expect(parseConninfo("host=db.local port = 7101 dbname='my db' user=app password='it\\'s a \\\\ secret' application_name=x")).toMatchObject({
      host: 'db.local',
      port: 7101,
      dbname: 'my db',
      user: 'app',
      password: "it's a \\ secret",
      sslmode: 'disable',
      extra: { application_name: 'x' },
    });
    expect(parseConninfo('host=h password=a\\ b').password).toBe('a b');
    expect(() => parseConninfo("host='h")).toThrow(/unterminated quoted string/);
    expect(() => parseConninfo('host=h port')).toThrow(/missing "=" after "port"/);
    expect(() => parseConninfo('host=h bogus=1')).toThrow(/invalid connection option "bogus"/);
    expect(() => parseConninfo('host=h hostaddr=1.2.3.4')).toThrow(/"hostaddr" is not supported/);
    // what provider URLs often carry: accepted when duckgate does what it says, refused when it cannot
    expect(parseConninfo('postgresql://u:p@h/db?sslmode=require&channel_binding=prefer&target_session_attrs=any')).toMatchObject({ host: 'h', sslmode: 'require', extra: {} });
    expect(() => parseConninfo('postgresql://u:p@h/db?sslmode=require&channel_binding=require')).toThrow(/channel_binding=require is not supported by duckgate \(authentication is relayed/);
    expect(() => parseConninfo('host=h gssencmode=require')).toThrow(/gssencmode=require/);
    expect(() => parseConninfo('host=a,b')).toThrow(/several hosts/);
    expect(() => parseConninfo('host=h port=70000')).toThrow(/invalid port number/);
    expect(() => parseConninfo('host=h sslmode=sometimes')).toThrow(/invalid sslmode value/);
  });

  it('reads URIs as libpq does: percent-decoding, [IPv6], query keywords, ssl=true', () => {
    expect(parseConninfo('postgres://us%40r:p%3Ass@[::1]:6000/d%20b?sslmode=verify-full&sslrootcert=/ca.pem')).toMatchObject({
      host: '::1',
      port: 6000,
      user: 'us@r',
      password: 'p:ss',
      dbname: 'd b',
      sslmode: 'verify-full',
      sslrootcert: '/ca.pem',
    });
    expect(parseConninfo('postgresql://h/db?ssl=true').sslmode).toBe('require');
    expect(parseConninfo('postgres://h/db?host=%2Fvar%2Frun%2Fpostgresql').host).toBe('/var/run/postgresql');
    expect(() => parseConninfo('postgres://h/db?frobnicate=1')).toThrow(/invalid connection option "frobnicate"/);
    expect(() => parseConninfo('postgres://h:x1/db')).toThrow(/invalid port number/);
    expect(() => parseConninfo('postgres://h/d%zz')).toThrow(/percent-encoded/);
    expect(() => parseConninfo('postgres://h/db?sslmode=verify-ca')).toThrow(/verify-ca needs sslrootcert/);
  });

  it('normalises to one URL that reads back as itself and keeps libpq\'s sslmode meaning for node-postgres', () => {
    for (const s of [
      "host=/tmp port=6000 user=u password='a b' dbname=d",
      'postgres://u:p@[::1]:5433/db?sslmode=require&application_name=dg',
      'postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem',
      "host=h sslmode=require sslrootcert='/my certs/ca+1.pem' password='p w+%' options='-c search_path=a,b'",
    ]) {
      const u = normaliseUpstream(s);
      expect(normaliseUpstream(u), s).toBe(u);
      expect(parseConninfo(u), s).toEqual(parseConninfo(s));
    }
    expect(normaliseUpstream('postgres://h/db?sslmode=require')).toBe('postgres://h:5432/db?sslmode=require&uselibpqcompat=true');
    // node-postgres reads the normalised URL to the same values (its control connections use it)
    const u = normaliseUpstream("host=h sslmode=require sslrootcert='/my certs/ca+1.pem' password='p w+%' options='-c search_path=a,b'");
    const viaPg = new URL(u);
    expect(decodeURIComponent(viaPg.password)).toBe('p w+%');
    expect(viaPg.searchParams.get('sslrootcert')).toBe('/my certs/ca+1.pem');
    expect(viaPg.searchParams.get('options')).toBe('-c search_path=a,b');
  });

  it('never prints the password in an error', () => {
    expect(() => up('postgres://u:hunter2@h/db?bogus=1')).toThrow(/bogus/);
    try {
      up("host=h:1 password='hunter2' ???");
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
