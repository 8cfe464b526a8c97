import { describe, expect, it } from 'vitest';
import {
  batchEntries,
  buildEntries,
  buildEntry,
  entrySize,
  MAX_REQUEST_ENTRY_BYTES,
} from '../../src/cli/put-events-entries.js';

const genesys = {
  version: '0',
  id: '58fb5dac-f077-4eec-a25f-c638dbdd4368',
  'detail-type': 'v2.detail.events.conversation.{id}.customer.end',
  source: 'aws.partner/genesys.com/cloud/org/bus',
  account: '123456789012',
  time: '2022-06-14T16:12:11.000Z',
  region: 'us-east-1',
  resources: ['arn:aws:x'],
  detail: { topicName: 't', eventBody: { ü: 'é' } },
};

describe('entrySize', () => {
  it('counts 14 bytes for Time and the UTF-8 bytes of Source, DetailType, Detail and Resources', () => {
    // Arrange
    const entry = {
      Source: 'src',
      DetailType: 'dt',
      Detail: '{"a":"é"}',
      Resources: ['r1', 'ü'],
      Time: 1,
      EventBusName: 'bus-not-counted',
    };

    // Act
    const size = entrySize(entry);

    // Assert: 14 + 3 + 2 + 10 ("é" is 2 bytes) + 2 + 2 ("ü" is 2 bytes)
    expect(size).toBe(33);
  });

  it('counts no Time bytes when Time is absent', () => {
    expect(entrySize({ Source: 'a', DetailType: 'b', Detail: '{}', EventBusName: 'bus' })).toBe(4);
  });
});

describe('buildEntry', () => {
  it('maps the envelope to a PutEvents entry, Detail as a JSON string and Time in epoch seconds', () => {
    const result = buildEntry('x.json', { ...genesys, source: 'my.app' }, 'bus-1', 'ebdedup.replay');

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.sourceReplaced).toBe(false);
    expect(result.entry.entry).toEqual({
      Source: 'my.app',
      DetailType: genesys['detail-type'],
      Detail: JSON.stringify(genesys.detail),
      Resources: ['arn:aws:x'],
      Time: Date.parse('2022-06-14T16:12:11Z') / 1000,
      EventBusName: 'bus-1',
    });
    expect(result.entry.size).toBe(entrySize(result.entry.entry));
  });

  it('replaces a source in the reserved aws. namespace with the replacement source', () => {
    const result = buildEntry('x.json', genesys, 'bus-1', 'ebdedup.replay');

    expect(result.ok && result.entry.entry.Source).toBe('ebdedup.replay');
    expect(result.ok && result.sourceReplaced).toBe(true);
  });

  it('refuses an event without detail-type, or whose entry alone is over 256 KiB', () => {
    const noType = buildEntry('a.json', { source: 's', detail: {} }, 'bus', 'r');
    const huge = buildEntry(
      'b.json',
      { ...genesys, detail: { blob: 'x'.repeat(MAX_REQUEST_ENTRY_BYTES) } },
      'bus',
      'r',
    );

    expect(noType).toEqual({ ok: false, problem: 'a.json: no "detail-type" string, so no DetailType' });
    expect(huge.ok).toBe(false);
    expect(!huge.ok && huge.problem).toMatch(
      /^b\.json: entry is \d+ bytes, over PutEvents' 262144-byte limit/,
    );
  });

  it('lists each replaced source once', () => {
    const events = [1, 2, 3].map((n) => ({ label: `${n}.json`, event: genesys }));

    const built = buildEntries(events, 'bus', 'ebdedup.replay');

    expect(built.entries).toHaveLength(3);
    expect(built.replacedSources).toEqual([genesys.source]);
  });
});

describe('batchEntries', () => {
  it('puts at most 10 entries in a request', () => {
    const entries = Array.from({ length: 23 }, (_, i) => ({ id: i, size: 100 }));

    const batches = batchEntries(entries);

    expect(batches.map((b) => b.length)).toEqual([10, 10, 3]);
    expect(batches.flat().map((e) => e.id)).toEqual(entries.map((e) => e.id));
  });

  it('starts a new request before the entry sizes would pass 256 KiB', () => {
    const entries = [100_000, 100_000, 62_144, 1, 200_000, 70_000].map((size, id) => ({ id, size }));

    const batches = batchEntries(entries);

    expect(batches.map((b) => b.map((e) => e.id))).toEqual([[0, 1, 2], [3, 4], [5]]);
    for (const batch of batches) {
      expect(batch.reduce((sum, e) => sum + e.size, 0)).toBeLessThanOrEqual(MAX_REQUEST_ENTRY_BYTES);
    }
  });
});
