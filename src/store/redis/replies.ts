import { type KeyInspection, StoreError } from '../types.js';
import type { HeldReply } from './commands.js';

/** A Redis call that failed, as the one error the pipeline turns into 503 (fail-closed). */
export function storeFailure(operation: string, error: unknown): StoreError {
  return new StoreError(`redis ${operation} failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}

/** Reads what a location holds: `~token` is a claim, digits are a processed first-seen time. */
export function inspection(reply: HeldReply | null): KeyInspection {
  if (reply === null) return { state: 'absent' };
  const [text, pttl] = reply;
  const remaining = typeof pttl === 'number' ? pttl : -1;
  if (text.startsWith('~')) return { state: 'in_progress', leaseRemainingMs: Math.max(remaining, 0) };
  if (!/^\d+$/.test(text)) throw new StoreError('redis inspect failed: the key holds an unexpected value');
  return { state: 'processed', firstSeenAt: Number(text), ttlRemainingMs: remaining };
}
