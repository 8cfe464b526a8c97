import type { Logger } from 'pino';
import type { SinkContext } from '../sinks/types.js';

/**
 * The context of one sink call. Its AbortSignal is made only when the sink reads it: most sinks are
 * synchronous or never look, and an AbortController per event is a measurable share of a request's cost.
 */
export class SinkCall implements SinkContext {
  readonly key: string;
  readonly rawBody: string;
  readonly eventId: string | undefined;
  readonly detailType: string | undefined;
  readonly logger: Logger;
  private controller: AbortController | undefined;
  private abortReason: { reason: unknown } | undefined;

  constructor(
    key: string,
    rawBody: string,
    trace: { eventId?: string; detailType?: string },
    logger: Logger,
  ) {
    this.key = key;
    this.rawBody = rawBody;
    this.eventId = trace.eventId;
    this.detailType = trace.detailType;
    this.logger = logger;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = { reason };
  }
}
