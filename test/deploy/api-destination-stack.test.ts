import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { allowedBy, type JsonMap, only, openTemplate, props } from './cloudformation.js';

/**
 * deploy/cloudformation/eventbridge-api-destination.yaml beyond the delivery path (templates.test.ts): the
 * connection for each authorization type the receiver checks, the alarms on EventBridge's real delivery metrics,
 * and a dead-letter queue that outlives the stack.
 */

const { parameters, resources, render, brokenRules } = openTemplate(
  join(REPO_ROOT, 'deploy', 'cloudformation', 'eventbridge-api-destination.yaml'),
);

const SECRET = (name: string) =>
  `arn:aws:secretsmanager:us-east-1:123456789012:secret:ebdedup/${name}-AbCdEf`;
const TOKEN_ENDPOINT = 'https://idp.example.com/oauth2/token';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ops';

/** The parameters of a complete stack for each authorization type. */
const STACKS = {
  API_KEY: { AuthorizationType: 'API_KEY', ApiKeySecretArn: SECRET('api-key') },
  BASIC: { AuthorizationType: 'BASIC', BasicAuthSecretArn: SECRET('basic') },
  OAUTH_CLIENT_CREDENTIALS: {
    AuthorizationType: 'OAUTH_CLIENT_CREDENTIALS',
    OAuthClientSecretArn: SECRET('oauth'),
    OAuthTokenEndpoint: TOKEN_ENDPOINT,
  },
} satisfies Record<string, Record<string, string>>;

const connection = (values: Record<string, string>) =>
  props(only(render(values).resources, 'AWS::Events::Connection')[1]);

/**
 * The metrics of the AWS/Events namespace, as AWS lists them
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html): an alarm on a name not listed
 * here would never leave INSUFFICIENT_DATA.
 */
const EVENTBRIDGE_METRICS = [
  'DeadLetterInvocations',
  'Events',
  'FailedInvocations',
  'IngestionToInvocationStartLatency',
  'IngestionToInvocationSuccessLatency',
  'InvocationAttempts',
  'Invocations',
  'InvocationsCreated',
  'InvocationsFailedToBeSentToDlq',
  'InvocationsSentToDlq',
  'MatchedEvents',
  'RetryInvocationAttempts',
  'SuccessfulInvocationAttempts',
  'ThrottledRules',
  'TriggeredRules',
];

describe('CloudFormation connection: API key, Basic or OAuth client credentials', () => {
  it('sends the chosen type’s credentials only, each by dynamic reference to its Secrets Manager secret', () => {
    // Act
    const apiKey = connection(STACKS.API_KEY);
    const basic = connection(STACKS.BASIC);
    const oauth = connection(STACKS.OAUTH_CLIENT_CREDENTIALS);

    // Assert
    expect(parameters.AuthorizationType?.AllowedValues).toEqual([
      'API_KEY',
      'BASIC',
      'OAUTH_CLIENT_CREDENTIALS',
    ]);
    expect(apiKey.AuthorizationType).toBe('API_KEY');
    expect(Object.keys(apiKey.AuthParameters as JsonMap)).toEqual(['ApiKeyAuthParameters']);
    expect(basic.AuthorizationType).toBe('BASIC');
    expect(basic.AuthParameters).toEqual({
      BasicAuthParameters: {
        Username: `{{resolve:secretsmanager:${SECRET('basic')}:SecretString:username}}`,
        Password: `{{resolve:secretsmanager:${SECRET('basic')}:SecretString:password}}`,
      },
    });
    expect(oauth.AuthorizationType).toBe('OAUTH_CLIENT_CREDENTIALS');
    expect(oauth.AuthParameters).toEqual({
      OAuthParameters: {
        AuthorizationEndpoint: TOKEN_ENDPOINT,
        HttpMethod: 'POST',
        ClientParameters: {
          ClientID: `{{resolve:secretsmanager:${SECRET('oauth')}:SecretString:clientId}}`,
          ClientSecret: `{{resolve:secretsmanager:${SECRET('oauth')}:SecretString:clientSecret}}`,
        },
      },
    });
  });

  it('asks the token endpoint for the scope and audience when they are given', () => {
    const oauth = connection({
      ...STACKS.OAUTH_CLIENT_CREDENTIALS,
      OAuthScope: 'events:write',
      OAuthAudience: 'ebdedup',
    });
    const audienceOnly = connection({ ...STACKS.OAUTH_CLIENT_CREDENTIALS, OAuthAudience: 'ebdedup' });

    const body = (props: JsonMap) =>
      (((props.AuthParameters as JsonMap).OAuthParameters as JsonMap).OAuthHttpParameters as JsonMap)
        .BodyParameters;

    expect(body(oauth)).toEqual([
      { Key: 'scope', Value: 'events:write' },
      { Key: 'audience', Value: 'ebdedup' },
    ]);
    expect(body(audienceOnly)).toEqual([{ Key: 'audience', Value: 'ebdedup' }]);
  });

  it('refuses, before creating anything, a stack without the credentials its authorization type needs', () => {
    expect(brokenRules({})).toEqual(['AuthorizationType API_KEY needs ApiKeySecretArn']);
    expect(brokenRules({ AuthorizationType: 'BASIC' })).toEqual([
      'AuthorizationType BASIC needs BasicAuthSecretArn',
    ]);
    expect(brokenRules({ AuthorizationType: 'OAUTH_CLIENT_CREDENTIALS' })).toEqual([
      'AuthorizationType OAUTH_CLIENT_CREDENTIALS needs OAuthClientSecretArn',
      'AuthorizationType OAUTH_CLIENT_CREDENTIALS needs OAuthTokenEndpoint',
    ]);
    for (const stack of Object.values(STACKS))
      expect(brokenRules(stack), stack.AuthorizationType).toEqual([]);
    for (const name of ['ApiKeySecretArn', 'BasicAuthSecretArn', 'OAuthClientSecretArn']) {
      expect(allowedBy(parameters[name]?.AllowedPattern, SECRET('x')), name).toBe(true);
      expect(allowedBy(parameters[name]?.AllowedPattern, 'user:password-in-clear'), name).toBe(false);
    }
    expect(allowedBy(parameters.OAuthTokenEndpoint?.AllowedPattern, 'http://idp.example.com/token')).toBe(
      false,
    );
  });

  it('names the receiver AUTH_MODE that accepts what each connection sends, in a production configuration', () => {
    const receiver = {
      API_KEY: (auth: JsonMap) => ({
        API_KEY_HEADER: String((auth.ApiKeyAuthParameters as JsonMap).ApiKeyName),
        API_KEYS: 'k'.repeat(32),
      }),
      BASIC: () => ({ BASIC_AUTH_USERS: 'eventbridge:a-long-random-password' }),
      OAUTH_CLIENT_CREDENTIALS: () => ({
        JWT_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
        JWT_ISSUER: 'https://idp.example.com/',
        JWT_AUDIENCE: 'ebdedup',
      }),
    };

    for (const [type, stack] of Object.entries(STACKS) as [keyof typeof STACKS, Record<string, string>][]) {
      // Arrange
      const rendered = render(stack);
      const auth = props(only(rendered.resources, 'AWS::Events::Connection')[1]).AuthParameters as JsonMap;
      const mode = (rendered.outputs.ReceiverAuthMode as JsonMap).Value;

      // Act
      const config = parseConfig({
        NODE_ENV: 'production',
        STORE: 'memory',
        AUTH_MODE: String(mode),
        ...receiver[type](auth),
      });

      // Assert
      expect(config.AUTH_MODE, type).toBe(mode);
    }
    expect((render(STACKS.API_KEY).outputs.ReceiverAuthMode as JsonMap).Value).toBe('api-key');
    expect((render(STACKS.BASIC).outputs.ReceiverAuthMode as JsonMap).Value).toBe('basic');
    expect((render(STACKS.OAUTH_CLIENT_CREDENTIALS).outputs.ReceiverAuthMode as JsonMap).Value).toBe('jwt');
  });
});

describe('CloudFormation alarms and dead-letter queue', () => {
  const alarms = Object.values(render({ ...STACKS.API_KEY, AlarmTopicArn: TOPIC }).resources)
    .filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm')
    .map(props);
  const byMetric = new Map(alarms.map((alarm) => [alarm.MetricName, alarm]));

  it('alarms on retries, permanent failures and dead letters that could not be written, per bus and rule', () => {
    const retries = byMetric.get('RetryInvocationAttempts');
    const eventBridge = alarms.filter((alarm) => alarm.Namespace === 'AWS/Events');

    expect([...byMetric.keys()].sort()).toEqual(
      [
        'ApproximateNumberOfMessagesVisible',
        'FailedInvocations',
        'InvocationsFailedToBeSentToDlq',
        'RetryInvocationAttempts',
      ].sort(),
    );
    for (const alarm of eventBridge) {
      expect(EVENTBRIDGE_METRICS, String(alarm.MetricName)).toContain(alarm.MetricName);
      expect(alarm.Dimensions, String(alarm.MetricName)).toEqual([
        { Name: 'EventBusName', Value: '<EventBusName>' },
        { Name: 'RuleName', Value: String(parameters.RuleName?.Default) },
      ]);
      expect(alarm.AlarmActions).toEqual([TOPIC]);
    }
    expect(retries?.Threshold).toBe(String(parameters.RetryAlarmThreshold?.Default));
    expect(retries?.Statistic).toBe('Sum');
    expect(Number(retries?.EvaluationPeriods)).toBeGreaterThanOrEqual(2);
  });

  it('describes FailedInvocations as what it counts: deliveries that failed for good, not retries', () => {
    const failed = String(byMetric.get('FailedInvocations')?.AlarmDescription);

    expect(failed).not.toMatch(/being retried/);
    expect(failed).toMatch(/for good/);
    expect(String(byMetric.get('RetryInvocationAttempts')?.AlarmDescription)).toMatch(/retrying/);
  });

  it('keeps the dead-letter queue, and the undelivered events in it, when the stack is deleted or replaced', () => {
    const [name, queue] = only(resources, 'AWS::SQS::Queue');

    expect(queue.DeletionPolicy, name).toBe('Retain');
    expect(queue.UpdateReplacePolicy, name).toBe('Retain');
  });
});
