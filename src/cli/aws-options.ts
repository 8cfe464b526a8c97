import type { AwsProtocol } from './aws-json.js';
import { httpUrl } from './command-options.js';
import { type CredentialSource, resolveCredentials, resolveRegion } from './credentials.js';
import { CliError, type Env, type ResolvedContext } from './io.js';
import { DEFAULT_SOURCE, isReservedSource } from './put-events-entries.js';
import { AMZ_JSON_CONTENT_TYPE } from './put-events-send.js';

/** The AWS preamble of `put-events` and `redrive`: endpoints, the EventBridge service, `--source`, credentials. */

export const CREDENTIALS_USAGE = `Credentials: the AWS SDK's chain. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN;
else the profile AWS_PROFILE (default "default") in ~/.aws/credentials and ~/.aws/config
(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE): keys, SSO (after aws sso login), a role to assume or
credential_process; else a web identity token (IRSA), then an ECS or EC2 instance role.`;

/** The usage lines of `--source`, their text starting at `column`. */
export function sourceUsage(column: number): string {
  return `  ${'--source S'.padEnd(column - 2)}Source for events whose source starts with "aws." (only AWS may put
${' '.repeat(column)}those; default ${DEFAULT_SOURCE})`;
}

/** `--source`: what stands in for an `aws.` source, which PutEvents refuses from an account. */
export function sourceOption(command: string, raw: string | undefined): string {
  const source = raw ?? DEFAULT_SOURCE;
  if (source === '' || isReservedSource(source)) {
    throw new CliError(
      `ebdedup ${command}: --source "${source}" cannot be put by an account (empty, or starts with "aws.")`,
    );
  }
  return source;
}

/** EventBridge over its JSON protocol (PutEvents). */
export const EVENTS_PROTOCOL: AwsProtocol = { signingName: 'events', contentType: AMZ_JSON_CONTENT_TYPE };

/**
 * A service endpoint as the AWS CLI picks it: the command's flag, else the service's own variable
 * (`AWS_ENDPOINT_URL_SQS`), else `AWS_ENDPOINT_URL`, else the public endpoint of the region.
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)
 */
function resolveEndpoint(
  command: string,
  flag: { name: string; value: string | undefined },
  env: Env,
  serviceVariable: string,
  host: string,
  region: string,
): URL {
  const [name, raw] =
    flag.value !== undefined
      ? [flag.name, flag.value]
      : env[serviceVariable]
        ? [serviceVariable, env[serviceVariable]]
        : env.AWS_ENDPOINT_URL
          ? ['AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL]
          : ['region', `https://${host}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`];
  return httpUrl(command, name, raw);
}

/** The signing region: `--region`, else `fallback` (the queue URL's), else the variables and the profile. */
export function commandRegion(
  command: string,
  ctx: ResolvedContext,
  flag: string | undefined,
  fallback?: string,
): Promise<string> {
  return resolveRegion(command, { flag, fallback }, ctx.env, ctx.homedir);
}

/** The credentials of the SDK's chain (see credentials.ts), checked once now. */
export function commandCredentials(
  command: string,
  ctx: ResolvedContext,
  region: string,
): Promise<CredentialSource> {
  return resolveCredentials({ command, env: ctx.env, homedir: ctx.homedir, region, stderr: ctx.stderr });
}

/** The variable that names each service's own endpoint. */
const ENDPOINT_VARIABLES = {
  events: 'AWS_ENDPOINT_URL_EVENTBRIDGE',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  lambda: 'AWS_ENDPOINT_URL_LAMBDA',
} as const;

/** A service's endpoint: `flag`, else its own variable, AWS_ENDPOINT_URL, then the region's public endpoint. */
export function serviceEndpoint(
  command: string,
  service: keyof typeof ENDPOINT_VARIABLES,
  flag: { name: string; value: string | undefined },
  env: Env,
  region: string,
): URL {
  return resolveEndpoint(command, flag, env, ENDPOINT_VARIABLES[service], service, region);
}
