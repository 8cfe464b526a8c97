import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { RedisStreamSink } from '../../src/sinks/redis-stream.js';
import type { Sink, SinkContext } from '../../src/sinks/types.js';
import type { RedisStore } from '../../src/store/redis/index.js';
import { sleep } from './ports.js';

export interface RecordingSinkOptions {
  /** Milliseconds each call takes. */
  delayMs?: number;
  /** The first N calls fail. */
  failFirst?: number;
}

/** A sink that records what it processed, optionally slow or failing at first. Not a Redis stand-in. */
export class RecordingSink implements Sink {
  readonly name = 'recording';
  readonly handled: { event: Record<string, unknown>; context: SinkContext }[] = [];
  calls = 0;
  closed = false;

  constructor(private readonly options: RecordingSinkOptions = {}) {}

  async handle(event: Record<string, unknown>, context: SinkContext): Promise<void> {
    this.calls += 1;
    const call = this.calls;
    if (this.options.delayMs) await sleep(this.options.delayMs);
    if (call <= (this.options.failFirst ?? 0)) throw new Error(`sink failure #${call}`);
    this.handled.push({ event, context });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  keys(): string[] {
    return this.handled.map((entry) => entry.context.key);
  }
}

/** A redis-stream sink under the tests' DEDUP_PREFIX (`ebdedup:`), trimming each partition near 1000 entries. */
export function streamSink(store: RedisStore, stream: string, partitions = 1): RedisStreamSink {
  return new RedisStreamSink({ store, prefix: 'ebdedup:', stream, maxLength: 1000, partitions });
}

/**
 * The path of a SINK=module file whose handler takes `ms` milliseconds: a request in flight while the server
 * is stopped. Call it inside a test; the file is removed when the test finishes.
 */
export function slowSinkModule(ms: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'ebdedup-sink-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const module = join(dir, 'slow-sink.mjs');
  writeFileSync(
    module,
    `export async function handle() { await new Promise((r) => setTimeout(r, ${ms})); }\n`,
  );
  return module;
}
