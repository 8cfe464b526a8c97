import type { BenchOptions } from './args.js';
import type { BodyTemplate } from './bodies.js';
import { compileBenchServer, RedisProcess, ServerProcess } from './procs.js';
import { EVENTS_PATH, type EventBodies, newEventBodies } from './receiver.js';
import type { ReferenceRoute } from './report.js';

/** A reference route of bench/setnx.ts with a redis-server of its own, and its bodies. */
export interface ReferenceServer extends EventBodies {
  route: ReferenceRoute;
  redis: RedisProcess;
  server: ServerProcess;
}

export async function startReferenceRoute(
  route: ReferenceRoute,
  options: BenchOptions,
  templates: readonly BodyTemplate[],
): Promise<ReferenceServer> {
  // Its own redis-server, so that its Redis CPU is its own and its keys do not share the receiver's memory.
  const redis = await RedisProcess.start(options.loadCpu);
  try {
    const server = await ServerProcess.start(compileBenchServer('setnx'), EVENTS_PATH, {
      cpu: options.serverCpu,
      env: { EVENTS_PATH, REDIS_URL: redis.url, ROUTE: route },
    });
    return { route, redis, server, ...newEventBodies(templates) };
  } catch (error) {
    await redis.stop();
    throw error;
  }
}
