/**
 * Which requests wait for a team lead, who may approve them, and for how long
 * the question stays open. Pure decisions over a request, its cost estimate
 * (estimate.ts) and the policy (loaded by src/config/policy.ts).
 *
 * A rule triggers when ANY of its conditions holds (they are alternatives, not
 * a conjunction): `{ monthlyCostOver: 200, serversOver: 4 }` catches a request
 * estimated over $200 a month, and also one asking for 5 servers however
 * cheap. Conditions that must all hold are not expressible: write the stricter
 * one alone. A rule without any condition never triggers (the loader refuses
 * one). A request needs approval when at least one rule triggers; every rule
 * that does is listed, with why.
 *
 * Nobody approves their own request, even when listed as an approver
 * (`selfApproval` is always false). The listed users may approve, and the
 * members of the user group (the composition root reads them from Slack and
 * writes them into `users`: src/compose/teams.ts); the group is also who is
 * mentioned when asking.
 */
import type { Schedule } from '../schedule/schedule.js';
import type { CostEstimate } from './estimate.js';

export interface ApprovalRule {
  /** Shown to the requester and the approvers: why it waits. */
  name: string;
  /** $ a month (the estimate's monthlyUsd), strictly over. */
  monthlyCostOver?: number;
  /** Any of these instance types. */
  instanceTypes?: readonly string[];
  /** More servers than this. */
  serversOver?: number;
  /** Its schedule is off (with or without an end date): it does not sleep. */
  neverSleeps?: boolean;
  /** Any of these templates. */
  templates?: readonly string[];
}

export interface TeamApprovers {
  /** A team of the configuration's teams (DORMOUSE_TEAMS). */
  team: string;
  /** Slack user ids who may approve the team's requests (the user group's members included, once read). */
  users: readonly string[];
  /** A Slack user group id (S…): its members approve; mentioned when asking. */
  userGroup?: string;
  /** Where the question is posted: any channel id. */
  channel: string;
}

export interface ApprovalPolicy {
  rules: readonly ApprovalRule[];
  approvers: readonly TeamApprovers[];
  /** For requesters in no team, or whose teams have no approvers (other than themselves). */
  defaultApprovers: { users: readonly string[]; channel: string };
  /** An unanswered request is dropped after this many hours. */
  expiresHours: number;
  selfApproval: false;
}

/** What a request asks for, as far as approval goes. */
export interface ApprovalRequest {
  owner: string;
  template: string;
  instanceType: string;
  count: number;
  /** The schedule it will run on (its own, its template's or the default); undefined: not off. */
  schedule?: Schedule | undefined;
}

/** One condition that held, with its figures: what the chat side makes its sentence from. */
export type ApprovalCondition =
  | { kind: 'monthlyCost'; estimateUsd: number; limitUsd: number }
  | { kind: 'instanceType'; instanceType: string }
  | { kind: 'servers'; count: number; limit: number }
  | { kind: 'neverSleeps'; until?: string }
  | { kind: 'template'; template: string };

export interface TriggeredRule {
  name: string;
  /** Plain words: `estimated $412.80 a month, over the $200 limit` (several conditions joined by `; `). */
  reason: string;
  conditions: ApprovalCondition[];
}

export type ApprovalDecision = { needed: false } | { needed: true; rules: TriggeredRule[] };

/** The policy with nothing to approve: what runs without a policy file. */
export const NO_APPROVAL: ApprovalPolicy = Object.freeze({
  rules: [],
  approvers: [],
  defaultApprovers: { users: [], channel: '' },
  expiresHours: 24,
  selfApproval: false,
});

export function needsApproval(request: ApprovalRequest, estimate: Pick<CostEstimate, 'monthlyUsd'>, policy: Pick<ApprovalPolicy, 'rules'>): ApprovalDecision {
  const rules: TriggeredRule[] = [];
  for (const rule of policy.rules) {
    const conditions = conditionsHeld(rule, request, estimate);
    if (conditions.length) rules.push({ name: rule.name, reason: conditions.map(describeCondition).join('; '), conditions });
  }
  return rules.length ? { needed: true, rules } : { needed: false };
}

function conditionsHeld(rule: ApprovalRule, request: ApprovalRequest, estimate: Pick<CostEstimate, 'monthlyUsd'>): ApprovalCondition[] {
  const held: ApprovalCondition[] = [];
  if (rule.monthlyCostOver !== undefined && estimate.monthlyUsd > rule.monthlyCostOver) {
    held.push({ kind: 'monthlyCost', estimateUsd: estimate.monthlyUsd, limitUsd: rule.monthlyCostOver });
  }
  if (rule.instanceTypes?.includes(request.instanceType)) held.push({ kind: 'instanceType', instanceType: request.instanceType });
  if (rule.serversOver !== undefined && request.count > rule.serversOver) held.push({ kind: 'servers', count: request.count, limit: rule.serversOver });
  if (rule.neverSleeps === true && request.schedule?.kind === 'off') {
    held.push(request.schedule.until === undefined ? { kind: 'neverSleeps' } : { kind: 'neverSleeps', until: request.schedule.until });
  }
  if (rule.templates?.includes(request.template)) held.push({ kind: 'template', template: request.template });
  return held;
}

/** `$412.80`; a limit written whole stays whole (`$200`). */
const dollars = (usd: number, whole = false): string => `$${whole && Number.isInteger(usd) ? usd : usd.toFixed(2)}`;

/** The condition in plain words, for logs, alerts and a chat side without a sentence of its own. */
export function describeCondition(c: ApprovalCondition): string {
  switch (c.kind) {
    case 'monthlyCost':
      return `estimated ${dollars(c.estimateUsd)} a month, over the ${dollars(c.limitUsd, true)} limit`;
    case 'instanceType':
      return `the instance type ${c.instanceType} needs approval`;
    case 'servers':
      return `${c.count} servers, over the limit of ${c.limit}`;
    case 'neverSleeps':
      return c.until === undefined ? 'its schedule is off, so it never sleeps' : `its schedule is off until ${untilWords(c.until)}, so it does not sleep before then`;
    case 'template':
      return `the template ${c.template} needs approval`;
  }
}

/** `2026-12-01 18:00 UTC` (the text it was given, when it is not a date). */
function untilWords(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export interface Approvers {
  /** Who may approve this owner's requests: the owner is never among them. */
  users: string[];
  userGroup?: string;
  channel: string;
  /** The team whose approvers these are; absent for the default approvers. */
  team?: string;
}

/**
 * Who is asked to approve `owner`'s requests: the approvers of the owner's
 * team, else the default ones. An owner in several teams gets the first of
 * their teams (in the order of `teams`) that has approvers other than the
 * owner: a team lead's own request goes to another lead of the team, else on
 * to the default approvers. The owner is left out of `users`.
 */
export function approversFor(owner: string, teams: Readonly<Record<string, readonly string[]>>, policy: Pick<ApprovalPolicy, 'approvers' | 'defaultApprovers'>): Approvers {
  for (const [team, members] of Object.entries(teams)) {
    if (!members.includes(owner)) continue;
    const entry = policy.approvers.find((a) => a.team === team);
    const users = entry?.users.filter((u) => u !== owner) ?? [];
    if (entry && users.length) return { users, ...(entry.userGroup ? { userGroup: entry.userGroup } : {}), channel: entry.channel, team };
  }
  return { users: policy.defaultApprovers.users.filter((u) => u !== owner), channel: policy.defaultApprovers.channel };
}

export type MayApprove = { ok: true } | { ok: false; reason: 'own-request' | 'not-an-approver' };

/** Whether `approver` may approve (or reject) `request`: one of its approvers, and never its owner. */
export function mayApprove(approver: string, request: { owner: string }, approvers: { users: readonly string[] }): MayApprove {
  if (approver === request.owner) return { ok: false, reason: 'own-request' };
  if (!approvers.users.includes(approver)) return { ok: false, reason: 'not-an-approver' };
  return { ok: true };
}

/** When an unanswered request, asked at `askedAt`, expires. */
export function approvalExpiresAt(askedAt: Date, policy: Pick<ApprovalPolicy, 'expiresHours'>): Date {
  return new Date(askedAt.getTime() + policy.expiresHours * 3600_000);
}
