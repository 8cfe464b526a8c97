import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../helpers/redis-server.js';
import { uniqueEvent } from '../helpers/samples.js';
import { ServerProcess } from '../helpers/server-process.js';

/**
 * The bad inputs of issue 16 against the built server (`node dist/main.js`, as `npm start` runs it), on a
 * real Redis, with the log sink: each gets a final 4xx that names the problem, and what the sink writes is the
 * body as it was sent.
 */

const API_KEY = 'hardening-key-4d1c';
const BODY_LIMIT_BYTES = 64 * 1024;

let redis: RedisServer;
let server: ServerProcess;

beforeAll(async () => {
  redis = await RedisServer.start();
  server = await ServerProcess.start({
    REDIS_URL: redis.url,
    API_KEYS: API_KEY,
    BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
    LOG_LEVEL: 'info',
  });
});

afterAll(async () => {
  await server.stop('SIGTERM');
  await redis.close();
});

function deliver(body: string | Buffer, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': API_KEY, ...headers },
    body,
  });
}

/** What a client that does not wait for `100 Continue` sees: it sends every byte, reading as it goes. */
function sendWhole(
  headers: string,
  total: number,
): Promise<{ sent: number; answer: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    let sent = 0;
    let answer = '';
    let error: string | undefined;
    socket.on('data', (data: Buffer) => {
      answer += data.toString('latin1');
    });
    socket.on('error', (failure: NodeJS.ErrnoException) => {
      error = failure.code ?? failure.message;
    });
    socket.on('close', () => resolve({ sent, answer, ...(error ? { error } : {}) }));
    socket.write(`POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Content-Length: ${total}\r\n\r\n`);
    const pump = (): void => {
      if (socket.destroyed) return;
      if (sent >= total) {
        // All sent: give the server a moment to finish, then hang up ourselves.
        setTimeout(() => socket.end(), 200);
        return;
      }
      sent += chunk.length;
      // Paced, so that the answer comes while the body is still on its way.
      socket.write(chunk, () => setTimeout(pump, 1));
    };
    pump();
  });
}

describe('bad input through the built server', () => {
  it('answers 400 naming the path of a number beyond double range, and never 500', async () => {
    const event = uniqueEvent();
    const text = JSON.stringify(event).replace('"eventBody":{', '"eventBody":{"x":1e400,');

    const response = await deliver(text);

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_event',
      issues: [
        { path: 'detail.eventBody.x', message: 'is a number beyond the range of a double (IEEE-754)' },
      ],
    });
  });

  it('logs the event as the text it was sent, not a re-serialised copy', async () => {
    const event = uniqueEvent();
    const text = JSON.stringify(event, null, 2).replace(
      '"detail": {',
      '"detail": {\n    "seq": 9007199254740993, "ratio": 1.0,',
    );

    const response = await deliver(text);
    const { key } = (await response.json()) as { key: string };
    await new Promise((resolve) => setTimeout(resolve, 100));
    const line = server.stdout
      .split('\n')
      .filter((candidate) => candidate.includes('"event processed"'))
      .map((candidate) => JSON.parse(candidate) as { key: string; event: unknown })
      .find((candidate) => candidate.key === key);

    expect(response.status).toBe(200);
    expect(line?.event).toBe(text);
  });

  it.each([
    ['413 for a body over the limit', `Content-Type: application/json\r\nx-api-key: ${API_KEY}\r\n`, '413'],
    ['401 for wrong credentials', 'Content-Type: application/json\r\nx-api-key: wrong\r\n', '401'],
    ['415 for a body that is not JSON', `Content-Type: text/xml\r\nx-api-key: ${API_KEY}\r\n`, '415'],
  ])(
    'delivers the early %s to a client still sending its body, with no reset',
    async (_name, headers, status) => {
      // Arrange: three times the body limit, sent whole, as fetch or an SDK sends it without Expect: 100-continue.
      const total = 3 * BODY_LIMIT_BYTES;

      // Act
      const { sent, answer, error } = await sendWhole(headers, total);

      // Assert
      expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      expect(error).toBeUndefined();
      expect(sent).toBeGreaterThanOrEqual(total);
    },
  );

  it('closes the connection of a client that keeps sending past four body limits after a 413', async () => {
    const total = 40 * BODY_LIMIT_BYTES;

    const { sent } = await sendWhole(`Content-Type: application/json\r\nx-api-key: ${API_KEY}\r\n`, total);

    expect(sent).toBeLessThan(total);
  });

  it('answers 415 naming a Content-Encoding, with Accept-Encoding: identity', async () => {
    const body = gzipSync(JSON.stringify(uniqueEvent()));

    const response = await deliver(body, { 'content-encoding': 'gzip' });

    expect(response.status).toBe(415);
    expect(response.headers.get('accept-encoding')).toBe('identity');
    expect(await response.json()).toEqual({
      error: 'unsupported_media_type',
      message: "Content-Encoding 'gzip' is not supported: send the body uncompressed",
    });
  });

  it.each([
    ['"__proto__":{"polluted":true}', 'detail.eventBody.__proto__', /__proto__ is not allowed/],
    [
      '"constructor":{"prototype":{"x":1}}',
      'detail.eventBody.constructor',
      /constructor key holding a prototype/,
    ],
  ])('answers 400 naming a forbidden key and its path (%s)', async (member, path, message) => {
    const text = JSON.stringify(uniqueEvent()).replace('"eventBody":{', `"eventBody":{${member},`);

    const response = await deliver(text);
    const body = (await response.json()) as { error: string; issues: { path: string; message: string }[] };

    expect(response.status).toBe(400);
    expect(body.error).toBe('invalid_event');
    expect(body.issues).toEqual([{ path, message: expect.stringMatching(message) }]);
  });
});
