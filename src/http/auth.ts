import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/index.js';
import { UnauthorizedError } from '../core/errors.js';
import type { RequestHeaders } from '../events/keys.js';

/**
 * The credentials of an EventBridge connection: API_KEY (a header of the user's naming), BASIC, or a static
 * bearer token. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-target-connection-auth.html
 *
 * Candidates and accepted values are compared as SHA-256 digests with timingSafeEqual, against every accepted
 * value without stopping at a match, so neither the length nor the position of a key leaks through timing.
 */
export type Authenticator = (headers: RequestHeaders) => void;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function matcher(accepted: readonly string[]): (candidate: string | undefined) => boolean {
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
function authorizationParameter(headers: RequestHeaders, scheme: string): string | undefined {
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
