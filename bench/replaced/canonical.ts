import type { EventEnvelope } from '../../src/events/envelope.js';
import type { FieldPath } from '../../src/events/paths.js';

/*
 * Removed from src/events/canonical.ts on 2026-12-04: the bench (bench/replacements.ts) measured that it saved
 * 2.8 µs of a new event's 166 µs of CPU (1.6 %), under the 5 % a hand-written replacement of a library must save
 * (bench/results/replacements-2026-12-04.md). Kept here, unused by the receiver, only so that
 * `npm run bench -- --replacements` can measure the library against it again. Its own header follows.
 */

/**
 * RFC 8785 JSON Canonicalization Scheme (https://www.rfc-editor.org/rfc/rfc8785), written for the content
 * digest, which runs on every request. The output is byte for byte what the `canonicalize` package (by the
 * RFC's co-author) gives for every value JSON.parse can make; a property test holds it to that
 * (test/unit/canonical.property.test.ts). It is faster because it makes one pass with no closures, sorts small
 * key lists by hand, and hands a string to JSON.stringify only when it needs escaping.
 *
 * Where it differs from `canonicalize` is only for values JSON.parse cannot make, which the receiver never
 * hashes:
 * - `toJSON` is not called (canonicalize looks it up on every object, through the prototype chain, which costs
 *   on every object; a Date or any other class instance is written as its own enumerable properties);
 * - a function inside an object or array is treated like `undefined`, as JSON.stringify does (left out of an
 *   object, `null` in an array): canonicalize writes the bare word `undefined` there, which is not JSON;
 * - a hole in a sparse array is written as `null` (canonicalize's `reduce` skips holes, which drops the
 *   element and so shifts the ones after it).
 * NaN and ±Infinity throw the same errors as canonicalize, and a bigint the same TypeError (JSON.stringify's).
 */

/**
 * What a string needs escaping for: control characters, `"`, `\`, and any surrogate code unit (a lone one is
 * written as `\udxxx`, RFC 8785 section 3.2.2.2 by way of ES JSON.stringify; a well-formed pair needs no
 * escaping, but JSON.stringify sorts that out). No `u` flag, so the class matches UTF-16 code units.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
const NEEDS_ESCAPING = /[\u0000-\u001f"\\\ud800-\udfff]/;

/**
 * Above this many keys, Array#sort; below, an insertion sort, which for the 1–11 keys of an event's objects
 * avoids the builtin's set-up cost. The limit keeps a hostile object with thousands of keys from the
 * insertion sort's quadratic worst case.
 */
const INSERTION_SORT_LIMIT = 16;

/** Up to this length a string is checked by a loop, above it by NEEDS_ESCAPING: each is faster in its range. */
const SHORT_STRING = 16;

function writeString(text: string): string {
  // Measured on the samples: JSON.stringify for every string costs about twice what a check costs, and most
  // strings (identifiers, UUIDs, dates) need no escaping.
  if (text.length > SHORT_STRING) return NEEDS_ESCAPING.test(text) ? JSON.stringify(text) : `"${text}"`;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x20 || unit === 0x22 || unit === 0x5c || (unit >= 0xd800 && unit <= 0xdfff)) {
      return JSON.stringify(text);
    }
  }
  return `"${text}"`;
}

function writeNumber(value: number): string {
  // ES Number-to-String is RFC 8785's number serialisation (section 3.2.2.3); it writes -0 as 0.
  if (Number.isFinite(value)) return `${value}`;
  throw new Error(Number.isNaN(value) ? 'NaN is not allowed' : 'Infinity is not allowed');
}

/**
 * Sorts in place by UTF-16 code units (RFC 8785 section 3.2.3), as Array#sort without a comparator does and as
 * `<` compares strings. Own keys are distinct, so stability does not matter.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > INSERTION_SORT_LIMIT) return keys.sort();
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string;
    let at = index - 1;
    while (at >= 0 && (keys[at] as string) > key) {
      keys[at + 1] = keys[at] as string;
      at--;
    }
    keys[at + 1] = key;
  }
  return keys;
}

/** The canonical JSON of `value`, or undefined where JSON has no value (left out of an object, null in an array). */
function writeValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return writeString(value);
    case 'number':
      return writeNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? writeArray(value) : writeObject(value as Record<string, unknown>);
    case 'bigint':
      // Throws JSON.stringify's TypeError, as canonicalize does.
      return JSON.stringify(value);
    default:
      // undefined, a symbol or a function.
      return undefined;
  }
}

function writeArray(list: readonly unknown[]): string {
  let out = '[';
  for (let index = 0; index < list.length; index++) {
    if (index > 0) out += ',';
    out += writeValue(list[index]) ?? 'null';
  }
  return `${out}]`;
}

function writeObject(record: Record<string, unknown>): string {
  // Appended piece by piece: measured faster than one template per member.
  let out = '{';
  for (const key of sortKeys(Object.keys(record))) {
    const member = writeValue(record[key]);
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += writeString(key);
    out += ':';
    out += member;
  }
  return `${out}}`;
}

/**
 * The RFC 8785 canonical JSON of `value`: the same text as `canonicalize(value) ?? 'null'` for any value
 * JSON.parse can make (see the top of this file for the rest).
 */
export function canonicalJson(value: unknown): string {
  return writeValue(value) ?? 'null';
}

/**
 * Fields to leave out while writing, built once from field paths by omitTree. `null` leaves the field out (an
 * array element is written as null instead); a tree descends into it.
 */
export interface OmitTree {
  /** By segment, for objects. */
  readonly fields: ReadonlyMap<string, OmitTree | null>;
  /** The segments that are array indexes ("0", "1", …, as omitPaths accepts them), by number, for arrays. */
  readonly indexes: ReadonlyMap<number, OmitTree | null>;
}

interface MutableOmitTree {
  fields: Map<string, MutableOmitTree | null>;
  indexes: Map<number, MutableOmitTree | null>;
}

function emptyTree(): MutableOmitTree {
  return { fields: new Map(), indexes: new Map() };
}

/**
 * On an array, omitPaths follows a segment that is an own property and an integer: for an array JSON.parse
 * makes, that is "0" to "length - 1" written the canonical way (not "01", "1.0" or "-0").
 */
function arrayIndex(segment: string): number | undefined {
  const index = Number(segment);
  return Number.isInteger(index) && index >= 0 && String(index) === segment ? index : undefined;
}

function indexTree(tree: MutableOmitTree): void {
  for (const [segment, child] of tree.fields) {
    const index = arrayIndex(segment);
    if (index !== undefined) tree.indexes.set(index, child);
    if (child !== null) indexTree(child);
  }
}

/**
 * The tree of `paths`, for canonicalJsonOmitting. Whatever their order, a path that another one is a prefix of
 * has no effect: omitPaths would either remove the longer one's field with its parent, or find nothing
 * left to remove.
 */
export function omitTree(paths: readonly FieldPath[]): OmitTree {
  const root = emptyTree();
  for (const path of paths) {
    let node = root;
    for (let depth = 0; depth < path.length; depth++) {
      const segment = path[depth] as string;
      if (depth === path.length - 1) {
        node.fields.set(segment, null);
        break;
      }
      const child = node.fields.get(segment);
      if (child === null) break;
      if (child === undefined) {
        const created = emptyTree();
        node.fields.set(segment, created);
        node = created;
      } else node = child;
    }
  }
  indexTree(root);
  return root;
}

function writeValueOmitting(value: unknown, omit: OmitTree): string | undefined {
  if (typeof value !== 'object' || value === null) return writeValue(value);
  return Array.isArray(value)
    ? writeArrayOmitting(value, omit)
    : writeObjectOmitting(value as Record<string, unknown>, omit);
}

function writeArrayOmitting(list: readonly unknown[], omit: OmitTree): string {
  if (omit.indexes.size === 0) return writeArray(list);
  let out = '[';
  for (let index = 0; index < list.length; index++) {
    if (index > 0) out += ',';
    const child = omit.indexes.get(index);
    // omitPaths blanks an element rather than removing it, which would shift the rest.
    if (child === null) out += 'null';
    else
      out +=
        (child === undefined ? writeValue(list[index]) : writeValueOmitting(list[index], child)) ?? 'null';
  }
  return `${out}]`;
}

/**
 * Whether omitPaths copies `record`: some path goes on through one of its own properties. The copy is made by
 * assignment to a fresh `{}`, where `copy.__proto__ = …` runs Object.prototype's setter instead of making a
 * property, so the copy has no `__proto__` member, and neither has the content digest of every event hashed so
 * far. Keys in Redis depend on that, so it is reproduced here.
 */
function copiedByOmitPaths(record: Record<string, unknown>, omit: OmitTree): boolean {
  for (const segment of omit.fields.keys()) {
    if (Object.hasOwn(record, segment)) return true;
  }
  return false;
}

function writeObjectOmitting(record: Record<string, unknown>, omit: OmitTree): string {
  let out = '{';
  for (const key of sortKeys(Object.keys(record))) {
    const child = omit.fields.get(key);
    if (child === null) continue;
    if (key === '__proto__' && copiedByOmitPaths(record, omit)) continue;
    const member = child === undefined ? writeValue(record[key]) : writeValueOmitting(record[key], child);
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += writeString(key);
    out += ':';
    out += member;
  }
  return `${out}}`;
}

/**
 * `canonicalJson(omitPaths(value, paths))` with `omit = omitTree(paths)`, without the copies: fields are left
 * out while writing. omitPaths (test/helpers/omit-paths.ts) is how content keys were first computed; the tests
 * keep it as the reference this must match.
 */
export function canonicalJsonOmitting(value: unknown, omit: OmitTree): string {
  return (omit.fields.size === 0 ? writeValue(value) : writeValueOmitting(value, omit)) ?? 'null';
}

/**
 * One member of the content view, `"name":value`, appended to `out` (the object's text so far, `{` not yet
 * written) unless DEDUP_IGNORE_FIELDS leaves it out. `name` is one of the view's three, which need no
 * escaping; the view has no `__proto__` member, so what canonicalJsonOmitting does about one does not arise.
 */
function appendViewMember(out: string, name: string, value: unknown, omit: OmitTree): string {
  const child = omit.fields.get(name);
  if (child === null) return out;
  const json = child === undefined ? canonicalJson(value) : canonicalJsonOmitting(value, child);
  return `${out}${out === '' ? '{' : ','}"${name}":${json}`;
}

/**
 * The canonical JSON of an envelope event's content view, `{ source, 'detail-type', detail }`, less the
 * fields in `omit`, as src/events/keys.ts wrote it with this writer: without building the view or copying
 * what is left out.
 */
export function envelopeMaterial(envelope: EventEnvelope, omit: OmitTree): string {
  // RFC 8785 member order (UTF-16 code units): detail, detail-type, source.
  let out = appendViewMember('', 'detail', envelope.detail, omit);
  out = appendViewMember(out, 'detail-type', envelope['detail-type'], omit);
  out = appendViewMember(out, 'source', envelope.source, omit);
  return out === '' ? '{}' : `${out}}`;
}
