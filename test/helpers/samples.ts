import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SAMPLES_DIR = fileURLToPath(new URL('../../samples/', import.meta.url));

export const SAMPLE_FILES = readdirSync(SAMPLES_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort();

export type Json = Record<string, unknown>;

export function loadSample(name: string): Json {
  return JSON.parse(readFileSync(`${SAMPLES_DIR}${name}`, 'utf8')) as Json;
}

export const AUDIT = 'genesys-audit-userpresence-update.json';
export const CONVERSATION_START = 'genesys-detail-conversation-customer-start.json';
export const CONVERSATION_END = 'genesys-detail-conversation-customer-end.json';

/** The same notification published again: new EventBridge id and time, new CorrelationId and timestamp. */
export function republished(event: Json): Json {
  const detail = event.detail as Json;
  return {
    ...event,
    id: randomUUID(),
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    detail: { ...detail, metadata: { CorrelationId: randomUUID() }, timestamp: new Date().toISOString() },
  };
}

/** A distinct notification: a fresh event body id, so its content digest is new. */
export function uniqueEvent(base: Json = loadSample(AUDIT)): Json {
  const detail = base.detail as Json;
  return {
    ...base,
    id: randomUUID(),
    detail: { ...detail, eventBody: { ...(detail.eventBody as Json), id: randomUUID() } },
  };
}
