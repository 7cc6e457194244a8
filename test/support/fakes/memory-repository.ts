/**
 * The environment repository in memory, with the same conditional-write
 * semantics as the DynamoDB one (the contract suite runs both): for core
 * tests that run in milliseconds. Every value is copied in and out, as a
 * store would.
 */
import type { Environment } from '../../../src/core/environment/environment.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { isLive, type EnvironmentState } from '../../../src/core/environment/lifecycle.js';
import type { AuditEvent, CreateResult, EnvironmentRepository, Fence } from '../../../src/core/ports/environment-repository.port.js';

const copy = <T>(v: T): T => structuredClone(v);

export class InMemoryEnvironmentRepository implements EnvironmentRepository {
  private readonly items = new Map<string, Environment>();
  private readonly events: AuditEvent[] = [];
  readonly archived: Environment[] = [];

  async get(name: string): Promise<Environment | undefined> {
    const env = this.items.get(name);
    return env ? copy(env) : undefined;
  }

  async create(env: Environment): Promise<CreateResult> {
    const existing = this.items.get(env.name);
    if (existing && isLive(existing.state)) {
      if (existing.requestId === env.requestId) return { created: false, environment: copy(existing) };
      throw new DomainError(ErrorCodes.NAME_TAKEN, `\`${env.name}\` is already taken by <@${existing.owner}>.`, { name: env.name, owner: existing.owner });
    }
    if (existing) this.archived.push(existing);
    const stored = { ...copy(env), version: env.version + 1 };
    this.items.set(env.name, stored);
    return { created: true, environment: copy(stored) };
  }

  async save(next: Environment, fence?: Fence): Promise<Environment> {
    const current = this.items.get(next.name);
    const fenceHolds = !fence || (current?.lease?.holder === fence.holder && current.lease.token === fence.token);
    if (!current || current.version !== next.version || !fenceHolds) {
      throw new DomainError(ErrorCodes.CONCURRENT_MODIFICATION, `Nothing was saved: someone else changed \`${next.name}\`.`, { name: next.name }, true);
    }
    const stored = { ...copy(next), version: next.version + 1 };
    this.items.set(next.name, stored);
    return copy(stored);
  }

  async listByOwner(owner: string, options: { includeEnded?: boolean } = {}): Promise<Environment[]> {
    return [...this.items.values()]
      .filter((e) => e.owner === owner && (options.includeEnded || isLive(e.state)))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map(copy);
  }

  async listByState(state: EnvironmentState): Promise<Environment[]> {
    return [...this.items.values(), ...this.archived].filter((e) => e.state === state).sort((a, b) => a.stateChangedAt.localeCompare(b.stateChangedAt)).map(copy);
  }

  /** As the DynamoDB one: only environments with `dueAt` at or before `now`, earliest first; it reads just those. */
  async listDue(now: Date, limit = 100): Promise<{ environments: Environment[]; itemsRead: number }> {
    const wanted = Math.floor(limit);
    if (!(wanted >= 1)) return { environments: [], itemsRead: 0 };
    const at = now.toISOString();
    const environments = [...this.items.values()]
      .filter((e) => e.dueAt !== undefined && e.dueAt <= at)
      // Code-unit order, as DynamoDB compares strings (byte order, for these ASCII times).
      .sort((a, b) => (a.dueAt! < b.dueAt! ? -1 : a.dueAt! > b.dueAt! ? 1 : 0))
      .slice(0, wanted)
      .map(copy);
    return { environments, itemsRead: environments.length };
  }

  async appendEvent(event: AuditEvent): Promise<void> {
    this.events.push(copy(event));
  }

  async listEvents(environment: string, limit: number): Promise<AuditEvent[]> {
    return this.events.filter((e) => e.environment === environment).reverse().slice(0, limit).map(copy);
  }
}
