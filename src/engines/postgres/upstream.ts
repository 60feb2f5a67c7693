// Connections to the upstream PostgreSQL: the byte pipe a client session relays over, and CancelRequests.
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { conninfoUrl, parseConninfo, type SslMode } from '../../config/conninfo.js';
import { CANCEL_REQUEST_CODE, SSL_REQUEST_CODE } from '../../protocol/codes.js';
import { connectionFailure, PgError } from '../../protocol/errors.js';

export interface UpstreamTarget {
  /** host name or IP address; starting with '/', the directory of the server's Unix-domain socket */
  host: string;
  port: number;
  /**
   * libpq's meanings (https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION):
   * disable/allow: plain (duckgate does not retry a refused plain connection with TLS, so allow = disable);
   * prefer: TLS if the server offers it; require: TLS or fail; verify-ca: and the chain checked against
   * sslrootcert; verify-full: and the server's name checked too. With prefer/require, a given
   * sslrootcert makes the chain checked, as libpq does when a root certificate file exists.
   */
  sslmode: SslMode;
  /** PEM contents of sslrootcert / sslcert / sslkey, read once at start */
  ca: Buffer | null;
  cert: Buffer | null;
  key: Buffer | null;
  connectTimeoutMs: number;
}

/** Reads a normalised upstream URL (config/conninfo.ts), and the certificate files it names. */
export function upstreamTarget(url: string, connectTimeoutMs: number): UpstreamTarget {
  const c = parseConninfo(url);
  const read = (what: string, path: string | null): Buffer | null => {
    if (!path) return null;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read ${what} "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  return {
    host: c.host,
    port: c.port,
    sslmode: c.sslmode,
    ca: read('sslrootcert', c.sslrootcert),
    cert: read('sslcert', c.sslcert),
    key: read('sslkey', c.sslkey),
    connectTimeoutMs,
  };
}

/**
 * The upstream URL for duckgate's own node-postgres connections (mirror, /readyz, mirror commands).
 * node-postgres has no "TLS if offered": given sslmode=prefer it insists on TLS and fails against a server
 * without it. So for prefer the server is asked once (an SSLRequest, answered S or N, as libpq's prefer
 * does per connection) and the URL says require or disable accordingly; a server that cannot be reached
 * now gets disable (prefer promises no encryption: whoever answers N gets a plain connection anyway).
 */
export async function controlUrl(url: string, t: UpstreamTarget): Promise<string> {
  if (t.sslmode !== 'prefer' || isUnixSocket(t)) return url;
  let offered = false;
  try {
    const sock = await rawConnect({ ...t, connectTimeoutMs: Math.min(t.connectTimeoutMs, 5_000) });
    const req = Buffer.alloc(8);
    req.writeInt32BE(8, 0);
    req.writeInt32BE(SSL_REQUEST_CODE, 4);
    offered = await new Promise<boolean>((resolve) => {
      sock.once('data', (d: Buffer) => resolve(d[0] === 0x53));
      sock.once('error', () => resolve(false));
      sock.once('close', () => resolve(false));
      sock.write(req);
    });
    sock.destroy();
  } catch {
    offered = false;
  }
  return conninfoUrl({ ...parseConninfo(url), sslmode: offered ? 'require' : 'disable' });
}

export function describeTarget(t: UpstreamTarget): string {
  return isUnixSocket(t) ? socketPath(t) : `${t.host}:${t.port}`;
}

function isUnixSocket(t: UpstreamTarget): boolean {
  return t.host.startsWith('/');
}

/** <dir>/.s.PGSQL.<port>, as libpq builds it (UNIXSOCK_PATH in pqcomm.h). */
function socketPath(t: UpstreamTarget): string {
  return `${t.host.replace(/\/+$/, '')}/.s.PGSQL.${t.port}`;
}

function rawConnect(t: UpstreamTarget, onread?: OnReadOpts): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const where = isUnixSocket(t) ? { path: socketPath(t) } : { host: t.host, port: t.port };
    const sock = netConnect({ ...where, ...(onread ? { onread } : {}) });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(connectionFailure(`could not connect to upstream server at ${describeTarget(t)}: timeout after ${t.connectTimeoutMs} ms`));
    }, t.connectTimeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      if (!isUnixSocket(t)) {
        sock.setNoDelay(true);
        sock.setKeepAlive(true, 60_000);
      }
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(connectionFailure(`could not connect to upstream server at ${describeTarget(t)}: ${e.code ?? e.message}`));
    });
  });
}

/** Whether a connection to t negotiates TLS at all (libpq never uses TLS on a Unix-domain socket). */
function wantsTls(t: UpstreamTarget): boolean {
  return !isUnixSocket(t) && t.sslmode !== 'disable' && t.sslmode !== 'allow';
}

/**
 * Opens the byte pipe to the upstream, negotiating TLS first when the target asks for it.
 * `onread` (plain connections only): reads go into the caller's buffer and to its callback
 * instead of 'data' events (no allocation per read); the result's `reusesReadBuffer` says whether it
 * was applied, so a caller must then handle data through its callback.
 */
export async function connectUpstream(t: UpstreamTarget, onread?: OnReadOpts): Promise<(Socket | TLSSocket) & { reusesReadBuffer?: boolean }> {
  if (onread && !wantsTls(t)) return Object.assign(await rawConnect(t, onread), { reusesReadBuffer: true });
  const sock = await rawConnect(t);
  if (!wantsTls(t)) return sock;
  const req = Buffer.alloc(8);
  req.writeInt32BE(8, 0);
  req.writeInt32BE(SSL_REQUEST_CODE, 4);
  sock.write(req);
  const answer = await new Promise<number>((resolve, reject) => {
    sock.once('data', (d: Buffer) => resolve(d[0]!));
    sock.once('error', reject);
    sock.once('close', () => reject(connectionFailure(`upstream server at ${describeTarget(t)} closed the connection during SSL negotiation`)));
  });
  if (answer !== 0x53) {
    if (t.sslmode !== 'prefer') {
      sock.destroy();
      throw connectionFailure(`upstream server at ${describeTarget(t)} does not support SSL, but sslmode=${t.sslmode}`);
    }
    return sock;
  }
  // libpq (fe-secure-openssl.c) checks the chain for verify-ca and verify-full, and for any mode once a
  // root certificate is at hand; the host name only for verify-full (against the SANs, else the CN).
  const verifyChain = t.sslmode === 'verify-ca' || t.sslmode === 'verify-full' || t.ca !== null;
  const verifyHost = t.sslmode === 'verify-full';
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({
      socket: sock,
      rejectUnauthorized: verifyChain,
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
      // SNI carries a name, never an address (RFC 6066 3); the identity check below gets the host either way
      ...(isIP(t.host) ? {} : { servername: t.host }),
      checkServerIdentity: verifyHost ? (_name, cert) => checkServerIdentity(t.host, cert) : () => undefined,
    });
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', (e: NodeJS.ErrnoException) => {
      tls.destroy();
      const why = e.code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `server certificate does not match host name "${t.host}": ${e.message}` : e.message;
      reject(connectionFailure(`TLS to upstream server at ${describeTarget(t)} failed (sslmode=${t.sslmode}): ${why}`));
    });
  });
}

/** Sends a CancelRequest for the upstream backend (pid, secret); resolves when the upstream closes it. */
export async function sendCancel(t: UpstreamTarget, pid: number, secret: number): Promise<void> {
  const sock = await rawConnect(t);
  const msg = Buffer.alloc(16);
  msg.writeInt32BE(16, 0);
  msg.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  msg.writeInt32BE(pid, 8);
  msg.writeInt32BE(secret, 12);
  // Postgres closes the connection once it has signalled the backend: the caller waits for that (so a
  // client's next statement cannot be hit by this cancel), but not beyond the connect timeout.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => sock.destroy(), t.connectTimeoutMs);
    timer.unref();
    sock.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    sock.once('error', () => undefined);
    sock.resume();
    sock.end(msg);
  });
}

export function isPgError(e: unknown): e is PgError {
  return e instanceof PgError;
}
