import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

export type DownstreamBehaviour = { status: number; delayMs?: number } | { drop: true } | { hang: true };

/**
 * A real HTTP downstream on 127.0.0.1 whose next answers the test scripts: a status (after a delay), a dropped
 * connection, or no answer at all. It records every request.
 */
export class Downstream {
  readonly received: ReceivedRequest[] = [];
  private readonly script: DownstreamBehaviour[] = [];
  private fallback: DownstreamBehaviour = { status: 200 };
  aborted = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<Downstream> {
    const server = createServer();
    const downstream = new Downstream(server);
    server.on('request', (request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        body += chunk;
      });
      request.on('end', () => {
        downstream.received.push({ headers: request.headers, body });
        const behaviour = downstream.script.shift() ?? downstream.fallback;
        if ('drop' in behaviour) {
          request.socket.destroy();
          return;
        }
        if ('hang' in behaviour) {
          response.on('close', () => {
            downstream.aborted += 1;
          });
          return;
        }
        const answer = () => {
          response.writeHead(behaviour.status, { 'content-type': 'application/json' });
          response.end('{"ok":true}');
        };
        if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return downstream;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook?source=ebdedup`;
  }

  /** The next answers, in order; after them, `fallback`. */
  answer(...behaviours: DownstreamBehaviour[]): this {
    this.script.push(...behaviours);
    return this;
  }

  otherwise(behaviour: DownstreamBehaviour): this {
    this.fallback = behaviour;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
