/** The package's library entry: the pieces `main.ts` wires, for embedding the receiver in other code. */
export { type Config, ConfigError, loadConfig, parseConfig } from './config/index.js';
export { createPipeline } from './core/create-pipeline.js';
export * from './core/errors.js';
export { createLogger } from './core/logger.js';
export { type DedupOutcome, DedupPipeline } from './core/pipeline.js';
export { createKeyStrategy, type DedupKey } from './events/keys.js';
export { type App, type BuildAppOptions, buildApp } from './http/app.js';
export { createSink, type Sink, type SinkContext } from './sinks/index.js';
export { createStore, type IdempotencyStore, MemoryStore, RedisStore } from './store/index.js';
