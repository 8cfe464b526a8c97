import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { RedisStreamSink } from '../../src/sinks/redis-stream.js';
import type { SinkContext } from '../../src/sinks/types.js';
import { createStore } from '../../src/store/index.js';
import { createRedisClient, RedisStore, ReplicationWaitError } from '../../src/store/redis/index.js';
import { StoreError } from '../../src/store/types.js';
import { testConfig } from '../helpers/app.js';
import { findMark, type Run } from '../helpers/marks.js';
import { RedisReplicaSet } from '../helpers/redis-sentinel.js';

/**
 * REDIS_WAIT_REPLICAS on a real master and replica (`--replicaof`): a key is reported processed or
 * duplicate only once a replica holds it, and a frozen replica (SIGSTOP) turns that into a fast StoreError.
 */

let pair: RedisReplicaSet;

beforeAll(async () => {
  pair = await RedisReplicaSet.start(1);
});

afterAll(async () => {
  await pair?.close();
});

interface StoreSettings {
  waitReplicas?: number;
  waitTimeoutMs?: number;
  waitPoolSize?: number;
}

async function storeOnMaster(settings: StoreSettings = {}): Promise<RedisStore> {
  const store = new RedisStore({
    client: createRedisClient({ url: pair.url, commandTimeoutMs: 500 }),
    prefix: 'wait-test:',
    waitReplicas: settings.waitReplicas ?? 1,
    waitTimeoutMs: settings.waitTimeoutMs ?? 200,
    ...(settings.waitPoolSize ? { waitPoolSize: settings.waitPoolSize } : {}),
  });
  onTestFinished(() => store.close());
  expect(await store.connect()).toBe(true);
  return store;
}

const digest = () => createHash('sha256').update(randomUUID()).digest('base64url');

/** Commands to the master, for reading marks where the scripts wrote them. */
const onMaster: Run = (command, ...args) => pair.master.command(command, ...args);

/** Freezes the replica for the rest of the test; it is thawed (and caught up) when the test ends. */
async function freezeReplica(): Promise<void> {
  const [replica] = pair.replicas;
  if (!replica) throw new Error('no replica');
  replica.freeze();
  onTestFinished(async () => {
    replica.thaw();
    await pair.waitInSync(pair.master, 1);
  });
}

async function claimed(store: RedisStore, key: string): Promise<string> {
  const claim = await store.claimKey(key, 5000);
  if (claim.outcome !== 'claimed') throw new Error(`expected a claim, got ${claim.outcome}`);
  return claim.token;
}

async function timed<T>(work: Promise<T>): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const started = performance.now();
  const [result] = await Promise.allSettled([work]);
  return { ms: performance.now() - started, result: result as PromiseSettledResult<T> };
}

describe('RedisStore with waitReplicas', () => {
  it('completes a claim once the replica holds the key', async () => {
    const store = await storeOnMaster();
    const key = randomUUID();
    const token = await claimed(store, key);

    const completed = await store.completeClaim(key, token, 1_700_000_000_000, 86_400);

    expect(completed).toBe(true);
    // No polling: WAIT has already returned, so the replica must have it now.
    const [replica] = pair.replicas;
    const mark =
      replica &&
      (await findMark((command, ...args) => replica.command(command, ...args), store.location(key)));
    expect(mark?.value).toBe('1700000000000');
  });

  it('reports a duplicate when the replica acknowledges it', async () => {
    const store = await storeOnMaster();
    const key = randomUUID();
    await store.completeClaim(key, await claimed(store, key), 1_700_000_000_001, 86_400);

    const again = await store.claimKey(key, 5000);

    expect(again).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_001 });
  });

  it('keeps the mark, its bucket and the bucket’s expiry unchanged when a duplicate is re-asserted for WAIT', async () => {
    const store = await storeOnMaster();
    const key = randomUUID();
    await store.completeClaim(key, await claimed(store, key), 1_700_000_000_002, 86_400);
    const before = await findMark(onMaster, store.location(key));
    const expiresBefore = Number(await pair.master.command('PEXPIRETIME', before?.hash as string));
    const length = Number(await pair.master.command('HLEN', before?.hash as string));

    await store.claimKey(key, 5000);

    expect(await findMark(onMaster, store.location(key))).toEqual(before);
    expect(before?.value).toBe('1700000000002');
    expect(Number(await pair.master.command('PEXPIRETIME', before?.hash as string))).toBe(expiresBefore);
    expect(Number(await pair.master.command('HLEN', before?.hash as string))).toBe(length);
  });

  it('fails a completion within the timeout when the replica is frozen, leaving the key processed on the master', async () => {
    const store = await storeOnMaster({ waitTimeoutMs: 200 });
    const key = randomUUID();
    const token = await claimed(store, key);
    await freezeReplica();

    const { ms, result } = await timed(store.completeClaim(key, token, 1_700_000_000_003, 86_400));

    expect(result.status).toBe('rejected');
    const reason = (result as PromiseRejectedResult).reason as ReplicationWaitError;
    expect(reason).toBeInstanceOf(ReplicationWaitError);
    expect(reason).toBeInstanceOf(StoreError);
    expect(reason.operation).toBe('complete');
    expect(reason.acknowledged).toBe(0);
    expect(reason.wanted).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(200 + 400);
    expect((await findMark(onMaster, store.location(key)))?.value).toBe('1700000000003');
  });

  it('fails a duplicate answer while the replica is frozen, and gives it once the replica catches up', async () => {
    const store = await storeOnMaster({ waitTimeoutMs: 200 });
    const key = randomUUID();
    await store.completeClaim(key, await claimed(store, key), 1_700_000_000_004, 86_400);
    const [replica] = pair.replicas;
    await freezeReplica();

    const whileFrozen = await timed(store.claimKey(key, 5000));
    replica?.thaw();
    await pair.waitInSync(pair.master, 1);
    const afterThaw = await store.claimKey(key, 5000);

    expect(whileFrozen.result.status).toBe('rejected');
    const reason = (whileFrozen.result as PromiseRejectedResult).reason as ReplicationWaitError;
    expect(reason).toBeInstanceOf(ReplicationWaitError);
    expect(reason.operation).toBe('duplicate');
    expect(whileFrozen.ms).toBeLessThan(200 + 400);
    expect(afterThaw).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_004 });
  });

  it('claims new keys without waiting while a WAIT is blocked', async () => {
    const store = await storeOnMaster({ waitTimeoutMs: 1500 });
    const slow = randomUUID();
    const token = await claimed(store, slow);
    await freezeReplica();

    const blocked = store.completeClaim(slow, token, Date.now(), 86_400).catch((error: unknown) => error);
    const fresh = await timed(store.claimKey(randomUUID(), 5000));
    const blockedOutcome = await blocked;

    expect(fresh.result).toMatchObject({ status: 'fulfilled', value: { outcome: 'claimed' } });
    expect(fresh.ms).toBeLessThan(300);
    expect(blockedOutcome).toBeInstanceOf(ReplicationWaitError);
  });

  it('runs concurrent WAITs on separate connections instead of one after another', async () => {
    const store = await storeOnMaster({ waitTimeoutMs: 400, waitPoolSize: 4 });
    const keys = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const tokens = await Promise.all(keys.map((key) => claimed(store, key)));
    await freezeReplica();

    const { ms, result } = await timed(
      Promise.allSettled(
        keys.map((key, index) => store.completeClaim(key, tokens[index] as string, 1, 86_400)),
      ),
    );

    const outcomes = result.status === 'fulfilled' ? result.value : [];
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'rejected',
      'rejected',
      'rejected',
      'rejected',
    ]);
    // Serialised on one connection, four 400 ms WAITs would take 1.6 s.
    expect(ms).toBeLessThan(900);
  });

  it('fails when more replicas are asked for than exist', async () => {
    const store = await storeOnMaster({ waitReplicas: 2, waitTimeoutMs: 150 });
    const key = randomUUID();
    const token = await claimed(store, key);

    const outcome = await store.completeClaim(key, token, 1, 86_400).catch((error: unknown) => error);

    expect(outcome).toBeInstanceOf(ReplicationWaitError);
    expect((outcome as ReplicationWaitError).acknowledged).toBe(1);
    expect((outcome as ReplicationWaitError).wanted).toBe(2);
  });

  it('does not wait at all without waitReplicas, even with the replica frozen', async () => {
    const store = await storeOnMaster({ waitReplicas: 0 });
    const key = randomUUID();
    const token = await claimed(store, key);
    await freezeReplica();

    const { ms, result } = await timed(store.completeClaim(key, token, 1, 86_400));

    expect(result).toEqual({ status: 'fulfilled', value: true });
    expect(ms).toBeLessThan(150);
  });
});

describe('redis-stream sink with waitReplicas', () => {
  function streamSink(store: RedisStore): RedisStreamSink {
    return new RedisStreamSink({
      store,
      prefix: 'wait-test:',
      stream: `wait-test:events:${randomUUID()}`,
      maxLength: 1000,
      partitions: 1,
      confirmReplicated: (dedupKey, operation) => store.confirmReplicated(dedupKey, operation),
    });
  }

  const context = (key: string): SinkContext => ({
    key,
    rawBody: '{"n":1}',
    eventId: 'id-1',
    detailType: 'test',
    signal: new AbortController().signal,
    logger: createLogger({ level: 'silent' }),
  });

  it('answers processed once the replica holds the mark the append wrote', async () => {
    // Arrange
    const store = await storeOnMaster();
    const sink = streamSink(store);
    const key = digest();

    // Act
    const result = await sink.processOnce({ n: 1 }, context(key), 86_400);

    // Assert: no polling: WAIT has already returned.
    const [replica] = pair.replicas;
    if (!replica) throw new Error('no replica');
    expect(result).toEqual({ outcome: 'processed' });
    const mark = await findMark(
      (command, ...args) => replica.command(command, ...args),
      sink.locate(key).location,
    );
    expect(mark?.value).toMatch(/^\d{13}$/);
  });

  it('refuses to confirm a mark the WAIT connection does not find (written elsewhere, or gone)', async () => {
    // Arrange: a key whose mark is on no master (as when it went to an old master before a failover).
    const store = await storeOnMaster({ waitTimeoutMs: 150 });
    const sink = streamSink(store);

    // Act
    const confirmed = await store
      .confirmReplicated(sink.locate(digest()).dedupKey, 'append')
      .catch((error: unknown) => error);

    // Assert: a store failure (503, retried), never a confirmation WAIT could not give.
    expect(confirmed).toBeInstanceOf(StoreError);
    expect((confirmed as Error).message).toMatch(/the mark is not on the master/);
  });

  it('names what a failed WAIT confirmed: the append of a new event, or a duplicate', async () => {
    // Arrange
    const store = await storeOnMaster({ waitTimeoutMs: 150 });
    const sink = streamSink(store);
    const key = digest();
    await freezeReplica();

    // Act
    const appended = await sink.processOnce({ n: 1 }, context(key), 86_400).catch((error: unknown) => error);
    const repeated = await sink.processOnce({ n: 1 }, context(key), 86_400).catch((error: unknown) => error);
    const unnamed = await store.confirmReplicated(sink.locate(key).dedupKey).catch((error: unknown) => error);

    // Assert
    expect(appended).toBeInstanceOf(ReplicationWaitError);
    expect((appended as ReplicationWaitError).operation).toBe('append');
    expect((appended as ReplicationWaitError).message).toMatch(/^redis append: 0 of 1 replica/);
    expect(repeated).toBeInstanceOf(ReplicationWaitError);
    expect((repeated as ReplicationWaitError).operation).toBe('duplicate');
    expect((unnamed as ReplicationWaitError).operation).toBe('confirm');
  });
});

describe('createStore', () => {
  it('applies REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS from the configuration', async () => {
    const config = testConfig({
      STORE: 'redis',
      REDIS_URL: pair.url,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '250',
    });
    const store = await createStore(config, createLogger({ level: 'silent' }));
    onTestFinished(() => store.close());
    const key = randomUUID();
    const claim = await store.claimKey(key, 5000);
    if (claim.outcome !== 'claimed') throw new Error('expected a claim');
    await freezeReplica();

    const { ms, result } = await timed(store.completeClaim(key, claim.token, 1, 86_400));

    expect(result.status).toBe('rejected');
    expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ReplicationWaitError);
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(250 + 400);
  });
});
