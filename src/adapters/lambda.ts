import type { Logger } from 'pino';
import { loadConfig, secretValues } from '../config/index.js';
import { openRuntime } from '../core/create-pipeline.js';
import {
  InvalidEventError,
  ProcessingTimeoutError,
  ReceiverError,
  type ValidationIssue,
} from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import type { DedupOutcome, DedupPipeline, RequestTrace } from '../core/pipeline.js';
import { findNonFiniteNumber, NON_FINITE_NUMBER } from '../events/json-checks.js';

/**
 * The pipeline as the handler of a Lambda function targeted by an EventBridge rule. EventBridge invokes the
 * function asynchronously, and Lambda retries an invocation that throws (twice by default, then its
 * on-failure destination or DLQ): https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
 * So a retryable failure throws; a duplicate resolves without processing; an invalid event resolves with
 * its issues, because a retry cannot fix it.
 */

export type LambdaResult = DedupOutcome | { status: 'invalid'; issues: ValidationIssue[] };

export type EventBridgeLambdaHandler = (event: unknown, context?: unknown) => Promise<LambdaResult>;

/** Deeper than this, a value is refused before anything walks it recursively (as HTTP does on the text). */
const MAX_EVENT_DEPTH = 128;

/** True when `value` nests objects or arrays deeper than `limit`. Iterative, so it cannot overflow itself. */
export function depthExceeds(value: unknown, limit: number = MAX_EVENT_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

export function createLambdaHandler({
  pipeline,
  logger,
}: {
  pipeline: DedupPipeline;
  logger: Logger;
}): EventBridgeLambdaHandler {
  return async (event, context) => {
    // The invocation's id, which Lambda's own REPORT line and the DLQ message's RequestID attribute carry:
    // pino writes to stdout itself, so its lines get no request id from the runtime as console's do.
    const trace: RequestTrace & { requestId?: string } = { requestId: awsRequestId(context) };
    try {
      if (depthExceeds(event)) {
        throw new InvalidEventError([
          { path: '', message: `the event nests deeper than ${MAX_EVENT_DEPTH} levels` },
        ]);
      }
      // Refused whatever the key strategy (HTTP refuses it only where the key reads it): the sinks here get
      // JSON.stringify of the event, which would write Infinity as null, not the number that was sent.
      const overflow = findNonFiniteNumber(event);
      if (overflow !== undefined) {
        throw new InvalidEventError([{ path: overflow, message: NON_FINITE_NUMBER }]);
      }
      // Lone surrogates are refused by the pipeline, as over HTTP. What the runtime's JSON.parse has already
      // dropped cannot be checked here: a member name written twice (the last was kept) and the digits of an
      // integer beyond 2^53 (README, Dedup keys).
      // The runtime has parsed the payload already: its bytes are gone, and this text is the closest to them.
      const outcome = await pipeline
        .handle({ body: event, rawBody: JSON.stringify(event) }, {}, trace)
        .catch((error: unknown) => awaitLateSink(error, logger, trace));
      logger.info({ ...trace, outcome: outcome.status }, 'event handled');
      return outcome;
    } catch (error) {
      if (error instanceof InvalidEventError) {
        const eventId = trace.eventId ?? idOf(event);
        logger.warn(
          { ...trace, eventId, outcome: 'invalid', issues: error.issues },
          'invalid event: not retried',
        );
        return { status: 'invalid', issues: error.issues };
      }
      // A final failure (422 over HTTP: rejected downstream, poison event) is thrown too: only a failed
      // invocation reaches the on-failure destination or DLQ, though Lambda's retries repeat it first.
      const final = error instanceof ReceiverError && !error.retryable;
      logger.error(
        { ...trace, err: error },
        final
          ? 'event failed for good: throwing so that it reaches the DLQ (Lambda retries it first)'
          : 'event failed: throwing so Lambda retries',
      );
      throw error;
    }
  };
}

/**
 * Past SINK_TIMEOUT_MS, HTTP answers 504 while the sink goes on, its claim's lease renewed by the process. Lambda
 * would freeze the environment once the handler returns: the sink and the renewals stop, the lease lapses, and
 * the retry (a minute later) processes the event again while the frozen sink can still finish when the
 * environment thaws. So the invocation waits for the sink instead; if the function's timeout comes first, Lambda
 * resets the environment (its sink is gone) and the retry claims the key once the lease has lapsed.
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
 */
async function awaitLateSink(
  error: unknown,
  logger: Logger,
  trace: RequestTrace,
): Promise<{ status: 'processed'; key: string }> {
  if (!(error instanceof ProcessingTimeoutError) || error.late === undefined) throw error;
  logger.warn(
    { ...trace, err: error },
    'sink past SINK_TIMEOUT_MS: waiting for it within the function timeout',
  );
  return error.late;
}

function awsRequestId(context: unknown): string | undefined {
  const id = (context as { awsRequestId?: unknown } | null | undefined)?.awsRequestId;
  return typeof id === 'string' ? id : undefined;
}

/** The EventBridge `id` of an event refused before validation read it, so that its log line names it. */
function idOf(event: unknown): string | undefined {
  const id = (event as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** What one execution environment builds on its first invocation, and how to let it go. */
interface Runtime {
  handle: EventBridgeLambdaHandler;
  close: () => Promise<void>;
}

let initialised: Promise<Runtime> | undefined;

/**
 * Built once per execution environment from the same variables as the server, then reused. A start that fails
 * has closed what it opened (openRuntime), so the next invocation, which tries again, adds no connection.
 */
async function initialise(): Promise<Runtime> {
  const config = loadConfig();
  if (config.DEDUP_STRATEGY === 'header') {
    throw new Error('DEDUP_STRATEGY=header needs HTTP headers, which a Lambda target does not receive');
  }
  const logger = createLogger({ level: config.LOG_LEVEL, secrets: secretValues(config) });
  const opened = await openRuntime(config, logger);
  return { handle: createLambdaHandler({ pipeline: opened.pipeline, logger }), close: opened.close };
}

export const handler: EventBridgeLambdaHandler = async (event, context) => {
  initialised ??= initialise().catch((error: unknown) => {
    initialised = undefined;
    throw error;
  });
  return (await initialised).handle(event, context);
};

/**
 * Closes what the handler opened (the Redis connection, the sink), waiting for sinks still running; the next
 * call of `handler` opens them again. Lambda never needs it (it freezes the environment between invocations),
 * but a script or a test that calls `handler` itself does: an open Redis connection keeps Node from exiting.
 */
export async function close(): Promise<void> {
  const current = initialised;
  initialised = undefined;
  const runtime = await current?.catch(() => undefined);
  await runtime?.close();
}
