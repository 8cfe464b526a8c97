import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { AUDIT, loadSample } from '../helpers/samples.js';
import { ServerProcess } from '../helpers/server-process.js';
import { slowSinkModule } from '../helpers/sinks.js';

/**
 * Issue 20, part 2: stopping `npm start` must stop the receiver. npm forwards SIGTERM and SIGINT to its script's
 * process, which was `sh -c "node …"`: the shell died of the signal and node, re-parented, kept serving. The
 * script now `exec`s node, so the process npm signals is the receiver.
 */

const API_KEY = 'npm-start-key-93be';
/** npm's own start-up and exit around the receiver's. */
const EXIT_WITHIN_MS = 8000;

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

/** Every process under `pid` (Linux lists a task's children in /proc). */
function descendants(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  const children = readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/** False once `pid` has exited (a zombie waiting for a parent that does not reap counts as exited). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function listening(server: ServerProcess): Promise<boolean> {
  return fetch(`${server.url}/healthz`).then(
    () => true,
    () => false,
  );
}

async function npmStart(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await ServerProcess.start(
    { REDIS_URL: redis.url, API_KEYS: API_KEY, ...env },
    { command: ['npm', 'start', '--silent'] },
  );
  onTestFinished(() => {
    // The whole group, even once npm has gone: a receiver it left behind (the bug) is still in it.
    try {
      process.kill(-(server.child.pid as number), 'SIGKILL');
    } catch {
      // nothing left
    }
  });
  return server;
}

describe('stopping `npm start`', () => {
  it("stops the receiver on a SIGTERM to npm's own pid (`npm start & kill -TERM $!`)", async () => {
    // Arrange
    const npm = await npmStart();
    const under = descendants(npm.child.pid as number);

    // Act: the one process a shell's `$!` names.
    npm.child.kill('SIGTERM');
    const exit = await Promise.race([npm.exited, sleep(EXIT_WITHIN_MS)]);
    await sleep(200);

    // Assert
    expect(under.length).toBeGreaterThan(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(under.filter(running)).toEqual([]);
    expect(await listening(npm)).toBe(false);
    expect(npm.stdout).toContain('shutdown complete');
  });

  it('finishes the in-flight request when the whole process group gets SIGTERM (Ctrl-C, a process manager)', async () => {
    // Arrange: npm forwards the signal and the receiver gets the group's copy too: one stop, not two.
    const module = slowSinkModule(700);
    const npm = await npmStart({ SINK: 'module', SINK_MODULE: module });
    const body = JSON.stringify({ ...loadSample(AUDIT), source: 'custom.app', detail: { n: Date.now() } });
    const inFlight = fetch(`${npm.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body,
    });
    await sleep(200);

    // Act
    const exited = npm.stop('SIGTERM');
    const response = await inFlight;
    const exit = await Promise.race([exited, sleep(EXIT_WITHIN_MS)]);

    // Assert
    expect(response.status).toBe(200);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(npm.stdout.match(/shutdown complete/g)).toHaveLength(1);
    expect(await listening(npm)).toBe(false);
  });
});
