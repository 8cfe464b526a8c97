import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { createKeyStrategy } from '../events/keys.js';
import { type DedupRule, loadRulesFile } from '../events/rules.js';
import type { Sink } from '../sinks/types.js';
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

/** The pipeline the configuration describes. Throws RulesFileError for a wrong rules file. */
export function createPipeline({ config, store, sink, logger, rules }: PipelineDependencies): DedupPipeline {
  const compiledRules =
    rules ??
    (config.DEDUP_STRATEGY === 'rules' && config.DEDUP_RULES_FILE
      ? loadRulesFile(config.DEDUP_RULES_FILE)
      : []);
  return new DedupPipeline({
    store,
    sink,
    logger,
    keyStrategy: createKeyStrategy({
      strategy: config.DEDUP_STRATEGY,
      ttlSeconds: config.DEDUP_TTL_SECONDS,
      ignoreFields: config.DEDUP_IGNORE_FIELDS,
      headerName: config.DEDUP_HEADER,
      rules: compiledRules,
      replayPolicy: config.REPLAY_POLICY,
    }),
    eventSchema: config.EVENT_SCHEMA,
    leaseSeconds: config.DEDUP_LEASE_SECONDS,
    sinkTimeoutMs: config.SINK_TIMEOUT_MS,
    storeFailure: config.STORE_FAILURE,
  });
}
