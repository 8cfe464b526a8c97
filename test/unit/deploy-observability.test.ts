import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { testApp } from '../helpers/app.js';
import { REPO_ROOT } from '../helpers/server-process.js';

/** Series Prometheus makes itself for every target: not in any /metrics output. */
const PROMETHEUS_OWN = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

const PROMQL_WORDS = new Set([
  // aggregations and their modifiers
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'topk',
  'bottomk',
  'quantile',
  'stddev',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  // functions
  'rate',
  'irate',
  'increase',
  'delta',
  'deriv',
  'histogram_quantile',
  'clamp_min',
  'clamp_max',
  'abs',
  'absent',
  'vector',
  'scalar',
  'time',
  'sort_desc',
  'avg_over_time',
  'max_over_time',
  'min_over_time',
  'label_values',
]);

/** The metric names a PromQL expression reads: identifiers left once labels, ranges and grouping are gone. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ') // label matchers, strings inside them included
    .replace(/\[[^\]]*\]/g, ' ') // ranges: [5m], [$__rate_interval]
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/"[^"]*"|'[^']*'/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names = bare.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((name) => !PROMQL_WORDS.has(name)))];
}

/** Every series name /metrics can show: each family, and a histogram's or summary's suffixed series. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(`${REPO_ROOT}deploy/grafana/ebdedup-dashboard.json`, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { query?: string | { query: string } }[] };
  };
  const panels = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  const variables = dashboard.templating.list
    .map((variable) => (typeof variable.query === 'object' ? variable.query.query : undefined))
    .filter((query): query is string => query?.startsWith('label_values(') ?? false)
    // label_values(<series selector>, <label>): only the selector names a metric.
    .map((query) => query.slice('label_values('.length, query.lastIndexOf(',')));
  return [...panels, ...variables];
}

function alertExpressions(): string[] {
  const rules = parse(readFileSync(`${REPO_ROOT}deploy/prometheus/alerts.yaml`, 'utf8')) as {
    groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
  };
  return rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
}

describe('deploy/: the Grafana dashboard and the Prometheus alerts', () => {
  it('reads metric names out of PromQL', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, outcome) (rate(ebdedup_request_duration_seconds_bucket{job=~"$job"}[5m]))) / clamp_min(up, 1e-9)',
      ),
    ).toEqual(['ebdedup_request_duration_seconds_bucket', 'up']);
  });

  it('refer only to metrics that the receiver exposes on /metrics', async () => {
    // Arrange
    const { app } = await testApp();
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    const exposed = exposedNames(response.body);

    // Act
    const expressions = [...dashboardExpressions(), ...alertExpressions()];
    const referenced = [...new Set(expressions.flatMap(metricNames))];

    // Assert
    expect(expressions.length).toBeGreaterThan(20);
    expect(referenced).toContain('ebdedup_store_errors_total');
    expect(referenced).toContain('ebdedup_duplicates_total');
    const missing = referenced.filter((name) => !exposed.has(name) && !PROMETHEUS_OWN.has(name));
    expect(missing).toEqual([]);
  });

  it('alert on the duplicate rate, the 5xx rate and store errors, each with a severity', () => {
    const rules = parse(readFileSync(`${REPO_ROOT}deploy/prometheus/alerts.yaml`, 'utf8')) as {
      groups: { rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
    };
    const all = rules.groups.flatMap((group) => group.rules);

    const byName = new Map(all.map((rule) => [rule.alert, rule]));

    expect(byName.get('EbdedupDuplicateRateHigh')?.expr).toContain('outcome="duplicate"');
    expect(byName.get('EbdedupServerErrors')?.expr).toContain('status_code=~"5.."');
    expect(byName.get('EbdedupStoreErrors')?.expr).toContain('ebdedup_store_errors_total');
    for (const rule of all) expect(['critical', 'warning']).toContain(rule.labels.severity);
  });
});
