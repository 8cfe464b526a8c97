import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyPair['privateKey'];
  publicKey: KeyPair['publicKey'];
  jwk: JWK;
}

export async function signingKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/**
 * An identity provider's JWKS endpoint on 127.0.0.1: the keys it publishes can change (rotation), and it
 * counts how often it is fetched.
 */
export class JwksServer {
  keys: SigningKey[] = [];
  fetches = 0;
  /** While set, every fetch is answered with this status (an identity provider failing). */
  failWith: number | undefined;
  private constructor(private readonly server: Server) {}

  static async start(keys: SigningKey[]): Promise<JwksServer> {
    let self: JwksServer | undefined;
    const server = createServer((request, response) => {
      if (self === undefined || request.url !== '/.well-known/jwks.json') {
        response.writeHead(404).end();
        return;
      }
      self.fetches += 1;
      if (self.failWith !== undefined) {
        response.writeHead(self.failWith).end();
        return;
      }
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: self.keys.map((key) => key.jwk) }));
    });
    self = new JwksServer(server);
    self.keys = keys;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

export const ISSUER = 'https://idp.example.test/';
export const AUDIENCE = 'ebdedup-receiver';

/** An access token as the identity provider would issue it to EventBridge's connection. */
export function accessToken(
  key: SigningKey,
  claims: JWTPayload = {},
  options: { issuer?: string; audience?: string; expiresIn?: string | number } = {},
): Promise<string> {
  return new SignJWT({ scope: 'events:write', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject('eventbridge-connection')
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(key.privateKey);
}
