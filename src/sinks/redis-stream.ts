import type { Batcher } from '../store/redis/batcher.js';
import {
  type AppendReply,
  type DedupLocation,
  dedupLocation,
  hashTagOf,
  type MarksCall,
  type RedisStore,
  type SinkWriteOperation,
} from '../store/redis/index.js';
import type { ProcessOnceResult, Sink, SinkContext } from './types.js';

/**
 * SINK=redis-stream: the dedup check, the XADD and the processed mark are one atomic step per event
 * (src/store/redis/scripts/append-once.lua), so each key is appended exactly once whatever the concurrency,
 * the number of receivers or the retries, and a new event costs one round trip. The events of one turn of the
 * event loop go as one script call (the store's batcher: one per hash tag on Redis Cluster, and all of a
 * stream's share its tag). There is no claim: nothing is in progress, nothing can be left half done.
 *
 * The processed marks use the store's layout (src/store/redis/layout.ts: fields of time-bucketed hashes), under
 * the stream's hash tag, since Redis Cluster runs a script only when all its keys share one hash slot
 * (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags). The digest's first
 * two characters become a shard suffix outside the tag, so a bucket is still split into about 4,096 hashes:
 *   SINK_STREAM_PARTITIONS=1:  stream `SINK_STREAM`,      marks `DEDUP_PREFIX{<SINK_STREAM's tag>}:<ttl>:<bucket>:<shard>`
 *   SINK_STREAM_PARTITIONS=N:  stream `SINK_STREAM{pI}`,  marks `DEDUP_PREFIX{pI}:<ttl>:<bucket>:<shard>`, I from the digest
 * `locate()` names a key's location by its claim key (`DEDUP_PREFIX{<tag>}<digest>`, never written here): the
 * one string the admin routes and confirmReplicated are given.
 */

export interface RedisStreamSinkOptions {
  /** The Redis store: its connection, and the bucket hashes its scripts are passed (bucket-keys.ts). */
  store: RedisStore;
  /** DEDUP_PREFIX */
  prefix: string;
  /** SINK_STREAM */
  stream: string;
  /** SINK_STREAM_MAXLEN */
  maxLength: number;
  /** SINK_STREAM_PARTITIONS */
  partitions: number;
  now?: () => number;
  /**
   * REDIS_WAIT_REPLICAS: resolves once enough replicas hold the processed mark (and so the entry written
   * with it, since a replica applies writes in order), throws otherwise. Called before any processed
   * (`append`) or duplicate answer, with the location's claim key and which of the two it is.
   */
  confirmReplicated?: (dedupKey: string, operation: SinkWriteOperation) => Promise<void>;
}

/** The stream names the sink writes, in partition order: what a consumer reads. */
export function streamNames(stream: string, partitions: number): string[] {
  if (partitions <= 1) return [stream];
  return Array.from({ length: partitions }, (_, index) => `${stream}{p${index}}`);
}

/** The partition of a digest: its first 4 bytes, modulo N, so keys spread evenly. */
export function partitionOf(key: string, partitions: number): number {
  if (partitions <= 1) return 0;
  return Buffer.from(key.slice(0, 8), 'base64url').readUInt32BE(0) % partitions;
}

export class RedisStreamSink implements Sink {
  readonly name = 'redis-stream';
  private readonly streams: string[];
  private readonly tags: string[];
  private readonly now: () => number;
  /** The appends of one turn go to Redis as one script call (per hash tag on Redis Cluster). */
  private readonly appends: Batcher<MarksCall>;

  constructor(private readonly options: RedisStreamSinkOptions) {
    this.streams = streamNames(options.stream, options.partitions);
    this.tags =
      options.partitions <= 1 ? [hashTagOf(options.stream)] : this.streams.map((_, index) => `p${index}`);
    this.now = options.now ?? Date.now;
    this.appends = options.store.marks.batcher('ebdedupAppendOnce');
  }

  /**
   * Where a key goes, all in one hash slot: its stream, its location (marks) and the location's claim key,
   * `dedupKey`, which names it for the store's admin methods and confirmReplicated.
   */
  locate(key: string): { stream: string; dedupKey: string; location: DedupLocation } {
    const partition = partitionOf(key, this.streams.length);
    const location = dedupLocation(this.options.prefix, this.tags[partition] as string, key);
    return { stream: this.streams[partition] as string, dedupKey: location.claim, location };
  }

  async processOnce(
    event: Record<string, unknown>,
    context: SinkContext,
    ttlSeconds: number,
  ): Promise<ProcessOnceResult> {
    const { stream, dedupKey, location } = this.locate(context.key);
    const receivedAt = this.now();
    const source = event.source;
    const { store } = this.options;
    const reply = await store.marks.onMarks(
      {
        location,
        withFailures: false,
        keys: [stream],
        writeTtl: ttlSeconds,
        args: [
          ttlSeconds,
          receivedAt,
          this.options.maxLength,
          6,
          'key',
          context.key,
          'id',
          context.eventId ?? '',
          'source',
          typeof source === 'string' ? source : '',
          'detail-type',
          context.detailType ?? '',
          'receivedAt',
          new Date(receivedAt).toISOString(),
          'event',
          // The body as received, never re-serialised.
          context.rawBody,
        ],
      },
      (call) => this.appends.add(call) as Promise<AppendReply>,
    );
    if (typeof reply !== 'string') {
      const [value, pttl] = reply;
      // A `~token` value is a claim of the store's at this very location (see append-once.lua).
      if (value.startsWith('~')) return { outcome: 'in_progress', leaseRemainingMs: Math.max(pttl, 0) };
      await this.options.confirmReplicated?.(dedupKey, 'duplicate');
      return { outcome: 'duplicate', firstSeenAt: Number(value) };
    }
    await this.options.confirmReplicated?.(dedupKey, 'append');
    return { outcome: 'processed' };
  }

  /** Unused: the pipeline calls processOnce. Kept so the sink is a Sink. */
  async handle(): Promise<void> {
    throw new Error('the redis-stream sink processes through processOnce');
  }

  async close(): Promise<void> {
    // The client belongs to the store, which closes it.
  }
}
