import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import type { DrainResult } from './log-destination.js';

export interface ShutdownSteps {
  /** SHUTDOWN_TIMEOUT_MS: the whole shutdown, the last log lines included, ends within it. */
  timeoutMs: number;
  logger: Logger;
  /** Stops accepting, finishes in-flight requests, closes the sink and the store (the app's close). */
  close: () => Promise<void>;
  /** Waits for the log lines written so far to reach stdout, for at most the time given. */
  drainLogs: (timeoutMs: number) => Promise<DrainResult>;
}

/** What started the shutdown: a signal, or an uncaught error (close-with-grace's events). */
export interface ShutdownCause {
  signal?: string;
  err?: Error;
}

/** The share of SHUTDOWN_TIMEOUT_MS kept for writing the last log lines after the close. */
export function logDrainBudgetMs(timeoutMs: number): number {
  return Math.min(500, Math.floor(timeoutMs / 4));
}

/** Ends the shutdown this much before close-with-grace's last-resort exit at the same deadline. */
const MARGIN_MS = 20;

/**
 * Runs the shutdown and resolves its exit code, always within `timeoutMs`: 0 when the close completed and the
 * last log lines were written (or stdout's reader is gone), 1 when the close failed or ran out of time, stdout
 * stalled past the deadline, or an uncaught error started it. Nothing here can block: the log lines get what is
 * left of the deadline.
 */
export async function shutdown(steps: ShutdownSteps, cause: ShutdownCause = {}): Promise<number> {
  const { timeoutMs, logger } = steps;
  const started = Date.now();
  if (cause.err) logger.error({ err: cause.err }, 'shutting down after an uncaught error');
  else logger.info({ signal: cause.signal }, 'shutting down: finishing in-flight requests');

  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs - logDrainBudgetMs(timeoutMs));
  });
  const closed = await Promise.race([
    steps.close().then(
      () => 'closed' as const,
      (error: unknown) => ({ error }),
    ),
    outOfTime,
  ]);
  clearTimeout(timer);

  let code = cause.err ? 1 : 0;
  if (closed === 'closed') {
    logger.info('shutdown complete');
  } else if (closed === 'timeout') {
    code = 1;
    logger.error({ timeoutMs }, 'shutdown timed out (SHUTDOWN_TIMEOUT_MS): exiting with work unfinished');
  } else {
    code = 1;
    logger.error({ err: closed.error }, 'shutdown failed');
  }
  // Stdout stalled past the deadline is a shutdown that did not finish: its last lines are lost. A reader that
  // went away (EPIPE) is not: nobody is left to read them.
  const drained = await steps.drainLogs(timeoutMs - MARGIN_MS - (Date.now() - started));
  return drained === 'timeout' ? 1 : code;
}

/**
 * A second SIGTERM/SIGINT this soon after the first is the same stop delivered twice, not an impatient operator:
 * `npm start` forwards the signal to the receiver (its script `exec`s node), and Ctrl-C or a process manager
 * signals the whole process group, npm and the receiver alike.
 */
const DUPLICATE_SIGNAL_MS = 500;

/** How long the line saying why a second signal forces the exit may take to reach stdout. */
const FORCED_EXIT_DRAIN_MS = 100;

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * On SIGTERM or SIGINT (or an uncaught error), runs `shutdown` and exits with its code. A second signal exits 1
 * at once, unless it is the first one's duplicate (DUPLICATE_SIGNAL_MS). close-with-grace handles the uncaught
 * errors and the other signals, and its delay, at `timeoutMs`, stays as the last resort: it exits 1 should the
 * shutdown itself not return in time.
 */
export function exitOnSignal(steps: ShutdownSteps): void {
  let first: { signal: string; at: number } | undefined;
  let closing = false;
  const grace = closeWithGrace(
    {
      delay: steps.timeoutMs,
      logger: steps.logger,
      skip: [...STOP_SIGNALS],
      onTimeout: (delay) => steps.logger.error({ timeoutMs: delay }, 'shutdown did not return: exiting 1'),
    },
    async ({ err, signal }) => {
      closing = true;
      process.exit(await shutdown(steps, err ? { err } : { signal: signal ?? first?.signal }));
    },
  );
  const onSignal = (signal: NodeJS.Signals) => {
    if (!closing) {
      first = { signal, at: Date.now() };
      grace.close();
      return;
    }
    if (first !== undefined && Date.now() - first.at < DUPLICATE_SIGNAL_MS) return;
    steps.logger.error({ signal }, 'second signal during the shutdown: exiting 1 now');
    void steps.drainLogs(FORCED_EXIT_DRAIN_MS).then(() => process.exit(1));
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
}
