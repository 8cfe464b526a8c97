import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Milliseconds since the server started. */
  at: number;
}

export interface StandIn {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  origin: string;
  port: number;
  requests: RecordedRequest[];
  close: () => Promise<void>;
}

export type Handler = (
  request: RecordedRequest,
  response: ServerResponse,
  index: number,
) => void | Promise<void>;

/** A node:http server on 127.0.0.1 (free port) that records every request and lets `handler` answer it. */
export async function startStandIn(handler: Handler): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const started = performance.now();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: performance.now() - started,
      };
      const index = requests.push(recorded) - 1;
      Promise.resolve(handler(recorded, res, index)).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What every request of an EventBridge API destination carries (replay and redrive post the same way). */
export function apiDestinationHeadersOf(request: RecordedRequest): Record<string, string | undefined> {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  return {
    method: request.method,
    url: request.url,
    'user-agent': header('user-agent'),
    'content-type': header('content-type'),
    'x-api-key': header('x-api-key'),
  };
}
