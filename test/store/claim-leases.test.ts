import { describe, expect, it, onTestFinished } from 'vitest';
import { ClaimLeases } from '../../src/core/claim-leases.js';
import { createLogger } from '../../src/core/logger.js';
import type { IdempotencyStore } from '../../src/store/types.js';
import { sleep } from '../helpers/ports.js';
import { claimToken, everyStore, freshStore } from '../helpers/stores.js';

const { stores } = everyStore();
// Long enough that a busy CI machine (2 cores, test files in parallel) does not miss a renewal.
const LEASE_MS = 600;

describe.each(stores)('ClaimLeases on the %s store', (_name, makeStore) => {
  function leasesFor(store: IdempotencyStore): ClaimLeases {
    const leases = new ClaimLeases(store, LEASE_MS, createLogger({ level: 'silent' }));
    onTestFinished(() => leases.close());
    return leases;
  }

  it('keeps a held claim in progress for several leases while its sink runs', async () => {
    const { store, key } = await freshStore(makeStore);
    const leases = leasesFor(store);
    const token = await claimToken(store, key, LEASE_MS);

    leases.hold(key, token, Date.now());
    await sleep(LEASE_MS * 3);
    const retry = await store.claimKey(key, LEASE_MS);

    expect(retry.outcome).toBe('in_progress');
  });

  it('lets a dropped claim lapse after its lease, so a retry can take it', async () => {
    const { store, key } = await freshStore(makeStore);
    const leases = leasesFor(store);
    const token = await claimToken(store, key, LEASE_MS);
    const held = leases.hold(key, token, Date.now());

    leases.drop(held);
    await sleep(LEASE_MS * 2);
    const retry = await store.claimKey(key, LEASE_MS);

    expect(retry.outcome).toBe('claimed');
  });
});
