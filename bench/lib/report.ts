import { median, ratio } from './stats.js';

/** The benchmark's data model, the per-scenario medians and ratios, and the Markdown tables: all pure. */

export type SinkName = 'log' | 'redis-stream';
export type LoadKind = 'unique' | 'duplicate' | 'mixed';

/** The reference routes (bench/setnx.ts) run the loads that need no sink: new events and retries. */
export type ReferenceLoad = Exclude<LoadKind, 'mixed'>;

/**
 * The reference routes of bench/setnx.ts, each with a redis-server of its own: `setnx`, the SET NX yardstick
 * issue 7's targets came from (one `SET NX`), and `twophase`, the two-phase floor of any claim-then-complete
 * design (`SET NX` to claim, `SET XX` to mark a new event done).
 */
export type ReferenceRoute = 'setnx' | 'twophase';

export const REFERENCE_ROUTES: readonly { route: ReferenceRoute; label: string }[] = [
  { route: 'setnx', label: 'SET NX' },
  { route: 'twophase', label: 'two-phase' },
];

/**
 * `baseline` (the bare route), `<reference route>/<load>` (e.g. `twophase/unique`), or a receiver scenario
 * `<sink>/<load>` (e.g. `log/unique`).
 */
export type ScenarioKey = 'baseline' | `${ReferenceRoute}/${ReferenceLoad}` | `${SinkName}/${LoadKind}`;

/** Whether a scenario is one of the reference routes'. */
export function isReferenceScenario(key: ScenarioKey): key is `${ReferenceRoute}/${ReferenceLoad}` {
  return REFERENCE_ROUTES.some(({ route }) => key.startsWith(`${route}/`));
}

/** Whether a scenario measures the receiver, rather than the bare route or a reference route. */
export function isReceiverScenario(key: ScenarioKey): key is `${SinkName}/${LoadKind}` {
  return key !== 'baseline' && !isReferenceScenario(key);
}

/**
 * The reference route's scenario a receiver scenario is read against: the same load; a mixed load against the
 * route's new events (the slower of its two loads, as the reference routes run no mixed load) when
 * `mixedAsUnique`, else none.
 */
export function referenceKey(
  route: ReferenceRoute,
  key: ScenarioKey,
  mixedAsUnique = false,
): ScenarioKey | undefined {
  const load = key.slice(key.indexOf('/') + 1);
  if (load === 'unique' || load === 'duplicate') return `${route}/${load}`;
  return load === 'mixed' && mixedAsUnique ? `${route}/unique` : undefined;
}

/** What one scenario cost its redis-server (see redis-usage.ts), per response. */
export interface RedisUsage {
  /** used_cpu_sys + used_cpu_user over the saturating run, ms. */
  cpuMs: number;
  cpuUsPerRequest: number;
  /** Commands Redis ran per response, sent alone or run by a Lua script; script calls not included. */
  commandsPerRequest: number;
  /** EVAL/EVALSHA/FCALL per response: script round trips. */
  scriptCallsPerRequest: number;
  /** Calls by command over the run. */
  calls: Record<string, number>;
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
  /** INFO cpu and commandstats of the server's redis-server over the saturating run (not for the bare route). */
  redis?: RedisUsage;
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
  /** Medians of the RedisUsage fields (NaN for the bare route). */
  redisCpuUsPerRequest: number;
  redisCommandsPerRequest: number;
  redisScriptCallsPerRequest: number;
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

/**
 * For each round `key` ran in: `f(its run, the run of referenceKey in the same round)` (undefined when that
 * one did not run), then the median over rounds. Every ratio of the report is taken this way, so that a
 * round slowed down by something else on the machine slows both sides of its ratio.
 */
export function medianOverRounds(
  runs: readonly ScenarioRun[],
  key: ScenarioKey,
  referenceKey: ScenarioKey | undefined,
  f: (run: ScenarioRun, reference: ScenarioRun | undefined) => number,
): number {
  const reference = (round: number) =>
    runs.find((run) => run.key === referenceKey && referenceKey !== undefined && run.round === round);
  return median(runs.filter((run) => run.key === key).map((run) => f(run, reference(run.round))));
}

/** Medians per scenario over rounds; ratios are taken within each round, against that round's baseline. */
export function summarise(runs: readonly ScenarioRun[]): ScenarioSummary[] {
  const keys: ScenarioKey[] = [];
  for (const run of runs) if (!keys.includes(run.key)) keys.push(run.key);
  return keys.map((key) => {
    const mine = runs.filter((run) => run.key === key);
    const vsBare = (f: (run: ScenarioRun, bare: ScenarioRun | undefined) => number) =>
      medianOverRounds(runs, key, 'baseline', f);
    const medianOf = (f: (run: ScenarioRun) => number | undefined) =>
      median(mine.map((run) => f(run) ?? Number.NaN));
    const statusCodes: Record<string, number> = {};
    for (const run of mine) {
      for (const [code, count] of Object.entries(run.statusCodes)) {
        statusCodes[code] = (statusCodes[code] ?? 0) + count;
      }
    }
    return {
      key,
      rounds: mine.length,
      rps: medianOf((run) => run.rps),
      ratio: vsBare((run, bare) => ratio(run.rps, bare?.rps)),
      p50Ms: medianOf((run) => run.latencyMs.p50),
      p99Ms: medianOf((run) => run.latencyMs.p99),
      p99Ratio: vsBare((run, bare) => ratio(run.latencyMs.p99, bare?.latencyMs.p99)),
      fixedRate: medianOf((run) => run.fixedRate?.rate),
      fixedP50Ms: medianOf((run) => run.fixedRate?.p50),
      fixedP99Ms: medianOf((run) => run.fixedRate?.p99),
      fixedP99Ratio: vsBare((run, bare) => ratio(run.fixedRate?.p99, bare?.fixedRate?.p99)),
      rssPeakMb: Math.max(...mine.map((run) => run.rssPeakMb)),
      rssAfterMb: medianOf((run) => run.rssAfterMb),
      non2xx: mine.reduce((sum, run) => sum + run.non2xx + (run.fixedRate?.non2xx ?? 0), 0),
      statusCodes,
      errors: mine.reduce((sum, run) => sum + run.errors + run.timeouts, 0),
      serverCpuPct: medianOf((run) => run.serverCpuPct),
      serverCpuUsPerRequest: medianOf((run) => run.serverCpuUsPerRequest),
      capacityRatio: vsBare((run, bare) => ratio(bare?.serverCpuUsPerRequest, run.serverCpuUsPerRequest)),
      loadgenCpuPct: medianOf((run) => run.loadgenCpuPct),
      redisCpuUsPerRequest: medianOf((run) => run.redis?.cpuUsPerRequest),
      redisCommandsPerRequest: medianOf((run) => run.redis?.commandsPerRequest),
      redisScriptCallsPerRequest: medianOf((run) => run.redis?.scriptCallsPerRequest),
    };
  });
}

export const fmt = (value: number, digits = 2): string =>
  Number.isFinite(value) ? value.toFixed(digits) : 'n/a';

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

/** A receiver scenario read against one reference route's scenario of the same load, same round. */
export interface ReferenceComparison {
  route: ReferenceRoute;
  /** The reference route's req/s ÷ bare. */
  referenceRatio: number;
  /** Receiver req/s ÷ the reference's. */
  rpsRatio: number;
  /** The reference's server CPU µs/req ÷ the receiver's: the share of its throughput if both were CPU-bound. */
  cpuRatio: number;
  /** Receiver p99 ÷ the reference's, both saturated. */
  p99Ratio: number;
  /** Receiver Redis CPU µs/req ÷ the reference's. */
  redisCpuRatio: number;
}

export interface ReceiverComparison {
  key: ScenarioKey;
  ratio: number;
  capacityRatio: number;
  against: ReferenceComparison[];
}

/**
 * Each receiver scenario of a load the reference routes ran (new events, retries) against bare and against
 * each reference route that ran: what its work beyond one or two Redis commands (authentication, the content
 * digest, the claim's state machine, the sink, metrics) costs. Ratios within a round, then the median.
 */
export function compareToReferences(runs: readonly ScenarioRun[]): ReceiverComparison[] {
  const summaries = summarise(runs);
  const ran = new Set(summaries.map((summary) => summary.key));
  const comparisons: ReceiverComparison[] = [];
  for (const receiver of summaries) {
    if (!isReceiverScenario(receiver.key)) continue;
    const against: ReferenceComparison[] = [];
    for (const { route } of REFERENCE_ROUTES) {
      const key = referenceKey(route, receiver.key);
      if (key === undefined || !ran.has(key)) continue;
      const vs = (f: (run: ScenarioRun, reference: ScenarioRun | undefined) => number) =>
        medianOverRounds(runs, receiver.key, key, f);
      against.push({
        route,
        referenceRatio: summaries.find((summary) => summary.key === key)?.ratio ?? Number.NaN,
        rpsRatio: vs((run, ref) => ratio(run.rps, ref?.rps)),
        cpuRatio: vs((run, ref) => ratio(ref?.serverCpuUsPerRequest, run.serverCpuUsPerRequest)),
        p99Ratio: vs((run, ref) => ratio(run.latencyMs.p99, ref?.latencyMs.p99)),
        redisCpuRatio: vs((run, ref) => ratio(run.redis?.cpuUsPerRequest, ref?.redis?.cpuUsPerRequest)),
      });
    }
    if (against.length > 0) {
      comparisons.push({
        key: receiver.key,
        ratio: receiver.ratio,
        capacityRatio: receiver.capacityRatio,
        against,
      });
    }
  }
  return comparisons;
}

/**
 * The comparisons as a table: the receiver against bare (req/s, CPU), then per reference route that ran its
 * req/s ÷ bare, the receiver's req/s and CPU against it, and the receiver's saturated p99 against its.
 */
export function referenceTable(runs: readonly ScenarioRun[]): string {
  const comparisons = compareToReferences(runs);
  const routes = REFERENCE_ROUTES.filter(({ route }) =>
    comparisons.some((comparison) => comparison.against.some((entry) => entry.route === route)),
  );
  const headers = ['scenario', '× bare', 'CPU × bare'];
  for (const { label } of routes) {
    headers.push(`${label} × bare`, `req/s × ${label}`, `CPU × ${label}`, `p99 × ${label}`);
  }
  const rows = comparisons.map((comparison) => {
    const row = [comparison.key, fmt(comparison.ratio), fmt(comparison.capacityRatio)];
    for (const { route } of routes) {
      const entry = comparison.against.find((candidate) => candidate.route === route);
      row.push(
        ...(entry
          ? [entry.referenceRatio, entry.rpsRatio, entry.cpuRatio, entry.p99Ratio].map((value) => fmt(value))
          : ['n/a', 'n/a', 'n/a', 'n/a']),
      );
    }
    return row;
  });
  return markdownTable(
    headers,
    rows,
    headers.map((_, i) => (i === 0 ? 'l' : 'r')),
  );
}

/**
 * What each scenario that uses Redis cost its redis-server, per response, beside the server's own CPU: Redis CPU
 * (INFO cpu), against the SET NX route's for the same load, and the request rate that would take one whole Redis
 * core; the commands Redis ran (INFO commandstats: sent alone or by a Lua script) and the script calls.
 */
export function redisTable(runs: readonly ScenarioRun[]): string {
  const rows = summarise(runs)
    .filter((summary) => Number.isFinite(summary.redisCpuUsPerRequest))
    .map((summary) => {
      const setnx = referenceKey('setnx', summary.key);
      return [
        summary.key,
        fmt(summary.serverCpuUsPerRequest, 0),
        fmt(summary.redisCpuUsPerRequest, 1),
        fmt(
          medianOverRounds(runs, summary.key, setnx, (run, ref) =>
            ratio(run.redis?.cpuUsPerRequest, ref?.redis?.cpuUsPerRequest),
          ),
        ),
        fmt(1e6 / summary.redisCpuUsPerRequest, 0),
        fmt(summary.redisCommandsPerRequest),
        fmt(summary.redisScriptCallsPerRequest),
      ];
    });
  return markdownTable(
    [
      'scenario',
      'server CPU µs/req',
      'Redis CPU µs/req',
      'Redis CPU × SET NX',
      'req/s per Redis core',
      'Redis commands/req',
      'scripts/req',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
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
