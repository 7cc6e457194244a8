/**
 * The CloudFormation table is the table the code creates for development: same keys, same indexes.
 * The bot's IAM cannot be turned against servers it did not launch: every EC2 write it is
 * allowed either is the launch itself or is tied to the managed-by=dormouse tag, and that
 * tag cannot be set, changed or removed after launch.
 * The data bucket is private, TLS-only and encrypted with SSE-S3 (the part ETags the save
 * script checks are MD5s only then); its lifecycle aborts dead uploads and removes only
 * what the bot marked as expired. Only the bot may touch it, and only under environments/:
 * servers get nothing, they use URLs the bot presigns (docs/data.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cfnTags, type Statement } from './support/cloudformation.js';
import { isSeq, parse, parseDocument, visit, type Node, type Scalar } from 'yaml';
import { tableDefinition } from '../src/adapters/aws/dynamodb-environment.repository.js';

const TEMPLATE_TEXT = readFileSync(join(import.meta.dirname, '..', 'infra', 'dormouse.cfn.yml'), 'utf8');
const template = parse(TEMPLATE_TEXT, { customTags: cfnTags });

const sortBy = <T>(xs: T[], key: (x: T) => string) => [...xs].sort((a, b) => key(a).localeCompare(key(b)));

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

/* ---- The data bucket ---- */

type Properties = Record<string, unknown>;
type Resource = { Type: string; Properties?: Properties };
const resources = (t: Template) => t.Resources as Record<string, Resource>;
/** `!Ref X` / `!GetAtt X.Arn` → `X`. */
const logicalId = (x: unknown) => String(x).replace(/^!(Ref|GetAtt)\s+/, '').split('.')[0] ?? '';
const wildcard = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
/** Does an action pattern (`s3:Get*`, `*`, `S3:PutObject`) name some S3 action? */
const namesS3 = (action: unknown) => {
  const a = String(action);
  return a === '*' || wildcard(a.split(':')[0] ?? '').test('s3');
};
const hasWildcard = (x: unknown) => /[*?]/.test(String(x));

/** Every statement in the template: IAM policies, roles' inline policies, bucket policies; with the roles it applies to. */
function everyStatement(t: Template): Array<{ where: string; statement: Statement; roles: string[]; bucketPolicy: boolean }> {
  const out: Array<{ where: string; statement: Statement; roles: string[]; bucketPolicy: boolean }> = [];
  const add = (where: string, doc: unknown, roles: string[], bucketPolicy = false) => {
    const statements = list((doc as { Statement?: unknown } | undefined)?.Statement) as Statement[];
    statements.forEach((statement, i) => out.push({ where: `${where}/${statement.Sid ?? `#${i}`}`, statement, roles, bucketPolicy }));
  };
  const all = resources(t);
  for (const [name, r] of Object.entries(all)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Policy') add(name, p.PolicyDocument, list(p.Roles).map(logicalId));
    if (r.Type === 'AWS::IAM::ManagedPolicy') {
      // Attached by its Roles, or by a role naming it in ManagedPolicyArns.
      const attached = Object.entries(all)
        .filter(([, role]) => role.Type === 'AWS::IAM::Role' && list(role.Properties?.ManagedPolicyArns).some((arn) => logicalId(arn) === name))
        .map(([roleName]) => roleName);
      add(name, p.PolicyDocument, [...list(p.Roles).map(logicalId), ...attached]);
    }
    if (r.Type === 'AWS::IAM::Role') for (const inline of list(p.Policies) as Properties[]) add(`${name}/${String(inline.PolicyName)}`, inline.PolicyDocument, [name]);
    if (r.Type === 'AWS::S3::BucketPolicy') add(name, p.PolicyDocument, [], true);
  }
  return out;
}

/** Each Allow that could reach S3 with a wildcard action, on every resource, or outside the data bucket's environments/. */
function s3GrantsTooWide(t: Template): string[] {
  const problems: string[] = [];
  for (const { where, statement: s } of everyStatement(t)) {
    if (s.Effect !== 'Allow') continue;
    if (s.NotAction !== undefined) {
      problems.push(`${where}: Allow with NotAction may grant S3 actions nobody named`);
      continue;
    }
    const actions = list(s.Action).filter(namesS3).map(String);
    if (actions.length === 0) continue;
    for (const action of actions) if (hasWildcard(action)) problems.push(`${where}: ${action} is a wildcard over S3 actions`);
    if (s.NotResource !== undefined) problems.push(`${where}: S3 actions on NotResource`);
    for (const resource of list(s.Resource).map(String)) {
      if (resource === '*') problems.push(`${where}: S3 actions on Resource "*"`);
      else if (resource !== '!GetAtt DataBucket.Arn' && resource !== '!Sub ${DataBucket.Arn}/environments/*') problems.push(`${where}: S3 actions on ${resource}`);
    }
  }
  return problems;
}

const dataBucket = () => resources(template).DataBucket?.Properties ?? {};
const dataBucketPolicy = () =>
  Object.values(resources(template)).find((r) => r.Type === 'AWS::S3::BucketPolicy' && logicalId(r.Properties?.Bucket) === 'DataBucket')?.Properties ?? {};
type LifecycleRule = {
  Status?: string;
  Prefix?: string;
  TagFilters?: unknown[];
  ObjectSizeGreaterThan?: unknown;
  ObjectSizeLessThan?: unknown;
  AbortIncompleteMultipartUpload?: { DaysAfterInitiation?: number };
  ExpirationInDays?: number;
  ExpirationDate?: string;
  Transitions?: unknown[];
  Transition?: unknown;
};
const RETIRED = [{ Key: 'dormouse:retention', Value: 'expired' }];

/** Managed policies a server's role may carry: none of them reads or writes S3 objects. */
const SERVER_MANAGED_POLICIES = ['!Sub arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore'];

/** The roles the servers run with: those of every instance profile. */
const serverRoles = () =>
  Object.values(resources(template))
    .filter((r) => r.Type === 'AWS::IAM::InstanceProfile')
    .flatMap((r) => list(r.Properties?.Roles).map(logicalId));

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
    const text = TEMPLATE_TEXT.split('\n');
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

describe('the data bucket', () => {
  it('is private, encrypted with SSE-S3 (part ETags are MD5s only then), owner-enforced and unversioned', () => {
    const bucket = dataBucket();
    const rules = list((bucket.BucketEncryption as Properties | undefined)?.ServerSideEncryptionConfiguration) as Array<{
      ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: string };
    }>;
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule.ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'AES256' });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect((bucket.VersioningConfiguration as Properties | undefined)?.Status).not.toBe('Enabled');
  });

  it('refuses every request without TLS, and writes asking for another encryption', () => {
    const statements = list((dataBucketPolicy().PolicyDocument as Properties | undefined)?.Statement) as Array<Statement & { Principal?: unknown }>;
    const everyone = (p: unknown) => p === '*' || (p as { AWS?: unknown } | undefined)?.AWS === '*';
    const tlsOnly = statements.filter(
      (s) =>
        s.Effect === 'Deny' &&
        everyone(s.Principal) &&
        list(s.Action).some((a) => a === 's3:*' || a === '*') &&
        list(s.Resource).includes('!GetAtt DataBucket.Arn') &&
        list(s.Resource).includes('!Sub ${DataBucket.Arn}/*') &&
        Object.keys(s.Condition ?? {}).join() === 'Bool' &&
        Object.keys(s.Condition?.Bool ?? {}).join() === 'aws:SecureTransport' &&
        String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false',
    );
    expect(tlsOnly).toHaveLength(1);
    const sseS3Only = statements.filter(
      (s) =>
        s.Effect === 'Deny' &&
        everyone(s.Principal) &&
        list(s.Action).includes('s3:PutObject') &&
        list(s.Condition?.StringNotEqualsIfExists?.['s3:x-amz-server-side-encryption']).join() === 'AES256',
    );
    expect(sseS3Only).toHaveLength(1);
    expect(statements.filter((s) => s.Effect === 'Allow' && everyone(s.Principal))).toEqual([]);
  });

  it('aborts dead uploads after a day, and expires by age only what the bot marked as expired', () => {
    const rules = list((dataBucket().LifecycleConfiguration as Properties | undefined)?.Rules) as LifecycleRule[];
    for (const rule of rules) expect(rule.Status).toBe('Enabled');
    const wholeBucket = (r: LifecycleRule) => !r.Prefix && r.TagFilters === undefined && r.ObjectSizeGreaterThan === undefined && r.ObjectSizeLessThan === undefined;
    expect(rules.filter((r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 1 && wholeBucket(r))).toHaveLength(1);
    const expiring = rules.filter((r) => r.ExpirationInDays !== undefined || r.ExpirationDate !== undefined || r.Transitions !== undefined || r.Transition !== undefined);
    expect(expiring.length).toBeGreaterThan(0);
    // An age counts from an object's creation: a rule without the tag would delete kept generations.
    for (const rule of expiring) {
      expect(rule.TagFilters).toEqual(RETIRED);
      expect(rule.ExpirationInDays).toBe(1);
    }
  });

  it('is named by a parameter (generated when empty) and given to the bot with the retention', () => {
    expect(dataBucket().BucketName).toEqual({ 'Fn::If': ['DataBucketNamed', '!Ref DataBucketName', '!Ref AWS::NoValue'] });
    const t = template as { Parameters: Record<string, Properties>; Outputs: Record<string, Properties> };
    expect(t.Parameters.DataBucketName?.Default).toBe('');
    expect(t.Parameters.DataRetentionDays?.Default).toBe(7);
    expect(t.Outputs.DataBucketName?.Value).toBe('!Ref DataBucket');
    expect(String(t.Outputs.DataBucketName?.Description)).toContain('DORMOUSE_DATA_BUCKET');
    expect(t.Outputs.DataRetentionDays?.Value).toBe('!Ref DataRetentionDays');
    expect(String(t.Outputs.DataRetentionDays?.Description)).toContain('DORMOUSE_DATA_RETENTION_DAYS');
  });

  it('grants no S3 wildcard action, never on Resource "*", and only under environments/ of the data bucket', () => {
    expect(s3GrantsTooWide(template)).toEqual([]);
  });

  it('lets the bot list the data bucket alone (so a missing key answers 404, not 403)', () => {
    const listing = everyStatement(template).filter(({ statement: s }) => s.Effect === 'Allow' && list(s.Action).some((a) => String(a).toLowerCase() === 's3:listbucket'));
    expect(listing.length).toBeGreaterThan(0);
    for (const { where, statement } of listing) expect(list(statement.Resource), where).toEqual(['!GetAtt DataBucket.Arn']);
  });

  it('gives the bot what the data store needs, on its own role', () => {
    const granted = everyStatement(template)
      .filter(({ statement: s, roles }) => s.Effect === 'Allow' && roles.includes('BotRole'))
      .flatMap(({ statement }) => list(statement.Action).map(String));
    for (const action of ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:PutObjectTagging', 's3:ListBucket', 's3:ListBucketMultipartUploads'])
      expect(granted, action).toContain(action);
  });

  it('gives the servers no S3 permission: they use URLs the bot presigns', () => {
    const roles = serverRoles();
    expect(roles).toContain('ServerRole');
    for (const role of roles) {
      const properties = resources(template)[role]?.Properties ?? {};
      for (const arn of list(properties.ManagedPolicyArns)) expect(SERVER_MANAGED_POLICIES, `${role}: ${String(arn)}`).toContain(arn);
      const grants = everyStatement(template).filter(
        ({ statement: s, roles: on }) => on.includes(role) && s.Effect === 'Allow' && (s.NotAction !== undefined || list(s.Action).some(namesS3)),
      );
      expect(grants.map(({ where }) => where)).toEqual([]);
      const byBucket = everyStatement(template).filter(({ statement: s, bucketPolicy }) => bucketPolicy && s.Effect === 'Allow' && JSON.stringify(s).includes(role));
      expect(byBucket.map(({ where }) => where)).toEqual([]);
    }
  });

  it('explains every wildcard in a statement about S3 with a comment', () => {
    const doc = parseDocument(TEMPLATE_TEXT, { customTags: cfnTags });
    const missing: string[] = [];
    const commented = (n: unknown) => Boolean((n as { commentBefore?: string; comment?: string } | null)?.commentBefore || (n as { comment?: string } | null)?.comment);
    visit(doc, {
      Map(_, map) {
        const statement = map.toJSON() as Statement & { Principal?: unknown };
        if (statement.Effect === undefined || ![...list(statement.Action), ...list(statement.NotAction)].some(namesS3)) return;
        for (const pair of map.items) {
          const key = String((pair.key as Scalar | null)?.value);
          if (!['Action', 'NotAction', 'Resource', 'NotResource', 'Principal'].includes(key)) continue;
          const value = pair.value as Node | null;
          const items = isSeq(value) ? value.items : [value];
          for (const item of items) {
            const text = JSON.stringify((item as Node | null)?.toJSON());
            if (hasWildcard(text) && !commented(pair.key) && !commented(value) && !commented(item)) missing.push(`${statement.Sid ?? '?'} ${key}: ${text}`);
          }
        }
      },
    });
    expect(missing).toEqual([]);
  });

  it('catches the S3 grants it is meant to catch', () => {
    const policy = (...Statement: Statement[]): Template => ({
      Resources: { P: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: { Statement } } } },
    });
    const objects = '!Sub ${DataBucket.Arn}/environments/*';
    const bad: Statement[] = [
      { Effect: 'Allow', Action: 's3:*', Resource: objects },
      { Effect: 'Allow', Action: 's3:Get*', Resource: objects },
      { Effect: 'Allow', Action: '*', Resource: objects },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: '!Sub ${DataBucket.Arn}/*' },
      { Effect: 'Allow', Action: 's3:GetObject', NotResource: objects },
      { Effect: 'Allow', NotAction: 'iam:*', Resource: objects },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::someone-else/*' },
    ];
    for (const s of bad) expect(s3GrantsTooWide(policy(s)), JSON.stringify(s)).toHaveLength(1);
    const good: Statement[] = [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: objects },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: '!GetAtt DataBucket.Arn' },
      { Effect: 'Deny', Action: 's3:*', Resource: '*' },
      { Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
    ];
    for (const s of good) expect(s3GrantsTooWide(policy(s)), JSON.stringify(s)).toEqual([]);
  });
});
