import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { main } from '../../src/cli/main.js';
import { partitionOf } from '../../src/sinks/redis-stream.js';
import type { RedisStore } from '../../src/store/redis/index.js';
import { redisStore } from '../helpers/app.js';
import { sleep, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { uniqueEvent } from '../helpers/samples.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { streamSink } from '../helpers/sinks.js';
import { captureContext } from './helpers/context.js';

let redis: RedisServer;
let store: RedisStore;

beforeAll(async () => {
  redis = await RedisServer.start();
  store = redisStore(redis.url) as RedisStore;
  await store.connect();
});

afterAll(async () => {
  await store.close();
  await redis.close();
});

beforeEach(async () => {
  await redis.client().flushall();
});

/** Appends events as the receiver's redis-stream sink does, each as the text `asSent` makes of it. */
async function append(
  count: number,
  partitions = 1,
  asSent: (event: Record<string, unknown>) => string = (event) => JSON.stringify(event),
): Promise<string[]> {
  const sink = streamSink(store, 'ebdedup:events', partitions);
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const event = uniqueEvent();
    // Entries go round the partitions in turn, so every partition holds some whatever ids were drawn.
    let key = `k${index}-${String(event.id)}`;
    while (partitionOf(key, partitions) !== index % partitions) key = `k${index}-${randomUUID()}`;
    await sink.processOnce(
      event,
      {
        key,
        rawBody: asSent(event),
        eventId: String(event.id),
        detailType: 'd',
        signal: new AbortController().signal,
        logger: undefined as never,
      },
      86_400,
    );
    ids.push(String(event.id));
  }
  return ids;
}

async function pending(stream = 'ebdedup:events', group = 'g'): Promise<number> {
  const [count] = (await redis.client().xpending(stream, group)) as [number];
  return count;
}

/** `ebdedup consume --group g --once` on the test server, with `options` after. */
function consumeOnce(...options: string[]) {
  return captureContext(['consume', '--group', 'g', '--redis-url', redis.url, '--once', ...options]);
}

describe('ebdedup consume', () => {
  it('prints each entry once as a JSON line and acknowledges it', async () => {
    // Arrange
    const ids = await append(3);
    const run = consumeOnce();

    // Act
    const code = await main(run.ctx);

    // Assert
    expect(code).toBe(0);
    const lines = run
      .stdoutLines()
      .map((line) => JSON.parse(line) as { id: string; event: { id: string }; key: string });
    expect(lines.map((line) => line.id)).toEqual(ids);
    expect(lines.map((line) => line.event.id)).toEqual(ids);
    expect(lines.every((line) => line.key.startsWith('k'))).toBe(true);
    expect(await pending()).toBe(0);
  });

  it('prints the event as the text the receiver was sent, on one line, its numbers unchanged', async () => {
    // Arrange: laid out over several lines, with numbers a parse and re-serialisation would change.
    await append(1, 1, (event) =>
      JSON.stringify(event, null, 2).replace(
        '"detail": {',
        '"detail": {\n "seq": 9007199254740993, "ratio": 1.0,',
      ),
    );
    const run = consumeOnce();

    // Act
    const code = await main(run.ctx);

    // Assert
    expect(code).toBe(0);
    const lines = run.stdoutLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"seq": 9007199254740993, "ratio": 1.0,');
    expect(JSON.parse(lines[0] as string).event.detail.ratio).toBe(1);
  });

  it('reads every partition', async () => {
    await append(12, 3);
    const run = consumeOnce('--partitions', '3');

    await main(run.ctx);

    const streams = new Set(run.stdoutLines().map((line) => (JSON.parse(line) as { stream: string }).stream));
    expect(run.stdoutLines()).toHaveLength(12);
    expect(streams).toEqual(new Set(['ebdedup:events{p0}', 'ebdedup:events{p1}', 'ebdedup:events{p2}']));
  });

  it('pipes each event to --exec and acknowledges only after it succeeds', async () => {
    await append(2);
    const out = join(mkdtempSync(join(tmpdir(), 'ebdedup-consume-')), 'handled.jsonl');
    const failing = consumeOnce('--exec', 'exit 3');
    const working = consumeOnce('--min-idle-ms', '0', '--exec', `cat >> ${out}`);

    const failingCode = await main(failing.ctx);
    const leftPending = await pending();
    const workingCode = await main(working.ctx);

    expect(failingCode).toBe(1);
    expect(leftPending).toBe(2);
    expect(failing.stderr()).toMatch(/handler exited 3 .* left pending/);
    expect(failing.stderr()).toContain('consume: 2 entries left pending after the handler failed\n');
    expect(workingCode).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(await pending()).toBe(0);
  });

  it('with --once, exits 0 when an entry whose handler failed is handled by a later attempt of the run', async () => {
    // Arrange: the handler fails the first time only; --min-idle-ms 0 reclaims the entry in the same run.
    await append(1);
    const marker = join(mkdtempSync(join(tmpdir(), 'ebdedup-consume-')), 'tried');
    const run = consumeOnce(
      '--min-idle-ms',
      '0',
      '--exec',
      `if [ -e ${marker} ]; then cat >/dev/null; else touch ${marker}; exit 3; fi`,
    );

    // Act
    const code = await main(run.ctx);

    // Assert
    expect(run.stderr()).toMatch(/handler exited 3/);
    expect(code).toBe(0);
    expect(await pending()).toBe(0);
  });

  it('reclaims entries a killed consumer left pending', async () => {
    // Arrange: a real consumer process takes an entry and hangs in its handler; then it is killed.
    await append(1);
    const dead = spawn(
      'node',
      [
        'dist/cli/index.js',
        'consume',
        '--group',
        'g',
        '--consumer',
        'dead',
        '--redis-url',
        redis.url,
        '--exec',
        'sleep 30',
      ],
      { cwd: REPO_ROOT, stdio: 'ignore', detached: true },
    );
    onTestFinished(() => {
      try {
        process.kill(-(dead.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
    });
    await waitFor(async () => (await pending()) === 1, 10_000, 'the dead consumer to take the entry');
    process.kill(-(dead.pid as number), 'SIGKILL');
    await sleep(300);
    const alive = captureContext([
      'consume',
      '--group',
      'g',
      '--consumer',
      'alive',
      '--redis-url',
      redis.url,
      '--min-idle-ms',
      '200',
      '--once',
    ]);

    // Act
    await main(alive.ctx);

    // Assert
    expect(alive.stdoutLines()).toHaveLength(1);
    expect(await pending()).toBe(0);
  });

  it('stops cleanly on SIGTERM with exit code 0', async () => {
    const child = spawn(
      'node',
      ['dist/cli/index.js', 'consume', '--group', 'g', '--redis-url', redis.url, '--block-ms', '5000'],
      {
        cwd: REPO_ROOT,
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(
      async () => ((await redis.client().xinfo('GROUPS', 'ebdedup:events')) as unknown[]).length === 1,
      10_000,
      'the group',
    );
    await sleep(200);

    const started = Date.now();
    child.kill('SIGTERM');
    const code = await exited;

    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('stops cleanly on a SIGTERM to $! when started as an installed bin (node_modules/.bin), not through npx', async () => {
    // Arrange: a project with the package installed, its bin linked as npm links it. Run directly, the bin's
    // process is the consumer itself (`npx` would put a shell between them that does not pass the signal on).
    const project = mkdtempSync(join(tmpdir(), 'ebdedup-project-'));
    mkdirSync(join(project, 'node_modules/.bin'), { recursive: true });
    symlinkSync(REPO_ROOT, join(project, 'node_modules/genesys-eventbridge-dedup'));
    symlinkSync('../genesys-eventbridge-dedup/dist/cli/index.js', join(project, 'node_modules/.bin/ebdedup'));
    const child = spawn(
      './node_modules/.bin/ebdedup',
      ['consume', '--group', 'g', '--redis-url', redis.url, '--block-ms', '5000'],
      { cwd: project, stdio: 'ignore' },
    );
    onTestFinished(() => void child.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(
      async () => ((await redis.client().xinfo('GROUPS', 'ebdedup:events')) as unknown[]).length === 1,
      10_000,
      'the group',
    );

    // Act
    process.kill(child.pid as number, 'SIGTERM');
    const code = await Promise.race([exited, sleep(3000).then(() => 'still running')]);

    // Assert
    expect(code).toBe(0);
  });

  it('needs a group and a Redis URL', async () => {
    const noGroup = captureContext(['consume', '--redis-url', redis.url]);
    const noRedis = captureContext(['consume', '--group', 'g']);

    expect(await main(noGroup.ctx)).toBe(2);
    expect(await main(noRedis.ctx)).toBe(2);
    expect(noRedis.stderr()).toMatch(/REDIS_URL/);
  });

  it('names a Redis URL it cannot parse without its password, and exits 2', async () => {
    // Arrange: each password ends the authority early (at / or ?), so the URL does not parse
    const fromOption = captureContext([
      'consume',
      '--group',
      'g',
      '--redis-url',
      'redis://:pa/secret@127.0.0.1:6379',
    ]);
    const fromEnv = captureContext(['consume', '--group', 'g'], {
      env: { REDIS_URL: 'redis://default:p?secret@127.0.0.1:6379/0' },
    });

    // Act
    const codes = [await main(fromOption.ctx), await main(fromEnv.ctx)];

    // Assert
    expect(codes).toEqual([2, 2]);
    expect(fromOption.stderr()).toBe(
      'ebdedup consume: --redis-url "redis://***@127.0.0.1:6379" is not a Redis URL\n',
    );
    expect(fromEnv.stderr()).toBe(
      'ebdedup consume: REDIS_URL "redis://***@127.0.0.1:6379/0" is not a Redis URL\n',
    );
    for (const run of [fromOption, fromEnv]) expect(run.stdout() + run.stderr()).not.toContain('secret');
  });

  it('names the Redis it cannot reach without a password that / cut short', async () => {
    // Arrange: this parses as user-less host 127.0.0.1, port 1 (nothing listens), path `/pw-secret@…`
    const run = captureContext(['consume', '--group', 'g', '--once'], {
      env: { REDIS_URL: 'redis://127.0.0.1:1/pw-secret@127.0.0.1:6379' },
    });

    // Act
    const code = await main(run.ctx);

    // Assert
    expect(code).toBe(1);
    expect(run.stderr()).toMatch(/^consume: redis:\/\/\*\*\*@127\.0\.0\.1:6379: /);
    expect(run.stdout() + run.stderr()).not.toContain('secret');
  });
});
