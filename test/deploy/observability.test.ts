import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../helpers/server-process.js';
import type { JsonMap } from './cloudformation.js';

/**
 * The alerts in deploy/prometheus/alerts.yaml select a job; both scrape configurations shipped beside the manifests
 * (the operator's ServiceMonitor, the plain scrape job) must label the receiver's series with that job, or no alert
 * can ever fire. The labels are worked out from the files as kustomize builds them.
 */

const read = (...path: string[]) => parse(readFileSync(join(REPO_ROOT, ...path), 'utf8')) as JsonMap;

type Rule = { alert: string; expr: string };
type Groups = { name: string; rules: Rule[] }[];

const alerts = read('deploy', 'prometheus', 'alerts.yaml') as unknown as { groups: Groups };
const rules = alerts.groups.flatMap((group) => group.rules);
const monitor = read('deploy', 'k8s', 'components', 'prometheus-operator', 'servicemonitor.yaml');
const prometheusRule = read('deploy', 'k8s', 'components', 'prometheus-operator', 'prometheusrule.yaml');
const scrapeConfig = read('deploy', 'prometheus', 'scrape-config.yaml') as unknown as {
  scrape_configs: { job_name: string; relabel_configs: JsonMap[] }[];
};
const base = read('deploy', 'k8s', 'base', 'kustomization.yaml') as unknown as {
  labels: { pairs: Record<string, string>; includeSelectors?: boolean }[];
};
const service = read('deploy', 'k8s', 'base', 'service.yaml');
const deployment = read('deploy', 'k8s', 'base', 'deployment.yaml');

/** The labels kustomize's `labels` entry of the base adds to every object (and pod template, with selectors). */
const kustomizeLabels = Object.assign({}, ...base.labels.map((entry) => entry.pairs)) as Record<
  string,
  string
>;
const serviceLabels = {
  ...((service.metadata as JsonMap).labels as Record<string, string> | undefined),
  ...kustomizeLabels,
};
const podTemplate = (deployment.spec as JsonMap).template as JsonMap;
const podLabels = {
  ...((podTemplate.metadata as JsonMap).labels as Record<string, string>),
  ...(base.labels.every((entry) => entry.includeSelectors) ? kustomizeLabels : {}),
};
const containerPorts = (((podTemplate.spec as JsonMap).containers as JsonMap[])[0]?.ports ?? []) as JsonMap[];

/** Every value the alerts' expressions match `job` against. */
const alertJobs = [
  ...new Set(rules.flatMap((rule) => [...rule.expr.matchAll(/\bjob="([^"]*)"/g)].map((m) => m[1]))),
];

/** Prometheus' name for a Kubernetes pod label in service discovery: every character not [A-Za-z0-9_] becomes _. */
const sdLabel = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^A-Za-z0-9_]/g, '_')}`;

describe('Prometheus: alerts, ServiceMonitor and scrape job', () => {
  it('select one job in every alert, and alert when no target of it is up', () => {
    const absent = rules.find((rule) => rule.alert === 'EbdedupAbsent');

    expect(alertJobs).toEqual(['ebdedup']);
    expect(absent?.expr).toBe('absent(up{job="ebdedup"} == 1)');
  });

  it('label the series scraped through the ServiceMonitor with the alerts’ job, from the Service it selects', () => {
    const spec = monitor.spec as JsonMap;
    const selector = (spec.selector as JsonMap).matchLabels as Record<string, string>;
    const endpoints = spec.endpoints as JsonMap[];
    const servicePorts = ((service.spec as JsonMap).ports as JsonMap[]).map((port) => port.name);

    expect(Object.entries(selector).every(([key, value]) => serviceLabels[key] === value)).toBe(true);
    expect([serviceLabels[String(spec.jobLabel)]]).toEqual(alertJobs);
    expect(endpoints.map((endpoint) => endpoint.port)).toEqual(['http']);
    expect(servicePorts).toContain('http');
    expect(endpoints.map((endpoint) => endpoint.path)).toEqual(['/metrics']);
  });

  it('name the plain scrape job as the alerts do, and keep exactly the receiver pods on their http port', () => {
    const [job] = scrapeConfig.scrape_configs;
    const keep = (job?.relabel_configs ?? []).find((relabel) => relabel.action === 'keep') as JsonMap;
    const targetLabels = (portName: string, labels: Record<string, string>) => ({
      ...Object.fromEntries(Object.entries(labels).map(([key, value]) => [sdLabel(key), value])),
      __meta_kubernetes_pod_container_port_name: portName,
    });
    const kept = (labels: Record<string, string>) =>
      new RegExp(`^(?:${String(keep.regex)})$`).test(
        (keep.source_labels as string[])
          .map((name) => labels[name] ?? '')
          .join(String(keep.separator ?? ';')),
      );
    const httpPort = String(containerPorts.find((port) => port.containerPort === 3000)?.name);

    expect(scrapeConfig.scrape_configs.map((config) => config.job_name)).toEqual(alertJobs);
    expect(kept(targetLabels(httpPort, podLabels))).toBe(true);
    expect(kept(targetLabels('metrics', podLabels))).toBe(false);
    expect(kept(targetLabels(httpPort, { 'app.kubernetes.io/name': 'redis' }))).toBe(false);
  });

  it('leave the pods without prometheus.io annotations, which a job of another name would scrape', () => {
    const annotations = Object.keys(((podTemplate.metadata as JsonMap).annotations ?? {}) as JsonMap);

    expect(annotations.filter((name) => name.startsWith('prometheus.io/'))).toEqual([]);
  });

  it('carry alerts.yaml unchanged in the PrometheusRule', () => {
    expect(prometheusRule.kind).toBe('PrometheusRule');
    expect((prometheusRule.spec as JsonMap).groups).toEqual(alerts.groups);
  });

  it.skipIf(spawnSync('promtool', ['--version']).status !== 0)('pass promtool check rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebdedup-rules-'));
    try {
      const copy = join(dir, 'prometheusrule-groups.yaml');
      writeFileSync(copy, stringify({ groups: (prometheusRule.spec as JsonMap).groups }));

      const check = spawnSync(
        'promtool',
        ['check', 'rules', join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.yaml'), copy],
        { encoding: 'utf8' },
      );

      expect(check.stdout + check.stderr).not.toMatch(/FAILED/);
      expect(check.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
