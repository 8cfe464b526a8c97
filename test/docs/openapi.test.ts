import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
// ajv-formats is CommonJS: its plugin is module.exports, which also carries itself as `default`.
import formats from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderOpenApi } from '../../scripts/openapi-document.js';
import { MemoryStore } from '../../src/store/memory.js';
import { JSON_HEADERS, redisStore, testApp } from '../helpers/app.js';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { type Json, loadSample, SAMPLE_FILES, uniqueEvent } from '../helpers/samples.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { RecordingSink } from '../helpers/sinks.js';

/**
 * openapi.yaml, the OpenAPI 3.1 description of the events route (issue 19): generated from the zod schemas by
 * scripts/openapi.ts and committed, so it must be what the generator makes of today's schemas; and it must
 * describe the route as it answers, which the README's status table and real answers are held against.
 */

type Schema = Record<string, unknown>;
interface Response {
  description: string;
  headers?: Record<string, { required?: boolean }>;
  content: { 'application/json': { schema: Schema } };
}
interface Document {
  openapi: string;
  info: { title: string; version: string; license: { identifier: string } };
  paths: Record<string, { post: Operation }>;
  components: { securitySchemes: Record<string, { type: string }>; schemas: Record<string, Schema> };
}
interface Operation {
  security: Record<string, string[]>[];
  requestBody: { required: boolean; content: { 'application/json': { schema: Schema } } };
  responses: Record<string, Response>;
}

const committed = readFileSync(join(REPO_ROOT, 'openapi.yaml'), 'utf8');
const document = parse(committed) as Document;
const operation = document.paths['/events']?.post as Operation;

const COMPONENT = '#/components/schemas/';

/** Each component schema under an id of its own, so their references resolve without the rest of the document. */
function validator(): (schema: Schema) => ValidateFunction {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  formats.default(ajv);
  const withIds = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value).replaceAll(`"$ref":"${COMPONENT}`, '"$ref":"urn:component:'));
  for (const [name, schema] of Object.entries(document.components.schemas)) {
    ajv.addSchema(withIds(schema) as Schema, `urn:component:${name}`);
  }
  return (schema) => ajv.compile(withIds(schema) as Schema);
}

const compile = validator();
const eventSchema = compile(operation.requestBody.content['application/json'].schema);

/** The body codes (`error`, or `status` for a 200) a response's schema allows. */
function codesOf(response: Response): string[] {
  const schema = response.content['application/json'].schema;
  const refs = (schema.oneOf as Schema[] | undefined) ?? [schema];
  return refs.flatMap((ref) => {
    const component = document.components.schemas[String(ref.$ref).slice(COMPONENT.length)] ?? {};
    const properties = component.properties as Record<string, { enum?: string[]; const?: string }>;
    return properties.error?.enum ?? [properties.status?.const ?? ''];
  });
}

function referencesIn(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key === '$ref' && typeof child === 'string' ? [child] : referencesIn(child),
  );
}

describe('openapi.yaml', () => {
  it('is what scripts/openapi.ts makes of the current zod schemas (after a change: npm run openapi)', () => {
    expect(committed).toBe(renderOpenApi());
  });

  it('is an OpenAPI 3.1 document of POST /events whose references, security and schemas hold', () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;

    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ version, license: { identifier: 'MIT' } });
    expect(Object.keys(document.paths)).toEqual(['/events']);
    expect(operation.requestBody.required).toBe(true);
    for (const [status, response] of Object.entries(operation.responses)) {
      expect(status).toMatch(/^[1-5]\d\d$/);
      expect(response.description, status).toEqual(expect.any(String));
      expect(() => compile(response.content['application/json'].schema), status).not.toThrow();
    }
    const referenced = referencesIn(document).map((ref) => ref.slice(COMPONENT.length));
    expect(referenced.filter((name) => !(name in document.components.schemas))).toEqual([]);
    expect(
      operation.security
        .flatMap(Object.keys)
        .filter((name) => !(name in document.components.securitySchemes)),
    ).toEqual([]);
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual([
      'apiKey',
      'basic',
      'bearer',
      'jwt',
    ]);
  });

  it("lists every status of the README's table but 404 (no route), with the README's codes", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const table = readme.slice(
      readme.indexOf('\n## Routes and statuses\n'),
      readme.indexOf('\n## Configuration\n'),
    );
    const rows = [...table.matchAll(/^\| (\d{3}) \| ([^|]*) \|/gm)].map(([, status = '', body = '']) => ({
      status,
      code: /"(?:error|status)":"([a-z_]+)"/.exec(body)?.[1] ?? '',
    }));
    const ofRoute = rows.filter((row) => row.status !== '404');

    expect(rows.length).toBeGreaterThan(15);
    expect(Object.keys(operation.responses).sort()).toEqual(
      [...new Set(ofRoute.map((row) => row.status))].sort(),
    );
    for (const { status, code } of ofRoute) {
      expect(codesOf(operation.responses[status] as Response), status).toContain(code);
    }
  });

  it('accepts every sample as an event, and refuses what the route refuses', () => {
    const genesys = loadSample(SAMPLE_FILES[0] as string);
    const { id: _id, ...withoutId } = genesys;
    const { topicName: _topic, ...detailWithoutTopic } = genesys.detail as Json;

    const samples = SAMPLE_FILES.map((name) => eventSchema(loadSample(name)));
    const missingId = eventSchema(withoutId);
    const genesysWithoutTopic = eventSchema({ ...genesys, detail: detailWithoutTopic });
    const otherSourceWithoutTopic = eventSchema({ ...genesys, source: 'my.app', detail: detailWithoutTopic });

    expect(samples.every(Boolean)).toBe(true);
    expect(missingId).toBe(false);
    expect(genesysWithoutTopic).toBe(false);
    expect(otherSourceWithoutTopic).toBe(true);
  });

  describe("describes the route's real answers", () => {
    /** The answer as the document has it: its body valid under the schema of its status, its required headers. */
    function expectDocumented(answer: LightMyRequestResponse): void {
      const response = operation.responses[String(answer.statusCode)];
      expect(response, `status ${answer.statusCode} documented`).toBeDefined();
      const validate = compile((response as Response).content['application/json'].schema);
      expect(validate(answer.json()) ? [] : validate.errors, answer.body).toEqual([]);
      for (const [name, header] of Object.entries((response as Response).headers ?? {})) {
        if (header.required) expect(answer.headers[name.toLowerCase()], name).toBeDefined();
      }
    }

    const post = (payload: unknown, headers: Record<string, string> = JSON_HEADERS) => ({
      method: 'POST' as const,
      url: '/events',
      headers,
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

    it('200 processed and duplicate, 400 invalid_event, 401, 413 and 415', async () => {
      const { app } = await testApp({ env: { BODY_LIMIT_BYTES: '4096' } });
      const event = uniqueEvent();
      const { 'x-api-key': _key, ...unauthenticated } = JSON_HEADERS;

      const answers = [
        await app.inject(post(event)),
        await app.inject(post(event)),
        await app.inject(post({ ...event, id: '' })),
        await app.inject(post('{"id":')),
        await app.inject(post(event, unauthenticated)),
        await app.inject(post({ ...event, padding: 'x'.repeat(8192) })),
        await app.inject(post('hello', { ...JSON_HEADERS, 'content-type': 'text/plain' })),
        await app.inject(post(event, { ...JSON_HEADERS, 'content-encoding': 'gzip' })),
      ];

      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 400, 400, 401, 413, 415, 415]);
      expect(answers.map((answer) => answer.json().status ?? answer.json().error)).toEqual([
        'processed',
        'duplicate',
        'invalid_event',
        'invalid_event',
        'unauthorized',
        'payload_too_large',
        'unsupported_media_type',
        'unsupported_media_type',
      ]);
      for (const answer of answers) expectDocumented(answer);
    });

    it('401 with a challenge, 409 in progress, 500, 422 poison_event and 504', async () => {
      const basic = await testApp({ env: { AUTH_MODE: 'basic', BASIC_AUTH_USERS: 'eb:secret-password' } });
      const slow = await testApp({ sink: new RecordingSink({ delayMs: 300 }) });
      const failing = await testApp({
        env: { MAX_ATTEMPTS: '1' },
        store: new MemoryStore({ maxAttempts: 1 }),
        sink: new RecordingSink({ failFirst: 5 }),
      });
      const late = await testApp({
        sink: new RecordingSink({ delayMs: 600 }),
        env: { SINK_TIMEOUT_MS: '200', DEDUP_LEASE_SECONDS: '5' },
      });
      const event = uniqueEvent();

      const challenge = await basic.app.inject(post(event, { ...JSON_HEADERS, authorization: 'Basic Zm9v' }));
      const first = slow.app.inject(post(event));
      await sleep(50);
      const inProgress = await slow.app.inject(post(event));
      await first;
      const failed = await failing.app.inject(post(event));
      const poison = await failing.app.inject(post(event));
      const timedOut = await late.app.inject(post(event));

      const answers = [challenge, inProgress, failed, poison, timedOut];
      expect(answers.map((answer) => [answer.statusCode, answer.json().error])).toEqual([
        [401, 'unauthorized'],
        [409, 'in_progress'],
        [500, 'processing_failed'],
        [422, 'poison_event'],
        [504, 'processing_timeout'],
      ]);
      expect(challenge.headers['www-authenticate']).toMatch(/^Basic /);
      for (const answer of answers) expectDocumented(answer);
    });

    it('503 store_unavailable', async () => {
      const own = await RedisServer.start();
      const { app } = await testApp({ store: redisStore(own.url) });
      await own.close();

      const answer = await app.inject(post(uniqueEvent()));

      expect([answer.statusCode, answer.json().error]).toEqual([503, 'store_unavailable']);
      expectDocumented(answer);
    });
  });
});
