import type { ServerResponse } from 'node:http';
import { type RecordedRequest, type StandIn, sendJson, startStandIn } from './http-server.js';
import { type SigV4Check, verifySigV4 } from './sigv4-verify.js';

/**
 * Stand-ins for the two services the AWS SDK's credential chain calls for a profile that is not static keys: STS
 * (AssumeRole, for `role_arn` + `source_profile`) and the IAM Identity Center portal (GetRoleCredentials, for SSO).
 */

/** Temporary credentials a fake hands out. */
export interface TemporaryKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** An AssumeRole call as the fake STS saw it. */
export interface AssumeRoleCall {
  /** The request's signature, checked against the source profile's secret. */
  signature: SigV4Check;
  /** The form-encoded Query parameters (Action, Version, RoleArn, RoleSessionName, DurationSeconds). */
  params: Record<string, string>;
}

export type FakeSts = StandIn & { calls: AssumeRoleCall[] };

const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

function sendXml(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/xml' });
  response.end(body);
}

/** STS's Query-protocol error document (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html). */
export function stsError(response: ServerResponse, status: number, code: string, message: string): void {
  sendXml(
    response,
    status,
    `<ErrorResponse xmlns="${STS_NAMESPACE}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-error</RequestId></ErrorResponse>`,
  );
}

/**
 * A stand-in for sts.<region>.amazonaws.com answering `AssumeRole` with `keys`, in the XML the SDK's awsQuery
 * parser reads (`AssumeRoleResponse` > `AssumeRoleResult` > `Credentials`,
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). A request whose SigV4 signature does
 * not verify with `sourceSecrets` is answered 403 SignatureDoesNotMatch; `refuse` may answer a call itself.
 */
export async function startFakeSts(options: {
  region: string;
  sourceSecrets: Readonly<Record<string, string>>;
  keys: TemporaryKeys;
  refuse?: (call: AssumeRoleCall, response: ServerResponse) => boolean;
}): Promise<FakeSts> {
  const calls: AssumeRoleCall[] = [];
  const standIn = await startStandIn((request: RecordedRequest, response) => {
    const signature = verifySigV4(request, options.sourceSecrets, { region: options.region, service: 'sts' });
    const params = Object.fromEntries(new URLSearchParams(request.body));
    const call = { signature, params };
    calls.push(call);
    if (!signature.ok) {
      stsError(response, 403, 'SignatureDoesNotMatch', `signature: ${signature.reason}`);
      return;
    }
    if (options.refuse?.(call, response)) return;
    if (params.Action !== 'AssumeRole') {
      stsError(response, 400, 'InvalidAction', `${params.Action} is not an action of this fake`);
      return;
    }
    const expiration = new Date(Date.now() + 3_600_000).toISOString();
    sendXml(
      response,
      200,
      `<AssumeRoleResponse xmlns="${STS_NAMESPACE}">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROATEST:${params.RoleSessionName}</AssumedRoleId>
      <Arn>${params.RoleArn?.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${params.RoleSessionName}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${options.keys.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${options.keys.secretAccessKey}</SecretAccessKey>
      <SessionToken>${options.keys.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`,
    );
  });
  return Object.assign(standIn, { calls });
}

/**
 * A stand-in for portal.sso.<region>.amazonaws.com answering `GetRoleCredentials`
 * (`GET /federation/credentials?role_name=…&account_id=…` with the cached access token in `x-amz-sso_bearer_token`,
 * https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_GetRoleCredentials.html) with `keys`
 * when the token is `accessToken`, else 401 UnauthorizedException.
 */
export async function startFakeSsoPortal(options: {
  accessToken: string;
  keys: TemporaryKeys;
}): Promise<StandIn> {
  return startStandIn((request: RecordedRequest, response) => {
    const url = new URL(request.url, 'http://portal');
    if (request.method !== 'GET' || url.pathname !== '/federation/credentials') {
      sendJson(response, 404, { message: `no route ${request.method} ${url.pathname}` });
      return;
    }
    if (request.headers['x-amz-sso_bearer_token'] !== options.accessToken) {
      sendJson(
        response,
        401,
        { message: 'Session token not found or invalid' },
        {
          'x-amzn-errortype': 'UnauthorizedException',
        },
      );
      return;
    }
    sendJson(response, 200, {
      roleCredentials: {
        accessKeyId: options.keys.accessKeyId,
        secretAccessKey: options.keys.secretAccessKey,
        sessionToken: options.keys.sessionToken,
        // Epoch milliseconds, as the portal sends it.
        expiration: Date.now() + 3_600_000,
      },
    });
  });
}
