import { describe, expect, it } from 'vitest';
import { summarizeLatencies } from '../../src/cli/stats.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** The nearest-rank percentile of sorted values, computed exactly: what the histogram must approach. */
function exactPercentile(sorted: Float64Array, p: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

describe('latency statistics', () => {
  it('uses nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);

    expect(summarizeLatencies(values)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 });
    expect(summarizeLatencies([7])).toEqual({ p50: 7, p90: 7, p99: 7, max: 7 });
    expect(summarizeLatencies([0, 0, 3])).toEqual({ p50: 0, p90: 3, p99: 3, max: 3 });
    expect(summarizeLatencies([])).toEqual({ p50: 0, p90: 0, p99: 0, max: 0 });
  });

  it('summarises 200,000 latencies without a stack overflow, exact below 2 s and within 0.1 % above', () => {
    // Arrange: Math.max(...values) threw "Maximum call stack size exceeded" from about 130,000 values. Mostly
    // fast answers, a slow tail up to two minutes (retries with backoff), one exact maximum far out.
    const random = seededRandom(19);
    const values = new Float64Array(200_000);
    for (let i = 0; i < values.length; i++) {
      const r = random();
      values[i] = r < 0.95 ? Math.floor(random() * 2000) : Math.floor(2000 + random() * 118_000);
    }
    values[123_456] = 187_321;
    const sorted = values.slice().sort();

    // Act
    const summary = summarizeLatencies(values);

    // Assert
    expect(summary.max).toBe(187_321);
    expect(summary.p50).toBe(exactPercentile(sorted, 50));
    for (const p of [90, 99] as const) {
      const exact = exactPercentile(sorted, p);
      expect(Math.abs(summary[`p${p}`] - exact)).toBeLessThanOrEqual(exact / 1000);
    }
  });
});
