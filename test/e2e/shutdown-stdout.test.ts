import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { AUDIT, loadSample } from '../helpers/samples.js';
import { ServerProcess } from '../helpers/server-process.js';

/**
 * Issue 20, part 1: SIGTERM must end the built server within SHUTDOWN_TIMEOUT_MS whatever its stdout does. Before,
 * with stdout a pipe whose reader had gone (`node dist/main.js | head -2`), the port closed and the process never
 * exited: pino's exit-time flush retried the EPIPE for ever.
 */

const API_KEY = 'shutdown-key-5d1c';
const SHUTDOWN_TIMEOUT_MS = 1500;
/** Process start-up and exit around the shutdown itself. */
const SLACK_MS = 1000;

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

async function startServer(): Promise<ServerProcess> {
  const server = await ServerProcess.start({
    REDIS_URL: redis.url,
    API_KEYS: API_KEY,
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });
  onTestFinished(() => void server.stop('SIGKILL'));
  return server;
}

/** SIGTERM to the node process; its exit, or undefined when it is still running after the deadline. */
async function terminate(server: ServerProcess) {
  const sent = Date.now();
  server.child.kill('SIGTERM');
  const exit = await Promise.race([server.exited, sleep(SHUTDOWN_TIMEOUT_MS + SLACK_MS)]);
  return { exit, ms: Date.now() - sent };
}

/** The pid of the `node dist/main.js` that `parent` (a shell) started: Linux lists a task's children in /proc. */
function receiverPid(parent: ServerProcess): number {
  const pid = parent.child.pid as number;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const node = children.find((child) =>
    readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('dist/main.js'),
  );
  if (node === undefined) throw new Error(`no node dist/main.js among the children of ${pid}`);
  return node;
}

async function listening(server: ServerProcess): Promise<boolean> {
  return fetch(`${server.url}/healthz`).then(
    () => true,
    () => false,
  );
}

/** An event whose log line (the log sink prints the body) is about `size` bytes long. */
function bigEvent(n: number, size: number): string {
  return JSON.stringify({ ...loadSample(AUDIT), source: 'custom.app', detail: { n, pad: 'x'.repeat(size) } });
}

function deliver(server: ServerProcess, body: string) {
  return fetch(`${server.url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body,
  });
}

describe('the built server on SIGTERM, whatever stdout does', () => {
  it("exits 0 within SHUTDOWN_TIMEOUT_MS when stdout's reader has gone (`| head -2`)", async () => {
    // Arrange: the command, on the default (memory) store: head reads two lines and exits, so the next
    // line the receiver writes (the shutdown's first) meets a broken pipe. bash reports node's exit code.
    const pipeline = await ServerProcess.start(
      { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
      {
        command: [
          'bash',
          '-c',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's PIPESTATUS, not a template
          'node dist/main.js 2>/dev/null | head -2; echo "node exited ${PIPESTATUS[0]}" >&2',
        ],
      },
    );
    onTestFinished(() => void pipeline.stop('SIGKILL'));
    const node = receiverPid(pipeline);

    // Act
    const sent = Date.now();
    process.kill(node, 'SIGTERM');
    const exit = await Promise.race([pipeline.exited, sleep(SHUTDOWN_TIMEOUT_MS + SLACK_MS)]);
    const ms = Date.now() - sent;

    // Assert
    expect(pipeline.stdout.trim().split('\n')).toHaveLength(2);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(pipeline.stderr).toContain('node exited 0');
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS + SLACK_MS);
    expect(await listening(pipeline)).toBe(false);
  });

  it("exits 1 by SHUTDOWN_TIMEOUT_MS when stdout's reader stops reading (a full pipe)", async () => {
    // Arrange: the reader stops reading; log lines fill the pipe and the reader's buffer (a few hundred KB).
    const server = await startServer();
    server.child.stdout?.pause();
    for (let n = 0; n < 12; n += 1) expect((await deliver(server, bigEvent(n, 40_000))).status).toBe(200);

    // Act
    const { exit, ms } = await terminate(server);

    // Assert: the close completed, the last lines could not be written by the deadline.
    expect(exit).toEqual({ code: 1, signal: null });
    expect(ms).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS + SLACK_MS);
    expect(await listening(server)).toBe(false);
  });
});
