/**
 * infra/service.cfn.yml runs the bot on ECS Fargate behind an HTTPS load balancer.
 * What must hold, read from the template: the Slack credentials come only from
 * Secrets Manager (never a plain environment value), and the execution role reads
 * that one secret and nothing else; the bot runs with the dormouse stack's role;
 * the replicas are reachable only through the load balancer, which forwards only
 * /slack/events; the load balancer checks /readyz and ECS /healthz (and the
 * container's check command really answers by it); a stopping replica has time to
 * hand back its leases; a deploy never goes below the replica count and rolls back
 * on its own. cfn-lint passes with no error or warning.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cfnTags, type Statement } from './support/cloudformation.js';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');
const TEMPLATE_PATH = join(ROOT, 'infra', 'service.cfn.yml');
const TEMPLATE_TEXT = readFileSync(TEMPLATE_PATH, 'utf8');

type Properties = Record<string, unknown>;
type Resource = { Type: string; Condition?: string; DependsOn?: unknown; Properties?: Properties };
type Template = {
  AWSTemplateFormatVersion?: string;
  Parameters: Record<string, Properties>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, Properties>;
};
type NameValue = { Name?: string; Value?: unknown; ValueFrom?: unknown };
type Container = {
  Name?: string;
  PortMappings?: Array<{ ContainerPort?: number }>;
  Environment?: NameValue[];
  Secrets?: NameValue[];
  StopTimeout?: number;
  HealthCheck?: { Command?: string[] };
};

const template = parse(TEMPLATE_TEXT, { customTags: cfnTags }) as Template;
const list = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
/** `!Ref X` / `!GetAtt X.GroupId` → `X`. */
const logicalId = (x: unknown) => String(x).replace(/^!(Ref|GetAtt)\s+/, '').split('.')[0] ?? '';
const ofType = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const the = (t: Template, type: string): [string, Resource] => {
  const found = ofType(t, type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
const props = (t: Template, type: string): Properties => the(t, type)[1].Properties ?? {};
const containers = (t: Template) => ofType(t, 'AWS::ECS::TaskDefinition').flatMap(([, r]) => list(r.Properties?.ContainerDefinitions) as Container[]);
const theContainer = (): Container => {
  const all = containers(template);
  expect(all).toHaveLength(1);
  return all[0]!;
};

/* ---- The execution role ---- */

/**
 * The statements of a role, from its inline policies and from any policy attached to
 * it; a statement under Fn::If is taken with the condition it depends on (both
 * branches count: either may be deployed).
 */
function roleStatements(t: Template, role: string): Array<{ where: string; statement: Statement; when?: string }> {
  const out: Array<{ where: string; statement: Statement; when?: string }> = [];
  const add = (where: string, doc: unknown) => {
    (list((doc as { Statement?: unknown } | undefined)?.Statement)).forEach((entry, i) => {
      const branch = (entry as { 'Fn::If'?: unknown[] } | null)?.['Fn::If'];
      const candidates = branch ? [branch[1], branch[2]] : [entry];
      for (const candidate of candidates) {
        if (candidate === '!Ref AWS::NoValue') continue;
        const statement = candidate as Statement;
        out.push({ where: `${where}/${statement.Sid ?? `#${i}`}`, statement, ...(branch ? { when: String(branch[0]) } : {}) });
      }
    });
  };
  const r = t.Resources[role];
  for (const inline of list(r?.Properties?.Policies) as Properties[]) add(`${role}/${String(inline.PolicyName)}`, inline.PolicyDocument);
  for (const [name, policy] of Object.entries(t.Resources)) {
    if (policy.Type !== 'AWS::IAM::Policy' && policy.Type !== 'AWS::IAM::ManagedPolicy') continue;
    if (list(policy.Properties?.Roles).some((x) => logicalId(x) === role)) add(name, policy.Properties?.PolicyDocument);
  }
  return out;
}

const wildcard = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
/** Could this action pattern name an action of the service (`secretsmanager`, `kms`, `ssm`)? */
const namesService = (action: unknown, service: string) => {
  const [prefix = '', name] = String(action).split(':');
  return name === undefined ? prefix === '*' : wildcard(prefix).test(service);
};
/** Reads secrets some other way than the given secret: SSM parameters are secrets too. */
const SECRET_STORES = ['secretsmanager', 'ssm', 'kms'];

/** Each way the role could read a secret other than SlackSecretArn, or decrypt anything else. */
function readsMoreThanTheSecret(t: Template, role: string): string[] {
  const problems: string[] = [];
  if (list(t.Resources[role]?.Properties?.ManagedPolicyArns).length) problems.push(`${role}: managed policies grant what this test cannot see`);
  for (const { where, statement: s, when } of roleStatements(t, role)) {
    if (s.Effect !== 'Allow') continue;
    if (s.NotAction !== undefined) {
      problems.push(`${where}: Allow with NotAction may grant reading secrets`);
      continue;
    }
    const actions = list(s.Action).map(String);
    const touching = actions.filter((a) => SECRET_STORES.some((service) => namesService(a, service)));
    if (touching.length === 0) continue;
    if (s.NotResource !== undefined) {
      problems.push(`${where}: ${touching.join(', ')} on NotResource`);
      continue;
    }
    const resources = list(s.Resource).map(String);
    for (const action of touching) {
      if (action === 'secretsmanager:GetSecretValue') {
        if (resources.join() !== '!Ref SlackSecretArn') problems.push(`${where}: ${action} on ${resources.join(', ')}, not exactly the Slack secret`);
      } else if (action === 'kms:Decrypt') {
        const via = list(s.Condition?.StringEquals?.['kms:ViaService']).map(String);
        const secret = list(s.Condition?.StringEquals?.['kms:EncryptionContext:SecretARN']).map(String);
        if (resources.join() !== '!Ref SlackSecretKmsKeyArn') problems.push(`${where}: ${action} on ${resources.join(', ')}, not exactly the secret's key`);
        if (via.join() !== '!Sub secretsmanager.${AWS::Region}.amazonaws.com') problems.push(`${where}: ${action} not only through Secrets Manager`);
        if (secret.join() !== '!Ref SlackSecretArn') problems.push(`${where}: ${action} not only for the Slack secret`);
        if (when === undefined || !givenKey(t, when)) problems.push(`${where}: ${action} granted even without a key`);
      } else problems.push(`${where}: ${action} is more than reading the Slack secret`);
    }
  }
  return problems;
}

/** The condition is "SlackSecretKmsKeyArn is not empty". */
const givenKey = (t: Template, condition: string) =>
  JSON.stringify(t.Conditions?.[condition]) === JSON.stringify({ 'Fn::Not': [{ 'Fn::Equals': ['!Ref SlackSecretKmsKeyArn', ''] }] });

/* ---- Network ---- */

type Rule = { IpProtocol?: unknown; FromPort?: unknown; ToPort?: unknown; CidrIp?: unknown; CidrIpv6?: unknown; SourcePrefixListId?: unknown; SourceSecurityGroupId?: unknown };

/** Every ingress rule of a security group: inline, and AWS::EC2::SecurityGroupIngress resources naming it. */
function ingressOf(t: Template, group: string): Rule[] {
  const inline = list(t.Resources[group]?.Properties?.SecurityGroupIngress) as Rule[];
  const separate = ofType(t, 'AWS::EC2::SecurityGroupIngress')
    .map(([, r]) => r.Properties ?? {})
    .filter((p) => logicalId(p.GroupId) === group) as Rule[];
  return [...inline, ...separate];
}

/** Each way into the replicas other than the load balancer's group on the container port. */
function reachableOtherwise(t: Template, group: string, from: string, port: number): string[] {
  const rules = ingressOf(t, group);
  if (rules.length === 0) return [`${group}: no way in at all`];
  return rules
    .filter(
      (r) =>
        r.CidrIp !== undefined ||
        r.CidrIpv6 !== undefined ||
        r.SourcePrefixListId !== undefined ||
        logicalId(r.SourceSecurityGroupId) !== from ||
        String(r.IpProtocol) !== 'tcp' ||
        Number(r.FromPort) !== port ||
        Number(r.ToPort) !== port,
    )
    .map((r) => JSON.stringify(r));
}

/* ---- cfn-lint ---- */

const hasCfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;

/** Runs a container health check command (CMD form), its port replaced, and says how it exits. */
function runHealthCheck(command: string[], port: number): Promise<number> {
  expect(command[0]).toBe('CMD');
  const [file = '', ...args] = command.slice(1).map((a) => a.replaceAll(':3000/', `:${port}/`));
  return new Promise((resolve) => {
    execFile(file === 'node' ? process.execPath : file, args, { timeout: 10_000 }, (error) => resolve(error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0));
  });
}

describe('infra/service.cfn.yml', () => {
  it('parses, and runs one Fargate service behind one load balancer', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    const service = props(template, 'AWS::ECS::Service');
    expect(service.LaunchType).toBe('FARGATE');
    expect(props(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer').Scheme).toBe('internet-facing');
    expect(props(template, 'AWS::ECS::TaskDefinition').RequiresCompatibilities).toEqual(['FARGATE']);
  });

  describe.skipIf(!hasCfnLint && !process.env.CI)('cfn-lint', () => {
    it('finds no error and no warning', () => {
      const run = spawnSync('cfn-lint', ['--format', 'parseable', '--', TEMPLATE_PATH], { encoding: 'utf8', timeout: 120_000 });
      expect(run.error, 'cfn-lint is not installed (pip install cfn-lint)').toBeUndefined();
      const findings = run.stdout.split('\n').filter(Boolean);
      // Exit bits: 2 errors, 4 warnings, 8 informational (tolerated), 1 cfn-lint itself failed.
      expect({ findings, status: run.status! & 7, stderr: run.stderr.trim() }).toEqual({ findings: findings.filter((f) => /:I\d+:/.test(f)), status: 0, stderr: '' });
    });
  });

  it('gives every Resource "*" a comment saying why', () => {
    const text = TEMPLATE_TEXT.split('\n');
    text.forEach((line, i) => {
      if (line.includes('Resource: "*"')) expect(text[i - 1]?.trim().startsWith('#'), `line ${i + 1}`).toBe(true);
    });
  });
});

describe('the Slack credentials', () => {
  const SECRET_LOOKING = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY/i;

  it('are no container environment value: nothing secret-looking is set in Environment', () => {
    for (const container of containers(template)) {
      const names = list(container.Environment).map((e) => String((e as NameValue).Name));
      expect(names.filter((n) => SECRET_LOOKING.test(n)), container.Name).toEqual([]);
      // Nor does a value come from a parameter that holds one.
      const values = list(container.Environment).map((e) => String((e as NameValue).Value));
      expect(values.filter((v) => /Secret|Token|Password/i.test(v)), container.Name).toEqual([]);
    }
  });

  it('come from the Slack secret through Secrets, by JSON key', () => {
    const secrets = list(theContainer().Secrets) as NameValue[];
    expect(secrets.map((s) => s.Name).sort()).toEqual(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET']);
    for (const s of secrets) expect(s.ValueFrom, s.Name).toBe(`!Sub \${SlackSecretArn}:${s.Name}::`);
    // Every secret the container gets is that secret: the execution role reads nothing else.
    for (const container of containers(template))
      for (const s of list(container.Secrets) as NameValue[]) expect(String(s.ValueFrom), s.Name).toMatch(/^!Sub \$\{SlackSecretArn\}:/);
  });

  it('are nowhere in the template, not even as a parameter default', () => {
    expect(TEMPLATE_TEXT).not.toMatch(/xox[abpr]-|xapp-/);
    for (const [name, p] of Object.entries(template.Parameters)) {
      if (SECRET_LOOKING.test(name) && !/Arn$/.test(name)) expect(p.NoEcho, `${name} holds a secret`).toBe(true);
    }
    expect(template.Parameters.SlackSecretArn?.Default).toBeUndefined();
  });
});

describe('the roles', () => {
  it('run the bot with the role of the dormouse stack, given as a parameter', () => {
    const task = props(template, 'AWS::ECS::TaskDefinition');
    expect(task.TaskRoleArn).toBe('!Ref BotRoleArn');
    expect(template.Parameters.BotRoleArn?.Type).toBe('String');
    expect(template.Parameters.BotRoleArn?.Default).toBeUndefined();
    // The role ECS uses to start the task is another one, of this stack.
    expect(task.ExecutionRoleArn).toBe('!GetAtt ExecutionRole.Arn');
    expect(template.Resources.ExecutionRole?.Type).toBe('AWS::IAM::Role');
  });

  it('let the execution role read the given secret and nothing else (its key only when one is given)', () => {
    expect(readsMoreThanTheSecret(template, 'ExecutionRole')).toEqual([]);
    const granted = roleStatements(template, 'ExecutionRole').flatMap(({ statement }) => list(statement.Action).map(String));
    expect(granted).toContain('secretsmanager:GetSecretValue');
    expect(granted).toContain('kms:Decrypt');
  });

  it('let the execution role pull only the image repository and write only the service log group', () => {
    const statements = roleStatements(template, 'ExecutionRole').map(({ statement }) => statement);
    const on = (action: string) => statements.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource).map(String));
    expect(on('ecr:BatchGetImage')).toEqual(['!Sub arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${ImageRepository}']);
    expect(on('logs:PutLogEvents')).toEqual(['!Sub arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:log-stream:*']);
    const trust = list((template.Resources.ExecutionRole?.Properties?.AssumeRolePolicyDocument as { Statement?: unknown })?.Statement) as Array<Statement & { Principal?: unknown }>;
    expect(trust.map((s) => s.Principal)).toEqual([{ Service: 'ecs-tasks.amazonaws.com' }]);
  });

  it('catch the secret grants they are meant to catch', () => {
    const role = (...Statement: unknown[]): Template => ({
      Parameters: {},
      Conditions: { Key: { 'Fn::Not': [{ 'Fn::Equals': ['!Ref SlackSecretKmsKeyArn', ''] }] }, Other: { 'Fn::Equals': ['a', 'a'] } },
      Resources: { R: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Statement } }] } } },
      Outputs: {},
    });
    const secret = '!Ref SlackSecretArn';
    const kms = { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '!Ref SlackSecretKmsKeyArn', Condition: { StringEquals: { 'kms:ViaService': '!Sub secretsmanager.${AWS::Region}.amazonaws.com', 'kms:EncryptionContext:SecretARN': secret } } };
    const bad: unknown[] = [
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' },
      { Effect: 'Allow', Action: 'secretsmanager:*', Resource: secret },
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: [secret, '!Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*'] },
      { Effect: 'Allow', Action: '*', Resource: secret },
      { Effect: 'Allow', Action: 'ssm:GetParameters', Resource: '*' },
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', NotResource: secret },
      { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' },
      kms,
      { 'Fn::If': ['Other', kms, '!Ref AWS::NoValue'] },
      { 'Fn::If': ['Key', { ...kms, Resource: '*' }, '!Ref AWS::NoValue'] },
      { 'Fn::If': ['Key', { ...kms, Condition: { StringEquals: { 'kms:EncryptionContext:SecretARN': secret } } }, '!Ref AWS::NoValue'] },
      { 'Fn::If': ['Key', { ...kms, Condition: { StringEquals: { 'kms:ViaService': kms.Condition.StringEquals['kms:ViaService'] } } }, '!Ref AWS::NoValue'] },
    ];
    for (const s of bad) expect(readsMoreThanTheSecret(role(s), 'R'), JSON.stringify(s)).toHaveLength(1);
    const good: unknown[] = [
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secret },
      { 'Fn::If': ['Key', kms, '!Ref AWS::NoValue'] },
      { Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: '*' },
      { Effect: 'Deny', Action: 'secretsmanager:*', Resource: '*' },
    ];
    for (const s of good) expect(readsMoreThanTheSecret(role(s), 'R'), JSON.stringify(s)).toEqual([]);
  });
});

describe('the network', () => {
  const service = () => props(template, 'AWS::ECS::Service');
  const awsvpc = () => (service().NetworkConfiguration as { AwsvpcConfiguration?: Properties } | undefined)?.AwsvpcConfiguration ?? {};

  it('lets into the replicas only the load balancer’s security group, on the container port', () => {
    const groups = list(awsvpc().SecurityGroups).map(logicalId);
    expect(groups).toEqual(['TaskSecurityGroup']);
    expect(awsvpc().AssignPublicIp).toBe('DISABLED');
    expect(awsvpc().Subnets).toBe('!Ref PrivateSubnetIds');
    const lb = props(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(list(lb.SecurityGroups).map(logicalId)).toEqual(['LoadBalancerSecurityGroup']);
    expect(lb.Subnets).toBe('!Ref PublicSubnetIds');
    expect(reachableOtherwise(template, 'TaskSecurityGroup', 'LoadBalancerSecurityGroup', 3000)).toEqual([]);
  });

  it('catches the ways in it is meant to catch', () => {
    const withRule = (rule: Rule): Template => ({
      Parameters: {},
      Resources: { T: { Type: 'AWS::EC2::SecurityGroup', Properties: { SecurityGroupIngress: [rule] } } },
      Outputs: {},
    });
    const lb = { IpProtocol: 'tcp', FromPort: 3000, ToPort: 3000, SourceSecurityGroupId: '!Ref L' };
    for (const rule of [
      { ...lb, SourceSecurityGroupId: undefined, CidrIp: '0.0.0.0/0' },
      { ...lb, CidrIp: '10.0.0.0/8' },
      { ...lb, SourceSecurityGroupId: '!Ref Other' },
      { ...lb, IpProtocol: '-1' },
      { ...lb, ToPort: 3001 },
    ])
      expect(reachableOtherwise(withRule(rule), 'T', 'L', 3000), JSON.stringify(rule)).toHaveLength(1);
    expect(reachableOtherwise(withRule(lb), 'T', 'L', 3000)).toEqual([]);
    expect(reachableOtherwise(withRule({ ...lb, SourceSecurityGroupId: '!GetAtt L.GroupId' }), 'T', 'L', 3000)).toEqual([]);
  });

  it('opens the load balancer to the internet on 443, and on 80 only to redirect to HTTPS', () => {
    const ingress = ingressOf(template, 'LoadBalancerSecurityGroup');
    expect(ingress.map((r) => [r.IpProtocol, r.FromPort, r.ToPort, r.CidrIp]).sort()).toEqual([
      ['tcp', 443, 443, '0.0.0.0/0'],
      ['tcp', 80, 80, '0.0.0.0/0'],
    ]);
    const listeners = ofType(template, 'AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties ?? {});
    const https = listeners.find((l) => l.Protocol === 'HTTPS');
    expect(https?.Port).toBe(443);
    expect(https?.Certificates).toEqual([{ CertificateArn: '!Ref CertificateArn' }]);
    const http = listeners.find((l) => l.Protocol === 'HTTP');
    expect(http?.Port).toBe(80);
    expect(list(http?.DefaultActions)).toMatchObject([{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }]);
    expect(listeners).toHaveLength(2);
  });

  it('forwards only /slack/events from the internet to the replicas', () => {
    const forwards = [
      ...ofType(template, 'AWS::ElasticLoadBalancingV2::Listener').flatMap(([, r]) => list(r.Properties?.DefaultActions).map((a) => ({ action: a as Properties, paths: ['(any)'] }))),
      ...ofType(template, 'AWS::ElasticLoadBalancingV2::ListenerRule').flatMap(([, r]) => {
        const paths = (list(r.Properties?.Conditions) as Array<{ Field?: string; PathPatternConfig?: { Values?: string[] } }>).flatMap((c) =>
          c.Field === 'path-pattern' ? (c.PathPatternConfig?.Values ?? []) : [],
        );
        return list(r.Properties?.Actions).map((a) => ({ action: a as Properties, paths }));
      }),
    ].filter(({ action }) => action.Type === 'forward');
    expect(forwards.flatMap(({ paths }) => paths)).toEqual(['/slack/events']);
  });
});

describe('health and lifecycle', () => {
  it('checks /readyz on the target group (readiness) and /healthz in the container (liveness), on the container port', () => {
    const group = props(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(group.HealthCheckPath).toBe('/readyz');
    expect(group.TargetType).toBe('ip');
    const container = theContainer();
    expect(list(container.PortMappings).map((p) => (p as { ContainerPort?: number }).ContainerPort)).toEqual([3000]);
    expect(group.Port).toBe(3000);
    expect(list(container.Environment)).toContainEqual({ Name: 'PORT', Value: '3000' });
    expect(container.HealthCheck?.Command?.join(' ')).toContain('127.0.0.1:3000/healthz');
    const [lbTarget] = list(props(template, 'AWS::ECS::Service').LoadBalancers) as Properties[];
    expect(lbTarget).toEqual({ ContainerName: container.Name, ContainerPort: 3000, TargetGroupArn: '!Ref TargetGroup' });
  });

  it("has a container health check that passes on 200 from /healthz and fails on 503 or no answer, with the image's node alone", async () => {
    const command = theContainer().HealthCheck?.Command ?? [];
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(String(req.url));
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await runHealthCheck(command, port)).toBe(0);
      status = 503;
      expect(await runHealthCheck(command, port)).not.toBe(0);
      expect(paths).toEqual(['/healthz', '/healthz']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await runHealthCheck(command, port)).not.toBe(0);
  });

  it('gives a stopping replica time to hand back its leases (60 s or more, Fargate allows 120)', () => {
    for (const container of containers(template)) {
      expect(container.StopTimeout, container.Name).toBeGreaterThanOrEqual(60);
      expect(container.StopTimeout, container.Name).toBeLessThanOrEqual(120);
    }
  });

  it('runs the replicas the Replicas parameter asks for, 2 by default', () => {
    expect(props(template, 'AWS::ECS::Service').DesiredCount).toBe('!Ref Replicas');
    expect(template.Parameters.Replicas).toMatchObject({ Type: 'Number', Default: 2 });
  });

  it('deploys without going below the replica count, and rolls back a deploy that fails', () => {
    expect(props(template, 'AWS::ECS::Service').DeploymentConfiguration).toEqual({
      MinimumHealthyPercent: 100,
      MaximumPercent: 200,
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
    });
  });
});

describe('the settings', () => {
  const environment = () => Object.fromEntries((list(theContainer().Environment) as NameValue[]).map((e) => [String(e.Name), e.Value]));
  /** Every key .env.example documents (and so config.ts reads). */
  const KNOWN = new Set([...readFileSync(join(ROOT, '.env.example'), 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));

  it('gives the bot its non-secret settings, each one it knows', () => {
    const env = environment();
    for (const key of ['AWS_REGION', 'DORMOUSE_TABLE', 'DORMOUSE_OPS_CHANNEL', 'DORMOUSE_DATA_BUCKET', 'DORMOUSE_TEMPLATES']) expect(Object.keys(env), key).toContain(key);
    expect(env.AWS_REGION).toBe('!Ref AWS::Region');
    expect(Object.keys(env).filter((k) => !KNOWN.has(k))).toEqual([]);
    // Socket Mode would bypass the load balancer altogether.
    expect(Object.keys(env)).not.toContain('SLACK_APP_TOKEN');
  });

  it('outputs the Slack request URL, over HTTPS, ending in /slack/events', () => {
    expect(template.Outputs.SlackRequestUrl?.Value).toBe('!Sub https://${DomainName}/slack/events');
  });
});
