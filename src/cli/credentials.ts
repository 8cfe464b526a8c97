import path from 'node:path';
import { CliError, type Env, firstLine, type Writer } from './io.js';

/**
 * AWS credentials and region for the commands that sign (`put-events`, `redrive`), found as the AWS SDK for
 * JavaScript finds them: credentials from its Node.js provider chain (`fromNodeProviderChain`: environment, SSO,
 * shared files with assume-role and `credential_process` profiles, web identity (IRSA), ECS and EC2 roles), the
 * region from its config loader. Both SDK packages are loaded here with `import()` only, when a signing command
 * asks, so `replay`, `consume` and the server never load them.
 * (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html,
 * https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/Package/-aws-sdk-credential-providers/#fromnodeproviderchain)
 */

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Credentials for the next request. Temporary ones (a role, SSO, `credential_process`) are cached by the SDK and
 * fetched again shortly before they expire, so a long `redrive` keeps signing with valid ones.
 */
export type CredentialSource = () => Promise<AwsCredentials>;

/** The profile and the two shared files, as the CLI's environment names them. */
export interface SharedFiles {
  profile: string;
  /** The shared credentials file. */
  filepath: string;
  configFilepath: string;
}

/**
 * `AWS_PROFILE` (default `default`), `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`) and
 * `AWS_CONFIG_FILE` (default `~/.aws/config`), read from the command's environment and handed to the SDK: it
 * would otherwise read process.env itself, which in-process tests do not set.
 */
export function sharedFiles(env: Env, homedir: string): SharedFiles {
  return {
    profile: env.AWS_PROFILE?.trim() || 'default',
    filepath: env.AWS_SHARED_CREDENTIALS_FILE?.trim() || path.join(homedir, '.aws', 'credentials'),
    configFilepath: env.AWS_CONFIG_FILE?.trim() || path.join(homedir, '.aws', 'config'),
  };
}

function staticSource(credentials: AwsCredentials): CredentialSource {
  return () => Promise.resolve(credentials);
}

export interface CredentialOptions {
  command: string;
  env: Env;
  homedir: string;
  /** The region the command signs for; an assume-role or SSO profile without its own calls STS/SSO there. */
  region: string;
  /** Where the SDK's warnings go (the command's stderr), instead of the console. */
  stderr: Writer;
}

/**
 * The credentials' source, after a first successful fetch (so a missing or broken setting stops the command
 * before anything is sent). `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) come first, as
 * with the AWS CLI; this first link is read here from the command's environment, the rest is the SDK's chain for
 * the profile. Throws a CliError (exit 2) saying what to set; it never contains a secret.
 */
export async function resolveCredentials(options: CredentialOptions): Promise<CredentialSource> {
  const { command, env } = options;
  const id = env.AWS_ACCESS_KEY_ID?.trim() || undefined;
  const secret = env.AWS_SECRET_ACCESS_KEY?.trim() || undefined;
  const token = env.AWS_SESSION_TOKEN?.trim() || undefined;
  if (id !== undefined && secret !== undefined) {
    const credentials: AwsCredentials = { accessKeyId: id, secretAccessKey: secret };
    if (token !== undefined) credentials.sessionToken = token;
    return staticSource(credentials);
  }
  if (id !== undefined || secret !== undefined) {
    const missing = id === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY';
    const present = id === undefined ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID';
    throw new CliError(`ebdedup ${command}: ${present} is set but ${missing} is not`);
  }

  const files = sharedFiles(env, options.homedir);
  const warn = (message: unknown) => options.stderr(`ebdedup ${command}: ${firstLine(message)}\n`);
  const trail = new ChainTrail();
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  const provider = fromNodeProviderChain({
    ...files,
    // Read the files again when the SDK refreshes expiring credentials, rather than a copy from start-up.
    ignoreCache: true,
    parentClientConfig: { region: options.region },
    logger: { debug: (message: unknown) => trail.note(message), info: () => undefined, warn, error: warn },
  });
  const source: CredentialSource = async () => {
    const { accessKeyId, secretAccessKey, sessionToken } = await provider();
    return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
  };
  try {
    await source();
  } catch (error) {
    throw credentialsError(command, files, error, trail.profileReason());
  }
  trail.stop();
  return source;
}

/**
 * What the chain's links said (their debug lines), kept until the first fetch: when every link fails, the SDK
 * throws one generic error, and why the profile's link failed (a credential_process that exited 1, a role whose
 * source_profile is missing, an SSO session to renew) is only in these lines.
 */
class ChainTrail {
  private lines: string[] = [];
  private stopped = false;

  note(message: unknown): void {
    if (this.stopped || typeof message !== 'string' || this.lines.length >= 100) return;
    this.lines.push(message);
  }

  stop(): void {
    this.stopped = true;
    this.lines = [];
  }

  /** The first failure after the chain reached its shared-files link (fromIni), if any. */
  profileReason(): string | undefined {
    const start = this.lines.findIndex((line) => line.includes('defaultProvider::fromIni'));
    if (start < 0) return undefined;
    const failure = this.lines.slice(start).find((line) => line.startsWith('@smithy/property-provider -> '));
    return failure === undefined
      ? undefined
      : firstLine(failure.slice('@smithy/property-provider -> '.length));
  }
}

function credentialsError(
  command: string,
  files: SharedFiles,
  error: unknown,
  profileReason: string | undefined,
): CliError {
  const message = firstLine(error);
  if (/could not load credentials from any providers/i.test(message)) {
    const said =
      profileReason === undefined || profileReason.includes(`using profile: [${files.profile}]`)
        ? ''
        : ` (profile [${files.profile}]: ${profileReason})`;
    return new CliError(
      `ebdedup ${command}: no AWS credentials${said}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile [${files.profile}] (AWS_PROFILE) keys, SSO, a role or credential_process in ${files.filepath} or ${files.configFilepath}, or run with an instance, container or web identity role`,
    );
  }
  return new CliError(`ebdedup ${command}: AWS credentials of profile [${files.profile}]: ${message}`);
}

const REGION_NAME = /^[a-z0-9-]+$/;

/**
 * The signing region: `--region`, else `fallback` (e.g. the queue URL's), else `AWS_REGION`, else
 * `AWS_DEFAULT_REGION`, else the profile's `region` in the shared files, read by the SDK's own config loader
 * with the selectors its clients use (`@smithy/core/config`). No region from instance metadata: a command run
 * on a laptop should not wait for 169.254.169.254.
 */
export async function resolveRegion(
  command: string,
  explicit: { flag: string | undefined; fallback?: string | undefined },
  env: Env,
  homedir: string,
): Promise<string> {
  let region =
    explicit.flag?.trim() ||
    explicit.fallback?.trim() ||
    env.AWS_REGION?.trim() ||
    env.AWS_DEFAULT_REGION?.trim();
  const files = sharedFiles(env, homedir);
  if (!region) {
    const { loadConfig, NODE_REGION_CONFIG_FILE_OPTIONS, NODE_REGION_CONFIG_OPTIONS } = await import(
      '@smithy/core/config'
    );
    const fromFiles = loadConfig<string | undefined>(
      {
        // The variables were read above from the command's environment.
        environmentVariableSelector: () => undefined,
        configFileSelector: NODE_REGION_CONFIG_OPTIONS.configFileSelector,
        default: () => undefined,
      },
      { ...NODE_REGION_CONFIG_FILE_OPTIONS, ...files, ignoreCache: true },
    );
    region = (await fromFiles())?.trim();
  }
  if (!region) {
    throw new CliError(
      `ebdedup ${command}: no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in profile [${files.profile}] of ${files.configFilepath}`,
    );
  }
  if (!REGION_NAME.test(region)) {
    throw new CliError(`ebdedup ${command}: region "${region}" is not a region name (like eu-west-1)`);
  }
  return region;
}
