import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { RedisStore } from '../store/redis/index.js';
import type { IdempotencyStore } from '../store/types.js';
import { createHttpSink } from './http.js';
import { createLogSink } from './log.js';
import { createModuleSink } from './module.js';
import { RedisStreamSink } from './redis-stream.js';
import type { Sink } from './types.js';

export type { Sink, SinkContext } from './types.js';

/** The sink SINK names. redis-stream writes through the store's own Redis connection. */
export async function createSink(config: Config, logger: Logger, store: IdempotencyStore): Promise<Sink> {
  switch (config.SINK) {
    case 'log':
      return createLogSink(logger);
    case 'module':
      return createModuleSink(config.SINK_MODULE as string);
    case 'http':
      return createHttpSink({ url: config.SINK_HTTP_URL as string, headers: config.SINK_HTTP_HEADERS });
    case 'redis-stream':
      if (!(store instanceof RedisStore)) throw new Error('SINK=redis-stream needs the redis store');
      return new RedisStreamSink({
        store,
        prefix: config.DEDUP_PREFIX,
        stream: config.SINK_STREAM,
        maxLength: config.SINK_STREAM_MAXLEN,
        partitions: config.SINK_STREAM_PARTITIONS,
        ...(config.REDIS_WAIT_REPLICAS > 0 ? { confirmReplicated: store.confirmReplicated.bind(store) } : {}),
      });
  }
}
