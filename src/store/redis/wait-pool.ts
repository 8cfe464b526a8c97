import { Cluster } from 'ioredis';
import { ReplicationWaitError, StoreError } from '../types.js';
import { type DedupClient, defineDedupCommands, type RedisClient } from './commands.js';
import { storeFailure } from './replies.js';

/** A Redis Cluster redirection (`MOVED slot host:port`, `ASK slot host:port`). */
function isRedirection(error: Error | null | undefined): boolean {
  return error !== null && error !== undefined && /^(MOVED|ASK) /.test(error.message);
}

/** Reloads a Cluster client's slot map (CLUSTER SLOTS from any known node). */
function refreshSlots(client: Cluster): Promise<void> {
  return new Promise((resolve, reject) => {
    client.refreshSlotsCache((error) => (error ? reject(error) : resolve()));
  });
}

/** A connection like `source` (same nodes, credentials, TLS) of its own, for WAIT. */
function duplicateForWait(source: RedisClient, commandTimeoutMs: number): RedisClient {
  if (source instanceof Cluster) {
    const name = source.options.redisOptions?.connectionName;
    return source.duplicate([], {
      enableAutoPipelining: false,
      redisOptions: {
        ...source.options.redisOptions,
        commandTimeout: commandTimeoutMs,
        ...(name ? { connectionName: `${name}-wait` } : {}),
      },
    });
  }
  const name = source.options.connectionName;
  return source.duplicate({
    enableAutoPipelining: false,
    commandTimeout: commandTimeoutMs,
    ...(name ? { connectionName: `${name}-wait` } : {}),
  });
}

export interface WaitPoolOptions {
  /** Connections set aside for WAIT (at least one). */
  size: number;
  /** REDIS_WAIT_REPLICAS. */
  replicas: number;
  /** REDIS_WAIT_TIMEOUT_MS. */
  timeoutMs: number;
  /** The main connection's command timeout: a WAIT connection's is this plus `timeoutMs`. */
  commandTimeoutMs: number;
}

/**
 * Connections for WAIT (REDIS_WAIT_REPLICAS: before any 200, that many replicas hold the key). WAIT counts only
 * the writes of the connection it runs on and blocks that connection until the replicas acknowledge or its
 * timeout passes, so each use takes a connection for itself: the write and its WAIT go out together on it,
 * and no other request is queued behind the block.
 */
export class WaitPool {
  readonly clients: DedupClient[] = [];
  private readonly idle: DedupClient[] = [];
  private readonly waiting: ((client: DedupClient) => void)[] = [];
  private readonly acquireTimeoutMs: number;

  constructor(
    source: RedisClient,
    private readonly options: WaitPoolOptions,
  ) {
    const timeout = options.commandTimeoutMs + options.timeoutMs;
    this.acquireTimeoutMs = timeout;
    for (let index = 0; index < Math.max(1, options.size); index += 1) {
      const client = defineDedupCommands(duplicateForWait(source, timeout));
      // The main connection reports the same outages; a listener keeps ioredis from printing these.
      client.on('error', () => {});
      this.clients.push(client);
      this.idle.push(client);
    }
  }

  async connect(): Promise<void> {
    await Promise.allSettled(
      this.clients.map((client) => (client.status === 'wait' ? client.connect() : undefined)),
    );
  }

  /**
   * Sends `command` and then `WAIT replicas timeout` on one connection of the pool, and resolves to the
   * command's reply once enough replicas hold what it wrote; throws ReplicationWaitError when fewer did.
   */
  async writeAndWait(
    operation: ReplicationWaitError['operation'],
    command: [string, ...(string | number)[]],
  ): Promise<unknown> {
    const { replicas, timeoutMs } = this.options;
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.use(async (client) => {
        const send = () => client.pipeline([command, ['wait', replicas, timeoutMs]]).exec();
        const first = await send();
        // After a failover this connection's slot map may still name the old master. ioredis follows a
        // pipeline's MOVED only when every command in it failed the same way, and WAIT fails differently on a
        // replica, so the redirection surfaces here: learn the new map and send once more (the script did not
        // run where it was redirected from).
        if (!(client instanceof Cluster) || !isRedirection(first?.[0]?.[0])) return first;
        await refreshSlots(client);
        return send();
      });
    } catch (error) {
      throw storeFailure(operation, error);
    }
    const [written, waited] = replies ?? [];
    if (!written || !waited) throw new StoreError(`redis ${operation}: no reply to the pipeline`);
    if (written[0]) throw storeFailure(operation, written[0]);
    if (waited[0]) throw storeFailure(`${operation} wait`, waited[0]);
    const acknowledged = Number(waited[1]);
    if (!(acknowledged >= replicas)) {
      throw new ReplicationWaitError(operation, acknowledged, replicas, timeoutMs);
    }
    return written[1];
  }

  private async use<T>(task: (client: DedupClient) => Promise<T>): Promise<T> {
    const client = this.idle.pop() ?? (await this.acquire());
    try {
      return await task(client);
    } finally {
      const next = this.waiting.shift();
      if (next) next(client);
      else this.idle.push(client);
    }
  }

  /** Waits for a connection to come free; a full pool for longer than one WAIT's worth is a store failure. */
  private acquire(): Promise<DedupClient> {
    return new Promise((resolve, reject) => {
      const waiter = (client: DedupClient) => {
        clearTimeout(timer);
        resolve(client);
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new StoreError(`no WAIT connection came free within ${this.acquireTimeoutMs} ms`));
      }, this.acquireTimeoutMs);
      this.waiting.push(waiter);
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.clients.map(async (client) => {
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
  }
}
