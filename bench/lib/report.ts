import { median, ratio } from './stats.js';

/** The benchmark's data model, the per-scenario medians, the targets and the Markdown table: all pure. */

export type SinkName = 'log' | 'redis-stream';
export type LoadKind = 'unique' | 'duplicate' | 'mixed';

/** The SET NX yardstick (bench/setnx.ts) runs the loads that need no sink: new events and retries. */
export type YardstickLoad = Exclude<LoadKind, 'mixed'>;

/**
 * `baseline` (the bare route), `setnx/<load>` (the yardstick issue 7's targets came from), or a receiver
 * scenario `<sink>/<load>` (e.g. `log/unique`).
 */
export type ScenarioKey = 'baseline' | `setnx/${YardstickLoad}` | `${SinkName}/${LoadKind}`;

/** Whether a scenario is one of the SET NX yardstick's. */
export function isYardstickScenario(key: ScenarioKey): key is `setnx/${YardstickLoad}` {
  return key.startsWith('setnx/');
}

/** Whether a scenario measures the receiver, rather than one of the two references it is read against. */
export function isReceiverScenario(key: ScenarioKey): boolean {
  return key !== 'baseline' && !isYardstickScenario(key);
}

export interface ScenarioRun {
  key: ScenarioKey;
  round: number;
  durationS: number;
  /** Responses received (any status). */
  requests: number;
  /** 2xx responses per second. */
  rps: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  /** Peak VmRSS of the server process during the load, and a second after it. */
  rssPeakMb: number;
  rssAfterMb: number;
  /** CPU used by the server and by the load generator, % of one core over the load's wall time. */
  serverCpuPct: number;
  /** Server CPU time per response, µs: steadier than req/s when something else shares the machine. */
  serverCpuUsPerRequest: number;
  loadgenCpuPct: number;
  redisCpuPct: number;
  /** CPU used on the machine by anything else meanwhile (other people's builds and tests): noise. */
  otherCpuPct: number;
  /** DBSIZE after minus before (receiver scenarios). */
  keysAdded?: number;
  /** Latency at a fixed, moderate rate (open loop), measured right after the saturating run. */
  fixedRate?: { rate: number; rps: number; p50: number; p99: number; non2xx: number };
  /** Problems noticed while running it (key count off, load generator saturated…). */
  notes: string[];
}

export interface ScenarioSummary {
  key: ScenarioKey;
  rounds: number;
  rps: number;
  /** Median over rounds of (rps / the same round's baseline rps). */
  ratio: number;
  p50Ms: number;
  p99Ms: number;
  /** Median over rounds of (p99 / the same round's baseline p99). */
  p99Ratio: number;
  /** p50/p99 at the fixed rate, and p99 ÷ the same round's baseline p99 at that rate. */
  fixedRate: number;
  fixedP50Ms: number;
  fixedP99Ms: number;
  fixedP99Ratio: number;
  rssPeakMb: number;
  rssAfterMb: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  serverCpuPct: number;
  serverCpuUsPerRequest: number;
  /**
   * Median over rounds of (baseline CPU µs per request / this scenario's): the share of the bare server's
   * throughput this one would reach if both were CPU-bound. Unlike req/s it does not depend on whether the
   * load generator could saturate the baseline.
   */
  capacityRatio: number;
  loadgenCpuPct: number;
}

export interface MemoryResult {
  sink: SinkName;
  keysInserted: number;
  dbsizeBefore: number;
  dbsizeAfter: number;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  bytesPerKey: number;
}

export interface SoakResult {
  key: ScenarioKey;
  durationS: number;
  rps: number;
  /** [seconds since start, RSS MB], one per second. */
  rssSeries: [number, number][];
  rssFirstMb: number;
  rssLastMb: number;
  rssPeakMb: number;
  /** Median RSS of the last fifth minus median RSS of the second fifth (the first is warm-up). */
  growthMb: number;
  slopeMbPerMin: number;
  non2xx: number;
}

export interface Skipped {
  what: string;
  reason: string;
}

export type TargetStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface TargetResult {
  id: string;
  description: string;
  limit: string;
  actual: string;
  status: TargetStatus;
}

export const TARGETS = {
  uniqueRatio: 0.8,
  duplicateRatio: 0.85,
  p99Ratio: 1.5,
  redisStreamRatio: 0.7,
  bytesPerKey: 110,
  rssMb: 120,
  /** Soak: RSS may not grow more than this between the start and the end of the long run. */
  soakGrowthMb: 10,
} as const;

/** Medians per scenario over rounds; ratios are taken within each round, against that round's baseline. */
export function summarise(runs: readonly ScenarioRun[]): ScenarioSummary[] {
  const baselineByRound = new Map<number, ScenarioRun>();
  for (const run of runs) if (run.key === 'baseline') baselineByRound.set(run.round, run);
  const keys: ScenarioKey[] = [];
  for (const run of runs) if (!keys.includes(run.key)) keys.push(run.key);
  return keys.map((key) => {
    const mine = runs.filter((run) => run.key === key);
    const statusCodes: Record<string, number> = {};
    for (const run of mine) {
      for (const [code, count] of Object.entries(run.statusCodes)) {
        statusCodes[code] = (statusCodes[code] ?? 0) + count;
      }
    }
    return {
      key,
      rounds: mine.length,
      rps: median(mine.map((run) => run.rps)),
      ratio: median(mine.map((run) => ratio(run.rps, baselineByRound.get(run.round)?.rps))),
      p50Ms: median(mine.map((run) => run.latencyMs.p50)),
      p99Ms: median(mine.map((run) => run.latencyMs.p99)),
      p99Ratio: median(
        mine.map((run) => ratio(run.latencyMs.p99, baselineByRound.get(run.round)?.latencyMs.p99)),
      ),
      fixedRate: median(mine.map((run) => run.fixedRate?.rate ?? Number.NaN)),
      fixedP50Ms: median(mine.map((run) => run.fixedRate?.p50 ?? Number.NaN)),
      fixedP99Ms: median(mine.map((run) => run.fixedRate?.p99 ?? Number.NaN)),
      fixedP99Ratio: median(
        mine.map((run) => ratio(run.fixedRate?.p99, baselineByRound.get(run.round)?.fixedRate?.p99)),
      ),
      rssPeakMb: Math.max(...mine.map((run) => run.rssPeakMb)),
      rssAfterMb: median(mine.map((run) => run.rssAfterMb)),
      non2xx: mine.reduce((sum, run) => sum + run.non2xx + (run.fixedRate?.non2xx ?? 0), 0),
      statusCodes,
      errors: mine.reduce((sum, run) => sum + run.errors + run.timeouts, 0),
      serverCpuPct: median(mine.map((run) => run.serverCpuPct)),
      serverCpuUsPerRequest: median(mine.map((run) => run.serverCpuUsPerRequest)),
      capacityRatio: median(
        mine.map((run) =>
          ratio(baselineByRound.get(run.round)?.serverCpuUsPerRequest, run.serverCpuUsPerRequest),
        ),
      ),
      loadgenCpuPct: median(mine.map((run) => run.loadgenCpuPct)),
    };
  });
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function atLeast(
  id: string,
  description: string,
  actual: number | undefined,
  limit: number,
  skipReason?: string,
): TargetResult {
  if (actual === undefined || Number.isNaN(actual)) {
    return { id, description, limit: `≥ ${limit}×`, actual: skipReason ?? 'not measured', status: 'SKIP' };
  }
  return {
    id,
    description,
    limit: `≥ ${limit}×`,
    actual: `${fmt(actual)}×`,
    status: actual >= limit ? 'PASS' : 'FAIL',
  };
}

function atMost(
  id: string,
  description: string,
  actual: number | undefined,
  limit: number,
  unit: string,
  skipReason?: string,
): TargetResult {
  const shown = (value: number) => (unit === '×' ? `${fmt(value)}×` : `${fmt(value, 1)} ${unit}`);
  const limitText = unit === '×' ? `≤ ${limit}×` : `≤ ${limit} ${unit}`;
  if (actual === undefined || Number.isNaN(actual)) {
    return { id, description, limit: limitText, actual: skipReason ?? 'not measured', status: 'SKIP' };
  }
  return {
    id,
    description,
    limit: limitText,
    actual: shown(actual),
    status: actual <= limit ? 'PASS' : 'FAIL',
  };
}

export interface TargetInputs {
  summaries: readonly ScenarioSummary[];
  memory: readonly MemoryResult[];
  soak?: SoakResult | undefined;
  skipped: readonly Skipped[];
}

/** Every target of issue 7, PASS/FAIL/SKIP, in a fixed order. */
export function evaluateTargets({ summaries, memory, soak, skipped }: TargetInputs): TargetResult[] {
  const byKey = new Map(summaries.map((summary) => [summary.key, summary]));
  const streamSkip = skipped.find((skip) => skip.what.startsWith('redis-stream'));
  const streamReason = streamSkip ? `skipped: ${streamSkip.reason}` : undefined;
  const results: TargetResult[] = [
    atLeast(
      'log-unique-throughput',
      'log sink, unique events: req/s vs bare',
      byKey.get('log/unique')?.ratio,
      TARGETS.uniqueRatio,
    ),
    atLeast(
      'log-duplicate-throughput',
      'log sink, duplicates: req/s vs bare',
      byKey.get('log/duplicate')?.ratio,
      TARGETS.duplicateRatio,
    ),
  ];
  for (const sink of ['log', 'redis-stream'] as const) {
    for (const load of ['unique', 'duplicate', 'mixed'] as const) {
      const summary = byKey.get(`${sink}/${load}`);
      if (sink === 'redis-stream' && summary === undefined && streamReason === undefined) continue;
      const skip = sink === 'redis-stream' ? streamReason : undefined;
      results.push(
        atMost(
          `${sink}-${load}-p99`,
          `${sink} sink, ${load}: p99 vs bare p99, both saturated (same round)`,
          summary?.p99Ratio,
          TARGETS.p99Ratio,
          '×',
          skip,
        ),
      );
      const rate = summary?.fixedRate;
      results.push(
        atMost(
          `${sink}-${load}-p99-fixed-rate`,
          `${sink} sink, ${load}: p99 vs bare p99 at ${rate !== undefined && Number.isFinite(rate) ? rate : 'a fixed'} req/s`,
          summary?.fixedP99Ratio,
          TARGETS.p99Ratio,
          '×',
          skip,
        ),
      );
    }
  }
  for (const load of ['unique', 'duplicate', 'mixed'] as const) {
    results.push(
      atLeast(
        `redis-stream-${load}-throughput`,
        `redis-stream sink, ${load}: req/s vs bare`,
        byKey.get(`redis-stream/${load}`)?.ratio,
        TARGETS.redisStreamRatio,
        streamReason,
      ),
    );
  }
  const logMemory = memory.find((entry) => entry.sink === 'log');
  results.push(
    atMost(
      'redis-bytes-per-key',
      'Redis used_memory per retained key (log sink)',
      logMemory?.bytesPerKey,
      TARGETS.bytesPerKey,
      'B',
    ),
  );
  const receiverRss = summaries.filter((summary) => isReceiverScenario(summary.key)).map((s) => s.rssPeakMb);
  if (soak) receiverRss.push(soak.rssPeakMb);
  results.push(
    atMost(
      'rss-under-load',
      'receiver peak RSS under load (all scenarios)',
      receiverRss.length > 0 ? Math.max(...receiverRss) : undefined,
      TARGETS.rssMb,
      'MB',
    ),
  );
  results.push(
    atMost(
      'rss-soak-growth',
      `receiver RSS growth over the ${soak ? `${Math.round(soak.durationS)} s` : 'long'} run`,
      soak?.growthMb,
      TARGETS.soakGrowthMb,
      'MB',
      soak ? undefined : 'skipped: no soak run (--quick or --soak 0)',
    ),
  );
  const receivers = summaries.filter((summary) => isReceiverScenario(summary.key));
  const non2xx = receivers.reduce((sum, summary) => sum + summary.non2xx + summary.errors, 0);
  results.push({
    id: 'no-errors',
    description: 'non-2xx answers and connection errors (receiver scenarios)',
    limit: '= 0',
    actual: receivers.length === 0 ? 'not measured' : String(non2xx),
    status: receivers.length === 0 ? 'SKIP' : non2xx === 0 ? 'PASS' : 'FAIL',
  });
  return results;
}

/** A GitHub-flavoured Markdown table, columns padded so it reads in a terminal too. */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly ('l' | 'r')[] = [],
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, 3, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const pad = (text: string, i: number) =>
    align[i] === 'r' ? text.padStart(widths[i] as number) : text.padEnd(widths[i] as number);
  for (const row of rows) {
    if (row.length !== headers.length) {
      throw new Error(`a row has ${row.length} cells for ${headers.length} columns: ${row.join(' | ')}`);
    }
  }
  const line = (cells: readonly string[]) =>
    `| ${headers.map((_, i) => pad(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (align[i] === 'r' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function statusText(summary: ScenarioSummary): string {
  const codes = Object.entries(summary.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, count]) => `${code}×${count}`);
  const errors = summary.errors > 0 ? [`errors×${summary.errors}`] : [];
  return [...codes, ...errors].join(' ') || '0';
}

export function scenarioTable(summaries: readonly ScenarioSummary[]): string {
  return markdownTable(
    [
      'scenario',
      'req/s',
      '× bare',
      'p50 ms',
      'p99 ms',
      'p99 × bare',
      'RSS peak MB',
      'non-2xx',
      'server CPU %',
      'CPU µs/req',
      'CPU × bare',
      'fixed-rate p50 / p99 ms',
      'fixed p99 × bare',
    ],
    summaries.map((s) => [
      s.key,
      fmt(s.rps, 0),
      s.key === 'baseline' ? '1.00' : fmt(s.ratio),
      fmt(s.p50Ms),
      fmt(s.p99Ms),
      s.key === 'baseline' ? '1.00' : fmt(s.p99Ratio),
      fmt(s.rssPeakMb, 1),
      statusText(s),
      fmt(s.serverCpuPct, 0),
      fmt(s.serverCpuUsPerRequest, 0),
      s.key === 'baseline' ? '1.00' : fmt(s.capacityRatio),
      Number.isFinite(s.fixedP99Ms) ? `${fmt(s.fixedP50Ms)} / ${fmt(s.fixedP99Ms)}` : 'n/a',
      s.key === 'baseline' ? '1.00' : fmt(s.fixedP99Ratio),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/**
 * The receiver read against the SET NX yardstick of the same load: what its work beyond one Redis command
 * (authentication, the content digest, the claim's state machine, completion) costs. Like every ratio here,
 * taken within a round, then the median over rounds: by req/s, and by server CPU per request. A load the
 * yardstick did not run is left out.
 */
export function yardstickTable(runs: readonly ScenarioRun[]): string {
  const inRound = (key: ScenarioKey, round: number) =>
    runs.find((run) => run.key === key && run.round === round);
  const summaries = new Map(summarise(runs).map((summary) => [summary.key, summary]));
  const rows: string[][] = [];
  for (const load of ['unique', 'duplicate'] as const) {
    const yardstick = summaries.get(`setnx/${load}`);
    if (!yardstick) continue;
    for (const sink of ['log', 'redis-stream'] as const) {
      const receiver = summaries.get(`${sink}/${load}`);
      if (!receiver) continue;
      const pairs = runs
        .filter((run) => run.key === receiver.key)
        .map((run) => [run, inRound(yardstick.key, run.round)] as const);
      rows.push([
        receiver.key,
        fmt(yardstick.ratio),
        fmt(receiver.ratio),
        fmt(median(pairs.map(([run, reference]) => ratio(run.rps, reference?.rps)))),
        fmt(
          median(
            pairs.map(([run, reference]) =>
              ratio(reference?.serverCpuUsPerRequest, run.serverCpuUsPerRequest),
            ),
          ),
        ),
      ]);
    }
  }
  return markdownTable(
    ['scenario', 'SET NX × bare', 'receiver × bare', 'req/s × SET NX', 'CPU × SET NX'],
    rows,
    ['l', 'r', 'r', 'r', 'r'],
  );
}

export function targetTable(targets: readonly TargetResult[]): string {
  return markdownTable(
    ['target', 'limit', 'measured', 'result'],
    targets.map((t) => [t.description, t.limit, t.actual, t.status]),
    ['l', 'r', 'r', 'l'],
  );
}

export function memoryTable(memory: readonly MemoryResult[]): string {
  return markdownTable(
    ['sink', 'events inserted', 'DBSIZE before → after', 'used_memory before → after', 'bytes per key'],
    memory.map((m) => [
      m.sink,
      String(m.keysInserted),
      `${m.dbsizeBefore} → ${m.dbsizeAfter}`,
      `${m.usedMemoryBefore} → ${m.usedMemoryAfter}`,
      fmt(m.bytesPerKey, 1),
    ]),
    ['l', 'r', 'r', 'r', 'r'],
  );
}
