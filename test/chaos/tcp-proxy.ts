import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that makes a slow, unreliable network between the receiver and Redis: every chunk
 * is delayed by `latencyMs` plus up to `jitterMs` (order kept, each direction on its own), and with
 * probability `dropRate` per chunk the connection is cut on both sides, as a flaky network or a NAT reset
 * would. `dropAll()` cuts every connection at once.
 */

export interface TcpProxyOptions {
  targetHost?: string;
  targetPort: number;
  latencyMs?: number;
  jitterMs?: number;
  /** Probability, per forwarded chunk, of cutting the connection instead of forwarding it. */
  dropRate?: number;
  random?: () => number;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

/** One direction of a connection: chunks leave in order, each no earlier than its due time. */
class DelayedPipe {
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly destination: Socket) {}

  push(chunk: Buffer, delayMs: number): void {
    const last = this.queue.at(-1)?.due ?? 0;
    this.queue.push({ due: Math.max(last, Date.now() + delayMs), chunk });
    if (this.timer === undefined) this.schedule();
  }

  private schedule(): void {
    const head = this.queue[0];
    if (head === undefined) {
      this.timer = undefined;
      return;
    }
    this.timer = setTimeout(() => this.flush(), Math.max(0, head.due - Date.now()));
  }

  private flush(): void {
    const now = Date.now();
    while (this.queue.length > 0 && (this.queue[0] as { due: number }).due <= now) {
      const { chunk } = this.queue.shift() as { chunk: Buffer };
      if (!this.destination.destroyed) this.destination.write(chunk);
    }
    this.schedule();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export class TcpProxy {
  readonly stats = { connections: 0, drops: 0, chunks: 0 };
  latencyMs: number;
  jitterMs: number;
  dropRate: number;
  private readonly pairs = new Set<Pair>();
  private readonly random: () => number;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: TcpProxyOptions,
  ) {
    this.latencyMs = options.latencyMs ?? 0;
    this.jitterMs = options.jitterMs ?? 0;
    this.dropRate = options.dropRate ?? 0;
    this.random = options.random ?? Math.random;
    server.on('connection', (client) => this.accept(client));
  }

  static async start(options: TcpProxyOptions, port = 0): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    return new TcpProxy(server, address.port, options);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private delay(): number {
    return this.latencyMs + this.random() * this.jitterMs;
  }

  private accept(client: Socket): void {
    this.stats.connections += 1;
    const upstream = connect(this.options.targetPort, this.options.targetHost ?? '127.0.0.1');
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const toUpstream = new DelayedPipe(upstream);
    const toClient = new DelayedPipe(client);
    const close = () => {
      toUpstream.stop();
      toClient.stop();
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    const forward = (pipe: DelayedPipe) => (chunk: Buffer) => {
      this.stats.chunks += 1;
      if (this.dropRate > 0 && this.random() < this.dropRate) {
        this.stats.drops += 1;
        close();
        return;
      }
      pipe.push(chunk, this.delay());
    };
    client.on('data', forward(toUpstream));
    upstream.on('data', forward(toClient));
    // Either side closing closes both, once what is queued has had its chance to leave.
    const closeSoon = () => setTimeout(close, this.latencyMs + this.jitterMs + 1);
    client.on('error', closeSoon);
    upstream.on('error', closeSoon);
    client.on('close', closeSoon);
    upstream.on('close', closeSoon);
  }

  /** Cuts every open connection now. */
  dropAll(): number {
    const count = this.pairs.size;
    for (const pair of [...this.pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.stats.drops += count;
    return count;
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
