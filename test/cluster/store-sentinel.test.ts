import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis/index.js';
import { StoreError } from '../../src/store/types.js';
import { findMark } from '../helpers/marks.js';
import { sleep, waitFor } from '../helpers/ports.js';
import { RedisSentinel } from '../helpers/redis-sentinel.js';
import { openRedisStore } from '../helpers/stores.js';

/**
 * The RedisStore through Redis Sentinel (1 master, 2 replicas, 3 sentinels, quorum 2): it follows the master
 * the sentinels name, answers fast errors while the master is gone, and finds the promoted replica by itself.
 */

let sentinel: RedisSentinel;

beforeAll(async () => {
  sentinel = await RedisSentinel.start({ downAfterMs: 1000, failoverTimeoutMs: 5000 });
});

afterAll(async () => {
  await sentinel?.close();
});

function sentinelStore(options: { waitReplicas?: number; waitTimeoutMs?: number } = {}): Promise<RedisStore> {
  return openRedisStore({ sentinels: sentinel.seeds, sentinelName: RedisSentinel.masterName }, options);
}

async function processKey(store: RedisStore, key: string, firstSeenAt: number): Promise<boolean> {
  const claim = await store.claimKey(key, 10_000);
  if (claim.outcome !== 'claimed') throw new Error(`expected a claim, got ${claim.outcome}`);
  return store.completeClaim(key, claim.token, firstSeenAt, 86_400);
}

describe('RedisStore through Redis Sentinel', { timeout: 60_000 }, () => {
  it('claims, completes and reports duplicates on the master the sentinels name', async () => {
    const store = await sentinelStore();
    const key = randomUUID();
    const master = await sentinel.currentMaster();

    const claim = await store.claimKey(key, 10_000);
    const again = await store.claimKey(key, 10_000);
    const completed =
      claim.outcome === 'claimed' && (await store.completeClaim(key, claim.token, 1_700_000_000_000, 86_400));
    const duplicate = await store.claimKey(key, 10_000);

    expect(claim.outcome).toBe('claimed');
    expect(again.outcome).toBe('in_progress');
    expect(completed).toBe(true);
    expect(duplicate).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_000 });
    const mark = await findMark((command, ...args) => master.command(command, ...args), store.location(key));
    expect(mark?.value).toBe('1700000000000');
  });

  it('answers fast errors while the master is gone and follows the promoted replica by itself', async () => {
    const store = await sentinelStore();
    const replicated = await sentinelStore({ waitReplicas: 2, waitTimeoutMs: 500 });
    // Acknowledged by both replicas before the failure: whichever is promoted must still know it.
    const kept = randomUUID();
    expect(await processKey(replicated, kept, 1_700_000_000_042)).toBe(true);

    const old = await sentinel.killMaster();
    const killedAt = Date.now();
    const samples: { ms: number; ok: boolean; error?: unknown }[] = [];
    let recoveredAt: number | undefined;
    while (recoveredAt === undefined && Date.now() - killedAt < 20_000) {
      const started = performance.now();
      const [outcome] = await Promise.allSettled([store.claimKey(randomUUID(), 10_000)]);
      samples.push({
        ms: performance.now() - started,
        ok: outcome.status === 'fulfilled',
        error: outcome.status === 'rejected' ? outcome.reason : undefined,
      });
      if (outcome.status === 'fulfilled') recoveredAt = Date.now();
      else await sleep(100);
    }
    const promoted = await sentinel.waitNewMaster(old);
    // The client may reconnect once more when the sentinels announce the switch (failoverDetector): a fast
    // StoreError in that moment is the contract's 503, so the key's survival is read once the store answers.
    let afterwards: Awaited<ReturnType<typeof store.claimKey>> | undefined;
    await waitFor(async () => {
      afterwards = await store.claimKey(kept, 10_000);
      return true;
    }, 10_000);

    const failures = samples.filter((sample) => !sample.ok);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((sample) => sample.error instanceof StoreError)).toBe(true);
    expect(Math.max(...samples.map((sample) => sample.ms))).toBeLessThan(2000);
    expect(recoveredAt).toBeDefined();
    expect(promoted.port).not.toBe(old.port);
    expect(afterwards).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_042 });
  });

  it('confirms writes with waitReplicas 1 on the current master, after a failover once the sentinels re-point a replica to it', async () => {
    const store = await sentinelStore({ waitReplicas: 1, waitTimeoutMs: 300 });
    const master = await sentinel.currentMaster();
    let outcome: unknown;

    await waitFor(async () => {
      outcome = await processKey(store, randomUUID(), 1).catch((error: unknown) => error);
      return outcome === true;
    }, 15_000);

    expect(outcome).toBe(true);
    expect((await master.info('replication')).get('role')).toBe('master');
    expect(Number((await master.info('replication')).get('connected_slaves'))).toBeGreaterThanOrEqual(1);
  });
});
