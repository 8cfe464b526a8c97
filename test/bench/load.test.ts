import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad, runPaced } from '../../bench/lib/load.js';

/** The two load generators against a tiny local server that records what it receives (well under a second). */
describe('bench load generators', () => {
  let server: Server;
  let url = '';
  const seen: { headers: Record<string, unknown>; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        seen.push({ headers: request.headers, body });
        response.writeHead(body.includes('"fail"') ? 409 : 200, { 'content-type': 'application/json' });
        response.end('{"status":"ok"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends exactly `amount` requests with EventBridge headers and a body each, and counts statuses', async () => {
    seen.length = 0;
    let n = 0;
    const result = await runLoad({
      url,
      path: '/events',
      apiKey: 'k',
      connections: 5,
      amount: 60,
      nextBody: () => JSON.stringify({ n: n++, kind: n % 10 === 0 ? 'fail' : 'ok' }),
    });
    expect(result.requests).toBe(60);
    expect(result.ok + result.non2xx).toBe(60);
    expect(result.statusCodes['409']).toBe(result.non2xx);
    expect(result.non2xx).toBeGreaterThan(0);
    expect(result.latency.count).toBe(60);
    expect(seen).toHaveLength(60);
    expect(seen[0]?.headers).toMatchObject({
      'x-api-key': 'k',
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Amazon/EventBridge/ApiDestinations',
    });
    expect(new Set(seen.map((request) => request.body)).size).toBe(60);
  });

  it('paces requests evenly at the asked rate', async () => {
    seen.length = 0;
    const started = performance.now();
    const result = await runPaced({
      url,
      path: '/events',
      apiKey: 'k',
      rate: 200,
      durationS: 0.5,
      connections: 5,
      nextBody: () => '{"kind":"ok"}',
    });
    const elapsedMs = performance.now() - started;
    expect(result).toMatchObject({ sent: 100, ok: 100, non2xx: 0, errors: 0 });
    expect(result.latency.count).toBe(100);
    expect(elapsedMs).toBeGreaterThan(450);
    expect(elapsedMs).toBeLessThan(3000);
    expect(seen).toHaveLength(100);
  });
});
