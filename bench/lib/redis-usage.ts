import type { Redis } from 'ioredis';
import type { RedisUsage } from './report.js';

/**
 * Redis's own accounting of a scenario, read from the server under test's redis-server before and after the
 * load: `INFO cpu` (used_cpu_sys + used_cpu_user, µs resolution, the whole process) and `INFO commandstats`
 * (calls per command). Redis 7 counts the commands a Lua script runs under their own names as well as the
 * EVALSHA, and times them in both: so the commands are counted without the script calls, which are counted
 * apart, and commandstats' `usec` is not summed (it would count a script's commands twice).
 * https://redis.io/docs/latest/commands/info/
 */

export interface RedisCounters {
  /** used_cpu_sys + used_cpu_user, in ms. */
  cpuMs: number;
  /** Calls per command (lower-case name, e.g. `evalsha`, `set`, `hget`). */
  calls: Record<string, number>;
}

/** Commands that run scripts: what the receiver sends per round trip. */
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** The bench's own reads of the counters, left out of the scenario's. */
const OWN_COMMANDS = new Set(['info']);

/** `key:value` lines of an INFO reply. */
export function parseInfo(text: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) entries[line.slice(0, at)] = line.slice(at + 1);
  }
  return entries;
}

/** The counters in the text of `INFO cpu` and `INFO commandstats` (one reply or both concatenated). */
export function parseRedisCounters(infoText: string): RedisCounters {
  const info = parseInfo(infoText);
  const calls: Record<string, number> = {};
  for (const [name, value] of Object.entries(info)) {
    const count = /(?:^|,)calls=(\d+)/.exec(value)?.[1];
    if (name.startsWith('cmdstat_') && count !== undefined) {
      calls[name.slice('cmdstat_'.length).toLowerCase()] = Number(count);
    }
  }
  const cpuS = Number(info.used_cpu_sys) + Number(info.used_cpu_user);
  return { cpuMs: cpuS * 1000, calls };
}

export async function readRedisCounters(client: Redis): Promise<RedisCounters> {
  const [cpu, commandstats] = [await client.info('cpu'), await client.info('commandstats')];
  return parseRedisCounters(`${cpu}\r\n${commandstats}`);
}

/** What `responses` requests cost Redis between two readings of its counters. */
export function redisUsage(before: RedisCounters, after: RedisCounters, responses: number): RedisUsage {
  const perRequest = (value: number) => (responses > 0 ? value / responses : Number.NaN);
  const calls: Record<string, number> = {};
  let commands = 0;
  let scriptCalls = 0;
  for (const [name, count] of Object.entries(after.calls)) {
    const delta = count - (before.calls[name] ?? 0);
    if (delta <= 0 || OWN_COMMANDS.has(name)) continue;
    calls[name] = delta;
    if (SCRIPT_COMMANDS.has(name)) scriptCalls += delta;
    else commands += delta;
  }
  const cpuMs = after.cpuMs - before.cpuMs;
  return {
    cpuMs,
    cpuUsPerRequest: perRequest(cpuMs * 1000),
    commandsPerRequest: perRequest(commands),
    scriptCallsPerRequest: perRequest(scriptCalls),
    calls,
  };
}
