import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { envelopeSchema } from '../src/events/envelope.js';

/**
 * The yardstick issue 7's targets were set against: "Fastify + zod + one ioredis `SET NX`", with ioredis
 * auto-pipelining (the issue measured 0.81× bare for new events and 0.96× for duplicates with it, 0.64× and
 * 0.81× without). It validates the envelope with the receiver's own zod schema (src/events/envelope.ts; the
 * receiver checks the same rules by hand and uses zod only to word a 400) and sets `setnx:<id> NX EX 86400`,
 * one Redis round trip per request, and nothing else: no authentication, no content digest, no claim to
 * complete or release, no metrics. Run in the same rounds as the receiver, it shows what one Redis command
 * costs on this machine and this load generator, so the receiver can be read against it as well as against
 * the bare route.
 */

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const path = process.env.EVENTS_PATH ?? '/events';
const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');

const redis = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 0 });
const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });

app.post(path, async (request, reply) => {
  const parsed = envelopeSchema.safeParse(request.body);
  if (!parsed.success) return reply.code(400).send({ status: 'invalid' });
  const set = await redis.set(`setnx:${parsed.data.id}`, '1', 'EX', 86400, 'NX');
  return { status: set === 'OK' ? 'processed' : 'duplicate' };
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
process.stdout.write(`SET NX yardstick listening on http://${host}:${port}${path}\n`);
