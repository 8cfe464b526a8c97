import type { ValidationIssue } from '../core/errors.js';

/**
 * Checks on a parsed JSON body for what JSON.parse accepts but the receiver cannot take on: numbers beyond the
 * range of an IEEE-754 double, and keys that secure-json-parse (Fastify's JSON parser) refuses. Each names the
 * path of what it found, in the dotted form of a validation issue (`detail.eventBody.x`), so that the 400
 * says where the problem is: it is deterministic bad input, and a 5xx would make EventBridge retry it for a day.
 */

/** A path as validation issues write it: keys and array indexes joined by dots; empty for the body itself. */
export function dotted(path: readonly (string | number)[]): string {
  return path.map(String).join('.');
}

/**
 * Visits every value of a parsed JSON body, depth first and without recursion (the HTTP route has already
 * refused bodies nested deeper than 128 levels, the Lambda adapter likewise), until `found` says stop.
 */
function findPath(
  root: unknown,
  found: (value: unknown, key: string | number | undefined) => boolean,
): string | undefined {
  const stack: [unknown, (string | number)[]][] = [[root, []]];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, (string | number)[]];
    if (found(value, path[path.length - 1])) return dotted(path);
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push([value[index], [...path, index]]);
    } else {
      const keys = Object.keys(value);
      for (let index = keys.length - 1; index >= 0; index--) {
        const key = keys[index] as string;
        stack.push([(value as Record<string, unknown>)[key], [...path, key]]);
      }
    }
  }
  return undefined;
}

const isNonFinite = (value: unknown): boolean => typeof value === 'number' && !Number.isFinite(value);

/** What a validation issue says of a number beyond double range. */
export const NON_FINITE_NUMBER = 'is a number beyond the range of a double (IEEE-754)';

/**
 * The path of the first number in `body` beyond double range (JSON.parse made it ±Infinity), or undefined.
 * RFC 8259 section 6 leaves the range of numbers to implementations; RFC 8785 (the content digest) and I-JSON
 * (RFC 7493) allow only doubles. Called when the digest has refused such a number (keys.ts), not per event.
 */
export function findNonFiniteNumber(body: unknown): string | undefined {
  return findPath(body, isNonFinite);
}

/**
 * The path of the first key that secure-json-parse refuses (https://github.com/fastify/secure-json-parse):
 * `__proto__`, or `constructor` holding an object with a `prototype` key. `body` is the same text parsed by
 * plain JSON.parse, which makes such keys own properties, so they can be found and named.
 */
export function findForbiddenKey(body: unknown): string | undefined {
  return findPath(
    body,
    (value, key) =>
      key === '__proto__' ||
      (key === 'constructor' &&
        typeof value === 'object' &&
        value !== null &&
        Object.hasOwn(value, 'prototype')),
  );
}

/**
 * How many members the objects in `value` hold, all levels together. Compared with the member names its text
 * wrote (json-text.ts): fewer means JSON.parse dropped a name written twice. Recursive: the text was checked
 * for depth first.
 */
export function countMembers(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += countMembers(item);
    return count;
  }
  for (const key in value) count += 1 + countMembers((value as Record<string, unknown>)[key]);
  return count;
}

/** In a `u` regular expression a surrogate pair is one code point: only a lone surrogate matches this. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

const holdsLoneSurrogate = (value: unknown, key: string | number | undefined): boolean =>
  (typeof value === 'string' && LONE_SURROGATE.test(value)) ||
  (typeof key === 'string' && LONE_SURROGATE.test(key));

/** What a validation issue says of a string or member name holding a lone surrogate. */
export const LONE_SURROGATE_MESSAGE =
  'holds a lone surrogate (an unpaired \\ud800–\\udfff escape), which is not Unicode text (RFC 8785, RFC 7493)';

/**
 * The path of the first string or member name in `body` holding a lone surrogate, or undefined. JSON.parse
 * accepts `"\ud800"`, but it is no character: RFC 8785 (the content digest) and I-JSON refuse it, and a
 * consumer decoding it as UTF-8 would see U+FFFD, so two events could become one.
 */
export function findLoneSurrogate(body: unknown): string | undefined {
  return findPath(body, holdsLoneSurrogate);
}

/** A `\u` escape of a surrogate, paired or not (or a text that only looks like one, `\\ud800`). */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * The issue of a lone surrogate in `body`, parsed from `text`, or undefined. In valid UTF-8 a surrogate can
 * only be written as an escape (the HTTP route refuses other bytes; JSON.stringify, which gives a Lambda
 * event's text, escapes lone ones), so the body is walked only when its text holds one: nearly never.
 */
export function loneSurrogateIssue(body: unknown, text: string): ValidationIssue | undefined {
  if (!SURROGATE_ESCAPE.test(text)) return undefined;
  const path = findLoneSurrogate(body);
  return path === undefined ? undefined : { path, message: LONE_SURROGATE_MESSAGE };
}
