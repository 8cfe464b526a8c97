import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Every variable of ../shared/CONTRACT.md (and the README's additions), parsed once at start-up. Keys keep
 * the variables' own names so the code, the README and `.env.example` can be searched for one spelling.
 * The `Config` type is inferred from this schema; it is never written by hand.
 */

const int = (min: number, max: number, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: 'expected a whole number' })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    )
    .default(fallback);

/** Comma-separated values, blanks dropped. */
const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

const hostPort = /^[^\s:]+:\d{1,5}$/;
const hostPortList = list.refine((items) => items.every((item) => hostPort.test(item)), {
  message: 'expected comma-separated host:port pairs',
});

// URL.canParse as well: the store's client parses it with `new URL`, whose bare "Invalid URL" named no variable.
const redisUrl = optionalString.refine(
  (value) => value === undefined || (/^rediss?:\/\/.+/.test(value) && URL.canParse(value)),
  {
    message: 'expected a redis:// or rediss:// URL',
  },
);

const httpUrl = optionalString.refine((value) => value === undefined || /^https?:\/\/.+/.test(value), {
  message: 'expected an http:// or https:// URL',
});

const headerName = (fallback: string) =>
  z
    .string()
    .trim()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'expected an HTTP header name' })
    .transform((value) => value.toLowerCase())
    .default(fallback);

/**
 * Algorithms a JWT connection may be signed with: asymmetric only, since the keys come from a public JWKS.
 * `none` and HS* never verify here (an HS* token "signed" with a public key is the classic confusion attack).
 */
export const JWT_ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

const PROXY_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Fastify's trustProxy: `true`/`false`, a number of hops, or comma-separated addresses, CIDR ranges and
 * proxy-addr's keywords (loopback, linklocal, uniquelocal).
 */
const trustProxy = optionalString.transform((value, ctx): boolean | number | string[] => {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  const valid = (item: string) => {
    if (PROXY_KEYWORDS.has(item)) return true;
    const [address, bits, extra] = item.split('/');
    if (extra !== undefined || address === undefined || isIP(address) === 0) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(address) === 4 ? 32 : 128));
  };
  if (items.length > 0 && items.every(valid)) return items;
  ctx.addIssue({
    code: 'custom',
    message: 'expected true, false, a number of hops, or comma-separated addresses/CIDR ranges',
  });
  return z.NEVER;
});

/** EventBridge retries for up to 24 h by default: a key kept for less lets a late retry through. */
export const MIN_TTL_SECONDS = 86_400;

export const envSchema = z.object({
  NODE_ENV: z.string().optional().default('development'),
  PORT: int(0, 65_535, 3000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  EVENTS_PATH: z
    .string()
    .trim()
    .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/, { message: 'expected a path beginning with /' })
    .default('/events'),

  REDIS_URL: redisUrl,
  REDIS_CLUSTER_NODES: hostPortList,
  REDIS_SENTINELS: hostPortList,
  REDIS_SENTINEL_NAME: optionalString,
  REDIS_WAIT_REPLICAS: int(0, 16, 0),
  REDIS_WAIT_TIMEOUT_MS: int(1, 60_000, 100),
  REDIS_COMMAND_TIMEOUT_MS: int(10, 60_000, 500),
  STORE: z.enum(['redis', 'memory']).optional(),

  DEDUP_PREFIX: z.string().default('ebdedup:'),
  DEDUP_STRATEGY: z.enum(['content', 'event-id', 'header', 'rules']).default('content'),
  DEDUP_IGNORE_FIELDS: list,
  DEDUP_HEADER: headerName('idempotency-key'),
  DEDUP_RULES_FILE: optionalString,
  EVENT_SCHEMA: z.enum(['envelope', 'any']).default('envelope'),
  REPLAY_POLICY: z.enum(['dedup', 'reprocess']).default('dedup'),
  DEDUP_TTL_SECONDS: int(MIN_TTL_SECONDS, 31 * 86_400, 86_400),
  DEDUP_LEASE_SECONDS: int(1, 3600, 30),
  STORE_FAILURE: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
  /** Failed processing attempts per key before it is poison (422 poison_event); 0 = unlimited. */
  MAX_ATTEMPTS: int(0, 10_000, 0),

  AUTH_MODE: z.enum(['api-key', 'basic', 'bearer', 'jwt', 'none']).default('api-key'),
  API_KEY_HEADER: headerName('x-api-key'),
  API_KEYS: list,
  BASIC_AUTH_USERS: list.refine((pairs) => pairs.every((pair) => /^[^:]+:.+$/.test(pair)), {
    message: 'expected comma-separated user:password pairs',
  }),
  BEARER_TOKENS: list,
  JWT_JWKS_URL: httpUrl,
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: list,
  JWT_ALGORITHMS: list
    .refine((items) => items.every((item) => JWT_ALGORITHMS.includes(item)), {
      message: `expected comma-separated asymmetric JWS algorithms (${JWT_ALGORITHMS.join(', ')}); none and HS* are refused`,
    })
    .transform((items) => (items.length > 0 ? items : ['RS256', 'ES256'])),
  JWT_CLOCK_SKEW_SECONDS: int(0, 300, 30),
  JWT_JWKS_COOLDOWN_SECONDS: int(1, 3600, 30),

  SINK: z.enum(['log', 'redis-stream', 'http', 'module']).default('log'),
  SINK_STREAM: z.string().trim().min(1).default('ebdedup:events'),
  SINK_STREAM_MAXLEN: int(1, 1_000_000_000, 1_000_000),
  SINK_STREAM_PARTITIONS: int(1, 1024, 1),
  SINK_HTTP_URL: httpUrl,
  SINK_HTTP_HEADERS: optionalString.transform((value, ctx) => {
    if (value === undefined) return {};
    try {
      const parsed: unknown = JSON.parse(value);
      if (
        typeof parsed === 'object' &&
        parsed !== null &&
        !Array.isArray(parsed) &&
        Object.values(parsed).every((item) => typeof item === 'string')
      ) {
        return parsed as Record<string, string>;
      }
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object of header names to string values' });
    return z.NEVER;
  }),
  SINK_MODULE: optionalString,
  SINK_TIMEOUT_MS: int(1, 900_000, 4000),

  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024, 2_097_152),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000, 10_000),
  /** Event-loop delay above which POST {EVENTS_PATH} answers 503 + Retry-After instead of queueing; 0 = never. */
  SHED_MAX_EVENT_LOOP_DELAY_MS: int(0, 60_000, 1000),

  TLS_CERT_FILE: optionalString,
  TLS_KEY_FILE: optionalString,
  TRUST_PROXY: trustProxy,
  REQUEST_TIMEOUT_MS: int(100, 600_000, 10_000),
  // Longer than a load balancer's idle timeout (an AWS ALB's is 60 s by default), so the balancer, not the
  // receiver, closes an idle connection: otherwise it may reuse one the receiver has just closed, and answer 502.
  // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html
  CONNECTION_TIMEOUT_MS: int(100, 3_600_000, 65_000),
  MAX_CONNECTIONS: int(0, 1_000_000, 10_000),
  METRICS_TOKEN: optionalString,
  ADMIN_TOKEN: list.refine((tokens) => tokens.every((token) => token.length >= 16), {
    message: 'expected tokens of at least 16 characters, comma-separated',
  }),

  /**
   * Set by AWS Lambda in every function's environment, never by the user: the process is a Lambda execution
   * environment (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
   */
  AWS_LAMBDA_FUNCTION_NAME: optionalString,
});

export type RawEnv = z.input<typeof envSchema>;
