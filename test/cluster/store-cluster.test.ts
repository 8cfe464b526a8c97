import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { liveBucketHashes, type RedisStore, ReplicationWaitError } from '../../src/store/redis/index.js';
import { StoreError } from '../../src/store/types.js';
import { findMark, via } from '../helpers/marks.js';
import { sleep, waitFor } from '../helpers/ports.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import type { RedisProcess } from '../helpers/redis-process.js';
import { openRedisStore } from '../helpers/stores.js';

/**
 * The RedisStore on a real Redis Cluster (3 masters, 3 replicas, made by `redis-cli --cluster create`):
 * hash-tagged keys spread over every master, and a killed master costs fast errors on its slots only
 * until its replica is promoted, after which the same store serves them again without being recreated.
 */

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await RedisCluster.start({ nodeTimeoutMs: 3000 });
});

afterAll(async () => {
  await cluster?.close();
});

/** A dedup key as the receiver makes them: a SHA-256 base64url digest. */
function digest(): string {
  return createHash('sha256').update(randomUUID()).digest('base64url');
}

function clusterStore(
  options: { waitReplicas?: number; waitTimeoutMs?: number; waitPoolSize?: number } = {},
): Promise<RedisStore> {
  return openRedisStore({ clusterNodes: cluster.seeds }, options);
}

/** Slot → port of the master serving it, as one running master reports the cluster. */
async function slotOwners(): Promise<Map<number, number>> {
  const [master] = await cluster.masters();
  if (!master) throw new Error('no master');
  const ranges = (await master.command('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const owners = new Map<number, number>();
  for (const [from, to, [, port]] of ranges)
    for (let slot = from; slot <= to; slot += 1) owners.set(slot, port);
  return owners;
}

/** A connection to one node that reads even from a replica (READONLY), for looking inside. */
async function inspector(node: RedisProcess): Promise<Redis> {
  const client = new Redis({
    port: node.port,
    host: '127.0.0.1',
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  client.on('error', () => {});
  onTestFinished(() => client.disconnect());
  await client.connect();
  await client.call('READONLY');
  return client;
}

/** `count` fresh keys whose Redis key lives on `master` (or, with `others`, on any other master). */
async function keysServedBy(
  store: RedisStore,
  master: RedisProcess,
  count: number,
  others = false,
): Promise<string[]> {
  const keys: string[] = [];
  while (keys.length < count) {
    const key = digest();
    const onMaster = (await cluster.masterOf(store.location(key).claim)) === master;
    if (onMaster !== others) keys.push(key);
  }
  return keys;
}

describe('RedisStore on Redis Cluster', { timeout: 60_000 }, () => {
  it('sends the claims of one turn as one script call per hash tag, each on its own master', async () => {
    // Arrange: 3 tags × 10 keys; the scripts are loaded on every master first (not what is counted).
    const store = await clusterStore();
    const tags = ['Aa', 'Mm', 'zz'];
    const keysOf = (tag: string) => Array.from({ length: 10 }, () => `${tag}${digest().slice(2)}`);
    await Promise.all(tags.map((tag) => store.claimKey(keysOf(tag)[0] as string, 10_000)));
    const scriptCalls = async () => {
      let calls = 0;
      for (const master of await cluster.masters()) {
        const stats = String(await master.command('INFO', 'commandstats'));
        for (const match of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g))
          calls += Number(match[1]);
      }
      return calls;
    };
    const keys = tags.flatMap(keysOf);
    const before = await scriptCalls();

    // Act
    const claims = await Promise.all(keys.map((key) => store.claimKey(key, 10_000)));

    // Assert
    expect(claims.map((claim) => claim.outcome)).toEqual(keys.map(() => 'claimed'));
    expect((await scriptCalls()) - before).toBe(tags.length);
  });

  it('spreads hash-tagged keys over all three masters and claims, completes and reports duplicates on each', async () => {
    const store = await clusterStore();
    const keys = Array.from({ length: 300 }, digest);
    const owners = await slotOwners();
    const firstSeenAt = 1_700_000_000_000;

    const claims = await Promise.all(keys.map((key) => store.claimKey(key, 10_000)));
    const again = await Promise.all(keys.map((key) => store.claimKey(key, 10_000)));
    const completed = await Promise.all(
      claims.map((claim, index) =>
        claim.outcome === 'claimed'
          ? store.completeClaim(keys[index] as string, claim.token, firstSeenAt + index, 86_400)
          : false,
      ),
    );
    const duplicates = await Promise.all(keys.map((key) => store.claimKey(key, 10_000)));

    expect(claims.every((claim) => claim.outcome === 'claimed')).toBe(true);
    expect(again.every((claim) => claim.outcome === 'in_progress')).toBe(true);
    expect(completed.every((done) => done === true)).toBe(true);
    expect(duplicates).toEqual(
      keys.map((_key, index) => ({ outcome: 'duplicate', firstSeenAt: firstSeenAt + index })),
    );

    // The hash tag (the key's first two characters) decides the slot, for the claim and for every bucket
    // hash alike, and the slots cover all masters.
    const slots = await Promise.all(keys.map((key) => cluster.keySlot(store.location(key).claim)));
    const tagSlots = await Promise.all(keys.map((key) => cluster.keySlot(key.slice(0, 2))));
    expect(slots).toEqual(tagSlots);
    const location = store.location(keys[0] as string);
    const names = [location.ttls, location.failures, ...liveBucketHashes(location, 86_400, Date.now())];
    const nameSlots = await Promise.all(names.map((name) => cluster.keySlot(name)));
    expect(new Set(nameSlots)).toEqual(new Set([slots[0]]));
    const masters = new Set(slots.map((slot) => owners.get(slot)));
    expect(masters.size).toBe(3);
    expect((await cluster.masters()).map((node) => node.port).sort()).toEqual([...masters].sort());

    // Each key is stored on the master that owns its slot.
    for (const master of await cluster.masters()) {
      const direct = await inspector(master);
      const mine = keys.filter((_key, index) => owners.get(slots[index] as number) === master.port);
      expect(mine.length).toBeGreaterThan(50);
      const marks = await Promise.all(mine.map((key) => findMark(via(direct), store.location(key))));
      expect(marks.every((mark) => mark !== undefined && Number(mark.value) >= firstSeenAt)).toBe(true);
    }
  });

  it('waits for the key’s own shard replica with waitReplicas, so the replica holds it as soon as complete resolves', async () => {
    // A generous WAIT: on a loaded 2-core CI machine a replica can lag for a moment; the assertion is that the
    // replica holds the key once complete resolves, not how fast.
    const store = await clusterStore({ waitReplicas: 1, waitTimeoutMs: 3000 });
    const keys = Array.from({ length: 30 }, digest);

    for (const key of keys) {
      const claim = await store.claimKey(key, 10_000);
      if (claim.outcome !== 'claimed') throw new Error('expected a claim');
      expect(await store.completeClaim(key, claim.token, 1_700_000_000_000, 86_400)).toBe(true);
      const [replica] = await cluster.replicasOf(await cluster.masterOf(store.location(key).claim));
      if (!replica) throw new Error('no replica');
      const mark = await findMark(via(await inspector(replica)), store.location(key));
      expect(mark?.value).toBe('1700000000000');
    }
    const duplicates = await Promise.all(keys.map((key) => store.claimKey(key, 10_000)));

    expect(duplicates.every((claim) => claim.outcome === 'duplicate')).toBe(true);
  });

  it('answers fast errors while a killed master’s slots have no master, keeps serving the other masters, and recovers by itself after the promotion', async () => {
    const store = await clusterStore();
    const replicated = await clusterStore({ waitReplicas: 1, waitTimeoutMs: 500 });
    const [victimKey] = await keysServedBy(store, (await cluster.masters())[0] as RedisProcess, 1);
    const victim = await cluster.masterOf(store.location(victimKey as string).claim);
    const onVictim = await keysServedBy(store, victim, 120);
    const elsewhere = await keysServedBy(store, victim, 120, true);
    // Acknowledged with WAIT 1 before the failure: the promoted replica must still know it.
    const kept = onVictim.pop() as string;
    const keptClaim = await replicated.claimKey(kept, 10_000);
    if (keptClaim.outcome !== 'claimed') throw new Error('expected a claim');
    await replicated.completeClaim(kept, keptClaim.token, 1_700_000_000_042, 86_400);

    const replica = await cluster.killMaster(victim);
    onTestFinished(() => (victim.running ? undefined : cluster.restart(victim)));
    const killedAt = Date.now();
    const samples: { ms: number; ok: boolean; error?: unknown; otherOk: boolean }[] = [];
    let recoveredAt: number | undefined;
    while (recoveredAt === undefined && Date.now() - killedAt < 20_000) {
      const key = onVictim.pop() as string;
      const started = performance.now();
      const [onKilled, onOther] = await Promise.allSettled([
        store.claimKey(key, 10_000),
        store.claimKey(elsewhere.pop() as string, 10_000),
      ]);
      samples.push({
        ms: performance.now() - started,
        ok: onKilled.status === 'fulfilled',
        error: onKilled.status === 'rejected' ? onKilled.reason : undefined,
        otherOk: onOther.status === 'fulfilled',
      });
      if (onKilled.status === 'fulfilled') recoveredAt = Date.now();
      else await sleep(100);
    }
    const afterwards = await store.claimKey(kept, 10_000);

    const failures = samples.filter((sample) => !sample.ok);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((sample) => sample.error instanceof StoreError)).toBe(true);
    // Well inside EventBridge's 5 s client timeout, with room for a loaded 2-core CI machine.
    expect(Math.max(...samples.map((sample) => sample.ms))).toBeLessThan(3500);
    expect(recoveredAt).toBeDefined();
    expect((await replica.info('replication')).get('role')).toBe('master');
    expect(samples.filter((sample) => !sample.otherOk)).toEqual([]);
    expect(afterwards).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_042 });

    await cluster.restart(victim);
    expect((await victim.info('replication')).get('role')).toBe('slave');
  });

  it('with waitReplicas 1, follows a manual failover in its WAIT connections: the first completion after the swap reaches the new master', async () => {
    // One WAIT connection, so the one that learnt the old slot map is the one asked after the swap.
    const store = await clusterStore({ waitReplicas: 1, waitTimeoutMs: 3000, waitPoolSize: 1 });
    const oldMaster = (await cluster.masters())[0] as RedisProcess;
    const [before, after] = await keysServedBy(store, oldMaster, 2);
    const [replica] = await cluster.replicasOf(oldMaster);
    if (!replica) throw new Error('no replica');
    const first = await waitForClaim(store, before as string);
    expect(await store.completeClaim(before as string, first, 1, 86_400)).toBe(true);

    // CLUSTER FAILOVER swaps the roles without dropping a connection: only a MOVED tells the client.
    // A manual failover needs the replica in sync, and a fresh cluster's may still be syncing: ask until it is master.
    await waitFor(async () => {
      if ((await replica.info('replication')).get('role') === 'master') return true;
      if ((await replica.info('replication')).get('master_link_status') === 'up') {
        await replica.command('CLUSTER', 'FAILOVER');
      }
      await sleep(500);
      return false;
    }, 20_000);
    await cluster.waitPromoted(replica);
    await waitFor(
      async () => (await oldMaster.info('replication')).get('master_link_status') === 'up',
      15_000,
    );
    const token = await waitForClaim(store, after as string);
    const completed = await store
      .completeClaim(after as string, token, 2, 86_400)
      .catch((error: unknown) => error);

    expect(completed).toBe(true);
    const location = store.location(after as string);
    expect((await findMark(via(await inspector(replica)), location))?.value).toBe('2');
    expect((await findMark(via(await inspector(oldMaster)), location))?.value).toBe('2');
  });

  // The WAIT pool's connections learn the new slot map from the MOVED their first write after the failover gets
  // (writeAndWait refreshes and resends), so the first completion already reaches the promoted master.
  it('with waitReplicas 1, refuses to confirm keys of a promoted master until the old master rejoins as its replica', async () => {
    const store = await clusterStore({ waitReplicas: 1, waitTimeoutMs: 300 });
    const victim = (await cluster.masters())[0] as RedisProcess;
    const [early] = await keysServedBy(store, victim, 1);
    const replica = await cluster.killMaster(victim);
    onTestFinished(() => (victim.running ? undefined : cluster.restart(victim)));
    await cluster.waitPromoted(replica);
    const token = await waitForClaim(store, early as string);

    const alone = await store
      .completeClaim(early as string, token, 1, 86_400)
      .catch((error: unknown) => error);
    await cluster.restart(victim);
    // The rejoined replica acknowledges its first stream within a second of its sync.
    let rejoined: unknown;
    await waitFor(async () => {
      const [key] = await keysServedBy(store, replica, 1);
      const next = await waitForClaim(store, key as string);
      rejoined = await store.completeClaim(key as string, next, 1, 86_400).catch((error: unknown) => error);
      return rejoined === true;
    }, 15_000);

    expect(alone).toBeInstanceOf(ReplicationWaitError);
    expect((alone as ReplicationWaitError).acknowledged).toBe(0);
    expect(rejoined).toBe(true);
  });
});

/** Claims `key`, retrying while the client is still learning the new slot map. */
async function waitForClaim(store: RedisStore, key: string): Promise<string> {
  let token: string | undefined;
  await waitFor(async () => {
    const claim = await store.claimKey(key, 10_000);
    if (claim.outcome === 'claimed') token = claim.token;
    return token !== undefined;
  }, 15_000);
  return token as string;
}
