import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RedisStore } from '../../src/store/redis/index.js';
import { redisStore } from '../helpers/app.js';
import { findMark, via } from '../helpers/marks.js';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { claimToken, everyStore, freshStore } from '../helpers/stores.js';

const { stores, redis: server } = everyStore();

describe.each(stores)('%s store', (_name, makeStore) => {
  const fresh = () => freshStore(makeStore);

  it('claims a new key once, then reports it in progress', async () => {
    const { store, key } = await fresh();

    const first = await store.claimKey(key, 5000);
    const second = await store.claimKey(key, 5000);

    expect(first.outcome).toBe('claimed');
    expect(second.outcome).toBe('in_progress');
    if (second.outcome === 'in_progress') {
      expect(second.leaseRemainingMs).toBeGreaterThan(4000);
      expect(second.leaseRemainingMs).toBeLessThanOrEqual(5000);
    }
  });

  it('reports a completed key as a duplicate with its first-seen time', async () => {
    const { store, key } = await fresh();
    const token = await claimToken(store, key, 5000);

    const completed = await store.completeClaim(key, token, 1_700_000_000_123, 86_400);
    const again = await store.claimKey(key, 5000);

    expect(completed).toBe(true);
    expect(again).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_123 });
  });

  it('lets a retry claim a released key', async () => {
    const { store, key } = await fresh();
    const token = await claimToken(store, key, 5000);

    const released = await store.releaseClaim(key, token);
    const retry = await store.claimKey(key, 5000);

    expect(released).toBe(true);
    expect(retry.outcome).toBe('claimed');
  });

  it('refuses release, renewal and completion with another owner token', async () => {
    const { store, key } = await fresh();
    await claimToken(store, key, 5000);

    expect(await store.releaseClaim(key, 'someone-else')).toBe(false);
    expect(await store.renewClaim(key, 'someone-else', 5000)).toBe(false);
    expect(await store.completeClaim(key, 'someone-else', Date.now(), 86_400)).toBe(false);
    expect((await store.claimKey(key, 5000)).outcome).toBe('in_progress');
  });

  it('lets another delivery take over a claim whose holder died, and fences the old holder', async () => {
    const { store, key } = await fresh();
    const dead = await store.claimKey(key, 150);
    if (dead.outcome !== 'claimed') throw new Error('expected a claim');

    await sleep(250);
    const takeover = await store.claimKey(key, 5000);
    const lateRelease = await store.releaseClaim(key, dead.token);
    const lateComplete = await store.completeClaim(key, dead.token, Date.now(), 86_400);

    expect(takeover.outcome).toBe('claimed');
    expect(lateRelease).toBe(false);
    expect(lateComplete).toBe(false);
    expect((await store.claimKey(key, 5000)).outcome).toBe('in_progress');
  });

  it('keeps a renewed claim past its first lease', async () => {
    const { store, key } = await fresh();
    const token = await claimToken(store, key, 300);

    await sleep(150);
    const renewed = await store.renewClaim(key, token, 300);
    await sleep(200);

    expect(renewed).toBe(true);
    expect((await store.claimKey(key, 300)).outcome).toBe('in_progress');
  });

  it('records a success whose lease ran out while nobody else claimed the key', async () => {
    const { store, key } = await fresh();
    const token = await claimToken(store, key, 100);

    await sleep(200);
    const completed = await store.completeClaim(key, token, 42, 86_400);

    expect(completed).toBe(true);
    expect(await store.claimKey(key, 100)).toEqual({ outcome: 'duplicate', firstSeenAt: 42 });
  });

  it('forgets a processed key after its TTL', async () => {
    const { store, key } = await fresh();
    const token = await claimToken(store, key, 5000);

    // A fraction of a second stands in for DEDUP_TTL_SECONDS: the store takes whatever it is given.
    await store.completeClaim(key, token, Date.now(), 0.2);
    await sleep(300);

    expect((await store.claimKey(key, 5000)).outcome).toBe('claimed');
  });

  it('answers its health check', async () => {
    const { store } = await fresh();

    await expect(store.checkHealth()).resolves.toBeUndefined();
  });
});

describe('redis store layout', () => {
  it('keeps a claim as a key of its own with the lease, and the processed key as a field of its bucket hash', async () => {
    // Arrange
    const store = redisStore(server().url) as RedisStore;
    await store.connect();
    onTestFinished(() => store.close());
    const key = 'XftEEzX0FAqi4C8xB4whpcmCcBrinkZiPZp5PIOzYYg';
    const location = store.location(key);
    await store.deleteKey(key);

    // Act
    const claim = await store.claimKey(key, 30_000);
    const claimValue = await server().client().get(location.claim);
    const leaseTtl = await server().client().pttl(location.claim);
    if (claim.outcome !== 'claimed') throw new Error('expected a claim');
    await store.completeClaim(key, claim.token, 1_700_000_000_000, 86_400);
    const mark = await findMark(via(server().client()), location);

    // Assert
    expect(location).toMatchObject({
      claim: `ebdedup:{Xf}${key}`,
      ttls: 'ebdedup:{Xf}:ttls',
      hashPrefix: 'ebdedup:{Xf}:',
      hashSuffix: '',
      field: key.slice(2, 32),
    });
    expect(claimValue).toBe(`~${claim.token}`);
    expect(leaseTtl).toBeGreaterThan(29_000);
    expect(await server().client().exists(location.claim)).toBe(0);
    expect(mark?.hash).toMatch(/^ebdedup:\{Xf\}:86400:\d+$/);
    expect(mark?.value).toBe('1700000000000');
    expect(
      await server()
        .client()
        .pttl(mark?.hash as string),
    ).toBeGreaterThan(86_399_000);
    expect(
      await server()
        .client()
        .object('ENCODING', mark?.hash as string),
    ).toBe('listpack');
    expect(Number(await server().client().hget(location.ttls, '86400'))).toBe(
      Number(
        await server()
          .client()
          .call('PEXPIRETIME', mark?.hash as string),
      ),
    );
  });

  it('fails fast, without queueing, while Redis is down, and recovers by itself', async () => {
    const own = await RedisServer.start();
    onTestFinished(() => own.close());
    const store = redisStore(own.url);
    await store.connect();
    onTestFinished(() => store.close());

    await own.stop();
    const started = Date.now();
    const failure = await store.claimKey(randomUUID(), 5000).catch((error: unknown) => error);
    const elapsed = Date.now() - started;
    await own.restart();
    await sleep(1200);

    expect((failure as Error).name).toBe('StoreError');
    expect(elapsed).toBeLessThan(1000);
    expect((await store.claimKey(randomUUID(), 5000)).outcome).toBe('claimed');
  });

  it('times out a command while Redis is frozen', async () => {
    const own = await RedisServer.start();
    onTestFinished(() => own.close());
    const store = redisStore(own.url);
    await store.connect();
    onTestFinished(() => store.close());

    own.freeze();
    const failure = await store.claimKey(randomUUID(), 5000).catch((error: unknown) => error);
    own.thaw();

    expect((failure as Error).message).toMatch(/timed out/i);
  });

  it('undoes a claim that timed out while Redis was frozen, so the event is not blocked for a lease', async () => {
    // Arrange
    const own = await RedisServer.start();
    onTestFinished(() => own.close());
    const store = redisStore(own.url);
    await store.connect();
    onTestFinished(() => store.close());
    const key = randomUUID();

    // Act: the claim reaches the frozen Redis, times out, and lands when Redis thaws.
    own.freeze();
    const failure = await store.claimKey(key, 30_000).catch((error: unknown) => error);
    own.thaw();
    await sleep(1500);
    const retry = await store.claimKey(key, 30_000);

    // Assert
    expect((failure as Error).name).toBe('StoreError');
    expect(retry.outcome).toBe('claimed');
  });

  it('counts a completion whose reply was lost as done when it is retried', async () => {
    const store = redisStore(server().url);
    await store.connect();
    onTestFinished(() => store.close());
    const key = randomUUID();
    const token = await claimToken(store, key, 5000);

    const first = await store.completeClaim(key, token, 1_700_000_000_001, 86_400);
    const retried = await store.completeClaim(key, token, 1_700_000_000_001, 86_400);

    expect([first, retried]).toEqual([true, true]);
  });
});
