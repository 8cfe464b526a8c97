import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
  type JsonMap,
  matches,
  only,
  openTemplate,
  props,
  samples,
  undefinedReferences,
} from './cloudformation.js';
import { SUPPORTED_NODE_LINES } from './node-lines.js';

/**
 * deploy/sam/template.yaml: the Lambda adapter (`genesys-eventbridge-dedup/lambda`) as the target of a rule on the
 * Genesys partner bus, in the VPC of its Redis. Checked as CloudFormation reads it, before SAM's transform.
 */

const SAM_FILE = join(REPO_ROOT, 'deploy', 'sam', 'template.yaml');
const { template, parameters, render } = openTemplate(SAM_FILE);

const BUS = 'aws.partner/genesys.com/cloud/23faea37-1117-4c0a-88a2-572c46780b03/quickstart-test';
const REDIS_URL = 'rediss://ebdedup:secret@master.ebdedup.abc123.euw1.cache.amazonaws.com:6379';

const functionProps = (values: Record<string, string> = {}) =>
  props(only(render(values).resources, 'AWS::Serverless::Function')[1]);

describe('AWS SAM: deploy/sam/template.yaml', () => {
  it('is a SAM template whose references all exist', () => {
    expect(template.Transform).toBe('AWS::Serverless-2016-10-31');
    expect(undefinedReferences(template)).toEqual({ refs: [], conditions: [] });
  });

  it('runs the package’s Lambda handler on a supported Node.js LTS runtime', () => {
    const fn = functionProps();
    const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { default: string }>;
    };
    const runtime = /^nodejs(\d+)\.x$/.exec(String(fn.Runtime));

    expect(runtime, String(fn.Runtime)).not.toBeNull();
    expect(SUPPORTED_NODE_LINES).toContain(Number(runtime?.[1]));
    // Handler `dist/adapters/lambda.handler` is the export `./lambda` (`./dist/adapters/lambda.js`), `handler`.
    expect(`./${String(fn.Handler).replace(/\.handler$/, '.js')}`).toBe(
      packageJson.exports['./lambda']?.default,
    );
    expect(fn.CodeUri).toBe('../..');
  });

  it('puts the rule on the Genesys partner bus, matching every sample, and targets the function', () => {
    const rendered = render({ EventBusName: BUS });
    const [functionName] = only(rendered.resources, 'AWS::Serverless::Function');
    const [ruleName, rule] = only(rendered.resources, 'AWS::Events::Rule');
    const permission = props(only(rendered.resources, 'AWS::Lambda::Permission')[1]);
    const targets = props(rule).Targets as JsonMap[];

    expect(props(rule).EventBusName).toBe(BUS);
    expect(allowedBy(parameters.EventBusName?.AllowedPattern, 'default')).toBe(false);
    for (const event of samples()) {
      expect(matches(props(rule).EventPattern as JsonMap, event), String(event['detail-type'])).toBe(true);
    }
    expect(targets).toHaveLength(1);
    expect(targets[0]?.Arn).toEqual(getAtt(functionName, 'Arn'));
    expect(permission).toEqual({
      FunctionName: { Ref: functionName },
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(ruleName, 'Arn'),
    });
  });

  it('retries delivery for 24 hours, then dead-letters to a retained queue only this rule may send to', () => {
    const rendered = render();
    const [queueName, queue] = only(rendered.resources, 'AWS::SQS::Queue');
    const [, rule] = only(rendered.resources, 'AWS::Events::Rule');
    const [target] = props(rule).Targets as [JsonMap];

    expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 });
    expect(target.DeadLetterConfig).toEqual({ Arn: getAtt(queueName, 'Arn') });
    expect(queue.DeletionPolicy).toBe('Retain');
    expect(queue.UpdateReplacePolicy).toBe('Retain');
    expect(props(queue).MessageRetentionPeriod).toBe(1209600);
    expectDeadLetterQueueOpenOnlyToRule(rendered.resources);
  });

  it('sends what the function itself fails on, after Lambda’s retries, to the same queue', () => {
    const fn = functionProps();
    const [queueName] = only(render().resources, 'AWS::SQS::Queue');

    expect(fn.DeadLetterQueue).toEqual({ Type: 'SQS', TargetArn: getAtt(queueName, 'Arn') });
    expect(fn.EventInvokeConfig).toEqual({ MaximumEventAgeInSeconds: 21600, MaximumRetryAttempts: 2 });
  });

  it('runs in the given subnets and security groups, with reserved concurrency from its parameter', () => {
    const fn = functionProps({
      SubnetIds: 'subnet-a,subnet-b',
      SecurityGroupIds: 'sg-1',
      ReservedConcurrency: '5',
    });

    expect(parameters.SubnetIds?.Type).toBe('List<AWS::EC2::Subnet::Id>');
    expect(parameters.SecurityGroupIds?.Type).toBe('List<AWS::EC2::SecurityGroup::Id>');
    expect(fn.VpcConfig).toEqual({ SubnetIds: 'subnet-a,subnet-b', SecurityGroupIds: 'sg-1' });
    expect(fn.ReservedConcurrentExecutions).toBe('5');
    expect(parameters.ReservedConcurrency).toMatchObject({ Type: 'Number', MinValue: 1 });
  });

  it('gives the handler a configuration the receiver accepts, with REDIS_URL from its parameter', () => {
    const fn = functionProps({ RedisUrl: REDIS_URL });
    const variables = (fn.Environment as JsonMap).Variables as Record<string, string>;

    const config = parseConfig(variables);

    expect(variables.REDIS_URL).toBe(REDIS_URL);
    expect(parameters.RedisUrl?.NoEcho).toBe(true);
    expect(parameters.RedisUrl?.Default).toBeUndefined();
    expect(allowedBy(parameters.RedisUrl?.AllowedPattern, 'http://x')).toBe(false);
    expect(config.STORE).toBe('redis');
    expect(config.REDIS_URL).toBe(REDIS_URL);
    expect(config.DEDUP_TTL_SECONDS).toBe(86400);
    expect(parameters.DedupTtlSeconds?.MinValue).toBe(86400);
    expect(config.DEDUP_STRATEGY).toBe('content');
    expect(parameters.DedupStrategy?.AllowedValues).not.toContain('header');
    expect(config.SINK).toBe('log');
    // The function must outlive the sink's deadline, and a claim must outlive the function.
    expect(Number(fn.Timeout) * 1000).toBeGreaterThan(config.SINK_TIMEOUT_MS);
    expect(Number(fn.Timeout)).toBeLessThan(config.DEDUP_LEASE_SECONDS);
  });

  it('passes SINK_HTTP_URL only when given, and every variable it sets is one the receiver knows', () => {
    const variables = (http: string) =>
      ((functionProps({ RedisUrl: REDIS_URL, Sink: 'http', SinkHttpUrl: http }).Environment as JsonMap)
        .Variables ?? {}) as Record<string, string>;

    const withUrl = variables('https://crm.example/events');

    expect(withUrl.SINK_HTTP_URL).toBe('https://crm.example/events');
    expect(variables('').SINK_HTTP_URL).toBeUndefined();
    expect(parseConfig(withUrl).SINK).toBe('http');
    for (const name of Object.keys(withUrl)) expect(envSchema.shape).toHaveProperty(name);
  });

  it.skipIf(!CFN_LINT_INSTALLED)(
    'passes cfn-lint (SAM transform applied)',
    { timeout: CFN_LINT_TIMEOUT_MS },
    () => {
      expect(cfnLint(SAM_FILE)).toEqual({ output: '', status: 0 });
    },
  );
});
