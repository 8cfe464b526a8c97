import { describe, expect, it } from 'vitest';
import { API_KEY, testApp } from '../helpers/app.js';

describe('answers Fastify would otherwise shape itself', () => {
  it.each(['/events%ZZ', '/%E0%A4%A'])(
    'answers 400 {"error":"bad_request"} with the security headers for %s',
    async (url) => {
      const { app } = await testApp();

      const response = await app.inject({
        method: 'POST',
        url,
        headers: { 'x-api-key': API_KEY },
        payload: '{}',
      });

      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: 'bad_request' });
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cache-control']).toBe('no-store');
    },
  );

  it('advertises the keep-alive timeout it enforces, CONNECTION_TIMEOUT_MS', async () => {
    const { app } = await testApp({ env: { CONNECTION_TIMEOUT_MS: '12000' } });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });

    const response = await fetch(`${address}/healthz`);

    expect(response.headers.get('keep-alive')).toBe('timeout=12');
  });
});
