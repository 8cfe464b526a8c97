/**
 * The idempotency store: a small state machine per dedup key, modelled on Powertools' idempotency records
 * (https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/) but with the check and the
 * claim as one atomic step.
 *
 *   (absent) --claimKey--> in progress (owner token, lease) --completeClaim--> processed (first seen, TTL)
 *                                 |                       \--releaseClaim--> (absent)
 *                                 \--lease expires (holder died)--> (absent)
 *
 * completeClaim, releaseClaim and renewClaim compare the owner token, so a holder whose lease expired can
 * neither release nor overwrite a newer holder's claim.
 */

export type ClaimResult =
  | { outcome: 'claimed'; token: string }
  | { outcome: 'duplicate'; firstSeenAt: number }
  | { outcome: 'in_progress'; leaseRemainingMs: number }
  /** Processing failed MAX_ATTEMPTS times: a retry cannot be expected to succeed. */
  | { outcome: 'poisoned'; failures: number };

/** What the store holds for a key right now: the admin view (GET/DELETE /admin/keys/:key). */
export type KeyInspection =
  | { state: 'absent' }
  | { state: 'in_progress'; leaseRemainingMs: number }
  | { state: 'processed'; firstSeenAt: number; ttlRemainingMs: number };

export interface IdempotencyStore {
  readonly kind: 'redis' | 'memory';
  /** Takes `key` for a new owner unless it is processed or claimed. One atomic step. */
  claimKey(key: string, leaseMs: number): Promise<ClaimResult>;
  /**
   * Marks the key processed for `ttlSeconds` if `token` still owns it, or if nobody does (the lease ran out
   * while the work succeeded). False when another owner holds or has completed it.
   */
  completeClaim(key: string, token: string, firstSeenAt: number, ttlSeconds: number): Promise<boolean>;
  /**
   * Drops the claim if `token` still owns it, so a retry processes the event. With MAX_ATTEMPTS, counts the
   * failure towards the key's poison limit.
   */
  releaseClaim(key: string, token: string): Promise<boolean>;
  /** Extends the lease if `token` still owns it (the heartbeat of a slow sink). */
  renewClaim(key: string, token: string, leaseMs: number): Promise<boolean>;
  /** What the store holds for `key` (admin view). Reads only. */
  inspectKey(key: string): Promise<KeyInspection>;
  /**
   * Removes `key` whatever its state, in one atomic step, and resolves to what it held: an operator's
   * force-release of a stuck claim, or a deliberate reprocess of a processed event.
   */
  deleteKey(key: string): Promise<KeyInspection>;
  /** Resolves when the store answers; rejects otherwise. */
  checkHealth(): Promise<void>;
  close(): Promise<void>;
}

/** A store call that failed for infrastructure reasons (connection, timeout), not because of the data. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/**
 * WAIT saw fewer replicas than REDIS_WAIT_REPLICAS acknowledge within REDIS_WAIT_TIMEOUT_MS. The write is on
 * the master all the same: after `complete` the key *is* processed there, only not known to be replicated, so
 * the receiver answers 503 and EventBridge's retry finds a duplicate (and waits for its replication again).
 */
export class ReplicationWaitError extends StoreError {
  constructor(
    /** `complete`, a `duplicate` answer, or a sink's own write (`append`, or `confirm` when it did not say). */
    readonly operation: 'complete' | 'duplicate' | 'append' | 'confirm',
    readonly acknowledged: number,
    readonly wanted: number,
    timeoutMs: number,
  ) {
    super(
      `redis ${operation}: ${acknowledged} of ${wanted} replica(s) acknowledged the key within ${timeoutMs} ms`,
    );
  }
}

let counter = 0;
const processTag = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/**
 * Owner tokens: unique across processes (pid and a random tag) and within one (a counter), and cheap, since
 * one is made per new event.
 */
export function newOwnerToken(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${processTag}.${counter.toString(36)}`;
}
