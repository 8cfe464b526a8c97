/**
 * Retry rules shared by `replay` and `put-events`: which answers are retried, and how long to wait.
 *
 * An API destination retries 401, 407, 409, 429 and 5xx answers, time-outs and connection errors; every other
 * answer is final (a 4xx goes to the dead-letter queue). The wait is exponential backoff with full jitter
 * (a uniform random delay between 0 and min(max, base·2^(attempt−1))), or the server's `Retry-After` when it sends one.
 */

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Backoff before the second attempt is drawn from [0, baseDelayMs). */
  baseDelayMs: number;
  /** Cap of the backoff window. */
  maxDelayMs: number;
  /** Cap of a server's Retry-After, so a bogus value cannot stall a run for hours. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 120_000,
};

/** The HTTP statuses EventBridge API destinations retry. */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 401 || status === 407 || status === 409 || status === 429 || (status >= 500 && status <= 599)
  );
}

/**
 * A `Retry-After` header value in milliseconds: delay-seconds (`120`) or an HTTP date (never negative).
 * Undefined when absent or unparsable.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date names its weekday and month; anything else (like "-1") is not one.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Full-jitter exponential backoff before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * window);
}

/** The wait before the next attempt: the server's Retry-After (capped) when given, else backoff. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  policy: RetryPolicy,
  random: () => number,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  return backoffDelay(attempt, policy, random);
}
