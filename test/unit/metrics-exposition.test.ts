import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { instrumentSink, instrumentStore, ReceiverMetrics } from '../../src/http/metrics.js';
import type { ProcessOnceResult, SinkContext } from '../../src/sinks/types.js';
import type { ClaimResult, IdempotencyStore, KeyInspection } from '../../src/store/types.js';

/**
 * The exact text of the app's own registry (the process metrics vary, so they are left out) after a fixed
 * sequence of observations. This pins what a scraper sees: names, HELP, TYPE, label names and their order,
 * label value escaping, bucket bounds, `_sum`/`_count`, the order of the series, and which series exist
 * before their first observation. See https://prometheus.io/docs/instrumenting/exposition_formats/.
 */

/** performance.now(), in milliseconds, as the instrumented store and sink read it. */
let clock = 1000;

function stopClock(): void {
  clock = 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => clock);
}

afterEach(() => {
  vi.restoreAllMocks();
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

const storeError = () => new Error('connection refused');

/** A store whose answers the script chooses: complete finds its claim lost; release and health fail. */
function scriptedStore(): IdempotencyStore {
  return {
    kind: 'memory',
    claimKey: async (): Promise<ClaimResult> => ({ outcome: 'claimed', token: 't' }),
    completeClaim: async () => false,
    releaseClaim: async () => Promise.reject(storeError()),
    renewClaim: async () => true,
    inspectKey: async (): Promise<KeyInspection> => ({ state: 'absent' }),
    deleteKey: async (): Promise<KeyInspection> => ({ state: 'absent' }),
    checkHealth: async () => Promise.reject(storeError()),
    close: async () => {},
  };
}

const context: SinkContext = {
  key: 'key',
  rawBody: '{}',
  eventId: undefined,
  detailType: undefined,
  signal: new AbortController().signal,
  logger: pino({ enabled: false }),
};

/** Starts `call`, lets `ms` pass on the clock, then waits for it to settle; failures are part of the script. */
async function settleAfter(ms: number, call: () => unknown): Promise<void> {
  let pending: unknown;
  try {
    pending = call();
  } catch {
    // a synchronous failure is timed at once, before the clock moves
  }
  clock += ms;
  await Promise.resolve(pending).catch(() => {});
}

const BUILD_INFO = {
  store: 'memory',
  sink: 'recording',
  auth_mode: 'api_key',
  strategy: 'content',
  tls: 'off',
};

describe('the /metrics text of the app registry', () => {
  it('prints only HELP and TYPE for labelled metrics that have not been observed yet', async () => {
    // Arrange
    const metrics = new ReceiverMetrics();

    // Act
    const text = await metrics.registry.metrics();

    // Assert
    expect(text).toBe(UNOBSERVED);
  });

  it('prints a fixed sequence of requests, duplicates, store and sink calls exactly as before', async () => {
    // Arrange
    stopClock();
    const metrics = new ReceiverMetrics({ maxDetailTypes: 2, info: BUILD_INFO });
    const store = instrumentStore(scriptedStore(), metrics);
    const slow = deferred<void>();
    let handled = 0;
    const sink = instrumentSink(
      {
        name: 'recording',
        handle: () => {
          handled += 1;
          if (handled === 1) return undefined; // synchronous success
          if (handled === 2) return Promise.reject(new Error('downstream 500'));
          if (handled === 3) throw new Error('synchronous failure');
          return slow.promise; // the fourth and fifth calls settle together
        },
        close: async () => {},
      },
      metrics,
    );
    const atomic = instrumentSink(
      {
        name: 'atomic',
        handle: () => undefined,
        processOnce: async (): Promise<ProcessOnceResult> => ({ outcome: 'duplicate', firstSeenAt: 1 }),
        close: async () => {},
      },
      metrics,
    );
    const stuck = instrumentSink(
      { name: 'stuck', handle: () => new Promise(() => {}), close: async () => {} },
      metrics,
    );
    const duplicate = (detailType: string | undefined) => ({ strategy: 'content', detailType });

    // Act
    await settleAfter(3, () => store.checkHealth()); // observed before claim, though wrapped after it
    await settleAfter(0.5, () => store.claimKey('k', 1000)); // exactly on the 0.0005 bound
    await settleAfter(7, () => store.completeClaim('k', 't', 1, 60)); // the claim was lost
    await settleAfter(12_000, () => store.releaseClaim('k', 't')); // fails, past the last bound
    await settleAfter(2, () => store.renewClaim('k', 't', 1000));
    await settleAfter(2, () => store.checkHealth());
    await settleAfter(0, () => sink.handle({}, context)); // synchronous success
    await settleAfter(40, () => sink.handle({}, context)); // rejects
    await settleAfter(0, () => sink.handle({}, context)); // throws
    const both = Promise.all([sink.handle({}, context), sink.handle({}, context)]); // two in flight
    clock += 60;
    slow.resolve();
    await both; // and none any more
    void stuck.handle({}, context); // still in flight at the scrape
    await settleAfter(30, () => atomic.processOnce?.({}, context, 60));
    metrics.observeRequest('processed', 200, 0.0004);
    metrics.observeRequest('invalid_event', 400, 0.0005);
    metrics.observeRequest('processed', 200, 0.003);
    metrics.observeRequest('duplicate', 200, 0.001, duplicate('v2.audits.entitytype.{id}.entityid.{id}'));
    metrics.observeRequest('duplicate', 200, 0.002, duplicate('quote" back\\slash\nnewline'));
    metrics.observeRequest('duplicate', 200, 0.002, duplicate('past the cap'));
    metrics.observeRequest('duplicate', 200, 0.002, duplicate(undefined));
    metrics.observeRequest('duplicate', 200, 0.0015, duplicate('v2.audits.entitytype.{id}.entityid.{id}'));
    metrics.observeRequest('processing_timeout', 504, 10);
    metrics.observeRequest('processing_timeout', 504, 12.5);
    metrics.observeRequest(undefined, 404, 0.0001);
    metrics.observeRequest('not_an_outcome', 500, 0.25);
    metrics.observeRequest('processed', 201, 0.01);
    metrics.observeRequest('duplicate', 200, 0.002); // no duplicate details: counted as a request only
    const text = await metrics.registry.metrics();

    // Assert
    expect(text).toBe(EXPECTED);
  });
});

describe('the request-path metrics', () => {
  it('refuse a NaN or infinite observation, as prom-client does, and keep the text as it was', async () => {
    // Arrange
    const metrics = new ReceiverMetrics();
    metrics.observeRequest('processed', 200, 0.001);
    const before = await metrics.registry.metrics();

    // Act
    const refusals = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map((value) => {
      try {
        metrics.requestDuration.observe({ outcome: 'processed' }, value);
        return undefined;
      } catch (error) {
        return error;
      }
    });

    // Assert
    expect(refusals).toEqual([expect.any(TypeError), expect.any(TypeError), expect.any(TypeError)]);
    expect(await metrics.registry.metrics()).toBe(before);
  });
});

/** A registry nothing has observed: only the unlabelled build_info has a sample. */
const UNOBSERVED = `# HELP ebdedup_requests_total Deliveries to EVENTS_PATH by outcome and HTTP status.
# TYPE ebdedup_requests_total counter

# HELP ebdedup_request_duration_seconds Time from receiving a delivery to answering it, by outcome.
# TYPE ebdedup_request_duration_seconds histogram

# HELP ebdedup_duplicates_total Deliveries answered as duplicates, by DEDUP_STRATEGY and detail-type (topic family; capped, then "other").
# TYPE ebdedup_duplicates_total counter

# HELP ebdedup_store_operation_duration_seconds Idempotency store calls (claim, complete, release, renew, health, inspect, delete), failed ones included.
# TYPE ebdedup_store_operation_duration_seconds histogram

# HELP ebdedup_store_errors_total Idempotency store calls that failed (connection, timeout), by operation.
# TYPE ebdedup_store_errors_total counter

# HELP ebdedup_claims_lost_total Claims whose holder found on renew, complete or release that it no longer owned the key: its lease ran out and another delivery took it over, or an operator deleted it.
# TYPE ebdedup_claims_lost_total counter

# HELP ebdedup_sink_duration_seconds Sink calls until they settle (past SINK_TIMEOUT_MS too), by sink and result.
# TYPE ebdedup_sink_duration_seconds histogram

# HELP ebdedup_sink_in_flight Sink calls running now, those past their deadline included.
# TYPE ebdedup_sink_in_flight gauge

# HELP ebdedup_build_info Always 1; the labels describe the configuration.
# TYPE ebdedup_build_info gauge
ebdedup_build_info 1
`;

/**
 * Recorded from prom-client 15.1.3's own Counter, Gauge and Histogram; held while they were replaced by plain
 * numbers (2026-11-28 to 2026-12-04) and again since they are back.
 */
const EXPECTED = String.raw`# HELP ebdedup_requests_total Deliveries to EVENTS_PATH by outcome and HTTP status.
# TYPE ebdedup_requests_total counter
ebdedup_requests_total{outcome="processed",status_code="200"} 2
ebdedup_requests_total{outcome="invalid",status_code="400"} 1
ebdedup_requests_total{outcome="duplicate",status_code="200"} 6
ebdedup_requests_total{outcome="timeout",status_code="504"} 2
ebdedup_requests_total{outcome="other",status_code="404"} 1
ebdedup_requests_total{outcome="other",status_code="500"} 1
ebdedup_requests_total{outcome="processed",status_code="201"} 1

# HELP ebdedup_request_duration_seconds Time from receiving a delivery to answering it, by outcome.
# TYPE ebdedup_request_duration_seconds histogram
ebdedup_request_duration_seconds_bucket{le="0.0005",outcome="processed"} 1
ebdedup_request_duration_seconds_bucket{le="0.001",outcome="processed"} 1
ebdedup_request_duration_seconds_bucket{le="0.0025",outcome="processed"} 1
ebdedup_request_duration_seconds_bucket{le="0.005",outcome="processed"} 2
ebdedup_request_duration_seconds_bucket{le="0.01",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="0.025",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="0.05",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="0.1",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="0.25",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="0.5",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="1",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="2.5",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="5",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="10",outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="+Inf",outcome="processed"} 3
ebdedup_request_duration_seconds_sum{outcome="processed"} 0.0134
ebdedup_request_duration_seconds_count{outcome="processed"} 3
ebdedup_request_duration_seconds_bucket{le="0.0005",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.001",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.0025",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.005",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.01",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.025",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.05",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.1",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.25",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.5",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="1",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="2.5",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="5",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="10",outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="+Inf",outcome="invalid"} 1
ebdedup_request_duration_seconds_sum{outcome="invalid"} 0.0005
ebdedup_request_duration_seconds_count{outcome="invalid"} 1
ebdedup_request_duration_seconds_bucket{le="0.0005",outcome="duplicate"} 0
ebdedup_request_duration_seconds_bucket{le="0.001",outcome="duplicate"} 1
ebdedup_request_duration_seconds_bucket{le="0.0025",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.005",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.01",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.025",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.05",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.1",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.25",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.5",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="1",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="2.5",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="5",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="10",outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="+Inf",outcome="duplicate"} 6
ebdedup_request_duration_seconds_sum{outcome="duplicate"} 0.0105
ebdedup_request_duration_seconds_count{outcome="duplicate"} 6
ebdedup_request_duration_seconds_bucket{le="0.0005",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.001",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.0025",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.005",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.01",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.025",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.05",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.1",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.25",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="0.5",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="1",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="2.5",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="5",outcome="timeout"} 0
ebdedup_request_duration_seconds_bucket{le="10",outcome="timeout"} 1
ebdedup_request_duration_seconds_bucket{le="+Inf",outcome="timeout"} 2
ebdedup_request_duration_seconds_sum{outcome="timeout"} 22.5
ebdedup_request_duration_seconds_count{outcome="timeout"} 2
ebdedup_request_duration_seconds_bucket{le="0.0005",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.001",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.0025",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.005",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.01",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.025",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.05",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.1",outcome="other"} 1
ebdedup_request_duration_seconds_bucket{le="0.25",outcome="other"} 2
ebdedup_request_duration_seconds_bucket{le="0.5",outcome="other"} 2
ebdedup_request_duration_seconds_bucket{le="1",outcome="other"} 2
ebdedup_request_duration_seconds_bucket{le="2.5",outcome="other"} 2
ebdedup_request_duration_seconds_bucket{le="5",outcome="other"} 2
ebdedup_request_duration_seconds_bucket{le="10",outcome="other"} 2
ebdedup_request_duration_seconds_bucket{le="+Inf",outcome="other"} 2
ebdedup_request_duration_seconds_sum{outcome="other"} 0.2501
ebdedup_request_duration_seconds_count{outcome="other"} 2

# HELP ebdedup_duplicates_total Deliveries answered as duplicates, by DEDUP_STRATEGY and detail-type (topic family; capped, then "other").
# TYPE ebdedup_duplicates_total counter
ebdedup_duplicates_total{strategy="content",detail_type="v2.audits.entitytype.{id}.entityid.{id}"} 2
ebdedup_duplicates_total{strategy="content",detail_type="quote\" back\\slash\nnewline"} 1
ebdedup_duplicates_total{strategy="content",detail_type="other"} 1
ebdedup_duplicates_total{strategy="content",detail_type="none"} 1

# HELP ebdedup_store_operation_duration_seconds Idempotency store calls (claim, complete, release, renew, health, inspect, delete), failed ones included.
# TYPE ebdedup_store_operation_duration_seconds histogram
ebdedup_store_operation_duration_seconds_bucket{le="0.0005",operation="health"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.001",operation="health"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.0025",operation="health"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.005",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="0.01",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="0.025",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="0.05",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="0.1",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="0.25",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="0.5",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="1",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="2.5",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="5",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="10",operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="+Inf",operation="health"} 2
ebdedup_store_operation_duration_seconds_sum{operation="health"} 0.005
ebdedup_store_operation_duration_seconds_count{operation="health"} 2
ebdedup_store_operation_duration_seconds_bucket{le="0.0005",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.001",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.0025",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.005",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.01",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.025",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.05",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.1",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.25",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.5",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="1",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="2.5",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="5",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="10",operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="+Inf",operation="claim"} 1
ebdedup_store_operation_duration_seconds_sum{operation="claim"} 0.0005
ebdedup_store_operation_duration_seconds_count{operation="claim"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.0005",operation="complete"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.001",operation="complete"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.0025",operation="complete"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.005",operation="complete"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.01",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.025",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.05",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.1",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.25",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.5",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="1",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="2.5",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="5",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="10",operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="+Inf",operation="complete"} 1
ebdedup_store_operation_duration_seconds_sum{operation="complete"} 0.007
ebdedup_store_operation_duration_seconds_count{operation="complete"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.0005",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.001",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.0025",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.005",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.01",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.025",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.05",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.1",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.25",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.5",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="1",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="2.5",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="5",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="10",operation="release"} 0
ebdedup_store_operation_duration_seconds_bucket{le="+Inf",operation="release"} 1
ebdedup_store_operation_duration_seconds_sum{operation="release"} 12
ebdedup_store_operation_duration_seconds_count{operation="release"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.0005",operation="renew"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.001",operation="renew"} 0
ebdedup_store_operation_duration_seconds_bucket{le="0.0025",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.005",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.01",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.025",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.05",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.1",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.25",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="0.5",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="1",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="2.5",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="5",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="10",operation="renew"} 1
ebdedup_store_operation_duration_seconds_bucket{le="+Inf",operation="renew"} 1
ebdedup_store_operation_duration_seconds_sum{operation="renew"} 0.002
ebdedup_store_operation_duration_seconds_count{operation="renew"} 1

# HELP ebdedup_store_errors_total Idempotency store calls that failed (connection, timeout), by operation.
# TYPE ebdedup_store_errors_total counter
ebdedup_store_errors_total{operation="health"} 2
ebdedup_store_errors_total{operation="release"} 1

# HELP ebdedup_claims_lost_total Claims whose holder found on renew, complete or release that it no longer owned the key: its lease ran out and another delivery took it over, or an operator deleted it.
# TYPE ebdedup_claims_lost_total counter
ebdedup_claims_lost_total{operation="complete"} 1

# HELP ebdedup_sink_duration_seconds Sink calls until they settle (past SINK_TIMEOUT_MS too), by sink and result.
# TYPE ebdedup_sink_duration_seconds histogram
ebdedup_sink_duration_seconds_bucket{le="0.0005",sink="recording",result="ok"} 1
ebdedup_sink_duration_seconds_bucket{le="0.001",sink="recording",result="ok"} 1
ebdedup_sink_duration_seconds_bucket{le="0.0025",sink="recording",result="ok"} 1
ebdedup_sink_duration_seconds_bucket{le="0.005",sink="recording",result="ok"} 1
ebdedup_sink_duration_seconds_bucket{le="0.01",sink="recording",result="ok"} 1
ebdedup_sink_duration_seconds_bucket{le="0.025",sink="recording",result="ok"} 1
ebdedup_sink_duration_seconds_bucket{le="0.05",sink="recording",result="ok"} 1
ebdedup_sink_duration_seconds_bucket{le="0.1",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="0.25",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="0.5",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="1",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="2.5",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="5",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="10",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="+Inf",sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_sum{sink="recording",result="ok"} 0.12
ebdedup_sink_duration_seconds_count{sink="recording",result="ok"} 3
ebdedup_sink_duration_seconds_bucket{le="0.0005",sink="recording",result="error"} 1
ebdedup_sink_duration_seconds_bucket{le="0.001",sink="recording",result="error"} 1
ebdedup_sink_duration_seconds_bucket{le="0.0025",sink="recording",result="error"} 1
ebdedup_sink_duration_seconds_bucket{le="0.005",sink="recording",result="error"} 1
ebdedup_sink_duration_seconds_bucket{le="0.01",sink="recording",result="error"} 1
ebdedup_sink_duration_seconds_bucket{le="0.025",sink="recording",result="error"} 1
ebdedup_sink_duration_seconds_bucket{le="0.05",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="0.1",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="0.25",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="0.5",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="1",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="2.5",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="5",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="10",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="+Inf",sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_sum{sink="recording",result="error"} 0.04
ebdedup_sink_duration_seconds_count{sink="recording",result="error"} 2
ebdedup_sink_duration_seconds_bucket{le="0.0005",sink="atomic",result="duplicate"} 0
ebdedup_sink_duration_seconds_bucket{le="0.001",sink="atomic",result="duplicate"} 0
ebdedup_sink_duration_seconds_bucket{le="0.0025",sink="atomic",result="duplicate"} 0
ebdedup_sink_duration_seconds_bucket{le="0.005",sink="atomic",result="duplicate"} 0
ebdedup_sink_duration_seconds_bucket{le="0.01",sink="atomic",result="duplicate"} 0
ebdedup_sink_duration_seconds_bucket{le="0.025",sink="atomic",result="duplicate"} 0
ebdedup_sink_duration_seconds_bucket{le="0.05",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="0.1",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="0.25",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="0.5",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="1",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="2.5",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="5",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="10",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_bucket{le="+Inf",sink="atomic",result="duplicate"} 1
ebdedup_sink_duration_seconds_sum{sink="atomic",result="duplicate"} 0.03
ebdedup_sink_duration_seconds_count{sink="atomic",result="duplicate"} 1

# HELP ebdedup_sink_in_flight Sink calls running now, those past their deadline included.
# TYPE ebdedup_sink_in_flight gauge
ebdedup_sink_in_flight{sink="recording"} 0
ebdedup_sink_in_flight{sink="stuck"} 1
ebdedup_sink_in_flight{sink="atomic"} 0

# HELP ebdedup_build_info Always 1; the labels describe the configuration.
# TYPE ebdedup_build_info gauge
ebdedup_build_info{store="memory",sink="recording",auth_mode="api_key",strategy="content",tls="off"} 1
`;
