import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { InvalidEventError, UnsupportedMediaTypeError } from '../core/errors.js';
import { countMembers, findForbiddenKey } from '../events/json-checks.js';
import {
  findDuplicateMember,
  type JsonTextFacts,
  MAX_JSON_DEPTH,
  scanJsonText,
  withIntegerDigitsKept,
} from '../events/json-text.js';
import type { RequestHeaders } from '../events/keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The JSON body exactly as it was sent: its bytes are valid UTF-8 (anything else is refused), so this text
     * encodes back to the same bytes. What the sinks deliver; only the dedup key reads the parsed body.
     */
    rawBody: string | undefined;
    /**
     * The body as the dedup key reads it, when it differs from `body`: integers no double holds exactly kept
     * apart by their digits (json-text.ts, withIntegerDigitsKept). Undefined for nearly every event.
     */
    keyBody: unknown;
  }
}

function invalid(path: string, message: string): InvalidEventError {
  return new InvalidEventError([{ path, message }]);
}

/**
 * Why Fastify's parser refused `text`: JSON.parse's own message (which says where), or the key that
 * secure-json-parse forbids, by path. Runs only for a body already refused, so it may parse it again.
 */
function refusal(text: string): InvalidEventError {
  let plain: unknown;
  try {
    plain = JSON.parse(text);
  } catch (error) {
    return invalid('', `the body is not valid JSON: ${(error as Error).message}`);
  }
  const at = findForbiddenKey(plain);
  if (at === undefined) return invalid('', 'the body is not valid JSON');
  return invalid(
    at,
    at === '__proto__' || at.endsWith('.__proto__')
      ? 'the key __proto__ is not allowed (it could pollute object prototypes)'
      : 'a constructor key holding a prototype key is not allowed (it could pollute object prototypes)',
  );
}

/**
 * A refusal of what JSON.parse accepted from `text` as `body` but RFC 8785 and I-JSON (RFC 7493) do not: a
 * member name written twice in one object (JSON.parse keeps the last, so `{"a":1,"a":2}` would share a key
 * with `{"a":2}`). Undefined for a body without one. (Lone surrogates are refused by the pipeline, for Lambda
 * too.)
 */
function duplicateMember(text: string, body: unknown, facts: JsonTextFacts): InvalidEventError | undefined {
  // The count only says where to look: the refusal is made by finding the name written twice.
  const twice = countMembers(body) === facts.members ? undefined : findDuplicateMember(text);
  if (twice !== undefined) {
    return invalid(
      twice.path,
      `the member name '${twice.name}' is written twice in one object (RFC 8785, RFC 7493)`,
    );
  }
  return undefined;
}

/**
 * The parser of `application/json` bodies, for every route: Fastify's own JSON parser (secure-json-parse,
 * which refuses `__proto__` and `constructor.prototype` keys), read as bytes so that the text the sinks get is
 * known to be what was sent, after the checks JSON.parse does not make. Each refusal is a 400 naming the
 * problem, and where there is one, its path:
 * - bytes that are not UTF-8 (RFC 8259 section 8.1): decoding would replace them with U+FFFD, so two
 *   different bodies could become one text, one key;
 * - nesting deeper than MAX_JSON_DEPTH (see json-text.ts);
 * - a member name written twice in one object (see duplicateMember).
 * Integers beyond what a double holds are taken, and kept apart in the dedup key (`request.keyBody`).
 * A number beyond double range (`1e400`) is refused where it matters, by the dedup key (keys.ts).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('keyBody', undefined);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, bytes, done) => {
    const buffer = bytes as Buffer;
    if (buffer.length === 0) {
      done(invalid('', 'the body is empty'), undefined);
      return;
    }
    if (!isUtf8(buffer)) {
      done(invalid('', 'the body is not valid UTF-8'), undefined);
      return;
    }
    const text = buffer.toString('utf8');
    const facts = scanJsonText(text, MAX_JSON_DEPTH);
    if (facts.tooDeep) {
      done(invalid('', `the body nests deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    parseJson(request, text, (error, body) => {
      if (error) {
        done(refusal(text), undefined);
        return;
      }
      const unsound = duplicateMember(text, body, facts);
      if (unsound) {
        done(unsound, undefined);
        return;
      }
      request.rawBody = text;
      if (facts.rewrittenIntegers)
        request.keyBody = JSON.parse(withIntegerDigitsKept(text, facts.rewrittenIntegers));
      done(null, body);
    });
  });
}

/** The content types EventBridge API destinations send, answered without parsing their parameters. */
const PLAIN_JSON = new Set(['application/json', 'application/json; charset=utf-8']);

/** The `charset` parameter of a media type, lower-case and unquoted; undefined when there is none. */
function charsetOf(contentType: string): string | undefined {
  for (const parameter of contentType.split(';').slice(1)) {
    const equals = parameter.indexOf('=');
    if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue;
    return parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return undefined;
}

/**
 * 415 for a body the receiver would misread, before it is read: a Content-Encoding (gzip, br, …: EventBridge
 * never compresses, and decoding is not worth a decompression bomb's risk), or a charset other than UTF-8, the
 * only encoding of JSON between systems (RFC 8259 section 8.1). Undefined when the body may be read.
 */
export function unreadableBody(headers: RequestHeaders): UnsupportedMediaTypeError | undefined {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined) {
    const codings = String(encoding)
      .split(',')
      .map((coding) => coding.trim().toLowerCase())
      .filter((coding) => coding !== '' && coding !== 'identity');
    if (codings.length > 0) {
      return new UnsupportedMediaTypeError(
        `Content-Encoding '${codings.join(', ')}' is not supported: send the body uncompressed`,
        { acceptEncoding: 'identity' },
      );
    }
  }
  const contentType = headers['content-type'];
  if (typeof contentType !== 'string' || PLAIN_JSON.has(contentType)) return undefined;
  const charset = charsetOf(contentType);
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return undefined;
  return new UnsupportedMediaTypeError(`charset '${charset}' is not supported: send the body as UTF-8`);
}
