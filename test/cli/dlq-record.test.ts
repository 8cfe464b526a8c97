import { describe, expect, it } from 'vitest';
import { describeRecord, readDlqMessage } from '../../src/cli/dlq-record.js';
import { queueUrlRegion, type SqsMessage } from '../../src/cli/sqs.js';
import { onFailureRecord } from './helpers/fake-lambda.js';

function message(body: string, attributes: Record<string, string> = {}): SqsMessage {
  return { messageId: 'm-1', receiptHandle: 'r-1', body, attributes, system: {} };
}

describe('reading an EventBridge dead-letter message', () => {
  it("reads a rule target's message: the body is the event, the reason is in the attributes", () => {
    const body = '{"id":"e-1","detail-type":"v2.audits","detail":{}}';

    const record = readDlqMessage(
      message(body, {
        ERROR_CODE: 'SDK_CLIENT_ERROR',
        ERROR_MESSAGE: 'Unable to invoke ApiDestination endpoint: The request failed because of 503.',
        EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
        RETRY_ATTEMPTS: '185',
        RULE_ARN: 'arn:aws:events:eu-west-1:1:rule/b/r',
        TARGET_ARN: 'arn:aws:events:eu-west-1:1:api-destination/d/x',
      }),
    );

    expect(record.content).toEqual({ kind: 'event', body, event: JSON.parse(body) });
    expect(record.failure).toEqual({
      errorCode: 'SDK_CLIENT_ERROR',
      errorMessage: 'Unable to invoke ApiDestination endpoint: The request failed because of 503.',
      exhaustedRetryCondition: 'MaximumRetryAttempts',
      retryAttempts: 185,
      source: 'arn:aws:events:eu-west-1:1:rule/b/r',
      targetArn: 'arn:aws:events:eu-west-1:1:api-destination/d/x',
    });
    expect(describeRecord(record)).toBe('sqs:m-1 (event e-1 v2.audits)');
  });

  it("reads a Lambda function's own DLQ message: RequestID, ErrorCode and ErrorMessage", () => {
    const body = '{"id":"e-2","detail-type":"v2.audits","detail":{}}';

    const record = readDlqMessage(
      message(body, {
        RequestID: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
        ErrorCode: '200',
        ErrorMessage: 'the store is unavailable',
      }),
    );

    expect(record.content).toEqual({ kind: 'event', body, event: JSON.parse(body) });
    expect(record.failure).toEqual({
      errorCode: '200',
      errorMessage: 'the store is unavailable',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    });
  });

  it('keeps a body that is not JSON as it is, under the code NONE when no attribute names one', () => {
    const record = readDlqMessage(message('plain text from an input transformer'));

    expect(record.content).toEqual({ kind: 'event', body: 'plain text from an input transformer' });
    expect(record.failure).toEqual({ errorCode: 'NONE' });
    expect(describeRecord(record)).toBe('sqs:m-1');
  });

  it("reads a Custom Event Bus subscriber's record as event ids without events", () => {
    const record = readDlqMessage(
      message(
        JSON.stringify({
          version: '1.0',
          busArn: 'arn:aws:events:us-east-1:1:event-busv2/orders/x',
          subscriberArn: 'arn:aws:events:us-east-1:1:subscriber/large-orders/y',
          targetArn: 'arn:aws:sqs:us-east-1:1:large-orders',
          errorCode: 'ACCESS_DENIED',
          exhaustedRetryCondition: 'MaximumEventAgeInSeconds',
          retryAttempts: 4,
          failedMessages: [{ eventId: 'a1' }, { eventId: 'e5' }, {}],
        }),
      ),
    );

    expect(record.content).toEqual({ kind: 'subscriber-record', eventIds: ['a1', 'e5'] });
    expect(record.failure).toEqual({
      errorCode: 'ACCESS_DENIED',
      exhaustedRetryCondition: 'MaximumEventAgeInSeconds',
      retryAttempts: 4,
      source: 'arn:aws:events:us-east-1:1:subscriber/large-orders/y',
      targetArn: 'arn:aws:sqs:us-east-1:1:large-orders',
    });
  });

  it("reads a Lambda on-failure destination's invocation record: the event is its requestPayload", () => {
    // Arrange: the event as EventBridge sent it, odd spacing included; the record holds it parsed.
    const sent =
      '{"version":"0", "id":"e-3","detail-type":"v2.audits","source":"aws.partner/genesys.com/o/1","detail":{"n":1}}';
    const body = onFailureRecord(JSON.parse(sent), {
      requestId: 'e4b46cbf-b738-4a1c-8880-a18cdf61200e',
      invocations: 3,
      error: { errorType: 'StoreUnavailableError', errorMessage: 'the store is unavailable' },
    });

    // Act
    const record = readDlqMessage(message(body));

    // Assert
    expect(record.content).toEqual({
      kind: 'invocation-record',
      body: JSON.stringify(JSON.parse(sent)),
      event: JSON.parse(sent),
    });
    expect(record.failure).toEqual({
      errorCode: 'StoreUnavailableError',
      errorMessage: 'the store is unavailable',
      exhaustedRetryCondition: 'RetriesExhausted',
      retryAttempts: 2,
      source: 'arn:aws:lambda:eu-west-1:123456789012:function:ebdedup:$LATEST',
      requestId: 'e4b46cbf-b738-4a1c-8880-a18cdf61200e',
    });
    expect(describeRecord(record)).toBe('sqs:m-1 (on-failure record, event e-3 v2.audits)');
  });

  it('files an invocation record without an errorType under its condition (EventAgeExceeded)', () => {
    const record = readDlqMessage(
      message(
        onFailureRecord({ id: 'e-4', 'detail-type': 't' }, { condition: 'EventAgeExceeded', invocations: 0 }),
      ),
    );

    expect(record.content.kind).toBe('invocation-record');
    expect(record.failure).toEqual({
      errorCode: 'EventAgeExceeded',
      exhaustedRetryCondition: 'EventAgeExceeded',
      source: 'arn:aws:lambda:eu-west-1:123456789012:function:ebdedup:$LATEST',
      requestId: 'e4b46cbf-b738-4a1c-8880-a18cdf61200e',
    });
  });

  it('reads an invocation record whose requestPayload is not a JSON object as one without an event, saying what it is', () => {
    const payloads = ['{"id":"e-5"}', null, [{ id: 'e-5' }]];

    const records = payloads.map((payload) => readDlqMessage(message(onFailureRecord(payload))));

    expect(records.map((record) => record.content)).toEqual([
      { kind: 'invocation-record-without-event', payload: 'a string' },
      { kind: 'invocation-record-without-event', payload: 'null' },
      { kind: 'invocation-record-without-event', payload: 'an array' },
    ]);
    expect(describeRecord(records[0] as (typeof records)[number])).toBe(
      'sqs:m-1 (on-failure record, requestPayload is a string)',
    );
  });

  it('takes an event with requestContext or requestPayload below the top level, or without one of the three, as an event', () => {
    const bodies = [
      JSON.stringify({
        version: '0',
        id: 'e-6',
        'detail-type': 'Lambda Function Invocation Result - Failure',
        detail: { version: '1.0', requestContext: { requestId: 'r' }, requestPayload: { id: 'inner' } },
      }),
      JSON.stringify({ version: '1.0', requestPayload: { id: 'inner' } }),
      JSON.stringify({ version: '2.0', requestContext: { requestId: 'r' }, body: '{}' }),
      JSON.stringify({ requestContext: { requestId: 'r' }, requestPayload: { id: 'inner' } }),
    ];

    const records = bodies.map((body) => readDlqMessage(message(body, { ERROR_CODE: 'TIMEOUT' })));

    expect(records.map((record) => record.content)).toEqual(
      bodies.map((body) => ({ kind: 'event', body, event: JSON.parse(body) })),
    );
    expect(records.map((record) => record.failure.errorCode)).toEqual([
      'TIMEOUT',
      'TIMEOUT',
      'TIMEOUT',
      'TIMEOUT',
    ]);
  });

  it('finds the region in both forms of queue URL, and none in a local one', () => {
    const urls = [
      'https://sqs.eu-west-1.amazonaws.com/123456789012/q',
      'https://ap-southeast-2.queue.amazonaws.com/123456789012/q',
      'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q',
      'http://localhost:4566/000000000000/q',
    ];

    const regions = urls.map((url) => queueUrlRegion(new URL(url)));

    expect(regions).toEqual(['eu-west-1', 'ap-southeast-2', 'cn-north-1', undefined]);
  });
});
