import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { MemoryStore } from './memory.js';
import { createRedisClient, RedisStore } from './redis/index.js';
import type { IdempotencyStore } from './types.js';

export { MemoryStore } from './memory.js';
export { createRedisClient, RedisStore, ReplicationWaitError } from './redis/index.js';
export * from './types.js';

/** The store the configuration asks for, connected (or reconnecting in the background). */
export async function createStore(config: Config, logger: Logger): Promise<IdempotencyStore> {
  if (config.STORE === 'memory') {
    logger.warn(
      { store: 'memory' },
      'using the in-process memory store: keys are lost on restart and not shared between processes; set REDIS_URL for production',
    );
    return new MemoryStore({ maxAttempts: config.MAX_ATTEMPTS, failureTtlSeconds: config.DEDUP_TTL_SECONDS });
  }
  const client = createRedisClient({
    url: config.REDIS_URL,
    clusterNodes: config.REDIS_CLUSTER_NODES,
    sentinels: config.REDIS_SENTINELS,
    sentinelName: config.REDIS_SENTINEL_NAME,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    connectionName: 'ebdedup',
  });
  let reported = false;
  // ioredis emits `error` on every failed reconnection attempt: log the first of a series, not each one.
  client.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    logger.error({ err }, 'redis connection error; reconnecting in the background');
  });
  client.on('ready', () => {
    if (reported) logger.info('redis connection restored');
    reported = false;
  });
  const store = new RedisStore({
    client,
    prefix: config.DEDUP_PREFIX,
    ttlSeconds: [config.DEDUP_TTL_SECONDS],
    waitReplicas: config.REDIS_WAIT_REPLICAS,
    waitTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS,
    maxAttempts: config.MAX_ATTEMPTS,
    failureTtlSeconds: config.DEDUP_TTL_SECONDS,
  });
  if (!(await store.connect())) {
    logger.warn('redis is not reachable yet: answering 503 until it is');
  }
  return store;
}
