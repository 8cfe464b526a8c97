import { describe, expect, it } from 'vitest';
import { findForbiddenKey, findNonFiniteNumber, loneSurrogateIssue } from '../../src/events/json-checks.js';

describe('findNonFiniteNumber', () => {
  it.each([
    ['{"a":{"b":[1,2,1e400]}}', 'a.b.2'],
    ['{"a":-1E+0400}', 'a'],
    [`{"a":1${'0'.repeat(309)}}`, 'a'],
    ['1e999', ''],
  ])('names the path of the number beyond double range in %s', (text, path) => {
    expect(findNonFiniteNumber(JSON.parse(text))).toBe(path);
  });

  it.each(['{"a":"1e400"}', '{"a":1e308,"b":1e-400,"c":-0}', `{"a":"${'9'.repeat(400)}"}`])(
    'finds nothing in %s, where every number is a double',
    (text) => {
      expect(findNonFiniteNumber(JSON.parse(text))).toBeUndefined();
    },
  );

  it('walks values that were never JSON text (the Lambda adapter)', () => {
    expect(findNonFiniteNumber({ a: [{ b: Number.NEGATIVE_INFINITY }] })).toBe('a.0.b');
    expect(findNonFiniteNumber({ a: [{ b: 1 }] })).toBeUndefined();
  });
});

describe('findForbiddenKey', () => {
  it.each([
    ['{"__proto__":{}}', '__proto__'],
    ['{"a":[{"b":{"__proto__":1}}]}', 'a.0.b.__proto__'],
    ['{"a":{"constructor":{"prototype":{}}}}', 'a.constructor'],
  ])('names the path of the key secure-json-parse refuses in %s', (text, path) => {
    expect(findForbiddenKey(JSON.parse(text))).toBe(path);
  });

  it('takes a constructor key without a prototype inside, and prototype keys elsewhere', () => {
    expect(findForbiddenKey(JSON.parse('{"constructor":{"name":"x"},"prototype":{}}'))).toBeUndefined();
  });
});

describe('loneSurrogateIssue', () => {
  it.each([
    ['{"a":["x","\\ud800"]}', 'a.1'],
    ['{"\\uDC00":1}', '\udc00'],
    ['{"a":"\\udbff\\u0041"}', 'a'],
  ])('names the path of the lone surrogate in %s', (text, path) => {
    expect(loneSurrogateIssue(JSON.parse(text), text)?.path).toBe(path);
  });

  it.each(['{"a":"\\ud83d\\ude00"}', '{"a":"\\\\ud800"}', '{"a":"\\u00e9"}'])(
    'finds none in %s: a pair, an escaped backslash, another escape',
    (text) => {
      expect(loneSurrogateIssue(JSON.parse(text), text)).toBeUndefined();
    },
  );
});
