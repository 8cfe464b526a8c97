/**
 * The Redis store, by concern:
 *   layout.ts       where every key lives (time-bucketed hashes of processed marks), and why
 *   bucket-keys.ts  the bucket hashes a script is passed in KEYS, named from the client's clock
 *   commands.ts     the Lua scripts (./scripts/*.lua), loaded once and registered with defineCommand
 *   client.ts       the connection: standalone, Sentinel or Cluster; reconnection
 *   wait-pool.ts    connections for WAIT (REDIS_WAIT_REPLICAS)
 *   batcher.ts      the calls of one turn of the event loop as one script call
 *   marks-scripts.ts  calls of the marks scripts: keys, batches, resends
 *   replies.ts      script replies and failures as the store's types
 *   store.ts        RedisStore: the IdempotencyStore on all of the above
 */
export { ReplicationWaitError } from '../types.js';
export { isMissing, type MissingReply } from './bucket-keys.js';
export { createRedisClient, type RedisConnectionOptions } from './client.js';
export {
  type AppendReply,
  type DedupClient,
  type DedupCommands,
  defineDedupCommands,
  type RedisClient,
} from './commands.js';
export {
  bucketHash,
  bucketWidthMs,
  type DedupLocation,
  dedupLocation,
  hashTagOf,
  liveBucketHashes,
  locationOfClaim,
  storeLocation,
} from './layout.js';
export { type MarksCall, MarksScripts } from './marks-scripts.js';
export { RedisStore, type RedisStoreOptions, type SinkWriteOperation } from './store.js';
