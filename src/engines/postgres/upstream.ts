// Connections to the upstream PostgreSQL: the byte pipe a client session relays over, and CancelRequests.
import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { CANCEL_REQUEST_CODE, SSL_REQUEST_CODE } from '../../protocol/codes.js';
import { connectionFailure, PgError } from '../../protocol/errors.js';

export interface UpstreamTarget {
  host: string;
  port: number;
  /** disable: plain TCP; prefer: TLS if the server offers it; require: TLS or fail */
  sslmode: 'disable' | 'prefer' | 'require';
  connectTimeoutMs: number;
}

/** Reads host, port and sslmode from a postgres:// URL. */
export function upstreamTarget(url: string, connectTimeoutMs: number): UpstreamTarget {
  const u = new URL(url);
  const mode = u.searchParams.get('sslmode') ?? 'disable';
  const sslmode = mode === 'require' || mode === 'verify-ca' || mode === 'verify-full' ? 'require' : mode === 'prefer' ? 'prefer' : 'disable';
  return { host: decodeURIComponent(u.hostname) || '127.0.0.1', port: Number(u.port || 5432), sslmode, connectTimeoutMs };
}

export function describeTarget(t: UpstreamTarget): string {
  return `${t.host}:${t.port}`;
}

function rawConnect(t: UpstreamTarget, onread?: OnReadOpts): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: t.host, port: t.port, ...(onread ? { onread } : {}) });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(connectionFailure(`could not connect to upstream server at ${describeTarget(t)}: timeout after ${t.connectTimeoutMs} ms`));
    }, t.connectTimeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.setNoDelay(true);
      sock.setKeepAlive(true, 60_000);
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(connectionFailure(`could not connect to upstream server at ${describeTarget(t)}: ${e.code ?? e.message}`));
    });
  });
}

/**
 * Opens the byte pipe to the upstream, negotiating TLS first when the target asks for it.
 * `onread` (plain TCP only, sslmode=disable): reads go into the caller's buffer and to its callback
 * instead of 'data' events (no allocation per read); the result's `reusesReadBuffer` says whether it
 * was applied, so a caller must then handle data through its callback.
 */
export async function connectUpstream(t: UpstreamTarget, onread?: OnReadOpts): Promise<(Socket | TLSSocket) & { reusesReadBuffer?: boolean }> {
  if (onread && t.sslmode === 'disable') return Object.assign(await rawConnect(t, onread), { reusesReadBuffer: true });
  const sock = await rawConnect(t);
  if (t.sslmode === 'disable') return sock;
  const req = Buffer.alloc(8);
  req.writeInt32BE(8, 0);
  req.writeInt32BE(SSL_REQUEST_CODE, 4);
  sock.write(req);
  const answer = await new Promise<number>((resolve, reject) => {
    sock.once('data', (d: Buffer) => resolve(d[0]!));
    sock.once('error', reject);
  });
  if (answer !== 0x53) {
    if (t.sslmode === 'require') {
      sock.destroy();
      throw connectionFailure(`upstream server at ${describeTarget(t)} does not support SSL, but sslmode=require`);
    }
    return sock;
  }
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket: sock, rejectUnauthorized: false, servername: t.host });
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', (e) => reject(connectionFailure(`TLS to upstream server at ${describeTarget(t)} failed: ${e.message}`)));
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
  await new Promise<void>((resolve) => {
    sock.once('close', () => resolve());
    sock.once('error', () => resolve());
    sock.end(msg);
  });
}

export function isPgError(e: unknown): e is PgError {
  return e instanceof PgError;
}
