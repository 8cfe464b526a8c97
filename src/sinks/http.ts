import { Pool } from 'undici';
import { RejectedDownstreamError } from '../core/errors.js';
import type { Sink } from './types.js';

/**
 * SINK=http: forwards the event, byte for byte as it was received, to SINK_HTTP_URL with `Idempotency-Key: <dedup key>`, so the downstream can
 * close the one gap no receiver can: a crash after the downstream's 2xx and before our completion write, after
 * which a retry forwards the event again with the same key.
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
 *
 * 2xx → processed. 408, 409, 425, 429, 5xx, a connection error or the deadline → a retryable failure (the
 * claim is released and EventBridge retries). Any other 4xx is final: 422 `rejected_downstream`, so
 * EventBridge sends the event to its dead-letter queue instead of retrying it for 24 h.
 */

/** Statuses a later attempt may change: timeouts, conflicts, too early, throttling. */
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);

export class DownstreamError extends Error {
  override readonly name = 'DownstreamError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface HttpSinkOptions {
  url: string;
  /** SINK_HTTP_HEADERS: static headers such as a downstream token. Never logged. */
  headers?: Record<string, string>;
  /** Keep-alive connections in the pool. */
  connections?: number;
}

export function createHttpSink(options: HttpSinkOptions): Sink {
  const target = new URL(options.url);
  const path = `${target.pathname}${target.search}`;
  // One keep-alive pool for the process: no TCP or TLS handshake per event.
  const pool = new Pool(target.origin, { connections: options.connections ?? 64, keepAliveTimeout: 30_000 });
  const staticHeaders = options.headers ?? {};

  return {
    name: 'http',
    async handle(_event, context) {
      let response: Awaited<ReturnType<Pool['request']>>;
      try {
        response = await pool.request({
          method: 'POST',
          path,
          headers: {
            ...staticHeaders,
            'content-type': 'application/json; charset=utf-8',
            'idempotency-key': context.key,
            ...(context.eventId ? { 'x-eventbridge-id': context.eventId } : {}),
          },
          // The bytes as received: the downstream gets exactly what EventBridge sent.
          body: context.rawBody,
          signal: context.signal,
        });
      } catch (error) {
        throw new DownstreamError(`downstream unreachable: ${(error as Error).message}`, undefined, {
          cause: error,
        });
      }
      // The body is not needed, but it must be read for the connection to go back to the pool.
      await response.body.dump();
      const status = response.statusCode;
      if (status >= 200 && status < 300) return;
      if (status >= 500 || RETRYABLE_4XX.has(status)) {
        throw new DownstreamError(`downstream answered ${status}`, status);
      }
      throw new RejectedDownstreamError(status);
    },
    async close() {
      await pool.close();
    },
  };
}
