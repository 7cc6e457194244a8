/**
 * Reads and validates the policy file (YAML): which requests wait for a team
 * lead, who approves them, and the quotas. The layout is documented at the
 * top of infra/policy.yml.
 *
 * As with the templates (templates.ts), every problem is collected at once,
 * each with its place in the file and what to write instead:
 *   `policy.yml: approval.rules[1].monthlyCostOver = -5: a positive number of $ a month, …`
 * Fields are strict (a typo is named, with the field it probably meant);
 * Slack ids are checked for their shape (U… people, S… user groups, C… or G…
 * channels); templates, instance types and teams must exist in the catalogue
 * and in the configuration's teams; numbers are positive.
 *
 * No file, or a file with nothing in it: the default policy, with no approval
 * rules (every request goes ahead) and no quotas (nobody is limited).
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { NO_APPROVAL, type ApprovalPolicy } from '../core/policies/approval.policy.js';
import { NO_QUOTAS, type Quotas } from '../core/policies/quota.policy.js';
import type { Template } from '../core/environment/template.js';
import { despiteInvalidParts, fields, filled, flag, formatPath, isMissing, list, messageOf, shownValue, text, uniqueNames, whenValid, whole, type Issue } from './validation.js';

export type Policy = ApprovalPolicy & { quotas: Quotas };

export interface PolicyContext {
  templates: readonly Template[];
  teams: Readonly<Record<string, readonly string[]>>;
}

export interface PolicyResult {
  /** The policy read; the default one when there are problems (which the caller must refuse to start on). */
  policy: Policy;
  problems: string[];
}

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const GROUP_ID = /^S[A-Z0-9]{2,}$/;
const CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;

const SAY_USER = 'a Slack user id like U0123ABCD (profile → ⋮ → Copy member ID).';
const SAY_GROUP = 'a Slack user group id like S0123ABCD (People → User groups → the group → ⋮ → Copy group ID).';
const SAY_CHANNEL = 'a channel id like C0123ABCD (the channel’s name → About → the id at the bottom); any channel will do, with the bot invited to it.';
const CONDITIONS = ['monthlyCostOver', 'instanceTypes', 'serversOver', 'neverSleeps', 'templates'] as const;

/** The policy with no approval rules and no quotas: what runs without a file. */
export function defaultPolicy(): Policy {
  return { ...NO_APPROVAL, quotas: { ...NO_QUOTAS } };
}

/** A number > 0 (not necessarily whole), as YAML gives it. */
const positive = (say: string) => z.number({ error: say }).refine((n) => Number.isFinite(n) && n > 0, { error: say });

const User = text(USER_ID, SAY_USER);
const Users = (say: string) => list(User, say);

/** One of `known`, or a sentence naming them all. */
const oneOf = (known: readonly string[], say: string, unknown: (value: string) => string) =>
  z.string({ error: say }).refine((v) => known.includes(v), { error: (iss) => unknown(String(iss.input)) });

function policySchema(ctx: PolicyContext) {
  const templateNames = ctx.templates.map((t) => t.name);
  const instanceTypes = [...new Set(ctx.templates.flatMap((t) => Object.keys(t.instanceTypes)))];
  const teamNames = Object.keys(ctx.teams);

  const TemplateName = oneOf(templateNames, `a template's name: ${templateNames.join(', ')}.`, (v) => `\`${v}\` is not a template; the templates are ${templateNames.join(', ')}.`);
  const InstanceType = oneOf(
    instanceTypes,
    `an instance type that a template offers: ${instanceTypes.join(', ')}.`,
    (v) => `\`${v}\` is not an instance type of any template; they offer ${instanceTypes.join(', ')}.`,
  );
  const TeamName = oneOf(teamNames, 'the name of a team of DORMOUSE_TEAMS.', (v) =>
    teamNames.length
      ? `\`${v}\` is not a team; the teams (DORMOUSE_TEAMS) are ${teamNames.join(', ')}: add it there, or name one of them.`
      : `\`${v}\` is not a team: no teams are set. Set DORMOUSE_TEAMS (like platform=U0123ABCD,U0456EFGH), or list these approvers under approval.default.`,
  );

  const Rule = fields(
    {
      name: filled('a short name people read, like costly or gpu.')
        .refine((s) => s.trim().length <= 60, { error: 'at most 60 characters.' })
        .transform((s) => s.trim()),
      monthlyCostOver: positive('a positive number of $ a month, like 200: the rule catches requests estimated over it.').optional(),
      instanceTypes: list(InstanceType, `a list of instance types, like [${instanceTypes.slice(0, 2).join(', ')}].`)
        .min(1, { error: 'at least one instance type (or remove the field).' })
        .optional(),
      serversOver: whole(1, 1000, 'a whole number of servers from 1 to 1000: the rule catches requests for more.').optional(),
      neverSleeps: flag('true or false: true catches requests whose schedule is off (they never sleep).').optional(),
      templates: list(TemplateName, `a list of templates, like [${templateNames[0] ?? 'api'}].`)
        .min(1, { error: 'at least one template (or remove the field).' })
        .optional(),
    },
    'a rule: a name and at least one condition, e.g. `{ name: costly, monthlyCostOver: 200 }`.',
  ).superRefine((rule, c) => {
    const conditions = CONDITIONS.filter((k) => rule[k] !== undefined && rule[k] !== false);
    if (conditions.length === 0) {
      c.addIssue({
        code: 'custom',
        input: rule,
        message: 'this rule has no condition, so it never applies: give it at least one of monthlyCostOver, instanceTypes, serversOver, neverSleeps: true, templates (any one that holds makes a request wait).',
      });
    }
  }, whenValid(...CONDITIONS));

  const Approvers = fields(
    {
      team: TeamName,
      users: Users('a list of the Slack user ids who may approve, like [U0123ABCD].').default([]),
      userGroup: text(GROUP_ID, SAY_GROUP).optional(),
      channel: text(CHANNEL_ID, SAY_CHANNEL),
    },
    'a team’s approvers: { team, users, userGroup, channel }, e.g. `{ team: platform, users: [U0123ABCD], channel: C0123ABCD }`.',
  ).superRefine((a, c) => {
    if (Array.isArray(a.users) && a.users.length === 0 && a.userGroup === undefined) {
      c.addIssue({ code: 'custom', path: ['users'], input: undefined, message: 'who may approve: Slack user ids (`users: [U0123ABCD]`), a user group whose members approve (`userGroup: S0123ABCD`), or both.' });
    }
  }, whenValid('users', 'userGroup'));

  const DefaultApprovers = fields(
    {
      users: Users('a list of the Slack user ids who may approve, like [U0123ABCD].').min(1, { error: 'at least one person who may approve, like [U0123ABCD].' }),
      channel: text(CHANNEL_ID, SAY_CHANNEL),
    },
    'who approves for people in no team with approvers: { users, channel }, e.g. `{ users: [U0123ABCD], channel: C0123ABCD }`.',
  );

  const Approval = fields(
    {
      rules: list(Rule, 'a list of rules, each { name, and conditions }.').superRefine(uniqueNames('approval.rules', 'rule'), despiteInvalidParts).default([]),
      approvers: list(Approvers, 'a list of teams’ approvers, each { team, users, userGroup, channel }.').superRefine(uniqueTeams, despiteInvalidParts).default([]),
      default: DefaultApprovers.optional(),
      expiresHours: whole(1, 720, 'a whole number of hours from 1 to 720 (30 days): how long a request waits for an answer.').default(24),
      selfApproval: z.literal(false, { error: 'only false: nobody approves their own request. Remove the line, or write false.' }).optional(),
    },
    'the approval settings: { rules, approvers, default, expiresHours }.',
  ).superRefine(({ rules, default: dflt }, c) => {
    if (Array.isArray(rules) && rules.length > 0 && dflt === undefined) {
      c.addIssue({
        code: 'custom',
        path: ['default'],
        input: undefined,
        message: 'with rules, someone must approve requests from people whose team has no approvers: `default: { users: [U0123ABCD], channel: C0123ABCD }`.',
      });
    }
  }, despiteInvalidParts);

  const Limits = (whose: string) =>
    fields(
      {
        servers: whole(1, 100_000, `a whole number of servers, 1 or more: the most ${whose} may hold at once.`).optional(),
        usdPerDay: positive(`a positive number of $ a day, like 25: the most ${whose} may spend a day.`).optional(),
      },
      `${whose}'s limits: { servers, usdPerDay }, e.g. \`{ servers: 6, usdPerDay: 20 }\`.`,
    );

  const QuotaFields = fields(
    {
      person: Limits('each person').optional(),
      team: Limits('each team').optional(),
      approvalOverrides: flag('true or false: true lets a request a team lead approved go past the quota.').default(false),
      raisedBy: Users('a list of Slack user ids: who can raise a quota, like [U0123ABCD].').default([]),
    },
    'the quotas: { person, team, approvalOverrides, raisedBy }.',
  );

  return fields({ approval: Approval.optional(), quotas: QuotaFields.optional() }, 'expected a mapping with `approval:` and `quotas:` (both optional); see infra/policy.yml.').transform(
    ({ approval, quotas }): Policy => ({
      rules: approval?.rules ?? [],
      approvers: approval?.approvers ?? [],
      defaultApprovers: approval?.default ?? { ...NO_APPROVAL.defaultApprovers },
      expiresHours: approval?.expiresHours ?? NO_APPROVAL.expiresHours,
      selfApproval: false,
      quotas: {
        ...(quotas?.person ? { person: quotas.person } : {}),
        ...(quotas?.team ? { team: quotas.team } : {}),
        approvalOverrides: quotas?.approvalOverrides ?? false,
        raisedBy: quotas?.raisedBy ?? [],
      },
    }),
  );
}

/** Each team's approvers are listed once. */
function uniqueTeams(items: readonly unknown[], ctx: z.core.$RefinementCtx<readonly unknown[]>): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const team = typeof item === 'object' && item !== null ? (item as { team?: unknown }).team : undefined;
    if (typeof team !== 'string') return;
    const at = first.get(team);
    if (at === undefined) first.set(team, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'team'], input: team, message: `\`${team}\` is listed twice (also approval.approvers[${at}]); give each team's approvers once.` });
  });
}

/** Reads the policy file at `path`; no path: the default policy. */
export function loadPolicy(path: string | undefined, ctx: PolicyContext): PolicyResult {
  if (path === undefined) return { policy: defaultPolicy(), problems: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { policy: defaultPolicy(), problems: [`cannot read the policy file ${path} (${code}): check the path, or leave the setting unset for no approval rules and no quotas.`] };
  }
  return parsePolicyText(text, path, ctx);
}

/** The policy in `text`; `fileName` starts each problem. */
export function parsePolicyText(text: string, fileName: string, ctx: PolicyContext): PolicyResult {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    return { policy: defaultPolicy(), problems: doc.errors.map((e) => `${fileName}: not valid YAML: ${(e.message.split('\n')[0] ?? '').replace(/:$/, '.')}`) };
  }
  // A file with nothing in it (everything commented out) is the default policy.
  const value: unknown = doc.toJS() ?? {};
  const result = policySchema(ctx).safeParse(value, { reportInput: true });
  if (result.success) return { policy: result.data, problems: [] };
  return { policy: defaultPolicy(), problems: [...new Set(inFileOrder(result.error.issues).map((iss) => describe(iss, fileName)))] };
}

/**
 * The items of a list in file order (zod lists a list's own rules, such as a
 * name used twice, after its items): issues are grouped by the list they are
 * in, the groups in zod's order, and sorted by item within a group.
 */
function inFileOrder(issues: readonly Issue[]): Issue[] {
  const listOf = (iss: Issue) => {
    const at = iss.path.findIndex((p) => typeof p === 'number');
    return at < 0 ? { list: formatPath(iss.path), item: -1 } : { list: formatPath(iss.path.slice(0, at)), item: iss.path[at] as number };
  };
  const rank = new Map<string, number>();
  for (const iss of issues) if (!rank.has(listOf(iss).list)) rank.set(listOf(iss).list, rank.size);
  return [...issues].sort((a, b) => {
    const [x, y] = [listOf(a), listOf(b)];
    return (rank.get(x.list) ?? 0) - (rank.get(y.list) ?? 0) || x.item - y.item;
  });
}

/** `policy.yml: approval.rules[1].monthlyCostOver = -5: a positive number…`; `policy.yml: approval.default is missing: …` */
function describe(iss: Issue, source: string): string {
  if (iss.path.length === 0) return `${source}: ${messageOf(iss)}`;
  const where = formatPath(iss.path);
  if (isMissing(iss) || (iss.code === 'custom' && iss.input === undefined)) return `${source}: ${where} is missing: ${messageOf(iss)}`;
  const value = shownValue(iss);
  return `${source}: ${where}${value === undefined ? '' : ` = ${value}`}: ${messageOf(iss)}`;
}
