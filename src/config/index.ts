import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import type { z } from 'zod';
import { envSchema } from './schema.js';

/**
 * The only module that reads `process.env`. Variables come from the environment first, then from a `.env`
 * file in the working folder for what the environment leaves unset (the usual dotenv precedence).
 */

const configSchema = envSchema
  .superRefine((env, ctx) => {
    const production = env.NODE_ENV === 'production';
    const redisLocated =
      env.REDIS_URL !== undefined || env.REDIS_CLUSTER_NODES.length > 0 || env.REDIS_SENTINELS.length > 0;
    const fail = (variable: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [variable], message });

    if (env.STORE === 'redis' && !redisLocated) {
      fail('STORE', 'needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS');
    }
    if (production && !redisLocated && env.STORE !== 'memory') {
      fail(
        'REDIS_URL',
        'is required when NODE_ENV=production (set STORE=memory to accept a store that forgets)',
      );
    } else if (env.AWS_LAMBDA_FUNCTION_NAME !== undefined && !redisLocated && env.STORE !== 'memory') {
      // Each execution environment would hold its own keys, lost at every cold start: a Lambda target would
      // process retries and concurrent duplicates again. STORE=memory stays possible for `sam local invoke`.
      fail(
        'REDIS_URL',
        'is required in AWS Lambda (AWS_LAMBDA_FUNCTION_NAME is set): the memory store forgets its keys at every cold start and is not shared between instances (set STORE=memory to accept that, e.g. for a local invoke)',
      );
    }
    if (env.REDIS_SENTINELS.length > 0 && !env.REDIS_SENTINEL_NAME) {
      fail('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS');
    }
    if (env.REDIS_CLUSTER_NODES.length > 0 && env.REDIS_SENTINELS.length > 0) {
      fail('REDIS_SENTINELS', 'cannot be combined with REDIS_CLUSTER_NODES');
    }
    if (env.AUTH_MODE === 'none' && production) {
      fail('AUTH_MODE', 'is refused when NODE_ENV=production: the endpoint would accept anyone');
    }
    if (env.AUTH_MODE === 'api-key' && production && env.API_KEYS.length === 0) {
      fail('API_KEYS', 'is required when NODE_ENV=production and AUTH_MODE=api-key');
    }
    if (env.AUTH_MODE === 'basic' && env.BASIC_AUTH_USERS.length === 0) {
      fail('BASIC_AUTH_USERS', 'is required when AUTH_MODE=basic');
    }
    if (env.AUTH_MODE === 'bearer' && env.BEARER_TOKENS.length === 0) {
      fail('BEARER_TOKENS', 'is required when AUTH_MODE=bearer');
    }
    if (env.DEDUP_STRATEGY === 'rules' && !env.DEDUP_RULES_FILE) {
      fail('DEDUP_RULES_FILE', 'is required when DEDUP_STRATEGY=rules');
    }
    if (env.DEDUP_STRATEGY === 'event-id' && env.EVENT_SCHEMA === 'any') {
      fail(
        'DEDUP_STRATEGY',
        'event-id needs EVENT_SCHEMA=envelope (an arbitrary body has no EventBridge id)',
      );
    }
    if (env.SINK === 'http' && !env.SINK_HTTP_URL) {
      fail('SINK_HTTP_URL', 'is required when SINK=http');
    }
    if (env.SINK === 'redis-stream' && !redisLocated) {
      fail(
        'SINK',
        'redis-stream needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (the stream lives in the store)',
      );
    }
    if (env.SINK === 'redis-stream' && env.STORE === 'memory') {
      fail('STORE', 'memory cannot be used with SINK=redis-stream');
    }
    if (env.SINK === 'module' && !env.SINK_MODULE) {
      fail('SINK_MODULE', 'is required when SINK=module');
    }
    if (env.AUTH_MODE === 'jwt') {
      for (const variable of ['JWT_JWKS_URL', 'JWT_ISSUER'] as const) {
        if (!env[variable]) fail(variable, 'is required when AUTH_MODE=jwt');
      }
      if (env.JWT_AUDIENCE.length === 0) fail('JWT_AUDIENCE', 'is required when AUTH_MODE=jwt');
      if (production && env.JWT_JWKS_URL?.startsWith('http://') && !isLoopbackUrl(env.JWT_JWKS_URL)) {
        fail('JWT_JWKS_URL', 'must be https:// when NODE_ENV=production (the keys decide who may post)');
      }
    }
    if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) {
      fail(
        env.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE',
        'is required with the other TLS_*_FILE (both or neither)',
      );
    }
    for (const variable of ['TLS_CERT_FILE', 'TLS_KEY_FILE'] as const) {
      const file = env[variable];
      const problem = file === undefined ? undefined : unreadableFile(file);
      if (problem) fail(variable, problem);
    }
    for (const reserved of ['/metrics', '/healthz', '/readyz', '/admin']) {
      if (env.EVENTS_PATH === reserved || env.EVENTS_PATH.startsWith(`${reserved}/`)) {
        fail('EVENTS_PATH', `cannot be ${reserved} or under it: the receiver serves that route itself`);
      }
    }
    // An idle socket is closed after CONNECTION_TIMEOUT_MS, and a request waiting for its sink is idle.
    if (env.CONNECTION_TIMEOUT_MS <= env.SINK_TIMEOUT_MS) {
      fail('CONNECTION_TIMEOUT_MS', `must be longer than SINK_TIMEOUT_MS (${env.SINK_TIMEOUT_MS} ms)`);
    }
    // A claim must outlive the sink's deadline, or a second delivery could take over a claim whose holder is
    // still inside its deadline and process the event twice.
    if (env.DEDUP_LEASE_SECONDS * 1000 <= env.SINK_TIMEOUT_MS) {
      fail('DEDUP_LEASE_SECONDS', `must be longer than SINK_TIMEOUT_MS (${env.SINK_TIMEOUT_MS} ms)`);
    }
  })
  .transform((env) => {
    const redisLocated =
      env.REDIS_URL !== undefined || env.REDIS_CLUSTER_NODES.length > 0 || env.REDIS_SENTINELS.length > 0;
    const generateApiKey = env.AUTH_MODE === 'api-key' && env.API_KEYS.length === 0;
    return {
      ...env,
      STORE: env.STORE ?? (redisLocated ? 'redis' : 'memory'),
      API_KEYS: generateApiKey ? [randomBytes(24).toString('base64url')] : env.API_KEYS,
      /** True when API_KEYS was unset outside production and the one accepted key was made up here. */
      apiKeyGenerated: generateApiKey,
    };
  });

export type Config = z.infer<typeof configSchema>;

/** A bad variable: the message is the one line printed before the process stops. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Variables set in `<cwd>/.env`, or none when there is no such file. */
export function readDotEnv(cwd: string = process.cwd()): Record<string, string> {
  const file = resolve(cwd, '.env');
  if (!existsSync(file)) return {};
  return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty value (`PORT=` in a .env file) means unset, as it does for most tools that read .env files.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = configSchema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = issue.path.join('.') || 'environment';
    const value = env[variable];
    const message =
      issue.code === 'invalid_value' && 'values' in issue
        ? `must be one of ${issue.values.map(String).join(', ')}`
        : issue.message;
    return `${variable}${value === undefined || isSecret(variable) ? '' : `='${value}'`} ${message}`;
  });
  throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
}

/** The running process's configuration: the environment over `.env`. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
): Config {
  return parseConfig({ ...readDotEnv(cwd), ...env });
}

const SECRET_VARIABLES = new Set([
  'API_KEYS',
  'BASIC_AUTH_USERS',
  'BEARER_TOKENS',
  'REDIS_URL',
  'SINK_HTTP_HEADERS',
  'METRICS_TOKEN',
  'ADMIN_TOKEN',
]);

function isSecret(variable: string): boolean {
  return SECRET_VARIABLES.has(variable);
}

/** Values that must never reach a log line: every configured credential. */
export function secretValues(config: Config): string[] {
  const secrets = [
    ...config.API_KEYS,
    ...config.BEARER_TOKENS,
    ...config.BASIC_AUTH_USERS.map((pair) => pair.slice(pair.indexOf(':') + 1)),
    ...Object.values(config.SINK_HTTP_HEADERS),
    ...(config.METRICS_TOKEN ? [config.METRICS_TOKEN] : []),
    ...config.ADMIN_TOKEN,
  ];
  const redisPassword = config.REDIS_URL ? safeUrl(config.REDIS_URL)?.password : undefined;
  if (redisPassword) secrets.push(decodeURIComponent(redisPassword));
  return secrets.filter((secret) => secret.length > 0);
}

/** Why `file` cannot be read, or undefined when it can. */
function unreadableFile(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return 'is not a file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

function isLoopbackUrl(value: string): boolean {
  const host = safeUrl(value)?.hostname;
  return host === 'localhost' || host === '[::1]' || (host?.startsWith('127.') ?? false);
}

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
