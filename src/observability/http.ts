// HTTP endpoint: /healthz (process alive), /readyz (accepting, upstream reachable, mirror running: 503 with
// the reason when not), /metrics (prometheus), /status (JSON: connections, the mirror and each table's
// state and last error).
import { createServer, type Server } from 'node:http';
import { registry } from './metrics.js';

export interface HttpOptions {
  host: string;
  port: number;
  /** readiness probe: true (or { ready: true }) when duckgate can serve, else why not */
  ready(): Promise<boolean | { ready: boolean; reason?: string }>;
  /** extra JSON for /status */
  status?(): unknown;
}

export async function startHttp(opts: HttpOptions): Promise<{ server: Server; host: string; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz':
        opts.ready().then(
          (r) => {
            const ok = typeof r === 'boolean' ? r : r.ready;
            const reason = typeof r === 'boolean' ? undefined : r.reason;
            send(ok ? 200 : 503, 'text/plain', ok ? 'ready\n' : `not ready${reason ? `: ${reason}` : ''}\n`);
          },
          (e: Error) => send(503, 'text/plain', `not ready: ${e.message}\n`),
        );
        return;
      case '/metrics':
        registry.metrics().then(
          (text) => send(200, registry.contentType, text),
          (e: Error) => send(500, 'text/plain', `${e.message}\n`),
        );
        return;
      case '/status':
        return send(200, 'application/json', JSON.stringify(opts.status?.() ?? {}, null, 2) + '\n');
      default:
        return send(404, 'text/plain', 'not found: try /healthz, /readyz, /metrics, /status\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('http server has no address');
  return { server, host: a.address, port: a.port };
}
