import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type CollectionTag, parse, type ScalarTag } from 'yaml';
import { REPO_ROOT } from '../helpers/server-process.js';

/**
 * CloudFormation templates (and AWS SAM ones, which are CloudFormation plus a transform) read as the tools read
 * them, short-form intrinsic tags included, and evaluated for given parameter values, for tests of deploy/.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonMap = { [key: string]: Json };

const INTRINSICS: Record<string, string> = {
  '!Ref': 'Ref',
  '!Condition': 'Condition',
  '!Sub': 'Fn::Sub',
  '!GetAtt': 'Fn::GetAtt',
  '!If': 'Fn::If',
  '!Equals': 'Fn::Equals',
  '!Not': 'Fn::Not',
  '!And': 'Fn::And',
  '!Or': 'Fn::Or',
  '!Join': 'Fn::Join',
  '!Select': 'Fn::Select',
  '!Split': 'Fn::Split',
  '!FindInMap': 'Fn::FindInMap',
  '!Base64': 'Fn::Base64',
  '!GetAZs': 'Fn::GetAZs',
  '!ImportValue': 'Fn::ImportValue',
  '!Cidr': 'Fn::Cidr',
};

/** Each short form as the long form CloudFormation turns it into (`!GetAtt A.B` is `Fn::GetAtt: [A, B]`). */
export const CFN_TAGS: (ScalarTag | CollectionTag)[] = Object.entries(INTRINSICS).flatMap(([tag, name]) => [
  {
    tag,
    resolve: (value: string) =>
      name === 'Fn::GetAtt'
        ? { [name]: [value.slice(0, value.indexOf('.')), value.slice(value.indexOf('.') + 1)] }
        : { [name]: value },
  } satisfies ScalarTag,
  { tag, collection: 'seq', resolve: (seq) => ({ [name]: seq.toJSON() }) } satisfies CollectionTag,
  { tag, collection: 'map', resolve: (map) => ({ [name]: map.toJSON() }) } satisfies CollectionTag,
]);

export const PSEUDO = new Set([
  'AWS::AccountId',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
  'AWS::NotificationARNs',
]);

const NO_VALUE = '<AWS::NoValue>';

/**
 * The evaluator of a template's intrinsic functions for these parameter values (defaults for the rest): Ref to a
 * parameter, Fn::Sub over parameters, Fn::If / Fn::Equals / Fn::Not / Fn::And / Fn::Or and conditions evaluated; Ref
 * to resources and pseudo parameters and Fn::GetAtt left as they are (they exist only once deployed).
 */
function evaluator(template: JsonMap, values: Record<string, string>) {
  const parameters = (template.Parameters ?? {}) as Record<string, JsonMap>;
  const params: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(parameters)) {
    const value = values[name] ?? (parameter.Default === undefined ? `<${name}>` : String(parameter.Default));
    params[name] = value;
  }
  const conditionDefs = (template.Conditions ?? {}) as JsonMap;
  const conditions: Record<string, boolean> = {};
  const condition = (name: string): boolean => {
    if (!(name in conditions)) conditions[name] = Boolean(evaluate(conditionDefs[name] as Json));
    return conditions[name] as boolean;
  };
  const evaluate = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(evaluate).filter((item) => item !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const keys = Object.keys(node);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = node[key] as Json;
      switch (key) {
        case 'Ref':
          if (arg === 'AWS::NoValue') return NO_VALUE;
          return typeof arg === 'string' && arg in params ? (params[arg] as string) : node;
        case 'Fn::Sub':
          return typeof arg === 'string'
            ? arg.replace(/\$\{([A-Za-z0-9]+)\}/g, (whole, name: string) => params[name] ?? whole)
            : node;
        case 'Fn::If': {
          const [name, yes, no] = arg as [string, Json, Json];
          return evaluate(condition(name) ? yes : no);
        }
        case 'Fn::Equals': {
          const [left, right] = (arg as Json[]).map(evaluate);
          return left === right;
        }
        case 'Fn::Not':
          return !evaluate((arg as Json[])[0] as Json);
        case 'Fn::And':
          return (arg as Json[]).every((item) => evaluate(item) === true);
        case 'Fn::Or':
          return (arg as Json[]).some((item) => evaluate(item) === true);
        case 'Condition':
          return condition(arg as string);
      }
    }
    const out: JsonMap = {};
    for (const [key, value] of Object.entries(node)) {
      const evaluated = evaluate(value);
      if (evaluated !== NO_VALUE) out[key] = evaluated;
    }
    return out;
  };
  return { evaluate, condition };
}

/** The template as CloudFormation would see it with these parameter values (defaults for the rest). */
export function render(
  template: JsonMap,
  values: Record<string, string> = {},
): {
  resources: Record<string, JsonMap>;
  outputs: JsonMap;
} {
  const { evaluate, condition } = evaluator(template, values);
  const resources = template.Resources as Record<string, JsonMap>;
  const rendered: Record<string, JsonMap> = {};
  for (const [name, resource] of Object.entries(resources)) {
    if (typeof resource.Condition === 'string' && !condition(resource.Condition)) continue;
    rendered[name] = evaluate(resource) as JsonMap;
  }
  return { resources: rendered, outputs: evaluate(template.Outputs as Json) as JsonMap };
}

/**
 * The `AssertDescription` of every assertion of the template's `Rules` that these parameter values break: what
 * CloudFormation would refuse the stack with before creating anything. Empty when the stack would be accepted.
 */
export function brokenRules(template: JsonMap, values: Record<string, string> = {}): string[] {
  const { evaluate } = evaluator(template, values);
  const rules = (template.Rules ?? {}) as Record<string, JsonMap>;
  return Object.values(rules)
    .filter((rule) => rule.RuleCondition === undefined || evaluate(rule.RuleCondition) === true)
    .flatMap((rule) => rule.Assertions as JsonMap[])
    .filter((assertion) => evaluate(assertion.Assert as Json) !== true)
    .map((assertion) => String(assertion.AssertDescription));
}

/** The one resource of `type`, by its logical id. */
export function only(rendered: Record<string, JsonMap>, type: string): [string, JsonMap] {
  const found = Object.entries(rendered).filter(([, resource]) => resource.Type === type);
  expect(
    found.map(([name]) => name),
    `resources of type ${type}`,
  ).toHaveLength(1);
  return found[0] as [string, JsonMap];
}

export function props(resource: JsonMap): JsonMap {
  return resource.Properties as JsonMap;
}

export const getAtt = (name: string, attribute: string) => ({ 'Fn::GetAtt': [name, attribute] });

export function allowedBy(pattern: Json | undefined, value: string): boolean {
  return new RegExp(String(pattern)).test(value);
}

/** EventBridge's matching for the operators the template uses: exact strings, prefix and exists. */
export function matches(pattern: JsonMap, event: JsonMap): boolean {
  return Object.entries(pattern).every(([field, rule]) => {
    const value = event[field];
    if (Array.isArray(rule)) {
      return rule.some((option) => {
        if (option !== null && typeof option === 'object' && !Array.isArray(option)) {
          if ('prefix' in option) return typeof value === 'string' && value.startsWith(String(option.prefix));
          if ('exists' in option) return (value !== undefined) === option.exists;
          throw new Error(`operator not handled by this test: ${JSON.stringify(option)}`);
        }
        return value === option;
      });
    }
    return typeof rule === 'object' && rule !== null && typeof value === 'object' && value !== null
      ? matches(rule as JsonMap, value as JsonMap)
      : false;
  });
}

/** Every `{Ref}`, `{Fn::GetAtt}`, `${Name}` in Fn::Sub, and condition name used anywhere in the template. */
export function references(node: Json, found = { refs: new Set<string>(), conditions: new Set<string>() }) {
  if (Array.isArray(node)) for (const item of node) references(item, found);
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string') found.refs.add(value);
      else if (key === 'Fn::GetAtt' && Array.isArray(value)) found.refs.add(String(value[0]));
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(value) ? String(value[0]) : String(value);
        for (const [, name] of text.matchAll(/\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z]+)?\}/g))
          found.refs.add(name as string);
      } else if (key === 'Fn::If' && Array.isArray(value)) found.conditions.add(String(value[0]));
      else if (key === 'Condition' && typeof value === 'string') found.conditions.add(value);
      references(value, found);
    }
  }
  return found;
}

export function samples(): JsonMap[] {
  const folder = join(REPO_ROOT, 'samples');
  return readdirSync(folder)
    .filter((name) => name.startsWith('genesys-') && name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(join(folder, name), 'utf8')) as JsonMap);
}

/** A template file parsed with CloudFormation's short-form tags. */
export function loadTemplate(file: string): JsonMap {
  return parse(readFileSync(file, 'utf8'), { customTags: CFN_TAGS }) as JsonMap;
}

/** A template file with its parameters and resources, and `render` bound to it. */
export function openTemplate(file: string) {
  const template = loadTemplate(file);
  return {
    template,
    parameters: (template.Parameters ?? {}) as Record<string, JsonMap>,
    resources: template.Resources as Record<string, JsonMap>,
    render: (values: Record<string, string> = {}) => render(template, values),
    brokenRules: (values: Record<string, string> = {}) => brokenRules(template, values),
  };
}

/** The names a template refers to without defining them: parameters, resources and pseudo parameters; conditions. */
export function undefinedReferences(template: JsonMap): { refs: string[]; conditions: string[] } {
  const { refs, conditions } = references(template);
  const known = new Set([
    ...Object.keys((template.Parameters ?? {}) as JsonMap),
    ...Object.keys(template.Resources as JsonMap),
    ...PSEUDO,
  ]);
  const defined = new Set(Object.keys((template.Conditions ?? {}) as JsonMap));
  return {
    refs: [...refs].filter((name) => !known.has(name)),
    conditions: [...conditions].filter((name) => !defined.has(name)),
  };
}

export const CFN_LINT_INSTALLED = spawnSync('cfn-lint', ['--version']).status === 0;

/**
 * The tests' environment less the AWS variables vitest.config.ts blanks: Python's AWS SDK, which cfn-lint's SAM
 * transform starts, reads `AWS_PROFILE=''` as a profile named '' and fails ("The config profile () could not be
 * found").
 */
const CFN_LINT_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name, value]) => !(name.startsWith('AWS_') && value === '')),
);

/** cfn-lint's findings on `file` (SAM templates with the transform applied): empty output and status 0 when clean. */
export function cfnLint(file: string): { output: string; status: number | null } {
  const run = spawnSync('cfn-lint', [file], { encoding: 'utf8', env: CFN_LINT_ENV });
  return { output: run.stdout + run.stderr, status: run.status };
}

/** cfn-lint starts Python (and applies the SAM transform): 10–20 s on two busy cores. */
export const CFN_LINT_TIMEOUT_MS = 120_000;

/**
 * The one queue's policy lets EventBridge send to it for the one rule and nothing else: its dead letters, and no
 * other rule's or account's.
 */
export function expectDeadLetterQueueOpenOnlyToRule(rendered: Record<string, JsonMap>): void {
  const [queueName] = only(rendered, 'AWS::SQS::Queue');
  const [ruleName] = only(rendered, 'AWS::Events::Rule');
  const policy = props(only(rendered, 'AWS::SQS::QueuePolicy')[1]);

  expect(policy.Queues).toEqual([{ Ref: queueName }]);
  expect((policy.PolicyDocument as JsonMap).Statement).toEqual([
    expect.objectContaining({
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: getAtt(queueName, 'Arn'),
      Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleName, 'Arn') } },
    }),
  ]);
}
