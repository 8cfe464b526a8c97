/** Small, pure statistics helpers of the benchmark (unit-tested in test/bench). */

/** The median; the mean of the two middle values for an even count; NaN for none. NaN inputs are ignored. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle] as number;
  return ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** `value / reference`, or NaN when either is missing or the reference is not positive. */
export function ratio(value: number | undefined, reference: number | undefined): number {
  if (value === undefined || reference === undefined) return Number.NaN;
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) return Number.NaN;
  return value / reference;
}

/**
 * The nearest-rank percentile (`p` in 0..100) of ascending values: the smallest value with at least p % of
 * the values at or below it. NaN for no values.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summarises latencies in milliseconds (sorts its argument in place). */
export function summariseLatencies(latencies: Float64Array): LatencySummary {
  latencies.sort();
  let total = 0;
  for (const value of latencies) total += value;
  return {
    count: latencies.length,
    mean: latencies.length === 0 ? Number.NaN : total / latencies.length,
    p50: percentileSorted(latencies, 50),
    p90: percentileSorted(latencies, 90),
    p99: percentileSorted(latencies, 99),
    max: latencies.length === 0 ? Number.NaN : (latencies[latencies.length - 1] as number),
  };
}

/** A growable Float64Array: one latency sample per response without an allocation per sample. */
export class SampleBuffer {
  private data: Float64Array;
  private size = 0;

  constructor(initialCapacity = 1 << 16) {
    this.data = new Float64Array(Math.max(initialCapacity, 16));
  }

  push(value: number): void {
    if (this.size === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.size++] = value;
  }

  get length(): number {
    return this.size;
  }

  /** A copy of the samples so far. */
  values(): Float64Array {
    return this.data.slice(0, this.size);
  }
}

/**
 * Least-squares slope of `y` over `x` (per unit of x): how fast a series (RSS over seconds) grows. NaN for
 * fewer than two points or no spread in x.
 */
export function slope(points: readonly { x: number; y: number }[]): number {
  if (points.length < 2) return Number.NaN;
  const n = points.length;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - meanX) * (p.y - meanY);
    den += (p.x - meanX) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}
