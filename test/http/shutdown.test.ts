import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { API_KEY, testApp } from '../helpers/app.js';
import { sleep } from '../helpers/ports.js';
import { uniqueEvent } from '../helpers/samples.js';
import { RecordingSink } from '../helpers/sinks.js';

/** One raw HTTP/1.1 POST of an event, as an API destination sends it on a keep-alive connection. */
function rawPost(body: string): string {
  return (
    'POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `User-Agent: Amazon/EventBridge/ApiDestinations\r\nx-api-key: ${API_KEY}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

describe('shutdown', () => {
  it('finishes the event in flight with connection: close and leaves one arriving after it to a retry', async () => {
    // Arrange: a listening app whose sink takes 400 ms, and one keep-alive connection with an event in flight.
    const sink = new RecordingSink({ delayMs: 400 });
    const { app } = await testApp({ sink });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    const socket = connect({ port: address.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    let received = '';
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const first = uniqueEvent();
    socket.write(rawPost(JSON.stringify(first)));
    await sleep(100);

    // Act: shutdown starts while the first event is in the sink; a second event arrives on the same connection.
    const closing = app.close();
    await sleep(20);
    socket.write(rawPost(JSON.stringify(uniqueEvent())));
    await closing;
    await closed;

    // Assert: the first is processed and answered, with the connection closed after it; the second is neither
    // processed nor answered, so the client sees a closed connection, which EventBridge retries.
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200 /);
    expect(answers[0]).toMatch(/\r\nconnection: close\r\n/i);
    expect(answers[0]).toContain('"status":"processed"');
    expect(sink.handled.map((entry) => entry.event.id)).toEqual([first.id]);
    expect(sink.closed).toBe(true);
  });
});
