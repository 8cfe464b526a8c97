import type { ServerResponse } from 'node:http';
import type { PutEventsEntry } from '../../../src/cli/put-events-entries.js';
import { type RecordedRequest, type StandIn, sendJson, startStandIn } from './http-server.js';
import { checkSignature } from './sigv4-verify.js';

/** The region the fake AWS services sign for. */
export const TEST_REGION = 'eu-west-1';

/** The secrets the fake AWS services know, by access key id. */
export const TEST_KEYS: Readonly<Record<string, string>> = {
  AKIDTEST: 'test/secret+key',
  AKIDPROFILE: 'profile-secret',
  AKIDPROCESS: 'process/secret+key',
  // The temporary keys of an assumed role and of an SSO role (fake-identity.ts hands them out).
  ASIAROLE: 'role/secret+key',
  ASIASSO: 'sso/secret+key',
};

/** An entry as it comes over the wire (the shape put-events builds). */
export type WireEntry = PutEventsEntry;

function entrySizeOf(entry: WireEntry): number {
  const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
  return (
    (entry.Time === undefined ? 0 : 14) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, r) => sum + bytes(r), 0)
  );
}

export type FakeEventBridge = StandIn & { problems: string[]; batches: WireEntry[][] };

type EntryAnswer = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

/**
 * A stand-in for events.<region>.amazonaws.com: checks the SigV4 signature by recomputing it, the PutEvents
 * target and content type, and the batch limits, then answers each entry with `answer` (default: accepted).
 */
export async function startEventBridge(
  answer: (entry: WireEntry, seen: number) => EntryAnswer | undefined = () => undefined,
  /** Answers request `index` itself when it returns true (whole-request failures). */
  intercept: (index: number, response: ServerResponse) => boolean = () => false,
): Promise<FakeEventBridge> {
  const problems: string[] = [];
  const batches: WireEntry[][] = [];
  const seen = new Map<string, number>();
  let nextId = 1;
  const standIn = await startStandIn((request: RecordedRequest, response, index) => {
    if (intercept(index, response)) return;
    const signature = checkSignature(request, response, problems, TEST_KEYS, {
      region: TEST_REGION,
      service: 'events',
      status: 403,
      type: 'InvalidSignatureException',
    });
    if (signature === undefined) return;
    for (const name of ['content-type', 'x-amz-target', 'content-length']) {
      if (!signature.signedHeaders?.includes(name)) problems.push(`${name} not signed`);
    }
    if (request.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
      problems.push(`target ${request.headers['x-amz-target']}`);
      sendJson(response, 400, { __type: 'UnknownOperationException' });
      return;
    }
    if (request.headers['content-type'] !== 'application/x-amz-json-1.1') {
      problems.push(`content-type ${request.headers['content-type']}`);
      sendJson(response, 400, { __type: 'SerializationException' });
      return;
    }
    if (signature.accessKeyId === 'AKIDTEST' && request.headers['x-amz-security-token'] !== 'session-tok') {
      problems.push('no session token');
    }
    const body = JSON.parse(request.body) as { Entries: WireEntry[] };
    batches.push(body.Entries);
    const total = body.Entries.reduce((sum, e) => sum + entrySizeOf(e), 0);
    if (body.Entries.length < 1 || body.Entries.length > 10 || total > 256 * 1024) {
      problems.push(`batch of ${body.Entries.length} entries, ${total} bytes`);
      sendJson(response, 400, {
        __type: 'ValidationException',
        message: 'Total size of the entries in the request is over the limit.',
      });
      return;
    }
    const entries = body.Entries.map((entry) => {
      const key = entry.Detail;
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      return answer(entry, count) ?? { EventId: `evt-${nextId++}` };
    });
    sendJson(response, 200, {
      FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length,
      Entries: entries,
    });
  });
  return Object.assign(standIn, { problems, batches });
}
