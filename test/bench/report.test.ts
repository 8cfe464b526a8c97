import { describe, expect, it } from 'vitest';
import { defaultResultPath, parseBenchArgs } from '../../bench/lib/args.js';
import {
  evaluateTargets,
  markdownTable,
  type ScenarioKey,
  type ScenarioRun,
  scenarioTable,
  summarise,
  targetTable,
  yardstickTable,
} from '../../bench/lib/report.js';

function run(
  key: ScenarioKey,
  round: number,
  rps: number,
  p99: number,
  extra: Partial<ScenarioRun> = {},
): ScenarioRun {
  return {
    key,
    round,
    durationS: 10,
    requests: rps * 10,
    rps,
    latencyMs: { mean: p99 / 3, p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2 },
    non2xx: 0,
    statusCodes: { 200: rps * 10 },
    errors: 0,
    timeouts: 0,
    rssPeakMb: 90,
    rssAfterMb: 85,
    serverCpuPct: 100,
    serverCpuUsPerRequest: 1e6 / rps,
    loadgenCpuPct: 60,
    redisCpuPct: 10,
    otherCpuPct: 0,
    fixedRate: { rate: 2000, rps: 2000, p50: 1, p99: key === 'baseline' ? 2 : 2.5, non2xx: 0 },
    notes: [],
    ...extra,
  };
}

describe('bench report', () => {
  const runs = [
    run('baseline', 1, 20_000, 4),
    run('log/unique', 1, 17_000, 5),
    run('log/duplicate', 1, 18_000, 5),
    run('baseline', 2, 10_000, 8),
    run('log/unique', 2, 9_000, 8, { rssPeakMb: 130 }),
    run('log/duplicate', 2, 8_000, 16, { non2xx: 2, statusCodes: { 200: 79_998, 409: 2 } }),
    run('baseline', 3, 20_000, 4),
    run('log/unique', 3, 15_000, 4),
    run('log/duplicate', 3, 19_000, 4),
  ];

  it('takes ratios within a round, then medians over rounds', () => {
    const summaries = summarise(runs);
    const unique = summaries.find((s) => s.key === 'log/unique');
    // Round ratios 0.85, 0.90, 0.75: the median is 0.85, not the ratio of the median rps (15000/20000).
    expect(unique?.ratio).toBeCloseTo(0.85);
    expect(unique?.rps).toBe(15_000);
    expect(unique?.p99Ratio).toBeCloseTo(1.0);
    expect(unique?.rssPeakMb).toBe(130);
    // CPU per request is 1e6/rps in these fixtures, so the capacity ratio equals the throughput ratio.
    expect(unique?.capacityRatio).toBeCloseTo(0.85);
    const duplicate = summaries.find((s) => s.key === 'log/duplicate');
    expect(duplicate?.non2xx).toBe(2);
    expect(duplicate?.statusCodes['409']).toBe(2);
    expect(summaries.map((s) => s.key)).toEqual(['baseline', 'log/unique', 'log/duplicate']);
  });

  it('checks every target, skipping what was not measured with the reason', () => {
    const summaries = summarise(runs);
    const targets = evaluateTargets({
      summaries,
      memory: [
        {
          sink: 'log',
          keysInserted: 100_000,
          dbsizeBefore: 0,
          dbsizeAfter: 100_000,
          usedMemoryBefore: 1_000_000,
          usedMemoryAfter: 12_000_000,
          bytesPerKey: 110,
        },
      ],
      skipped: [{ what: 'redis-stream sink', reason: 'SINK=redis-stream is not available' }],
    });
    const status = Object.fromEntries(targets.map((t) => [t.id, t.status]));
    expect(status['log-unique-throughput']).toBe('PASS');
    expect(status['log-duplicate-throughput']).toBe('PASS');
    expect(status['log-unique-p99']).toBe('PASS');
    expect(status['log-mixed-p99']).toBe('SKIP');
    expect(status['log-unique-p99-fixed-rate']).toBe('PASS');
    expect(targets.find((t) => t.id === 'log-unique-p99-fixed-rate')).toMatchObject({
      actual: '1.25×',
      description: expect.stringContaining('2000 req/s'),
    });
    expect(status['redis-stream-unique-throughput']).toBe('SKIP');
    expect(targets.find((t) => t.id === 'redis-stream-unique-throughput')?.actual).toMatch(/not available/);
    expect(status['redis-bytes-per-key']).toBe('PASS');
    expect(status['rss-under-load']).toBe('FAIL');
    expect(status['rss-soak-growth']).toBe('SKIP');
    expect(status['no-errors']).toBe('FAIL');
  });

  it('fails a throughput target below its ratio', () => {
    const slow = [
      run('baseline', 1, 20_000, 4),
      run('log/unique', 1, 15_000, 4),
      run('log/duplicate', 1, 16_000, 7),
    ];
    const targets = evaluateTargets({ summaries: summarise(slow), memory: [], skipped: [] });
    const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
    expect(byId['log-unique-throughput']).toMatchObject({ status: 'FAIL', actual: '0.75×' });
    expect(byId['log-duplicate-throughput']).toMatchObject({ status: 'FAIL', actual: '0.80×' });
    expect(byId['log-duplicate-p99']).toMatchObject({ status: 'FAIL', actual: '1.75×' });
    // Without a redis-stream run or a reason, its p99 rows are left out, its throughput rows skipped.
    expect(byId['redis-stream-unique-p99']).toBeUndefined();
    expect(byId['redis-stream-unique-throughput']?.status).toBe('SKIP');
  });

  it('refuses a row that does not fit the header', () => {
    expect(() => markdownTable(['a', 'b'], [['1', '2', '3']])).toThrow(/3 cells for 2 columns/);
  });

  it('formats aligned Markdown tables', () => {
    const table = markdownTable(
      ['a', 'bb'],
      [
        ['x', '1'],
        ['yyyy', '22'],
      ],
      ['l', 'r'],
    );
    expect(table.split('\n')).toEqual([
      '| a    |  bb |',
      '| ---- | --: |',
      '| x    |   1 |',
      '| yyyy |  22 |',
    ]);
    const scenarios = scenarioTable(summarise(runs));
    expect(scenarios).toContain('| log/duplicate');
    expect(scenarios).toContain('409×2');
    expect(scenarios.split('\n')).toHaveLength(5);
    const targets = targetTable(evaluateTargets({ summaries: summarise(runs), memory: [], skipped: [] }));
    expect(targets).toMatch(/\| PASS|\| FAIL/);
  });

  it('reads the receiver against the SET NX yardstick of the same round', () => {
    // Arrange: the yardstick halves from round 1 to 2 with everything else, as on a noisy machine.
    const rounds = [
      run('baseline', 1, 20_000, 4),
      run('setnx/unique', 1, 16_000, 5),
      run('setnx/duplicate', 1, 18_000, 4),
      run('log/unique', 1, 8_000, 9),
      run('log/duplicate', 1, 12_000, 6),
      run('baseline', 2, 10_000, 8),
      run('setnx/unique', 2, 8_000, 10),
      run('setnx/duplicate', 2, 9_000, 8),
      run('log/unique', 2, 2_000, 30),
      run('log/duplicate', 2, 6_000, 12),
    ];

    // Act
    const rows = yardstickTable(rounds).split('\n').slice(2);

    // Assert: unique is 0.50× then 0.25× of SET NX, median 0.375 (not 5000 / 12000 of the median req/s);
    // CPU per request is 1e6 / rps in these fixtures, so the CPU ratio matches.
    expect(rows).toHaveLength(2);
    expect(rows[0]?.split('|').map((cell) => cell.trim())).toEqual([
      '',
      'log/unique',
      '0.80',
      '0.30',
      '0.38',
      '0.38',
      '',
    ]);
    expect(rows[1]).toMatch(/^\| log\/duplicate +\| +0\.90 \| +0\.60 \| +0\.67 \| +0\.67 \|$/);
  });

  it('leaves the yardstick out of the receiver-only targets and the yardstick table out without it', () => {
    // Arrange: the yardstick alone answers with errors and a large RSS.
    const rounds = [
      run('baseline', 1, 20_000, 4),
      run('setnx/unique', 1, 16_000, 5, { rssPeakMb: 150, non2xx: 3, statusCodes: { 200: 159_997, 500: 3 } }),
      run('log/unique', 1, 17_000, 5),
      run('log/duplicate', 1, 18_000, 5),
    ];

    // Act
    const targets = evaluateTargets({ summaries: summarise(rounds), memory: [], skipped: [] });
    const withoutYardstick = yardstickTable(runs);

    // Assert
    const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
    expect(byId['rss-under-load']).toMatchObject({ status: 'PASS', actual: '90.0 MB' });
    expect(byId['no-errors']?.status).toBe('PASS');
    expect(withoutYardstick.split('\n')).toHaveLength(2);
  });

  it('parses the command line', () => {
    expect(parseBenchArgs([])).toMatchObject({
      rounds: 3,
      durationS: 10,
      connections: 50,
      soakS: 60,
      quick: false,
    });
    expect(parseBenchArgs(['--quick'])).toMatchObject({
      rounds: 1,
      durationS: 2,
      soakS: 0,
      memoryKeys: 20_000,
    });
    expect(parseBenchArgs(['--rounds', '5', '--duration', '2.5', '--sinks', 'log'])).toMatchObject({
      rounds: 5,
      durationS: 2.5,
      sinks: ['log'],
    });
    expect(parseBenchArgs(['--no-write']).write).toBe(false);
    expect(() => parseBenchArgs(['--rounds', '0'])).toThrow(/--rounds/);
    expect(() => parseBenchArgs(['--sinks', 'kafka'])).toThrow(/kafka/);
    expect(() => parseBenchArgs(['--bogus'])).toThrow();
    expect(defaultResultPath(new Date('2025-03-04T10:00:00Z'), false)).toBe('bench/results/2025-03-04.json');
    expect(defaultResultPath(new Date('2025-03-04T10:00:00Z'), true)).toBe(
      'bench/results/2025-03-04-quick.json',
    );
  });
});
