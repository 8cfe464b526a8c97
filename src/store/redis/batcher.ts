import { StoreError } from '../types.js';

export interface BatcherOptions<Call> {
  /** Sends one batch; resolves to one reply per call, in order. */
  send: (calls: Call[]) => Promise<unknown[]>;
  /** Calls of one group go in one batch: on Redis Cluster, a hash tag (one slot); otherwise one group. */
  groupOf: (call: Call) => string;
  /** The most calls one batch carries; more go in further batches of the same turn. */
  maxBatch: number;
}

interface Pending<Call> {
  call: Call;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Sends the calls of one turn of the event loop together: the first call of a turn schedules a flush with
 * setImmediate, which runs after every I/O callback of that turn (each a request that may add its own call),
 * and the flush sends each group's calls as one command (one script run, one reply, one read and write on
 * each side), resolving each caller with its own element of the reply. A receiver under load gets many
 * requests per turn, so the per-command costs (a socket write, a read, a script call, a promise) are paid
 * once per batch; a lone request waits for nothing but the end of its own turn.
 *
 * A batch that fails (connection lost, timeout) fails every call in it with the same error: the caller
 * treats it as any failed call (its claim may have landed, so the store abandons it).
 */
export class Batcher<Call> {
  private pending = new Map<string, Pending<Call>[]>();
  private scheduled = false;

  constructor(private readonly options: BatcherOptions<Call>) {}

  add(call: Call): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const group = this.options.groupOf(call);
      const calls = this.pending.get(group);
      if (calls) calls.push({ call, resolve, reject });
      else this.pending.set(group, [{ call, resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const groups = this.pending;
    this.pending = new Map();
    const { maxBatch } = this.options;
    for (const calls of groups.values()) {
      for (let start = 0; start < calls.length; start += maxBatch) {
        this.dispatch(calls.length <= maxBatch ? calls : calls.slice(start, start + maxBatch));
      }
    }
  };

  private dispatch(batch: Pending<Call>[]): void {
    let sent: Promise<unknown[]>;
    try {
      sent = this.options.send(batch.map((pending) => pending.call));
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (replies) => {
        if (!Array.isArray(replies) || replies.length !== batch.length) {
          const error = new StoreError(`redis: ${batch.length} calls in a batch got an unexpected reply`);
          for (const pending of batch) pending.reject(error);
          return;
        }
        for (let index = 0; index < batch.length; index += 1) batch[index]?.resolve(replies[index]);
      },
      (error: unknown) => {
        for (const pending of batch) pending.reject(error);
      },
    );
  }
}
