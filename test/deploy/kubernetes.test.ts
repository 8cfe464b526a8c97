import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../helpers/server-process.js';
import type { JsonMap } from './cloudformation.js';

/**
 * The Kubernetes steps of docs/deploying-on-kubernetes.md, run as written on a copy of the repository's deploy/
 * folder. `kubectl apply -k DIR` needs a cluster, so a stand-in `kubectl` first on PATH records DIR and, when the
 * real kubectl is installed, renders DIR with `kubectl kustomize` (what apply would send); every other kubectl
 * command goes to the real one.
 */

const DOC = join(REPO_ROOT, 'docs', 'deploying-on-kubernetes.md');
const REAL_KUBECTL = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
const KUBECTL_INSTALLED =
  REAL_KUBECTL !== '' && spawnSync(REAL_KUBECTL, ['version', '--client']).status === 0;

/** Kinds kustomize leaves without a namespace. */
const CLUSTER_SCOPED = new Set(['Namespace']);

/** The shell block of the doc's "Steps" section. */
function documentedSteps(): string {
  const doc = readFileSync(DOC, 'utf8');
  const steps = doc.slice(doc.indexOf('\n## Steps\n'));
  const block = /```sh\n([\s\S]*?)\n```/.exec(steps)?.[1];
  expect(block, 'a ```sh block under "## Steps"').toBeDefined();
  return block as string;
}

const STAND_IN = `#!/bin/sh
if [ "$1" = apply ] && [ "$2" = -k ]; then
  (cd "$3" && pwd) > "$APPLIED_DIR_FILE"
  if [ -n "$REAL_KUBECTL" ]; then exec "$REAL_KUBECTL" kustomize "$3" > "$APPLIED_FILE"; fi
  exit 0
fi
exec "$REAL_KUBECTL" "$@"
`;

const copies: string[] = [];
afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A checkout's root holding a copy of deploy/ (never a local secrets.env), and a stand-in kubectl. */
function checkout(): {
  root: string;
  env: NodeJS.ProcessEnv;
  appliedDir: () => string;
  applied: () => JsonMap[];
} {
  const root = mkdtempSync(join(tmpdir(), 'ebdedup-checkout-'));
  copies.push(root);
  cpSync(join(REPO_ROOT, 'deploy'), join(root, 'deploy'), {
    recursive: true,
    filter: (source) => !source.endsWith('secrets.env'),
  });
  const bin = join(root, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'kubectl'), STAND_IN);
  chmodSync(join(bin, 'kubectl'), 0o755);
  const appliedDirFile = join(root, '.applied-dir');
  const appliedFile = join(root, '.applied.yaml');
  return {
    root,
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      REAL_KUBECTL: KUBECTL_INSTALLED ? REAL_KUBECTL : '',
      APPLIED_DIR_FILE: appliedDirFile,
      APPLIED_FILE: appliedFile,
    },
    appliedDir: () => readFileSync(appliedDirFile, 'utf8').trim(),
    applied: () => parseAllDocuments(readFileSync(appliedFile, 'utf8')).map((doc) => doc.toJSON() as JsonMap),
  };
}

function run(script: string, cwd: string, env: NodeJS.ProcessEnv): void {
  execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, stdio: 'pipe' });
}

const metadata = (doc: JsonMap | undefined) => (doc?.metadata ?? {}) as Record<string, string>;
const labelsOf = (doc: JsonMap | undefined) =>
  ((doc?.metadata as JsonMap | undefined)?.labels ?? {}) as Record<string, string>;

describe('Kubernetes steps of docs/deploying-on-kubernetes.md, run as written', () => {
  it('reach an overlay whose every resource and component resolves, with a Namespace of its own namespace', () => {
    // Arrange
    const { root, env, appliedDir } = checkout();

    // Act
    run(documentedSteps(), root, env);

    // Assert
    const dir = appliedDir();
    const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
      namespace?: string;
      resources: string[];
      components?: string[];
    };
    const missing = [...kustomization.resources, ...(kustomization.components ?? [])].filter(
      (entry) => !existsSync(resolve(dir, entry)),
    );
    const namespaces = kustomization.resources
      .filter((entry) => entry.endsWith('.yaml'))
      .flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')))
      .map((doc) => doc.toJSON() as JsonMap)
      .filter((doc) => doc.kind === 'Namespace');

    expect(missing).toEqual([]);
    expect(kustomization.namespace).toBe('ebdedup');
    expect(namespaces.map((doc) => metadata(doc).name)).toEqual([kustomization.namespace]);
    expect(existsSync(join(dir, 'secrets.env'))).toBe(true);
  });

  it.skipIf(!KUBECTL_INSTALLED)(
    'render the namespace first, everything in it, and the Secret the Deployment reads',
    () => {
      // Arrange
      const { root, env, applied } = checkout();

      // Act
      run(documentedSteps(), root, env);

      // Assert
      const docs = applied();
      const secret = docs.find((doc) => doc.kind === 'Secret');
      const deployment = docs.find((doc) => doc.kind === 'Deployment');
      const container = (((deployment as JsonMap).spec as JsonMap).template as JsonMap).spec as JsonMap;
      const envFrom = ((container.containers as JsonMap[])[0] as JsonMap).envFrom as JsonMap[];

      expect(docs[0]?.kind).toBe('Namespace');
      expect(metadata(docs[0]).name).toBe('ebdedup');
      expect(
        docs.filter((doc) => !CLUSTER_SCOPED.has(String(doc.kind))).map((doc) => metadata(doc).namespace),
      ).toEqual(docs.slice(1).map(() => 'ebdedup'));
      expect(Object.keys((secret?.data ?? {}) as JsonMap).sort()).toEqual(['API_KEYS', 'REDIS_URL']);
      expect(
        envFrom.map((source) => (source.secretRef as JsonMap | undefined)?.name).filter(Boolean),
      ).toEqual([metadata(secret).name]);
    },
  );

  it.skipIf(!KUBECTL_INSTALLED)(
    'move everything, the Namespace included, when `namespace:` is edited',
    () => {
      // Arrange: the steps with the documented edit of `namespace:` made before the apply
      const { root, env, applied } = checkout();
      const steps = documentedSteps().replace(
        /^kubectl apply -k \.$/m,
        "sed -i 's/^namespace: ebdedup$/namespace: receivers-prod/' kustomization.yaml\nkubectl apply -k .",
      );

      // Act
      run(steps, root, env);

      // Assert
      const docs = applied();
      expect(docs.filter((doc) => doc.kind === 'Namespace').map((doc) => metadata(doc).name)).toEqual([
        'receivers-prod',
      ]);
      expect(new Set(docs.slice(1).map((doc) => metadata(doc).namespace))).toEqual(
        new Set(['receivers-prod']),
      );
    },
  );

  it.skipIf(!KUBECTL_INSTALLED)(
    'add a ServiceMonitor selecting the Service and the alerts as a PrometheusRule with the operator component',
    () => {
      // Arrange: the steps with the example's commented `components:` lines enabled
      const { root, env, applied } = checkout();
      const steps = documentedSteps().replace(
        /^kubectl apply -k \.$/m,
        "sed -i 's/^# components:$/components:/; s/^#   - \\(.*prometheus-operator\\)$/  - \\1/' kustomization.yaml\nkubectl apply -k .",
      );

      // Act
      run(steps, root, env);

      // Assert
      const docs = applied();
      const service = docs.find((doc) => doc.kind === 'Service');
      const monitor = docs.find((doc) => doc.kind === 'ServiceMonitor');
      const rule = docs.find((doc) => doc.kind === 'PrometheusRule');
      const monitorSpec = (monitor as JsonMap).spec as JsonMap;
      const wanted = (monitorSpec.selector as JsonMap).matchLabels as Record<string, string>;
      const serviceLabels = labelsOf(service);
      const servicePorts = (((service as JsonMap).spec as JsonMap).ports as JsonMap[]).map(
        (port) => port.name,
      );

      expect(metadata(monitor).namespace).toBe('ebdedup');
      expect(metadata(rule).namespace).toBe('ebdedup');
      expect(Object.entries(wanted).every(([key, value]) => serviceLabels[key] === value)).toBe(true);
      expect(serviceLabels[String(monitorSpec.jobLabel)]).toBe('ebdedup');
      expect(servicePorts).toContain((monitorSpec.endpoints as JsonMap[])[0]?.port);
    },
  );
});
