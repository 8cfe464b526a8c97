import type { DestinationStream } from 'pino';
import sonicBoom from 'sonic-boom';

// A CommonJS module: its exports object is the class, which also carries itself as `SonicBoom` (the typed name).
const { SonicBoom } = sonicBoom;

/** How a wait for the log lines ended. */
export type DrainResult = 'written' | 'failed' | 'timeout';

/**
 * The receiver's log lines on stdout, written asynchronously by sonic-boom as pino's default destination is,
 * but unable to hold the process open at exit (issue 20).
 *
 * pino's default destination flushes synchronously when the process exits, and sonic-boom 4's `flushSync`
 * retries a failed write for ever, EPIPE included (sonic-boom 5 throws on such errors; pino 10 still uses 4):
 * with stdout a pipe whose reader had exited (`node dist/main.js | head -2`), SIGTERM closed the port and the
 * process never exited, past SHUTDOWN_TIMEOUT_MS too (its `process.exit` ran the same flush). Here nothing is
 * flushed at exit: the shutdown awaits `drain()`, bounded by its deadline, and a broken pipe (EPIPE: the reader
 * is gone) stops the logging, as pino does for its own destination, instead of failing the receiver.
 *
 * The file descriptor must not block: a thread-pool write stuck on a full pipe (a reader that stopped reading)
 * would hold `process.exit` too, which waits for the thread pool. Reading `process.stdout.fd` makes Node open a
 * pipe non-blocking (pino's default does the same), so such a write returns EAGAIN and sonic-boom retries it on
 * a timer instead.
 */
export class StdoutLog implements DestinationStream {
  private readonly boom: InstanceType<typeof SonicBoom>;
  /** Lines handed to sonic-boom since its last 'drain' (everything written). */
  private pending = false;
  /** Set by the first write error; later lines are dropped. */
  private failure: NodeJS.ErrnoException | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(fd: number = process.stdout.fd) {
    this.boom = new SonicBoom({ fd, sync: false });
    this.boom.on('drain', () => {
      this.pending = false;
      this.wake();
    });
    this.boom.on('error', (error: NodeJS.ErrnoException) => {
      this.failure = error;
      this.wake();
      // Only a reader that went away is expected; anything else (EBADF, ENOSPC, EIO) stays an error of the
      // process, as with pino's default destination, so it is not left running unable to log.
      if (error.code !== 'EPIPE') throw error;
    });
  }

  /** Called by pino for every line: the hot path, so it only hands the line on. */
  write(line: string): void {
    if (this.failure !== undefined) return;
    this.pending = true;
    this.boom.write(line);
  }

  /**
   * Resolves once every line written so far has reached stdout ('written'), stdout failed ('failed'), or after
   * `timeoutMs` (stdout stalled: its reader does not read). Never rejects.
   */
  drain(timeoutMs: number): Promise<DrainResult> {
    const state = (): DrainResult | undefined => {
      if (this.failure !== undefined) return 'failed';
      return this.pending ? undefined : 'written';
    };
    const now = state();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      const finish = (result: DrainResult) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(result);
      };
      const check = () => {
        const result = state();
        if (result !== undefined) finish(result);
      };
      const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs));
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
