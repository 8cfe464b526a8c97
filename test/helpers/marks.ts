import type { Redis } from 'ioredis';
import { bucketWidthMs, type DedupLocation, liveBucketHashes } from '../../src/store/redis/index.js';
import { sleep } from './ports.js';

/** Sends one command to one node: an ioredis client (`call`) or a helper's RedisProcess (`command`). */
export type Run = (command: string, ...args: string[]) => Promise<unknown>;

export const via =
  (client: Redis): Run =>
  (command, ...args) =>
    client.call(command, ...args);

/** Redis's clock on one node, in epoch milliseconds: the clock the scripts bucket marks by. */
export async function redisNow(run: Run): Promise<number> {
  const [seconds, micros] = (await run('TIME')) as [string, string];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Sleeps until Redis's clock on that node is just past the start of the next bucket of this TTL. */
export async function untilNextBucket(run: Run, ttlSeconds: number): Promise<void> {
  const width = bucketWidthMs(ttlSeconds);
  const now = await redisNow(run);
  await sleep(width - (now % width) + 20);
}

/**
 * Reads a processed mark straight from Redis, where the scripts look for it: in the live bucket hashes of
 * one TTL at the node's own clock, newest first. Plain HGETs, so it works on a replica too.
 */
export async function findMark(
  run: Run,
  location: DedupLocation,
  ttlSeconds = 86_400,
): Promise<{ hash: string; value: string } | undefined> {
  for (const hash of liveBucketHashes(location, ttlSeconds, await redisNow(run))) {
    const value = await run('HGET', hash, location.field);
    if (value !== null) return { hash, value: String(value) };
  }
  return undefined;
}
