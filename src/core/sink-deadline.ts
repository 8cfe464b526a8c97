import type { ValidatedEvent } from '../events/envelope.js';
import type { Sink } from '../sinks/types.js';
import type { SinkCall } from './sink-call.js';

export type SinkResult = { ok: true } | { ok: false; error: unknown };

/** A sink's settled result, or, past SINK_TIMEOUT_MS, the sink (aborted) still running. */
export type SinkRun = SinkResult | { late: Promise<SinkResult> };

const SINK_OK: SinkResult = Object.freeze({ ok: true });

/**
 * Calls the sink under SINK_TIMEOUT_MS. A synchronous sink (the log sink) is answered as is, without a
 * promise, a timer or an AbortController; past the deadline the sink's signal is aborted and the still
 * running call comes back as `late`, for the caller to settle in the background.
 */
export function runSinkWithDeadline(
  sink: Sink,
  event: ValidatedEvent,
  context: SinkCall,
  timeoutMs: number,
): SinkRun | Promise<SinkRun> {
  let pending: Promise<void> | void;
  try {
    pending = sink.handle(event.body, context);
  } catch (error) {
    return { ok: false, error };
  }
  if (pending === undefined) return SINK_OK;
  const run = Promise.resolve(pending).then(
    (): SinkResult => SINK_OK,
    (error: unknown): SinkResult => ({ ok: false, error }),
  );
  return new Promise<SinkRun>((resolve) => {
    const deadline = setTimeout(() => {
      context.abort(new Error(`SINK_TIMEOUT_MS (${timeoutMs} ms) passed`));
      resolve({ late: run });
    }, timeoutMs);
    void run.then((result) => {
      clearTimeout(deadline);
      resolve(result);
    });
  });
}
