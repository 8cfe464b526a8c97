import type { Logger } from 'pino';
import type { Sink } from './types.js';

/**
 * SINK=log: one structured line per processed event, the event included as the text it was sent (`event` is
 * a string: the body exactly as received, never re-serialised).
 */
export function createLogSink(logger: Logger): Sink {
  const sinkLogger = logger.child({ sink: 'log' });
  return {
    name: 'log',
    handle(_event, context) {
      sinkLogger.info(
        {
          key: context.key,
          eventId: context.eventId,
          detailType: context.detailType,
          event: context.rawBody,
        },
        'event processed',
      );
    },
    async close() {},
  };
}
