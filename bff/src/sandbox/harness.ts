import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as a simulator sees it: raw body kept, so it can check signatures over the exact bytes. */
export interface SimRequest {
  method: string;
  /** The raw request target (path and query) exactly as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface SimReply {
  status: number;
  headers?: Record<string, string>;
  /** Text, or bytes (bill files and archives). */
  body?: string | Buffer;
}

export type SimHandler = (req: SimRequest) => Promise<SimReply | undefined> | SimReply | undefined;

/** A running simulator: its base URL and how to stop it. */
export interface RunningSim {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Refuses to run any simulator in production. */
export function assertSandboxAllowed(nodeEnv: string): void {
  if (nodeEnv === 'production') {
    throw new Error(
      'The sandbox cannot start with NODE_ENV=production: simulators would accept fake payments.',
    );
  }
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): SimReply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/**
 * Starts a plain node:http server for a simulator on `port` (0 = random) on 127.0.0.1. Handlers are tried
 * in order; the first that answers wins; none → 404.
 */
export async function startSimServer(
  name: string,
  port: number,
  handlers: SimHandler[],
): Promise<RunningSim> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url ?? '/', 'http://sim');
      const simReq: SimRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      let reply: SimReply | undefined;
      try {
        for (const h of handlers) {
          reply = await h(simReq);
          if (reply) break;
        }
        reply ??= json(404, {
          code: 'NOT_FOUND',
          message: `${name} simulator has no ${simReq.method} ${simReq.path}`,
        });
      } catch (e) {
        reply = json(500, { code: 'SYSTEM_ERROR', message: (e as Error).message });
      }
      if (reply.status === -1) {
        req.socket.destroy(); // injected fault: drop the connection without a reply
        return;
      }
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`${name} simulator: port ${port} is already in use`) : e),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** POSTs to one of our endpoints from a simulator (notifications, HIS pushes). */
export async function simPost(url: string, body: string, headers: Record<string, string>, timeoutMs = 5000) {
  const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}
