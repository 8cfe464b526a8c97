import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startScriptNodeFlags } from '../../bench/lib/receiver.js';
import { parseConfig } from '../../src/config/index.js';
import { envSchema } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import {
  allowedBy,
  CFN_LINT_INSTALLED,
  CFN_LINT_TIMEOUT_MS,
  cfnLint,
  expectDeadLetterQueueOpenOnlyToRule,
  getAtt,
  type Json,
  type JsonMap,
  matches,
  only,
  openTemplate,
  props,
  references,
  samples,
  undefinedReferences,
} from './cloudformation.js';
import { SUPPORTED_NODE_LINES } from './node-lines.js';

/**
 * The deployment templates under deploy/: parsed as the tools read them (CloudFormation's short-form intrinsic
 * tags included), then checked for the settings the receiver's guarantees depend on.
 */

const DEPLOY = join(REPO_ROOT, 'deploy');
const CFN_FILE = join(DEPLOY, 'cloudformation', 'eventbridge-api-destination.yaml');
const K8S_BASE = join(DEPLOY, 'k8s', 'base');
const K8S_EXAMPLE = join(DEPLOY, 'k8s', 'overlays', 'example');

const { template, parameters, resources, render } = openTemplate(CFN_FILE);

const BUS = 'aws.partner/genesys.com/cloud/23faea37-1117-4c0a-88a2-572c46780b03/quickstart-test';
const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ebdedup/api-key-AbCdEf';

describe('CloudFormation: eventbridge-api-destination.yaml', () => {
  it('parses with the short-form intrinsic tags and defines the resources of an API destination delivery', () => {
    const types = Object.values(resources).map((resource) => resource.Type);

    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    for (const type of [
      'AWS::Events::Connection',
      'AWS::Events::ApiDestination',
      'AWS::Events::Rule',
      'AWS::SQS::Queue',
      'AWS::SQS::QueuePolicy',
      'AWS::IAM::Role',
    ]) {
      expect(
        types.filter((candidate) => candidate === type),
        type,
      ).toHaveLength(1);
    }
  });

  it('refers only to parameters, resources, pseudo parameters and conditions that exist', () => {
    expect(undefinedReferences(template)).toEqual({ refs: [], conditions: [] });
    expect(references(template).refs.has('ApiKeySecretArn')).toBe(true);
  });

  it('takes the API key from Secrets Manager by dynamic reference, in the header the receiver reads', () => {
    const withJsonKey = props(
      only(render({ ApiKeySecretArn: SECRET }).resources, 'AWS::Events::Connection')[1],
    );
    const wholeSecret = props(
      only(
        render({ ApiKeySecretArn: SECRET, ApiKeySecretJsonKey: '' }).resources,
        'AWS::Events::Connection',
      )[1],
    );
    const auth = (connection: JsonMap) =>
      (connection.AuthParameters as JsonMap).ApiKeyAuthParameters as JsonMap;

    expect(withJsonKey.AuthorizationType).toBe('API_KEY');
    expect(auth(withJsonKey).ApiKeyName).toBe('x-api-key');
    expect(auth(withJsonKey).ApiKeyName).toBe(envSchema.shape.API_KEY_HEADER.parse(undefined));
    expect(auth(withJsonKey).ApiKeyValue).toBe(`{{resolve:secretsmanager:${SECRET}:SecretString:apiKey}}`);
    expect(auth(wholeSecret).ApiKeyValue).toBe(`{{resolve:secretsmanager:${SECRET}}}`);
    expect(allowedBy(parameters.ApiKeySecretArn?.AllowedPattern, SECRET)).toBe(true);
    expect(allowedBy(parameters.ApiKeySecretArn?.AllowedPattern, 'my-api-key-in-clear')).toBe(false);
  });

  it('posts to the endpoint parameter through the connection, at the configured rate', () => {
    const destination = props(
      only(
        render({ EndpointUrl: 'https://ebdedup.example.com/events' }).resources,
        'AWS::Events::ApiDestination',
      )[1],
    );

    expect(destination.HttpMethod).toBe('POST');
    expect(destination.InvocationEndpoint).toBe('https://ebdedup.example.com/events');
    expect(destination.ConnectionArn).toEqual(getAtt('Connection', 'Arn'));
    expect(destination.InvocationRateLimitPerSecond).toBe(
      String(parameters.InvocationRateLimitPerSecond?.Default),
    );
    expect(parameters.InvocationRateLimitPerSecond?.Type).toBe('Number');
    expect(parameters.InvocationRateLimitPerSecond?.MinValue).toBe(1);
    expect(allowedBy(parameters.EndpointUrl?.AllowedPattern, 'http://ebdedup.example.com/events')).toBe(
      false,
    );
  });

  it('puts the rule on the Genesys partner event bus and matches every sample Genesys event', () => {
    const rule = props(only(render({ EventBusName: BUS }).resources, 'AWS::Events::Rule')[1]);
    const pattern = rule.EventPattern as JsonMap;
    const events = samples();

    expect(rule.EventBusName).toBe(BUS);
    expect(rule.State).toBe('ENABLED');
    expect(allowedBy(parameters.EventBusName?.AllowedPattern, BUS)).toBe(true);
    expect(allowedBy(parameters.EventBusName?.AllowedPattern, 'default')).toBe(false);
    expect(allowedBy(parameters.EventBusName?.AllowedPattern, 'aws.partner/other.com/x/y')).toBe(false);
    expect(typeof pattern).toBe('object');
    expect(events.length).toBeGreaterThan(3);
    for (const event of events) expect(matches(pattern, event), String(event['detail-type'])).toBe(true);
    expect(matches(pattern, { source: 'aws.ec2', 'detail-type': 'v2.x' })).toBe(false);
  });

  it('narrows the rule to a detail-type prefix, or to none when the prefix is empty', () => {
    const narrowed = props(
      only(render({ DetailTypePrefix: 'v2.detail.' }).resources, 'AWS::Events::Rule')[1],
    );
    const open = props(only(render({ DetailTypePrefix: '' }).resources, 'AWS::Events::Rule')[1]);
    const genesys = { source: BUS };

    expect(
      matches(narrowed.EventPattern as JsonMap, {
        ...genesys,
        'detail-type': 'v2.detail.events.conversation.{id}.customer.end',
      }),
    ).toBe(true);
    expect(
      matches(narrowed.EventPattern as JsonMap, {
        ...genesys,
        'detail-type': 'v2.audits.entitytype.{id}.entityid.{id}',
      }),
    ).toBe(false);
    expect(matches(open.EventPattern as JsonMap, { ...genesys, 'detail-type': 'anything' })).toBe(true);
  });

  it('retries for 24 hours (EventBridge’s maximum) and then dead-letters to the queue', () => {
    const rendered = render();
    const [queueName] = only(rendered.resources, 'AWS::SQS::Queue');
    const [roleName] = only(rendered.resources, 'AWS::IAM::Role');
    const targets = props(only(rendered.resources, 'AWS::Events::Rule')[1]).Targets as JsonMap[];

    expect(targets).toHaveLength(1);
    const [target] = targets as [JsonMap];
    expect(target.Arn).toEqual(getAtt('ApiDestination', 'Arn'));
    expect(target.RoleArn).toEqual(getAtt(roleName, 'Arn'));
    expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 });
    expect(target.DeadLetterConfig).toEqual({ Arn: getAtt(queueName, 'Arn') });
    // A retry may come up to 24 h late: the receiver keeps keys at least that long.
    expect((target.RetryPolicy as JsonMap).MaximumEventAgeInSeconds).toBeLessThanOrEqual(
      envSchema.shape.DEDUP_TTL_SECONDS.parse(undefined),
    );
  });

  it('lets only this rule send to the dead-letter queue', () => {
    expectDeadLetterQueueOpenOnlyToRule(render().resources);
  });

  it('gives the rule a role that may invoke this API destination and nothing else', () => {
    const role = props(only(render().resources, 'AWS::IAM::Role')[1]);
    const trust = (role.AssumeRolePolicyDocument as JsonMap).Statement as JsonMap[];
    const statements = (role.Policies as JsonMap[]).flatMap(
      (policy) => (policy.PolicyDocument as JsonMap).Statement as JsonMap[],
    );

    expect(trust).toEqual([
      expect.objectContaining({ Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }),
    ]);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'events:InvokeApiDestination', Resource: getAtt('ApiDestination', 'Arn') },
    ]);
    expect(role.ManagedPolicyArns).toBeUndefined();
  });

  it('sends the event id as Idempotency-Key only when asked to', () => {
    const target = (values: Record<string, string>) =>
      (props(only(render(values).resources, 'AWS::Events::Rule')[1]).Targets as JsonMap[])[0] as JsonMap;

    const withHeader = target({ SendIdempotencyKeyHeader: 'true' });
    const without = target({ SendIdempotencyKeyHeader: 'false' });

    expect(withHeader.HttpParameters).toEqual({ HeaderParameters: { 'Idempotency-Key': '$.id' } });
    expect(envSchema.shape.DEDUP_HEADER.parse(undefined)).toBe('idempotency-key');
    expect(without.HttpParameters).toBeUndefined();
    expect(parameters.SendIdempotencyKeyHeader?.Default).toBe('false');
  });

  it('creates the alarms only with an alarm topic', () => {
    const alarms = (values: Record<string, string>) =>
      Object.values(render(values).resources).filter(
        (resource) => resource.Type === 'AWS::CloudWatch::Alarm',
      );

    expect(alarms({})).toHaveLength(0);
    const withTopic = alarms({ AlarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops' });
    expect(withTopic).toHaveLength(4);
    for (const alarm of withTopic)
      expect(props(alarm).AlarmActions).toEqual(['arn:aws:sns:us-east-1:123456789012:ops']);
  });

  it('never puts the secret in outputs', () => {
    const outputs = JSON.stringify(render({ ApiKeySecretArn: SECRET }).outputs);

    expect(outputs).not.toContain('resolve:secretsmanager');
    expect(outputs).not.toContain('ApiKeySecret');
  });

  it.skipIf(!CFN_LINT_INSTALLED)('passes cfn-lint', { timeout: CFN_LINT_TIMEOUT_MS }, () => {
    expect(cfnLint(CFN_FILE)).toEqual({ output: '', status: 0 });
  });
});

// ---------------------------------------------------------------- Kubernetes

function k8sDocs(file: string): JsonMap[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => doc.toJSON() as JsonMap);
}

function k8s(kind: string): JsonMap {
  const found = readdirSync(K8S_BASE)
    .filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml')
    .flatMap((name) => k8sDocs(join(K8S_BASE, name)))
    .filter((doc) => doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as JsonMap;
}

const at = (node: Json | undefined, ...path: (string | number)[]): Json | undefined =>
  path.reduce<Json | undefined>(
    (current, key) =>
      current !== null && typeof current === 'object'
        ? (current as Record<string, Json>)[key as string]
        : undefined,
    node,
  );

function subsetOf(selector: Json | undefined, labels: Json | undefined): boolean {
  const wanted = (selector ?? {}) as Record<string, string>;
  const have = (labels ?? {}) as Record<string, string>;
  return (
    Object.keys(wanted).length > 0 && Object.entries(wanted).every(([key, value]) => have[key] === value)
  );
}

const deployment = k8s('Deployment');
const podSpec = at(deployment, 'spec', 'template', 'spec') as JsonMap;
const container = (podSpec.containers as JsonMap[])[0] as JsonMap;
const podLabels = at(deployment, 'spec', 'template', 'metadata', 'labels');
const configMap = k8s('ConfigMap');
const configData = configMap.data as Record<string, string>;

/** Every variable that carries a credential: never in a ConfigMap. */
const SECRET_VARIABLES = [
  'API_KEYS',
  'BASIC_AUTH_USERS',
  'BEARER_TOKENS',
  'REDIS_URL',
  'METRICS_TOKEN',
  'ADMIN_TOKEN',
];

describe('Kubernetes: deploy/k8s/base', () => {
  it('lists every manifest of the folder in its kustomization, and only those', () => {
    const kustomization = parse(readFileSync(join(K8S_BASE, 'kustomization.yaml'), 'utf8')) as JsonMap;
    const files = readdirSync(K8S_BASE).filter(
      (name) => name.endsWith('.yaml') && name !== 'kustomization.yaml',
    );

    expect([...(kustomization.resources as string[])].sort()).toEqual(files.sort());
    expect(files).toEqual(
      expect.arrayContaining(['deployment.yaml', 'service.yaml', 'pdb.yaml', 'hpa.yaml', 'configmap.yaml']),
    );
  });

  it('probes liveness on /healthz and readiness on /readyz, on the port the server listens on', () => {
    const ports = container.ports as JsonMap[];
    const named = (name: Json | undefined) => ports.find((port) => port.name === name)?.containerPort;

    expect(at(container, 'livenessProbe', 'httpGet', 'path')).toBe('/healthz');
    expect(at(container, 'readinessProbe', 'httpGet', 'path')).toBe('/readyz');
    expect(named(at(container, 'livenessProbe', 'httpGet', 'port'))).toBe(Number(configData.PORT));
    expect(named(at(container, 'readinessProbe', 'httpGet', 'port'))).toBe(Number(configData.PORT));
  });

  it('drains before it is killed: the grace period covers the preStop pause and SHUTDOWN_TIMEOUT_MS', () => {
    const command = at(container, 'lifecycle', 'preStop', 'exec', 'command') as string[];
    const pause = Number(command?.[command.length - 1]);
    const shutdownMs = Number(
      configData.SHUTDOWN_TIMEOUT_MS ?? envSchema.shape.SHUTDOWN_TIMEOUT_MS.parse(undefined),
    );

    expect(command?.[0]).toBe('sleep');
    expect(pause).toBeGreaterThanOrEqual(3);
    expect(Number(podSpec.terminationGracePeriodSeconds)).toBeGreaterThan(pause + shutdownMs / 1000);
  });

  it('runs as a non-root user without privilege escalation, with requests and limits', () => {
    expect(at(podSpec, 'securityContext', 'runAsNonRoot')).toBe(true);
    expect(Number(at(podSpec, 'securityContext', 'runAsUser'))).toBeGreaterThan(0);
    expect(at(container, 'securityContext', 'allowPrivilegeEscalation')).toBe(false);
    expect(at(container, 'securityContext', 'readOnlyRootFilesystem')).toBe(true);
    expect(at(container, 'securityContext', 'capabilities', 'drop')).toEqual(['ALL']);
    for (const kind of ['requests', 'limits']) {
      expect(at(container, 'resources', kind, 'cpu'), `${kind}.cpu`).toBeTruthy();
      expect(at(container, 'resources', kind, 'memory'), `${kind}.memory`).toBeTruthy();
    }
  });

  it('takes its settings from the ConfigMap and its credentials from the Secret', () => {
    const sources = container.envFrom as JsonMap[];

    expect(sources.map((source) => at(source, 'configMapRef', 'name')).filter(Boolean)).toEqual([
      at(configMap, 'metadata', 'name'),
    ]);
    expect(sources.map((source) => at(source, 'secretRef', 'name')).filter(Boolean)).toEqual([
      'ebdedup-secrets',
    ]);
  });

  it('keeps no credential in the ConfigMap, only variables the receiver knows', () => {
    const keys = Object.keys(configData);

    expect(keys.filter((key) => SECRET_VARIABLES.includes(key))).toEqual([]);
    expect(Object.values(configData).filter((value) => /:\/\/[^/\s]*@/.test(value))).toEqual([]);
    expect(keys.filter((key) => !(key in envSchema.shape))).toEqual([]);
  });

  it('is a configuration the receiver accepts in production, with the Secret’s two values added', () => {
    const secrets = readFileSync(join(K8S_EXAMPLE, 'secrets.env.example'), 'utf8');
    const secretKeys = [...secrets.matchAll(/^([A-Z_]+)=/gm)].map(([, key]) => key);

    const config = parseConfig({
      ...configData,
      API_KEYS: 'k'.repeat(32),
      REDIS_URL: 'rediss://u:p@redis.example:6379',
    });

    expect(secretKeys.sort()).toEqual(['API_KEYS', 'REDIS_URL']);
    expect(config.NODE_ENV).toBe('production');
    expect(config.REDIS_CLUSTER_NODES.length).toBeGreaterThan(0);
    expect(config.REDIS_WAIT_REPLICAS).toBeGreaterThanOrEqual(1);
  });

  it('leaves the replica count to the HorizontalPodAutoscaler, which scales the Deployment on CPU', () => {
    const hpa = k8s('HorizontalPodAutoscaler');
    const metrics = at(hpa, 'spec', 'metrics') as JsonMap[];

    expect(at(deployment, 'spec', 'replicas')).toBeUndefined();
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(at(hpa, 'spec', 'scaleTargetRef')).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: at(deployment, 'metadata', 'name'),
    });
    expect(metrics.map((metric) => at(metric, 'resource', 'name'))).toEqual(['cpu']);
    expect(Number(at(hpa, 'spec', 'minReplicas'))).toBeGreaterThanOrEqual(2);
    expect(Number(at(hpa, 'spec', 'maxReplicas'))).toBeGreaterThan(Number(at(hpa, 'spec', 'minReplicas')));
  });

  it('has a PodDisruptionBudget over the pods that still lets a node drain at the minimum replica count', () => {
    const pdb = k8s('PodDisruptionBudget');
    const minReplicas = Number(at(k8s('HorizontalPodAutoscaler'), 'spec', 'minReplicas'));
    const maxUnavailable = at(pdb, 'spec', 'maxUnavailable');
    const minAvailable = at(pdb, 'spec', 'minAvailable');

    expect(pdb.apiVersion).toBe('policy/v1');
    expect(subsetOf(at(pdb, 'spec', 'selector', 'matchLabels'), podLabels)).toBe(true);
    expect(maxUnavailable !== undefined || minAvailable !== undefined).toBe(true);
    if (maxUnavailable !== undefined) expect(Number(maxUnavailable)).toBeGreaterThanOrEqual(1);
    if (minAvailable !== undefined) expect(Number(minAvailable)).toBeLessThan(minReplicas);
  });

  it('selects the pods consistently from the Deployment and the Service', () => {
    const service = k8s('Service');

    expect(subsetOf(at(deployment, 'spec', 'selector', 'matchLabels'), podLabels)).toBe(true);
    expect(subsetOf(at(service, 'spec', 'selector'), podLabels)).toBe(true);
    expect((container.ports as JsonMap[]).map((port) => port.name)).toContain(
      at(service, 'spec', 'ports', 0, 'targetPort'),
    );
  });

  it.skipIf(spawnSync('kubectl', ['version', '--client']).status !== 0)(
    'builds with kustomize, base and example overlay, the overlay generating the Secret the Deployment uses',
    () => {
      const copy = mkdtempSync(join(tmpdir(), 'ebdedup-k8s-'));
      try {
        cpSync(join(DEPLOY, 'k8s'), copy, { recursive: true });
        cpSync(
          join(copy, 'overlays/example/secrets.env.example'),
          join(copy, 'overlays/example/secrets.env'),
        );

        const base = execFileSync('kubectl', ['kustomize', join(copy, 'base')], { encoding: 'utf8' });
        const overlay = parseAllDocuments(
          execFileSync('kubectl', ['kustomize', join(copy, 'overlays/example')], { encoding: 'utf8' }),
        ).map((doc) => doc.toJSON() as JsonMap);

        expect(
          parseAllDocuments(base)
            .map((doc) => (doc.toJSON() as JsonMap).kind)
            .sort(),
        ).toEqual(
          ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service'].sort(),
        );
        const secret = overlay.find((doc) => doc.kind === 'Secret');
        const built = overlay.find((doc) => doc.kind === 'Deployment');
        const secretRef = (at(built, 'spec', 'template', 'spec', 'containers', 0, 'envFrom') as JsonMap[])
          .map((source) => at(source, 'secretRef', 'name'))
          .find(Boolean);
        expect(secretRef).toBe(at(secret, 'metadata', 'name'));
        expect(Object.keys((secret?.data ?? {}) as JsonMap).sort()).toEqual(['API_KEYS', 'REDIS_URL']);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    },
  );
});

it('keeps real secrets files out of the repository (only secrets.env.example is tracked)', () => {
  const tracked = execFileSync('git', ['ls-files', '--', 'deploy'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);

  expect(tracked.filter((file) => /(^|\/)(secrets?\.env|\.env)$/.test(file))).toEqual([]);
  expect(tracked).toContain('deploy/k8s/overlays/example/secrets.env.example');
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

  it('builds and runs on a supported Node.js LTS line, while package.json still accepts Node 20.18.1', () => {
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map(([, image]) => image);
    const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };

    expect(bases).toHaveLength(2);
    for (const image of bases) {
      const line = /^node:(\d+)-bookworm-slim$/.exec(image ?? '');
      expect(line, image).not.toBeNull();
      expect(SUPPORTED_NODE_LINES, image).toContain(Number(line?.[1]));
    }
    expect(new Set(bases).size).toBe(1);
    expect(packageJson.engines.node).toBe('>=20.18.1');
  });

  it('starts node with the flags of `npm start`, as PID 1 and without npm', () => {
    const cmd = dockerfile
      .split('\n')
      .filter((line) => line.startsWith('CMD '))
      .at(-1);

    const argv = JSON.parse(cmd?.slice('CMD '.length) ?? 'null') as string[];

    expect(startScriptNodeFlags(REPO_ROOT)).toEqual(['--max-semi-space-size=8', '--max-old-space-size=96']);
    expect(argv).toEqual(['node', ...startScriptNodeFlags(REPO_ROOT), 'dist/main.js']);
  });
});
