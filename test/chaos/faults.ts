import type { RedisServer } from '../helpers/redis-server.js';
import type { SupervisedReceiver } from './receiver.js';
import type { TcpProxy } from './tcp-proxy.js';

/**
 * Fault injectors that run on a schedule while the simulator delivers: each plan repeats its fault every
 * `everyMs` (a random gap in the range) until stopped, then everything is healed (Redis running and thawed,
 * receivers up). Faults on Redis take turns (one lock), so a freeze never lands on a half-restarted server.
 */

export type FaultKind = 'redis-kill' | 'redis-freeze' | 'receiver-kill' | 'proxy-drop-all';

export interface FaultPlan {
  kind: FaultKind;
  /** Gap between two faults of this plan, ms (a random value in the range). */
  everyMs: readonly [number, number];
  /** How long the fault lasts: Redis down or frozen, a receiver down before its restart, ms. */
  durationMs: readonly [number, number];
  /** Delay before the first one, ms. */
  firstAfterMs?: number;
}

export const FAULT_LABELS: Record<FaultKind, string> = {
  'redis-kill': 'Redis SIGKILL+restart',
  'redis-freeze': 'Redis SIGSTOP',
  'receiver-kill': 'receiver SIGKILL',
  'proxy-drop-all': 'proxy cut all',
};

export interface FaultTargets {
  redis: RedisServer;
  proxy?: TcpProxy | undefined;
  receivers: readonly SupervisedReceiver[];
  random: () => number;
  log?: (line: string) => void;
}

export interface FaultRun {
  /** Faults injected so far, by label. */
  readonly counts: Record<string, number>;
  /** Stops injecting, waits for the running faults, heals. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Redis stays up this long after each of its faults before the next one: outages do not chain into one
 * longer than the lease (3 s), which no lease-based claim survives while its sink still runs.
 */
const RECOVERY_GAP_MS = 600;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function startFaults(plans: readonly FaultPlan[], targets: FaultTargets): FaultRun {
  const counts: Record<string, number> = {};
  let stopped = false;
  const wakers = new Set<() => void>();
  let redisLock: Promise<void> = Promise.resolve();
  const between = ([min, max]: readonly [number, number]) => Math.round(min + targets.random() * (max - min));

  /** Sleeps `ms` unless stopped first; resolves false when stopped. */
  const pause = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (stopped) {
        resolve(false);
        return;
      }
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        wakers.delete(wake);
        resolve(!stopped);
      }, ms);
      wakers.add(wake);
    });

  const withRedis = (work: () => Promise<void>): Promise<void> => {
    const run = redisLock.then(work);
    redisLock = run.catch(() => undefined);
    return run;
  };

  const count = (kind: FaultKind) => {
    const label = FAULT_LABELS[kind];
    counts[label] = (counts[label] ?? 0) + 1;
  };

  const inject = async (plan: FaultPlan): Promise<void> => {
    const duration = between(plan.durationMs);
    switch (plan.kind) {
      case 'redis-kill':
        await withRedis(async () => {
          if (stopped) return;
          count(plan.kind);
          targets.log?.(`fault: redis SIGKILL, down ${duration} ms`);
          await targets.redis.stop('SIGKILL');
          await sleep(duration);
          await targets.redis.restart();
          await sleep(RECOVERY_GAP_MS);
        });
        return;
      case 'redis-freeze':
        await withRedis(async () => {
          if (stopped) return;
          count(plan.kind);
          targets.log?.(`fault: redis SIGSTOP for ${duration} ms`);
          targets.redis.freeze();
          await sleep(duration);
          targets.redis.thaw();
          await sleep(RECOVERY_GAP_MS);
        });
        return;
      case 'receiver-kill': {
        const live = targets.receivers.filter((receiver) => receiver.pid !== undefined);
        const victim = live[Math.floor(targets.random() * live.length)];
        if (!victim) return;
        count(plan.kind);
        targets.log?.(`fault: receiver ${victim.name} SIGKILL, down ${duration} ms`);
        await victim.kill(duration);
        return;
      }
      case 'proxy-drop-all':
        if (!targets.proxy) return;
        count(plan.kind);
        targets.log?.(`fault: proxy cut ${targets.proxy.dropAll()} connection(s)`);
        return;
    }
  };

  const loops = plans.map(async (plan) => {
    if (!(await pause(plan.firstAfterMs ?? between(plan.everyMs)))) return;
    while (!stopped) {
      await inject(plan);
      if (!(await pause(between(plan.everyMs)))) return;
    }
  });

  let stopping: Promise<void> | undefined;
  return {
    counts,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        for (const wake of [...wakers]) wake();
        await Promise.allSettled(loops);
        await redisLock;
        // Heal: whatever the last fault left behind.
        targets.redis.thaw();
        if (!targets.redis.running) await targets.redis.restart();
        await Promise.all(targets.receivers.map((receiver) => receiver.ready()));
      })();
      return stopping;
    },
  };
}
