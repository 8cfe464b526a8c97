import type { Metric, Registry } from 'prom-client';

/*
 * Removed from src/http/metric-series.ts on 2026-12-04: the bench (bench/replacements.ts) measured that it saved
 * 2.8 µs of a new event's 166 µs of CPU (1.7 %), under the 5 % a hand-written replacement of a library must save
 * (bench/results/replacements-2026-12-04.md); src/http/metrics.ts uses prom-client's own Counter, Gauge and
 * Histogram again. Kept here, unused by the receiver, only so that `npm run bench -- --replacements` can
 * measure the library against it again. Its own header follows.
 */

/**
 * Labelled counters, gauges and histograms for the request path, kept as plain numbers and exposed through a
 * prom-client Registry.
 *
 * prom-client's own metrics hash the label object on every update, even through a `labels()` child, and a
 * histogram observation also allocates, validates the labels and turns its bucket bound into a property key.
 * Here a series is made once per label set, the caller keeps it, and an update is a few field writes (a
 * histogram's bucket is found by a short loop over its bounds). A request's observation, one timed store
 * call and one sink call went from about 1.9 µs to 0.3 µs in a micro-benchmark, wrappers included.
 *
 * The text stays prom-client's: the registry formats what `get()` returns (names, HELP, TYPE, label escaping,
 * numbers), and `get()` returns what prom-client's Counter, Gauge and Histogram return: a series appears from
 * its first update on, in the order of first updates; a histogram's `le` label comes before the series' own,
 * its buckets are cumulative and end with `+Inf`, then `_sum` and `_count`. test/unit/metrics-exposition.test.ts
 * pins that text. See https://prometheus.io/docs/instrumenting/exposition_formats/.
 */

type LabelValues<L extends string> = Readonly<Record<L, string>>;

/** One sample of `get()`, as prom-client's registry reads it (lib/registry.js, getMetricsAsString). */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  /** Histograms: `name_bucket`, `name_sum` or `name_count` instead of the metric's name. */
  metricName?: string;
}

interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: Sample[];
  aggregator: 'sum';
}

/** A series of one label set. It enters the exposition on its first update, as prom-client's would. */
abstract class Series<L extends string> {
  private shown = false;

  constructor(
    readonly labels: LabelValues<L>,
    private readonly exposed: Series<L>[],
  ) {}

  /** Every update calls this; only the first one does anything, so it costs a predictable branch. */
  protected show(): void {
    if (this.shown) return;
    this.shown = true;
    this.exposed.push(this);
  }

  /** Back to never updated (Registry.resetMetrics). */
  clear(): void {
    this.shown = false;
    this.zero();
  }

  protected abstract zero(): void;
}

abstract class LabelledMetric<L extends string, S extends Series<L>> {
  readonly aggregator = 'sum';
  abstract readonly type: Collected['type'];
  /** Series in the order of their first update: the order prom-client lists them in. */
  protected readonly exposed: S[] = [];
  private readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    // The registry keeps anything with a name and reads it through `get()` (and `reset()` from
    // resetMetrics); its typings accept only prom-client's own classes, hence the cast.
    registry.registerMetric(this as unknown as Metric);
  }

  /**
   * The series of `values`, made on first use. This builds a key, so callers on the hot path keep what it
   * returns instead of calling it per update.
   */
  labels(values: LabelValues<L>): S {
    const ordered = this.labelNames.map((label) => values[label]);
    const key = JSON.stringify(ordered);
    let series = this.series.get(key);
    if (series === undefined) {
      // Label names in declaration order, the order prom-client prints the labels object it was given in.
      const labels = Object.fromEntries(
        this.labelNames.map((label, i) => [label, ordered[i]]),
      ) as LabelValues<L>;
      series = this.create(labels, this.exposed);
      this.series.set(key, series);
    }
    return series;
  }

  get(): Promise<Collected> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.samples(),
      aggregator: this.aggregator,
    });
  }

  reset(): void {
    for (const series of this.series.values()) series.clear();
    this.exposed.length = 0;
  }

  protected abstract create(labels: LabelValues<L>, exposed: S[]): S;
  protected abstract samples(): Sample[];
}

export class CounterSeries<L extends string = string> extends Series<L> {
  value = 0;

  inc(): void {
    this.value += 1;
    this.show();
  }

  protected zero(): void {
    this.value = 0;
  }
}

/** A counter's series that can also go down. */
export class GaugeSeries<L extends string = string> extends CounterSeries<L> {
  dec(): void {
    this.value -= 1;
    this.show();
  }
}

/** A metric of one value per series: a counter or a gauge, which differ only in their type and series. */
abstract class ValueMetric<L extends string, S extends CounterSeries<L>> extends LabelledMetric<L, S> {
  protected samples(): Sample[] {
    return this.exposed.map((series) => ({ labels: series.labels, value: series.value }));
  }
}

export class LabelledCounter<L extends string> extends ValueMetric<L, CounterSeries<L>> {
  readonly type = 'counter';

  protected create(labels: LabelValues<L>, exposed: CounterSeries<L>[]): CounterSeries<L> {
    return new CounterSeries(labels, exposed);
  }
}

export class LabelledGauge<L extends string> extends ValueMetric<L, GaugeSeries<L>> {
  readonly type = 'gauge';

  protected create(labels: LabelValues<L>, exposed: GaugeSeries<L>[]): GaugeSeries<L> {
    return new GaugeSeries(labels, exposed);
  }
}

export class HistogramSeries<L extends string = string> extends Series<L> {
  /** Observations per bucket, not cumulative; past the last bound they are in `count` only. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    labels: LabelValues<L>,
    exposed: Series<L>[],
    private readonly bounds: readonly number[],
  ) {
    super(labels, exposed);
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) {
      // As prom-client's Histogram: a NaN or infinite value would make `_sum` useless from then on.
      throw new TypeError(`Value is not a valid number: ${value}`);
    }
    let bucket = 0;
    for (const bound of this.bounds) {
      if (value <= bound) {
        this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
        break;
      }
      bucket += 1;
    }
    this.sum += value;
    this.count += 1;
    this.show();
  }

  protected zero(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export class LabelledHistogram<L extends string> extends LabelledMetric<L, HistogramSeries<L>> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected create(labels: LabelValues<L>, exposed: HistogramSeries<L>[]): HistogramSeries<L> {
    return new HistogramSeries(labels, exposed, this.bounds);
  }

  protected samples(): Sample[] {
    const bucket = `${this.name}_bucket`;
    const sum = `${this.name}_sum`;
    const count = `${this.name}_count`;
    const samples: Sample[] = [];
    for (const series of this.exposed) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i] ?? 0;
        samples.push({ labels: { le: bound, ...series.labels }, value: cumulative, metricName: bucket });
      });
      samples.push(
        { labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: bucket },
        { labels: series.labels, value: series.sum, metricName: sum },
        { labels: series.labels, value: series.count, metricName: count },
      );
    }
    return samples;
  }
}
