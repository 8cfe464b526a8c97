import autocannon from 'autocannon';
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
  /** Open loop at this many requests per second over all connections (default: as fast as answered). */
  overallRate?: number;
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
        ...(options.overallRate !== undefined ? { overallRate: options.overallRate } : {}),
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
