import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countMembers } from '../../src/events/json-checks.js';
import {
  findDuplicateMember,
  MAX_JSON_DEPTH,
  scanJsonText,
  withIntegerDigitsKept,
} from '../../src/events/json-text.js';

/** Nesting depth of a parsed JSON value: 0 for a scalar, 1 for a flat array or object. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

const tricky = fc.constantFrom(
  '[',
  ']',
  '{',
  '}',
  '"',
  '\\',
  '\\"',
  '\\\\',
  '"[',
  '\\\\"{',
  ':',
  ',',
  '-1',
  '9',
);
const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'medium' },
    fc.oneof(fc.string(), fc.string({ unit: tricky }), fc.integer(), fc.double(), fc.constant(null)),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string(), fc.string({ unit: tricky })), tie('value'), { maxKeys: 3 }),
  ),
})).value;

describe('scanJsonText', () => {
  it('agrees with the parsed depth and member count, whatever brackets, quotes and colons the strings hold', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 8 }), fc.boolean(), (value, limit, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        const facts = scanJsonText(text, limit);
        expect(facts.tooDeep).toBe(depthOf(value) > limit);
        if (!facts.tooDeep) expect(facts.members).toBe(countMembers(value));
        // JSON.stringify writes only doubles, each of them exactly.
        expect(facts.rewrittenIntegers).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('finds 129 levels and lets 128 through', () => {
    expect(scanJsonText(`${'['.repeat(129)}${']'.repeat(129)}`).tooDeep).toBe(true);
    expect(scanJsonText(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`).tooDeep).toBe(false);
    expect(scanJsonText(`{"a":"${'['.repeat(500)}","b":"\\\\"}`).tooDeep).toBe(false);
  });

  it('counts a member name written twice, which JSON.parse drops', () => {
    const text = '{"a":1,"b":{"c":2,"c":3},"a":4}';

    const facts = scanJsonText(text);

    expect(facts.members).toBe(5);
    expect(countMembers(JSON.parse(text))).toBe(3);
  });

  it('finds the integers whose digits the canonical form would change, and only those', () => {
    const text =
      '{"a":9007199254740993,"b":9007199254740992,"c":[-9007199254740995 ,1e400],"d":12345678901234567.0,"e":100000000000000000000}';

    const facts = scanJsonText(text);

    const found = [];
    for (let at = 0; at < (facts.rewrittenIntegers ?? []).length; at += 2) {
      found.push(text.slice(facts.rewrittenIntegers?.[at], facts.rewrittenIntegers?.[at + 1]));
    }
    expect(found).toEqual(['9007199254740993', '-9007199254740995']);
  });
});

describe('findDuplicateMember', () => {
  it.each([
    ['{"a":1,"a":2}', 'a', 'a'],
    ['{"x":{"y":[{"z":1},{"z":1,"w":[1,{"q":"\\"","q":2}]}]}}', 'x.y.1.w.1.q', 'q'],
    ['{"detail":{"eventBody":{"id":"a","id":"b"}}}', 'detail.eventBody.id', 'id'],
    ['{"a":{"b":1},"c":{"b":1},"d":{"\\u0062":1,"b":2}}', 'd.b', 'b'],
    ['{"e":{"a.b":1,"a.b":2}}', 'e.a.b', 'a.b'],
  ])('names the path and the name written twice in %s', (text, path, name) => {
    expect(findDuplicateMember(text)).toEqual({ path, name });
  });

  it('finds none where every object names its members once', () => {
    expect(findDuplicateMember('{"a":{"a":{"a":[{"a":1},{"a":2}]}},"b":"a"}')).toBeUndefined();
  });
});

describe('withIntegerDigitsKept', () => {
  it('writes each integer the canonical form would rewrite as a string no accepted body can hold', () => {
    const text = '{"a":9007199254740993,"b":[1,-9007199254740995]}';
    const facts = scanJsonText(text);

    const view = JSON.parse(withIntegerDigitsKept(text, facts.rewrittenIntegers ?? []));

    expect(view).toEqual({ a: '\ud8009007199254740993', b: [1, '\ud800-9007199254740995'] });
  });
});
