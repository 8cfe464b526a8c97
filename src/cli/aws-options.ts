import type { AwsService } from './aws-json.js';
import { httpUrl } from './command-options.js';
import { type AwsCredentials, resolveCredentials, resolveRegion } from './credentials.js';
import { CliError, type Env, type ResolvedContext } from './io.js';
import { DEFAULT_SOURCE, isReservedSource } from './put-events-entries.js';
import { AMZ_JSON_CONTENT_TYPE } from './put-events-send.js';

/** The AWS preamble of `put-events` and `redrive`: endpoints, the EventBridge service, `--source`, credentials. */

export const CREDENTIALS_USAGE = `Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the profile
AWS_PROFILE (default "default") in AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials).`;

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

/** EventBridge's PutEvents endpoint as a signed JSON service. */
export function eventsService(
  endpoint: URL,
  region: string,
  credentials: AwsCredentials,
  timeoutMs: number,
): AwsService {
  return {
    endpoint,
    region,
    signingName: 'events',
    contentType: AMZ_JSON_CONTENT_TYPE,
    credentials,
    timeoutMs,
  };
}

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

/**
 * credentials.ts names `put-events` in its error lines (it stays as it is until its replacement lands); another
 * command gets its own name in them.
 */
function renameError(command: string, error: unknown): unknown {
  if (!(error instanceof CliError)) return error;
  return new CliError(error.message.replace(/^ebdedup put-events:/, `ebdedup ${command}:`), error.exitCode);
}

/** `--region`, else `fallback` (e.g. the queue URL's region), else AWS_REGION / AWS_DEFAULT_REGION. */
export function commandRegion(
  command: string,
  flag: string | undefined,
  fallback: string | undefined,
  env: Env,
): string {
  try {
    return resolveRegion(flag ?? fallback, env);
  } catch (error) {
    throw renameError(command, error);
  }
}

/** The AWS credentials, from the variables or the shared credentials file. */
export async function commandCredentials(command: string, ctx: ResolvedContext): Promise<AwsCredentials> {
  try {
    return (await resolveCredentials(ctx.env, ctx.homedir)).credentials;
  } catch (error) {
    throw renameError(command, error);
  }
}

/** The variable that names each service's own endpoint. */
const ENDPOINT_VARIABLES = { events: 'AWS_ENDPOINT_URL_EVENTBRIDGE', sqs: 'AWS_ENDPOINT_URL_SQS' } as const;

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
