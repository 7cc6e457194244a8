/**
 * Approvals: a costly request waits for a team lead, who approves or rejects
 * it from Slack, exactly once.
 *
 * The gate (`RequestGate`) runs once per request, right after it is recorded
 * (and again by the provision flow when a crash interrupted it): it admits
 * the request against its quotas (quota.use-case.ts) and decides whether it
 * needs approval (approval.policy.ts). A request over a quota is rejected
 * before anything is launched; one that needs approval moves to
 * `awaiting_approval`, with who was asked, why, and until when.
 *
 * Decisions (`ApprovalService`) are conditional writes on the environment:
 * only one write moves it out of `awaiting_approval`, so two approvers
 * clicking at once, on any number of replicas, give one decision, and the
 * other is told who decided. Approve starts provisioning in the same write
 * (it takes the flow's lease). Reject, cancel and expiry end it as
 * `rejected` and give its quota back.
 */
import { transition, SCHEDULE_ACTOR, type ApprovalOutcome, type ApprovalState, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import { approvalExpiresAt, approversFor, needsApproval, type ApprovalPolicy, type TriggeredRule } from '../policies/approval.policy.js';
import { estimateCost } from '../policies/estimate.js';
import { assertMay, type Access } from '../policies/permissions.js';
import type { QuotaExceeded } from '../policies/quota.policy.js';
import type { Schedule } from '../schedule/schedule.js';
import type { WorkflowRunner } from '../workflow/runner.js';
import type { QuotaGuard } from './quota.use-case.js';
import { assertSameIncarnation, audit, getTarget, tell, type Target } from './shared.js';

/** How long a reason may be: a sentence or two, shown in both messages. */
export const REASON_MAX = 500;

export type GateOutcome = { kind: 'go' } | { kind: 'wait'; approval: ApprovalState } | { kind: 'refused'; quota: QuotaExceeded };

export interface GateDeps {
  policy: ApprovalPolicy;
  teams: Readonly<Record<string, readonly string[]>>;
  quota?: QuotaGuard | undefined;
  /** The schedule an environment will run on (its own, its template's or the default). */
  scheduleOf: (env: Environment) => Schedule | undefined;
  clock: Clock;
}

export class RequestGate {
  constructor(private readonly deps: GateDeps) {}

  /** Whether anything is checked at all (rules or quotas): without, every request goes ahead. */
  get active(): boolean {
    return this.deps.policy.rules.length > 0 || Boolean(this.deps.quota?.enabled);
  }

  /** Admits `env` against its quotas and decides whether it waits for approval. Admitting twice is harmless. */
  async decide(env: Environment): Promise<GateOutcome> {
    const { policy, teams, quota, clock } = this.deps;
    const schedule = this.deps.scheduleOf(env);
    const estimate = estimateCost({ hourlyCostUsd: env.hourlyCostUsd, schedule });
    const decision = needsApproval({ owner: env.owner, template: env.template, instanceType: env.instanceType, count: env.count, schedule }, estimate, policy);
    const rules: TriggeredRule[] = decision.needed ? [...decision.rules] : [];
    if (quota?.enabled) {
      const admitted = await quota.admit(env);
      if (!admitted.ok) {
        // Over a quota: refused, unless the policy lets a lead's approval go past it.
        if (!admitted.approvalMayOverride) return { kind: 'refused', quota: admitted };
        rules.push({ name: 'over quota', reason: admitted.reason, conditions: [] });
      }
    }
    if (!rules.length) return { kind: 'go' };
    const approvers = approversFor(env.owner, teams, policy);
    const now = clock.now();
    return {
      kind: 'wait',
      approval: {
        rules: rules.map((r) => ({ name: r.name, reason: r.reason })),
        approvers: { ...approvers, users: [...approvers.users] },
        estimate: { hourlyUsd: estimate.hourlyUsd, dailyUsd: estimate.dailyUsd, monthlyUsd: estimate.monthlyUsd },
        askedAt: now.toISOString(),
        expiresAt: approvalExpiresAt(now, policy).toISOString(),
      },
    };
  }

  /** The environment as the outcome leaves it (undefined for `go`: the flow carries on). */
  static apply(env: Environment, outcome: GateOutcome, now: Date): Environment | undefined {
    if (env.state !== 'requested') return undefined;
    if (outcome.kind === 'wait') return { ...transition(env, 'awaiting_approval', now), approval: outcome.approval };
    if (outcome.kind === 'refused') {
      const { details, reason } = refusalOf(env, outcome.quota);
      return { ...transition(env, 'rejected', now), refusal: { code: ErrorCodes.QUOTA_EXCEEDED, reason, params: details, at: now.toISOString() } };
    }
    return undefined;
  }

  /** What the requester is told when a quota refuses: the usage, the limit and who can raise it. */
  static refusalError(env: Pick<Environment, 'name'>, quota: QuotaExceeded): DomainError {
    const { details, reason } = refusalOf(env, quota);
    return new DomainError(ErrorCodes.QUOTA_EXCEEDED, `${env.name} was not created: ${reason}.`, details);
  }
}

/** A quota refusal's figures, as the error's details and the stored refusal's parameters (the same sentence is made from either). */
function refusalOf(env: Pick<Environment, 'name'>, quota: QuotaExceeded): { details: Record<string, string | number | boolean | string[]>; reason: string } {
  const { ok: _ok, team, raisedBy, ...q } = quota;
  return { details: { name: env.name, ...q, ...(team !== undefined ? { team } : {}), raisedBy: [...raisedBy] }, reason: q.reason };
}

/** What happens once the gate decided: recorded, audited and told (shared by the request and the resumed flow). */
export async function afterGate(
  deps: { events: Pick<EnvironmentRepository, 'appendEvent'>; notifier: NotifierPort; clock: Clock; logger: Logger },
  env: Environment,
): Promise<void> {
  if (env.state === 'awaiting_approval' && env.approval) {
    const why = env.approval.rules.map((r) => `${r.name}: ${r.reason}`).join('; ');
    await audit(deps, env, 'approval:asked', `Waiting for approval (${why}); asked ${env.approval.approvers.users.join(', ') || 'nobody listed'} in ${env.approval.approvers.channel}`, env.owner);
    tell(deps.logger, () => deps.notifier.showProgress(env));
    tell(deps.logger, () => deps.notifier.approvalRequest(env).then(() => undefined));
  } else if (env.state === 'rejected' && env.refusal) {
    await audit(deps, env, 'quota:refused', `Refused before launch: ${env.refusal.reason}`, env.owner);
  }
}

export interface ApprovalDeps {
  repo: Pick<EnvironmentRepository, 'get' | 'listByState'>;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'begin'>;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  access: Access;
  quota?: QuotaGuard | undefined;
  /** Who approves (the policy's): only they are asked what waits for them. */
  approvers?: Pick<ApprovalPolicy, 'approvers' | 'defaultApprovers'>;
}

type Outcome = ApprovalOutcome['outcome'];

const VERB = { approved: 'approve', rejected: 'reject', cancelled: 'cancel', expired: 'cancel' } as const;

export class ApprovalService {
  constructor(private readonly deps: ApprovalDeps) {}

  approve(target: Target, approver: string): Promise<Environment> {
    return this.decide(target, approver, 'approved');
  }

  async reject(target: Target, approver: string, reason: string): Promise<Environment> {
    const why = reason.trim();
    if (!why) throw new DomainError(ErrorCodes.APPROVAL_REASON_REQUIRED, 'Say why it is rejected, so the requester knows what to change.', { name: target.name, variant: 'empty' });
    if (why.length > REASON_MAX) throw new DomainError(ErrorCodes.APPROVAL_REASON_REQUIRED, `Keep the reason to ${REASON_MAX} characters.`, { name: target.name, variant: 'too_long', length: why.length, max: REASON_MAX });
    return this.decide(target, approver, 'rejected', why);
  }

  /** The requester (or a lead of their team, or an admin) takes back a request that waits. */
  cancel(target: Target, actor: string): Promise<Environment> {
    return this.decide(target, actor, 'cancelled');
  }

  /** The schedule's tick: a request nobody answered in time ends as rejected. */
  expire(target: Target): Promise<Environment> {
    return this.decide(target, SCHEDULE_ACTOR, 'expired');
  }

  /** Before the reason form opens: the request still waits, and `actor` may reject it (else the same refusal a decision gets). */
  async mayReject(target: Target, actor: string): Promise<Environment> {
    const env = await getTarget(this.deps.repo, target);
    if (env.state !== 'awaiting_approval') throw decided(env);
    assertMay(this.deps.access, actor, 'reject', env);
    return env;
  }

  /** Requests waiting for `user`'s answer (the Home tab), oldest first. */
  async waitingFor(user: string): Promise<Environment[]> {
    // Most people approve nothing: their Home tab (published on every change) asks the store nothing for it.
    const { admins } = this.deps.access;
    const approvers = this.deps.approvers;
    const mayApproveSome = admins.includes(user) || !approvers || approvers.approvers.some((a) => a.users.includes(user)) || approvers.defaultApprovers.users.includes(user);
    if (!mayApproveSome) return [];
    const waiting = await this.deps.repo.listByState('awaiting_approval');
    return waiting.filter((e) => e.owner !== user && (e.approval?.approvers.users.includes(user) || this.deps.access.admins.includes(user)));
  }

  private async decide(target: Target, actor: string, outcome: Outcome, reason?: string): Promise<Environment> {
    const { deps } = this;
    const seen = await getTarget(deps.repo, target);
    if (seen.state !== 'awaiting_approval') throw decided(seen);
    const expired = deps.clock.now().getTime() >= Date.parse(seen.approval?.expiresAt ?? '');
    if (outcome === 'expired') {
      if (!expired) throw decided(seen);
    } else {
      assertMay(deps.access, actor, VERB[outcome], seen);
      // Its time is up, though the tick has not come by yet: it expires now, and the click is told so.
      if (expired && outcome !== 'cancelled') throw decided(await this.decide(target, SCHEDULE_ACTOR, 'expired').catch(() => seen));
    }
    let admittedNow = false;
    if (outcome === 'approved' && deps.quota?.enabled) {
      // Admitted when it was asked, unless a quota let a lead's approval go past it: then admitted now, past the limits.
      // Refused here only when the quotas changed while it waited (the policy, a team's members): it still waits.
      const admitted = await deps.quota.admit(seen, true);
      if (!admitted.ok) throw atApproval(RequestGate.refusalError(seen, admitted));
      admittedNow = true;
    }
    const { environment, changed } = await deps.runner.begin(target.name, (e) => {
      assertSameIncarnation(e, target);
      if (e.id !== seen.id || e.state !== 'awaiting_approval' || !e.approval) return undefined;
      const now = deps.clock.now();
      const decision: ApprovalOutcome = { outcome, by: actor, at: now.toISOString(), ...(reason ? { reason } : {}) };
      const next = transition(e, outcome === 'approved' ? 'provisioning' : 'rejected', now);
      return { ...next, approval: { ...e.approval, decision } };
    });
    if (!changed) {
      // Another decision landed first; what this one admitted is not its to keep (the first decision's release may have run before it).
      if (admittedNow && environment.state !== 'provisioning' && environment.state !== 'bootstrapping' && environment.state !== 'ready') await deps.quota?.release(seen).catch(() => undefined);
      throw decided(environment);
    }
    if (outcome !== 'approved') {
      await deps.quota?.release(environment).catch((err: unknown) => deps.logger.warn({ err, environment: environment.name }, 'could not release the quota; the next admission drops it'));
    }
    const words: Record<Outcome, string> = { approved: 'Approved', rejected: `Rejected: ${reason ?? ''}`, cancelled: actor === environment.owner ? 'Cancelled by its requester' : `Cancelled by ${actor}`, expired: 'Expired: nobody answered in time' };
    await audit(deps, environment, `approval:${outcome}`, words[outcome], actor);
    tell(deps.logger, () => deps.notifier.approvalRequest(environment).then(() => undefined));
    tell(deps.logger, () => deps.notifier.showProgress(environment));
    // The decision in the environment's thread too: its story, told where the request was made.
    tell(deps.logger, () => deps.notifier.threadNote(environment, 'decided'));
    return environment;
  }
}

/** A quota refusal told to the approver: the request still waits (nothing was created, nor refused). */
function atApproval(error: DomainError): DomainError {
  return new DomainError(error.code, `${String(error.details.name)} cannot be approved now: ${error.message}`, { ...error.details, variant: 'at_approval' });
}

/** APPROVAL.DECIDED: it no longer waits; says what happened, by whom and when. */
function decided(env: Environment): DomainError {
  const d = env.approval?.decision;
  return new DomainError(ErrorCodes.APPROVAL_DECIDED, d ? `${env.name} was already ${d.outcome} by ${d.by} at ${d.at}.` : `${env.name} is not waiting for approval; it is ${env.state}.`, {
    name: env.name,
    state: env.state,
    ...(d ? { outcome: d.outcome, by: d.by, at: d.at, ...(d.reason ? { reason: d.reason } : {}) } : {}),
  });
}
