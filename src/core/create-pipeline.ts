import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { createKeyStrategy } from '../events/keys.js';
import { type DedupRule, loadRulesFile } from '../events/rules.js';
import { createSink } from '../sinks/index.js';
import type { Sink } from '../sinks/types.js';
import { createStore } from '../store/index.js';
import type { IdempotencyStore } from '../store/types.js';
import { DedupPipeline } from './pipeline.js';

export interface PipelineDependencies {
  config: Config;
  store: IdempotencyStore;
  sink: Sink;
  logger: Logger;
  /** Compiled rules; read from DEDUP_RULES_FILE when not given. */
  rules?: readonly DedupRule[];
}

/** The rules DEDUP_RULES_FILE gives (none unless DEDUP_STRATEGY=rules). Throws RulesFileError for a wrong file. */
function loadConfiguredRules(config: Config): DedupRule[] {
  return config.DEDUP_STRATEGY === 'rules' && config.DEDUP_RULES_FILE
    ? loadRulesFile(config.DEDUP_RULES_FILE)
    : [];
}

/** The pipeline the configuration describes. Throws RulesFileError for a wrong rules file. */
export function createPipeline({ config, store, sink, logger, rules }: PipelineDependencies): DedupPipeline {
  return new DedupPipeline({
    store,
    sink,
    logger,
    keyStrategy: createKeyStrategy({
      strategy: config.DEDUP_STRATEGY,
      ttlSeconds: config.DEDUP_TTL_SECONDS,
      ignoreFields: config.DEDUP_IGNORE_FIELDS,
      headerName: config.DEDUP_HEADER,
      rules: rules ?? loadConfiguredRules(config),
      replayPolicy: config.REPLAY_POLICY,
    }),
    eventSchema: config.EVENT_SCHEMA,
    leaseSeconds: config.DEDUP_LEASE_SECONDS,
    sinkTimeoutMs: config.SINK_TIMEOUT_MS,
    storeFailure: config.STORE_FAILURE,
  });
}

interface Closable {
  close(): Promise<void>;
}

/**
 * Closes what was opened, last opened first: each uses those opened before it (the pipeline waits for late
 * sinks, a sink such as redis-stream writes through the store's connection). Every one is closed even when
 * one before it fails, so that a failing sink cannot keep the Redis connection open; the failure is rethrown
 * afterwards (all of them, as an AggregateError, when several fail).
 */
export async function closeInReverse(opened: readonly Closable[]): Promise<void> {
  const failures: unknown[] = [];
  for (const item of [...opened].reverse()) {
    try {
      await item.close();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, 'several closes failed');
}

/** `open()`'s result; when it throws, what was opened before it is closed (last first) and its error goes on. */
async function openAfter<T>(
  opened: readonly Closable[],
  open: () => T | Promise<T>,
  logger: Logger,
): Promise<T> {
  try {
    return await open();
  } catch (error) {
    await closeInReverse(opened).catch((closeError: unknown) => {
      logger.warn({ err: closeError }, 'could not close what was opened before a failed start');
    });
    throw error;
  }
}

/** The first of `close`'s promise, for every call: a second close() waits for the first instead of closing again. */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= close();
    return closing;
  };
}

/** The rules, store and sink the configuration describes; close() closes the sink, then the store, once. */
export interface OpenDependencies {
  rules: readonly DedupRule[];
  store: IdempotencyStore;
  sink: Sink;
  close(): Promise<void>;
}

/**
 * Opens what a pipeline needs in the order that leaves nothing open when a step fails: first the rules file,
 * which holds nothing (a wrong one fails before Redis is even reached), then the store, then the sink, closing
 * the store if the sink cannot be opened. The server gives them to buildApp, which builds its own pipeline
 * over measured copies of them.
 */
export async function openDependencies(config: Config, logger: Logger): Promise<OpenDependencies> {
  const rules = loadConfiguredRules(config);
  const store = await createStore(config, logger);
  const sink = await openAfter([store], () => createSink(config, logger, store), logger);
  return { rules, store, sink, close: once(() => closeInReverse([store, sink])) };
}

/** A pipeline with the store and sink it runs on; close() closes the pipeline, the sink, the store, once. */
export interface Runtime {
  store: IdempotencyStore;
  sink: Sink;
  pipeline: DedupPipeline;
  close(): Promise<void>;
}

/** openDependencies, then the pipeline over them: closing them again if it cannot be built. */
export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const dependencies = await openDependencies(config, logger);
  const { rules, store, sink } = dependencies;
  const pipeline = await openAfter(
    [dependencies],
    () => createPipeline({ config, store, sink, logger, rules }),
    logger,
  );
  return { store, sink, pipeline, close: once(() => closeInReverse([dependencies, pipeline])) };
}
