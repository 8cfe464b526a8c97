import { type ClaimResult, type IdempotencyStore, type KeyInspection, newOwnerToken } from './types.js';

type Entry =
  | { state: 'in_progress'; token: string; expiresAt: number }
  | { state: 'processed'; firstSeenAt: number; expiresAt: number };

export interface MemoryStoreOptions {
  /** Injected for tests that move time. */
  now?: () => number;
  /** How often expired entries are swept, so memory does not grow with keys nobody asks for again. */
  sweepIntervalMs?: number;
  /** MAX_ATTEMPTS, as in the Redis store: failed claims before a key is poison; 0 = unlimited. */
  maxAttempts?: number;
  failureTtlSeconds?: number;
}

/**
 * The in-process store: the Redis store's semantics (leases, owner tokens, TTLs) for local runs and tests.
 * It forgets everything on restart and is not shared between processes, which is why production refuses it
 * unless STORE=memory is set explicitly.
 */
export class MemoryStore implements IdempotencyStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;
  /** Failed claims per key, for MAX_ATTEMPTS. */
  private readonly failures = new Map<string, { count: number; expiresAt: number }>();
  private readonly maxAttempts: number;
  private readonly failureTtlMs: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxAttempts = options.maxAttempts ?? 0;
    this.failureTtlMs = (options.failureTtlSeconds ?? 86_400) * 1000;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    for (const [key, entry] of this.failures) if (entry.expiresAt <= now) this.failures.delete(key);
  }

  private failuresOf(key: string): number {
    const entry = this.failures.get(key);
    return entry !== undefined && entry.expiresAt > this.now() ? entry.count : 0;
  }

  async claimKey(key: string, leaseMs: number): Promise<ClaimResult> {
    const entry = this.live(key);
    if (entry?.state === 'processed') return { outcome: 'duplicate', firstSeenAt: entry.firstSeenAt };
    if (entry?.state === 'in_progress') {
      return { outcome: 'in_progress', leaseRemainingMs: entry.expiresAt - this.now() };
    }
    if (this.maxAttempts > 0) {
      const failures = this.failuresOf(key);
      if (failures >= this.maxAttempts) return { outcome: 'poisoned', failures };
    }
    const token = newOwnerToken();
    this.entries.set(key, { state: 'in_progress', token, expiresAt: this.now() + leaseMs });
    return { outcome: 'claimed', token };
  }

  async completeClaim(key: string, token: string, firstSeenAt: number, ttlSeconds: number): Promise<boolean> {
    const entry = this.live(key);
    if (entry !== undefined && !(entry.state === 'in_progress' && entry.token === token)) return false;
    this.entries.set(key, { state: 'processed', firstSeenAt, expiresAt: this.now() + ttlSeconds * 1000 });
    return true;
  }

  async releaseClaim(key: string, token: string): Promise<boolean> {
    const entry = this.live(key);
    if (entry?.state !== 'in_progress' || entry.token !== token) return false;
    this.entries.delete(key);
    if (this.maxAttempts > 0) {
      this.failures.set(key, { count: this.failuresOf(key) + 1, expiresAt: this.now() + this.failureTtlMs });
    }
    return true;
  }

  async renewClaim(key: string, token: string, leaseMs: number): Promise<boolean> {
    const entry = this.live(key);
    if (entry?.state !== 'in_progress' || entry.token !== token) return false;
    entry.expiresAt = this.now() + leaseMs;
    return true;
  }

  async inspectKey(key: string): Promise<KeyInspection> {
    const entry = this.live(key);
    if (entry === undefined) return { state: 'absent' };
    const remaining = entry.expiresAt - this.now();
    return entry.state === 'in_progress'
      ? { state: 'in_progress', leaseRemainingMs: remaining }
      : { state: 'processed', firstSeenAt: entry.firstSeenAt, ttlRemainingMs: remaining };
  }

  async deleteKey(key: string): Promise<KeyInspection> {
    const held = await this.inspectKey(key);
    this.entries.delete(key);
    this.failures.delete(key);
    return held;
  }

  async checkHealth(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
