// A small HTTP load balancer for the chaos run and the multi-instance test (nginx is not installed on the
// machines this project is built on; docs/operations.md has the nginx configuration that does the same job).
//
// - round robin over the backends that are up;
// - a backend whose connection fails is marked down for `downMs`, and probed with GET /healthz until it answers;
// - a request is retried on another backend only when it is idempotent (GET, HEAD, OPTIONS, PUT, DELETE) and
//   its connection failed before anything was sent (refused, reset while connecting) — like nginx's
//   `proxy_next_upstream error` for idempotent methods. Anything else that fails answers 502, and the caller
//   retries (with its Idempotency-Key) or the channel re-sends its notification.
//
// CLI: `tsx test/chaos/balancer.ts <port> <backendUrl>…` prints `{"url":…}` when listening.
import {
  request as httpRequest,
  Agent,
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** One backend as the balancer sees it. */
interface Backend {
  url: URL;
  downUntil: number;
  inFlight: number;
}

export interface BalancerStats {
  requests: number;
  /** Requests answered 502/504 by the balancer itself. */
  failed: number;
  /** Requests re-sent to another backend after a connection failure. */
  retried: number;
  /** Times a backend was marked down. */
  markedDown: number;
}

export interface Balancer {
  url: string;
  stats: BalancerStats;
  /** Backends and whether each is up now. */
  backends(): { url: string; up: boolean }[];
  close(): Promise<void>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Errors that mean nothing reached the backend: safe to send elsewhere. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

export async function startBalancer(
  backendUrls: string[],
  opts: { port?: number; downMs?: number; timeoutMs?: number } = {},
): Promise<Balancer> {
  const downMs = opts.downMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const backends: Backend[] = backendUrls.map((u) => ({ url: new URL(u), downUntil: 0, inFlight: 0 }));
  const agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });
  const stats: BalancerStats = { requests: 0, failed: 0, retried: 0, markedDown: 0 };
  let next = 0;

  const pick = (exclude: Set<Backend>): Backend | undefined => {
    const now = Date.now();
    for (let i = 0; i < backends.length; i++) {
      const b = backends[(next + i) % backends.length]!;
      if (b.downUntil <= now && !exclude.has(b)) {
        next = (next + i + 1) % backends.length;
        return b;
      }
    }
    // Every backend is down: try the one down longest ago rather than refusing outright.
    return backends.filter((b) => !exclude.has(b)).sort((a, b) => a.downUntil - b.downUntil)[0];
  };
  const markDown = (b: Backend) => {
    if (b.downUntil <= Date.now()) stats.markedDown++;
    b.downUntil = Date.now() + downMs;
  };

  // Brings a backend back as soon as it answers again.
  const probe = setInterval(() => {
    for (const b of backends) {
      if (b.downUntil <= Date.now()) continue;
      const req = httpRequest(new URL('/healthz', b.url), { method: 'GET', timeout: 1000 }, (res) => {
        res.resume();
        if (res.statusCode === 200) b.downUntil = 0;
      });
      req.on('error', () => undefined);
      req.on('timeout', () => req.destroy());
      req.end();
    }
  }, 500);
  probe.unref();

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tried: Set<Backend>): void => {
    const b = pick(tried);
    if (!b) {
      stats.failed++;
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'bad_gateway', message: 'no backend available' } }));
      return;
    }
    tried.add(b);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers['content-length'] = String(body.length);
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior
      ? `${prior}, ${req.socket.remoteAddress}`
      : String(req.socket.remoteAddress);
    headers['x-forwarded-proto'] = 'http';
    let connected = false;
    b.inFlight++;
    const up = httpRequest(
      { host: b.url.hostname, port: b.url.port, method: req.method, path: req.url, headers, agent },
      (upRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(upRes.headers))
          if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(upRes.statusCode ?? 502, out);
        upRes.pipe(res);
        upRes.on('end', () => b.inFlight--);
        upRes.on('error', () => {
          b.inFlight--;
          res.destroy();
        });
      },
    );
    up.setTimeout(timeoutMs, () =>
      up.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })),
    );
    up.on('socket', (s) => {
      // A reused keep-alive socket is connected already; a new one when it connects.
      if (!s.connecting) connected = true;
      else s.once('connect', () => (connected = true));
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      b.inFlight--;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const notSent = !connected && NOT_SENT.has(e.code ?? '');
      if (notSent || e.code === 'ECONNRESET') markDown(b);
      if (notSent && IDEMPOTENT.has(req.method ?? '') && tried.size < backends.length) {
        stats.retried++;
        forward(req, res, body, tried);
        return;
      }
      stats.failed++;
      const timeout = e.code === 'ETIMEDOUT';
      res.writeHead(timeout ? 504 : 502, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            code: timeout ? 'gateway_timeout' : 'bad_gateway',
            message: `backend: ${e.code ?? e.message}`,
          },
        }),
      );
    });
    up.end(body);
  };

  const server = createServer((req, res) => {
    stats.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), new Set()));
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    backends: () => backends.map((b) => ({ url: b.url.toString(), up: b.downUntil <= Date.now() })),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(probe);
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (require.main === module) {
  const [port = '0', ...urls] = process.argv.slice(2);
  if (urls.length === 0) {
    console.error('usage: balancer.ts <port> <backendUrl>…');
    process.exit(2);
  }
  void startBalancer(urls, { port: Number(port) }).then((b) => {
    process.stdout.write(`${JSON.stringify({ url: b.url })}\n`);
    setInterval(() => process.stderr.write(`balancer ${JSON.stringify(b.stats)}\n`), 60_000).unref();
    const stop = () => void b.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
