// The upstream connection string, read as libpq reads it: a postgres:// or postgresql:// URI, or a
// key=value string ("host=db port=5433 dbname=app sslmode=verify-full"). Anything else is refused with
// a one-line message instead of being guessed at (`localhost:7101` once became host 127.0.0.1, port
// 5432, database "101" through the WHATWG URL parser).
//
// References: libpq "Connection Strings" (https://www.postgresql.org/docs/current/libpq-connect.html
// #LIBPQ-CONNSTRING) and its parser, src/interfaces/libpq/fe-connect.c (conninfo_parse for key=value:
// whitespace-separated, values optionally in single quotes, backslash escapes \' and \\;
// conninfo_uri_parse_options for URIs: userinfo up to the first '@', [IPv6] hosts, percent-decoding
// of every part, query parameters that are connection keywords).
//
// Defaults: a host must be given (libpq would pick a Unix socket or localhost; duckgate does not guess
// which server to proxy). A port that is not given is 5432, libpq's documented default; it is written
// into the normalised URL so every part of duckgate agrees on it.

export class ConninfoError extends Error {
  override name = 'ConninfoError';
}

/** What duckgate's upstream connections honour. */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/**
 * Keywords duckgate accepts. host/port/sslmode/sslrootcert/sslcert/sslkey shape every upstream
 * connection; user/password/dbname are duckgate's own control credentials (each client's session uses
 * its own startup user and database); the rest only reach duckgate's control connections (node-postgres)
 * or change nothing a proxy could honour differently.
 */
const ACCEPTED = new Set([
  'host',
  'port',
  'dbname',
  'user',
  'password',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'application_name',
  'fallback_application_name',
  'connect_timeout',
  'options',
  'client_encoding',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
]);

/**
 * libpq keywords whose default (or a value that changes nothing) duckgate does what they say: accepted
 * with those values (connection strings copied from a provider often carry them), refused with others.
 */
const ONLY_VALUES: Record<string, { values: string[]; why: string }> = {
  // the client's own SCRAM exchange is relayed to the upstream: a binding cannot cross a proxy
  channel_binding: { values: ['disable', 'prefer'], why: 'authentication is relayed, and channel binding cannot cross a proxy' },
  gssencmode: { values: ['disable', 'prefer'], why: 'duckgate does not use GSSAPI encryption to the upstream' },
  sslnegotiation: { values: ['postgres'], why: 'duckgate negotiates TLS with an SSLRequest' },
  target_session_attrs: { values: ['any'], why: 'duckgate connects to one server' },
  load_balance_hosts: { values: ['disable'], why: 'duckgate connects to one server' },
  sslsni: { values: ['1'], why: 'duckgate always sends the host name (not an address) as SNI' },
  sslcompression: { values: ['0'], why: 'TLS compression is not used' },
};

/** libpq keywords duckgate knows but does not implement: refused rather than silently ignored. */
const NOT_SUPPORTED = new Set([
  'hostaddr',
  'passfile',
  'tcp_user_timeout',
  'replication',
  'sslpassword',
  'sslcertmode',
  'sslcrl',
  'sslcrldir',
  'sslkeylogfile',
  'requirepeer',
  'require_auth',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'min_protocol_version',
  'max_protocol_version',
  'krbsrvname',
  'gsslib',
  'gssdelegation',
  'service',
]);

export interface Conninfo {
  /** a host name, an IP address, or (starting with '/') the directory of a Unix-domain socket */
  host: string;
  port: number;
  user: string | null;
  password: string | null;
  dbname: string | null;
  sslmode: SslMode;
  sslrootcert: string | null;
  sslcert: string | null;
  sslkey: string | null;
  /** every other accepted keyword, as given */
  extra: Record<string, string>;
}

/** Default when the string names no sslmode. libpq's default is prefer; duckgate's has always been disable. */
export const DEFAULT_SSLMODE: SslMode = 'disable';

/** Parses a libpq connection string (URI or key=value). Throws ConninfoError with a one-line message. */
export function parseConninfo(s: string): Conninfo {
  const text = s.trim();
  let pairs: Array<[string, string]>;
  if (/^postgres(?:ql)?:\/\//.test(text)) pairs = uriPairs(text);
  else if (text.includes('=')) pairs = keyValuePairs(text);
  else {
    throw new ConninfoError(
      `"${redact(text)}" is neither a postgres:// URL nor a key=value connection string ` +
        '(e.g. postgres://user@localhost:5432/db or "host=localhost port=5432 dbname=db")',
    );
  }
  const kv = new Map<string, string>();
  for (const [k, v] of pairs) {
    // node-postgres's own switch, written by conninfoUrl: a normalised URL reads back as itself
    if (k === 'uselibpqcompat') continue;
    const only = ONLY_VALUES[k];
    if (only) {
      if (!only.values.includes(v)) throw new ConninfoError(`${k}=${v} is not supported by duckgate (${only.why}); accepted: ${only.values.join(', ')}`);
      continue;
    }
    if (NOT_SUPPORTED.has(k)) throw new ConninfoError(`connection option "${k}" is not supported by duckgate`);
    if (!ACCEPTED.has(k)) throw new ConninfoError(`invalid connection option "${k}"`);
    kv.set(k, v); // a later setting wins, as in libpq
  }
  const host = kv.get('host') ?? '';
  if (host === '') throw new ConninfoError('no host given (duckgate does not assume one: name the PostgreSQL server to proxy)');
  if (host.includes(',')) throw new ConninfoError(`several hosts ("${host}") are not supported: give one`);
  const portText = kv.get('port') ?? '';
  if (portText.includes(',')) throw new ConninfoError(`several ports ("${portText}") are not supported: give one`);
  let port = 5432;
  if (portText !== '') {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw new ConninfoError(`invalid port number: "${portText}"`);
    port = Number(portText);
  }
  const mode = kv.get('sslmode') ?? DEFAULT_SSLMODE;
  if (!(SSL_MODES as readonly string[]).includes(mode)) throw new ConninfoError(`invalid sslmode value: "${mode}" (${SSL_MODES.join(', ')})`);
  const sslmode = mode as SslMode;
  const sslrootcert = kv.get('sslrootcert') || null;
  // libpq would look for ~/.postgresql/root.crt; verify-ca has no meaning without a CA of one's own
  // (a public CA vouches for anyone's server), so it is refused without one. verify-full without one
  // checks the chain against Node's bundled CAs (libpq's sslrootcert=system).
  if (sslmode === 'verify-ca' && !sslrootcert) throw new ConninfoError('sslmode=verify-ca needs sslrootcert (the CA that signed the server certificate)');
  const extra: Record<string, string> = {};
  for (const [k, v] of kv) if (!['host', 'port', 'user', 'password', 'dbname', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey'].includes(k)) extra[k] = v;
  return {
    host,
    port,
    user: kv.get('user') || null,
    password: kv.has('password') ? kv.get('password')! : null,
    dbname: kv.get('dbname') || null,
    sslmode,
    sslrootcert,
    sslcert: kv.get('sslcert') || null,
    sslkey: kv.get('sslkey') || null,
    extra,
  };
}

/**
 * The normalised postgres:// URL of a connection (what duckgate's own node-postgres connections use).
 * sslmode is written with uselibpqcompat=true, so node-postgres gives it libpq's meaning (without it,
 * node-postgres verifies the certificate for sslmode=require and warns). `allow` is written as disable:
 * duckgate does not retry a refused plain connection with TLS, so allow behaves as disable.
 */
export function conninfoUrl(c: Conninfo): string {
  const enc = encodeURIComponent;
  const auth = c.user !== null || c.password !== null ? `${enc(c.user ?? '')}${c.password !== null ? `:${enc(c.password)}` : ''}@` : '';
  const host = c.host.startsWith('/') ? enc(c.host) : c.host.includes(':') ? `[${c.host}]` : c.host;
  // percent-encoding only (a space is %20, never "+"): libpq's URI decoding knows no "+" for space
  const q: Array<[string, string]> = [];
  const mode = c.sslmode === 'allow' ? 'disable' : c.sslmode;
  if (mode !== DEFAULT_SSLMODE || c.sslrootcert || c.sslcert || c.sslkey) q.push(['sslmode', mode], ['uselibpqcompat', 'true']);
  if (c.sslrootcert) q.push(['sslrootcert', c.sslrootcert]);
  if (c.sslcert) q.push(['sslcert', c.sslcert]);
  if (c.sslkey) q.push(['sslkey', c.sslkey]);
  for (const [k, v] of Object.entries(c.extra)) q.push([k, v]);
  const qs = q.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  return `postgres://${auth}${host}:${c.port}/${enc(c.dbname ?? '')}${qs ? `?${qs}` : ''}`;
}

/** Normalises a connection string to the URL duckgate uses everywhere (see conninfoUrl). */
export function normaliseUpstream(s: string): string {
  return conninfoUrl(parseConninfo(s));
}

/** The URL minus its password, for messages. */
function redact(s: string): string {
  return s.replace(/(:\/\/[^:@/]*:)[^@/]*@/, '$1***@').replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)/g, '$1***');
}

// ---- key=value (fe-connect.c conninfo_parse) --------------------------------------------------------

function keyValuePairs(s: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const ws = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
  while (i < s.length) {
    while (ws(s[i])) i++;
    if (i >= s.length) break;
    const keyStart = i;
    while (i < s.length && !ws(s[i]) && s[i] !== '=') i++;
    const key = s.slice(keyStart, i);
    while (ws(s[i])) i++;
    if (s[i] !== '=') throw new ConninfoError(`missing "=" after "${key}" in connection info string`);
    i++;
    while (ws(s[i])) i++;
    let value = '';
    if (s[i] === "'") {
      i++;
      for (;;) {
        if (i >= s.length) throw new ConninfoError('unterminated quoted string in connection info string');
        const c = s[i]!;
        if (c === '\\' && i + 1 < s.length) {
          value += s[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < s.length && !ws(s[i])) {
        if (s[i] === '\\' && i + 1 < s.length) {
          value += s[i + 1];
          i += 2;
        } else value += s[i++];
      }
    }
    out.push([key, value]);
  }
  return out;
}

// ---- URI (fe-connect.c conninfo_uri_parse_options) --------------------------------------------------

function decode(s: string, what: string): string {
  if (/%(?![0-9a-fA-F]{2})/.test(s)) throw new ConninfoError(`invalid percent-encoded token in URI ${what}: "${s}"`);
  let out: string;
  try {
    out = decodeURIComponent(s);
  } catch {
    throw new ConninfoError(`invalid percent-encoded token in URI ${what}: "${s}"`);
  }
  if (out.includes('\0')) throw new ConninfoError(`forbidden value %00 in percent-encoded value: "${s}"`);
  return out;
}

function uriPairs(uri: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let rest = uri.slice(uri.indexOf('://') + 3);
  let query = '';
  const qAt = rest.indexOf('?');
  if (qAt >= 0) {
    query = rest.slice(qAt + 1);
    rest = rest.slice(0, qAt);
  }
  const slash = rest.indexOf('/');
  let authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : '';
  const at = authority.indexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    if (user !== '') out.push(['user', decode(user, 'user name')]);
    if (colon >= 0) out.push(['password', decode(userinfo.slice(colon + 1), 'password')]);
  }
  let host: string;
  let port = '';
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw new ConninfoError(`end of string reached when looking for matching "]" in IPv6 host address in URI: "${redact(uri)}"`);
    host = authority.slice(1, close);
    if (host === '') throw new ConninfoError(`IPv6 host address may not be empty in URI: "${redact(uri)}"`);
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new ConninfoError(`unexpected character "${after[0]}" after IPv6 host address in URI: "${redact(uri)}"`);
    port = after.slice(1);
  } else {
    const colon = authority.indexOf(':');
    host = decode(colon >= 0 ? authority.slice(0, colon) : authority, 'host');
    if (colon >= 0) port = authority.slice(colon + 1);
  }
  if (host !== '') out.push(['host', host]);
  if (port !== '') out.push(['port', decode(port, 'port')]);
  if (path !== '') out.push(['dbname', decode(path, 'database name')]);
  if (query !== '') {
    for (const part of query.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq < 0) throw new ConninfoError(`missing key/value separator "=" in URI query parameter: "${part}"`);
      let k = decode(part.slice(0, eq), 'query parameter');
      let v = decode(part.slice(eq + 1), 'query parameter');
      // JDBC-style ssl=true, which libpq translates to sslmode=require
      if (k === 'ssl' && v === 'true') [k, v] = ['sslmode', 'require'];
      out.push([k, v]);
    }
  }
  return out;
}
