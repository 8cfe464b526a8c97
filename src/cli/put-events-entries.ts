import type { EventObject, LoadedEvent } from './load-events.js';

/** PutEvents: at most 10 entries per request. */
export const MAX_ENTRIES_PER_REQUEST = 10;
/** PutEvents: the entries of one request must add up to no more than 256 KiB (AWS's entry-size arithmetic). */
export const MAX_REQUEST_ENTRY_BYTES = 256 * 1024;
export const DEFAULT_SOURCE = 'ebdedup.replay';

/** One `PutEventsRequestEntry`, in the JSON wire form (Time in epoch seconds). */
export interface PutEventsEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  Resources?: string[];
  Time?: number;
  EventBusName: string;
}

export interface LabelledEntry {
  label: string;
  entry: PutEventsEntry;
  /** Entry size as EventBridge computes it. */
  size: number;
}

/**
 * An entry's size as EventBridge counts it: 14 bytes for Time when set, plus the UTF-8 bytes of Source,
 * DetailType, Detail and each Resources item.
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html)
 */
export function entrySize(entry: PutEventsEntry): number {
  let size = entry.Time === undefined ? 0 : 14;
  size += Buffer.byteLength(entry.Source, 'utf8');
  size += Buffer.byteLength(entry.DetailType, 'utf8');
  size += Buffer.byteLength(entry.Detail, 'utf8');
  for (const resource of entry.Resources ?? []) size += Buffer.byteLength(resource, 'utf8');
  return size;
}

/** Sources in the `aws.` namespace are AWS's (and partners'); PutEvents refuses them from an account. */
export function isReservedSource(source: string): boolean {
  return source.startsWith('aws.');
}

export type EntryResult =
  | { ok: true; entry: LabelledEntry; sourceReplaced: boolean }
  | { ok: false; problem: string };

/** The PutEvents entry for an EventBridge event object; `replacementSource` stands in for an `aws.` source. */
export function buildEntry(
  label: string,
  event: EventObject,
  busName: string,
  replacementSource: string,
): EntryResult {
  const detailType = event['detail-type'];
  if (typeof detailType !== 'string' || detailType === '') {
    return { ok: false, problem: `${label}: no "detail-type" string, so no DetailType` };
  }
  let source = typeof event.source === 'string' && event.source !== '' ? event.source : replacementSource;
  let sourceReplaced = false;
  if (isReservedSource(source)) {
    source = replacementSource;
    sourceReplaced = true;
  }
  const detail = event.detail ?? {};
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return { ok: false, problem: `${label}: "detail" is not a JSON object` };
  }
  const entry: PutEventsEntry = {
    Source: source,
    DetailType: detailType,
    Detail: JSON.stringify(detail),
    EventBusName: busName,
  };
  if (Array.isArray(event.resources)) {
    const resources = event.resources.filter((r): r is string => typeof r === 'string');
    if (resources.length > 0) entry.Resources = resources;
  }
  if (typeof event.time === 'string') {
    const ms = Date.parse(event.time);
    if (!Number.isNaN(ms)) entry.Time = ms / 1000;
  }
  const size = entrySize(entry);
  if (size > MAX_REQUEST_ENTRY_BYTES) {
    return {
      ok: false,
      problem: `${label}: entry is ${size} bytes, over PutEvents' ${MAX_REQUEST_ENTRY_BYTES}-byte limit`,
    };
  }
  return { ok: true, entry: { label, entry, size }, sourceReplaced };
}

export interface BuiltEntries {
  entries: LabelledEntry[];
  problems: string[];
  /** The original sources that were replaced (distinct). */
  replacedSources: string[];
}

export function buildEntries(
  events: readonly LoadedEvent[],
  busName: string,
  replacementSource: string,
): BuiltEntries {
  const built: BuiltEntries = { entries: [], problems: [], replacedSources: [] };
  for (const { label, event } of events) {
    const result = buildEntry(label, event, busName, replacementSource);
    if (!result.ok) {
      built.problems.push(result.problem);
      continue;
    }
    built.entries.push(result.entry);
    if (
      result.sourceReplaced &&
      typeof event.source === 'string' &&
      !built.replacedSources.includes(event.source)
    ) {
      built.replacedSources.push(event.source);
    }
  }
  return built;
}

/** Splits entries, in order, into requests of at most 10 entries and at most 256 KiB of entry size. */
export function batchEntries<T extends { size: number }>(
  entries: readonly T[],
  maxEntries: number = MAX_ENTRIES_PER_REQUEST,
  maxBytes: number = MAX_REQUEST_ENTRY_BYTES,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length > 0 && (current.length >= maxEntries || bytes + entry.size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
