import type { Redis } from 'ioredis';
import type { RedisUsage } from './report.js';

/**
 * Redis's own accounting of a scenario, read from the server under test's redis-server before and after the
 * load: `INFO cpu` (used_cpu_sys + used_cpu_user, µs resolution, the whole process) and `INFO commandstats`
 * (calls per command; Redis 7 counts the commands a Lua script runs under their own names as well as the
 * EVALSHA). https://redis.io/docs/latest/commands/info/
 */

export interface RedisCounters {
  /** used_cpu_sys + used_cpu_user, in ms. */
  cpuMs: number;
  /** Per command (lower-case name, e.g. `evalsha`, `set`, `hget`): calls, and µs spent inside it. */
  commands: Record<string, { calls: number; usec: number }>;
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
  const commands: RedisCounters['commands'] = {};
  for (const [name, value] of Object.entries(info)) {
    if (!name.startsWith('cmdstat_')) continue;
    const fields = Object.fromEntries(value.split(',').map((pair) => pair.split('=') as [string, string]));
    commands[name.slice('cmdstat_'.length).toLowerCase()] = {
      calls: Number(fields.calls ?? 0),
      usec: Number(fields.usec ?? 0),
    };
  }
  const cpuS = Number(info.used_cpu_sys) + Number(info.used_cpu_user);
  return { cpuMs: cpuS * 1000, commands };
}

export async function readRedisCounters(client: Redis): Promise<RedisCounters> {
  const [cpu, commandstats] = [await client.info('cpu'), await client.info('commandstats')];
  return parseRedisCounters(`${cpu}\r\n${commandstats}`);
}

/** What `responses` requests cost Redis between two readings of its counters. */
export function redisUsage(before: RedisCounters, after: RedisCounters, responses: number): RedisUsage {
  const perRequest = (value: number) => (responses > 0 ? value / responses : Number.NaN);
  const calls: Record<string, number> = {};
  let totalCalls = 0;
  let scriptCalls = 0;
  let commandUsec = 0;
  for (const [name, counts] of Object.entries(after.commands)) {
    const delta = counts.calls - (before.commands[name]?.calls ?? 0);
    if (delta <= 0 || OWN_COMMANDS.has(name)) continue;
    calls[name] = delta;
    totalCalls += delta;
    commandUsec += counts.usec - (before.commands[name]?.usec ?? 0);
    if (SCRIPT_COMMANDS.has(name)) scriptCalls += delta;
  }
  const cpuMs = after.cpuMs - before.cpuMs;
  return {
    cpuMs,
    cpuUsPerRequest: perRequest(cpuMs * 1000),
    callsPerRequest: perRequest(totalCalls),
    scriptCallsPerRequest: perRequest(scriptCalls),
    commandUsPerRequest: perRequest(commandUsec),
    calls,
  };
}
