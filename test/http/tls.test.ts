import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { JSON_HEADERS, LogCapture, testApp } from '../helpers/app.js';
import { uniqueEvent } from '../helpers/samples.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed certificate for 127.0.0.1, made for this test and removed after it. */
function selfSigned(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ebdedup-tls-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { dir, cert, key };
}

function httpsCall(
  port: number,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string; ca?: string },
): Promise<{ status: number; body: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const call = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method,
        path: options.path,
        headers: options.headers,
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        const authorized = (response.socket as TLSSocket).authorized;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body,
            authorized,
          }),
        );
      },
    );
    call.on('error', reject);
    call.end(options.body);
  });
}

describe.skipIf(!hasOpenssl())('TLS_CERT_FILE / TLS_KEY_FILE', () => {
  it('serves HTTPS with the given certificate to a client that trusts it', async () => {
    // Arrange
    const { cert, key } = selfSigned();
    const { app } = await testApp({ env: { TLS_CERT_FILE: cert, TLS_KEY_FILE: key } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const ca = readFileSync(cert, 'utf8');

    // Act
    const health = await httpsCall(port, { method: 'GET', path: '/healthz', ca });
    const delivery = await httpsCall(port, {
      method: 'POST',
      path: '/events',
      headers: JSON_HEADERS,
      body: JSON.stringify(uniqueEvent()),
      ca,
    });
    const untrusting = httpsCall(port, { method: 'GET', path: '/healthz' });

    // Assert
    expect(health).toMatchObject({ status: 200, authorized: true });
    expect(delivery.status).toBe(200);
    expect(JSON.parse(delivery.body)).toMatchObject({ status: 'processed' });
    await expect(untrusting).rejects.toThrow(/self[- ]signed/i);
    const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (response) => response.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('stops at start-up when only one file is set, or a file cannot be read', () => {
    const { dir, cert, key } = selfSigned();
    const unreadable = join(dir, 'locked.pem');
    writeFileSync(unreadable, 'x');
    chmodSync(unreadable, 0o000);
    const messageOf = (env: Record<string, string>) => {
      try {
        parseConfig({ API_KEYS: 'k', ...env });
        return 'no error';
      } catch (error) {
        return error instanceof ConfigError ? error.message : String(error);
      }
    };

    expect(messageOf({ TLS_CERT_FILE: cert })).toContain('TLS_KEY_FILE is required with the other');
    expect(messageOf({ TLS_KEY_FILE: key })).toContain('TLS_CERT_FILE is required with the other');
    expect(messageOf({ TLS_CERT_FILE: join(dir, 'missing.pem'), TLS_KEY_FILE: key })).toMatch(
      /TLS_CERT_FILE='.*missing\.pem' cannot be read \(ENOENT\)/,
    );
    expect(messageOf({ TLS_CERT_FILE: cert, TLS_KEY_FILE: dir })).toContain('is not a file');
    // root reads any file whatever its mode, so this only bites for other users
    if (process.getuid?.() !== 0) {
      expect(messageOf({ TLS_CERT_FILE: cert, TLS_KEY_FILE: unreadable })).toContain(
        'cannot be read (EACCES)',
      );
    }
    expect(messageOf({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key })).toBe('no error');
  });
});

describe('TRUST_PROXY', () => {
  it('parses true, false, a number of hops and address lists, and names a bad value', () => {
    const parse = (value: string) => parseConfig({ API_KEYS: 'k', TRUST_PROXY: value }).TRUST_PROXY;

    expect(parseConfig({ API_KEYS: 'k' }).TRUST_PROXY).toBe(false);
    expect([parse('true'), parse('false'), parse('2')]).toEqual([true, false, 2]);
    expect(parse('10.0.0.0/8, 192.168.1.10,loopback, fd00::/8')).toEqual([
      '10.0.0.0/8',
      '192.168.1.10',
      'loopback',
      'fd00::/8',
    ]);
    expect(() => parse('10.0.0.0/33')).toThrow(/TRUST_PROXY='10\.0\.0\.0\/33' expected true, false/);
    expect(() => parse('the-load-balancer')).toThrow(ConfigError);
  });

  it.each([
    ['unset', {}, '127.0.0.1'],
    ['the proxy address', { TRUST_PROXY: '127.0.0.1' }, '203.0.113.7'],
    ['another proxy address', { TRUST_PROXY: '10.0.0.0/8' }, '127.0.0.1'],
    ['one hop', { TRUST_PROXY: '1' }, '203.0.113.7'],
  ])(
    'takes the client address from X-Forwarded-For only from a trusted proxy (%s)',
    async (_case, env, client) => {
      const logs = new LogCapture();
      const { app } = await testApp({ env, logs });

      await app.inject({
        method: 'POST',
        url: '/events',
        remoteAddress: '127.0.0.1',
        headers: { ...JSON_HEADERS, 'x-forwarded-for': '198.51.100.1, 203.0.113.7' },
        payload: JSON.stringify(uniqueEvent()),
      });

      const line = logs.lines().find((entry) => entry.msg === 'request');
      expect(line?.client).toBe(client);
    },
  );
});
