import type { Environment } from '../environment/environment.js';
import { LIVE_STATES } from '../environment/lifecycle.js';
import type { AuditEvent } from '../ports/environment-repository.port.js';
import { assertValidName } from '../environment/name.rules.js';
import { getOrThrow, type UseCaseContext } from './context.js';

/** Read-only views: what `/server list` and `/server status` show. */
export class EnvironmentQueries {
  constructor(private readonly ctx: UseCaseContext) {}

  mine(owner: string): Promise<Environment[]> {
    return this.ctx.repo.listByOwner(owner);
  }

  /** Every live environment, newest first: one indexed query per live state, never a scan. */
  async all(): Promise<Environment[]> {
    const lists = await Promise.all(LIVE_STATES.map((s) => this.ctx.repo.listByState(s)));
    return lists.flat().sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async status(name: string, events = 10): Promise<{ environment: Environment; events: AuditEvent[] }> {
    assertValidName(name);
    const environment = await getOrThrow(this.ctx, name);
    // The name may have been used before: only this environment's own story.
    const own = (await this.ctx.repo.listEvents(name, events)).filter((e) => e.at >= environment.createdAt);
    return { environment, events: own };
  }

  get templates() {
    return this.ctx.templates;
  }
}
