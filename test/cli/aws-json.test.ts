import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { callAwsJson } from '../../src/cli/aws-json.js';
import { resolveContext } from '../../src/cli/io.js';
import { captureContext } from './helpers/context.js';

describe('callAwsJson', () => {
  it('answers a final error with the first line, at most 300 characters, of a credential refresh that failed', async () => {
    // Arrange: a credential_process whose output is one long line, then more
    const said = `${'x'.repeat(400)}\nsecond line`;
    const service = {
      endpoint: new URL('http://127.0.0.1:1/'),
      region: 'eu-west-1',
      signingName: 'events',
      contentType: 'application/x-amz-json-1.1',
      credentials: () => Promise.reject(new Error(said)),
      timeoutMs: 1000,
    };

    const dispatcher = new Agent();
    onTestFinished(() => dispatcher.close());

    // Act
    const answer = await callAwsJson(
      dispatcher,
      service,
      'AWSEvents.PutEvents',
      {},
      resolveContext(captureContext([]).ctx),
    );

    // Assert
    expect(answer).toEqual({
      kind: 'error',
      retryable: false,
      message: `AWS credentials: ${'x'.repeat(300)}…`,
    });
  });
});
