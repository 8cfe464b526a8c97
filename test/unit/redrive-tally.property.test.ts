import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT_FAILED, EXIT_OK } from '../../src/cli/io.js';
import {
  type ErrorCodeGroup,
  formatRedriveSummary,
  type MessageResult,
  type RedriveOutcome,
  type RedriveSummary,
  RedriveTally,
} from '../../src/cli/redrive-report.js';

type Meta = { queueUrl: string; to: string; dryRun: boolean; error?: string; elapsedMs: number };

/** A copy of summarizeRedrive as it was, over the whole list of results: the reference the tally must match. */
function oldSummarizeRedrive(results: readonly MessageResult[], meta: Meta): RedriveSummary {
  const count = (outcome: RedriveOutcome) => results.filter((r) => r.outcome === outcome).length;
  const byErrorCode: Record<string, ErrorCodeGroup> = {};
  for (const r of results) {
    const group = byErrorCode[r.errorCode] ?? { messages: 0, deleted: 0, left: 0 };
    group.messages++;
    if (r.deleted) group.deleted++;
    else group.left++;
    byErrorCode[r.errorCode] = group;
  }
  const deleted = results.filter((r) => r.deleted).length;
  const left = results.length - deleted;
  const tookButKept = new Set<RedriveOutcome>(['processed', 'duplicate', 'delivered', 'put']);
  const summary: RedriveSummary = {
    queueUrl: meta.queueUrl,
    to: meta.to,
    dryRun: meta.dryRun,
    received: results.length,
    processed: count('processed'),
    duplicate: count('duplicate'),
    delivered: count('delivered'),
    put: count('put'),
    rejected: count('rejected'),
    failed: count('failed'),
    notRedrivable: count('not-redrivable'),
    unusable: count('unusable'),
    deleted,
    left,
    deleteFailed: results.filter((r) => !r.deleted && tookButKept.has(r.outcome)).length,
    byErrorCode,
    elapsedMs: Math.round(meta.elapsedMs),
    exitCode: meta.error !== undefined || (!meta.dryRun && left > 0) ? EXIT_FAILED : EXIT_OK,
    messages: [...results],
  };
  if (meta.error !== undefined) summary.error = meta.error;
  return summary;
}

const OUTCOMES: RedriveOutcome[] = [
  'listed',
  'processed',
  'duplicate',
  'delivered',
  'put',
  'rejected',
  'failed',
  'not-redrivable',
  'unusable',
];

/**
 * ERROR_CODE values: EventBridge's own, and any other text. Names of Object.prototype are left out here: the old
 * function kept its groups in a plain object and lost them (see the example below).
 */
const errorCode = fc.oneof(
  fc.constantFrom('TIMEOUT', 'SDK_CLIENT_ERROR', 'CONNECTION_FAILURE', 'THROTTLING', 'NONE'),
  fc.string({ maxLength: 6 }).filter((code) => !(code in Object.prototype)),
);

const messageResult: fc.Arbitrary<MessageResult> = fc.record(
  {
    messageId: fc.uuid(),
    errorCode,
    outcome: fc.constantFrom(...OUTCOMES),
    deleted: fc.boolean(),
    status: fc.constantFrom(200, 202, 400, 401, 422, 503),
    key: fc.string({ maxLength: 8 }),
    eventId: fc.uuid(),
    error: fc.string({ maxLength: 8 }),
  },
  { requiredKeys: ['messageId', 'errorCode', 'outcome', 'deleted'] },
);

const meta: fc.Arbitrary<Meta> = fc.record(
  {
    queueUrl: fc.constant('https://sqs.eu-west-1.amazonaws.com/123456789012/dlq'),
    to: fc.constantFrom('http://127.0.0.1:3000/events', 'bus genesys-bus'),
    dryRun: fc.boolean(),
    error: fc.string({ maxLength: 8 }),
    elapsedMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
  },
  { requiredKeys: ['queueUrl', 'to', 'dryRun', 'elapsedMs'] },
);

function tallyOf(results: readonly MessageResult[], keepMessages: boolean): RedriveTally {
  const tally = new RedriveTally({ keepMessages });
  for (const result of results) tally.add(result);
  return tally;
}

describe('RedriveTally', () => {
  it('with --json gives, byte for byte, the summary the list-based summarizeRedrive gave', () => {
    fc.assert(
      fc.property(fc.array(messageResult, { maxLength: 40 }), meta, (results, m) => {
        const expected = oldSummarizeRedrive(results, m);

        const summary = tallyOf(results, true).summary(m);

        expect(summary).toEqual(expected);
        // Field order and byErrorCode's order (first seen first) too: the JSON output is unchanged.
        expect(JSON.stringify(summary)).toBe(JSON.stringify(expected));
        expect(summary.exitCode).toBe(expected.exitCode);
      }),
      { numRuns: 300 },
    );
  });

  it('without --json gives the same counts, lines and exit code, and keeps no message', () => {
    fc.assert(
      fc.property(fc.array(messageResult, { maxLength: 40 }), meta, (results, m) => {
        const { messages: _messages, ...expected } = oldSummarizeRedrive(results, m);

        const summary = tallyOf(results, false).summary(m);

        expect(summary).toEqual(expected);
        expect(Object.hasOwn(summary, 'messages')).toBe(false);
        expect(formatRedriveSummary(summary)).toEqual(formatRedriveSummary({ ...expected, messages: [] }));
      }),
      { numRuns: 300 },
    );
  });

  it('counts for the progress bar and the 401 hint what the whole list would say after each message', () => {
    fc.assert(
      fc.property(fc.array(messageResult, { maxLength: 40 }), (results) => {
        const tally = new RedriveTally({ keepMessages: false });
        const seen: MessageResult[] = [];

        for (const result of results) {
          tally.add(result);
          seen.push(result);

          expect(tally.done).toBe(seen.length);
          expect(tally.progressLine()).toBe(`deleted=${seen.filter((r) => r.deleted).length}`);
          expect(tally.answered(401)).toBe(seen.some((r) => r.status === 401));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('groups error codes named like Object.prototype members as any other, leaving the prototype alone', () => {
    // Arrange: ERROR_CODE is a message attribute; whoever can send to the queue chooses it.
    const results: MessageResult[] = [
      { messageId: 'm-1', errorCode: '__proto__', outcome: 'processed', deleted: true },
      { messageId: 'm-2', errorCode: 'toString', outcome: 'failed', deleted: false },
      { messageId: 'm-3', errorCode: 'TIMEOUT', outcome: 'processed', deleted: true },
    ];

    // Act
    const summary = tallyOf(results, false).summary({
      queueUrl: 'q',
      to: 'bus b',
      dryRun: false,
      elapsedMs: 1,
    });

    // Assert
    expect(Object.entries(summary.byErrorCode)).toEqual([
      ['__proto__', { messages: 1, deleted: 1, left: 0 }],
      ['toString', { messages: 1, deleted: 0, left: 1 }],
      ['TIMEOUT', { messages: 1, deleted: 1, left: 0 }],
    ]);
    expect(JSON.stringify(summary.byErrorCode)).toBe(
      '{"__proto__":{"messages":1,"deleted":1,"left":0},"toString":{"messages":1,"deleted":0,"left":1},"TIMEOUT":{"messages":1,"deleted":1,"left":0}}',
    );
    expect(formatRedriveSummary(summary).at(-1)).toBe(
      'by error code: TIMEOUT 1 (1 deleted, 0 left), __proto__ 1 (1 deleted, 0 left), toString 1 (0 deleted, 1 left)',
    );
    expect(Object.hasOwn(Object.prototype, 'messages')).toBe(false);
  });

  it('hands out a summary that later messages do not change', () => {
    const tally = new RedriveTally({ keepMessages: true });
    tally.add({ messageId: 'm-1', errorCode: 'TIMEOUT', outcome: 'processed', deleted: true });
    const first = tally.summary({ queueUrl: 'q', to: 'bus b', dryRun: false, elapsedMs: 1 });

    tally.add({ messageId: 'm-2', errorCode: 'TIMEOUT', outcome: 'failed', deleted: false });

    expect(first.byErrorCode).toEqual({ TIMEOUT: { messages: 1, deleted: 1, left: 0 } });
    expect(first.messages).toHaveLength(1);
  });
});
