import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CredentialOptions, resolveCredentials, resolveRegion } from '../../src/cli/credentials.js';
import { CliError, type Env } from '../../src/cli/io.js';

const CREDENTIALS_FILE = `# shared credentials
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret/default+key

; another profile
[dev]
aws_access_key_id=AKIDDEV
aws_secret_access_key=devsecret
aws_session_token = devtoken==
`;

/**
 * A `credential_process` (https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html):
 * prints temporary keys numbered by how often it ran, so a test sees both that the SDK ran it and when it ran it
 * again. `expiresInMs` sets their Expiration; exit code 3 and a line on stderr with `fail`.
 */
function processScript(counterFile: string, expiresInMs: number, fail = false): string {
  return `import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const file = ${JSON.stringify(counterFile)};
const runs = (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0) + 1;
writeFileSync(file, String(runs));
if (${fail}) { console.error('sso session expired'); process.exit(3); }
console.log(JSON.stringify({
  Version: 1,
  AccessKeyId: 'AKIDPROCESS' + runs,
  SecretAccessKey: 'process-secret',
  SessionToken: 'process-token-' + runs,
  Expiration: new Date(Date.now() + ${expiresInMs}).toISOString(),
}));
`;
}

describe('resolveCredentials', () => {
  let home: string;
  const stderr: string[] = [];

  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'ebdedup-home-'));
    stderr.length = 0;
  });

  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  function options(env: Env): CredentialOptions {
    return {
      command: 'put-events',
      env,
      homedir: home,
      region: 'eu-west-1',
      stderr: (chunk) => {
        stderr.push(chunk);
      },
    };
  }

  /** A credential_process profile [proc] in a config file of its own; returns the variables that select it. */
  async function processProfile(expiresInMs: number, fail = false): Promise<Env> {
    const script = path.join(home, 'credentials-process.mjs');
    await writeFile(script, processScript(path.join(home, 'runs'), expiresInMs, fail));
    const config = path.join(home, 'config');
    await writeFile(config, `[profile proc]\ncredential_process = "${process.execPath}" "${script}"\n`);
    return {
      AWS_PROFILE: 'proc',
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'),
    };
  }

  it('prefers AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN over the file', async () => {
    // Arrange
    const file = path.join(home, 'creds');
    await writeFile(file, CREDENTIALS_FILE);
    const env = {
      AWS_ACCESS_KEY_ID: 'AKIDENV',
      AWS_SECRET_ACCESS_KEY: 'envsecret',
      AWS_SESSION_TOKEN: 'envtoken',
      AWS_SHARED_CREDENTIALS_FILE: file,
    };

    // Act
    const source = await resolveCredentials(options(env));

    // Assert
    expect(await source()).toEqual({
      accessKeyId: 'AKIDENV',
      secretAccessKey: 'envsecret',
      sessionToken: 'envtoken',
    });
  });

  it('reads the default profile of ~/.aws/credentials when no variable is set', async () => {
    await mkdir(path.join(home, '.aws'));
    await writeFile(path.join(home, '.aws', 'credentials'), CREDENTIALS_FILE);

    const source = await resolveCredentials(options({}));

    expect(await source()).toEqual({ accessKeyId: 'AKIDDEFAULT', secretAccessKey: 'secret/default+key' });
  });

  it('reads the AWS_PROFILE profile of AWS_SHARED_CREDENTIALS_FILE, session token included', async () => {
    const file = path.join(home, 'elsewhere.ini');
    await writeFile(file, CREDENTIALS_FILE);

    const source = await resolveCredentials(
      options({ AWS_PROFILE: 'dev', AWS_SHARED_CREDENTIALS_FILE: file }),
    );

    expect(await source()).toEqual({
      accessKeyId: 'AKIDDEV',
      secretAccessKey: 'devsecret',
      sessionToken: 'devtoken==',
    });
  });

  it('reads keys from a [profile NAME] section of AWS_CONFIG_FILE', async () => {
    const config = path.join(home, 'config');
    await writeFile(
      config,
      '[profile ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = opssecret\n',
    );

    const source = await resolveCredentials(
      options({
        AWS_PROFILE: 'ops',
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'x'),
      }),
    );

    expect(await source()).toEqual({ accessKeyId: 'AKIDOPS', secretAccessKey: 'opssecret' });
  });

  it('runs the credential_process of the profile and signs with its temporary keys', async () => {
    const env = await processProfile(3_600_000);

    const source = await resolveCredentials(options(env));
    const first = await source();
    const second = await source();

    expect(first).toEqual({
      accessKeyId: 'AKIDPROCESS1',
      secretAccessKey: 'process-secret',
      sessionToken: 'process-token-1',
    });
    // Valid for an hour: cached, the process ran once.
    expect(second).toEqual(first);
    expect(await readFile(path.join(home, 'runs'), 'utf8')).toBe('1');
  });

  it('fetches temporary credentials again when they are about to expire', async () => {
    // The SDK treats credentials expiring within 5 minutes as expired: each request gets fresh ones.
    const env = await processProfile(60_000);

    const source = await resolveCredentials(options(env));
    let later = await source();
    for (let tries = 0; later.accessKeyId === 'AKIDPROCESS1' && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      later = await source();
    }

    expect(later.accessKeyId).toBe('AKIDPROCESS2');
    expect(later.sessionToken).toBe('process-token-2');
  });

  it('names the profile when its credential_process fails, with exit code 2', async () => {
    const env = await processProfile(3_600_000, true);

    const error = await resolveCredentials(options(env)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(
      /^ebdedup put-events: no AWS credentials \(profile \[proc\]: Command failed: .*credentials-process\.mjs"?\): set AWS_ACCESS_KEY_ID/,
    );
    expect((error as CliError).message).not.toContain('\n');
    expect((error as CliError).message).not.toContain('sso session expired');
  });

  it('names the missing variable when only half of the key pair is set', async () => {
    await expect(resolveCredentials(options({ AWS_ACCESS_KEY_ID: 'AKID' }))).rejects.toThrow(
      'ebdedup put-events: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not',
    );
  });

  it('says at once, without reaching instance metadata, what to set when there are no credentials', async () => {
    // Arrange: nothing in the environment, no files; AWS_EC2_METADATA_DISABLED (vitest.config.ts) keeps the
    // chain's last link off 169.254.169.254.
    const started = Date.now();

    // Act
    const error = await resolveCredentials(options({})).catch((e: unknown) => e);

    // Assert
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe(
      `ebdedup put-events: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile [default] (AWS_PROFILE) keys, SSO, a role or credential_process in ${path.join(home, '.aws', 'credentials')} or ${path.join(home, '.aws', 'config')}, or run with an instance, container or web identity role`,
    );
    expect(stderr).toEqual([]);
  });

  it('says so when AWS_PROFILE names a profile that is in neither file', async () => {
    const file = path.join(home, 'creds');
    await writeFile(file, CREDENTIALS_FILE);

    const error = await resolveCredentials(
      options({ AWS_PROFILE: 'prod', AWS_SHARED_CREDENTIALS_FILE: file }),
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/^ebdedup put-events: .*\[prod\]/);
    expect((error as CliError).message).not.toContain('secret');
  });
});

describe('resolveRegion', () => {
  let home: string;

  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'ebdedup-home-'));
  });

  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  const region = (flag: string | undefined, env: Env, fallback?: string) =>
    resolveRegion('put-events', { flag, fallback }, env, home);

  it('takes --region, then the fallback, then AWS_REGION, then AWS_DEFAULT_REGION', async () => {
    expect(await region('eu-west-1', { AWS_REGION: 'us-east-1' }, 'ap-south-1')).toBe('eu-west-1');
    expect(await region(undefined, { AWS_REGION: 'us-east-1' }, 'ap-south-1')).toBe('ap-south-1');
    expect(await region(undefined, { AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'eu-central-1' })).toBe(
      'us-east-1',
    );
    expect(await region(undefined, { AWS_DEFAULT_REGION: 'eu-central-1' })).toBe('eu-central-1');
  });

  it("takes the profile's region from ~/.aws/config or AWS_CONFIG_FILE when no variable names one", async () => {
    // Arrange
    await mkdir(path.join(home, '.aws'));
    await writeFile(
      path.join(home, '.aws', 'config'),
      '[default]\nregion = eu-north-1\n\n[profile dev]\nregion = ap-southeast-2\n',
    );
    const other = path.join(home, 'other-config');
    await writeFile(other, '[profile dev]\nregion = sa-east-1\n');

    // Act
    const regions = [
      await region(undefined, {}),
      await region(undefined, { AWS_PROFILE: 'dev' }),
      await region(undefined, { AWS_PROFILE: 'dev', AWS_CONFIG_FILE: other }),
      await region(undefined, { AWS_PROFILE: 'dev', AWS_REGION: 'us-west-2' }),
    ];

    // Assert
    expect(regions).toEqual(['eu-north-1', 'ap-southeast-2', 'sa-east-1', 'us-west-2']);
  });

  it('says which settings to use when none is set', async () => {
    await expect(region(undefined, {})).rejects.toThrow(
      `ebdedup put-events: no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in profile [default] of ${path.join(home, '.aws', 'config')}`,
    );
  });

  it('refuses a region that is not a region name', async () => {
    await expect(region('eu west', {})).rejects.toThrow('region "eu west" is not a region name');
  });
});
