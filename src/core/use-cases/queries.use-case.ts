import type { Environment } from '../environment/environment.js';
import { LIVE_STATES } from '../environment/lifecycle.js';
import type { Template } from '../environment/template.js';
import type { AuditEvent, EnvironmentRepository } from '../ports/environment-repository.port.js';
import { getTarget } from './shared.js';
import type { ApprovalService } from './approval.use-case.js';
import type { QuotaGuard } from './quota.use-case.js';

/** Read-only views: what `/server list` and `/server status` show. */
export class EnvironmentQueries {
  constructor(private readonly deps: { repo: Pick<EnvironmentRepository, 'get' | 'listByOwner' | 'listByState' | 'listEvents'>; templates: readonly Template[]; admins?: readonly string[]; approvals?: ApprovalService; quota?: QuotaGuard }) {}

  /** Requests waiting for `user`'s answer (leads and admins; the Home tab). */
  waitingFor(user: string): Promise<Environment[]> {
    return this.deps.approvals?.waitingFor(user) ?? Promise.resolve([]);
  }

  /** `user`'s quotas and what they hold (none without quotas). */
  quotasOf(user: string) {
    return this.deps.quota?.usageFor(user) ?? Promise.resolve([]);
  }

  /** Admins see the fleet (on the Home tab). */
  isAdmin(user: string): boolean {
    return (this.deps.admins ?? []).includes(user);
  }

  mine(owner: string): Promise<Environment[]> {
    return this.deps.repo.listByOwner(owner);
  }

  /** Every live environment, newest first: one indexed query per live state, never a scan. */
  async all(): Promise<Environment[]> {
    const lists = await Promise.all(LIVE_STATES.map((s) => this.deps.repo.listByState(s)));
    return lists.flat().sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async status(name: string, events = 10): Promise<{ environment: Environment; events: AuditEvent[] }> {
    const environment = await getTarget(this.deps.repo, { name });
    // The name may have been used before: only this environment's own story.
    const own = (await this.deps.repo.listEvents(name, events)).filter((e) => e.at >= environment.createdAt);
    return { environment, events: own };
  }

  /** The environment as stored now, or undefined: what a reply checks before saying what happened. */
  find(name: string): Promise<Environment | undefined> {
    return this.deps.repo.get(name);
  }

  get templates(): readonly Template[] {
    return this.deps.templates;
  }
}
