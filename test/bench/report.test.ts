import { describe, expect, it } from 'vitest';
import { defaultResultPath, parseBenchArgs } from '../../bench/lib/args.js';
import {
  compareToReferences,
  markdownTable,
  redisTable,
  referenceTable,
  type ScenarioKey,
  type ScenarioRun,
  scenarioTable,
  summarise,
} from '../../bench/lib/report.js';
import { evaluateTargets, targetTable } from '../../bench/lib/targets.js';

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

/** What a scenario cost its redis-server, per request: `extra` for run(). */
function usage(cpuUsPerRequest: number, commandsPerRequest: number): Partial<ScenarioRun> {
  return {
    redis: { cpuMs: 0, cpuUsPerRequest, commandsPerRequest, scriptCallsPerRequest: 0.5, calls: {} },
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

  const logMemory = {
    sink: 'log' as const,
    keysInserted: 100_000,
    dbsizeBefore: 0,
    dbsizeAfter: 100_000,
    usedMemoryBefore: 1_000_000,
    usedMemoryAfter: 12_000_000,
    bytesPerKey: 110,
  };
  const byId = (targets: ReturnType<typeof evaluateTargets>) =>
    Object.fromEntries(targets.map((target) => [target.id, target]));

  it('checks every target, skipping what was not measured with the reason', () => {
    // Act
    const targets = byId(
      evaluateTargets({
        runs,
        memory: [logMemory],
        skipped: [{ what: 'redis-stream sink', reason: 'SINK=redis-stream is not available' }],
        fixedRateBasis: "half of bare's saturated req/s, same round",
      }),
    );

    // Assert
    expect(targets['log-unique-throughput']?.status).toBe('PASS');
    expect(targets['log-duplicate-throughput']?.status).toBe('PASS');
    expect(targets['log-mixed-p99-fixed-rate']?.status).toBe('SKIP');
    expect(targets['log-unique-p99-fixed-rate']).toMatchObject({
      status: 'PASS',
      actual: '1.25×',
      description: expect.stringContaining("2000 req/s (half of bare's saturated req/s, same round)"),
    });
    expect(targets['log-unique-p99-vs-floor']).toMatchObject({
      status: 'SKIP',
      actual: 'two-phase floor not run',
    });
    expect(targets['redis-stream-unique-vs-log']?.status).toBe('SKIP');
    expect(targets['redis-stream-unique-vs-log']?.actual).toMatch(/not available/);
    expect(targets['redis-stream-unique-p99-vs-floor']?.actual).toMatch(/not available/);
    // The fixtures carry no Redis usage: not measured.
    expect(targets['log-unique-redis-cpu']).toMatchObject({ status: 'SKIP', actual: 'not measured' });
    expect(targets['redis-bytes-per-key']?.status).toBe('PASS');
    expect(targets['rss-under-load']).toMatchObject({
      status: 'FAIL',
      limit: '< 120 MB',
      actual: '130.0 MB',
    });
    expect(targets['rss-soak-growth']?.status).toBe('SKIP');
    expect(targets['no-errors']?.status).toBe('FAIL');
  });

  it('meets the throughput targets at 0.60× bare for new events and 0.72× for retries, and prints the CPU ratio; RSS must stay under 120 MB', () => {
    // Arrange: new events exactly at their limit, retries just under theirs.
    const rounds = [
      run('baseline', 1, 10_000, 4),
      run('twophase/unique', 1, 6_600, 5),
      run('setnx/duplicate', 1, 8_000, 5),
      run('log/unique', 1, 6_000, 5, { serverCpuUsPerRequest: 200, rssPeakMb: 120 }),
      run('log/duplicate', 1, 7_100, 5),
    ];

    // Act
    const targets = byId(evaluateTargets({ runs: rounds, memory: [], skipped: [] }));

    // Assert: bare's CPU per request is 1e6 / 10 000 = 100 µs, the receiver's 200 µs.
    expect(targets['log-unique-throughput']).toMatchObject({
      status: 'PASS',
      limit: '≥ 0.6×',
      actual: '0.60× (CPU 0.50×; 0.91× two-phase, n/a SET NX)',
    });
    expect(targets['log-duplicate-throughput']).toMatchObject({ status: 'FAIL', limit: '≥ 0.72×' });
    expect(targets['rss-under-load']).toMatchObject({ status: 'FAIL', actual: '120.0 MB' });
    expect(targets['log-duplicate-throughput']?.actual).toMatch(
      /^0\.71× \(CPU 0\.71×; n\/a two-phase, 0\.89× SET NX\)$/,
    );
  });

  it('holds the redis-stream sink within 0.05 of the log sink per round, and a faster one passes', () => {
    // Arrange: the second round is twice as fast, so a difference of medians would be off.
    const rounds = [1, 2].flatMap((round) => {
      const scale = round;
      return [
        run('baseline', round, 10_000 * scale, 4),
        run('log/unique', round, 5_000 * scale, 5),
        run('redis-stream/unique', round, 4_600 * scale, 5),
        run('log/duplicate', round, 7_000 * scale, 5),
        run('redis-stream/duplicate', round, 6_400 * scale, 5),
        run('log/mixed', round, 5_000 * scale, 5),
        run('redis-stream/mixed', round, 6_000 * scale, 5),
      ];
    });

    // Act
    const targets = byId(evaluateTargets({ runs: rounds, memory: [], skipped: [] }));

    // Assert
    expect(targets['redis-stream-unique-vs-log']).toMatchObject({
      status: 'PASS',
      limit: '≥ -0.05',
      actual: '-0.040 (0.46× vs 0.50×)',
    });
    expect(targets['redis-stream-duplicate-vs-log']).toMatchObject({
      status: 'FAIL',
      actual: '-0.060 (0.64× vs 0.70×)',
    });
    expect(targets['redis-stream-mixed-vs-log']?.status).toBe('PASS');
  });

  it("reads saturated p99 against the two-phase floor's of the same round, mixed load against its new events", () => {
    // Arrange: per-round ratios 1.10, 1.30, 1.25 for new events (median 1.25), 1.00 for retries and mixed load.
    const rounds = [
      [1, 10, 11],
      [2, 20, 26],
      [3, 4, 5],
    ].flatMap(([round = 0, floor = 0, receiver = 0]) => [
      run('baseline', round, 20_000, 2),
      run('twophase/unique', round, 10_000, floor),
      run('twophase/duplicate', round, 12_000, floor / 2),
      run('log/unique', round, 8_000, receiver),
      run('log/duplicate', round, 9_000, floor / 2),
      run('log/mixed', round, 9_000, floor),
    ]);

    // Act
    const targets = byId(evaluateTargets({ runs: rounds, memory: [], skipped: [] }));

    // Assert
    expect(targets['log-unique-p99-vs-floor']).toMatchObject({
      status: 'FAIL',
      actual: '1.25×',
      limit: '≤ 1.2×',
    });
    expect(targets['log-duplicate-p99-vs-floor']).toMatchObject({ status: 'PASS', actual: '1.00×' });
    expect(targets['log-mixed-p99-vs-floor']).toMatchObject({
      status: 'PASS',
      description: expect.stringContaining('twophase/unique'),
    });
  });

  it("holds the receiver's Redis CPU per request to today's, printing it against the SET NX route's", () => {
    // Arrange
    const rounds = [
      run('baseline', 1, 20_000, 2),
      run('setnx/unique', 1, 10_000, 4, usage(14, 1)),
      run('setnx/duplicate', 1, 12_000, 4, usage(10, 1)),
      run('log/unique', 1, 8_000, 5, usage(70, 1)),
      run('log/duplicate', 1, 9_000, 5, usage(30, 1)),
    ];

    // Act
    const targets = byId(evaluateTargets({ runs: rounds, memory: [], skipped: [] }));

    // Assert
    expect(targets['log-unique-redis-cpu']).toMatchObject({
      status: 'PASS',
      actual: '70.0 µs (5.00× SET NX)',
      limit: '≤ 74 µs',
    });
    expect(targets['log-duplicate-redis-cpu']).toMatchObject({
      status: 'FAIL',
      actual: '30.0 µs (3.00× SET NX)',
    });
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
    const targets = targetTable(evaluateTargets({ runs, memory: [], skipped: [] }));
    expect(targets).toMatch(/\| PASS|\| FAIL/);
  });

  it('reads the receiver against each reference route of the same round', () => {
    // Arrange: everything halves from round 1 to 2, as on a noisy machine.
    const rounds = [
      run('baseline', 1, 20_000, 4),
      run('setnx/unique', 1, 16_000, 5),
      run('setnx/duplicate', 1, 18_000, 4),
      run('twophase/unique', 1, 10_000, 6),
      run('twophase/duplicate', 1, 17_000, 4),
      run('log/unique', 1, 8_000, 9),
      run('log/duplicate', 1, 12_000, 6),
      run('log/mixed', 1, 9_000, 8),
      run('baseline', 2, 10_000, 8),
      run('setnx/unique', 2, 8_000, 10),
      run('setnx/duplicate', 2, 9_000, 8),
      run('twophase/unique', 2, 5_000, 10),
      run('twophase/duplicate', 2, 8_500, 8),
      run('log/unique', 2, 2_000, 30),
      run('log/duplicate', 2, 6_000, 12),
      run('log/mixed', 2, 4_500, 16),
    ];

    // Act
    const table = referenceTable(rounds).split('\n');
    const unique = compareToReferences(rounds).find((comparison) => comparison.key === 'log/unique');

    // Assert: unique is 0.50× then 0.25× of SET NX, median 0.375 (not 5000 / 12000 of the median req/s);
    // CPU per request is 1e6 / rps in these fixtures, so the CPU ratio matches. Mixed load has no reference.
    expect(table[0]?.split('|').map((cell) => cell.trim())).toEqual([
      '',
      'scenario',
      '× bare',
      'CPU × bare',
      'SET NX × bare',
      'req/s × SET NX',
      'CPU × SET NX',
      'p99 × SET NX',
      'two-phase × bare',
      'req/s × two-phase',
      'CPU × two-phase',
      'p99 × two-phase',
      '',
    ]);
    expect(table).toHaveLength(4);
    expect(table[2]?.split('|').map((cell) => cell.trim())).toEqual([
      '',
      'log/unique',
      '0.30',
      '0.30',
      '0.80',
      '0.38',
      '0.38',
      '2.40',
      '0.50',
      '0.60',
      '0.60',
      '2.25',
      '',
    ]);
    expect(table[3]).toMatch(
      /^\| log\/duplicate +\| +0\.60 +\| +0\.60 +\| +0\.90 \| +0\.67 \| +0\.67 \| +1\.50 \|/,
    );
    expect(unique?.against.map((entry) => entry.route)).toEqual(['setnx', 'twophase']);
  });

  it('leaves the reference routes out of the receiver-only targets and their table out without them', () => {
    // Arrange: a reference route alone answers with errors and a large RSS.
    const rounds = [
      run('baseline', 1, 20_000, 4),
      run('setnx/unique', 1, 16_000, 5, { rssPeakMb: 150, non2xx: 3, statusCodes: { 200: 159_997, 500: 3 } }),
      run('twophase/unique', 1, 12_000, 5, { rssPeakMb: 150, errors: 2 }),
      run('log/unique', 1, 17_000, 5),
      run('log/duplicate', 1, 18_000, 5),
    ];

    // Act
    const targets = byId(evaluateTargets({ runs: rounds, memory: [], skipped: [] }));
    const withoutReferences = referenceTable(runs);

    // Assert
    expect(targets['rss-under-load']).toMatchObject({ status: 'PASS', actual: '90.0 MB' });
    expect(targets['no-errors']?.status).toBe('PASS');
    expect(withoutReferences.split('\n')).toHaveLength(2);
  });

  it("prints each Redis-backed scenario's Redis CPU and commands per request beside its server CPU", () => {
    // Arrange
    const rounds = [
      run('baseline', 1, 20_000, 4),
      run('setnx/unique', 1, 16_000, 5, usage(12, 1)),
      run('log/unique', 1, 8_000, 9, usage(60, 31)),
      run('log/mixed', 1, 9_000, 9, usage(50, 22)),
    ];

    // Act
    const rows = redisTable(rounds).split('\n').slice(2);

    // Assert: no row for the bare route; mixed load has no SET NX counterpart.
    expect(rows).toHaveLength(3);
    expect(rows[1]?.split('|').map((cell) => cell.trim())).toEqual([
      '',
      'log/unique',
      '125',
      '60.0',
      '5.00',
      '16667',
      '31.00',
      '0.50',
      '',
    ]);
    expect(rows[2]).toMatch(/^\| log\/mixed +\| +111 \| +50\.0 \| +n\/a \| +20000 \|/);
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
    expect(parseBenchArgs([]).fixedRate).toBe('half-bare');
    expect(parseBenchArgs(['--fixed-rate', '2000']).fixedRate).toBe(2000);
    expect(parseBenchArgs(['--fixed-rate', '0']).fixedRate).toBe(0);
    expect(() => parseBenchArgs(['--fixed-rate', 'half'])).toThrow(/--fixed-rate/);
    expect(() => parseBenchArgs(['--rounds', '0'])).toThrow(/--rounds/);
    expect(() => parseBenchArgs(['--sinks', 'kafka'])).toThrow(/kafka/);
    expect(() => parseBenchArgs(['--bogus'])).toThrow();
    expect(defaultResultPath(new Date('2025-03-04T10:00:00Z'), false)).toBe('bench/results/2025-03-04.json');
    expect(defaultResultPath(new Date('2025-03-04T10:00:00Z'), true)).toBe(
      'bench/results/2025-03-04-quick.json',
    );
  });
});
