/**
 * The OpenAPI 3.1 description of the events route, built from the zod schemas the receiver validates with
 * (`z.toJSONSchema`, JSON Schema 2020-12, the dialect of OpenAPI 3.1: https://spec.openapis.org/oas/v3.1.0).
 * Documentation only: the build writes it (scripts/openapi.ts) and nothing reads it at request time.
 * test/docs/openapi.test.ts holds the committed openapi.yaml to this module and the answers to its schemas.
 */
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { z } from 'zod';
import { envSchema } from '../src/config/schema.js';
import {
  envelopeSchema,
  GENESYS_SOURCE,
  genesysDetailSchema,
  nonEmptyString,
} from '../src/events/envelope.js';

type JsonSchema = Record<string, unknown>;

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

/** The defaults of the variables the document names, read from the configuration schema itself. */
const defaults = envSchema.pick({ EVENTS_PATH: true, API_KEY_HEADER: true, DEDUP_HEADER: true }).parse({});

/** Every dedup key: a SHA-256 digest in base64url (src/events/keys.ts). */
const dedupKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/)
  .describe('the dedup key: a SHA-256 digest, base64url');

const errorBody = <Code extends string>(codes: readonly [Code, ...Code[]], fields: z.ZodRawShape = {}) =>
  z.strictObject({ error: z.enum(codes), ...fields });

/** The answers' bodies (src/core/pipeline.ts, src/core/errors.ts, src/http/app.ts), by component name. */
export const answerSchemas = {
  Processed: z.strictObject({ status: z.literal('processed'), key: dedupKey }),
  Duplicate: z.strictObject({
    status: z.literal('duplicate'),
    key: dedupKey,
    firstSeenAt: z.iso.datetime().describe('when the key was first processed'),
  }),
  InvalidEvent: errorBody(['invalid_event'], {
    issues: z
      .array(
        z.strictObject({
          path: z
            .string()
            .describe('the field as sent, dotted (`detail-type`, `detail.eventBody.x`); empty for the body'),
          message: z.string(),
        }),
      )
      .min(1),
  }),
  BadRequest: errorBody(['bad_request'], { message: z.string().optional() }).describe(
    'bytes that are not HTTP, or a URL the router cannot decode',
  ),
  Unauthorized: errorBody(['unauthorized']),
  RequestTimeout: errorBody(['request_timeout']),
  InProgress: errorBody(['in_progress'], { key: dedupKey }),
  PayloadTooLarge: errorBody(['payload_too_large']),
  UnsupportedMediaType: errorBody(['unsupported_media_type'], { message: z.string() }),
  RejectedDownstream: errorBody(['rejected_downstream'], { downstreamStatus: z.int().min(400).max(499) }),
  PoisonEvent: errorBody(['poison_event'], { key: dedupKey, failures: z.int().min(1) }),
  HeadersTooLarge: errorBody(['headers_too_large']),
  ProcessingFailed: errorBody(['processing_failed', 'internal_error']).describe(
    'processing_failed: the sink failed and the claim was released; internal_error: an unexpected error',
  ),
  Unavailable: errorBody(['store_unavailable', 'overloaded', 'auth_unavailable']).describe(
    'store_unavailable: the store cannot be reached or fewer than REDIS_WAIT_REPLICAS replicas confirmed; ' +
      'overloaded: load shedding; auth_unavailable: AUTH_MODE=jwt and the JWKS cannot be fetched',
  ),
  ProcessingTimeout: errorBody(['processing_timeout']),
} as const;

type AnswerName = keyof typeof answerSchemas;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The JSON Schema of one zod schema, without `$schema`: OpenAPI 3.1's dialect is already 2020-12. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    // A refinement has no JSON Schema form: the envelope's non-empty strings say so themselves.
    override: (context) => {
      if (context.zodSchema === nonEmptyString) context.jsonSchema.minLength = 1;
    },
  });
  return rest;
}

/** The envelope, and for a Genesys Cloud `source` the Genesys notification in `detail` (src/events/envelope.ts). */
function eventSchema(): JsonSchema {
  return {
    ...jsonSchema(envelopeSchema),
    description:
      'The EventBridge event as an API destination posts it by default (no input transformer). Unknown fields are ' +
      'kept and reach the sink as sent. With EVENT_SCHEMA=any, any JSON object is accepted instead.',
    if: {
      type: 'object',
      properties: { source: { type: 'string', pattern: GENESYS_SOURCE.source } },
      required: ['source'],
    },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is never awaited
    then: { type: 'object', properties: { detail: ref('GenesysDetail') } },
  };
}

const retryAfter = (seconds: string) => ({
  'Retry-After': {
    description: `seconds before a retry: ${seconds}`,
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
});

interface Answer {
  description: string;
  bodies: readonly AnswerName[];
  headers?: Record<string, unknown>;
}

/** The events route's statuses, as README's "Routes and statuses" table gives them. */
const ANSWERS: Readonly<Record<string, Answer>> = {
  '200': {
    description: 'processed now, or a duplicate of a key processed within the TTL',
    bodies: ['Processed', 'Duplicate'],
  },
  '400': {
    description: 'an invalid event (no retry: dead-letter queue), or bytes that are not HTTP',
    bodies: ['InvalidEvent', 'BadRequest'],
  },
  '401': {
    description: 'missing or wrong credentials (EventBridge retries)',
    bodies: ['Unauthorized'],
    headers: {
      'WWW-Authenticate': {
        description: 'the challenge, for AUTH_MODE basic, bearer and jwt',
        schema: { type: 'string' },
      },
    },
  },
  '408': { description: 'the request did not arrive within REQUEST_TIMEOUT_MS', bodies: ['RequestTimeout'] },
  '409': {
    description: 'the same key is being processed right now (EventBridge retries)',
    bodies: ['InProgress'],
    headers: retryAfter('1'),
  },
  '413': { description: 'the body is over BODY_LIMIT_BYTES', bodies: ['PayloadTooLarge'] },
  '415': {
    description:
      'not application/json, a charset other than UTF-8, or a Content-Encoding other than identity',
    bodies: ['UnsupportedMediaType'],
    headers: {
      'Accept-Encoding': {
        description: '`identity`, when a Content-Encoding was refused',
        schema: { type: 'string' },
      },
    },
  },
  '422': {
    description:
      'SINK=http and the downstream answered a final 4xx, or this key failed MAX_ATTEMPTS times (dead-letter queue)',
    bodies: ['RejectedDownstream', 'PoisonEvent'],
  },
  '431': { description: 'headers over 16 KiB', bodies: ['HeadersTooLarge'] },
  '500': { description: 'processing failed; a retry processes the event', bodies: ['ProcessingFailed'] },
  '503': {
    description: 'the store or the JWKS cannot be reached, or the receiver sheds load (EventBridge retries)',
    bodies: ['Unavailable'],
    headers: retryAfter('2, or 5 for auth_unavailable'),
  },
  '504': {
    description: 'the sink passed SINK_TIMEOUT_MS; a retry gets 409 until it ends, then the final answer',
    bodies: ['ProcessingTimeout'],
  },
};

function response({ description, bodies, headers }: Answer): JsonSchema {
  const [only, ...more] = bodies;
  const schema = more.length === 0 && only !== undefined ? ref(only) : { oneOf: bodies.map(ref) };
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } };
}

export function openApiDocument(): JsonSchema {
  return {
    openapi: '3.1.0',
    info: {
      title: `${packageJson.name} receiver`,
      version: packageJson.version,
      summary: 'The route Amazon EventBridge API destinations post Genesys Cloud events to.',
      description:
        'Generated from the zod schemas by scripts/openapi.ts: do not edit by hand, run `npm run openapi`. ' +
        'Variables, guarantees and the other routes (health, readiness, metrics, admin) are in the README.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    paths: {
      [defaults.EVENTS_PATH]: {
        post: {
          operationId: 'postEvent',
          summary: 'Deliver one event; it is processed at most once per dedup key while the key is kept',
          description:
            `The path is EVENTS_PATH (default \`${defaults.EVENTS_PATH}\`). The receiver accepts the one ` +
            'security scheme AUTH_MODE selects (AUTH_MODE=none, refused in production, accepts any request). ' +
            'Every answer is JSON.',
          security: [{ apiKey: [] }, { basic: [] }, { bearer: [] }, { jwt: [] }],
          parameters: [
            {
              name: defaults.DEDUP_HEADER,
              in: 'header',
              required: false,
              description:
                `The dedup key's source under DEDUP_STRATEGY=header (the header is DEDUP_HEADER, default ` +
                `\`${defaults.DEDUP_HEADER}\`); required then, ignored otherwise.`,
              schema: { type: 'string', minLength: 1 },
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('EventBridgeEvent') } },
          },
          responses: Object.fromEntries(
            Object.entries(ANSWERS).map(([status, answer]) => [status, response(answer)]),
          ),
        },
      },
    },
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: defaults.API_KEY_HEADER,
          description: `AUTH_MODE=api-key (default): one of API_KEYS, in API_KEY_HEADER (default \`${defaults.API_KEY_HEADER}\`)`,
        },
        basic: { type: 'http', scheme: 'basic', description: 'AUTH_MODE=basic: a pair of BASIC_AUTH_USERS' },
        bearer: { type: 'http', scheme: 'bearer', description: 'AUTH_MODE=bearer: one of BEARER_TOKENS' },
        jwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'AUTH_MODE=jwt: signed by a key of JWT_JWKS_URL, for JWT_ISSUER and JWT_AUDIENCE',
        },
      },
      schemas: {
        EventBridgeEvent: eventSchema(),
        GenesysDetail: {
          ...jsonSchema(genesysDetailSchema),
          description:
            "Genesys Cloud's notification, in `detail` when `source` is a Genesys Cloud partner source",
        },
        ...Object.fromEntries(
          Object.entries(answerSchemas).map(([name, schema]) => [name, jsonSchema(schema)]),
        ),
      },
    },
  };
}

/** The document as openapi.yaml holds it. */
export function renderOpenApi(): string {
  const header =
    '# Generated by scripts/openapi.ts from the zod schemas: do not edit, run `npm run openapi`.\n';
  return header + stringify(openApiDocument(), { lineWidth: 110 });
}
