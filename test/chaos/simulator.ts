import { Agent, request } from 'undici';
import { seededRandom } from '../helpers/seeded-random.js';

/**
 * A simulated EventBridge API destination: it delivers events the way EventBridge does, so the receiver can be
 * judged under the deliveries it will really get.
 *
 * - At least once. Each attempt has a client timeout (EventBridge: 5 s), after which it is aborted and retried.
 * - 401, 407, 409, 429, 5xx, time-outs and connection errors are retried with exponential backoff and full
 *   jitter (scaled down: base ~30 ms, cap ~1 s), or after the answer's `Retry-After` when it sends one, until
 *   the attempt limit (185) or the age limit (24 h in AWS, seconds here) → the simulated dead-letter queue,
 *   with the reason. Any other status (400, 413, 415, 422, …) goes to the dead-letter queue at once.
 * - What production adds on top: the same event delivered again after it succeeded (a late duplicate), two
 *   deliveries of one event in flight at once, and an upstream re-publication of the notification under a
 *   new EventBridge `id` (and new time, CorrelationId, timestamp).
 *
 * Every attempt is recorded: event, delivery, attempt number, target, status or error, latency. No test
 * framework here: the chaos suite and the benchmark both use it. Randomness comes from a seeded generator
 * so a run can be repeated.
 */

export type DeliveryKind = 'original' | 'concurrent' | 'late-duplicate' | 'republished';

export interface AttemptRecord {
  delivery: number;
  uid: string;
  kind: DeliveryKind;
  /** 1 for the first attempt of a delivery. */
  attempt: number;
  target: string;
  /** ms since the simulator was created. */
  startedAt: number;
  latencyMs: number;
  /** The HTTP status; undefined when the attempt got no answer (`error` says why). */
  status: number | undefined;
  /** `timeout`, or a connection error's code (`ECONNREFUSED`, `UND_ERR_SOCKET`, …). */
  error?: string;
  /** The answer's `status` or `error` field (`processed`, `duplicate`, `in_progress`, …). */
  outcome?: string;
  retryAfterMs?: number;
}

export type DeadLetterReason = 'final-status' | 'max-attempts' | 'max-age' | 'cancelled';

export interface DeliveryRecord {
  delivery: number;
  uid: string;
  kind: DeliveryKind;
  eventId: string;
  attempts: number;
  startedAt: number;
  endedAt: number;
  /** acknowledged: a 2xx. dead-letter: EventBridge gave up (see `reason`). */
  result: 'acknowledged' | 'dead-letter';
  /** The last attempt's status, when it got one. */
  status: number | undefined;
  outcome: string | undefined;
  reason?: DeadLetterReason;
  /** The last attempt's error (`timeout`, `ECONNREFUSED`, …). */
  error?: string;
}

export type SimEvent = Record<string, unknown>;

export interface SimulatorOptions {
  /** URLs of the receivers' events route; each attempt picks one (`targetChoice`). */
  targets: readonly string[];
  targetChoice?: 'round-robin' | 'random';
  /** Auth and any other headers of the connection. */
  headers?: Record<string, string>;
  /** Client timeout per attempt (EventBridge: 5000). */
  timeoutMs?: number;
  /** Attempts per delivery, the first included (EventBridge: 185). */
  maxAttempts?: number;
  /** Age after which an event is not retried any more (EventBridge: 24 h). */
  maxAgeMs?: number;
  /** Backoff window before the second attempt; doubles per attempt up to `maxDelayMs` (full jitter). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Cap of an honoured `Retry-After`. */
  maxRetryAfterMs?: number;
  /** Attempts in flight at once, over all deliveries (an API destination's invocation rate, roughly). */
  concurrency?: number;
  /** Probability that an acknowledged event is delivered once more, after `lateDuplicateDelayMs`. */
  lateDuplicateRate?: number;
  lateDuplicateDelayMs?: readonly [number, number];
  /** Probability that an event's first delivery goes out twice at once. */
  concurrentRate?: number;
  /** Probability that the notification is re-published under a new id, after `republishDelayMs`. */
  republishRate?: number;
  republishDelayMs?: readonly [number, number];
  /** The notification's identity in the ground truth (the Genesys event body's id). */
  uidOf: (event: SimEvent) => string;
  /** The same notification published again (new id, time, CorrelationId, timestamp). */
  republish?: (event: SimEvent) => SimEvent;
  seed?: number;
  /** Called after every attempt (progress, live assertions). */
  onAttempt?: (attempt: AttemptRecord) => void;
}

/** The statuses an API destination retries. */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 401 || status === 407 || status === 409 || status === 429 || (status >= 500 && status <= 599)
  );
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs = Date.now(),
): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  if (!/[A-Za-z]/.test(raw)) return undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A counting semaphore for attempts in flight. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

export class EventBridgeSimulator {
  readonly attempts: AttemptRecord[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  private readonly options: Required<Omit<SimulatorOptions, 'onAttempt' | 'republish' | 'headers' | 'seed'>> &
    Pick<SimulatorOptions, 'onAttempt' | 'republish'>;
  private readonly headers: Record<string, string>;
  private readonly random: () => number;
  private readonly agent: Agent;
  private readonly slots: Slots;
  private readonly pending = new Set<Promise<unknown>>();
  /** Epoch ms of the records' time 0. */
  readonly epochMs = Date.now();
  private nextDelivery = 1;
  private nextTarget = 0;
  private cancelled = false;
  private readonly cancellers = new Set<() => void>();

  constructor(options: SimulatorOptions) {
    if (options.targets.length === 0) throw new Error('the simulator needs at least one target');
    this.options = {
      targets: options.targets,
      targetChoice: options.targetChoice ?? 'round-robin',
      timeoutMs: options.timeoutMs ?? 5000,
      maxAttempts: options.maxAttempts ?? 185,
      maxAgeMs: options.maxAgeMs ?? 86_400_000,
      baseDelayMs: options.baseDelayMs ?? 30,
      maxDelayMs: options.maxDelayMs ?? 1000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 120_000,
      concurrency: options.concurrency ?? 32,
      lateDuplicateRate: options.lateDuplicateRate ?? 0,
      lateDuplicateDelayMs: options.lateDuplicateDelayMs ?? [100, 1500],
      concurrentRate: options.concurrentRate ?? 0,
      republishRate: options.republishRate ?? 0,
      republishDelayMs: options.republishDelayMs ?? [0, 1500],
      uidOf: options.uidOf,
      onAttempt: options.onAttempt,
      republish: options.republish,
    };
    this.headers = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Amazon/EventBridge/ApiDestinations',
      ...(options.headers ?? {}),
    };
    this.random = seededRandom(options.seed ?? 1);
    this.slots = new Slots(this.options.concurrency);
    this.agent = new Agent({ connections: this.options.concurrency, keepAliveTimeout: 4000, pipelining: 1 });
  }

  /** ms since the simulator was created: the time axis of the records. */
  now(): number {
    return Date.now() - this.epochMs;
  }

  /**
   * Publishes one event: its delivery, plus (at the configured rates) a concurrent second delivery, a late
   * duplicate after success, and a re-publication under a new id.
   */
  publish(event: SimEvent): void {
    this.track(this.deliver(event, 'original'));
    if (this.random() < this.options.concurrentRate) this.track(this.deliver(event, 'concurrent'));
    const { republish } = this.options;
    if (republish && this.random() < this.options.republishRate) {
      const delay = this.between(this.options.republishDelayMs);
      this.track(this.later(delay, () => this.deliver(republish(event), 'republished')));
    }
  }

  /**
   * Publishes `events` at `ratePerSecond` (evenly spaced), then waits until every delivery, retry and extra
   * has ended. `onPublished` runs once the last event is published (faults can stop there).
   */
  async run(events: readonly SimEvent[], ratePerSecond: number, onPublished?: () => void): Promise<void> {
    const gapMs = 1000 / ratePerSecond;
    const started = Date.now();
    for (let index = 0; index < events.length && !this.cancelled; index += 1) {
      const due = started + index * gapMs;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      this.publish(events[index] as SimEvent);
    }
    onPublished?.();
    await this.drain();
  }

  /** Resolves when nothing is in flight or scheduled any more. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Gives up on everything still pending (a safety bound for a run): each such delivery ends in the
   * dead-letter queue with reason `cancelled`.
   */
  cancel(): void {
    this.cancelled = true;
    for (const cancel of this.cancellers) cancel();
  }

  get deadLetters(): DeliveryRecord[] {
    return this.deliveries.filter((delivery) => delivery.result === 'dead-letter');
  }

  async close(): Promise<void> {
    this.cancel();
    await this.drain();
    await this.agent.close();
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch(() => undefined);
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private between([min, max]: readonly [number, number]): number {
    return Math.round(min + this.random() * (max - min));
  }

  /** Runs `work` after `ms`, unless cancelled first. */
  private async later(ms: number, work: () => Promise<unknown>): Promise<void> {
    const proceed = await this.cancellableSleep(ms);
    if (proceed) await work();
  }

  /** Sleeps; resolves false when cancelled meanwhile. */
  private cancellableSleep(ms: number): Promise<boolean> {
    if (this.cancelled) return Promise.resolve(false);
    return new Promise((resolve) => {
      const cancel = () => {
        clearTimeout(timer);
        this.cancellers.delete(cancel);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.cancellers.delete(cancel);
        resolve(true);
      }, ms);
      this.cancellers.add(cancel);
    });
  }

  private pickTarget(): string {
    const { targets } = this.options;
    if (this.options.targetChoice === 'random') {
      return targets[Math.floor(this.random() * targets.length)] as string;
    }
    const target = targets[this.nextTarget % targets.length] as string;
    this.nextTarget += 1;
    return target;
  }

  /** One delivery: attempts until a 2xx, a final status, or a limit. */
  private async deliver(event: SimEvent, kind: DeliveryKind): Promise<void> {
    const delivery = this.nextDelivery++;
    const uid = this.options.uidOf(event);
    const body = JSON.stringify(event);
    const eventId = typeof event.id === 'string' ? event.id : '';
    const startedAt = this.now();
    const record = (fields: Omit<DeliveryRecord, 'delivery' | 'uid' | 'kind' | 'eventId' | 'startedAt'>) => {
      this.deliveries.push({ delivery, uid, kind, eventId, startedAt, ...fields });
    };

    for (let attempt = 1; ; attempt += 1) {
      const result = await this.attempt(delivery, uid, kind, attempt, body);
      const status = result.status;
      const last = { status, outcome: result.outcome, ...(result.error ? { error: result.error } : {}) };
      if (status !== undefined && status >= 200 && status < 300) {
        record({ attempts: attempt, endedAt: this.now(), result: 'acknowledged', ...last });
        if (kind === 'original' && this.random() < this.options.lateDuplicateRate) {
          const delay = this.between(this.options.lateDuplicateDelayMs);
          this.track(this.later(delay, () => this.deliver(event, 'late-duplicate')));
        }
        return;
      }
      if (status !== undefined && !isRetryableStatus(status)) {
        record({
          attempts: attempt,
          endedAt: this.now(),
          result: 'dead-letter',
          reason: 'final-status',
          ...last,
        });
        return;
      }
      if (attempt >= this.options.maxAttempts) {
        record({
          attempts: attempt,
          endedAt: this.now(),
          result: 'dead-letter',
          reason: 'max-attempts',
          ...last,
        });
        return;
      }
      const backoffWindow = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (attempt - 1));
      const delay =
        result.retryAfterMs !== undefined
          ? Math.min(result.retryAfterMs, this.options.maxRetryAfterMs)
          : Math.floor(this.random() * backoffWindow);
      if (this.now() + delay - startedAt > this.options.maxAgeMs) {
        record({ attempts: attempt, endedAt: this.now(), result: 'dead-letter', reason: 'max-age', ...last });
        return;
      }
      if (!(await this.cancellableSleep(delay))) {
        record({
          attempts: attempt,
          endedAt: this.now(),
          result: 'dead-letter',
          reason: 'cancelled',
          ...last,
        });
        return;
      }
    }
  }

  private async attempt(
    delivery: number,
    uid: string,
    kind: DeliveryKind,
    attempt: number,
    body: string,
  ): Promise<AttemptRecord> {
    await this.slots.acquire();
    const target = this.pickTarget();
    const startedAt = this.now();
    const began = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('timeout')), this.options.timeoutMs);
    const record: AttemptRecord = {
      delivery,
      uid,
      kind,
      attempt,
      target,
      startedAt,
      latencyMs: 0,
      status: undefined,
    };
    try {
      const response = await request(target, {
        method: 'POST',
        headers: this.headers,
        body,
        dispatcher: this.agent,
        signal: controller.signal,
      });
      const text = await response.body.text();
      record.status = response.statusCode;
      const retryAfter = parseRetryAfter(response.headers['retry-after']);
      if (retryAfter !== undefined) record.retryAfterMs = retryAfter;
      try {
        const parsed = JSON.parse(text) as { status?: unknown; error?: unknown };
        const outcome = parsed.status ?? parsed.error;
        if (typeof outcome === 'string') record.outcome = outcome;
      } catch {
        // not JSON: the status says enough
      }
    } catch (error) {
      record.error = controller.signal.aborted ? 'timeout' : errorCode(error);
    } finally {
      clearTimeout(timer);
      record.latencyMs = Math.round((performance.now() - began) * 100) / 100;
      this.slots.release();
    }
    this.attempts.push(record);
    this.options.onAttempt?.(record);
    return record;
  }
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (typeof name === 'string') return name;
  }
  return 'error';
}
