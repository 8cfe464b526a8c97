import Fastify from 'fastify';

/**
 * The benchmark's reference: a bare Fastify server with one POST route that parses the same JSON body as the
 * receiver and answers 200 `{"status":"ok"}`. No logger, no hooks, no plugins, so its req/s is what
 * Fastify + Node's HTTP stack + JSON.parse cost on this machine; every receiver number is read against it.
 */

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const path = process.env.EVENTS_PATH ?? '/events';

const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });

app.post(path, async (request) => {
  if (typeof request.body !== 'object' || request.body === null) throw new Error('no body');
  return { status: 'ok' };
});

const close = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

await app.listen({ port, host });
process.stdout.write(`baseline listening on http://${host}:${port}${path}\n`);
