import path from 'node:path';
import {
  flagOption,
  intOption,
  type OptionSpec,
  type ParsedArgs,
  parseCommandArgs,
  stringOption,
} from './args.js';
import { resolveAuth } from './auth.js';
import { type AwsService, awsService } from './aws-json.js';
import {
  CREDENTIALS_USAGE,
  commandCredentials,
  commandRegion,
  EVENTS_PROTOCOL,
  serviceEndpoint,
  sourceOption,
  sourceUsage,
} from './aws-options.js';
import { DELIVERY_OPTIONS, deliveryFlags, deliveryOptionsUsage, httpUrl } from './command-options.js';
import { DEFAULT_TIMEOUT_MS, parseReceiverUrl, type Receiver, receiverOf } from './delivery.js';
import { CliError, type ResolvedContext } from './io.js';
import { DEFAULT_INVOKE_TIMEOUT_MS, functionArnRegion, LAMBDA_PROTOCOL } from './lambda-invoke.js';
import { DEFAULT_PUT_TIMEOUT_MS } from './put-events-send.js';
import { RECEIVER_OPTIONS } from './replay.js';
import type { RetryPolicy } from './retry.js';
import { queueUrlRegion, SQS_MAX_VISIBILITY_SECONDS, SQS_MAX_WAIT_SECONDS, SQS_PROTOCOL } from './sqs.js';

/** `ebdedup redrive`'s usage and options: the queue, where the events go, and how a run goes. */

export const DEFAULT_REDRIVE_CONCURRENCY = 4;
/** Long enough for one message's every attempt (5 s time-out, backoff, a capped Retry-After) and its delete. */
export const DEFAULT_VISIBILITY_SECONDS = 300;
/**
 * --to-function: an invoke may wait --timeout-ms (30 s) for each of its attempts, and a round's last messages
 * wait for the first ones; 15 minutes is also the longest a Lambda function can run.
 */
export const DEFAULT_INVOKE_VISIBILITY_SECONDS = 900;
/** --dry-run hides what it lists for a shorter time, so a real run can follow soon. */
export const DRY_RUN_VISIBILITY_SECONDS = 30;
export const DEFAULT_WAIT_SECONDS = 5;

const common = deliveryOptionsUsage(
  26,
  DEFAULT_TIMEOUT_MS,
  ` posting, ${DEFAULT_INVOKE_TIMEOUT_MS} invoking, ${DEFAULT_PUT_TIMEOUT_MS} AWS calls`,
);

export const REDRIVE_USAGE = `Usage: ebdedup redrive --queue-url URL (--url RECEIVER_URL | --to-bus NAME | --to-function NAME) [options]

Brings events back from an EventBridge target's SQS dead-letter queue. Each message is read with
ReceiveMessage (long polling, hidden from other readers for --visibility-timeout), posted to the receiver
the way an API destination does (the bytes as they are, retried like replay), and deleted only after a
2xx answer (processed or duplicate). Because the receiver dedups, what did get through before is answered
duplicate and the rest is processed once; a run that stops part-way can simply be run again. With
--to-function the receiver is a Lambda function: each event is its payload (a synchronous Invoke), and the
message is deleted once the function answers processed or duplicate.

Options:
  --queue-url URL         the dead-letter queue's URL (aws sqs get-queue-url) (required)
  --url URL               receiver endpoint, e.g. https://receiver.example.com/events
  --api-key KEY           send KEY in the API key header        (env EBDEDUP_API_KEY)
  --api-key-header NAME   header for --api-key, default x-api-key (env EBDEDUP_API_KEY_HEADER)
  --basic USER:PASSWORD   HTTP basic auth                         (env EBDEDUP_BASIC)
  --bearer TOKEN          Authorization: Bearer TOKEN             (env EBDEDUP_BEARER)
  --to-bus NAME           instead of --url: put the events on this event bus again (PutEvents), for a
                          receiver behind the bus; deleted once PutEvents accepted them
  --to-function NAME      instead of --url: invoke this Lambda function (name or ARN) with each event, for a
                          receiver run as the Lambda handler (endpoint AWS_ENDPOINT_URL_LAMBDA,
                          AWS_ENDPOINT_URL, then https://lambda.REGION.amazonaws.com/); a function error,
                          429, 409 or 5xx is retried, any other refusal (404, 403 …) stops the run
${sourceUsage(26)}
  --region R              AWS region (default: the queue URL's, then AWS_REGION, AWS_DEFAULT_REGION, the
                          profile's region in ~/.aws/config)
  --endpoint-url URL      SQS endpoint, e.g. http://localhost:4566 or a VPC endpoint (default
                          AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, then https://sqs.REGION.amazonaws.com/);
                          --to-bus uses AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL or the region's
  --dry-run               list the messages (by error code) without posting or deleting anything
  --max N                 handle at most N messages, then stop
  --concurrency C         deliveries in flight at once (default ${DEFAULT_REDRIVE_CONCURRENCY})
  --delete-rejected       a message the receiver answers with a final 4xx (the function: invalid) is written
                          to --rejected-file, then deleted (default: left in the queue)
  --rejected-file PATH    JSON lines file the rejected messages are appended to (with --delete-rejected)
${common.options}

Advanced:
  --visibility-timeout S  seconds a received message stays hidden (default ${DEFAULT_VISIBILITY_SECONDS}, ${DEFAULT_INVOKE_VISIBILITY_SECONDS} with
                          --to-function, ${DRY_RUN_VISIBILITY_SECONDS} with --dry-run); must exceed --timeout-ms with --to-function
  --wait-seconds S        ReceiveMessage long polling, 0 to ${SQS_MAX_WAIT_SECONDS} (default ${DEFAULT_WAIT_SECONDS}); an empty answer ends the run
${common.advanced}

${CREDENTIALS_USAGE}

A record written by a Lambda on-failure destination holds the event as its requestPayload: that is what
is sent (its JSON text: the receiver keys it as the event it was). A record written by a Custom Event Bus
subscriber names its failed events by id but does not hold them: it is listed and left in the queue
(replay the bus's retained events to a subscriber instead).

Exit codes: 0 every message received was delivered and deleted (or --dry-run); 1 something is left in the
queue that should have gone (a 4xx, retries exhausted, a failed delete, a record without events), the
queue could not be read or the function invoked; 2 bad arguments or a missing setting (region, credentials).`;

const OPTIONS: OptionSpec = {
  ...RECEIVER_OPTIONS,
  ...DELIVERY_OPTIONS,
  'queue-url': { type: 'string' },
  'to-bus': { type: 'string' },
  'to-function': { type: 'string' },
  source: { type: 'string' },
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  'dry-run': { type: 'boolean' },
  max: { type: 'string' },
  'delete-rejected': { type: 'boolean' },
  'rejected-file': { type: 'string' },
  'visibility-timeout': { type: 'string' },
  'wait-seconds': { type: 'string' },
};

/** Where the events go: the receiver (as an API destination), an event bus (PutEvents), a function (Invoke). */
export type Destination =
  | { kind: 'receiver'; receiver: Receiver }
  | { kind: 'bus'; bus: string; source: string; service: AwsService }
  | { kind: 'function'; functionName: string; service: AwsService };

export interface RedriveOptions {
  queueUrl: URL;
  sqs: AwsService;
  destination: Destination;
  dryRun: boolean;
  max: number;
  concurrency: number;
  /** Absolute path of --rejected-file when --delete-rejected is given. */
  rejectedFile?: string;
  visibilityTimeout: number;
  waitSeconds: number;
  quiet: boolean;
  json: boolean;
  policy: RetryPolicy;
  awsTimeoutMs: number;
}

/** The one destination flag given: --url, --to-bus or --to-function. */
function destinationFlag(values: ParsedArgs['values']): { bus?: string; functionName?: string } {
  const bus = stringOption(values, 'to-bus')?.trim();
  const functionName = stringOption(values, 'to-function')?.trim();
  const given = [stringOption(values, 'url') !== undefined, bus !== undefined, functionName !== undefined];
  if (given.filter(Boolean).length !== 1) {
    throw new CliError(
      'ebdedup redrive: give one of --url (the receiver), --to-bus (an event bus) or --to-function (a Lambda function)',
    );
  }
  if (bus === '') throw new CliError('ebdedup redrive: --to-bus is empty');
  if (functionName === '') throw new CliError('ebdedup redrive: --to-function is empty');
  for (const name of ['api-key', 'basic', 'bearer']) {
    if (given[0] === false && stringOption(values, name) !== undefined) {
      const flag = bus === undefined ? '--to-function' : '--to-bus';
      throw new CliError(
        `ebdedup redrive: --${name} applies to --url, not ${flag} (which signs with AWS credentials)`,
      );
    }
  }
  return { ...(bus === undefined ? {} : { bus }), ...(functionName === undefined ? {} : { functionName }) };
}

export async function parseRedriveOptions(ctx: ResolvedContext): Promise<RedriveOptions | 'help'> {
  const { values, positionals } = parseCommandArgs('redrive', ctx.argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  if (positionals.length > 0) {
    throw new CliError(
      `ebdedup redrive: unexpected argument "${positionals[0]}" (see ebdedup redrive --help)`,
    );
  }
  const rawQueueUrl = stringOption(values, 'queue-url');
  if (rawQueueUrl === undefined) {
    throw new CliError('ebdedup redrive: --queue-url is required (see ebdedup redrive --help)');
  }
  const queueUrl = httpUrl('redrive', '--queue-url', rawQueueUrl);
  const { bus, functionName } = destinationFlag(values);
  const deleteRejected = flagOption(values, 'delete-rejected');
  const rejectedFile = stringOption(values, 'rejected-file');
  if (deleteRejected && (rejectedFile === undefined || rejectedFile === '')) {
    throw new CliError(
      'ebdedup redrive: --delete-rejected needs --rejected-file, where the rejected events are kept',
    );
  }
  if (deleteRejected && bus !== undefined) {
    throw new CliError(
      'ebdedup redrive: --delete-rejected applies to --url and --to-function (a receiver refusing an event)',
    );
  }
  const dryRun = flagOption(values, 'dry-run');
  const flags = deliveryFlags(
    'redrive',
    values,
    functionName === undefined ? DEFAULT_TIMEOUT_MS : DEFAULT_INVOKE_TIMEOUT_MS,
  );
  const visibilityTimeout = intOption(
    'redrive',
    values,
    'visibility-timeout',
    dryRun
      ? DRY_RUN_VISIBILITY_SECONDS
      : functionName === undefined
        ? DEFAULT_VISIBILITY_SECONDS
        : DEFAULT_INVOKE_VISIBILITY_SECONDS,
    0,
    SQS_MAX_VISIBILITY_SECONDS,
  );
  // A message whose invoke is still waiting for the function would show again, to another run or reader.
  if (functionName !== undefined && !dryRun && visibilityTimeout * 1000 <= flags.timeoutMs) {
    throw new CliError(
      `ebdedup redrive: --visibility-timeout ${visibilityTimeout} must exceed --timeout-ms ${flags.timeoutMs} (an invoke waits for the function)`,
    );
  }
  const awsTimeoutMs =
    stringOption(values, 'timeout-ms') === undefined ? DEFAULT_PUT_TIMEOUT_MS : flags.timeoutMs;
  const region = await commandRegion(
    'redrive',
    ctx,
    stringOption(values, 'region'),
    queueUrlRegion(queueUrl),
  );
  const flag = { name: '--endpoint-url', value: stringOption(values, 'endpoint-url') };
  const queueEndpoint = serviceEndpoint('redrive', 'sqs', flag, ctx.env, region);
  const credentials = await commandCredentials('redrive', ctx, region);
  const noFlag = { name: '--endpoint-url', value: undefined };
  let destination: Destination;
  if (bus !== undefined) {
    const busEndpoint = serviceEndpoint('redrive', 'events', noFlag, ctx.env, region);
    destination = {
      kind: 'bus',
      bus,
      source: sourceOption('redrive', stringOption(values, 'source')),
      service: awsService(EVENTS_PROTOCOL, busEndpoint, region, credentials, awsTimeoutMs),
    };
  } else if (functionName !== undefined) {
    // A full ARN says where the function is: its region is the one to call and sign for.
    const functionRegion = functionArnRegion(functionName) ?? region;
    const endpoint = serviceEndpoint('redrive', 'lambda', noFlag, ctx.env, functionRegion);
    destination = {
      kind: 'function',
      functionName,
      service: awsService(LAMBDA_PROTOCOL, endpoint, functionRegion, credentials, flags.timeoutMs),
    };
  } else {
    const url = parseReceiverUrl('redrive', stringOption(values, 'url'));
    const auth = resolveAuth('redrive', values, ctx.env);
    destination = { kind: 'receiver', receiver: receiverOf(url, auth, flags) };
  }
  const options: RedriveOptions = {
    queueUrl,
    sqs: awsService(
      SQS_PROTOCOL,
      queueEndpoint,
      region,
      credentials,
      awsTimeoutMs + SQS_MAX_WAIT_SECONDS * 1000,
    ),
    destination,
    dryRun,
    max: intOption('redrive', values, 'max', Number.MAX_SAFE_INTEGER, 1),
    concurrency: intOption('redrive', values, 'concurrency', DEFAULT_REDRIVE_CONCURRENCY, 1, 256),
    visibilityTimeout,
    waitSeconds: intOption('redrive', values, 'wait-seconds', DEFAULT_WAIT_SECONDS, 0, SQS_MAX_WAIT_SECONDS),
    quiet: flags.quiet,
    json: flags.json,
    policy: flags.policy,
    awsTimeoutMs,
  };
  if (deleteRejected && rejectedFile !== undefined)
    options.rejectedFile = path.resolve(ctx.cwd, rejectedFile);
  return options;
}
