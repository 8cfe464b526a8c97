import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError, type Env } from './io.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface ResolvedCredentials {
  credentials: AwsCredentials;
  /** Where they came from, fit to print (never the secret): `environment`, `profile dev in /home/me/.aws/credentials`. */
  origin: string;
}

/** Sections of an INI file: `[name]` → `key = value`. Comments start with `#` or `;` on their own line. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header?.[1] !== undefined) {
      const name = header[1];
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || current === undefined) continue;
    current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}

/**
 * AWS credentials as the AWS CLI finds them, in its order: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`
 * (+ `AWS_SESSION_TOKEN`), else the profile `AWS_PROFILE` (default `default`) of the shared credentials file
 * (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`). Throws a CliError naming the missing setting.
 */
export async function resolveCredentials(
  env: Env,
  homedir: string,
  read: (file: string) => Promise<string> = (file) => readFile(file, 'utf8'),
): Promise<ResolvedCredentials> {
  const id = env.AWS_ACCESS_KEY_ID?.trim() || undefined;
  const secret = env.AWS_SECRET_ACCESS_KEY?.trim() || undefined;
  const token = env.AWS_SESSION_TOKEN?.trim() || undefined;
  if (id !== undefined && secret !== undefined) {
    const credentials: AwsCredentials = { accessKeyId: id, secretAccessKey: secret };
    if (token !== undefined) credentials.sessionToken = token;
    return { credentials, origin: 'environment (AWS_ACCESS_KEY_ID)' };
  }
  if (id !== undefined || secret !== undefined) {
    const missing = id === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY';
    const present = id === undefined ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID';
    throw new CliError(`ebdedup put-events: ${present} is set but ${missing} is not`);
  }

  const profile = env.AWS_PROFILE?.trim() || 'default';
  const file = env.AWS_SHARED_CREDENTIALS_FILE?.trim() || path.join(homedir, '.aws', 'credentials');
  let text: string;
  try {
    text = await read(file);
  } catch {
    throw new CliError(
      `ebdedup put-events: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or create ${file} with a [${profile}] profile (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE)`,
    );
  }
  const sections = parseIni(text);
  const section = sections.get(profile) ?? sections.get(`profile ${profile}`);
  if (section === undefined) {
    throw new CliError(
      `ebdedup put-events: no AWS credentials: profile [${profile}] is not in ${file} (AWS_PROFILE selects the profile)`,
    );
  }
  const fileId = section.get('aws_access_key_id') || undefined;
  const fileSecret = section.get('aws_secret_access_key') || undefined;
  if (fileId === undefined || fileSecret === undefined) {
    const missing = fileId === undefined ? 'aws_access_key_id' : 'aws_secret_access_key';
    throw new CliError(
      `ebdedup put-events: profile [${profile}] in ${file} has no ${missing} (SSO, role and credential_process profiles are not supported: export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead)`,
    );
  }
  const credentials: AwsCredentials = { accessKeyId: fileId, secretAccessKey: fileSecret };
  const fileToken = section.get('aws_session_token') || undefined;
  if (fileToken !== undefined) credentials.sessionToken = fileToken;
  return { credentials, origin: `profile ${profile} in ${file}` };
}

/** The region from `--region`, `AWS_REGION` or `AWS_DEFAULT_REGION`. */
export function resolveRegion(flag: string | undefined, env: Env): string {
  const region = flag?.trim() || env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim();
  if (!region) {
    throw new CliError(
      'ebdedup put-events: no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)',
    );
  }
  if (!/^[a-z0-9-]+$/.test(region)) {
    throw new CliError(`ebdedup put-events: region "${region}" is not a region name (like eu-west-1)`);
  }
  return region;
}
