import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../src/cli/progress.js';
import { formatDuration } from '../../src/cli/stats.js';

function fakeClock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ProgressBar', () => {
  it('draws nothing when stderr is not a terminal', () => {
    const written: string[] = [];
    const clock = fakeClock();
    const bar = new ProgressBar({ write: (s) => written.push(s), enabled: false, total: 10, now: clock.now });

    clock.advance(5000);
    bar.update(5, '');

    expect(written).toEqual([]);
  });

  it('stays hidden during the first second, then redraws in place at most every 100 ms', () => {
    const written: string[] = [];
    const clock = fakeClock();
    const bar = new ProgressBar({
      write: (s) => written.push(s),
      enabled: true,
      total: 4,
      now: clock.now,
      width: 4,
    });

    bar.update(1, 'a');
    clock.advance(1000);
    bar.update(2, 'b');
    clock.advance(50);
    bar.update(3, 'c');
    clock.advance(60);
    bar.update(4, 'd');
    bar.clear();

    expect(written).toEqual(['\r\x1b[2K[##--] 2/4  50% b', '\r\x1b[2K[####] 4/4 100% d', '\r\x1b[2K']);
  });
});

describe('formatDuration', () => {
  it('formats durations for people', () => {
    expect(formatDuration(12.4)).toBe('12ms');
    expect(formatDuration(1234)).toBe('1.2s');
    expect(formatDuration(185_000)).toBe('3m05s');
  });
});
