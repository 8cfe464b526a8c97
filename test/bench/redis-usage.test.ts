import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRedisCounters, readRedisCounters, redisUsage } from '../../bench/lib/redis-usage.js';
import { RedisServer } from '../helpers/redis-server.js';

describe('bench Redis usage', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis.close();
  });

  it('reads CPU seconds and per-command calls from INFO cpu and commandstats', () => {
    // Arrange: the shape of Redis 7.0's replies.
    const text = [
      '# CPU',
      'used_cpu_sys:1.250000',
      'used_cpu_user:0.750500',
      '',
      '# Commandstats',
      'cmdstat_evalsha:calls=10,usec=300,usec_per_call=30.00,rejected_calls=0,failed_calls=0',
      'cmdstat_HGET:calls=250,usec=500,usec_per_call=2.00,rejected_calls=0,failed_calls=0',
    ].join('\r\n');

    // Act
    const counters = parseRedisCounters(text);

    // Assert
    expect(counters.cpuMs).toBeCloseTo(2000.5);
    expect(counters.calls).toEqual({ evalsha: 10, hget: 250 });
  });

  it("counts a load's commands per request, script calls apart, without the bench's own INFO reads", async () => {
    // Arrange
    const client = redis.client();
    const script = "redis.call('SET', KEYS[1], '1'); return redis.call('GET', KEYS[1])";
    await client.eval(script, 1, 'warm');
    const before = await readRedisCounters(client);

    // Act: 20 requests of one script (two commands inside) and one SET NX each.
    for (let i = 0; i < 20; i++) {
      await client.eval(script, 1, `key:${i}`);
      await client.set(`other:${i}`, '1', 'NX');
    }
    const usage = redisUsage(before, await readRedisCounters(client), 20);

    // Assert: Redis 7 counts the commands a script runs under their own names too; the script calls apart.
    expect(usage.calls).toEqual({ eval: 20, set: 40, get: 20 });
    expect(usage.commandsPerRequest).toBe(3);
    expect(usage.scriptCallsPerRequest).toBe(1);
    expect(usage.cpuMs).toBeGreaterThanOrEqual(0);
  });

  it('gives NaN per request, not Infinity, when nothing was answered', () => {
    const counters = { cpuMs: 10, calls: {} };
    expect(redisUsage(counters, { cpuMs: 12, calls: {} }, 0)).toMatchObject({
      cpuMs: 2,
      cpuUsPerRequest: Number.NaN,
      commandsPerRequest: Number.NaN,
    });
  });
});
