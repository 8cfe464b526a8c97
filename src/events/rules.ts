import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { MIN_TTL_SECONDS } from '../config/schema.js';
import { type FieldPath, parsePath } from './paths.js';

/**
 * DEDUP_RULES_FILE: per-event-type key fields. The first rule whose globs match the event's `source` and
 * `detail-type` gives the key; an event no rule matches is keyed by content. Example:
 *
 *   { "rules": [ { "name": "conversation-end",
 *                  "detail-type": "v2.detail.events.conversation.*.customer.end",
 *                  "key": ["detail.eventBody.conversationId", "detail.eventBody.participantId"],
 *                  "ttlSeconds": 172800 } ] }
 */

const ruleSchema = z.strictObject({
  name: z.string().min(1).optional(),
  source: z.string().min(1).optional(),
  'detail-type': z.string().min(1).optional(),
  key: z.array(z.string().min(1)).min(1, { message: 'must list at least one field path' }),
  ttlSeconds: z
    .number()
    .int()
    .min(MIN_TTL_SECONDS, { message: `must be at least ${MIN_TTL_SECONDS} (EventBridge retries for 24 h)` })
    .optional(),
});

const rulesFileSchema = z.union([z.strictObject({ rules: z.array(z.unknown()) }), z.array(z.unknown())]);

export interface DedupRule {
  name: string;
  matches(source: string | undefined, detailType: string | undefined): boolean;
  keyPaths: { text: string; path: FieldPath }[];
  ttlSeconds: number | undefined;
}

export class RulesFileError extends Error {
  override readonly name = 'RulesFileError';
}

/** `*` matches any run of characters, `?` one character; everything else, braces included, is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

export function compileRules(document: unknown, origin = 'DEDUP_RULES_FILE'): DedupRule[] {
  const file = rulesFileSchema.safeParse(document);
  if (!file.success) {
    throw new RulesFileError(`${origin}: expected {"rules": [...]} or an array of rules`);
  }
  const entries = Array.isArray(file.data) ? file.data : file.data.rules;
  return entries.map((entry, index) => {
    const label =
      typeof entry === 'object' && entry !== null && typeof (entry as { name?: unknown }).name === 'string'
        ? `rule '${(entry as { name: string }).name}'`
        : `rule #${index + 1}`;
    const parsed = ruleSchema.safeParse(entry);
    if (!parsed.success) {
      const problem = parsed.error.issues
        .map((issue) => `${issue.path.map(String).join('.') || 'rule'} ${issue.message}`)
        .join('; ');
      throw new RulesFileError(`${origin}: ${label}: ${problem}`);
    }
    const rule = parsed.data;
    let keyPaths: DedupRule['keyPaths'];
    try {
      keyPaths = rule.key.map((text) => ({ text, path: parsePath(text) }));
    } catch (error) {
      throw new RulesFileError(`${origin}: ${label}: key ${(error as Error).message}`);
    }
    const source = rule.source === undefined ? undefined : globToRegExp(rule.source);
    const detailType = rule['detail-type'] === undefined ? undefined : globToRegExp(rule['detail-type']);
    return {
      name: rule.name ?? `#${index + 1}`,
      keyPaths,
      ttlSeconds: rule.ttlSeconds,
      matches: (eventSource, eventDetailType) =>
        (source === undefined || (eventSource !== undefined && source.test(eventSource))) &&
        (detailType === undefined || (eventDetailType !== undefined && detailType.test(eventDetailType))),
    };
  });
}

export function loadRulesFile(file: string): DedupRule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RulesFileError(
      `DEDUP_RULES_FILE='${file}' cannot be read: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new RulesFileError(`DEDUP_RULES_FILE='${file}' is not JSON: ${(error as Error).message}`);
  }
  return compileRules(document, `DEDUP_RULES_FILE='${file}'`);
}
