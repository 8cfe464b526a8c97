import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ProcessOnceResult, Sink, SinkContext } from '../sinks/types.js';
import type { IdempotencyStore } from '../store/types.js';

/**
 * The receiver's Prometheus metrics. Each app has its own Registry (tests build many apps in one process, and
 * nothing here touches prom-client's global registry). The process metrics (CPU, memory, event loop lag, GC)
 * describe the process, not an app, and collecting them starts an event-loop monitor and a GC observer that
 * are never stopped: they live in one registry per process, created on first use and appended to every
 * app's /metrics.
 *
 * The store and the sink are measured by wrapping them (instrumentStore, instrumentSink), so the pipeline
 * stays unaware of metrics.
 *
 * Every metric is prom-client's own Counter, Gauge or Histogram, used as its documentation shows
 * (https://github.com/siimon/prom-client#usage). Until 2026-12-04 the request-path ones were plain numbers
 * behind the registry (metric-series.ts); the bench measured what that saved on 2026-12-04, 2.8 µs of a new
 * event's 166 µs of CPU (1.7 %; bench/results/replacements-2026-12-04.md), under the 5 % a hand-written
 * replacement of a library must save.
 */

/** request.outcome codes → the bounded `outcome` label of ebdedup_requests_total. */
const OUTCOMES: Readonly<Record<string, string>> = {
  processed: 'processed',
  duplicate: 'duplicate',
  in_progress: 'in_progress',
  invalid_event: 'invalid',
  unauthorized: 'unauthorized',
  store_unavailable: 'store_unavailable',
  processing_failed: 'processing_failed',
  processing_timeout: 'timeout',
  payload_too_large: 'payload_too_large',
  unsupported_media_type: 'unsupported_media_type',
  rejected_downstream: 'rejected_downstream',
  auth_unavailable: 'auth_unavailable',
  overloaded: 'overloaded',
  poison_event: 'poison',
  internal_error: 'internal_error',
  bad_request: 'bad_request',
};

export function outcomeLabel(code: string | undefined): string {
  return (code !== undefined && OUTCOMES[code]) || 'other';
}

/** Seconds: from a cached answer (sub-millisecond) to EventBridge's 5 s client timeout and past it. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsOptions {
  /** Distinct `detail_type` label values kept before the rest are counted as `other`. */
  maxDetailTypes?: number;
  /** Constant labels of ebdedup_build_info. */
  info?: Record<string, string>;
}

let processRegistry: Registry | undefined;

/** The process metrics' registry, made once per process. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class ReceiverMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'outcome' | 'status_code'>;
  readonly requestDuration: Histogram<'outcome'>;
  readonly duplicates: Counter<'strategy' | 'detail_type'>;
  readonly storeDuration: Histogram<'operation'>;
  readonly storeErrors: Counter<'operation'>;
  readonly claimsLost: Counter<'operation'>;
  readonly sinkDuration: Histogram<'sink' | 'result'>;
  readonly sinkInFlight: Gauge<'sink'>;
  private readonly detailTypes = new Set<string>();
  private readonly maxDetailTypes: number;

  constructor(options: MetricsOptions = {}) {
    this.maxDetailTypes = options.maxDetailTypes ?? 50;
    // Registered in this order, which is the order of /metrics.
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Histogram<L>({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers });
    this.requests = counter(
      'ebdedup_requests_total',
      'Deliveries to EVENTS_PATH by outcome and HTTP status.',
      ['outcome', 'status_code'],
    );
    this.requestDuration = histogram(
      'ebdedup_request_duration_seconds',
      'Time from receiving a delivery to answering it, by outcome.',
      ['outcome'],
    );
    this.duplicates = counter(
      'ebdedup_duplicates_total',
      'Deliveries answered as duplicates, by DEDUP_STRATEGY and detail-type (topic family; capped, then "other").',
      ['strategy', 'detail_type'],
    );
    this.storeDuration = histogram(
      'ebdedup_store_operation_duration_seconds',
      'Idempotency store calls (claim, complete, release, renew, health, inspect, delete), failed ones included.',
      ['operation'],
    );
    this.storeErrors = counter(
      'ebdedup_store_errors_total',
      'Idempotency store calls that failed (connection, timeout), by operation.',
      ['operation'],
    );
    this.claimsLost = counter(
      'ebdedup_claims_lost_total',
      'Claims whose holder found on renew, complete or release that it no longer owned the key: its lease ran out and another delivery took it over, or an operator deleted it.',
      ['operation'],
    );
    this.sinkDuration = histogram(
      'ebdedup_sink_duration_seconds',
      'Sink calls until they settle (past SINK_TIMEOUT_MS too), by sink and result.',
      ['sink', 'result'],
    );
    this.sinkInFlight = new Gauge({
      name: 'ebdedup_sink_in_flight',
      help: 'Sink calls running now, those past their deadline included.',
      labelNames: ['sink'],
      registers,
    });
    const info = new Gauge({
      name: 'ebdedup_build_info',
      help: 'Always 1; the labels describe the configuration.',
      labelNames: Object.keys(options.info ?? {}),
      registers,
    });
    info.set(options.info ?? {}, 1);
  }

  /** A delivery's answer, from the onResponse hook. */
  observeRequest(
    outcomeCode: string | undefined,
    statusCode: number,
    seconds: number,
    duplicate?: { strategy: string; detailType: string | undefined },
  ): void {
    const outcome = outcomeLabel(outcomeCode);
    this.requests.inc({ outcome, status_code: statusCode });
    this.requestDuration.observe({ outcome }, seconds);
    if (outcome === 'duplicate' && duplicate) {
      this.duplicates.inc({
        strategy: duplicate.strategy,
        detail_type: this.detailTypeLabel(duplicate.detailType),
      });
    }
  }

  /**
   * Genesys' detail-types are topic families (`v2.detail.events.conversation.{id}.customer.end`), so they are
   * few; anything else a caller sends could be unbounded, so after `maxDetailTypes` values the rest are `other`.
   */
  detailTypeLabel(detailType: string | undefined): string {
    if (detailType === undefined || detailType === '') return 'none';
    const value = detailType.length > 120 ? detailType.slice(0, 120) : detailType;
    if (this.detailTypes.has(value)) return value;
    if (this.detailTypes.size >= this.maxDetailTypes) return 'other';
    this.detailTypes.add(value);
    return value;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The /metrics body: this app's metrics, then the process's. */
  async text(): Promise<string> {
    const [own, processText] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own.trimEnd()}\n\n${processText}`;
  }
}

/**
 * Wraps one store operation: timed, failures counted, and claims found lost counted. The labelled children
 * are made once here, and the call is timed inline (one `then`, no async wrapper): this runs on every request.
 */
function timed<A extends unknown[], T>(
  metrics: ReceiverMetrics,
  operation: string,
  call: (...args: A) => Promise<T>,
  lost?: (result: T) => boolean,
): (...args: A) => Promise<T> {
  const duration = metrics.storeDuration.labels({ operation });
  const errors = metrics.storeErrors.labels({ operation });
  const claimsLost = metrics.claimsLost.labels({ operation });
  return (...args: A) => {
    const started = performance.now();
    return call(...args).then(
      (result) => {
        duration.observe((performance.now() - started) / 1000);
        if (lost?.(result)) claimsLost.inc();
        return result;
      },
      (error: unknown) => {
        duration.observe((performance.now() - started) / 1000);
        errors.inc();
        throw error;
      },
    );
  };
}

const refused = (owned: boolean) => !owned;

/** The store, each call timed, failures counted, and claims found lost counted. */
export function instrumentStore(store: IdempotencyStore, metrics: ReceiverMetrics): IdempotencyStore {
  return {
    kind: store.kind,
    claimKey: timed(metrics, 'claim', store.claimKey.bind(store)),
    completeClaim: timed(metrics, 'complete', store.completeClaim.bind(store), refused),
    releaseClaim: timed(metrics, 'release', store.releaseClaim.bind(store), refused),
    renewClaim: timed(metrics, 'renew', store.renewClaim.bind(store), refused),
    inspectKey: timed(metrics, 'inspect', store.inspectKey.bind(store)),
    deleteKey: timed(metrics, 'delete', store.deleteKey.bind(store)),
    checkHealth: timed(metrics, 'health', store.checkHealth.bind(store)),
    close: () => store.close(),
  };
}

/**
 * The sink, each call timed until it settles. A synchronous sink stays synchronous (the pipeline answers it
 * without a promise), and processOnce is passed on only when the sink has it, since its presence is what
 * makes the pipeline use it.
 */
export function instrumentSink(sink: Sink, metrics: ReceiverMetrics): Sink {
  const inFlight = metrics.sinkInFlight.labels({ sink: sink.name });
  const finish = (started: number, result: string): void => {
    inFlight.dec();
    metrics.sinkDuration.observe({ sink: sink.name, result }, (performance.now() - started) / 1000);
  };
  const instrumented: Sink = {
    name: sink.name,
    handle(event: Record<string, unknown>, context: SinkContext): Promise<void> | void {
      inFlight.inc();
      const started = performance.now();
      let pending: Promise<void> | void;
      try {
        pending = sink.handle(event, context);
      } catch (error) {
        finish(started, 'error');
        throw error;
      }
      if (pending === undefined) {
        finish(started, 'ok');
        return undefined;
      }
      return Promise.resolve(pending).then(
        () => finish(started, 'ok'),
        (error: unknown) => {
          finish(started, 'error');
          throw error;
        },
      );
    },
    close: () => sink.close(),
  };
  if (sink.processOnce) {
    const processOnce = sink.processOnce.bind(sink);
    instrumented.processOnce = (event, context, ttlSeconds): Promise<ProcessOnceResult> => {
      inFlight.inc();
      const started = performance.now();
      return processOnce(event, context, ttlSeconds).then(
        (result) => {
          finish(started, result.outcome);
          return result;
        },
        (error: unknown) => {
          finish(started, 'error');
          throw error;
        },
      );
    };
  }
  return instrumented;
}
