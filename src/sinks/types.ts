import type { Logger } from 'pino';

/** What a sink is told besides the event. */
export interface SinkContext {
  /** The dedup key (base64url SHA-256): pass it on as an idempotency key to whatever the sink calls. */
  key: string;
  /** The EventBridge `id`, when the body is an EventBridge event. */
  eventId: string | undefined;
  /** `detail-type`, when there is one. */
  detailType: string | undefined;
  /** Aborted when SINK_TIMEOUT_MS passes: stop, or at least do not start anything new. */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * Processing a new event. A sink resolves when the work is done and rejects when it is not; a rejection
 * releases the claim so EventBridge's retry can try again.
 */
export interface Sink {
  readonly name: string;
  handle(event: Record<string, unknown>, context: SinkContext): Promise<void> | void;
  close(): Promise<void>;
}
