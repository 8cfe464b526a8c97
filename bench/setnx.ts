import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { envelopeSchema } from '../src/events/envelope.js';

/**
 * The benchmark's two reference routes, chosen by `ROUTE`: Fastify + the receiver's own zod envelope schema
 * (src/events/envelope.ts; the receiver checks the same rules by hand and uses zod only to word a 400) + ioredis
 * with auto-pipelining, and nothing else: no authentication, no content digest, no lease to renew or release,
 * no metrics. Run in the same rounds as the receiver, they show what the Redis commands cost on this machine and
 * this load generator, so the receiver can be read against them as well as against the bare route.
 *
 * - `setnx` (default), the yardstick issue 7's targets were set against: one `SET setnx:<id> 1 EX 86400 NX`, one
 *   round trip per request (the issue measured 0.81× bare for new events and 0.96× for duplicates with
 *   auto-pipelining, 0.64× and 0.81× without).
 * - `twophase`, the floor of any claim-then-complete design: `SET twophase:<id> ~ EX 30 NX` to claim, and for a
 *   new event a second round trip, `SET twophase:<id> 1 EX 86400 XX`, to mark it done; a duplicate's claim
 *   fails and it is answered after one round trip.
 */

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const path = process.env.EVENTS_PATH ?? '/events';
const route = process.env.ROUTE ?? 'setnx';
if (route !== 'setnx' && route !== 'twophase')
  throw new Error(`ROUTE must be setnx or twophase, not '${route}'`);
const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');
/** The claim's lease in the two-phase route: what a crashed holder blocks retries for. */
const LEASE_SECONDS = 30;
const TTL_SECONDS = 86_400;

const redis = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 0 });
const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });

app.post(path, async (request, reply) => {
  const parsed = envelopeSchema.safeParse(request.body);
  if (!parsed.success) return reply.code(400).send({ status: 'invalid' });
  const key = `${route}:${parsed.data.id}`;
  if (route === 'setnx') {
    const set = await redis.set(key, '1', 'EX', TTL_SECONDS, 'NX');
    return { status: set === 'OK' ? 'processed' : 'duplicate' };
  }
  const claimed = await redis.set(key, '~', 'EX', LEASE_SECONDS, 'NX');
  if (claimed !== 'OK') return { status: 'duplicate' };
  await redis.set(key, '1', 'EX', TTL_SECONDS, 'XX');
  return { status: 'processed' };
});

const close = () => {
  Promise.all([app.close(), redis.quit()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

await app.listen({ port, host });
process.stdout.write(`reference route ${route} listening on http://${host}:${port}${path}\n`);
