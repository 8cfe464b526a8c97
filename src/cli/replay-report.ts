import type { DeliveryResult, Outcome } from './delivery.js';
import { EXIT_FAILED, EXIT_OK, redactUrl } from './io.js';
import { formatDuration, LatencyRecorder, type LatencySummary } from './stats.js';

/** What `ebdedup replay` prints at the end: counts by outcome, retries, statuses and latency. */
export interface ReplaySummary {
  url: string;
  events: number;
  deliveries: number;
  processed: number;
  duplicate: number;
  /** 2xx answers whose body is neither processed nor duplicate. */
  delivered: number;
  /** Final 4xx answers (EventBridge sends these to the dead-letter queue). */
  invalid: number;
  /** Still failing after the last attempt. */
  failed: number;
  /** Files, array items or lines that could not be read. */
  unreadable: number;
  /** Attempts beyond the first, summed over deliveries. */
  retries: number;
  /** Final HTTP status counts; `error` for deliveries that never got an answer. */
  statuses: Record<string, number>;
  latencyMs: LatencySummary;
  elapsedMs: number;
  exitCode: number;
}

/**
 * The replay's running totals: each delivery's result is counted as it ends and then dropped, so a replay of
 * millions of deliveries holds counters and a histogram, never a list of results.
 */
export class ReplayTally {
  private readonly outcomes: Record<Outcome, number> = {
    processed: 0,
    duplicate: 0,
    delivered: 0,
    invalid: 0,
    failed: 0,
  };
  private readonly statuses: Record<string, number> = {};
  private readonly latency = new LatencyRecorder();
  private deliveries = 0;
  private retries = 0;
  /** The first connection error's words, for one line naming the unreachable receiver. */
  unreachable: string | undefined;

  add(result: DeliveryResult): void {
    this.deliveries++;
    this.outcomes[result.outcome]++;
    const status = result.status === undefined ? 'error' : String(result.status);
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.retries += result.attempts - 1;
    this.latency.record(result.ms);
    if (result.error === 'connection_error' && this.unreachable === undefined) {
      this.unreachable = result.detail ?? '';
    }
  }

  /** `processed=… duplicate=… not-2xx=…`, for the progress bar. */
  progressLine(): string {
    const { processed, duplicate, invalid, failed } = this.outcomes;
    return `processed=${processed} duplicate=${duplicate} not-2xx=${invalid + failed}`;
  }

  get done(): number {
    return this.deliveries;
  }

  /** True when some delivery's final answer had this status. */
  answered(status: number): boolean {
    return (this.statuses[String(status)] ?? 0) > 0;
  }

  summary(meta: { url: URL; events: number; unreadable: number; elapsedMs: number }): ReplaySummary {
    const { processed, duplicate, delivered, invalid, failed } = this.outcomes;
    return {
      url: redactUrl(meta.url),
      events: meta.events,
      deliveries: this.deliveries,
      processed,
      duplicate,
      delivered,
      invalid,
      failed,
      unreadable: meta.unreadable,
      retries: this.retries,
      statuses: { ...this.statuses },
      latencyMs: this.latency.summary(),
      elapsedMs: Math.round(meta.elapsedMs),
      exitCode: invalid + failed + meta.unreadable === 0 ? EXIT_OK : EXIT_FAILED,
    };
  }
}

export function formatSummary(summary: ReplaySummary): string[] {
  const counts = [
    `${summary.processed} processed`,
    `${summary.duplicate} duplicate`,
    ...(summary.delivered > 0 ? [`${summary.delivered} other 2xx`] : []),
    `${summary.invalid} invalid`,
    `${summary.failed} failed`,
  ];
  const lines = [
    `${summary.deliveries} deliveries of ${summary.events} events in ${formatDuration(summary.elapsedMs)}: ${counts.join(', ')} (${summary.retries} retries)`,
    `latency p50 ${summary.latencyMs.p50}ms, p90 ${summary.latencyMs.p90}ms, p99 ${summary.latencyMs.p99}ms, max ${summary.latencyMs.max}ms`,
  ];
  if (summary.unreadable > 0) lines.push(`${summary.unreadable} inputs could not be read (see above)`);
  return lines;
}
