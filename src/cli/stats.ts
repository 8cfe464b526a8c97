import { build, type Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Latencies in whole milliseconds, summarised in constant memory: an HDR histogram
 * (https://hdrhistogram.github.io/HdrHistogram/) of 3 significant digits, so percentiles are exact up to 2047 ms
 * and within 0.1 % above, whatever the number of values; the maximum is exact. Percentiles are
 * nearest-rank: the smallest recorded value with at least p % of the values at or below it.
 */
export class LatencyRecorder {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    // A first size for up to two minutes; grows if a value is larger (a delivery's retries can last longer).
    highestTrackableValue: 120_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  record(ms: number): void {
    this.histogram.recordValue(Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0);
  }

  summary(): LatencySummary {
    if (this.histogram.totalCount === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
    // With a lowestDiscernibleValue of 1, the histogram keeps the largest value exactly.
    const max = this.histogram.maxValue;
    // A bucket's highest value can pass the largest value recorded in it: no percentile above the maximum.
    const at = (p: number) => Math.min(this.histogram.getValueAtPercentile(p), max);
    return { p50: at(50), p90: at(90), p99: at(99), max };
  }
}

/** `850ms`, `1.2s`, `3m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}
