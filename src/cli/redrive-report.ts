import { EXIT_FAILED, EXIT_OK } from './io.js';
import { formatDuration } from './stats.js';

/** What became of one dead-letter message in a redrive. */
export type RedriveOutcome =
  /** --dry-run: only listed. */
  | 'listed'
  /** The receiver answered 2xx: processed, duplicate, or another 2xx. */
  | 'processed'
  | 'duplicate'
  | 'delivered'
  /** --to-bus: PutEvents accepted the entry. */
  | 'put'
  /** A final 4xx from the receiver, or an entry PutEvents refused for good. */
  | 'rejected'
  /** Still failing after the last attempt, or not sent because the run stopped. */
  | 'failed'
  /** A subscriber's record: event ids, no event to post. */
  | 'not-redrivable'
  /** --to-bus: the body is not an event PutEvents can take (no JSON object, no detail-type). */
  | 'unusable';

export interface MessageResult {
  messageId: string;
  /** The DLQ's ERROR_CODE for this message. */
  errorCode: string;
  outcome: RedriveOutcome;
  /** Deleted from the queue (after a 2xx, or after being written to --rejected-file). */
  deleted: boolean;
  /** The receiver's last status. */
  status?: number;
  key?: string;
  /** The event's id in EventBridge (--to-bus: the new one). */
  eventId?: string;
  /** Why it was not delivered or not deleted. */
  error?: string;
}

export interface ErrorCodeGroup {
  messages: number;
  deleted: number;
  left: number;
}

export interface RedriveSummary {
  queueUrl: string;
  /** The receiver URL, or `bus NAME`. */
  to: string;
  dryRun: boolean;
  received: number;
  processed: number;
  duplicate: number;
  /** Other 2xx answers. */
  delivered: number;
  put: number;
  rejected: number;
  failed: number;
  notRedrivable: number;
  unusable: number;
  deleted: number;
  /** Received and still in the queue (they come back when their visibility timeout ends). */
  left: number;
  /** Messages the receiver or the bus took but SQS did not delete (they come back as duplicates). */
  deleteFailed: number;
  byErrorCode: Record<string, ErrorCodeGroup>;
  /** A failure that stopped the run (the queue could not be read). */
  error?: string;
  elapsedMs: number;
  exitCode: number;
  messages: MessageResult[];
}

export function summarizeRedrive(
  results: readonly MessageResult[],
  meta: { queueUrl: string; to: string; dryRun: boolean; error?: string; elapsedMs: number },
): RedriveSummary {
  const count = (outcome: RedriveOutcome) => results.filter((r) => r.outcome === outcome).length;
  const byErrorCode: Record<string, ErrorCodeGroup> = {};
  for (const r of results) {
    const group = byErrorCode[r.errorCode] ?? { messages: 0, deleted: 0, left: 0 };
    group.messages++;
    if (r.deleted) group.deleted++;
    else group.left++;
    byErrorCode[r.errorCode] = group;
  }
  const deleted = results.filter((r) => r.deleted).length;
  const left = results.length - deleted;
  const tookButKept = new Set<RedriveOutcome>(['processed', 'duplicate', 'delivered', 'put']);
  const summary: RedriveSummary = {
    queueUrl: meta.queueUrl,
    to: meta.to,
    dryRun: meta.dryRun,
    received: results.length,
    processed: count('processed'),
    duplicate: count('duplicate'),
    delivered: count('delivered'),
    put: count('put'),
    rejected: count('rejected'),
    failed: count('failed'),
    notRedrivable: count('not-redrivable'),
    unusable: count('unusable'),
    deleted,
    left,
    deleteFailed: results.filter((r) => !r.deleted && tookButKept.has(r.outcome)).length,
    byErrorCode,
    elapsedMs: Math.round(meta.elapsedMs),
    // A dry run leaves everything on purpose; a real run fails when anything that should have gone is left.
    exitCode: meta.error !== undefined || (!meta.dryRun && left > 0) ? EXIT_FAILED : EXIT_OK,
    messages: [...results],
  };
  if (meta.error !== undefined) summary.error = meta.error;
  return summary;
}

export function formatRedriveSummary(summary: RedriveSummary): string[] {
  const took = summary.dryRun
    ? ['listed, nothing posted or deleted']
    : [
        ...(summary.to.startsWith('bus ')
          ? [`${summary.put} put`]
          : [`${summary.processed} processed`, `${summary.duplicate} duplicate`]),
        ...(summary.delivered > 0 ? [`${summary.delivered} other 2xx`] : []),
        `${summary.rejected} rejected`,
        `${summary.failed} failed`,
        ...(summary.notRedrivable > 0 ? [`${summary.notRedrivable} not redrivable`] : []),
        ...(summary.unusable > 0 ? [`${summary.unusable} unusable`] : []),
      ];
  const lines = [
    `${summary.received} messages from ${summary.queueUrl} to ${summary.to} in ${formatDuration(summary.elapsedMs)}: ${took.join(', ')}`,
  ];
  if (!summary.dryRun) {
    const notDeleted = summary.deleteFailed > 0 ? ` (${summary.deleteFailed} delivered but not deleted)` : '';
    lines.push(`${summary.deleted} deleted, ${summary.left} left in the queue${notDeleted}`);
  }
  const groups = Object.entries(summary.byErrorCode).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (groups.length > 0) {
    const parts = groups.map(([code, g]) =>
      summary.dryRun
        ? `${code} ${g.messages}`
        : `${code} ${g.messages} (${g.deleted} deleted, ${g.left} left)`,
    );
    lines.push(`by error code: ${parts.join(', ')}`);
  }
  if (summary.error !== undefined) lines.push(`stopped: ${summary.error}`);
  return lines;
}
