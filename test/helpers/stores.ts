import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, onTestFinished } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import {
  createRedisClient,
  type RedisConnectionOptions,
  RedisStore,
  type RedisStoreOptions,
} from '../../src/store/redis/index.js';
import type { IdempotencyStore } from '../../src/store/types.js';
import { redisStore } from './app.js';
import { RedisServer } from './redis-server.js';

/** A way to make one kind of store, named for `describe.each`. */
export type StoreMaker = [name: string, make: () => Promise<IdempotencyStore>];

/**
 * For tests that every IdempotencyStore must pass: registers, in the calling test file, a private redis-server
 * started before its tests and stopped after them, and returns the memory and Redis stores' makers and that server.
 */
export function everyStore(): { stores: StoreMaker[]; redis: () => RedisServer } {
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.close();
  });
  const server = (): RedisServer => {
    if (redis === undefined) throw new Error('the redis-server starts in beforeAll');
    return redis;
  };
  const stores: StoreMaker[] = [
    ['memory', async () => new MemoryStore()],
    [
      'redis',
      async () => {
        const store = redisStore(server().url);
        await store.connect();
        return store;
      },
    ],
  ];
  return { stores, redis: server };
}

/** A store from `make`, closed when the test ends, and a key no other test uses. */
export async function freshStore(
  make: () => Promise<IdempotencyStore>,
): Promise<{ store: IdempotencyStore; key: string }> {
  const store = await make();
  onTestFinished(() => store.close());
  return { store, key: randomUUID() };
}

/**
 * A RedisStore on its own client with a 500 ms command timeout, closed when the test finishes and checked
 * connected. For tests that stop or kill Redis servers: the connection errors are expected there (the
 * receiver logs them, src/store/index.ts), and ioredis would print them.
 */
export async function openRedisStore(
  connection: Omit<RedisConnectionOptions, 'commandTimeoutMs'>,
  options: Omit<RedisStoreOptions, 'client' | 'prefix'> = {},
): Promise<RedisStore> {
  const client = createRedisClient({ commandTimeoutMs: 500, ...connection });
  client.on('error', () => {});
  const store = new RedisStore({ client, prefix: 'ebdedup:', ...options });
  onTestFinished(() => store.close());
  expect(await store.connect()).toBe(true);
  return store;
}

/**
 * Registers, in the calling test file, a redis-server started before its tests and stopped after them, and
 * returns it and one client of it for inspecting (both read inside tests: they exist from beforeAll on).
 */
export function redisServerPerFile(): { redis: () => RedisServer; client: () => Redis } {
  let server: RedisServer | undefined;
  let inspecting: Redis | undefined;
  beforeAll(async () => {
    server = await RedisServer.start();
    inspecting = server.client();
  });
  afterAll(async () => {
    await server?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the redis-server starts in beforeAll');
    return value;
  };
  return { redis: () => started(server), client: () => started(inspecting) };
}

/** Claims `key` and records it processed (first seen at `firstSeenAt`, kept `ttlSeconds`), as a delivery would. */
export async function processed(
  store: IdempotencyStore,
  key: string,
  firstSeenAt: number,
  ttlSeconds: number,
): Promise<void> {
  const claim = await store.claimKey(key, 5000);
  if (claim.outcome !== 'claimed') throw new Error(`expected a claim, got ${claim.outcome}`);
  expect(await store.completeClaim(key, claim.token, firstSeenAt, ttlSeconds)).toBe(true);
}

/** Claims a free `key` and returns the claim's owner token; a key that is not free fails the test here. */
export async function claimToken(store: IdempotencyStore, key: string, leaseMs: number): Promise<string> {
  const claim = await store.claimKey(key, leaseMs);
  if (claim.outcome !== 'claimed') throw new Error(`expected a claim, got ${claim.outcome}`);
  return claim.token;
}
