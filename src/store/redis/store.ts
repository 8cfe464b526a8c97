import { Cluster } from 'ioredis';
import {
  type ClaimResult,
  type IdempotencyStore,
  type KeyInspection,
  newOwnerToken,
  type ReplicationWaitError,
  StoreError,
} from '../types.js';
import type { Batcher } from './batcher.js';
import type { MissingReply } from './bucket-keys.js';
import { commandTimeoutOf, reconnectWhenEnded } from './client.js';
import {
  type ClaimReply,
  type CompleteReply,
  type DedupClient,
  defineDedupCommands,
  type HeldReply,
  type RedisClient,
} from './commands.js';
import { type DedupLocation, locationOfClaim, storeLocation } from './layout.js';
import { type MarksCall, MarksScripts } from './marks-scripts.js';
import { inspection, storeFailure } from './replies.js';
import { WaitPool } from './wait-pool.js';

/** What a sink that writes its own marks did before confirmReplicated; `confirm` when it does not say. */
export type SinkWriteOperation = Exclude<ReplicationWaitError['operation'], 'complete'>;

export interface RedisStoreOptions {
  client: RedisClient;
  /** DEDUP_PREFIX. */
  prefix: string;
  /** Close the client with the store (false when the caller shares it). */
  ownsClient?: boolean;
  /**
   * The TTLs (seconds) marks are written with: DEDUP_TTL_SECONDS and rules' own (default: 86400). Others are
   * learnt (bucket-keys.ts); a TTL named here saves the round trip that learns it.
   */
  ttlSeconds?: readonly number[];
  /**
   * REDIS_WAIT_REPLICAS: before completeClaim resolves, and before claimKey reports a duplicate, this many
   * replicas must hold the key (Redis WAIT); fewer within `waitTimeoutMs` throws a ReplicationWaitError.
   * 0 (the default): no WAIT.
   */
  waitReplicas?: number;
  /** REDIS_WAIT_TIMEOUT_MS: how long WAIT may block (default 100). */
  waitTimeoutMs?: number;
  /** Connections set aside for WAIT, which blocks the connection it runs on (default 8). */
  waitPoolSize?: number;
  /**
   * MAX_ATTEMPTS: after this many released (failed) claims a key is poison and claimKey answers `poisoned`;
   * failures are counted for `failureTtlSeconds`. 0 (the default): unlimited, nothing counted.
   */
  maxAttempts?: number;
  failureTtlSeconds?: number;
}

/**
 * The Redis store (layout.ts says where it keeps what; ./scripts has the Lua). Every state change is one
 * script; claims and completions follow IdempotencyStore's state machine (src/store/types.ts).
 */
export class RedisStore implements IdempotencyStore {
  readonly kind = 'redis' as const;
  readonly client: DedupClient;
  /** The marks scripts: their keys (bucket-keys.ts), batches and resends. */
  readonly marks: MarksScripts;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly waitPool: WaitPool | undefined;
  private readonly maxAttempts: number;
  private readonly failureTtlMs: number;
  private readonly claims: Batcher<MarksCall>;
  private readonly completions: Batcher<MarksCall>;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.maxAttempts = options.maxAttempts ?? 0;
    this.failureTtlMs = this.maxAttempts > 0 ? (options.failureTtlSeconds ?? 86_400) * 1000 : 0;
    this.client = defineDedupCommands(options.client);
    this.marks = new MarksScripts(this.client, options.ttlSeconds ?? [86_400]);
    this.prefix = options.prefix;
    this.ownsClient = options.ownsClient ?? true;
    this.claims = this.marks.batcher('ebdedupClaim');
    this.completions = this.marks.batcher('ebdedupComplete');
    const waitReplicas = options.waitReplicas ?? 0;
    if (waitReplicas > 0) {
      this.waitPool = new WaitPool(options.client, {
        size: options.waitPoolSize ?? 8,
        replicas: waitReplicas,
        timeoutMs: options.waitTimeoutMs ?? 100,
        commandTimeoutMs: commandTimeoutOf(options.client) ?? 500,
      });
      for (const client of this.waitPool.clients) reconnectWhenEnded(client, () => this.closed);
    }
    // A shared client is its owner's to close and to revive.
    if (this.ownsClient) reconnectWhenEnded(this.client, () => this.closed);
  }

  /** Where this store keeps dedup key `key`: tagged by its first two characters (layout.ts). */
  location(key: string): DedupLocation {
    return storeLocation(this.prefix, key);
  }

  /**
   * With REDIS_WAIT_REPLICAS, resolves once that many replicas hold the processed mark of the location whose
   * claim key is `dedupKey` (written by any connection); throws ReplicationWaitError otherwise. For sinks that
   * write the mark themselves (redis-stream), which say what they did: `append` (a new event) or `duplicate`.
   * Without `operation` (a caller that does not pass it on) the error says `confirm`.
   */
  async confirmReplicated(dedupKey: string, operation: SinkWriteOperation = 'confirm'): Promise<void> {
    if (!this.waitPool) return;
    await this.touchAndWait(operation, this.waitPool, locationOfClaim(this.prefix, dedupKey));
  }

  /**
   * Re-asserts the mark on a WAIT connection and waits for the replicas. A mark that connection does not find
   * was written somewhere else (an old master, reached by the connection that wrote it before a failover was
   * noticed) or is gone: WAIT would then confirm nothing, so it is a store failure (503, retried), never a 200.
   */
  private async touchAndWait(
    operation: SinkWriteOperation,
    pool: WaitPool,
    location: DedupLocation,
  ): Promise<void> {
    const mark = await this.marks.onMarks({ location, withFailures: false, args: [] }, (call) =>
      pool.writeAndWait(operation, ['ebdedupTouch', ...this.marks.encode([call])]),
    );
    if (mark === null || mark === undefined) {
      throw new StoreError(`redis ${operation}: the mark is not on the master the WAIT connection reached`);
    }
  }

  /** Connects now; when Redis is not there yet, keeps trying in the background and resolves false. */
  async connect(): Promise<boolean> {
    await this.waitPool?.connect();
    if (this.client.status !== 'wait') return this.client.status === 'ready';
    try {
      await this.client.connect();
      return true;
    } catch {
      return false;
    }
  }

  async claimKey(key: string, leaseMs: number): Promise<ClaimResult> {
    const token = newOwnerToken();
    const location = this.location(key);
    let reply: Exclude<ClaimReply, MissingReply>;
    try {
      reply = await this.marks.onMarks(
        { location, withFailures: true, args: [`~${token}`, leaseMs, this.maxAttempts] },
        (call) => this.claims.add(call) as Promise<ClaimReply>,
      );
    } catch (error) {
      this.abandonClaim(location, token);
      throw storeFailure('claim', error);
    }
    if (reply === 1) return { outcome: 'claimed', token };
    const [value, pttl] = reply;
    if (value === '!') return { outcome: 'poisoned', failures: pttl };
    if (value.startsWith('~')) return { outcome: 'in_progress', leaseRemainingMs: Math.max(pttl, 0) };
    // A duplicate answers 200 as well: with REDIS_WAIT_REPLICAS, only once the replicas hold the mark.
    if (this.waitPool) await this.touchAndWait('duplicate', this.waitPool, location);
    return { outcome: 'duplicate', firstSeenAt: Number(value) };
  }

  /**
   * A claim that failed (timed out, connection lost) may still have landed, and would then block the event
   * with 409s for a whole lease though nobody processes it. Releasing the token undoes it: retried until Redis
   * answers, without counting a MAX_ATTEMPTS failure.
   */
  private abandonClaim(location: DedupLocation, token: string): void {
    const giveUpAt = Date.now() + 60_000;
    const attempt = (delay: number): void => {
      this.client.ebdedupRelease(location.claim, location.failures, `~${token}`, 0).catch(() => {
        if (Date.now() >= giveUpAt || this.closed) return;
        setTimeout(() => attempt(Math.min(delay * 2, 1000)), delay).unref();
      });
    };
    attempt(100);
  }

  async completeClaim(key: string, token: string, firstSeenAt: number, ttlSeconds: number): Promise<boolean> {
    const call: MarksCall = {
      location: this.location(key),
      withFailures: false,
      args: [`~${token}`, firstSeenAt, ttlSeconds],
      writeTtl: ttlSeconds,
      lookup: false,
    };
    const pool = this.waitPool;
    if (pool) {
      // One event, on a WAIT connection of its own: WAIT counts that connection's writes.
      const reply = await this.marks.onMarks(call, async (one) => {
        const replies = await pool.writeAndWait('complete', ['ebdedupComplete', ...this.marks.encode([one])]);
        return (replies as CompleteReply[])[0] as CompleteReply;
      });
      return reply === 1;
    }
    try {
      return (
        (await this.marks.onMarks(call, (one) => this.completions.add(one) as Promise<CompleteReply>)) === 1
      );
    } catch (error) {
      throw storeFailure('complete', error);
    }
  }

  async releaseClaim(key: string, token: string): Promise<boolean> {
    const location = this.location(key);
    try {
      return (
        (await this.client.ebdedupRelease(
          location.claim,
          location.failures,
          `~${token}`,
          this.failureTtlMs,
        )) === 1
      );
    } catch (error) {
      throw storeFailure('release', error);
    }
  }

  async renewClaim(key: string, token: string, leaseMs: number): Promise<boolean> {
    try {
      return (await this.client.ebdedupRenew(this.location(key).claim, `~${token}`, leaseMs)) === 1;
    } catch (error) {
      throw storeFailure('renew', error);
    }
  }

  async inspectKey(key: string): Promise<KeyInspection> {
    return this.inspectLocation(this.location(key));
  }

  /** Forgets a key, and its MAX_ATTEMPTS failure count with it, so a deliberate reprocess can run. */
  async deleteKey(key: string): Promise<KeyInspection> {
    return this.deleteLocation(this.location(key));
  }

  /** The admin view of a location a sink placed elsewhere (redis-stream), named by its claim key. */
  async inspectRedisKey(dedupKey: string): Promise<KeyInspection> {
    return this.inspectLocation(locationOfClaim(this.prefix, dedupKey));
  }

  /** Forgets a location a sink placed elsewhere (redis-stream), named by its claim key, and tells what it held. */
  async deleteRedisKey(dedupKey: string): Promise<KeyInspection> {
    return this.deleteLocation(locationOfClaim(this.prefix, dedupKey));
  }

  /** One script: the claim or the mark, and its TTL, from one moment (all on one slot of a Cluster). */
  private inspectLocation(location: DedupLocation): Promise<KeyInspection> {
    return this.heldAt('inspect', 'ebdedupInspect', location, false);
  }

  /** Deletes the claim, the failure count and the mark (whichever bucket holds it) atomically. */
  private deleteLocation(location: DedupLocation): Promise<KeyInspection> {
    return this.heldAt('delete', 'ebdedupDelete', location, true);
  }

  /** Runs an admin script on one location, and reads what it says the location held. */
  private async heldAt(
    operation: string,
    name: 'ebdedupInspect' | 'ebdedupDelete',
    location: DedupLocation,
    withFailures: boolean,
  ): Promise<KeyInspection> {
    let reply: HeldReply | null;
    try {
      reply = await this.marks.onMarks(
        { location, withFailures, args: [] },
        (call) => this.marks.run(name, this.marks.encode([call])) as Promise<HeldReply | null | MissingReply>,
      );
    } catch (error) {
      throw storeFailure(operation, error);
    }
    return inspection(reply);
  }

  async checkHealth(): Promise<void> {
    try {
      const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
      if (nodes.length === 0) throw new Error('no master node known');
      await Promise.all(nodes.map((node) => node.ping()));
    } catch (error) {
      throw storeFailure('ping', error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.waitPool?.close();
    if (!this.ownsClient) return;
    try {
      await this.client.quit();
    } catch {
      // Already disconnected (Redis down at shutdown): nothing is left to flush.
      this.client.disconnect();
    }
  }
}
