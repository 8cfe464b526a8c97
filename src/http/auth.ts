import { hash, timingSafeEqual } from 'node:crypto';
import {
  createRemoteJWKSet,
  customFetch,
  type FetchImplementation,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { Config } from '../config/index.js';
import { ReceiverError, UnauthorizedError } from '../core/errors.js';
import type { RequestHeaders } from '../events/keys.js';

/**
 * The credentials of an EventBridge connection: API_KEY (a header of the user's naming), BASIC, or a static
 * bearer token. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-target-connection-auth.html
 *
 * Candidates and accepted values are compared as SHA-256 digests with timingSafeEqual, against every accepted
 * value without stopping at a match, so neither the length nor the position of a key leaks through timing.
 */
export type Authenticator = (headers: RequestHeaders) => void | Promise<void>;

/**
 * AUTH_MODE=jwt could not fetch the signing keys (JWKS endpoint down, slow or answering garbage): the token
 * may well be valid, so the answer invites a retry without calling the caller's credentials wrong.
 */
export class AuthUnavailableError extends ReceiverError {
  readonly code = 'auth_unavailable';
  readonly statusCode = 503;
  override readonly retryAfterSeconds = 5;
  constructor(options?: ErrorOptions) {
    super('the JWT signing keys (JWT_JWKS_URL) could not be fetched', options);
  }
}

/** One-shot `crypto.hash`: this runs on every request, and createHash would allocate a Hash object each time. */
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

export function matcher(accepted: readonly string[]): (candidate: string | undefined) => boolean {
  const digests = accepted.map(digest);
  return (candidate) => {
    if (candidate === undefined) return false;
    const presented = digest(candidate);
    let found = false;
    for (const known of digests) found = timingSafeEqual(presented, known) || found;
    return found;
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

/** The credentials after `<scheme> ` in Authorization, the scheme matched case-insensitively (RFC 9110 §11.1). */
export function authorizationParameter(headers: RequestHeaders, scheme: string): string | undefined {
  const value = single(headers.authorization);
  if (value === undefined || value.length <= scheme.length + 1) return undefined;
  if (value.slice(0, scheme.length).toLowerCase() !== scheme.toLowerCase() || value[scheme.length] !== ' ') {
    return undefined;
  }
  return value.slice(scheme.length + 1).trim();
}

const REALM = 'realm="ebdedup"';

export function createAuthenticator(config: Config): Authenticator {
  switch (config.AUTH_MODE) {
    case 'none':
      return () => {};
    case 'jwt':
      return createJwtAuthenticator(config);
    case 'api-key': {
      const header = config.API_KEY_HEADER;
      const matches = matcher(config.API_KEYS);
      return (headers) => {
        if (!matches(single(headers[header]))) throw new UnauthorizedError();
      };
    }
    case 'basic': {
      const matches = matcher(config.BASIC_AUTH_USERS);
      const challenge = `Basic ${REALM}, charset="UTF-8"`;
      return (headers) => {
        const encoded = authorizationParameter(headers, 'Basic');
        const decoded = encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
        if (!matches(decoded)) throw new UnauthorizedError(challenge);
      };
    }
    case 'bearer': {
      const matches = matcher(config.BEARER_TOKENS);
      return (headers) => {
        const token = authorizationParameter(headers, 'Bearer');
        if (!matches(token)) {
          // RFC 6750 §3: no error code when no token was sent at all.
          throw new UnauthorizedError(
            token === undefined ? `Bearer ${REALM}` : `Bearer ${REALM}, error="invalid_token"`,
          );
        }
      };
    }
  }
}

/**
 * A short, stable, non-reversible name for a credential, for log lines that must say which one was used
 * (never the credential itself): the first 12 hex digits of its SHA-256.
 */
export function fingerprint(credential: string): string {
  return `sha256:${digest(credential).toString('hex').slice(0, 12)}`;
}

/** The first pause after a failed JWKS fetch; it doubles with each failure in a row, up to the cooldown. */
const FIRST_JWKS_BACKOFF_MS = 1000;

/**
 * The JWKS fetch jose makes, with a backoff after failures. jose shares one fetch among concurrent requests
 * and waits JWT_JWKS_COOLDOWN_SECONDS between refetches for unknown `kid`s, but only counts that from a
 * successful fetch: while the identity provider fails (or before its first answer), every request with a
 * token made its own fetch (65 for 100 requests with random `kid`s). Here a failed fetch (an error, or any
 * status but 200) holds off the next one for a pause that doubles, from 1 s up to the cooldown, and the
 * requests meanwhile fail at once: 503 `auth_unavailable`, which EventBridge retries. A success resets it.
 */
function fetchBackingOff(cooldownMs: number, now: () => number = Date.now): FetchImplementation {
  let pauseMs = 0;
  let pausedUntil = 0;
  const failed = (): void => {
    pauseMs = Math.min(pauseMs === 0 ? FIRST_JWKS_BACKOFF_MS : pauseMs * 2, cooldownMs);
    pausedUntil = now() + pauseMs;
  };
  return async (url, options) => {
    if (now() < pausedUntil) {
      throw new Error(`the last JWKS fetch failed: the next is held off for ${pausedUntil - now()} ms`);
    }
    let response: Response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      failed();
      throw error;
    }
    if (response.status === 200) pauseMs = 0;
    else failed();
    return response;
  };
}

/** jose's errors that mean "this token is not acceptable", as opposed to "the keys could not be fetched". */
const TOKEN_ERRORS = new Set<string>([
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_EXPIRED',
  'ERR_JWT_INVALID',
  'ERR_JWK_INVALID',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
]);

/**
 * AUTH_MODE=jwt: the access token that an OAUTH_CLIENT_CREDENTIALS connection fetched from the identity
 * provider, verified as a JWT against the provider's JWKS (cached; fetched again, at most once per
 * JWT_JWKS_COOLDOWN_SECONDS, when a token names a key it does not hold, which is how a key rotation arrives),
 * its issuer, audience, an `exp`, and an asymmetric algorithm from JWT_ALGORITHMS. Async: the one mode that
 * may wait on the network, and only when its cache misses.
 */
function createJwtAuthenticator(config: Config): Authenticator {
  const cooldownMs = config.JWT_JWKS_COOLDOWN_SECONDS * 1000;
  const keys = createRemoteJWKSet(new URL(config.JWT_JWKS_URL as string), {
    cooldownDuration: cooldownMs,
    timeoutDuration: 2000,
    [customFetch]: fetchBackingOff(cooldownMs),
  });
  const options = {
    issuer: config.JWT_ISSUER as string,
    audience: config.JWT_AUDIENCE,
    algorithms: config.JWT_ALGORITHMS,
    clockTolerance: config.JWT_CLOCK_SKEW_SECONDS,
    requiredClaims: ['exp'],
  };
  return async (headers) => {
    const token = authorizationParameter(headers, 'Bearer');
    if (token === undefined) throw new UnauthorizedError(`Bearer ${REALM}`);
    try {
      await jwtVerify(token, keys, options);
    } catch (error) {
      if (error instanceof joseErrors.JOSEError && TOKEN_ERRORS.has(error.code)) {
        throw new UnauthorizedError(`Bearer ${REALM}, error="invalid_token"`);
      }
      throw new AuthUnavailableError({ cause: error });
    }
  };
}
