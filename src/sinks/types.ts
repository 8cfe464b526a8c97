import type { Logger } from 'pino';

/** What a sink is told besides the event. */
export interface SinkContext {
  /** The dedup key (base64url SHA-256): pass it on as an idempotency key to whatever the sink calls. */
  key: string;
  /**
   * The request body exactly as it was sent (UTF-8 text that encodes back to the bytes received): what a sink
   * writes or forwards, so that nothing it delivers is altered by a parse and re-serialisation (`1.0`, integers
   * past 2^53, key order, white space). The parsed `event` is for reading fields. In the Lambda adapter the
   * runtime has parsed the payload already, so this is `JSON.stringify` of what it passed.
   */
  rawBody: string;
  /** The EventBridge `id`, when the body is an EventBridge event. */
  eventId: string | undefined;
  /** `detail-type`, when there is one. */
  detailType: string | undefined;
  /** Aborted when SINK_TIMEOUT_MS passes: stop, or at least do not start anything new. */
  signal: AbortSignal;
  logger: Logger;
}

/** The answer of a sink that records the key itself (see `Sink.processOnce`). */
export type ProcessOnceResult =
  | { outcome: 'processed' }
  | { outcome: 'duplicate'; firstSeenAt: number }
  | { outcome: 'in_progress'; leaseRemainingMs: number };

/**
 * Processing a new event. A sink resolves when the work is done and rejects when it is not; a rejection
 * releases the claim so EventBridge's retry can try again. A rejection with a ReceiverError (such as
 * RejectedDownstreamError) chooses the answer; any other means 500.
 */
export interface Sink {
  readonly name: string;
  handle(event: Record<string, unknown>, context: SinkContext): Promise<void> | void;
  /**
   * For a sink whose write and the dedup record can be one atomic step (redis-stream): checks the key,
   * writes and records it at once, so there is no claim, no in-progress window and one round trip. When
   * present, the pipeline calls it instead of claim → handle → complete.
   */
  processOnce?(
    event: Record<string, unknown>,
    context: SinkContext,
    ttlSeconds: number,
  ): Promise<ProcessOnceResult>;
  close(): Promise<void>;
}
