import { describe, expect, it } from 'vitest';
import { JSON_HEADERS, testApp } from '../helpers/app.js';
import { sampleValue } from '../helpers/metrics.js';
import { sleep } from '../helpers/ports.js';
import { uniqueEvent } from '../helpers/samples.js';
import { RecordingSink } from '../helpers/sinks.js';

/** Keeps the event loop busy, as a CPU-bound burst would. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

describe('load shedding', () => {
  it('answers 503 overloaded with Retry-After while the event loop lags, keeps health up, and recovers', async () => {
    // Arrange
    const sink = new RecordingSink();
    const { app } = await testApp({
      sink,
      env: { SHED_MAX_EVENT_LOOP_DELAY_MS: '20' },
      pressureSampleIntervalMs: 20,
    });
    const post = () =>
      app.inject({
        method: 'POST',
        url: '/events',
        headers: JSON_HEADERS,
        payload: JSON.stringify(uniqueEvent()),
      });
    const calm = await post();

    // Act
    // A sustained burst of CPU-bound work: the loop is blocked 100 ms at a time.
    const hog = setInterval(() => blockEventLoop(100), 1);
    await sleep(400);
    const shed = await post();
    const shedUnauthenticated = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { ...JSON_HEADERS, 'x-api-key': 'not-the-key' },
      payload: JSON.stringify(uniqueEvent()),
    });
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    clearInterval(hog);
    // Recovery is the next sample without lag; on a busy machine (other tests' workers) a sample may still lag
    // past 20 ms, so this waits for it, up to 3 s, counting the deliveries shed meanwhile.
    await sleep(300);
    let recovered = await post();
    let shedWhileRecovering = 0;
    for (let attempt = 0; attempt < 30 && recovered.statusCode === 503; attempt++) {
      shedWhileRecovering += 1;
      await sleep(100);
      recovered = await post();
    }
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });

    // Assert
    expect(calm.statusCode).toBe(200);
    expect(shed.statusCode).toBe(503);
    expect(shed.json()).toEqual({ error: 'overloaded' });
    expect(shed.headers['retry-after']).toBe('2');
    expect(shed.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
    // Shedding comes before authentication: under overload not even the credentials are checked.
    expect(shedUnauthenticated.statusCode).toBe(503);
    expect(health.statusCode).toBe(200);
    expect(recovered.statusCode).toBe(200);
    expect(sink.handled).toHaveLength(2);
    // Shed, and still counted as a delivery.
    expect(
      sampleValue(metrics.body, 'ebdedup_requests_total', { outcome: 'overloaded', status_code: '503' }),
    ).toBe(2 + shedWhileRecovering);
  });
});
