import type { Logger } from 'pino';
import type { Sink } from './types.js';

/** SINK=log: one structured line per processed event, the event included. */
export function createLogSink(logger: Logger): Sink {
  const sinkLogger = logger.child({ sink: 'log' });
  return {
    name: 'log',
    handle(event, context) {
      sinkLogger.info(
        { key: context.key, eventId: context.eventId, detailType: context.detailType, event },
        'event processed',
      );
    },
    async close() {},
  };
}
