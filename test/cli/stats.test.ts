import { describe, expect, it } from 'vitest';
import { LatencyRecorder, type LatencySummary } from '../../src/cli/stats.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** The nearest-rank percentile of sorted values, computed exactly: what the histogram must approach. */
function exactPercentile(sorted: Float64Array, p: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** The summary of a LatencyRecorder given `values` one at a time. */
function recorded(values: Iterable<number>): LatencySummary {
  const recorder = new LatencyRecorder();
  for (const value of values) recorder.record(value);
  return recorder.summary();
}

describe('LatencyRecorder', () => {
  it('uses nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);

    expect(recorded(values)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 });
    expect(recorded([7])).toEqual({ p50: 7, p90: 7, p99: 7, max: 7 });
    expect(recorded([0, 0, 3])).toEqual({ p50: 0, p90: 3, p99: 3, max: 3 });
    expect(recorded([])).toEqual({ p50: 0, p90: 0, p99: 0, max: 0 });
  });

  it('records a negative, fractional or non-finite latency as whole milliseconds from 0', () => {
    expect(recorded([-5, Number.NaN, 2.6])).toEqual({ p50: 0, p90: 3, p99: 3, max: 3 });
  });

  it('summarises 200,000 latencies without a stack overflow, exact below 2 s and within 0.1 % above', () => {
    // Arrange: Math.max(...values) threw "Maximum call stack size exceeded" from about 130,000 values. Mostly
    // fast answers, a slow tail up to two minutes (retries with backoff), one exact maximum far out, past the
    // histogram's first range (it grows).
    const random = seededRandom(19);
    const values = new Float64Array(200_000);
    for (let i = 0; i < values.length; i++) {
      const r = random();
      values[i] = r < 0.95 ? Math.floor(random() * 2000) : Math.floor(2000 + random() * 118_000);
    }
    values[123_456] = 187_321;
    const sorted = values.slice().sort();
    const recorder = new LatencyRecorder();

    // Act
    for (const value of values) recorder.record(value);
    const summary = recorder.summary();

    // Assert
    expect(summary.max).toBe(187_321);
    expect(summary.p50).toBe(exactPercentile(sorted, 50));
    for (const p of [90, 99] as const) {
      const exact = exactPercentile(sorted, p);
      expect(Math.abs(summary[`p${p}`] - exact)).toBeLessThanOrEqual(exact / 1000);
    }
  });
});
