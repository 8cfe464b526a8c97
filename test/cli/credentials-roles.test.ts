import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runEbdedup } from './helpers/cli-process.js';
import {
  type FakeEventBridge,
  startEventBridge,
  TEST_KEYS,
  TEST_REGION,
} from './helpers/fake-eventbridge.js';
import { type FakeSts, startFakeSsoPortal, startFakeSts, stsError } from './helpers/fake-identity.js';
import { dlqAttributes, type FakeSqs, startFakeSqs } from './helpers/fake-sqs.js';
import { closedPort, type StandIn, sendJson, startStandIn } from './helpers/http-server.js';

/**
 * Assume-role and IAM Identity Center (SSO) profiles, end to end: `ebdedup` runs as a process (the bin hands the
 * SDK process.env, as for a user; the SDK looks up the STS and SSO endpoints, the SSO token cache and the
 * profile's sso-session there, not in the command's env that in-process tests set), and the SDK's own STS and
 * SSO clients are pointed at stand-ins on 127.0.0.1 the way a user points them elsewhere: `AWS_ENDPOINT_URL_STS`
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html) or a `services` section of the
 * config file.
 */

const ACCOUNT = '123456789012';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/ci-deployer`;
const BASE = { accessKeyId: 'AKIDBASE', secretAccessKey: 'base/secret+key' };
const ROLE_KEYS = {
  accessKeyId: 'ASIAROLE',
  secretAccessKey: TEST_KEYS.ASIAROLE ?? '',
  sessionToken: 'role-session-token',
};
const SSO_KEYS = {
  accessKeyId: 'ASIASSO',
  secretAccessKey: TEST_KEYS.ASIASSO ?? '',
  sessionToken: 'sso-session-token',
};
const SSO_ACCESS_TOKEN = 'sso-access-token-from-aws-sso-login';
const START_URL = 'https://corp.awsapps.com/start';

/** `[profile ci]` assumes ROLE_ARN with the keys of `[base]` (in ~/.aws/credentials). */
const ROLE_CONFIG = `[profile ci]
role_arn = ${ROLE_ARN}
source_profile = base
role_session_name = ebdedup-ci
region = ${TEST_REGION}
`;
const BASE_CREDENTIALS = `[base]
aws_access_key_id = ${BASE.accessKeyId}
aws_secret_access_key = ${BASE.secretAccessKey}
`;

describe('ebdedup with assume-role and SSO profiles', () => {
  let home = '';
  let sts: FakeSts | undefined;
  let portal: StandIn | undefined;
  let bus: FakeEventBridge | undefined;
  let sqs: FakeSqs | undefined;
  let receiver: StandIn | undefined;
  /** Where any other AWS endpoint the SDK might try goes: a closed loopback port, never the Internet. */
  let nowhere = '';

  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'ebdedup-roles-'));
    await mkdir(path.join(home, '.aws'));
    nowhere = `http://127.0.0.1:${await closedPort()}`;
  });

  afterEach(async () => {
    const servers = [sts, portal, bus, sqs, receiver];
    [sts, portal, bus, sqs, receiver] = [undefined, undefined, undefined, undefined, undefined];
    await Promise.all(servers.map((server) => server?.close()));
    await rm(home, { recursive: true, force: true });
  });

  const ebdedup = (args: string[], env: Record<string, string>) => runEbdedup(args, home, env);

  async function writeAwsFile(name: 'config' | 'credentials', text: string): Promise<void> {
    await writeFile(path.join(home, '.aws', name), text);
  }

  /** Two events of the application's own source, in HOME/events.jsonl; returns the file. */
  async function writeEvents(): Promise<string> {
    const file = path.join(home, 'events.jsonl');
    const event = (n: number) => JSON.stringify({ source: 'my.app', 'detail-type': 't', detail: { n } });
    await writeFile(file, `${event(1)}\n${event(2)}\n`);
    return file;
  }

  it('put-events assumes the role of the profile with the keys of its source_profile, and signs with the role', async () => {
    // Arrange
    sts = await startFakeSts({
      region: TEST_REGION,
      sourceSecrets: { [BASE.accessKeyId]: BASE.secretAccessKey },
      keys: ROLE_KEYS,
    });
    bus = await startEventBridge();
    await writeAwsFile('config', ROLE_CONFIG);
    await writeAwsFile('credentials', BASE_CREDENTIALS);
    const events = await writeEvents();

    // Act
    const exit = await ebdedup(
      ['put-events', events, '--bus', 'genesys-bus', '--endpoint', bus.origin, '--quiet'],
      { AWS_PROFILE: 'ci', AWS_ENDPOINT_URL_STS: sts.origin, AWS_ENDPOINT_URL: nowhere },
    );

    // Assert: STS was asked once, for the role, signed (and verified) with the base keys.
    expect(exit.stderr).toBe('');
    expect(exit.code).toBe(0);
    expect(sts.calls).toHaveLength(1);
    expect(sts.calls[0]?.signature).toMatchObject({
      ok: true,
      accessKeyId: BASE.accessKeyId,
      service: 'sts',
    });
    expect(sts.requests[0]?.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${BASE.accessKeyId}/\\d{8}/${TEST_REGION}/sts/aws4_request,`),
    );
    expect(sts.calls[0]?.params).toMatchObject({
      Action: 'AssumeRole',
      RoleArn: ROLE_ARN,
      RoleSessionName: 'ebdedup-ci',
    });
    // EventBridge verified every request with the role's secret, and saw its session token.
    expect(bus.problems).toEqual([]);
    expect(bus.requests.length).toBeGreaterThan(0);
    for (const request of bus.requests) {
      expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAROLE\//);
      expect(request.headers['x-amz-security-token']).toBe(ROLE_KEYS.sessionToken);
    }
    expect(exit.stdout).toContain('2 accepted, 0 failed');
    for (const secret of [BASE.secretAccessKey, ROLE_KEYS.secretAccessKey, ROLE_KEYS.sessionToken]) {
      expect(exit.stdout + exit.stderr).not.toContain(secret);
    }
  });

  it('stops with one line naming the profile and what STS said when it refuses the role (exit 2)', async () => {
    // Arrange
    const denied = `User: arn:aws:iam::${ACCOUNT}:user/base is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`;
    sts = await startFakeSts({
      region: TEST_REGION,
      sourceSecrets: { [BASE.accessKeyId]: BASE.secretAccessKey },
      keys: ROLE_KEYS,
      refuse: (_call, response) => {
        stsError(response, 403, 'AccessDenied', denied);
        return true;
      },
    });
    bus = await startEventBridge();
    await writeAwsFile('config', ROLE_CONFIG);
    await writeAwsFile('credentials', BASE_CREDENTIALS);
    const events = await writeEvents();

    // Act
    const exit = await ebdedup(['put-events', events, '--bus', 'genesys-bus', '--endpoint', bus.origin], {
      AWS_PROFILE: 'ci',
      AWS_ENDPOINT_URL_STS: sts.origin,
      AWS_ENDPOINT_URL: nowhere,
    });

    // Assert: asked once (a refusal is not retried), nothing sent to EventBridge, no secret printed.
    expect(exit.code).toBe(2);
    expect(exit.stderr).toBe(`ebdedup put-events: AWS credentials of profile [ci]: ${denied}\n`);
    expect(exit.stdout).toBe('');
    expect(sts.calls).toHaveLength(1);
    expect(sts.calls[0]?.signature.ok).toBe(true);
    expect(bus.requests).toHaveLength(0);
    expect(exit.stderr).not.toContain(BASE.secretAccessKey);
  });

  describe.each([
    {
      form: 'an sso-session',
      profile: 'sso_session = corp',
      session: `[sso-session corp]\nsso_start_url = ${START_URL}\nsso_region = ${TEST_REGION}\n`,
      cacheKey: 'corp',
    },
    {
      form: 'the legacy sso_start_url',
      profile: `sso_start_url = ${START_URL}\nsso_region = ${TEST_REGION}`,
      session: '',
      cacheKey: START_URL,
    },
  ])('an SSO profile with $form', ({ profile, session, cacheKey }) => {
    /**
     * `[profile dev]` as `aws configure sso` writes it, its SSO calls sent to `portalUrl` by a `services`
     * section (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html), and the token file
     * `aws sso login` leaves in ~/.aws/sso/cache (named by the SHA-1 of the session name, or of the start URL).
     */
    async function ssoLogin(portalUrl: string, expiresInMs: number): Promise<void> {
      await writeAwsFile(
        'config',
        `[profile dev]
${profile}
sso_account_id = ${ACCOUNT}
sso_role_name = GenesysRedrive
region = ${TEST_REGION}
services = fakes
endpoint_url = ${nowhere}

${session}
[services fakes]
sso =
  endpoint_url = ${portalUrl}
`,
      );
      const cache = path.join(home, '.aws', 'sso', 'cache');
      await mkdir(cache, { recursive: true });
      await writeFile(
        path.join(cache, `${createHash('sha1').update(cacheKey).digest('hex')}.json`),
        JSON.stringify({
          startUrl: START_URL,
          region: TEST_REGION,
          accessToken: SSO_ACCESS_TOKEN,
          expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
        }),
      );
    }

    it('redrive gets the role credentials with the cached token and signs its SQS calls with them', async () => {
      // Arrange
      portal = await startFakeSsoPortal({ accessToken: SSO_ACCESS_TOKEN, keys: SSO_KEYS });
      sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
      receiver = await startStandIn((_request, response) => sendJson(response, 200, { status: 'processed' }));
      sqs.send('{"id":"evt-1","source":"my.app","detail-type":"t","detail":{}}', dlqAttributes('TIMEOUT'));
      await ssoLogin(portal.origin, 3_600_000);

      // Act
      const exit = await ebdedup(
        [
          'redrive',
          '--queue-url',
          sqs.queueUrl,
          '--endpoint-url',
          sqs.origin,
          '--url',
          `${receiver.origin}/events`,
          '--wait-seconds',
          '0',
          '--json',
        ],
        { AWS_PROFILE: 'dev' },
      );

      // Assert: the portal got the cached token, for the profile's account and role.
      expect(exit.stderr).toMatch(/^processed 200 sqs:msg-1 .* deleted\n$/);
      expect(exit.code).toBe(0);
      expect(portal.requests).toHaveLength(1);
      expect(portal.requests[0]?.headers['x-amz-sso_bearer_token']).toBe(SSO_ACCESS_TOKEN);
      const query = new URL(portal.requests[0]?.url ?? '', 'http://portal').searchParams;
      expect([query.get('account_id'), query.get('role_name')]).toEqual([ACCOUNT, 'GenesysRedrive']);
      // SQS verified every call with the role's secret, and saw its session token.
      expect(sqs.problems).toEqual([]);
      expect(sqs.requests.length).toBeGreaterThan(1);
      for (const request of sqs.requests) {
        expect(request.headers.authorization).toMatch(
          new RegExp(`^AWS4-HMAC-SHA256 Credential=ASIASSO/\\d{8}/${TEST_REGION}/sqs/aws4_request,`),
        );
        expect(request.headers['x-amz-security-token']).toBe(SSO_KEYS.sessionToken);
      }
      expect(receiver.requests).toHaveLength(1);
      expect(JSON.parse(exit.stdout)).toMatchObject({ received: 1, processed: 1, deleted: 1, left: 0 });
      for (const secret of [SSO_ACCESS_TOKEN, SSO_KEYS.secretAccessKey, SSO_KEYS.sessionToken]) {
        expect(exit.stdout + exit.stderr).not.toContain(secret);
      }
    });

    it('says to run aws sso login when the cached token has expired, and asks the portal nothing (exit 2)', async () => {
      // Arrange
      portal = await startFakeSsoPortal({ accessToken: SSO_ACCESS_TOKEN, keys: SSO_KEYS });
      sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
      await ssoLogin(portal.origin, -60_000);

      // Act
      const exit = await ebdedup(
        ['redrive', '--queue-url', sqs.queueUrl, '--endpoint-url', sqs.origin, '--url', `${nowhere}/events`],
        { AWS_PROFILE: 'dev' },
      );

      // Assert
      expect(exit.code).toBe(2);
      expect(exit.stderr).toMatch(
        /^ebdedup redrive: AWS credentials of profile \[dev\]: .*aws sso login.*\n$/,
      );
      expect(exit.stdout).toBe('');
      expect(portal.requests).toHaveLength(0);
      expect(sqs.requests).toHaveLength(0);
      expect(exit.stderr).not.toContain(SSO_ACCESS_TOKEN);
    });
  });
});
