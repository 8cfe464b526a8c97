// The chaos suite's SINK=module: the ground truth of processing. Each processing appends one JSON line to
// CHAOS_LEDGER_FILE, opened with O_APPEND (atomic appends from any number of receiver processes; a line written
// with one write(2) is in the kernel before the next statement, so it survives the process's SIGKILL), keyed by
// the event's unique body id (`detail.eventBody.id`) and carrying `context.key` (the Idempotency-Key), so
// "processed twice" and "with the same key" are measurable.
//
// Faults, read from the environment (this is user code: it may read process.env):
//   CHAOS_SINK_WORK_MS         normal processing time, uniform in [0, value] ms (default 5)
//   CHAOS_SINK_FAIL_RATE       probability the sink fails (throws) without processing
//   CHAOS_SINK_HANG_RATE       probability the sink hangs past the deadline, for CHAOS_SINK_HANG_MS=min-max ms
//   CHAOS_SINK_HANG_ABORT_RATE probability a hanging sink honours the AbortSignal (gives up, processes nothing);
//                              otherwise it finishes (processes) after the hang, long after its request's 504
//   CHAOS_SINK_DIE_RATE        probability the process SIGKILLs itself right after processing, before the
//                              receiver can record completion: the one window the receiver cannot close
//   CHAOS_SINK_DIE_EVERY       the same, deterministically: at the Nth processing of each process
//   CHAOS_SINK_DIE_MIN_UPTIME_MS  never die before the process has been up this long (a crash window, not a
//                              crash loop that no capacity can keep up with)
//   CHAOS_SINK_BLOCK_RATE      probability the sink blocks the event loop for CHAOS_SINK_BLOCK_MS (overload)
//   CHAOS_SINK_BLOCK_DUTY_MS   on-period: block only during the first `on` ms of every `period` ms, counted
//                              from the first event (overload in bursts, as traffic peaks come)
//   CHAOS_POISON_FIELD         events whose eventBody has this field set to true always fail (poison events)
// Besides `processed`, it writes `failed`, `hung`, `aborted`, `died` and `blocked` lines so injected sink faults
// are counted too.
import { openSync, writeSync } from 'node:fs';

const env = process.env;
const file = env.CHAOS_LEDGER_FILE;
if (!file) throw new Error('CHAOS_LEDGER_FILE is not set');
const fd = openSync(file, 'a');

const rate = (name) => {
  const value = Number(env[name] ?? 0);
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0;
};
const range = (name, fallback) => {
  const [min, max] = (env[name] ?? fallback).split('-').map(Number);
  return [min ?? 0, max ?? min ?? 0];
};

const workMs = Number(env.CHAOS_SINK_WORK_MS ?? 5);
const failRate = rate('CHAOS_SINK_FAIL_RATE');
const hangRate = rate('CHAOS_SINK_HANG_RATE');
const [hangMin, hangMax] = range('CHAOS_SINK_HANG_MS', '1500-2500');
const hangAbortRate = rate('CHAOS_SINK_HANG_ABORT_RATE');
const dieRate = rate('CHAOS_SINK_DIE_RATE');
const dieEvery = Number(env.CHAOS_SINK_DIE_EVERY ?? 0);
let processed = 0;
const dieMinUptimeMs = Number(env.CHAOS_SINK_DIE_MIN_UPTIME_MS ?? 0);
const blockRate = rate('CHAOS_SINK_BLOCK_RATE');
const [blockMin, blockMax] = range('CHAOS_SINK_BLOCK_MS', '200-400');
const [blockOn, blockPeriod] = range('CHAOS_SINK_BLOCK_DUTY_MS', '1-1');
const poisonField = env.CHAOS_POISON_FIELD;
let firstEventAt;

function write(type, event, context, extra = {}) {
  const uid = event?.detail?.eventBody?.id ?? null;
  const line = JSON.stringify({
    type,
    uid,
    key: context.key,
    eventId: context.eventId ?? null,
    pid: process.pid,
    at: Date.now(),
    ...extra,
  });
  writeSync(fd, `${line}\n`);
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

const between = (min, max) => min + Math.random() * (max - min);

export async function handle(event, context) {
  if (poisonField && event?.detail?.eventBody?.[poisonField] === true) {
    write('failed', event, context, { poison: true });
    throw new Error('chaos: poison event');
  }
  firstEventAt ??= Date.now();
  const overloaded = (Date.now() - firstEventAt) % blockPeriod < blockOn;
  if (overloaded && blockRate > 0 && Math.random() < blockRate) {
    const until = Date.now() + between(blockMin, blockMax);
    write('blocked', event, context);
    while (Date.now() < until) {
      // a busy loop: the event loop is stuck, as under CPU overload
    }
  }
  if (workMs > 0) await sleep(Math.random() * workMs);
  if (failRate > 0 && Math.random() < failRate) {
    write('failed', event, context);
    throw new Error('chaos: the sink failed');
  }
  if (hangRate > 0 && Math.random() < hangRate) {
    const honoursAbort = Math.random() < hangAbortRate;
    write('hung', event, context, { honoursAbort });
    await sleep(between(hangMin, hangMax), honoursAbort ? context.signal : undefined);
    if (honoursAbort && context.signal.aborted) {
      write('aborted', event, context);
      throw new Error('chaos: gave up at the deadline');
    }
  }
  write('processed', event, context);
  processed += 1;
  const mayDie = process.uptime() * 1000 >= dieMinUptimeMs;
  if (mayDie && ((dieRate > 0 && Math.random() < dieRate) || (dieEvery > 0 && processed >= dieEvery))) {
    write('died', event, context);
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL is delivered at once; never resolve, in case it is not.
    await new Promise(() => {});
  }
}
