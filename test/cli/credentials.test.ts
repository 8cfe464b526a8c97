import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseIni, resolveCredentials, resolveRegion } from '../../src/cli/credentials.js';
import { CliError } from '../../src/cli/io.js';

const CREDENTIALS_FILE = `# shared credentials
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret/default+key

; another profile
[dev]
aws_access_key_id=AKIDDEV
aws_secret_access_key=devsecret
aws_session_token = devtoken==

[sso-only]
sso_session = corp
`;

describe('resolveCredentials', () => {
  let home: string;

  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'ebdedup-home-'));
  });

  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

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
    const resolved = await resolveCredentials(env, home);

    // Assert
    expect(resolved.credentials).toEqual({
      accessKeyId: 'AKIDENV',
      secretAccessKey: 'envsecret',
      sessionToken: 'envtoken',
    });
  });

  it('reads the default profile of ~/.aws/credentials when no variable is set', async () => {
    await writeFile(path.join(home, 'creds-placeholder'), '');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(home, '.aws'));
    await writeFile(path.join(home, '.aws', 'credentials'), CREDENTIALS_FILE);

    const resolved = await resolveCredentials({}, home);

    expect(resolved.credentials).toEqual({
      accessKeyId: 'AKIDDEFAULT',
      secretAccessKey: 'secret/default+key',
    });
    expect(resolved.origin).toBe(`profile default in ${path.join(home, '.aws', 'credentials')}`);
  });

  it('reads the AWS_PROFILE profile of AWS_SHARED_CREDENTIALS_FILE, session token included', async () => {
    const file = path.join(home, 'elsewhere.ini');
    await writeFile(file, CREDENTIALS_FILE);

    const resolved = await resolveCredentials(
      { AWS_PROFILE: 'dev', AWS_SHARED_CREDENTIALS_FILE: file },
      home,
    );

    expect(resolved.credentials).toEqual({
      accessKeyId: 'AKIDDEV',
      secretAccessKey: 'devsecret',
      sessionToken: 'devtoken==',
    });
  });

  it('names the missing variable when only half of the key pair is set', async () => {
    await expect(resolveCredentials({ AWS_ACCESS_KEY_ID: 'AKID' }, home)).rejects.toThrow(
      'AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not',
    );
  });

  it('names the file and the settings when there are no credentials at all', async () => {
    const error = await resolveCredentials({}, home).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe(
      `ebdedup put-events: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or create ${path.join(home, '.aws', 'credentials')} with a [default] profile (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE)`,
    );
  });

  it('names a profile that is not in the file, and one without keys', async () => {
    const file = path.join(home, 'creds');
    await writeFile(file, CREDENTIALS_FILE);

    await expect(
      resolveCredentials({ AWS_PROFILE: 'prod', AWS_SHARED_CREDENTIALS_FILE: file }, home),
    ).rejects.toThrow(`profile [prod] is not in ${file}`);
    await expect(
      resolveCredentials({ AWS_PROFILE: 'sso-only', AWS_SHARED_CREDENTIALS_FILE: file }, home),
    ).rejects.toThrow(`profile [sso-only] in ${file} has no aws_access_key_id`);
  });
});

describe('parseIni', () => {
  it('reads sections and keys, ignoring comments and stray lines', () => {
    const ini = parseIni('orphan = 1\n[a]\n k = v = w \n# c\n[ b ]\nx=y\n');

    expect(ini.get('a')?.get('k')).toBe('v = w');
    expect(ini.get('b')?.get('x')).toBe('y');
    expect(ini.size).toBe(2);
  });
});

describe('resolveRegion', () => {
  it('takes --region, then AWS_REGION, then AWS_DEFAULT_REGION', () => {
    expect(resolveRegion('eu-west-1', { AWS_REGION: 'us-east-1' })).toBe('eu-west-1');
    expect(resolveRegion(undefined, { AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'eu-central-1' })).toBe(
      'us-east-1',
    );
    expect(resolveRegion(undefined, { AWS_DEFAULT_REGION: 'eu-central-1' })).toBe('eu-central-1');
  });

  it('says which settings to use when none is set', () => {
    expect(() => resolveRegion(undefined, {})).toThrow(
      'ebdedup put-events: no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)',
    );
  });
});
