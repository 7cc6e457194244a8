/**
 * Who may do what: the one matrix, enforced here and nowhere else (the
 * README's "Permissions" table is this function in words).
 *
 * | who        | what they may do                                                                 |
 * | ---------- | -------------------------------------------------------------------------------- |
 * | developer  | request; everything on their own environments; cancel their own waiting request |
 * | team lead  | the same on their team's environments; approve or reject their team's requests  |
 * | admin      | everything, on every environment; approve or reject any request                 |
 * | ops        | act on alerts: retry or destroy a failed environment; repair one; act on drift    |
 * | schedule   | what a schedule does (sleep, wake, the idle destroy, a request's expiry)         |
 *
 * Nobody approves or rejects their own request, whatever their roles. A team
 * lead is a person who approves for a team (the policy's `approval.approvers`);
 * a team is a list of members (DORMOUSE_TEAMS). Admins (DORMOUSE_ADMINS) and
 * ops (DORMOUSE_OPS) are lists of Slack user ids.
 */
import { SCHEDULE_ACTOR, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';

export interface Access {
  admins: readonly string[];
  ops: readonly string[];
  /** Team → its members. */
  teams: Readonly<Record<string, readonly string[]>>;
  /** Team → its leads (who approve its members' requests). */
  leads: Readonly<Record<string, readonly string[]>>;
}

export const NO_ACCESS_RULES: Access = Object.freeze({ admins: [], ops: [], teams: {}, leads: {} });

/** What a person asks of an environment, as a refusal says it: "only … can destroy api". */
export type Verb =
  | 'destroy'
  | 'retry'
  | 'put to sleep'
  | 'save the data of'
  | 'wake'
  | 'restore'
  | 'change the schedule of'
  | 'postpone the sleep of'
  | 'keep'
  | 'cancel'
  | 'approve'
  | 'reject'
  | 'repair';

export type Role = 'developer' | 'lead' | 'admin' | 'ops';

/** The roles a person has (everyone is a developer). */
export function rolesOf(user: string, access: Access): Role[] {
  const roles: Role[] = ['developer'];
  if (Object.values(access.leads).some((users) => users.includes(user))) roles.push('lead');
  if (access.admins.includes(user)) roles.push('admin');
  if (access.ops.includes(user)) roles.push('ops');
  return roles;
}

/** The leads of the teams `owner` is in. */
export function leadsOf(owner: string, access: Access): string[] {
  const leads = new Set<string>();
  for (const [team, members] of Object.entries(access.teams)) if (members.includes(owner)) for (const u of access.leads[team] ?? []) leads.add(u);
  return [...leads];
}

const DECIDING: ReadonlySet<Verb> = new Set(['approve', 'reject']);
/** What ops do from an alert: on a failed environment only. */
const ALERT_VERBS: ReadonlySet<Verb> = new Set(['retry', 'destroy']);

/** Who replaces lost servers on its own (a template with `repair: auto`), as the audit trail names it. */
export const RECONCILER_ACTOR = 'reconciler';

/** Whether `actor` may `verb` `env`. */
export function may(access: Access, actor: string, verb: Verb, env: Pick<Environment, 'owner' | 'state' | 'approval'>): boolean {
  if (DECIDING.has(verb)) {
    if (actor === env.owner || actor === SCHEDULE_ACTOR) return false;
    return access.admins.includes(actor) || (env.approval?.approvers.users.includes(actor) ?? false);
  }
  if (actor === SCHEDULE_ACTOR || actor === env.owner || access.admins.includes(actor)) return true;
  // A repair comes from a drift alert (ops) or from the reconciler itself.
  if (verb === 'repair' && (actor === RECONCILER_ACTOR || access.ops.includes(actor))) return true;
  if (leadsOf(env.owner, access).includes(actor)) return true;
  return ALERT_VERBS.has(verb) && env.state === 'failed' && access.ops.includes(actor);
}

/**
 * Throws ENVIRONMENT.NOT_AUTHORIZED, naming who can: the owner, their team's
 * leads, admins (and ops, for what an alert offers), or for a decision the
 * request's approvers (`variant: own-request` when it is the actor's own).
 */
export function assertMay(access: Access, actor: string, verb: Verb, env: Pick<Environment, 'name' | 'owner' | 'state' | 'approval'>): void {
  if (may(access, actor, verb, env)) return;
  const deciding = DECIDING.has(verb);
  const approvers = deciding ? [...new Set([...(env.approval?.approvers.users ?? []), ...access.admins])].filter((u) => u !== env.owner) : [];
  const leads = deciding ? [] : leadsOf(env.owner, access);
  const ops = !deciding && ((ALERT_VERBS.has(verb) && env.state === 'failed') || verb === 'repair') ? [...access.ops] : [];
  const variant = deciding ? (actor === env.owner ? 'own-request' : 'not-an-approver') : 'not-owner';
  const who = deciding ? `one of the approvers (${approvers.join(', ') || 'none'})` : ['the owner', leads.length ? 'a lead of their team' : '', 'an admin', ops.length ? 'ops' : ''].filter(Boolean).join(', ');
  throw new DomainError(ErrorCodes.NOT_AUTHORIZED, `Only ${who} can ${verb} ${env.name}.`, {
    name: env.name,
    actor,
    owner: env.owner,
    verb,
    variant,
    leads,
    admins: [...access.admins],
    ops,
    approvers,
  });
}

/** Drift alerts (terminate an orphan, adopt it, repair, ignore) are for ops and admins. */
export function assertMayActOnDrift(access: Access, actor: string): void {
  if (access.ops.includes(actor) || access.admins.includes(actor)) return;
  throw new DomainError(ErrorCodes.NOT_AUTHORIZED, 'Only ops or an admin can act on drift alerts.', {
    actor,
    verb: 'act on drift alerts',
    variant: 'drift',
    ops: [...access.ops],
    admins: [...access.admins],
  });
}
