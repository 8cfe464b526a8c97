import type { Logger } from 'pino';
import { type EventSchemaMode, type ValidatedEvent, validateEvent } from '../events/envelope.js';
import { loneSurrogateIssue } from '../events/json-checks.js';
import type { KeyStrategy, RequestHeaders } from '../events/keys.js';
import type { Sink } from '../sinks/types.js';
import { type IdempotencyStore, ReplicationWaitError } from '../store/types.js';
import { ClaimLeases, type HeldClaim } from './claim-leases.js';
import {
  InProgressError,
  InvalidEventError,
  PoisonEventError,
  ProcessingFailedError,
  ProcessingTimeoutError,
  ReceiverError,
  StoreUnavailableError,
} from './errors.js';
import { SinkCall } from './sink-call.js';
import { runSinkWithDeadline, type SinkResult, type SinkRun } from './sink-deadline.js';

/**
 * The receiver's core: validate → key → claim → sink under a deadline → complete or release. It knows
 * nothing of HTTP; the Fastify route and the Lambda adapter both call `handle`.
 *
 * Its promise: a failure before the sink's success is recorded never leaves the key marked processed, so a
 * retry can always succeed later; a key marked processed is never processed again while it is kept.
 */

export type DedupOutcome =
  | { status: 'processed'; key: string }
  | { status: 'duplicate'; key: string; firstSeenAt: string };

/** An event as it arrived: its parsed body, for validation and the key, and its text, for the sinks. */
export interface ReceivedEvent {
  body: unknown;
  /** The body exactly as it was sent (valid UTF-8 text): what every sink delivers, never a re-serialised copy. */
  rawBody: string;
  /**
   * The body as the dedup key reads it, where it differs from `body` (integers beyond a double kept apart by
   * their digits: src/events/json-text.ts). Validated like `body`, then keyed instead of it.
   */
  keyBody?: unknown;
}

/** What the pipeline learnt about a request, filled in as it goes, for the caller's log line. */
export interface RequestTrace {
  key?: string;
  eventId?: string;
  detailType?: string;
}

export interface PipelineOptions {
  store: IdempotencyStore;
  sink: Sink;
  logger: Logger;
  keyStrategy: KeyStrategy;
  eventSchema: EventSchemaMode;
  leaseSeconds: number;
  sinkTimeoutMs: number;
  storeFailure: 'fail-closed' | 'fail-open';
}

export class DedupPipeline {
  private readonly store: IdempotencyStore;
  private readonly sink: Sink;
  private readonly logger: Logger;
  private readonly keyStrategy: KeyStrategy;
  private readonly eventSchema: EventSchemaMode;
  private readonly leaseMs: number;
  private readonly sinkTimeoutMs: number;
  private readonly failOpen: boolean;
  /** Sinks still running after their request was answered 504, settled in the background. */
  private readonly settling = new Set<Promise<void>>();
  /** Claims whose sink is running, their leases renewed until completion or release. */
  private readonly leases: ClaimLeases;
  private closing = false;

  constructor(options: PipelineOptions) {
    this.store = options.store;
    this.sink = options.sink;
    this.logger = options.logger;
    this.keyStrategy = options.keyStrategy;
    this.eventSchema = options.eventSchema;
    this.leaseMs = options.leaseSeconds * 1000;
    this.sinkTimeoutMs = options.sinkTimeoutMs;
    this.failOpen = options.storeFailure === 'fail-open';
    this.leases = new ClaimLeases(this.store, this.leaseMs, this.logger);
  }

  async handle(
    received: ReceivedEvent,
    headers: RequestHeaders,
    trace: RequestTrace = {},
  ): Promise<DedupOutcome> {
    // Refused here, for every adapter; withIntegerDigitsKept's key marker (a lone surrogate) relies on it.
    const lone = loneSurrogateIssue(received.body, received.rawBody);
    if (lone !== undefined) throw new InvalidEventError([lone]);
    const event = validateEvent(received.body, this.eventSchema);
    const rawBody = received.rawBody;
    if (event.kind === 'envelope') {
      trace.eventId = event.envelope.id;
      trace.detailType = event.envelope['detail-type'];
    }
    const keyed = received.keyBody === undefined ? event : validateEvent(received.keyBody, this.eventSchema);
    const dedupKey = this.keyStrategy(keyed, headers);
    trace.key = dedupKey.key;
    if (this.sink.processOnce)
      return this.processAtomically(event, rawBody, dedupKey.key, dedupKey.ttlSeconds, trace);

    let claim: Awaited<ReturnType<IdempotencyStore['claimKey']>>;
    try {
      claim = await this.store.claimKey(dedupKey.key, this.leaseMs);
    } catch (error) {
      // A WAIT that timed out means Redis answered: the key exists, only its replication is unconfirmed, so
      // failing open would process an event known to be done.
      if (!this.failOpen || error instanceof ReplicationWaitError) {
        throw new StoreUnavailableError('claim', { cause: error });
      }
      this.logger.warn(
        { err: error, key: dedupKey.key },
        'store unavailable: processing without dedup (STORE_FAILURE=fail-open)',
      );
      return this.processWithoutClaim(event, rawBody, dedupKey.key, trace);
    }

    switch (claim.outcome) {
      case 'duplicate':
        return {
          status: 'duplicate',
          key: dedupKey.key,
          firstSeenAt: new Date(claim.firstSeenAt).toISOString(),
        };
      case 'in_progress':
        throw new InProgressError(dedupKey.key, 1);
      case 'poisoned':
        throw new PoisonEventError(dedupKey.key, claim.failures);
      case 'claimed':
        return this.processClaimed(event, rawBody, dedupKey.key, claim.token, dedupKey.ttlSeconds, trace);
    }
  }

  private async processClaimed(
    event: ValidatedEvent,
    rawBody: string,
    key: string,
    token: string,
    ttlSeconds: number,
    trace: RequestTrace,
  ): Promise<DedupOutcome> {
    const claimedAt = Date.now();
    const held = this.leases.hold(key, token, claimedAt);
    const running = this.runSink(event, rawBody, key, trace);
    const result = running instanceof Promise ? await running : running;

    if ('late' in result) {
      // The claim stays until the sink settles: a retry meanwhile gets 409, then the final answer.
      const late = result.late.then((settled) => this.conclude(settled, held, claimedAt, ttlSeconds));
      // Its failure is the caller's to read if it waits (the Lambda adapter); recorded by finish() either way.
      this.settleLater(late.then(ignore, ignore));
      throw new ProcessingTimeoutError(key, this.sinkTimeoutMs, late);
    }
    return this.conclude(result, held, claimedAt, ttlSeconds);
  }

  /** Records the sink's result (finish) and turns it into the answer: processed, or the failure to throw. */
  private async conclude(
    result: SinkResult,
    held: HeldClaim,
    claimedAt: number,
    ttlSeconds: number,
  ): Promise<{ status: 'processed'; key: string }> {
    const recorded = await this.finish(result, held, claimedAt, ttlSeconds);
    if (!result.ok) throw sinkFailure(held.key, result.error);
    // Processed, and marked so on the master, but fewer replicas than REDIS_WAIT_REPLICAS confirmed it: a
    // failover could forget it. 503 makes EventBridge retry; the retry finds the key and waits for it again.
    if (recorded === 'unreplicated') throw new StoreUnavailableError('complete (replication)');
    return { status: 'processed', key: held.key };
  }

  /**
   * Records the sink's result: processed on success, the claim released on failure. Never throws. On
   * success it resolves `recorded`, `unreplicated` (written, but WAIT saw too few replicas) or `retrying`
   * (the write failed: the work is done, so the answer is still 200, and the completion is retried in the
   * background while the heartbeat keeps the claim alive, so that no later delivery runs the event again).
   */
  private async finish(
    result: SinkResult,
    held: HeldClaim,
    claimedAt: number,
    ttlSeconds: number,
  ): Promise<'recorded' | 'unreplicated' | 'retrying' | 'released'> {
    const { key, token } = held;
    if (result.ok) {
      try {
        const recorded = await this.store.completeClaim(key, token, claimedAt, ttlSeconds);
        this.leases.drop(held);
        if (!recorded)
          this.logger.warn({ key }, 'claim was taken over by another delivery before completion');
        return 'recorded';
      } catch (error) {
        if (error instanceof ReplicationWaitError) {
          this.leases.drop(held);
          return 'unreplicated';
        }
        this.logger.error(
          { err: error, key },
          'could not record the event as processed; retrying in the background',
        );
        this.settleLater(this.retryCompletion(held, claimedAt, ttlSeconds));
        return 'retrying';
      }
    }
    this.leases.drop(held);
    try {
      await this.store.releaseClaim(key, token);
    } catch (error) {
      // The claim lapses after DEDUP_LEASE_SECONDS, and a retry after that processes the event.
      this.logger.error({ err: error, key }, 'could not release the claim after a sink failure');
    }
    return 'released';
  }

  /**
   * Retries a completion write that failed (Redis unreachable), with backoff capped at 500 ms so the key is
   * recorded soon after Redis returns, before its lease can lapse. Gives up after COMPLETION_RETRY_MS or when
   * the pipeline closes (after one last try); the claim then lapses after DEDUP_LEASE_SECONDS.
   */
  private async retryCompletion(held: HeldClaim, claimedAt: number, ttlSeconds: number): Promise<void> {
    const giveUpAt = Date.now() + COMPLETION_RETRY_MS;
    let delay = 50;
    try {
      for (;;) {
        const lastTry = this.closing || Date.now() >= giveUpAt;
        if (!lastTry) await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, 500);
        try {
          const recorded = await this.store.completeClaim(held.key, held.token, claimedAt, ttlSeconds);
          this.logger.info({ key: held.key, recorded }, 'recorded the event as processed after a retry');
          return;
        } catch (error) {
          if (error instanceof ReplicationWaitError) return;
          if (lastTry) {
            this.logger.error({ err: error, key: held.key }, 'gave up recording the event as processed');
            return;
          }
        }
      }
    } finally {
      this.leases.drop(held);
    }
  }

  /** A sink that records the key in the same atomic step as its write: one call, nothing to release. */
  private async processAtomically(
    event: ValidatedEvent,
    rawBody: string,
    key: string,
    ttlSeconds: number,
    trace: RequestTrace,
  ): Promise<DedupOutcome> {
    const sink = this.sink as Required<Pick<Sink, 'processOnce'>>;
    let result: Awaited<ReturnType<typeof sink.processOnce>>;
    try {
      result = await sink.processOnce(event.body, new SinkCall(key, rawBody, trace, this.logger), ttlSeconds);
    } catch (error) {
      if (error instanceof ReceiverError) throw error;
      // The sink's medium is the store itself (Redis): processing without dedup is not possible there.
      throw new StoreUnavailableError('process-once', { cause: error });
    }
    switch (result.outcome) {
      case 'processed':
        return { status: 'processed', key };
      case 'duplicate':
        return { status: 'duplicate', key, firstSeenAt: new Date(result.firstSeenAt).toISOString() };
      case 'in_progress':
        throw new InProgressError(key, 1);
    }
  }

  private async processWithoutClaim(
    event: ValidatedEvent,
    rawBody: string,
    key: string,
    trace: RequestTrace,
  ): Promise<DedupOutcome> {
    const running = this.runSink(event, rawBody, key, trace);
    const result = running instanceof Promise ? await running : running;
    if ('late' in result) {
      this.settleLater(result.late.then(() => undefined));
      throw new ProcessingTimeoutError(key, this.sinkTimeoutMs);
    }
    if (!result.ok) throw sinkFailure(key, result.error);
    return { status: 'processed', key };
  }

  private runSink(
    event: ValidatedEvent,
    rawBody: string,
    key: string,
    trace: RequestTrace,
  ): SinkRun | Promise<SinkRun> {
    const context = new SinkCall(key, rawBody, trace, this.logger);
    return runSinkWithDeadline(this.sink, event, context, this.sinkTimeoutMs);
  }

  private settleLater(settlement: Promise<void>): void {
    const tracked = settlement.catch((error: unknown) => {
      this.logger.error({ err: error }, 'settling a late sink failed');
    });
    this.settling.add(tracked);
    void tracked.finally(() => this.settling.delete(tracked));
  }

  /** Waits for sinks that outlived their request's deadline, then stops the heartbeat. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.settling.size > 0) await Promise.all([...this.settling]);
    this.leases.close();
  }
}

/** A sink's own ReceiverError (422 from the http sink, say) chooses the answer; anything else is a 500. */
function sinkFailure(key: string, error: unknown): ReceiverError {
  return error instanceof ReceiverError ? error : new ProcessingFailedError(key, { cause: error });
}

function ignore(): void {}

/** How long a failed completion write is retried before the claim is left to lapse. */
const COMPLETION_RETRY_MS = 5 * 60_000;
