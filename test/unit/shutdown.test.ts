import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DrainResult, StdoutLog } from '../../src/core/log-destination.js';
import { createLogger } from '../../src/core/logger.js';
import { logDrainBudgetMs, type ShutdownSteps, shutdown } from '../../src/core/shutdown.js';
import { LogCapture } from '../helpers/app.js';

const never = <T>() => new Promise<T>(() => {});

function steps(overrides: Partial<ShutdownSteps> = {}): { steps: ShutdownSteps; logs: LogCapture } {
  const logs = new LogCapture();
  return {
    logs,
    steps: {
      timeoutMs: 400,
      logger: createLogger({ level: 'info', destination: logs.stream }),
      close: async () => {},
      drainLogs: async (): Promise<DrainResult> => 'written',
      ...overrides,
    },
  };
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

describe('shutdown', () => {
  it('resolves 0 and logs "shutdown complete" when the close completes', async () => {
    const { steps: given, logs } = steps();

    const code = await shutdown(given, { signal: 'SIGTERM' });

    expect(code).toBe(0);
    expect(logs.lines().map((line) => line.msg)).toEqual([
      'shutting down: finishing in-flight requests',
      'shutdown complete',
    ]);
  });

  it('resolves 1 within the timeout when the close never ends, leaving time to write the last lines', async () => {
    let drainBudget = 0;
    const { steps: given, logs } = steps({
      close: never,
      drainLogs: async (ms) => {
        drainBudget = ms;
        return 'written';
      },
    });

    const { value: code, ms } = await timed(shutdown(given, { signal: 'SIGTERM' }));

    expect(code).toBe(1);
    expect(ms).toBeLessThan(given.timeoutMs);
    expect(drainBudget).toBeGreaterThan(logDrainBudgetMs(given.timeoutMs) / 2);
    expect(logs.lines().at(-1)).toMatchObject({ level: 50, timeoutMs: 400 });
  });

  it('resolves 1 by the timeout when stdout stalls, even after a completed close', async () => {
    const { steps: given } = steps({
      drainLogs: (ms) => new Promise((resolve) => setTimeout(() => resolve('timeout'), ms)),
    });

    const { value: code, ms } = await timed(shutdown(given, { signal: 'SIGTERM' }));

    expect(code).toBe(1);
    expect(ms).toBeLessThan(given.timeoutMs);
  });

  it("resolves 0 when stdout's reader has gone: nobody is left to read the lines", async () => {
    const { steps: given } = steps({ drainLogs: async () => 'failed' });

    expect(await shutdown(given, { signal: 'SIGTERM' })).toBe(0);
  });

  it('resolves 1 when the close fails or an uncaught error started the shutdown', async () => {
    const failing = steps({ close: async () => Promise.reject(new Error('redis quit failed')) });
    const uncaught = steps();

    const afterFailure = await shutdown(failing.steps, { signal: 'SIGTERM' });
    const afterError = await shutdown(uncaught.steps, { err: new Error('boom') });

    expect(afterFailure).toBe(1);
    expect(failing.logs.lines().at(-1)).toMatchObject({ msg: 'shutdown failed' });
    expect(afterError).toBe(1);
  });
});

describe('StdoutLog', () => {
  it('writes every line to its file descriptor and says when they are out', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ebdedup-log-')), 'out.log');
    const fd = openSync(file, 'w');
    const log = new StdoutLog(fd);

    for (let n = 0; n < 1000; n += 1) log.write(`{"n":${n}}\n`);
    const result = await log.drain(2000);
    closeSync(fd);

    expect(result).toBe('written');
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1000);
  });

  it('resolves at once when nothing was written', async () => {
    const fd = openSync(join(mkdtempSync(join(tmpdir(), 'ebdedup-log-')), 'out.log'), 'w');
    const log = new StdoutLog(fd);

    const { value, ms } = await timed(log.drain(1000));
    closeSync(fd);

    expect(value).toBe('written');
    expect(ms).toBeLessThan(100);
  });
});
