import autocannon from 'autocannon';
import { Pool } from 'undici';
import { type LatencySummary, SampleBuffer, summariseLatencies } from './stats.js';

/** One load run with autocannon: fixed connections, a body per request from `nextBody`, our own latencies. */

export interface LoadOptions {
  url: string;
  path: string;
  apiKey?: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS?: number;
  /** Exactly this many requests, then stop. */
  amount?: number;
  nextBody: () => string;
}

export interface LoadResult {
  durationS: number;
  requests: number;
  ok: number;
  rps: number;
  latency: LatencySummary;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** CPU used by this (load generator) process over the run, % of one core. */
  loadgenCpuPct: number;
}

export const EVENTBRIDGE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'user-agent': 'Amazon/EventBridge/ApiDestinations',
} as const;

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const headers: Record<string, string> = { ...EVENTBRIDGE_HEADERS };
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  const latencies = new SampleBuffer(1 << 17);
  const statusCodes: Record<string, number> = {};
  let ok = 0;
  const cpuBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        ...(options.amount !== undefined
          ? { amount: options.amount }
          : { duration: options.durationS ?? 10 }),
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: options.path,
            headers,
            setupRequest: (request) => {
              request.body = options.nextBody();
              return request;
            },
          },
        ],
      },
      (error: unknown, result: autocannon.Result) => {
        if (error) {
          reject(error);
          return;
        }
        const wallMs = Number(process.hrtime.bigint() - wallBefore) / 1e6;
        const cpu = process.cpuUsage(cpuBefore);
        const requests = latencies.length;
        resolve({
          durationS: result.duration,
          requests,
          ok,
          rps: result.duration > 0 ? ok / result.duration : Number.NaN,
          latency: summariseLatencies(latencies.values()),
          non2xx: requests - ok,
          statusCodes,
          errors: result.errors - result.timeouts,
          timeouts: result.timeouts,
          loadgenCpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      latencies.push(responseTime);
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) ok++;
    });
  });
}

export interface PacedOptions {
  url: string;
  path: string;
  apiKey?: string;
  /** Requests per second, sent evenly (open loop: a slow answer does not delay the next request). */
  rate: number;
  durationS: number;
  /** Upper bound of concurrent connections. */
  connections: number;
  nextBody: () => string;
}

export interface PacedResult {
  rate: number;
  sent: number;
  ok: number;
  rps: number;
  latency: LatencySummary;
  non2xx: number;
  errors: number;
}

/**
 * Latency at a fixed request rate, paced evenly (a few requests per millisecond, open loop: a request is
 * issued when due whatever the earlier ones are doing, so a stall shows up in the latency of everything
 * queued behind it). Timed from the moment the request is issued, not from its due time, so the 1 ms timer
 * granularity of the pacing is not counted. autocannon's own rate option cannot do this: it sends each
 * connection's quota for a second back to back at the start of the second, which is saturation in bursts.
 */
export async function runPaced(options: PacedOptions): Promise<PacedResult> {
  const headers: Record<string, string> = { ...EVENTBRIDGE_HEADERS };
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1 });
  const latencies = new SampleBuffer(Math.ceil(options.rate * options.durationS) + 16);
  const total = Math.floor(options.rate * options.durationS);
  let sent = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  const send = () => {
    const issuedAt = performance.now();
    const request = pool
      .request({ method: 'POST', path: options.path, headers, body: options.nextBody() })
      .then(async (response) => {
        await response.body.dump();
        latencies.push(performance.now() - issuedAt);
        if (response.statusCode >= 200 && response.statusCode < 300) ok++;
        else non2xx++;
      })
      .catch(() => {
        errors++;
      });
    pending.add(request);
    void request.finally(() => pending.delete(request));
  };
  while (sent < total) {
    const elapsedS = (performance.now() - started) / 1000;
    const due = Math.min(total, Math.floor(elapsedS * options.rate));
    for (; sent < due; sent++) send();
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all([...pending]);
  const wallS = (performance.now() - started) / 1000;
  await pool.close();
  return {
    rate: options.rate,
    sent,
    ok,
    rps: ok / wallS,
    latency: summariseLatencies(latencies.values()),
    non2xx,
    errors,
  };
}
