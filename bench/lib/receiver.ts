import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './args.js';
import { BodyFactory, type BodyTemplate, isDuplicateSlot, randomNamespace } from './bodies.js';
import { REPO_ROOT, RedisProcess, ServerProcess } from './procs.js';
import type { LoadKind, SinkName } from './report.js';

/** The built receiver (`dist/main.js`) with a private redis-server, and the bodies each scenario sends it. */

export const API_KEY = 'bench-api-key-0123456789abcdef';

/**
 * The node flags of `npm start` (package.json), so that the receiver is measured as it is shipped: its heap
 * settings are what keep RSS under the target.
 */
export function startScriptNodeFlags(repoRoot: string = REPO_ROOT): string[] {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const words = (manifest.scripts?.start ?? '').split(/\s+/);
  return words.filter((word) => word.startsWith('--'));
}
export const EVENTS_PATH = '/events';

/** The bodies a server under test is sent: fresh events, and a pool of processed ones that retries replay. */
export interface EventBodies {
  unique: BodyFactory;
  uniqueNext: number;
  /** Already-processed events (inserted before the rounds): what duplicates replay. */
  pool: BodyFactory;
  poolSize: number;
  poolCursor: number;
}

export function newEventBodies(templates: readonly BodyTemplate[]): EventBodies {
  return {
    unique: new BodyFactory(templates, randomNamespace()),
    uniqueNext: 0,
    pool: new BodyFactory(templates, randomNamespace()),
    poolSize: 0,
    poolCursor: 0,
  };
}

export interface Receiver extends EventBodies {
  sink: SinkName;
  redis: RedisProcess;
  server: ServerProcess;
}

function nextUnique(bodies: EventBodies): string {
  return bodies.unique.body(bodies.uniqueNext++);
}

function nextDuplicate(bodies: EventBodies): string {
  const body = bodies.pool.body(bodies.poolCursor % bodies.poolSize);
  bodies.poolCursor++;
  return body;
}

export function bodySource(bodies: EventBodies, load: LoadKind, mixedPercent: number): () => string {
  if (load === 'unique') return () => nextUnique(bodies);
  if (load === 'duplicate') return () => nextDuplicate(bodies);
  let i = 0;
  return () => (isDuplicateSlot(i++, mixedPercent) ? nextDuplicate(bodies) : nextUnique(bodies));
}

export async function startReceiver(
  sink: SinkName,
  options: BenchOptions,
  templates: readonly BodyTemplate[],
  nodeArgs: string[] = [],
  /** A running redis-server to share; by default the receiver gets a new one of its own. */
  sharedRedis?: RedisProcess,
): Promise<Receiver> {
  const redis = sharedRedis ?? (await RedisProcess.start(options.loadCpu));
  try {
    const server = await ServerProcess.start('dist/main.js', '/healthz', {
      cpu: options.serverCpu,
      nodeArgs: [...startScriptNodeFlags(), ...nodeArgs],
      env: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        REDIS_URL: redis.url,
        API_KEYS: API_KEY,
        SINK: sink,
        EVENTS_PATH,
      },
    });
    return { sink, redis, server, ...newEventBodies(templates) };
  } catch (error) {
    if (!sharedRedis) await redis.stop();
    throw error;
  }
}
