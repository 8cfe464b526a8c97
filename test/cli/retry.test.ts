import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retryDelay,
} from '../../src/cli/retry.js';

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 30_000 };

describe('isRetryableStatus', () => {
  it.each([401, 407, 409, 429, 500, 502, 503, 504])('retries %i, as EventBridge does', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });

  it.each([200, 204, 301, 400, 403, 404, 413, 415, 422])('treats %i as final', (status) => {
    expect(isRetryableStatus(status)).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T10:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
  });

  it('reads an HTTP date as the time left until it (never negative)', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 01 May 2024 09:59:00 GMT', now)).toBe(0);
  });

  it('ignores an absent or unreadable value', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
  });
});

describe('backoff with full jitter', () => {
  it('draws from a window that doubles each attempt', () => {
    const top = () => 0.999999;
    expect(backoffDelay(1, policy, top)).toBe(99);
    expect(backoffDelay(2, policy, top)).toBe(199);
    expect(backoffDelay(3, policy, top)).toBe(399);
  });

  it('caps the window at maxDelayMs and can be zero', () => {
    expect(backoffDelay(20, policy, () => 0.999999)).toBe(999);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });

  it("honours the server's Retry-After instead of backoff, capped", () => {
    expect(retryDelay(1, 2500, policy, () => 0)).toBe(2500);
    expect(retryDelay(1, 10_000_000, policy, () => 0)).toBe(30_000);
    expect(retryDelay(2, undefined, policy, () => 0.5)).toBe(100);
  });

  it('defaults to 5 attempts', () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBe(5);
  });
});
