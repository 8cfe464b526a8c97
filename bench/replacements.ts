import { join } from 'node:path';
import helmet from '@fastify/helmet';
import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify';
import { Registry } from 'prom-client';
import { OverloadedError } from '../src/core/errors.js';
import { type EventEnvelope, validateEvent, validateEventWithZod } from '../src/events/envelope.js';
import { createKeyStrategy, sha256Base64Url } from '../src/events/keys.js';
import { outcomeLabel, ReceiverMetrics } from '../src/http/metrics.js';
import { SECURITY_HEADERS } from '../src/http/security-headers.js';
import type { BenchOptions } from './lib/args.js';
import { BodyFactory, loadTemplates, randomNamespace } from './lib/bodies.js';
import { runLoad } from './lib/load.js';
import { REPO_ROOT, readCpuMs, sleep } from './lib/procs.js';
import { API_KEY, bodySource, EVENTS_PATH, startReceiver } from './lib/receiver.js';
import { markdownTable } from './lib/report.js';
import { median } from './lib/stats.js';
import { envelopeMaterial, omitTree as handWrittenOmitTree } from './replaced/canonical.js';
import { EventLoopMonitor } from './replaced/load-shedding.js';
import {
  type CounterSeries,
  type HistogramSeries,
  LabelledCounter,
  LabelledGauge,
  LabelledHistogram,
} from './replaced/metric-series.js';

/**
 * `npm run bench -- --replacements` (and the end of a full `npm run bench`): each hand-written replacement of a
 * library, and the library used as its documentation shows, run in this process on the same inputs (the Genesys
 * samples with a fresh id and event body each, as the load sends them), as the receiver calls them for one new
 * event with the log sink. Each is timed in CPU time (process.cpuUsage: the machine is shared, wall time is
 * not), in short blocks of each side back to back, alternating which goes first, after a warm-up; the saving
 * is the median of the pairs' differences, each side's figure the median of its blocks, with their spread. The saving is read against the receiver's
 * CPU per request for `log/unique` (the same run's, or measured here): a hand-written replacement stays only
 * where it saves at least `KEEP_PERCENT` % of it (issue: hand-written replacements of well-kept libraries), by
 * the medians or by the least disturbed figures (on a busy machine the two disagree near the line).
 *
 * Replacements that were removed live on in bench/replaced/, unused by the receiver, so this can run again.
 */

/** A replacement is kept only where it saves at least this share of a request's CPU. */
export const KEEP_PERCENT = 5;
/** CPU time of one block of one side: short, so that the two sides of a pair see the same machine. */
const BLOCK_MS = 25;
/**
 * Whole requests through inject: a few per block and many more blocks, so that each pair of blocks sees the same
 * machine (longer blocks let other processes' bursts land on one side only).
 */
const INJECT_BLOCK_MS = 3;
const POOL_SIZE = 512;
const REQUEST_CPU_ROUNDS = 5;

const out = (text = '') => process.stdout.write(`${text}\n`);

/** One request's worth of work, `n` times; the request index picks the input. */
type Work = (n: number) => void | Promise<void>;

interface Pair {
  name: string;
  library: string;
  handWritten: string;
  /** Where the hand-written code is now (src: kept; bench/replaced: removed). */
  where: string;
  runLibrary: Work;
  runHandWritten: Work;
  /** CPU ms of one block of one side (default BLOCK_MS): longer for whole requests through inject. */
  blockMs?: number;
  close?: () => Promise<void>;
}

export interface ReplacementResult {
  name: string;
  library: string;
  handWritten: string;
  where: string;
  libraryUs: number;
  handWrittenUs: number;
  savingUs: number;
  /** Saving ÷ the receiver's CPU µs per request for log/unique (medians). */
  savingPercent: number;
  /**
   * The least disturbed figures: each side's 10th percentile of its blocks, and the receiver's least CPU per
   * request of its rounds. Other processes only ever add CPU time (shared caches, a busy sibling hyperthread),
   * so these are the nearest to a quiet machine's.
   */
  quietSavingUs: number;
  quietSavingPercent: number;
  /** Interquartile range ÷ median of each side's blocks, in %: how noisy the measurement was. */
  librarySpreadPercent: number;
  handWrittenSpreadPercent: number;
  verdict: 'keep' | 'library';
}

/** The receiver's CPU µs per request for log/unique: the median of its rounds, and the least. */
export interface RequestCpu {
  medianUs: number;
  leastUs: number;
}

export interface ReplacementsRun {
  date: string;
  requestCpu: RequestCpu;
  requestCpuSource: string;
  blocks: number;
  results: ReplacementResult[];
}

// --- inputs ---------------------------------------------------------------------------------------------

interface Inputs {
  /** Request bodies as sent, parsed: what validation reads. */
  bodies: Record<string, unknown>[];
  /** The same, validated: what the content key reads. */
  envelopes: EventEnvelope[];
}

function loadInputs(): Inputs {
  const factory = new BodyFactory(loadTemplates(join(REPO_ROOT, 'samples')), randomNamespace());
  const bodies = Array.from(
    { length: POOL_SIZE },
    (_, n) => JSON.parse(factory.body(n)) as Record<string, unknown>,
  );
  const envelopes = bodies.map((body) => {
    const event = validateEvent(body, 'envelope');
    if (event.kind !== 'envelope') throw new Error('a sample is not an envelope');
    return event.envelope;
  });
  return { bodies, envelopes };
}

const at = <T>(list: readonly T[], n: number): T => list[n % list.length] as T;

// --- metrics: what one new event updates (observeRequest, instrumentStore's claim and complete, instrumentSink)

/** Seconds as a fast receiver observes them: request, claim, sink, complete. */
const SECONDS = [0.0021, 0.00041, 0.000012, 0.00037, 0.0068, 0.0009, 0.00002, 0.0011];

/** What one new event updates, whichever way the metrics are kept. */
interface EventMetrics {
  claim: { observe(seconds: number): void };
  complete: { observe(seconds: number): void };
  inFlight: { inc(): void; dec(): void };
  sinkSettled(seconds: number): void;
  answered(seconds: number): void;
}

function metricsWork(metrics: EventMetrics): Work {
  return (n) => {
    for (let i = 0; i < n; i++) {
      const s = at(SECONDS, i);
      metrics.claim.observe(s / 5);
      metrics.inFlight.inc();
      metrics.inFlight.dec();
      metrics.sinkSettled(s / 100);
      metrics.complete.observe(s / 4);
      metrics.answered(s);
    }
  };
}

/** src/http/metrics.ts: prom-client's Counter, Gauge and Histogram, updated as its wrappers update them. */
function libraryMetrics(): Work {
  const metrics = new ReceiverMetrics();
  // instrumentStore and instrumentSink make these children once.
  return metricsWork({
    claim: metrics.storeDuration.labels({ operation: 'claim' }),
    complete: metrics.storeDuration.labels({ operation: 'complete' }),
    inFlight: metrics.sinkInFlight.labels({ sink: 'log' }),
    sinkSettled: (seconds) => metrics.sinkDuration.observe({ sink: 'log', result: 'ok' }, seconds),
    answered: (seconds) =>
      metrics.observeRequest('processed', 200, seconds, { strategy: 'content', detailType: undefined }),
  });
}

/** The same updates on metric-series.ts's plain numbers, looked up as the receiver's metrics.ts did until 2026-12-04. */
function handWrittenMetrics(): Work {
  const registry = new Registry();
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const requests = new LabelledCounter('r_total', 'r', ['outcome', 'status_code'], registry);
  const requestDuration = new LabelledHistogram('r_seconds', 'r', ['outcome'], buckets, registry);
  const storeDuration = new LabelledHistogram('s_seconds', 's', ['operation'], buckets, registry);
  const sinkDuration = new LabelledHistogram('k_seconds', 'k', ['sink', 'result'], buckets, registry);
  const sinkInFlight = new LabelledGauge('k_in_flight', 'k', ['sink'], registry);
  const outcomes = new Map<
    string,
    { duration: HistogramSeries; requests: Map<number, CounterSeries<'outcome' | 'status_code'>> }
  >();
  const observeRequest = (code: string, statusCode: number, seconds: number): void => {
    const outcome = outcomeLabel(code);
    let series = outcomes.get(outcome);
    if (series === undefined) {
      series = { duration: requestDuration.labels({ outcome }), requests: new Map() };
      outcomes.set(outcome, series);
    }
    let counter = series.requests.get(statusCode);
    if (counter === undefined) {
      counter = requests.labels({ outcome, status_code: String(statusCode) });
      series.requests.set(statusCode, counter);
    }
    counter.inc();
    series.duration.observe(seconds);
  };
  const sinkDurations = new Map<string, HistogramSeries>();
  return metricsWork({
    claim: storeDuration.labels({ operation: 'claim' }),
    complete: storeDuration.labels({ operation: 'complete' }),
    inFlight: sinkInFlight.labels({ sink: 'log' }),
    sinkSettled: (seconds) => {
      let series = sinkDurations.get('ok');
      if (series === undefined) {
        series = sinkDuration.labels({ sink: 'log', result: 'ok' });
        sinkDurations.set('ok', series);
      }
      series.observe(seconds);
    },
    answered: (seconds) => observeRequest('processed', 200, seconds),
  });
}

// --- content key: the digest of a Genesys event ---------------------------------------------------------------

function contentKeys(inputs: Inputs): { library: Work; handWritten: Work } {
  const strategy = createKeyStrategy({ strategy: 'content', ttlSeconds: 86_400 });
  const events = inputs.bodies.map((body) => validateEvent(body, 'envelope'));
  const omit = handWrittenOmitTree([
    ['detail', 'metadata'],
    ['detail', 'timestamp'],
  ]);
  const handWrittenKey = (envelope: EventEnvelope) => sha256Base64Url(envelopeMaterial(envelope, omit));
  // Both must give the same keys, or the comparison means nothing.
  events.forEach((event, i) => {
    const envelope = at(inputs.envelopes, i);
    if (strategy(event, {}).key !== handWrittenKey(envelope)) {
      throw new Error(`content keys differ for sample body ${i}`);
    }
  });
  return {
    library: (n) => {
      for (let i = 0; i < n; i++) strategy(at(events, i), {});
    },
    handWritten: (n) => {
      for (let i = 0; i < n; i++) handWrittenKey(at(inputs.envelopes, i));
    },
  };
}

// --- Fastify apps: load shedding and security headers, through inject -------------------------------------------

/**
 * GET /events answering `{"status":"ok"}`, with a route-level onRequest hook as the receiver's (auth). No body:
 * neither load shedding nor the security headers depend on it, and parsing one would only add noise to both
 * sides of a difference of about a microsecond.
 */
async function benchApp(
  setUp: (app: FastifyInstance) => unknown,
  onRequest: onRequestHookHandler = (_request, _reply, done) => done(),
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await setUp(app);
  app.get('/events', { onRequest }, async () => ({ status: 'ok' }));
  await app.ready();
  return app;
}

function injectWork(app: FastifyInstance): Work {
  return async (n) => {
    for (let i = 0; i < n; i++) {
      const response = await app.inject({ method: 'GET', url: '/events' });
      if (response.statusCode !== 200) throw new Error(`bench app answered ${response.statusCode}`);
    }
  };
}

async function loadSheddingPair(): Promise<Pair> {
  // What is measured is the check on every request, never shedding: this process blocks its own event loop
  // for whole measurements, which any real limit would read as overload.
  const maxDelayMs = 3_600_000;
  // @fastify/under-pressure as the receiver registered it until 2026-11-28 (commit ea73a22).
  const library = await benchApp((app) =>
    app.register(underPressure, {
      maxEventLoopDelay: maxDelayMs,
      sampleInterval: 1000,
      pressureHandler: (request, _reply, type, value) =>
        request.routeOptions.url === '/events'
          ? Promise.reject(new OverloadedError(`${type} ${Math.round(value ?? 0)}`))
          : undefined,
    }),
  );
  const monitor = new EventLoopMonitor(maxDelayMs, 1000);
  const handWritten = await benchApp(
    () => {},
    (_request, _reply, done) => {
      const shed = monitor.overloaded();
      if (shed !== undefined) done(shed);
      else done();
    },
  );
  return {
    name: 'load shedding',
    library: '@fastify/under-pressure (global onRequest hook)',
    handWritten: 'EventLoopMonitor in the events route hook',
    where: 'src/http/load-shedding.ts',
    runLibrary: injectWork(library),
    runHandWritten: injectWork(handWritten),
    blockMs: INJECT_BLOCK_MS,
    close: async () => {
      monitor.close();
      await Promise.all([library.close(), handWritten.close()]);
    },
  };
}

async function securityHeadersPair(): Promise<Pair> {
  const entries = Object.entries(SECURITY_HEADERS);
  const library = await benchApp((app) => app.register(helmet));
  const handWritten = await benchApp((app) => {
    app.addHook('onRequest', (_request, reply, done) => {
      for (const [name, value] of entries) reply.header(name, value);
      done();
    });
  });
  return {
    name: 'security headers',
    library: '@fastify/helmet (defaults)',
    handWritten: 'one onRequest hook of constant headers',
    where: 'src/http/security-headers.ts (the hook: src/http/app.ts)',
    runLibrary: injectWork(library),
    runHandWritten: injectWork(handWritten),
    blockMs: INJECT_BLOCK_MS,
    close: async () => {
      await Promise.all([library.close(), handWritten.close()]);
    },
  };
}

// --- measurement ----------------------------------------------------------------------------------------------

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** CPU µs per request of `work` over `n` requests. */
async function cpuPerRequest(work: Work, n: number): Promise<number> {
  const before = cpuUs();
  await work(n);
  return (cpuUs() - before) / n;
}

/** How many requests take about BLOCK_MS of CPU (this also warms both sides up). */
async function calibrate(work: Work, blockMs: number): Promise<number> {
  let n = 4;
  for (;;) {
    const before = cpuUs();
    await work(n);
    const usedMs = (cpuUs() - before) / 1000;
    if (usedMs >= blockMs / 2 || n >= 1 << 22) return Math.max(4, Math.round((n * blockMs) / usedMs));
    n *= 2;
  }
}

/** The interquartile range as a share of the median, in %: how noisy a side's blocks were. */
function iqrPercent(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const quartile = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return ((quartile(0.75) - quartile(0.25)) / median(sorted)) * 100;
}

/**
 * `blocks` pairs of short blocks (more when a pair's blocks are shorter than BLOCK_MS), one of each side back to back (which goes first alternates), so that both
 * sides of a pair see the same load from other processes; the saving is the median of the pairs' differences.
 */
function percentile10(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(0.1 * sorted.length)] as number;
}

async function measurePair(pair: Pair, blocks: number, requestCpu: RequestCpu): Promise<ReplacementResult> {
  const libraryN = await calibrate(pair.runLibrary, pair.blockMs ?? BLOCK_MS);
  const handWrittenN = await calibrate(pair.runHandWritten, pair.blockMs ?? BLOCK_MS);
  await pair.runLibrary(libraryN);
  await pair.runHandWritten(handWrittenN);
  const library: number[] = [];
  const handWritten: number[] = [];
  const savings: number[] = [];
  // The same CPU time per pair whatever its block length.
  const pairBlocks = Math.round((blocks * BLOCK_MS) / (pair.blockMs ?? BLOCK_MS));
  for (let block = 0; block < pairBlocks; block++) {
    let libraryUs: number;
    let handWrittenUs: number;
    if (block % 2 === 0) {
      libraryUs = await cpuPerRequest(pair.runLibrary, libraryN);
      handWrittenUs = await cpuPerRequest(pair.runHandWritten, handWrittenN);
    } else {
      handWrittenUs = await cpuPerRequest(pair.runHandWritten, handWrittenN);
      libraryUs = await cpuPerRequest(pair.runLibrary, libraryN);
    }
    library.push(libraryUs);
    handWritten.push(handWrittenUs);
    savings.push(libraryUs - handWrittenUs);
  }
  const savingUs = median(savings);
  const savingPercent = (savingUs / requestCpu.medianUs) * 100;
  const quietSavingUs = percentile10(library) - percentile10(handWritten);
  const quietSavingPercent = (quietSavingUs / requestCpu.leastUs) * 100;
  return {
    name: pair.name,
    library: pair.library,
    handWritten: pair.handWritten,
    where: pair.where,
    libraryUs: median(library),
    handWrittenUs: median(handWritten),
    savingUs,
    savingPercent,
    quietSavingUs,
    quietSavingPercent,
    librarySpreadPercent: iqrPercent(library),
    handWrittenSpreadPercent: iqrPercent(handWritten),
    verdict: savingPercent >= KEEP_PERCENT || quietSavingPercent >= KEEP_PERCENT ? 'keep' : 'library',
  };
}

/** The pairs, each made just before it is measured (the Fastify apps' timers start when they are made). */
function buildPairs(inputs: Inputs): (() => Pair | Promise<Pair>)[] {
  return [
    () => ({
      name: 'request-path metrics',
      library: 'prom-client Counter/Gauge/Histogram',
      handWritten: 'plain numbers (metric-series.ts)',
      where: 'bench/replaced/metric-series.ts',
      runLibrary: libraryMetrics(),
      runHandWritten: handWrittenMetrics(),
    }),
    () => {
      const keys = contentKeys(inputs);
      return {
        name: 'content key (RFC 8785 + omit + SHA-256)',
        library: 'canonicalize + omitPaths',
        handWritten: 'one-pass writer (canonical.ts)',
        where: 'bench/replaced/canonical.ts',
        runLibrary: keys.library,
        runHandWritten: keys.handWritten,
      };
    },
    () => ({
      name: 'envelope validation',
      library: 'zod (envelope + Genesys schemas)',
      handWritten: 'fast path, zod only on refusal',
      where: 'src/events/envelope.ts',
      runLibrary: (n) => {
        for (let i = 0; i < n; i++) validateEventWithZod(at(inputs.bodies, i), 'envelope');
      },
      runHandWritten: (n) => {
        for (let i = 0; i < n; i++) validateEvent(at(inputs.bodies, i), 'envelope');
      },
    }),
    () => loadSheddingPair(),
    () => securityHeadersPair(),
  ];
}

/**
 * The receiver's CPU µs per request for `log/unique`, measured quickly when no full run gave it: the built
 * receiver with its own redis-server, unique events for a few seconds, median of REQUEST_CPU_ROUNDS.
 */
export async function measureRequestCpu(options: BenchOptions): Promise<RequestCpu> {
  const templates = loadTemplates(join(REPO_ROOT, 'samples'), options.bodyFormat);
  const receiver = await startReceiver('log', options, templates);
  try {
    const load = (durationS: number) =>
      runLoad({
        url: receiver.server.url,
        path: EVENTS_PATH,
        apiKey: API_KEY,
        connections: options.connections,
        durationS,
        nextBody: bodySource(receiver, 'unique', 0),
      });
    await load(options.warmupS);
    const perRequest: number[] = [];
    for (let round = 0; round < REQUEST_CPU_ROUNDS; round++) {
      await sleep(300);
      const before = readCpuMs(receiver.server.pid);
      const result = await load(Math.min(options.durationS, 3));
      perRequest.push(((readCpuMs(receiver.server.pid) - before) * 1000) / Math.max(1, result.requests));
    }
    out(`  log/unique CPU µs/req: ${perRequest.map((us) => us.toFixed(1)).join(', ')}`);
    return { medianUs: median(perRequest), leastUs: Math.min(...perRequest) };
  } finally {
    await receiver.server.stop();
    await receiver.redis.stop();
  }
}

export async function measureReplacements(
  requestCpu: RequestCpu,
  requestCpuSource: string,
  blocks: number,
): Promise<ReplacementsRun> {
  const inputs = loadInputs();
  const results: ReplacementResult[] = [];
  for (const makePair of buildPairs(inputs)) {
    const pair = await makePair();
    try {
      const result = await measurePair(pair, blocks, requestCpu);
      results.push(result);
      out(
        `  ${pair.name}: library ${result.libraryUs.toFixed(2)} µs, hand-written ${result.handWrittenUs.toFixed(2)} µs ` +
          `(spread ${result.librarySpreadPercent.toFixed(0)} % / ${result.handWrittenSpreadPercent.toFixed(0)} %)`,
      );
    } finally {
      await pair.close?.();
    }
  }
  return { date: new Date().toISOString(), requestCpu, requestCpuSource, blocks, results };
}

/** Pairs of blocks per replacement: about 2 s of CPU per replacement in a full run. */
export function replacementBlocks(options: BenchOptions): number {
  return options.quick ? 15 : 41;
}

const fixed = (value: number, digits = 2) => value.toFixed(digits);

export function replacementsTable(run: ReplacementsRun): string {
  return markdownTable(
    [
      'replacement',
      'library',
      'library µs/req',
      'hand-written µs/req',
      'saving µs',
      '% of request CPU',
      'least disturbed: saving µs, %',
      'IQR lib / hand %',
      'verdict',
    ],
    run.results.map((result) => [
      result.name,
      result.library,
      fixed(result.libraryUs),
      fixed(result.handWrittenUs),
      fixed(result.savingUs),
      fixed(result.savingPercent, 1),
      `${fixed(result.quietSavingUs)}, ${fixed(result.quietSavingPercent, 1)}`,
      `${fixed(result.librarySpreadPercent, 0)} / ${fixed(result.handWrittenSpreadPercent, 0)}`,
      result.verdict === 'keep' ? `keep (≥ ${KEEP_PERCENT} %)` : `library (< ${KEEP_PERCENT} %)`,
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** `npm run bench -- --replacements`: the table, against `--request-cpu-us` or a quick measurement of log/unique. */
export async function runReplacements(options: BenchOptions): Promise<number> {
  out(
    `replacements: ${replacementBlocks(options)} pairs of blocks per replacement, CPU time (process.cpuUsage)`,
  );
  let requestCpu: RequestCpu | undefined =
    options.requestCpuUs === undefined
      ? undefined
      : { medianUs: options.requestCpuUs, leastUs: options.requestCpuUs };
  let source = '--request-cpu-us';
  if (requestCpu === undefined) {
    out('  measuring the receiver (log sink, unique events) for its CPU per request');
    requestCpu = await measureRequestCpu(options);
    source = `measured now (log/unique, median of ${REQUEST_CPU_ROUNDS} × 3 s)`;
  }
  out(
    `  receiver log/unique: ${requestCpu.medianUs.toFixed(1)} µs CPU per request, least ${requestCpu.leastUs.toFixed(1)} (${source})`,
  );
  const run = await measureReplacements(requestCpu, source, replacementBlocks(options));
  out(`\n### Hand-written replacements against their libraries\n\n${replacementsTable(run)}`);
  return 0;
}
