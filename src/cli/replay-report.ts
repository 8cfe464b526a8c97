import type { DeliveryResult, Outcome } from './delivery.js';
import { EXIT_FAILED, EXIT_OK, redactUrl } from './io.js';
import { formatDuration, type LatencySummary, summarizeLatencies } from './stats.js';

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

export function summarize(
  results: readonly DeliveryResult[],
  meta: { url: URL; events: number; unreadable: number; elapsedMs: number },
): ReplaySummary {
  const count = (outcome: Outcome) => results.filter((r) => r.outcome === outcome).length;
  const statuses: Record<string, number> = {};
  for (const r of results) {
    const name = r.status === undefined ? 'error' : String(r.status);
    statuses[name] = (statuses[name] ?? 0) + 1;
  }
  const invalid = count('invalid');
  const failed = count('failed');
  return {
    url: redactUrl(meta.url),
    events: meta.events,
    deliveries: results.length,
    processed: count('processed'),
    duplicate: count('duplicate'),
    delivered: count('delivered'),
    invalid,
    failed,
    unreadable: meta.unreadable,
    retries: results.reduce((sum, r) => sum + r.attempts - 1, 0),
    statuses,
    latencyMs: summarizeLatencies(results.map((r) => r.ms)),
    elapsedMs: Math.round(meta.elapsedMs),
    exitCode: invalid + failed + meta.unreadable === 0 ? EXIT_OK : EXIT_FAILED,
  };
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
