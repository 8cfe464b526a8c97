import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { OverloadedError } from '../../src/core/errors.js';

/*
 * Removed from src/http/load-shedding.ts on 2026-12-04: the bench (bench/replacements.ts) measured that it saved
 * 3.9 µs of a new event's 166 µs of CPU (2.0 %) against @fastify/under-pressure, under the 5 % a hand-written replacement of a
 * library must save (bench/results/replacements-2026-12-04.md); src/http/app.ts registers the plugin again.
 * Kept here, unused by the receiver, only so that `npm run bench -- --replacements` can measure it again.
 */

/**
 * SHED_MAX_EVENT_LOOP_DELAY_MS: how far behind the event loop runs, sampled like @fastify/under-pressure samples
 * it (a 10 ms resolution delay histogram, its mean less the resolution, read and reset every interval), which
 * the receiver used before. That plugin checks in a global onRequest hook that reads `request.routeOptions`,
 * which Fastify builds anew on every read: about 1 µs per request. Here the events route asks `overloaded()`
 * from the hook it already has, and nothing else is shed (health, readiness and metrics keep answering).
 */
export class EventLoopMonitor {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  /** The last sample's delay in ms (Infinity when the interval saw no sample: the loop was blocked throughout). */
  private delayMs = 0;

  constructor(
    private readonly maxDelayMs: number,
    sampleIntervalMs: number,
  ) {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), Math.max(RESOLUTION_MS, sampleIntervalMs));
    this.timer.unref();
  }

  private sample(): void {
    const delay = Math.max(0, this.histogram.mean / 1e6 - RESOLUTION_MS);
    this.delayMs = Number.isNaN(delay) ? Number.POSITIVE_INFINITY : delay;
    this.histogram.reset();
  }

  /** The error to answer with while the loop lags more than the limit, else undefined. */
  overloaded(): OverloadedError | undefined {
    return this.delayMs > this.maxDelayMs
      ? new OverloadedError(`eventLoopDelay ${Math.round(this.delayMs)}`)
      : undefined;
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}

const RESOLUTION_MS = 10;
