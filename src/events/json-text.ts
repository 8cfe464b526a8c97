/**
 * What a JSON text says that JSON.parse does not tell: how deep it nests, how many member names its objects
 * hold (duplicates included, which JSON.parse silently drops, last one winning), and where it writes an integer
 * that a double cannot hold. One pass, strings skipped with indexOf (most of an event's bytes are strings),
 * before the text is parsed; the parsed value is then compared with it (json-body.ts).
 *
 * What it costs: 1.0 % of the receiver's CPU under load, new events and retries alike (`npm run bench --
 * --profile`, bench/results/profile-2026-12-04-json-text.md); 1.6 µs per sample event against JSON.parse's
 * 2.1 µs for the same text. The depth check it replaced took 0.09 µs, by counting brackets, which cannot count
 * member names.
 *
 * Why not a library: lossless-json refuses duplicate names and keeps an integer's digits as it parses, but it is
 * a whole parser in JavaScript in place of JSON.parse. On the samples it took 12.4 µs where this scan, JSON.parse
 * and countMembers together took 8.1 (same run, loaded machine, 2026-12-04), and it says neither the path of a
 * duplicate nor gives the body numbers. This file copies no library: it builds no values, it only counts.
 */

import { dotted } from './json-checks.js';

/**
 * How deep a body may nest. JSON.parse copes with any depth, but everything after it that walks the value
 * recursively (RFC 8785 canonicalisation of the content digest, for one) overflows the stack at a few thousand
 * levels: a 10 kB body of `{"a":` would become a 500 that EventBridge retries for a day. No EventBridge or
 * Genesys event comes close to this limit.
 */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

export interface JsonTextFacts {
  /** The text opens more than the limit's objects or arrays inside each other (the scan stopped there). */
  tooDeep: boolean;
  /** Member names in all the text's objects, each duplicate counted. */
  members: number;
  /**
   * Start and end offsets, in pairs, of the integers (written without fraction or exponent) whose digits the
   * canonical form of the digest would change (`9007199254740993`, which JSON.parse makes `…992`); undefined
   * when there are none.
   */
  rewrittenIntegers: number[] | undefined;
}

/** True when the quote at `index` is escaped: an odd number of backslashes stands before it. */
function escaped(text: string, index: number): boolean {
  let backslashes = 0;
  for (let at = index - 1; at >= 0 && text.charCodeAt(at) === BACKSLASH; at--) backslashes++;
  return backslashes % 2 === 1;
}

/** The offset of the quote that closes the string opened at `open`; -1 when it is never closed. */
function closingQuote(text: string, open: number): number {
  let close = text.indexOf('"', open + 1);
  while (close !== -1 && escaped(text, close)) close = text.indexOf('"', close + 1);
  return close;
}

/**
 * True when the integer token `text` is not what RFC 8785 writes for the double JSON.parse makes of it
 * (ECMAScript's Number-to-String, section 3.2.2.3): `9007199254740993` becomes `9007199254740992`, so a digest
 * of the canonical form could not tell the two apart. Every integer of up to 15 digits is written back as it
 * came (10^15 < 2^53), so only longer tokens are converted. A text that a double-writing producer (JavaScript's
 * JSON.stringify, say) made is always written back as it came, so its key is RFC 8785's.
 */
function rewrittenByCanonicalForm(text: string): boolean {
  const digits = text.charCodeAt(0) === MINUS ? text.length - 1 : text.length;
  if (digits <= 15) return false;
  const value = Number(text);
  // Beyond double range it is Infinity, which the digest refuses with a 400 naming its path (keys.ts).
  return Number.isFinite(value) && String(value) !== text;
}

/**
 * One pass over `text`. Meant for text JSON.parse accepts: on anything else it still ends, and its facts are
 * not used (JSON.parse's refusal is the answer).
 */
export function scanJsonText(text: string, depthLimit: number = MAX_JSON_DEPTH): JsonTextFacts {
  let members = 0;
  let depth = 0;
  let rewrittenIntegers: number[] | undefined;
  const length = text.length;
  for (let index = 0; index < length; index++) {
    const char = text.charCodeAt(index);
    if (char === QUOTE) {
      const close = closingQuote(text, index);
      if (close === -1) break;
      index = close;
    } else if (char === COLON) {
      members++;
    } else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      if (++depth > depthLimit) return { tooDeep: true, members, rewrittenIntegers };
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth--;
    } else if (char === MINUS || (char >= DIGIT_0 && char <= DIGIT_9)) {
      // A number token: digits, then perhaps a fraction or an exponent, which make it no integer token.
      let end = index + 1;
      let integer = true;
      for (; end < length; end++) {
        const next = text.charCodeAt(end);
        if (next >= DIGIT_0 && next <= DIGIT_9) continue;
        if (next === COMMA || next === CLOSE_BRACE || next === CLOSE_BRACKET || next <= 0x20) break;
        integer = false;
      }
      if (integer && end - index > 15 && rewrittenByCanonicalForm(text.slice(index, end))) {
        rewrittenIntegers ??= [];
        rewrittenIntegers.push(index, end);
      }
      index = end - 1;
    }
  }
  return { tooDeep: false, members, rewrittenIntegers };
}

type Frame = { names: Set<string>; name: string | undefined; expectingName: boolean } | { index: number };

/** A member name written twice, and its path in the dotted form of a validation issue. */
export interface DuplicateMember {
  name: string;
  path: string;
}

/**
 * The first member name written twice in one object of `text`, which JSON.parse has accepted; undefined when
 * there is none. Called only for a body whose member count says there is one, so it may allocate as it likes.
 */
export function findDuplicateMember(text: string): DuplicateMember | undefined {
  const frames: Frame[] = [];
  // Each enclosing frame's current member name or index, then the name written twice.
  const found = (name: string): DuplicateMember => ({
    name,
    path: dotted([
      ...frames.slice(0, -1).map((frame) => ('index' in frame ? frame.index : (frame.name ?? ''))),
      name,
    ]),
  });
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    const top = frames[frames.length - 1];
    if (char === QUOTE) {
      const close = closingQuote(text, index);
      if (close === -1) return undefined;
      if (top !== undefined && 'names' in top && top.expectingName) {
        const name = JSON.parse(text.slice(index, close + 1)) as string;
        if (top.names.has(name)) return found(name);
        top.names.add(name);
        top.name = name;
        top.expectingName = false;
      }
      index = close;
    } else if (char === OPEN_BRACE) {
      frames.push({ names: new Set(), name: undefined, expectingName: true });
    } else if (char === OPEN_BRACKET) {
      frames.push({ index: 0 });
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      frames.pop();
    } else if (char === COMMA && top !== undefined) {
      if ('index' in top) top.index++;
      else top.expectingName = true;
    }
  }
  return undefined;
}

/**
 * `text` with each integer the canonical form would rewrite (offsets from scanJsonText) written as a string: a lone surrogate (U+D800)
 * then the integer's digits. Parsed, it is the body as the dedup key sees it: two events that differ only in
 * such an integer's last digits stay two events, where RFC 8785 would write both as the same double. No body
 * the receiver accepts holds a lone surrogate (json-body.ts refuses them), so no string can be mistaken for one
 * of these.
 */
export function withIntegerDigitsKept(text: string, rewrittenIntegers: readonly number[]): string {
  let result = '';
  let from = 0;
  for (let at = 0; at < rewrittenIntegers.length; at += 2) {
    const start = rewrittenIntegers[at] as number;
    const end = rewrittenIntegers[at + 1] as number;
    result += `${text.slice(from, start)}"\\ud800${text.slice(start, end)}"`;
    from = end;
  }
  return result + text.slice(from);
}
