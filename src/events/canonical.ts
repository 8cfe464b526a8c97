import canonicalizeModule from 'canonicalize';
import { omitPaths } from './omit-paths.js';
import type { FieldPath } from './paths.js';

/**
 * RFC 8785 JSON Canonicalization Scheme (https://www.rfc-editor.org/rfc/rfc8785) for the content digest, by the
 * `canonicalize` package (by the RFC's co-author), called as its documentation shows, and fields left out first
 * by omitPaths. That is how content keys were first computed, so the keys are the same byte for byte (golden
 * keys in test/unit/keys.test.ts).
 *
 * From 2026-11-28 to 2026-12-04 a hand-written one-pass writer stood here instead. The bench measured what it
 * saved: 2.8 µs of a new event's 166 µs of CPU (1.6 %), under the 5 % a hand-written replacement of a library must save
 * (bench/results/replacements-2026-12-04.md; `npm run bench -- --replacements` measures it again).
 *
 * NaN and ±Infinity throw ('NaN is not allowed', 'Infinity is not allowed'), as canonicalize does; JSON.parse
 * never makes them, and a caller that could must answer them with a 400.
 */

// canonicalize is CommonJS whose typings declare an ES default export; under NodeNext the import is the
// function itself, so its type is restated here.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** The RFC 8785 canonical JSON of `value`; `null` where JSON has no value (undefined, a function, a symbol). */
export function canonicalJson(value: unknown): string {
  return canonicalize(value) ?? 'null';
}

/** Field paths to leave out of a canonical JSON text, made once (at start-up) by omitTree. */
export type OmitTree = readonly FieldPath[];

/** The paths, copied and frozen, for canonicalJsonOmitting. */
export function omitTree(paths: readonly FieldPath[]): OmitTree {
  return Object.freeze(paths.map((path) => Object.freeze([...path])));
}

/**
 * `canonicalJson(omitPaths(value, paths))`: `value` is not changed; what omitPaths copies loses an own
 * `__proto__` member, as it always has, and stored keys depend on that (see omit-paths.ts).
 */
export function canonicalJsonOmitting(value: unknown, omit: OmitTree): string {
  return canonicalJson(omit.length === 0 ? value : omitPaths(value, omit));
}
