import type { Writer } from './io.js';

export interface ProgressOptions {
  write: Writer;
  /** Draw at all (stderr is a terminal). */
  enabled: boolean;
  total: number;
  now: () => number;
  /** Only a run still going after this long gets a bar. */
  showAfterMs?: number;
  /** Redraw at most this often. */
  intervalMs?: number;
  width?: number;
}

/**
 * A one-line progress bar redrawn in place with `\r` on a terminal. It appears only once the run has lasted
 * `showAfterMs`, so short runs print nothing extra; `clear()` wipes it before other output and at the end.
 */
export class ProgressBar {
  private readonly options: Required<ProgressOptions>;
  private readonly startedAt: number;
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(options: ProgressOptions) {
    this.options = { showAfterMs: 1000, intervalMs: 100, width: 24, ...options };
    this.startedAt = options.now();
  }

  /** Redraws with `done` of `total` (default: the total given at construction, for a run that learns it late). */
  update(done: number, note: string, total: number = this.options.total): void {
    const { enabled, now, showAfterMs, intervalMs, width, write } = this.options;
    if (!enabled || total <= 0) return;
    const t = now();
    if (t - this.startedAt < showAfterMs) return;
    if (t - this.lastDrawAt < intervalMs && this.drawn) return;
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const percent = String(Math.floor(fraction * 100)).padStart(3);
    write(`\r\x1b[2K[${bar}] ${done}/${total} ${percent}% ${note}`);
    this.lastDrawAt = t;
    this.drawn = true;
  }

  clear(): void {
    if (!this.drawn) return;
    this.options.write('\r\x1b[2K');
    this.drawn = false;
  }
}
