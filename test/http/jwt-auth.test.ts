import { exportSPKI, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { JSON_HEADERS, LogCapture, testApp } from '../helpers/app.js';
import { AUDIENCE, accessToken, ISSUER, JwksServer, type SigningKey, signingKey } from '../helpers/jwks.js';
import { freePort, sleep } from '../helpers/ports.js';
import { uniqueEvent } from '../helpers/samples.js';

const { 'x-api-key': _key, ...NO_AUTH } = JSON_HEADERS;

function post(token: string | undefined) {
  return {
    method: 'POST' as const,
    url: '/events',
    headers: token === undefined ? NO_AUTH : { ...NO_AUTH, authorization: `Bearer ${token}` },
    payload: JSON.stringify(uniqueEvent()),
  };
}

async function jwtApp(keys: SigningKey[], env: Record<string, string> = {}, logs?: LogCapture) {
  const jwks = await JwksServer.start(keys);
  onTestFinished(() => jwks.close());
  const { app } = await testApp({
    env: {
      AUTH_MODE: 'jwt',
      JWT_JWKS_URL: jwks.url,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      ...env,
    },
    ...(logs ? { logs } : {}),
  });
  return { app, jwks };
}

const INVALID_TOKEN = 'Bearer realm="ebdedup", error="invalid_token"';

describe('AUTH_MODE=jwt (OAuth client-credentials connections)', () => {
  it('accepts access tokens signed by a published key, RS256 and ES256, and never logs them', async () => {
    // Arrange
    const rsa = await signingKey('rsa-1', 'RS256');
    const ec = await signingKey('ec-1', 'ES256');
    const logs = new LogCapture();
    const { app, jwks } = await jwtApp([rsa, ec], {}, logs);
    const rsaToken = await accessToken(rsa);

    // Act
    const answers = [
      await app.inject(post(rsaToken)),
      await app.inject(post(await accessToken(ec))),
      await app.inject(post(rsaToken)),
    ];

    // Assert
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200]);
    expect(jwks.fetches).toBe(1); // cached
    expect(logs.raw).not.toContain(rsaToken);
    expect(logs.raw).not.toContain(rsaToken.split('.')[2]);
  });

  it('accepts a token that expired within JWT_CLOCK_SKEW_SECONDS', async () => {
    const key = await signingKey('k1');
    const { app } = await jwtApp([key], { JWT_CLOCK_SKEW_SECONDS: '30' });
    const now = Math.floor(Date.now() / 1000);

    const response = await app.inject(post(await accessToken(key, {}, { expiresIn: now - 10 })));

    expect(response.statusCode).toBe(200);
  });

  it.each([
    ['a wrong issuer', (key: SigningKey) => accessToken(key, {}, { issuer: 'https://evil.example.test/' })],
    ['a wrong audience', (key: SigningKey) => accessToken(key, {}, { audience: 'another-api' })],
    [
      'an expired token',
      (key: SigningKey) => accessToken(key, {}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
    ],
    [
      'alg none',
      async () =>
        new UnsecuredJWT({ scope: 'events:write' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .encode(),
    ],
    [
      'a key the JWKS does not publish',
      async () => accessToken(await signingKey('k1')), // same kid, another key: the signature fails
    ],
    ['an unknown kid', async () => accessToken(await signingKey('nobody-knows-me'))],
    [
      'HS256 with the public key as the secret',
      async (key: SigningKey) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256', kid: key.kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(await exportSPKI(key.publicKey))),
    ],
    [
      'no exp claim',
      (key: SigningKey) =>
        new SignJWT({})
          .setProtectedHeader({ alg: key.alg, kid: key.kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .sign(key.privateKey),
    ],
    ['a token that is not a JWT', async () => 'opaque-token-from-some-idp'],
  ])('refuses %s with 401 and error="invalid_token"', async (_case, makeToken) => {
    // Arrange
    const key = await signingKey('k1');
    const { app } = await jwtApp([key]);
    const token = await makeToken(key);

    // Act
    const response = await app.inject(post(token));

    // Assert
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({ error: 'unauthorized' });
    expect(response.headers['www-authenticate']).toBe(INVALID_TOKEN);
  });

  it('challenges a request without a token, without an error code (RFC 6750 §3)', async () => {
    const { app } = await jwtApp([await signingKey('k1')]);

    const response = await app.inject(post(undefined));

    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="ebdedup"');
  });

  it('picks up a rotated key: a token naming a new kid makes it fetch the JWKS again', async () => {
    // Arrange
    const old = await signingKey('2024-old');
    const fresh = await signingKey('2025-new');
    const { app, jwks } = await jwtApp([old], { JWT_JWKS_COOLDOWN_SECONDS: '1' });
    const before = await app.inject(post(await accessToken(old)));

    // Act: the provider publishes the new key, then signs with it and retires the old one
    jwks.keys = [old, fresh];
    await sleep(1100); // past the cooldown that keeps unknown kids from hammering the provider
    const after = await app.inject(post(await accessToken(fresh)));
    jwks.keys = [fresh];
    const again = await app.inject(post(await accessToken(fresh)));

    // Assert
    expect([before.statusCode, after.statusCode, again.statusCode]).toEqual([200, 200, 200]);
    expect(jwks.fetches).toBe(2);
  });

  it('holds off JWKS fetches while the identity provider fails, whatever kids the tokens name', async () => {
    // Arrange: the provider answers 500; 100 tokens with random kids arrive, as an attacker would send them.
    const { app, jwks } = await jwtApp([await signingKey('k1')], { JWT_JWKS_COOLDOWN_SECONDS: '30' });
    jwks.failWith = 500;
    const tokens = await Promise.all(
      Array.from({ length: 100 }, async (_, index) =>
        accessToken(await signingKey(`random-${index}`, 'ES256')),
      ),
    );

    // Act
    const answers = [];
    for (const token of tokens) answers.push(await app.inject(post(token)));

    // Assert
    expect(new Set(answers.map((answer) => answer.statusCode))).toEqual(new Set([503]));
    expect(jwks.fetches).toBeLessThanOrEqual(2);
  });

  it('fetches again once the backoff after a failure has passed, and accepts tokens when the provider is back', async () => {
    const key = await signingKey('k1');
    const { app, jwks } = await jwtApp([key], { JWT_JWKS_COOLDOWN_SECONDS: '30' });
    jwks.failWith = 500;
    const failed = await app.inject(post(await accessToken(key)));
    const held = await app.inject(post(await accessToken(key)));

    jwks.failWith = undefined;
    await sleep(1100); // the first backoff is 1 s
    const back = await app.inject(post(await accessToken(key)));

    expect([failed.statusCode, held.statusCode, back.statusCode]).toEqual([503, 503, 200]);
    expect(jwks.fetches).toBe(2);
  });

  it('answers 503 with Retry-After, not 401, when the JWKS cannot be fetched', async () => {
    const { app } = await testApp({
      env: {
        AUTH_MODE: 'jwt',
        JWT_JWKS_URL: `http://127.0.0.1:${await freePort()}/jwks.json`,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
      },
    });

    const response = await app.inject(post(await accessToken(await signingKey('k1'))));

    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: 'auth_unavailable' });
    expect(response.headers['retry-after']).toBe('5');
  });
});

describe('AUTH_MODE=jwt configuration', () => {
  const errorOf = (env: Record<string, string>) => {
    try {
      parseConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    return 'no error';
  };

  it('requires JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE', () => {
    const message = errorOf({ AUTH_MODE: 'jwt' });

    expect(message).toContain('JWT_JWKS_URL is required when AUTH_MODE=jwt');
    expect(message).toContain('JWT_ISSUER is required when AUTH_MODE=jwt');
    expect(message).toContain('JWT_AUDIENCE is required when AUTH_MODE=jwt');
  });

  it('defaults to RS256 and ES256 with 30 s of clock skew, and refuses none and HS*', () => {
    const env = {
      AUTH_MODE: 'jwt',
      JWT_JWKS_URL: 'https://idp.example.test/jwks.json',
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: `${AUDIENCE}, second`,
    };

    const config = parseConfig(env);

    expect(config).toMatchObject({
      JWT_ALGORITHMS: ['RS256', 'ES256'],
      JWT_CLOCK_SKEW_SECONDS: 30,
      JWT_AUDIENCE: [AUDIENCE, 'second'],
    });
    expect(errorOf({ ...env, JWT_ALGORITHMS: 'RS256,none' })).toMatch(
      /^Invalid configuration: JWT_ALGORITHMS=/,
    );
    expect(errorOf({ ...env, JWT_ALGORITHMS: 'HS256' })).toContain('none and HS* are refused');
    expect(parseConfig({ ...env, JWT_ALGORITHMS: 'PS256, EdDSA' }).JWT_ALGORITHMS).toEqual([
      'PS256',
      'EdDSA',
    ]);
  });

  it('wants an https:// JWKS in production, except on loopback', () => {
    const env = {
      NODE_ENV: 'production',
      STORE: 'memory',
      AUTH_MODE: 'jwt',
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
    };

    expect(errorOf({ ...env, JWT_JWKS_URL: 'http://idp.example.test/jwks.json' })).toContain('JWT_JWKS_URL');
    expect(errorOf({ ...env, JWT_JWKS_URL: 'http://127.0.0.1:8080/jwks.json' })).toBe('no error');
  });
});
