import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JSON_HEADERS, testApp } from '../helpers/app.js';
import { deepText, jsonText } from '../helpers/json-text.js';
import { AUDIT, SAMPLES_DIR } from '../helpers/samples.js';
import { RecordingSink } from '../helpers/sinks.js';

/**
 * Raw JSON text through HTTP: every answer is final (2xx or 4xx, never a 5xx that EventBridge would retry for a
 * day), and what a sink gets is the text as it was sent, byte for byte.
 */

const SAMPLE = readFileSync(`${SAMPLES_DIR}${AUDIT}`, 'utf8');
let counter = 0;

/** The sample event with `member` as the first member of detail.eventBody, and a fresh id, as text. */
function eventWith(member: string): string {
  counter += 1;
  return SAMPLE.replace('"eventBody": {', `"eventBody": {"n${counter}": 0, ${member},`);
}

const FINAL = new Set([200, 400, 413, 415]);

describe('raw JSON text through the events route', () => {
  it.each(['envelope', 'any'])(
    'answers 2xx or 4xx, and the sink gets the bytes as sent (EVENT_SCHEMA=%s)',
    async (schema) => {
      // Arrange
      const sink = new RecordingSink();
      const { app } = await testApp({ sink, env: { EVENT_SCHEMA: schema } });

      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            jsonText.map((value) => eventWith(`"generated": ${value}`)),
            jsonText,
            deepText,
            deepText.map((value) => eventWith(`"deep": ${value}`)),
          ),
          async (text) => {
            const before = sink.handled.length;

            // Act
            const response = await app.inject({
              method: 'POST',
              url: '/events',
              headers: JSON_HEADERS,
              payload: text,
            });

            // Assert
            expect(FINAL.has(response.statusCode), `${response.statusCode} ${response.body}`).toBe(true);
            if (response.json().status === 'processed') {
              expect(sink.handled.length).toBe(before + 1);
              expect(sink.handled.at(-1)?.context.rawBody).toBe(text);
            } else {
              expect(sink.handled.length).toBe(before);
            }
          },
        ),
        { numRuns: 300 },
      );
      // The comparison above ran: a good share of the texts were events, processed.
      expect(sink.handled.length).toBeGreaterThan(50);
    },
  );

  it('processes events whose numbers JSON.stringify would rewrite, passing the sink their text unchanged', async () => {
    // Arrange
    const sink = new RecordingSink();
    const { app } = await testApp({ sink });
    const texts = ['-0', '1.0', '1E+2', '9007199254740993', '1e-400', '0.1e-0000000000000000400'].map(
      (number) => eventWith(`"value": ${number}`),
    );

    // Act
    const responses = await Promise.all(
      texts.map((payload) => app.inject({ method: 'POST', url: '/events', headers: JSON_HEADERS, payload })),
    );

    // Assert
    expect(responses.map((response) => response.json().status)).toEqual(texts.map(() => 'processed'));
    expect(sink.handled.map((entry) => entry.context.rawBody).sort()).toEqual([...texts].sort());
  });

  it('takes a number beyond double range where no key reads it (event-id), delivering its text as sent', async () => {
    const sink = new RecordingSink();
    const { app } = await testApp({ sink, env: { DEDUP_STRATEGY: 'event-id' } });
    const payload = eventWith('"value": 1e400');

    const response = await app.inject({ method: 'POST', url: '/events', headers: JSON_HEADERS, payload });

    expect(response.json().status).toBe('processed');
    expect(sink.handled[0]?.context.rawBody).toBe(payload);
  });

  it.each([
    ['1e400', 'detail.eventBody.value'],
    ['-1e400', 'detail.eventBody.value'],
    [`1${'0'.repeat(309)}`, 'detail.eventBody.value'],
    ['[1, 2e999]', 'detail.eventBody.value.1'],
  ])('answers 400 naming the path of %s, beyond double range', async (number, path) => {
    const { app } = await testApp();

    const response = await app.inject({
      method: 'POST',
      url: '/events',
      headers: JSON_HEADERS,
      payload: eventWith(`"value": ${number}`),
    });

    expect(response.statusCode).toBe(400);
    expect(response.json().issues).toEqual([
      { path, message: 'is a number beyond the range of a double (IEEE-754)' },
    ]);
  });
});
