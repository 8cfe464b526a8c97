import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DescribedError, StoreUnavailableError, UnauthorizedError } from '../../core/errors.js';
import type { KeyInspection } from '../../store/types.js';
import { authorizationParameter, fingerprint, matcher } from '../auth.js';

/**
 * The operator's view of one dedup key, enabled by ADMIN_TOKEN:
 *   GET    /admin/keys/:key   what the store holds: processed (first seen, TTL left), in_progress (lease left), absent
 *   DELETE /admin/keys/:key   forget it: force-release a stuck claim, or let a processed event be processed again
 * Both need `Authorization: Bearer <ADMIN_TOKEN>`; DELETE also needs `X-Reason`. Every call is logged with who
 * (client address, token fingerprint) and why; the token itself never is.
 */

/** Where the admin routes read and delete keys (the store's own keys, or where a sink placed them). */
export interface AdminKeyspace {
  inspect(key: string): Promise<KeyInspection>;
  remove(key: string): Promise<KeyInspection>;
}

export interface AdminRoutesOptions {
  /** ADMIN_TOKEN values (several during a rotation). */
  tokens: readonly string[];
  keyspace: AdminKeyspace;
}

/** A dedup key as the receiver returns it: a base64url SHA-256 digest. */
const DEDUP_KEY = /^[A-Za-z0-9_-]{43}$/;
const REASON_MAX = 200;
const REALM = 'realm="ebdedup-admin"';

export class InvalidKeyError extends DescribedError {
  readonly code = 'invalid_key';
  readonly statusCode = 400;
  constructor() {
    super('the key must be a dedup key as the receiver answers it: 43 base64url characters');
  }
}

export class ReasonRequiredError extends DescribedError {
  readonly code = 'reason_required';
  readonly statusCode = 400;
  constructor() {
    super('DELETE needs an X-Reason header saying why the key is deleted');
  }
}

/** The X-Reason header, one line, at most REASON_MAX characters; undefined when absent or blank. */
function reasonOf(request: FastifyRequest): string | undefined {
  const value = request.headers['x-reason'];
  const text = (Array.isArray(value) ? value.join(', ') : (value ?? ''))
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .trim();
  return text === '' ? undefined : text.slice(0, REASON_MAX);
}

function view(held: KeyInspection): Record<string, unknown> {
  switch (held.state) {
    case 'absent':
      return { state: 'absent' };
    case 'in_progress':
      return { state: 'in_progress', leaseRemainingMs: held.leaseRemainingMs };
    case 'processed':
      return {
        state: 'processed',
        firstSeenAt: new Date(held.firstSeenAt).toISOString(),
        ttlRemainingMs: held.ttlRemainingMs,
      };
  }
}

function keyOf(request: FastifyRequest): string {
  const { key } = request.params as { key?: string };
  if (key === undefined || !DEDUP_KEY.test(key)) throw new InvalidKeyError();
  return key;
}

async function fromStore(operation: string, call: () => Promise<KeyInspection>): Promise<KeyInspection> {
  try {
    return await call();
  } catch (error) {
    throw new StoreUnavailableError(`admin ${operation}`, { cause: error });
  }
}

export async function registerAdminRoutes(
  app: FastifyInstance,
  { tokens, keyspace }: AdminRoutesOptions,
): Promise<void> {
  const matches = matcher(tokens);
  const who = (request: FastifyRequest) => {
    const token = authorizationParameter(request.headers, 'Bearer');
    return { client: request.ip, token: token === undefined ? undefined : fingerprint(token) };
  };

  await app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => {
      const token = authorizationParameter(request.headers, 'Bearer');
      if (!matches(token)) {
        request.log.warn(
          { admin: { action: request.method, url: request.url, ...who(request) } },
          'admin: refused a request without the admin token',
        );
        throw new UnauthorizedError(
          token === undefined ? `Bearer ${REALM}` : `Bearer ${REALM}, error="invalid_token"`,
        );
      }
    });

    admin.get('/admin/keys/:key', async (request) => {
      const key = keyOf(request);
      const held = await fromStore('inspect', () => keyspace.inspect(key));
      request.log.info(
        { admin: { action: 'inspect', key, state: held.state, reason: reasonOf(request), ...who(request) } },
        'admin: key inspected',
      );
      return { key, ...view(held) };
    });

    admin.delete('/admin/keys/:key', async (request) => {
      const key = keyOf(request);
      const reason = reasonOf(request);
      if (reason === undefined) throw new ReasonRequiredError();
      const held = await fromStore('delete', () => keyspace.remove(key));
      request.log.warn(
        { admin: { action: 'delete', key, previous: held.state, reason, ...who(request) } },
        'admin: key deleted',
      );
      return { key, deleted: held.state !== 'absent', previous: view(held) };
    });
  });
}
