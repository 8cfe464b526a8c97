import { describe, expect, it } from 'vitest';
import { everyStore, freshStore } from '../helpers/stores.js';

const { stores } = everyStore();

describe.each(stores)('%s store: inspectKey and deleteKey', (_name, makeStore) => {
  const fresh = () => freshStore(makeStore);

  it('tells absent, in progress with the lease left, and processed with first-seen time and TTL left', async () => {
    const { store, key } = await fresh();

    const absent = await store.inspectKey(key);
    const claim = await store.claimKey(key, 5000);
    const inProgress = await store.inspectKey(key);
    if (claim.outcome !== 'claimed') throw new Error('expected a claim');
    await store.completeClaim(key, claim.token, 1_700_000_000_123, 86_400);
    const processed = await store.inspectKey(key);

    expect(absent).toEqual({ state: 'absent' });
    expect(inProgress).toEqual({ state: 'in_progress', leaseRemainingMs: expect.any(Number) });
    if (inProgress.state === 'in_progress') {
      expect(inProgress.leaseRemainingMs).toBeGreaterThan(4000);
      expect(inProgress.leaseRemainingMs).toBeLessThanOrEqual(5000);
    }
    expect(processed).toEqual({
      state: 'processed',
      firstSeenAt: 1_700_000_000_123,
      ttlRemainingMs: expect.any(Number),
    });
    if (processed.state === 'processed') expect(processed.ttlRemainingMs).toBeGreaterThan(86_390_000);
  });

  it('deletes whatever the key holds and says what it was; a deleted claim cannot be completed by its old owner over a new one', async () => {
    const { store, key } = await fresh();
    const old = await store.claimKey(key, 5000);
    if (old.outcome !== 'claimed') throw new Error('expected a claim');

    const deleted = await store.deleteKey(key);
    const again = await store.deleteKey(key);
    const takeover = await store.claimKey(key, 5000);
    const staleComplete = await store.completeClaim(key, old.token, Date.now(), 86_400);

    expect(deleted.state).toBe('in_progress');
    expect(again).toEqual({ state: 'absent' });
    expect(takeover.outcome).toBe('claimed');
    expect(staleComplete).toBe(false);
    expect((await store.inspectKey(key)).state).toBe('in_progress');
  });

  it('leaves a processed key absent after deleteKey, so the next delivery claims it', async () => {
    const { store, key } = await fresh();
    const claim = await store.claimKey(key, 5000);
    if (claim.outcome !== 'claimed') throw new Error('expected a claim');
    await store.completeClaim(key, claim.token, 1_700_000_000_000, 86_400);

    const deleted = await store.deleteKey(key);
    const next = await store.claimKey(key, 5000);

    expect(deleted).toMatchObject({ state: 'processed', firstSeenAt: 1_700_000_000_000 });
    expect(next.outcome).toBe('claimed');
  });
});
