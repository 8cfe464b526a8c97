import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/server-process.js';

/** docker-compose.yml and .env.example: what `docker compose up` and a copied .env start the receiver with. */

type Service = { environment?: Record<string, string>; stop_grace_period?: string };
const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};

/** A Compose duration (`1m30s`, `15s`, `500ms`) in milliseconds. */
function durationMs(value: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g)];
  expect(parts.map((part) => part[0]).join(''), `duration ${value}`).toBe(value);
  return parts.reduce(
    (sum, [, amount, unit]) => sum + Number(amount) * (units[unit as string] ?? Number.NaN),
    0,
  );
}

describe('docker-compose.yml', () => {
  it('gives the receiver longer than its SIGTERM drain before Docker sends SIGKILL', () => {
    const receiver = compose.services.receiver as Service;
    const drain = receiver.environment?.SHUTDOWN_TIMEOUT_MS;
    const drainMs = envSchema.shape.SHUTDOWN_TIMEOUT_MS.parse(drain);

    // A fixed number, not ${…}: a drain raised from .env alone could pass the grace period unnoticed.
    expect(drain).toMatch(/^\d+$/);
    expect(
      receiver.stop_grace_period,
      'stop_grace_period (Docker’s default, 10 s, is the drain itself)',
    ).toBeDefined();
    expect(durationMs(String(receiver.stop_grace_period))).toBeGreaterThan(drainMs);
  });
});

describe('.env.example', () => {
  it('lists every variable the receiver reads, and only those', () => {
    const listed = [
      ...readFileSync(join(REPO_ROOT, '.env.example'), 'utf8').matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm),
    ].map((match) => match[1]);

    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(Object.keys(envSchema.shape).sort());
  });
});
