import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { createLogSink } from './log.js';
import { createModuleSink } from './module.js';
import type { Sink } from './types.js';

export type { Sink, SinkContext } from './types.js';

export async function createSink(config: Config, logger: Logger): Promise<Sink> {
  switch (config.SINK) {
    case 'log':
      return createLogSink(logger);
    case 'module':
      return createModuleSink(config.SINK_MODULE as string);
    case 'redis-stream':
    case 'http':
      throw new Error(`SINK=${config.SINK} is not available in this version`);
  }
}
