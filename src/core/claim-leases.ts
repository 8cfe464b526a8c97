import type { Logger } from 'pino';
import type { IdempotencyStore } from '../store/types.js';

/** A claim whose sink is running: its lease is renewed until it is dropped. */
export interface HeldClaim {
  readonly key: string;
  readonly token: string;
  renewedAt: number;
}

/**
 * Keeps the leases of claims whose sink is still running. One timer for all claims rather than one per
 * request: a live holder renews a third of the way into its lease, so it never loses the claim while its sink
 * runs; a holder that died stops renewing, and its claim lapses after the lease for a retry to take.
 */
export class ClaimLeases {
  private readonly held = new Set<HeldClaim>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly store: Pick<IdempotencyStore, 'renewClaim'>,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {
    this.heartbeat = setInterval(() => this.renew(), Math.max(Math.floor(leaseMs / 3), 50));
    this.heartbeat.unref();
  }

  /** Starts renewing a claim just taken. */
  hold(key: string, token: string, claimedAt: number): HeldClaim {
    const held: HeldClaim = { key, token, renewedAt: claimedAt };
    this.held.add(held);
    return held;
  }

  /** Stops renewing: the claim was completed or released, or is left to lapse. */
  drop(held: HeldClaim): void {
    this.held.delete(held);
  }

  private renew(): void {
    const now = Date.now();
    const due = now - this.leaseMs / 3;
    for (const held of this.held) {
      if (held.renewedAt > due) continue;
      held.renewedAt = now;
      this.store.renewClaim(held.key, held.token, this.leaseMs).then(
        (renewed) => {
          if (!renewed && this.held.has(held)) {
            this.logger.warn({ key: held.key }, 'lost a claim while its sink was still running');
          }
        },
        (error: unknown) => this.logger.warn({ err: error, key: held.key }, 'could not renew a claim lease'),
      );
    }
  }

  /** Stops the heartbeat; called once nothing is held any more. */
  close(): void {
    clearInterval(this.heartbeat);
  }
}
