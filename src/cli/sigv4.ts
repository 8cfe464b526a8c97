import aws4 from 'aws4';
import type { AwsCredentials } from './credentials.js';

export interface SignInput {
  url: URL;
  method: string;
  service: string;
  region: string;
  headers: Record<string, string>;
  body: string;
  credentials: AwsCredentials;
  /** Signing time (default now). */
  date?: Date;
}

/** `20240102T030405Z`, the SigV4 timestamp. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/**
 * Signs a request with AWS Signature Version 4 (via aws4) and returns every header to send, the signed `host`,
 * `content-length`, `x-amz-date`, `x-amz-security-token` and `authorization` included, as lower-case strings.
 */
export function signRequest(input: SignInput): Record<string, string> {
  const headers: Record<string, string> = {
    ...input.headers,
    Host: input.url.host,
    'X-Amz-Date': amzDate(input.date ?? new Date()),
  };
  const signed = aws4.sign(
    {
      host: input.url.host,
      path: `${input.url.pathname}${input.url.search}`,
      method: input.method,
      service: input.service,
      region: input.region,
      headers,
      body: input.body,
    },
    input.credentials,
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return out;
}
