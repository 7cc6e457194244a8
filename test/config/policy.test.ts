import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPolicy, loadPolicy, parsePolicyText, type PolicyContext } from '../../src/config/policy.js';
import { loadTemplates } from '../../src/config/templates.js';

const root = join(import.meta.dirname, '..', '..');
const { templates } = loadTemplates(join(root, 'infra', 'templates.yml'));
const teams = { platform: ['U0DEV', 'U0LEAD'] };
const ctx: PolicyContext = { templates, teams };
const problemsOf = (text: string, context = ctx) => parsePolicyText(text, 'policy.yml', context).problems;
const lines = (...l: string[]) => `${l.join('\n')}\n`;

describe('the example, infra/policy.yml', () => {
  const text = readFileSync(join(root, 'infra', 'policy.yml'), 'utf8');

  it('works as it is in the sandbox and on moto: their templates, their people, no teams', () => {
    const { policy, problems } = loadPolicy(join(root, 'infra', 'policy.yml'), { templates, teams: {} });
    expect(problems).toEqual([]);
    expect(policy).toEqual({
      rules: [
        { name: 'costly', monthlyCostOver: 50 },
        { name: 'big', instanceTypes: ['t3.large'], serversOver: 2 },
        { name: 'always on', neverSleeps: true },
      ],
      approvers: [],
      defaultApprovers: { users: ['U0LEAD', 'U0OPS'], channel: 'C0OPS' },
      expiresHours: 24,
      selfApproval: false,
      quotas: { person: { servers: 6, usdPerDay: 10 }, team: { servers: 12, usdPerDay: 25 }, approvalOverrides: false, raisedBy: ['U0OPS'] },
    });
  });

  it('gains per-team approvers when its commented block is taken in, with the team it names', () => {
    const uncommented = text.replace(/^ {2}# (approvers:| {2}- team:| {4}users:| {4}channel:)/gm, '  $1');
    expect(uncommented).not.toBe(text);
    const { policy, problems } = parsePolicyText(uncommented, 'policy.yml', ctx);
    expect(problems).toEqual([]);
    expect(policy.approvers).toEqual([{ team: 'platform', users: ['U0LEAD'], channel: 'C0GENERAL' }]);
  });
});

describe('no policy', () => {
  it('without a file: no approval rules and no quotas', () => {
    const { policy, problems } = loadPolicy(undefined, ctx);
    expect(problems).toEqual([]);
    expect(policy).toEqual(defaultPolicy());
    expect(policy.rules).toEqual([]);
    expect(policy.quotas).toEqual({ approvalOverrides: false, raisedBy: [] });
  });

  it('with a file whose every line is commented out: the same', () => {
    expect(parsePolicyText('# approval:\n#   rules: []\n', 'policy.yml', ctx)).toEqual({ policy: defaultPolicy(), problems: [] });
    expect(parsePolicyText('', 'policy.yml', ctx)).toEqual({ policy: defaultPolicy(), problems: [] });
  });

  it('with quotas only, no approval needed', () => {
    const { policy, problems } = parsePolicyText(lines('quotas:', '  team: { usdPerDay: 12.5 }'), 'policy.yml', ctx);
    expect(problems).toEqual([]);
    expect(policy.rules).toEqual([]);
    expect(policy.quotas).toEqual({ team: { usdPerDay: 12.5 }, approvalOverrides: false, raisedBy: [] });
  });
});

describe('problems: all at once, each with its place and what to do', () => {
  it('lists five problems in one file together, in file order', () => {
    const text = lines(
      'approval:',
      '  rules:',
      '    - name: costly',
      '      monthlyCostOver: 200',
      '    - name: negative',
      '      monthlyCostOver: -5',
      '    - name: gpus',
      '      instanceTypes: [p5.48xlarge]',
      '  approvers:',
      '    - team: payments',
      '      users: [U0LEAD]',
      '      userGroup: U0LEAD',
      '      channel: C0OPS',
      '  default:',
      '    users: [U0OPS]',
      '    channel: C0OPS',
      'quotas:',
      '  person: { sever: 4 }',
    );
    expect(problemsOf(text)).toEqual([
      'policy.yml: approval.rules[1].monthlyCostOver = -5: a positive number of $ a month, like 200: the rule catches requests estimated over it.',
      'policy.yml: approval.rules[2].instanceTypes[0]: `p5.48xlarge` is not an instance type of any template; they offer t3.small, t3.medium, t3.large, t3.micro.',
      'policy.yml: approval.approvers[0].team: `payments` is not a team; the teams (DORMOUSE_TEAMS) are platform: add it there, or name one of them.',
      'policy.yml: approval.approvers[0].userGroup = "U0LEAD": a Slack user group id like S0123ABCD (People → User groups → the group → ⋮ → Copy group ID).',
      'policy.yml: quotas.person: unknown field `sever` (did you mean `servers`?): rename or remove it; the fields are servers, usdPerDay.',
    ]);
  });

  it('reports the rules across fields next to bad values: no condition, names and teams twice, default missing', () => {
    const text = lines(
      'approval:',
      '  rules:',
      '    - name: a',
      '    - name: a',
      '      serversOver: 1.5',
      '  approvers:',
      '    - { team: platform, users: [U0LEAD], channel: C0OPS }',
      '    - { team: platform, users: [bob], channel: C0OPS }',
      '  expiresHours: 0',
    );
    expect(problemsOf(text)).toEqual([
      'policy.yml: approval.rules[0]: this rule has no condition, so it never applies: give it at least one of monthlyCostOver, instanceTypes, serversOver, neverSleeps: true, templates (any one that holds makes a request wait).',
      'policy.yml: approval.rules[1].serversOver = 1.5: a whole number of servers from 1 to 1000: the rule catches requests for more.',
      'policy.yml: approval.rules[1].name: `a` is used twice (also approval.rules[0]); give each rule its own name.',
      'policy.yml: approval.approvers[1].users[0] = "bob": a Slack user id like U0123ABCD (profile → ⋮ → Copy member ID).',
      "policy.yml: approval.approvers[1].team: `platform` is listed twice (also approval.approvers[0]); give each team's approvers once.",
      'policy.yml: approval.expiresHours = 0: a whole number of hours from 1 to 720 (30 days): how long a request waits for an answer.',
      'policy.yml: approval.default is missing: with rules, someone must approve requests from people whose team has no approvers: `default: { users: [U0123ABCD], channel: C0123ABCD }`.',
    ]);
  });

  it.each([
    ['a channel given a user id', lines('approval:', '  default: { users: [U0OPS], channel: U0LEAD }'), /approval\.default\.channel = "U0LEAD": a channel id like C0123ABCD/],
    ['a private channel is a channel', lines('approval:', '  default: { users: [U0OPS], channel: G0PRIVATE }'), null],
    ['approvers with nobody', lines('approval:', '  default: { users: [], channel: C0OPS }'), /approval\.default\.users: at least one person who may approve/],
    ['a missing channel', lines('approval:', '  default: { users: [U0OPS] }'), /approval\.default\.channel is missing: a channel id/],
    ['a user group that is a user group', lines('approval:', '  approvers: [{ team: platform, users: [U0LEAD], userGroup: S0LEADS, channel: C0OPS }]'), null],
    ['an unknown template', lines('approval:', '  rules: [{ name: ml, templates: [gpu] }]', '  default: { users: [U0OPS], channel: C0OPS }'), /approval\.rules\[0\]\.templates\[0\]: `gpu` is not a template; the templates are api, worker, demo\./],
    ['a cost as text', lines('approval:', '  rules: [{ name: c, monthlyCostOver: "200" }]', '  default: { users: [U0OPS], channel: C0OPS }'), /monthlyCostOver = "200": a positive number/],
    ['a condition switched off alone', lines('approval:', '  rules: [{ name: off, neverSleeps: false }]', '  default: { users: [U0OPS], channel: C0OPS }'), /rules\[0\]: this rule has no condition/],
    ['self-approval', lines('approval:', '  selfApproval: true'), /approval\.selfApproval = true: only false: nobody approves their own request/],
    ['a zero quota', lines('quotas:', '  team: { servers: 0, usdPerDay: -1 }'), /quotas\.team\.servers = 0: a whole number of servers, 1 or more[\s\S]*quotas\.team\.usdPerDay = -1: a positive number of \$ a day/],
    ['a yes for a boolean', lines('quotas:', '  approvalOverrides: yes'), /quotas\.approvalOverrides = "yes": true or false/],
    ['a channel among who raises quotas', lines('quotas:', '  raisedBy: [U0OPS, C0OPS]'), /quotas\.raisedBy\[1\] = "C0OPS": a Slack user id/],
    ['a typo at the top', lines('quota:', '  raisedBy: [U0OPS]'), /policy\.yml: unknown field `quota` \(did you mean `quotas`\?\)/],
    ['a list for a file', lines('- approval'), /policy\.yml: expected a mapping with `approval:` and `quotas:`/],
  ])('%s', (_what, text, problem) => {
    const problems = problemsOf(text);
    if (problem === null) expect(problems).toEqual([]);
    else expect(problems.join('\n')).toMatch(problem);
  });

  it('says how to add a team when no teams are set', () => {
    expect(problemsOf(lines('approval:', '  approvers: [{ team: platform, users: [U0LEAD], channel: C0OPS }]'), { templates, teams: {} })).toEqual([
      'policy.yml: approval.approvers[0].team: `platform` is not a team: no teams are set. Set DORMOUSE_TEAMS (like platform=U0123ABCD,U0456EFGH), or list these approvers under approval.default.',
    ]);
  });

  it('says where YAML that does not parse goes wrong, and keeps the default policy', () => {
    const { policy, problems } = parsePolicyText('approval: [\n', 'policy.yml', ctx);
    expect(policy).toEqual(defaultPolicy());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^policy\.yml: not valid YAML: .*line 2/);
  });
});

describe('loadPolicy', () => {
  it('reads the file at the path, and names it in problems', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-policy-'));
    const path = join(dir, 'policy.yml');
    writeFileSync(path, lines('approval:', '  rules: [{ name: many, serversOver: 2 }]', '  default: { users: [U0OPS], channel: C0OPS }', '  expiresHours: 8'));
    expect(loadPolicy(path, ctx)).toMatchObject({ policy: { rules: [{ name: 'many', serversOver: 2 }], expiresHours: 8 }, problems: [] });
    writeFileSync(path, lines('approval:', '  expiresHours: 0'));
    expect(loadPolicy(path, ctx).problems).toEqual([`${path}: approval.expiresHours = 0: a whole number of hours from 1 to 720 (30 days): how long a request waits for an answer.`]);
  });

  it('says when the file cannot be read', () => {
    const path = join(tmpdir(), 'dormouse-no-such-policy.yml');
    expect(loadPolicy(path, ctx)).toEqual({ policy: defaultPolicy(), problems: [`cannot read the policy file ${path} (ENOENT): check the path, or leave the setting unset for no approval rules and no quotas.`] });
  });
});
