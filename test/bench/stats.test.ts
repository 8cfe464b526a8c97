import { describe, expect, it } from 'vitest';
import {
  median,
  percentileSorted,
  ratio,
  SampleBuffer,
  slope,
  summariseLatencies,
} from '../../bench/lib/stats.js';

describe('bench statistics', () => {
  it('takes the median of odd and even counts, ignoring NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, Number.NaN, 1])).toBe(3);
    expect(median([])).toBeNaN();
  });

  it('does not reorder its argument', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });

  it('gives a ratio only against a positive, finite reference', () => {
    expect(ratio(8, 10)).toBeCloseTo(0.8);
    expect(ratio(8, 0)).toBeNaN();
    expect(ratio(8, undefined)).toBeNaN();
    expect(ratio(Number.NaN, 10)).toBeNaN();
  });

  it('takes nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileSorted(sorted, 50)).toBe(50);
    expect(percentileSorted(sorted, 99)).toBe(99);
    expect(percentileSorted(sorted, 100)).toBe(100);
    expect(percentileSorted(sorted, 0)).toBe(1);
    expect(percentileSorted([7], 99)).toBe(7);
    expect(percentileSorted([], 50)).toBeNaN();
  });

  it('summarises latencies at sub-millisecond resolution', () => {
    const summary = summariseLatencies(Float64Array.from([0.4, 0.2, 0.3, 0.1, 5]));
    expect(summary).toMatchObject({ count: 5, p50: 0.3, p99: 5, max: 5 });
    expect(summary.mean).toBeCloseTo(1.2);
  });

  it('grows its sample buffer without losing samples', () => {
    const buffer = new SampleBuffer(16);
    for (let i = 0; i < 1000; i++) buffer.push(i);
    expect(buffer.length).toBe(1000);
    const values = buffer.values();
    expect(values.length).toBe(1000);
    expect(values[999]).toBe(999);
  });

  it('fits a slope', () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 2 * x + 5 })))).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 1 }])).toBeNaN();
    expect(slope([0, 1, 2].map((x) => ({ x, y: 7 })))).toBe(0);
  });
});
