/**
 * The CloudFormation table is the table the code creates for development: same keys, same indexes.
 * The bot's IAM cannot be turned against servers it did not launch: every EC2 write it is
 * allowed either is the launch itself or is tied to the managed-by=dormouse tag, and that
 * tag cannot be set, changed or removed after launch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tableDefinition } from '../src/adapters/aws/dynamodb-environment.repository.js';

const cfnTags = ['!Ref', '!GetAtt', '!Sub'].map((tag) => ({ tag, resolve: (v: string) => `${tag} ${v}` }));
const template = parse(readFileSync(join(import.meta.dirname, '..', 'infra', 'dormouse.cfn.yml'), 'utf8'), { customTags: cfnTags });

const sortBy = <T>(xs: T[], key: (x: T) => string) => [...xs].sort((a, b) => key(a).localeCompare(key(b)));

type Statement = {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
};
type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

const TAG = 'managed-by';
const OURS = 'dormouse';
const list = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Every statement of every AWS::IAM::Policy, with where it comes from. */
function policyStatements(t: Template): Array<{ where: string; statement: Statement }> {
  return Object.entries(t.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
    .flatMap(([name, r]) => {
      const doc = r.Properties?.PolicyDocument as { Statement?: Statement | Statement[] } | undefined;
      return (list(doc?.Statement) as Statement[]).map((statement, i) => ({ where: `${name}/${statement.Sid ?? `#${i}`}`, statement }));
    });
}

/**
 * The values of `key` under the condition operator `operator` (operators exactly, keys
 * case-insensitively, as IAM compares them), or undefined when the statement has none.
 */
function conditionValues(s: Statement, operator: string, key: string): string[] | undefined {
  const block = s.Condition?.[operator];
  if (!block) return undefined;
  const found = Object.entries(block).find(([k]) => k.toLowerCase() === key.toLowerCase());
  return found ? list(found[1]).map(String) : undefined;
}

/** The condition `key` StringEquals `value`, and only that value. */
const requires = (s: Statement, key: string, value: string) => {
  const values = conditionValues(s, 'StringEquals', key);
  return values !== undefined && values.length > 0 && values.every((v) => v === value);
};

/** Could this Resource entry name an EC2 instance or volume? Unknown forms (!Ref, !GetAtt, NotResource) are assumed to. */
function mayNameInstancesOrVolumes(resource: unknown): boolean {
  if (typeof resource !== 'string') return true;
  const arn = resource.replace(/^!Sub\s+/, '').replace(/\$\{[^}]*\}/g, 'x');
  if (arn === '*') return true;
  if (!arn.startsWith('arn:')) return true;
  const parts = arn.split(':');
  if (parts.length < 6) return true;
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  const [service, resourcePart] = [parts[2] ?? '', parts.slice(5).join(':')];
  if (!glob(service).test('ec2')) return false;
  return ['instance/i-0123456789abcdef0', 'volume/vol-0123456789abcdef0'].some((r) => glob(resourcePart).test(r));
}

const READ_ONLY = /^ec2:(Describe|Get|List)/i;

/** Each Allow of an EC2 write that neither is the launch nor is tied to the managed-by tag. */
function ec2WritesNotTiedToTheTag(t: Template): string[] {
  const problems: string[] = [];
  for (const { where, statement: s } of policyStatements(t)) {
    if (s.Effect !== 'Allow') continue;
    if (s.NotAction !== undefined) {
      problems.push(`${where}: Allow with NotAction grants EC2 writes nobody named`);
      continue;
    }
    for (const action of list(s.Action).map(String)) {
      const lower = action.toLowerCase();
      if (lower === '*') {
        problems.push(`${where}: ${action} allows every EC2 write`);
        continue;
      }
      if (!lower.startsWith('ec2:') || READ_ONLY.test(action)) continue;
      if (action.includes('*') || action.includes('?')) {
        problems.push(`${where}: ${action} is a wildcard over EC2 writes`);
        continue;
      }
      const tiedToTag = requires(s, `aws:ResourceTag/${TAG}`, OURS) || requires(s, `ec2:ResourceTag/${TAG}`, OURS);
      if (tiedToTag) continue;
      if (lower === 'ec2:runinstances') {
        const createsServers = s.NotResource !== undefined || list(s.Resource).some(mayNameInstancesOrVolumes);
        if (!createsServers || requires(s, `aws:RequestTag/${TAG}`, OURS)) continue;
        problems.push(`${where}: ${action} on instances or volumes without StringEquals aws:RequestTag/${TAG} = ${OURS}`);
        continue;
      }
      if (lower === 'ec2:createtags') {
        if (requires(s, 'ec2:CreateAction', 'RunInstances')) continue;
        problems.push(`${where}: ${action} without StringEquals ec2:CreateAction = RunInstances`);
        continue;
      }
      problems.push(`${where}: ${action} neither is the launch nor requires StringEquals aws:ResourceTag/${TAG} = ${OURS}`);
    }
  }
  return problems;
}

/** The Deny statements that keep the managed-by tag as it was set at launch. */
function tagGuards(t: Template) {
  const denies = policyStatements(t)
    .map(({ statement }) => statement)
    .filter((s) => s.Effect === 'Deny' && list(s.Resource).includes('*') && s.NotResource === undefined);
  const names = (s: Statement, action: string) => list(s.Action).some((a) => String(a).toLowerCase() === action.toLowerCase());
  const onTagKey = (s: Statement) => (conditionValues(s, 'ForAnyValue:StringEquals', 'aws:TagKeys') ?? []).includes(TAG);
  const operators = (s: Statement) => Object.keys(s.Condition ?? {}).sort();
  return {
    set: denies.some(
      (s) =>
        names(s, 'ec2:CreateTags') &&
        onTagKey(s) &&
        (conditionValues(s, 'StringNotEquals', 'ec2:CreateAction') ?? []).join() === 'RunInstances' &&
        operators(s).join() === 'ForAnyValue:StringEquals,StringNotEquals' &&
        Object.keys(s.Condition?.StringNotEquals ?? {}).length === 1 &&
        Object.keys(s.Condition?.['ForAnyValue:StringEquals'] ?? {}).length === 1,
    ),
    remove: denies.some(
      (s) =>
        names(s, 'ec2:DeleteTags') &&
        onTagKey(s) &&
        operators(s).join() === 'ForAnyValue:StringEquals' &&
        Object.keys(s.Condition?.['ForAnyValue:StringEquals'] ?? {}).length === 1,
    ),
  };
}

describe('infra/dormouse.cfn.yml', () => {
  it('declares the same table as tableDefinition()', () => {
    const cfn = template.Resources.Table.Properties;
    const code = tableDefinition('x');
    expect(cfn.KeySchema).toEqual(code.KeySchema);
    expect(sortBy(cfn.AttributeDefinitions, (a: { AttributeName: string }) => a.AttributeName)).toEqual(
      sortBy(code.AttributeDefinitions ?? [], (a) => a.AttributeName ?? ''),
    );
    const indexes = (xs: Array<{ IndexName?: string; KeySchema?: unknown }>) => sortBy(xs.map((i) => ({ IndexName: i.IndexName, KeySchema: i.KeySchema })), (i) => i.IndexName ?? '');
    expect(indexes(cfn.GlobalSecondaryIndexes)).toEqual(indexes(code.GlobalSecondaryIndexes ?? []));
  });

  it('gives every Resource "*" a comment saying why', () => {
    const text = readFileSync(join(import.meta.dirname, '..', 'infra', 'dormouse.cfn.yml'), 'utf8').split('\n');
    text.forEach((line, i) => {
      if (line.includes('Resource: "*"')) expect(text[i - 1]?.trim().startsWith('#'), `line ${i + 1}`).toBe(true);
    });
  });
  it('allows no EC2 write that neither is the launch nor is tied to the managed-by tag', () => {
    expect(ec2WritesNotTiedToTheTag(template)).toEqual([]);
  });

  it('denies setting, changing or removing the managed-by tag outside a launch', () => {
    expect(tagGuards(template)).toEqual({ set: true, remove: true });
  });

  it('ties terminating and running commands to the managed-by tag', () => {
    const statements = policyStatements(template).map(({ statement }) => statement);
    const allowing = (action: string) => statements.filter((s) => s.Effect === 'Allow' && list(s.Action).includes(action));
    expect(allowing('ec2:TerminateInstances').length).toBeGreaterThan(0);
    for (const s of allowing('ec2:TerminateInstances')) expect(requires(s, `aws:ResourceTag/${TAG}`, OURS), s.Sid).toBe(true);
    const onInstances = allowing('ssm:SendCommand').filter((s) => list(s.Resource).some(mayNameInstancesOrVolumes));
    expect(onInstances.length).toBeGreaterThan(0);
    for (const s of onInstances) expect(requires(s, `aws:ResourceTag/${TAG}`, OURS), s.Sid).toBe(true);
  });

  it('catches the EC2 writes it is meant to catch', () => {
    const policy = (...Statement: Statement[]): Template => ({
      Resources: { P: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: { Statement } } } },
    });
    const instances = '!Sub arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*';
    const ours = { StringEquals: { [`aws:ResourceTag/${TAG}`]: OURS } };
    const bad: Statement[] = [
      { Effect: 'Allow', Action: 'ec2:*', Resource: '*', Condition: ours },
      { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:Create*'], Resource: '*' },
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' },
      { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: '*' },
      { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: instances },
      { Effect: 'Allow', Action: 'ec2:CreateTags', Resource: instances },
      { Effect: 'Allow', Action: 'ec2:CreateTags', Resource: instances, Condition: { StringEquals: { 'ec2:CreateAction': ['RunInstances', 'CreateVolume'] } } },
      { Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: instances, Condition: { StringEqualsIfExists: { [`aws:ResourceTag/${TAG}`]: OURS } } },
      { Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: instances, Condition: { StringLike: { [`aws:ResourceTag/${TAG}`]: '*' } } },
      { Effect: 'Allow', Action: 'ec2:DeleteTags', Resource: instances },
    ];
    for (const s of bad) expect(ec2WritesNotTiedToTheTag(policy(s)), JSON.stringify(s)).toHaveLength(1);
    const good: Statement[] = [
      { Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' },
      { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: '*', Condition: { StringEquals: { [`aws:RequestTag/${TAG}`]: OURS } } },
      { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: '!Sub arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' },
      { Effect: 'Allow', Action: 'ec2:CreateTags', Resource: instances, Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } } },
      { Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: instances, Condition: { StringEquals: { [`ec2:ResourceTag/${TAG}`]: OURS } } },
      { Effect: 'Deny', Action: 'ec2:*', Resource: '*' },
    ];
    for (const s of good) expect(ec2WritesNotTiedToTheTag(policy(s)), JSON.stringify(s)).toEqual([]);
  });
});
