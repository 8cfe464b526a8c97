import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BodyFactory,
  benchUuid,
  freshField,
  isDuplicateSlot,
  loadTemplates,
  makeTemplate,
  randomNamespace,
} from '../../bench/lib/bodies.js';

const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));

type Json = Record<string, unknown>;
const detailOf = (body: Json) => body.detail as { eventBody: Json; metadata: unknown; topicName: string };

describe('bench bodies', () => {
  const templates = loadTemplates(SAMPLES);

  it('loads every sample and picks the eventBody field to vary', () => {
    expect(templates.length).toBeGreaterThanOrEqual(5);
    const fields = new Set(templates.map((template) => template.field));
    expect(fields).toEqual(new Set(['id', 'conversationId']));
    expect(freshField({ id: 'x', conversationId: 'y' })).toBe('id');
    expect(freshField({ conversationId: 'y' })).toBe('conversationId');
    expect(freshField({ other: 1 })).toBe('id');
  });

  it('generates valid JSON with a fresh id and eventBody field, and keeps everything else', () => {
    const factory = new BodyFactory(templates, '0badcafe');
    for (let n = 0; n < templates.length; n++) {
      const body = JSON.parse(factory.body(n)) as Json;
      const template = templates[n % templates.length];
      expect(body.id).toBe(benchUuid('0badcafe', 0, n));
      expect(detailOf(body).eventBody[template?.field as string]).toBe(benchUuid('0badcafe', 1, n));
      expect(body['detail-type']).toEqual(expect.any(String));
      expect(detailOf(body).topicName).toEqual(expect.any(String));
      expect(body.source).toMatch(/^aws\.partner\/genesys\.com/);
    }
  });

  it('is deterministic per index (a retry is byte-identical) and distinct across indexes and namespaces', () => {
    const a = new BodyFactory(templates, 'aaaaaaaa');
    const b = new BodyFactory(templates, 'bbbbbbbb');
    expect(a.body(42)).toBe(a.body(42));
    const seen = new Set<string>();
    for (let n = 0; n < 500; n++) {
      const body = JSON.parse(a.body(n)) as Json;
      seen.add(`${body.id}|${JSON.stringify(detailOf(body).eventBody)}`);
    }
    expect(seen.size).toBe(500);
    expect(a.body(7)).not.toBe(b.body(7));
  });

  it('makes UUID-shaped ids', () => {
    expect(benchUuid('01234567', 1, 255)).toBe('01234567-b3c1-4000-8000-0000000000ff');
    expect(benchUuid('01234567', 0, 0)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(() => benchUuid('xyz', 0, 1)).toThrow(/namespace/);
    expect(() => benchUuid('01234567', 0, -1)).toThrow();
    expect(randomNamespace()).toMatch(/^[0-9a-f]{8}$/);
  });

  it('sends realistic sizes, compact or pretty', () => {
    const compact = new BodyFactory(loadTemplates(SAMPLES, 'compact'), '00000000').meanBytes();
    const pretty = new BodyFactory(loadTemplates(SAMPLES, 'pretty'), '00000000').meanBytes();
    expect(compact).toBeGreaterThan(800);
    expect(compact).toBeLessThan(1300);
    expect(pretty).toBeGreaterThan(compact);
  });

  it('refuses a sample without an eventBody', () => {
    expect(() => makeTemplate('bad', { detail: {} })).toThrow(/eventBody/);
  });

  it('spreads exactly the asked share of duplicates evenly', () => {
    const slots = Array.from({ length: 1000 }, (_, i) => isDuplicateSlot(i, 30));
    expect(slots.filter(Boolean).length).toBe(300);
    // Evenly: every run of 10 has exactly 3.
    for (let start = 0; start < 1000; start += 10) {
      expect(slots.slice(start, start + 10).filter(Boolean).length).toBe(3);
    }
    expect(Array.from({ length: 100 }, (_, i) => isDuplicateSlot(i, 0)).some(Boolean)).toBe(false);
    expect(Array.from({ length: 100 }, (_, i) => isDuplicateSlot(i, 100)).every(Boolean)).toBe(true);
  });
});
