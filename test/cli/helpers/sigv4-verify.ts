import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/**
 * An independent AWS Signature Version 4 check, written from the spec (canonical request → string to sign →
 * derived signing key → HMAC), so a test can tell whether a request's Authorization header is right without
 * asking the library that produced it.
 */

export interface SigV4Check {
  ok: boolean;
  reason?: string;
  accessKeyId?: string;
  region?: string;
  service?: string;
  signedHeaders?: string[];
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 percent-encoding of one path segment or query component, as SigV4 wants it. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalUri(rawPath: string): string {
  const path = rawPath.split('?')[0] || '/';
  // Non-S3 services: normalise, then encode each segment twice (once as sent, once more for signing).
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const encoded = segments.map((segment) => uriEncode(uriEncode(decodeURIComponent(segment))));
  const trailing = path.endsWith('/') && segments.length > 0 ? '/' : '';
  return `/${encoded.join('/')}${trailing}`;
}

function canonicalQuery(rawPath: string): string {
  const index = rawPath.indexOf('?');
  if (index < 0) return '';
  const pairs = rawPath
    .slice(index + 1)
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
      return [uriEncode(key), uriEncode(value)] as const;
    });
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

export function verifySigV4(
  request: { method: string; url: string; headers: IncomingHttpHeaders; body: string },
  secrets: Readonly<Record<string, string>>,
  expected: { region: string; service: string },
): SigV4Check {
  const authorization = headerValue(request.headers, 'authorization');
  if (!authorization) return { ok: false, reason: 'no Authorization header' };
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (!match) return { ok: false, reason: `malformed Authorization header: ${authorization.slice(0, 40)}…` };
  const [, accessKeyId = '', date = '', region = '', service = '', signedList = '', signature = ''] = match;
  const secret = secrets[accessKeyId];
  if (secret === undefined) return { ok: false, reason: `unknown access key ${accessKeyId}` };
  if (region !== expected.region)
    return { ok: false, reason: `scope region ${region}, expected ${expected.region}` };
  if (service !== expected.service)
    return { ok: false, reason: `scope service ${service}, expected ${expected.service}` };
  const amzDate = headerValue(request.headers, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) return { ok: false, reason: 'no valid X-Amz-Date header' };
  if (!amzDate.startsWith(date))
    return { ok: false, reason: 'X-Amz-Date does not match the credential scope date' };
  const signedHeaders = signedList.split(';');
  if ([...signedHeaders].sort().join(';') !== signedList)
    return { ok: false, reason: 'SignedHeaders not sorted' };
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) return { ok: false, reason: `${required} is not signed` };
  }
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const value = headerValue(request.headers, name);
      return value === undefined ? undefined : `${name}:${value}\n`;
    })
    .filter((line): line is string => line !== undefined);
  if (canonicalHeaders.length !== signedHeaders.length)
    return { ok: false, reason: 'a signed header is missing' };

  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalUri(request.url),
    canonicalQuery(request.url),
    canonicalHeaders.join(''),
    signedList,
    sha256Hex(request.body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  const expectedSignature = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expectedSignature.length || !timingSafeEqual(given, expectedSignature)) {
    return { ok: false, reason: 'signature does not match', accessKeyId, region, service, signedHeaders };
  }
  return { ok: true, accessKeyId, region, service, signedHeaders };
}

/**
 * A fake AWS service's first step: verifies the request's signature; on a mismatch notes it in `problems`,
 * answers `status` with the service's error `type` and returns undefined.
 */
export function checkSignature(
  request: { method: string; url: string; headers: IncomingHttpHeaders; body: string },
  response: ServerResponse,
  problems: string[],
  secrets: Readonly<Record<string, string>>,
  expected: { region: string; service: string; status: number; type: string },
): SigV4Check | undefined {
  const signature = verifySigV4(request, secrets, expected);
  if (signature.ok) return signature;
  problems.push(`signature: ${signature.reason}`);
  response.writeHead(expected.status, { 'content-type': 'application/json' });
  response.end(
    JSON.stringify({
      __type: expected.type,
      message: 'The request signature we calculated does not match the signature you provided.',
    }),
  );
  return undefined;
}
