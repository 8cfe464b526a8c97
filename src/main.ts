import { ConfigError, loadConfig, secretValues } from './config/index.js';
import { openDependencies } from './core/create-pipeline.js';
import { StdoutLog } from './core/log-destination.js';
import { createLogger } from './core/logger.js';
import { exitOnSignal } from './core/shutdown.js';
import { buildApp } from './http/app.js';

/** How long a failed start waits for its log lines to reach stdout before exiting. */
const START_FAILURE_DRAIN_MS = 1000;

const logs = new StdoutLog();

/** Wires the receiver from the environment, starts it, and shuts it down on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The logger is not built yet (its level is configuration too): the one line goes straight to stderr.
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }

  const logger = createLogger({
    level: config.LOG_LEVEL,
    secrets: secretValues(config),
    secretHeaders: [config.API_KEY_HEADER, config.DEDUP_HEADER],
    destination: logs,
  });
  if (config.apiKeyGenerated) {
    // Printed once, by design: outside production this is the only way to learn the key to send.
    process.stderr.write(
      `API_KEYS is unset: accepting the generated development key below in header '${config.API_KEY_HEADER}'.\n` +
        `  ${config.API_KEYS[0]}\n` +
        `Set API_KEYS to choose your own (required when NODE_ENV=production).\n`,
    );
  }

  // A wrong rules file or a sink that cannot be opened fails here, leaving nothing open; from here on the app
  // owns the store and the sink, and closing it closes them.
  const { rules, store, sink } = await openDependencies(config, logger);
  const app = await buildApp({ config, store, sink, logger, rules });

  exitOnSignal({
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    logger,
    close: () => app.close(),
    drainLogs: (ms) => logs.drain(ms),
  });

  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(
    {
      events: config.EVENTS_PATH,
      store: store.kind,
      sink: sink.name,
      auth: config.AUTH_MODE,
      strategy: config.DEDUP_STRATEGY,
      protocol: config.TLS_CERT_FILE === undefined ? 'http' : 'https',
      metrics: config.METRICS_TOKEN === undefined ? 'open' : 'token',
      admin: config.ADMIN_TOKEN.length > 0,
    },
    'receiver ready',
  );
}

main().catch(async (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`ebdedup failed to start: ${message}\n`);
  // Lines logged before the failure (a store that would not connect, say) are not flushed at exit.
  await logs.drain(START_FAILURE_DRAIN_MS);
  process.exit(1);
});
