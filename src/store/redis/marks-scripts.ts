import { Cluster } from 'ioredis';
import { StoreError } from '../types.js';
import { Batcher } from './batcher.js';
import { BucketKeys, isMissing, type MissingReply } from './bucket-keys.js';
import type { DedupClient, KeyCountedScript } from './commands.js';
import { type DedupLocation, hashTagOf } from './layout.js';

/** How often one event is sent again after a `{'?…'}` reply (a TTL to learn, then a clock to correct). */
const MISSING_RETRIES = 3;
/** Events per batch script call: about 29 keys each with one TTL, so under 2,000 keys a call. */
const MAX_BATCH = 64;

/** One event for a script built on marks.lua (see its header): its location and its own arguments. */
export interface MarksCall {
  location: DedupLocation;
  /** The script reads the failure counter (claim, delete). */
  withFailures: boolean;
  /** The script's own arguments, after the location's. */
  args: (string | number)[];
  /** Extra keys of the script's own, after the location's (the sink's stream). */
  keys?: string[];
  /** The TTL a mark is written with (complete, the sink's append). */
  writeTtl?: number;
  /**
   * Pass the buckets a lookup needs (every known TTL's, over a whole TTL), not only the write's; false only
   * for completions, which look a mark up when their claim is gone (marks.lua answers `{'?lookup'}`).
   */
  lookup?: boolean;
}

/**
 * Calls of the scripts built on marks.lua (./scripts): their keys and arguments (with every bucket hash in
 * KEYS, bucket-keys.ts), batches (batcher.ts), and the resends a `{'?…'}` reply asks for. Shared by the store
 * and the redis-stream sink, so both pass the same TTLs and clock correction.
 */
export class MarksScripts {
  /** Names the bucket hashes every marks script is passed in KEYS. */
  readonly buckets: BucketKeys;

  constructor(
    private readonly client: DedupClient,
    ttlSeconds: readonly number[],
  ) {
    this.buckets = new BucketKeys(ttlSeconds);
  }

  /**
   * The keys and arguments of a batch of marks calls, as the scripts read them (numkeys first), for EVALSHA
   * or a pipeline.
   */
  encode(calls: readonly MarksCall[]): [number, ...(string | number)[]] {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const call of calls) {
      this.buckets.append(call.location, call.withFailures, keys, args, {
        writeTtl: call.writeTtl,
        lookup: call.lookup ?? true,
      });
      if (call.keys) for (const key of call.keys) keys.push(key);
      for (const arg of call.args) args.push(arg);
    }
    return [keys.length, ...keys, ...args];
  }

  /**
   * Batches calls of a script that takes many events (claim, complete, the redis-stream sink's append):
   * those of one turn go as one script call (batcher.ts). On Redis Cluster a script's keys must share a slot,
   * so calls are grouped by hash tag, and a group of one is a call of one.
   */
  batcher(name: 'ebdedupClaim' | 'ebdedupComplete' | 'ebdedupAppendOnce'): Batcher<MarksCall> {
    const cluster = this.client instanceof Cluster;
    return new Batcher<MarksCall>({
      send: (calls) => this.run(name, this.encode(calls)) as Promise<unknown[]>,
      groupOf: cluster ? (call) => hashTagOf(call.location.claim) : () => '',
      maxBatch: MAX_BATCH,
    });
  }

  /**
   * Sends one call of a marks script. On Redis Cluster as a pipeline of one command, as ioredis's
   * auto-pipelining would (commands.ts says why these scripts are left out of it): ioredis routes a pipeline by
   * its commands' keys and follows MOVED/ASK for it, and sent on their own, while a master was down and its
   * slots had no master yet, scripts for the other masters timed out too (test/cluster/store-cluster.test.ts,
   * "keeps serving the other masters").
   */
  async run(name: KeyCountedScript, encoded: [number, ...(string | number)[]]): Promise<unknown> {
    if (!(this.client instanceof Cluster)) {
      return (this.client[name] as (...args: (string | number)[]) => Promise<unknown>)(...encoded);
    }
    const replies = await this.client.pipeline([[name, ...encoded]]).exec();
    const [error, reply] = replies?.[0] ?? [new StoreError(`redis ${name}: no reply to the pipeline`), null];
    if (error) throw error;
    return reply;
  }

  /**
   * Runs a marks script for one event, sending it again when the reply says a TTL, the clock or a lookup's
   * buckets were missing (bucket-keys.ts). `send` sends one call (encoded by `encode`, or through a batcher).
   */
  async onMarks<R>(
    call: MarksCall,
    send: (call: MarksCall) => Promise<R>,
  ): Promise<Exclude<R, MissingReply>> {
    let current = call;
    for (let attempt = 0; ; attempt += 1) {
      const reply = await send(current);
      if (!isMissing(reply)) return reply as Exclude<R, MissingReply>;
      current = this.afterMissing(current, reply, attempt);
    }
  }

  /** The call to send again after a `{'?…'}` reply, having learnt what it says; a StoreError past the limit. */
  private afterMissing(call: MarksCall, reply: MissingReply, attempt: number): MarksCall {
    if (attempt >= MISSING_RETRIES) {
      throw new StoreError(`redis: the script still asks for ${reply[0].slice(1)} after ${attempt} resends`);
    }
    if (reply[0] === '?lookup') return { ...call, lookup: true };
    this.buckets.learn(reply);
    return call;
  }
}
