import { hash } from 'node:crypto';
import { InvalidEventError } from '../core/errors.js';
import { canonicalJson, canonicalJsonOmitting, type OmitTree, omitTree } from './canonical.js';
import type { EventEnvelope, ValidatedEvent } from './envelope.js';
import { findNonFiniteNumber, NON_FINITE_NUMBER } from './json-checks.js';
import { type FieldPath, getPath, parsePath } from './paths.js';
import type { DedupRule } from './rules.js';

/**
 * Key strategies: what makes two deliveries "the same event". Every strategy ends in one SHA-256 digest
 * (base64url, 43 characters): a fixed, opaque size in Redis whatever the input, and the value sent
 * downstream as `Idempotency-Key`.
 *
 * The default, `content`, hashes the RFC 8785 canonical JSON (https://www.rfc-editor.org/rfc/rfc8785) of the
 * event's `source`, `detail-type` and `detail`, leaving out what differs between two publications of one
 * notification: EventBridge's `id`/`time` and Genesys' `detail.metadata`/`detail.timestamp`. So both an
 * EventBridge retry and a Genesys re-publication under a new `id` share a key, while a later update of the
 * same conversation (another `eventBody`) does not: keying on type + conversationId would drop it.
 */

export type DedupStrategyName = 'content' | 'event-id' | 'header' | 'rules';

export interface DedupKey {
  /** base64url SHA-256: in answers, logs and the downstream `Idempotency-Key`. */
  key: string;
  strategy: DedupStrategyName;
  /** How long the key is kept once processed. */
  ttlSeconds: number;
  /** The rule that gave the key, with `rules`. */
  rule?: string;
}

export type RequestHeaders = Record<string, string | string[] | undefined>;

export type KeyStrategy = (event: ValidatedEvent, headers: RequestHeaders) => DedupKey;

export interface KeyStrategyOptions {
  strategy: DedupStrategyName;
  ttlSeconds: number;
  /** DEDUP_IGNORE_FIELDS, as written. */
  ignoreFields?: readonly string[];
  /** DEDUP_HEADER, lower-case. */
  headerName?: string;
  rules?: readonly DedupRule[];
  replayPolicy?: 'dedup' | 'reprocess';
}

/** Fields that change between two publications of one Genesys notification. */
const GENESYS_VOLATILE_DETAIL_FIELDS: FieldPath[] = [['metadata'], ['timestamp']];

/** One-shot `crypto.hash` (Node 20.12+): no Hash object per digest, which createHash would allocate. */
export function sha256Base64Url(material: string): string {
  return hash('sha256', material, 'base64url');
}

/**
 * The canonical JSON of an envelope event's content view, `{ source, 'detail-type', detail }`, less the
 * fields in `omit`: the Genesys ones (as `detail.…` paths, ahead of the others) for a Genesys event, and
 * DEDUP_IGNORE_FIELDS. test/unit/canonical.property.test.ts holds it to the way keys were first computed.
 */
function envelopeMaterial(envelope: EventEnvelope, omit: OmitTree): string {
  const view = { source: envelope.source, 'detail-type': envelope['detail-type'], detail: envelope.detail };
  return canonicalJsonOmitting(view, omit);
}

function replayName(event: ValidatedEvent): string | undefined {
  const name = event.body['replay-name'];
  return typeof name === 'string' && name.length > 0 ? name : undefined;
}

function firstHeader(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() ? first.trim() : undefined;
}

export function createKeyStrategy(options: KeyStrategyOptions): KeyStrategy {
  const ignorePaths = (options.ignoreFields ?? []).map(parsePath);
  const omitIgnored = omitTree(ignorePaths);
  const omitGenesys = omitTree([
    ...GENESYS_VOLATILE_DETAIL_FIELDS.map((path) => ['detail', ...path]),
    ...ignorePaths,
  ]);
  const headerName = options.headerName ?? 'idempotency-key';
  const rules = options.rules ?? [];
  const scopeReplays = options.replayPolicy === 'reprocess';
  const ttlSeconds = options.ttlSeconds;

  // With EVENT_SCHEMA=any the view is the whole body.
  const contentKey = (event: ValidatedEvent): DedupKey => ({
    key: sha256Base64Url(
      event.kind === 'any'
        ? canonicalJsonOmitting(event.body, omitIgnored)
        : envelopeMaterial(event.envelope, event.genesys ? omitGenesys : omitIgnored),
    ),
    strategy: 'content',
    ttlSeconds,
  });

  const keyOfEvent = (event: ValidatedEvent, headers: RequestHeaders): DedupKey => {
    switch (options.strategy) {
      case 'content':
        return contentKey(event);
      case 'event-id': {
        if (event.kind !== 'envelope') throw new Error('event-id needs EVENT_SCHEMA=envelope');
        return { key: sha256Base64Url(`event-id\n${event.envelope.id}`), strategy: 'event-id', ttlSeconds };
      }
      case 'header': {
        const value = firstHeader(headers, headerName);
        if (value === undefined) {
          throw new InvalidEventError([
            { path: headerName, message: `header is required (DEDUP_STRATEGY=header reads the key from it)` },
          ]);
        }
        return { key: sha256Base64Url(`header\n${value}`), strategy: 'header', ttlSeconds };
      }
      case 'rules': {
        const source = event.body.source;
        const detailType = event.body['detail-type'];
        const rule = rules.find((candidate) =>
          candidate.matches(
            typeof source === 'string' ? source : undefined,
            typeof detailType === 'string' ? detailType : undefined,
          ),
        );
        if (rule === undefined) return contentKey(event);
        const values = rule.keyPaths.map(({ text, path }) => {
          const value = getPath(event.body, path);
          if (value === undefined) {
            throw new InvalidEventError([
              { path: text, message: `is required by dedup rule '${rule.name}'` },
            ]);
          }
          return value;
        });
        return {
          key: sha256Base64Url(`rule\n${rule.name}\n${canonicalJson(values)}`),
          strategy: 'rules',
          ttlSeconds: rule.ttlSeconds ?? ttlSeconds,
          rule: rule.name,
        };
      }
    }
  };

  // A number beyond double range (`1e400`, which JSON.parse makes ±Infinity) is what RFC 8785 cannot write: the
  // digest throws, and the event is refused with 400 naming the number's path instead of a 500 that EventBridge
  // would retry for a day. The path is looked for only then, so an event pays nothing for the check.
  const keyOf = (event: ValidatedEvent, headers: RequestHeaders): DedupKey => {
    try {
      return keyOfEvent(event, headers);
    } catch (error) {
      if (error instanceof InvalidEventError) throw error;
      const path = findNonFiniteNumber(event.body);
      if (path === undefined) throw error;
      throw new InvalidEventError([{ path, message: NON_FINITE_NUMBER }]);
    }
  };

  if (!scopeReplays) return keyOf;
  // REPLAY_POLICY=reprocess: a replay from an archive gets keys of its own, so it processes each event once
  // even when the original delivery was processed.
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html
  return (event, headers) => {
    const dedupKey = keyOf(event, headers);
    const replay = replayName(event);
    return replay === undefined
      ? dedupKey
      : { ...dedupKey, key: sha256Base64Url(`replay\n${replay}\n${dedupKey.key}`) };
  };
}
