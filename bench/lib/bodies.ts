import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Request bodies for the load: the Genesys samples, each request with a fresh EventBridge `id` and a fresh
 * field inside `detail.eventBody` (its `id`, or `conversationId` for conversation events), so the `content`
 * digest of every generated event is new. Bodies are built by string concatenation around two markers, so
 * the load generator spends its time on the wire, not in JSON.stringify.
 */

type Json = Record<string, unknown>;

const ID_MARKER = '@@BENCH_EVENT_ID@@';
const FIELD_MARKER = '@@BENCH_BODY_FIELD@@';

export interface BodyTemplate {
  name: string;
  /** The field of `detail.eventBody` that is made fresh per request. */
  field: string;
  /** The body split at the two markers: `parts[0] + id + parts[1] + fieldValue + parts[2]`. */
  parts: [string, string, string];
}

export type BodyFormat = 'compact' | 'pretty';

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Which eventBody field to vary: `id` when the event has one, else `conversationId`, else a new `id`. */
export function freshField(eventBody: Json): string {
  if (typeof eventBody.id === 'string') return 'id';
  if (typeof eventBody.conversationId === 'string') return 'conversationId';
  return 'id';
}

export function makeTemplate(name: string, sample: Json, format: BodyFormat = 'compact'): BodyTemplate {
  const detail = sample.detail;
  if (!isObject(detail) || !isObject(detail.eventBody)) {
    throw new Error(`sample ${name} has no detail.eventBody object`);
  }
  const field = freshField(detail.eventBody);
  const marked = {
    ...sample,
    id: ID_MARKER,
    detail: { ...detail, eventBody: { ...detail.eventBody, [field]: FIELD_MARKER } },
  };
  const text = format === 'pretty' ? JSON.stringify(marked, null, 2) : JSON.stringify(marked);
  const [before, rest] = splitOnce(text, `"${ID_MARKER}"`);
  const [middle, after] = splitOnce(rest, `"${FIELD_MARKER}"`);
  // The markers are replaced by quoted values, so the quotes stay in the parts.
  return { name, field, parts: [`${before}"`, `"${middle}"`, `"${after}`] };
}

function splitOnce(text: string, marker: string): [string, string] {
  const at = text.indexOf(marker);
  if (at < 0 || text.indexOf(marker, at + 1) >= 0)
    throw new Error(`marker ${marker} must occur exactly once`);
  return [text.slice(0, at), text.slice(at + marker.length)];
}

/** Loads every `*.json` sample of a folder (sorted by name) as a template. */
export function loadTemplates(dir: string, format: BodyFormat = 'compact'): BodyTemplate[] {
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort();
  if (names.length === 0) throw new Error(`no *.json samples in ${dir}`);
  return names.map((name) => makeTemplate(name, JSON.parse(readFileSync(join(dir, name), 'utf8')), format));
}

/**
 * A UUID-shaped identifier that is a pure function of a namespace (8 hex digits), a kind digit and a
 * counter, so a body can be generated again, byte for byte, from its index: that is what a retry is.
 */
export function benchUuid(namespace: string, kind: number, n: number): string {
  if (!/^[0-9a-f]{8}$/.test(namespace)) throw new Error('namespace must be 8 lower-case hex digits');
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('n must be a non-negative safe integer');
  return `${namespace}-b3c${kind & 0xf}-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export class BodyFactory {
  constructor(
    private readonly templates: readonly BodyTemplate[],
    /** 8 hex digits: two factories with different namespaces never produce the same event. */
    readonly namespace: string,
  ) {
    if (templates.length === 0) throw new Error('no templates');
    benchUuid(namespace, 0, 0);
  }

  /** The n-th event of this namespace: the same n gives the same bytes (a retry), another n a new event. */
  body(n: number): string {
    const template = this.templates[n % this.templates.length] as BodyTemplate;
    const [a, b, c] = template.parts;
    return a + benchUuid(this.namespace, 0, n) + b + benchUuid(this.namespace, 1, n) + c;
  }

  /** Mean size in bytes of the bodies, one per template. */
  meanBytes(): number {
    let total = 0;
    for (let i = 0; i < this.templates.length; i++) total += Buffer.byteLength(this.body(i));
    return total / this.templates.length;
  }
}

/**
 * Whether request number `i` of a mixed load is a duplicate: exactly `percent` % of any prefix (to within
 * one request), spread evenly rather than in runs, and deterministic (integer arithmetic: no rounding drift).
 */
export function isDuplicateSlot(i: number, percent: number): boolean {
  return Math.floor(((i + 1) * percent) / 100) > Math.floor((i * percent) / 100);
}

export function randomNamespace(): string {
  return Math.floor(Math.random() * 0x1_0000_0000)
    .toString(16)
    .padStart(8, '0');
}
