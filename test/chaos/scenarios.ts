import type { FaultPlan } from './faults.js';
import type { ScenarioSpec, Size, SizeName } from './harness.js';

/**
 * The chaos scenarios: each fault on its own, then all together, for the module sink (ground truth: the
 * ledger file) and the redis-stream sink (ground truth: the stream). The same plans run at both sizes; the
 * full size only publishes for longer, so more faults land.
 */

const SIZES: Record<SizeName, Size> = {
  short: { events: 100, ratePerSecond: 40, maxAgeMs: 30_000 },
  full: { events: 1500, ratePerSecond: 60, maxAgeMs: 60_000 },
};

const REDIS_KILL: FaultPlan = {
  kind: 'redis-kill',
  everyMs: [1200, 2200],
  durationMs: [200, 800],
  firstAfterMs: 600,
};
const REDIS_FREEZE: FaultPlan = {
  kind: 'redis-freeze',
  everyMs: [1000, 2000],
  durationMs: [600, 1500],
  firstAfterMs: 500,
};
const RECEIVER_KILL: FaultPlan = {
  kind: 'receiver-kill',
  everyMs: [1000, 2000],
  durationMs: [100, 400],
  firstAfterMs: 700,
};
const PROXY_CUT: FaultPlan = {
  kind: 'proxy-drop-all',
  everyMs: [800, 1600],
  durationMs: [0, 0],
  firstAfterMs: 400,
};
const LOSSY_NETWORK = { latencyMs: 3, jitterMs: 25, dropRate: 0.003 };

export const SCENARIOS: readonly ScenarioSpec[] = [
  {
    name: 'baseline',
    title: 'no fault: only at-least-once delivery (late duplicates, concurrent doubles, re-publications)',
    sink: 'module',
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'redis-kill',
    title: 'Redis SIGKILLed and restarted (append-only, appendfsync always)',
    sink: 'module',
    faults: [REDIS_KILL],
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'redis-freeze',
    title: 'Redis frozen (SIGSTOP) longer than REDIS_COMMAND_TIMEOUT_MS, then thawed',
    sink: 'module',
    faults: [REDIS_FREEZE],
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'receiver-kill',
    title: 'the receiver SIGKILLed mid-load and restarted on the same port',
    sink: 'module',
    faults: [RECEIVER_KILL],
    doubles: 'crash-window',
    sizes: SIZES,
  },
  {
    name: 'two-receivers',
    title: 'two receiver processes on one Redis, each attempt to a random one',
    sink: 'module',
    receivers: 2,
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'sink-fail',
    title: 'the sink fails at random (20 %)',
    sink: 'module',
    sinkEnv: { CHAOS_SINK_FAIL_RATE: '0.2' },
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'sink-hang',
    title:
      'the sink hangs past SINK_TIMEOUT_MS (15 %, 2–4.5 s, often past the 3 s lease; 30 % give up at the abort signal)',
    sink: 'module',
    sinkEnv: {
      CHAOS_SINK_HANG_RATE: '0.15',
      CHAOS_SINK_HANG_MS: '2000-4500',
      CHAOS_SINK_HANG_ABORT_RATE: '0.3',
    },
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'sink-die',
    title:
      'the module sink SIGKILLs its process after success, before completion (20th processing, 2 s uptime at least)',
    sink: 'module',
    sinkEnv: { CHAOS_SINK_DIE_EVERY: '20', CHAOS_SINK_DIE_MIN_UPTIME_MS: '2000' },
    doubles: 'crash-window',
    sizes: SIZES,
  },
  {
    name: 'slow-network',
    title: 'receiver ↔ Redis through a proxy: 3–28 ms each way, connections cut at random',
    sink: 'module',
    proxy: LOSSY_NETWORK,
    faults: [PROXY_CUT],
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'all-together',
    title:
      'two receivers behind the lossy proxy; Redis killed and frozen, receivers killed, sink failing, hanging, dying',
    sink: 'module',
    receivers: 2,
    proxy: LOSSY_NETWORK,
    sinkEnv: {
      CHAOS_SINK_FAIL_RATE: '0.1',
      CHAOS_SINK_HANG_RATE: '0.05',
      CHAOS_SINK_HANG_MS: '1200-4000',
      CHAOS_SINK_HANG_ABORT_RATE: '0.5',
      CHAOS_SINK_DIE_RATE: '0.01',
      CHAOS_SINK_DIE_MIN_UPTIME_MS: '2000',
    },
    faults: [REDIS_KILL, REDIS_FREEZE, RECEIVER_KILL, PROXY_CUT],
    doubles: 'crash-window',
    sizes: SIZES,
  },
  {
    name: 'stream-redis-kill',
    title: 'redis-stream sink; Redis SIGKILLed and restarted',
    sink: 'redis-stream',
    faults: [REDIS_KILL],
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'stream-redis-freeze',
    title: 'redis-stream sink; Redis frozen and thawed',
    sink: 'redis-stream',
    faults: [REDIS_FREEZE],
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'stream-receiver-kill',
    title: 'redis-stream sink; two receivers, killed at random',
    sink: 'redis-stream',
    receivers: 2,
    faults: [RECEIVER_KILL],
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'stream-all-together',
    title:
      'redis-stream sink; two receivers behind the lossy proxy, Redis killed and frozen, receivers killed',
    sink: 'redis-stream',
    receivers: 2,
    proxy: LOSSY_NETWORK,
    faults: [REDIS_KILL, REDIS_FREEZE, RECEIVER_KILL, PROXY_CUT],
    doubles: 'none',
    sizes: SIZES,
  },
  {
    name: 'load-shedding',
    title:
      'overload in bursts: the sink hogs the CPU 2.5 s in every 6 s (503 overloaded + Retry-After), nothing lost',
    sink: 'module',
    sinkEnv: {
      CHAOS_SINK_BLOCK_RATE: '0.4',
      CHAOS_SINK_BLOCK_MS: '60-140',
      CHAOS_SINK_BLOCK_DUTY_MS: '2500-6000',
    },
    receiverEnv: { SHED_MAX_EVENT_LOOP_DELAY_MS: '50' },
    doubles: 'none',
    requires: 'shedding',
    sizes: SIZES,
  },
  {
    name: 'poison',
    title: 'every 25th event always fails in the sink: 422 poison_event after MAX_ATTEMPTS, to the DLQ',
    sink: 'module',
    receiverEnv: { MAX_ATTEMPTS: '5' },
    poison: { every: 25, status: 422 },
    doubles: 'none',
    requires: 'poison',
    sizes: SIZES,
  },
];

export function scenario(name: string): ScenarioSpec {
  const found = SCENARIOS.find((spec) => spec.name === name);
  if (!found) throw new Error(`no chaos scenario '${name}'`);
  return found;
}
