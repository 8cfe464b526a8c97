import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createModuleSink } from '../../src/sinks/module.js';
import { JSON_HEADERS, testApp } from '../helpers/app.js';
import { uniqueEvent } from '../helpers/samples.js';

interface Received {
  event: { id: string };
  rawBody: string;
  key: string;
}

describe('module sink', () => {
  it("calls the user's handle with the parsed event and the body's text as sent", async () => {
    // Arrange: a user module that hands what it got back to the test.
    const dir = mkdtempSync(join(tmpdir(), 'ebdedup-module-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'sink.mjs');
    writeFileSync(
      path,
      'export function handle(event, context) { globalThis.__moduleSinkReceived = { event, rawBody: context.rawBody, key: context.key }; }\n',
    );
    const sink = await createModuleSink(path);
    const { app } = await testApp({ sink });
    const event = uniqueEvent();
    const text = JSON.stringify(event, null, 3).replace('"detail": {', '"detail": {"big": 9007199254740993,');

    // Act
    const response = await app.inject({
      method: 'POST',
      url: '/events',
      headers: JSON_HEADERS,
      payload: text,
    });
    const received = (globalThis as { __moduleSinkReceived?: Received }).__moduleSinkReceived;

    // Assert
    expect(response.json().status).toBe('processed');
    expect(received?.rawBody).toBe(text);
    expect(received?.event.id).toBe(event.id);
    expect(received?.key).toBe(response.json().key);
  });
});
