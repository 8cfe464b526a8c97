import { EXIT_FAILED, EXIT_OK } from './io.js';
import { formatDuration } from './stats.js';

/** What became of one dead-letter message in a redrive. */
export type RedriveOutcome =
  /** --dry-run: only listed. */
  | 'listed'
  /** The receiver answered 2xx (processed, duplicate, or another 2xx), or the function processed or duplicate. */
  | 'processed'
  | 'duplicate'
  | 'delivered'
  /** --to-bus: PutEvents accepted the entry. */
  | 'put'
  /**
   * A final 4xx from the receiver, the function's invalid (or a failure it throws for good), or an entry PutEvents
   * refused for good.
   */
  | 'rejected'
  /** Still failing after the last attempt, or not sent because the run stopped. */
  | 'failed'
  /** A record without an event: a subscriber's (event ids only), or an on-failure record whose payload is none. */
  | 'not-redrivable'
  /** --to-bus: the body is not an event PutEvents can take (no JSON object, no detail-type). */
  | 'unusable';

export interface MessageResult {
  messageId: string;
  /** The DLQ's ERROR_CODE for this message (or what stands for it: DlqFailure.errorCode). */
  errorCode: string;
  outcome: RedriveOutcome;
  /** Deleted from the queue (after a 2xx, or after being written to --rejected-file). */
  deleted: boolean;
  /** The receiver's (or Lambda's Invoke's) last status. */
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
  /** The receiver URL, `bus NAME` or `function NAME`. */
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
  /** With --json only: one object per message, in the order they were handled. */
  messages?: MessageResult[];
}

/** Taken by the receiver or the bus: such a message should have been deleted. */
const TAKEN: ReadonlySet<RedriveOutcome> = new Set<RedriveOutcome>([
  'processed',
  'duplicate',
  'delivered',
  'put',
]);

/**
 * The redrive's running totals, counted as each message's result arrives: a redrive after an outage may take
 * hundreds of thousands of messages, and the progress bar reads these counts after every round. Without --json
 * no result is kept; with --json they are (the output's `messages` is one object per message), so that list alone
 * grows with the run.
 */
export class RedriveTally {
  private readonly outcomes: Record<RedriveOutcome, number> = {
    listed: 0,
    processed: 0,
    duplicate: 0,
    delivered: 0,
    put: 0,
    rejected: 0,
    failed: 0,
    'not-redrivable': 0,
    unusable: 0,
  };
  /** A Map, not an object: ERROR_CODE is whatever text the message carries, `__proto__` or `toString` too. */
  private readonly groups = new Map<string, ErrorCodeGroup>();
  private readonly statuses = new Set<number>();
  private received = 0;
  private deleted = 0;
  private deleteFailed = 0;
  private readonly messages: MessageResult[] | undefined;

  constructor(options: { keepMessages: boolean }) {
    if (options.keepMessages) this.messages = [];
  }

  /** Counts one message; its delete must be settled (`deleted` final) by then. */
  add(result: MessageResult): void {
    this.received++;
    this.outcomes[result.outcome]++;
    const group = this.groups.get(result.errorCode) ?? { messages: 0, deleted: 0, left: 0 };
    group.messages++;
    if (result.deleted) {
      this.deleted++;
      group.deleted++;
    } else {
      group.left++;
      if (TAKEN.has(result.outcome)) this.deleteFailed++;
    }
    this.groups.set(result.errorCode, group);
    if (result.status !== undefined) this.statuses.add(result.status);
    this.messages?.push(result);
  }

  get done(): number {
    return this.received;
  }

  /** `deleted=…`, for the progress bar. */
  progressLine(): string {
    return `deleted=${this.deleted}`;
  }

  /** True when the receiver's last answer to some message had this status. */
  answered(status: number): boolean {
    return this.statuses.has(status);
  }

  summary(meta: {
    queueUrl: string;
    to: string;
    dryRun: boolean;
    error?: string;
    elapsedMs: number;
  }): RedriveSummary {
    const { outcomes } = this;
    const left = this.received - this.deleted;
    // Fields in the order the JSON output has always had them.
    const summary: RedriveSummary = {
      queueUrl: meta.queueUrl,
      to: meta.to,
      dryRun: meta.dryRun,
      received: this.received,
      processed: outcomes.processed,
      duplicate: outcomes.duplicate,
      delivered: outcomes.delivered,
      put: outcomes.put,
      rejected: outcomes.rejected,
      failed: outcomes.failed,
      notRedrivable: outcomes['not-redrivable'],
      unusable: outcomes.unusable,
      deleted: this.deleted,
      left,
      deleteFailed: this.deleteFailed,
      byErrorCode: Object.fromEntries([...this.groups].map(([code, group]) => [code, { ...group }])),
      elapsedMs: Math.round(meta.elapsedMs),
      // A dry run leaves everything on purpose; a real run fails when anything that should have gone is left.
      exitCode: meta.error !== undefined || (!meta.dryRun && left > 0) ? EXIT_FAILED : EXIT_OK,
    };
    if (this.messages !== undefined) summary.messages = [...this.messages];
    if (meta.error !== undefined) summary.error = meta.error;
    return summary;
  }
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
