import { parseArgs } from 'node:util';
import type { BodyFormat } from './bodies.js';
import type { SinkName } from './report.js';

export interface BenchOptions {
  rounds: number;
  durationS: number;
  quick: boolean;
  connections: number;
  warmupS: number;
  /** Length of the RSS soak run on the log sink (0: none). */
  soakS: number;
  /** Events inserted to measure Redis bytes per key; they are also the duplicate scenarios' retries. */
  memoryKeys: number;
  mixedDuplicatePercent: number;
  sinks: SinkName[];
  bodyFormat: BodyFormat;
  /** Where the JSON result goes; undefined: bench/results/<date>[-quick].json. */
  out: string | undefined;
  write: boolean;
  /** CPU of the servers under test, and of the load generator and redis-server. */
  serverCpu: number;
  loadCpu: number;
  /**
   * Latency at a fixed request rate (0: not measured); `half-bare`: half of the bare route's saturated req/s,
   * measured first in the same round.
   */
  fixedRate: number | 'half-bare';
  fixedRateDurationS: number;
  /** Before each scenario, wait up to this long for other processes to leave the CPUs alone. */
  quietWaitS: number;
  /** Runs again (up to this many times) a scenario during which other processes took > 25 % of a CPU. */
  retries: number;
  profile: boolean;
  /** Instead of the benchmark: hand-written replacements against their libraries (bench/replacements.ts). */
  replacements: boolean;
  /** The receiver's CPU µs per request that savings are read against; undefined: measured. */
  requestCpuUs: number | undefined;
  help: boolean;
}

export const USAGE = `npm run bench [-- options]

  --rounds N          rounds of (baseline, unique, duplicate, mixed) per sink, interleaved (default 3)
  --duration S        seconds per scenario (default 10)
  --quick             smoke test: 1 round of 2 s, 20k memory keys, short warm-up, no soak
  --connections N     concurrent connections (default 50)
  --warmup S          seconds of warm-up load per server before round 1 (default 3)
  --soak S            seconds of the RSS soak run on the log sink (default 60; 0 = none)
  --memory-keys N     events inserted to measure Redis bytes per key (default 100000)
  --mixed-percent P   duplicates in the mixed scenario, in % (default 30)
  --sinks LIST        comma-separated: log,redis-stream (default both; a sink that cannot start is skipped)
  --body-format F     compact (as EventBridge sends it, default) or pretty (the sample files' layout)
  --out FILE          result JSON path (default bench/results/<YYYY-MM-DD>.json, -quick for --quick)
  --no-write          print only
  --server-cpu N      CPU for the servers under test (default 0)
  --load-cpu N        CPU for the load generator and redis-server (default 1)
  --fixed-rate R      after each saturating run, measure latency at R req/s for --fixed-duration s;
                      half-bare (default): half of the bare route's req/s, measured first in the
                      same round; 0 = not measured
  --fixed-duration S  seconds of the fixed-rate run (default 5; quick 2)
  --quiet-wait S      before each scenario, wait up to S s for the machine to be idle (default 60; quick 5)
  --retries N         run a scenario again when other processes took > 25 % of a CPU meanwhile, keeping
                      the least disturbed attempt (default 2)
  --profile           instead of the benchmark: CPU-profile the receiver under unique and duplicate load
  --replacements      instead of the benchmark: each hand-written replacement of a library against the
                      library, CPU µs per request, read against the receiver's log/unique CPU per request
  --request-cpu-us U  with --replacements: that CPU per request, instead of measuring it (a few seconds)
`;

function positiveInt(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`--${name} must be an integer ≥ ${min}, not '${text}'`);
  return value;
}

function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a number > 0, not '${text}'`);
  return value;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      soak: { type: 'string' },
      'memory-keys': { type: 'string' },
      'mixed-percent': { type: 'string' },
      sinks: { type: 'string' },
      'body-format': { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      'server-cpu': { type: 'string' },
      'load-cpu': { type: 'string' },
      'quiet-wait': { type: 'string' },
      'fixed-rate': { type: 'string' },
      'fixed-duration': { type: 'string' },
      retries: { type: 'string' },
      profile: { type: 'boolean', default: false },
      replacements: { type: 'boolean', default: false },
      'request-cpu-us': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick === true;
  const sinks = (values.sinks ?? 'log,redis-stream')
    .split(',')
    .map((sink) => sink.trim())
    .filter((sink) => sink.length > 0);
  for (const sink of sinks) {
    if (sink !== 'log' && sink !== 'redis-stream') throw new Error(`--sinks: unknown sink '${sink}'`);
  }
  if (sinks.length === 0) throw new Error('--sinks: at least one sink');
  const bodyFormat = values['body-format'] ?? 'compact';
  if (bodyFormat !== 'compact' && bodyFormat !== 'pretty') {
    throw new Error(`--body-format must be compact or pretty, not '${bodyFormat}'`);
  }
  const mixed = positiveInt('mixed-percent', values['mixed-percent'], 30, 0);
  if (mixed > 100) throw new Error('--mixed-percent must be at most 100');
  return {
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 3),
    durationS: positiveNumber('duration', values.duration, quick ? 2 : 10),
    quick,
    connections: positiveInt('connections', values.connections, 50),
    warmupS: positiveNumber('warmup', values.warmup, quick ? 1 : 3),
    soakS: positiveInt('soak', values.soak, quick ? 0 : 60, 0),
    memoryKeys: positiveInt('memory-keys', values['memory-keys'], quick ? 20_000 : 100_000),
    mixedDuplicatePercent: mixed,
    sinks: [...new Set(sinks)] as SinkName[],
    bodyFormat,
    out: values.out,
    write: values['no-write'] !== true,
    serverCpu: positiveInt('server-cpu', values['server-cpu'], 0, 0),
    loadCpu: positiveInt('load-cpu', values['load-cpu'], 1, 0),
    fixedRate:
      (values['fixed-rate'] ?? 'half-bare') === 'half-bare'
        ? 'half-bare'
        : positiveInt('fixed-rate', values['fixed-rate'], 0, 0),
    fixedRateDurationS: positiveNumber('fixed-duration', values['fixed-duration'], quick ? 2 : 5),
    quietWaitS: positiveInt('quiet-wait', values['quiet-wait'], quick ? 5 : 60, 0),
    retries: positiveInt('retries', values.retries, quick ? 0 : 2, 0),
    profile: values.profile === true,
    replacements: values.replacements === true,
    requestCpuUs:
      values['request-cpu-us'] === undefined
        ? undefined
        : positiveNumber('request-cpu-us', values['request-cpu-us'], 1),
    help: values.help === true,
  };
}

/** `bench/results/2025-01-31.json`, or `…-quick.json` for a smoke run (git-ignored). */
export function defaultResultPath(date: Date, quick: boolean): string {
  return `bench/results/${date.toISOString().slice(0, 10)}${quick ? '-quick' : ''}.json`;
}
