import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonDepthExceeds } from '../../src/http/json-depth.js';

/** Nesting depth of a parsed JSON value: 0 for a scalar, 1 for a flat array or object. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '\\\\', '"[', '\\\\"{');
const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'medium' },
    fc.oneof(fc.string(), fc.string({ unit: tricky }), fc.integer(), fc.constant(null)),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string(), fc.string({ unit: tricky })), tie('value'), { maxKeys: 3 }),
  ),
})).value;

describe('jsonDepthExceeds', () => {
  it('agrees with the parsed depth, whatever brackets, quotes and backslashes the strings hold', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 8 }), (value, limit) => {
        const text = JSON.stringify(value);
        const deep = depthOf(value) > limit;
        // Texts no longer than the limit are let through without a scan: they cannot nest deeper.
        expect(jsonDepthExceeds(text, limit)).toBe(deep && text.length > limit);
      }),
      { numRuns: 2000 },
    );
  });

  it('finds 129 levels and lets 128 through', () => {
    expect(jsonDepthExceeds(`${'['.repeat(129)}${']'.repeat(129)}`)).toBe(true);
    expect(jsonDepthExceeds(`${'['.repeat(128)}${']'.repeat(128)}`)).toBe(false);
    expect(jsonDepthExceeds(`{"a":"${'['.repeat(500)}","b":"\\\\"}`)).toBe(false);
  });
});
