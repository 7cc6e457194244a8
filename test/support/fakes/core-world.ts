/**
 * The real use cases and workflow runner over in-memory ports on virtual
 * time: core behaviour in milliseconds. Several replicas share one store and
 * one cloud, each with its own runner, and each replica's way to the store
 * can be cut (`down`) or frozen (`paused`, as a stopped process would be).
 */
import { pino } from 'pino';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import type { Environment } from '../../../src/core/environment/environment.js';
import type { Template } from '../../../src/core/environment/template.js';
import type { EnvironmentRepository } from '../../../src/core/ports/environment-repository.port.js';
import { createUseCases, type UseCases } from '../../../src/core/use-cases/index.js';
import { testTemplate } from '../templates.js';
import { FakeCommands, FakeCompute } from './fake-cloud.js';
import { InMemoryEnvironmentRepository } from './memory-repository.js';
import { RecordingNotifier } from './recording-notifier.js';
import { settle, VirtualClock } from './virtual-clock.js';

export const LEASE_MS = 30_000;

type StoreMode = 'up' | 'down' | 'paused';

/** One replica's view of the shared store: what it writes is recorded, and its link can fail. */
export class StoreLink implements EnvironmentRepository {
  mode: StoreMode = 'up';
  /** Saves that landed, and saves refused by a condition, from this replica. */
  readonly saves: Array<{ ok: boolean; state: string; token?: number | undefined }> = [];
  private waiting: Array<() => void> = [];
  /** Calls that land and then fail, as a write that timed out after the store applied it. */
  private readonly landThenFail = new Set<string>();

  constructor(private readonly store: EnvironmentRepository) {}

  setMode(mode: StoreMode): void {
    this.mode = mode;
    if (mode !== 'paused') {
      const w = this.waiting;
      this.waiting = [];
      w.forEach((f) => f());
    }
  }

  /** The next call of `method` does its work, then fails with a retryable store error. */
  failAfterNext(method: 'create' | 'save'): void {
    this.landThenFail.add(method);
  }

  /** The next save of an environment that `matches` lands, then fails (its answer lost). */
  failAfterSaveOf(matches: (env: Environment) => boolean): void {
    this.saveMatcher = matches;
  }
  private saveMatcher: ((env: Environment) => boolean) | undefined;

  private after<T>(method: string, value: T): T {
    if (!this.landThenFail.delete(method)) return value;
    throw new DomainError(ErrorCodes.STORE_ERROR, 'Dormouse could not reach its database just now.', { sdkError: 'TimeoutError' }, true);
  }

  private async gate(): Promise<void> {
    while (this.mode === 'paused') await new Promise<void>((r) => this.waiting.push(r));
    if (this.mode === 'down') throw new DomainError(ErrorCodes.STORE_ERROR, 'The store is not answering.', {}, true);
  }

  async get(...a: Parameters<EnvironmentRepository['get']>) {
    await this.gate();
    return this.store.get(...a);
  }
  async create(...a: Parameters<EnvironmentRepository['create']>) {
    await this.gate();
    return this.after('create', await this.store.create(...a));
  }
  async save(...a: Parameters<EnvironmentRepository['save']>) {
    await this.gate();
    try {
      const saved = await this.store.save(...a);
      this.saves.push({ ok: true, state: saved.state, token: a[1]?.token });
      if (this.saveMatcher?.(saved)) {
        this.saveMatcher = undefined;
        this.landThenFail.add('save');
      }
      return this.after('save', saved);
    } catch (e) {
      this.saves.push({ ok: false, state: a[0].state, token: a[1]?.token });
      throw e;
    }
  }
  async listByOwner(...a: Parameters<EnvironmentRepository['listByOwner']>) {
    await this.gate();
    return this.store.listByOwner(...a);
  }
  async listByState(...a: Parameters<EnvironmentRepository['listByState']>) {
    await this.gate();
    return this.store.listByState(...a);
  }
  async listDue(...a: Parameters<EnvironmentRepository['listDue']>) {
    await this.gate();
    return this.store.listDue(...a);
  }
  async appendEvent(...a: Parameters<EnvironmentRepository['appendEvent']>) {
    await this.gate();
    return this.store.appendEvent(...a);
  }
  async listEvents(...a: Parameters<EnvironmentRepository['listEvents']>) {
    await this.gate();
    return this.store.listEvents(...a);
  }
}

export interface Replica {
  workerId: string;
  link: StoreLink;
  useCases: UseCases;
  notifier: RecordingNotifier;
}

export class CoreWorld {
  readonly clock = new VirtualClock();
  readonly store = new InMemoryEnvironmentRepository();
  readonly compute = new FakeCompute(this.clock);
  readonly commands: FakeCommands;
  readonly replicas: Replica[] = [];

  constructor(private readonly opts: { manualCommands?: boolean; stepMs?: number; templates?: Template[] } = {}) {
    this.commands = new FakeCommands(this.clock, { manual: opts.manualCommands ?? false, stepMs: opts.stepMs ?? 1000 });
  }

  replica(workerId = `worker-${this.replicas.length + 1}`): Replica {
    const link = new StoreLink(this.store);
    const notifier = new RecordingNotifier();
    const useCases = createUseCases({
      repo: link,
      compute: this.compute,
      commands: this.commands,
      notifier,
      clock: this.clock,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      templates: this.opts.templates ?? [testTemplate({ servers: { min: 1, max: 5, default: 2 } })],
      admins: ['U0OPS'],
      timeouts: { runningMs: 600_000, agentMs: 600_000 },
      workerId,
      leaseMs: LEASE_MS,
      storeRetry: { initialMs: 1000, maxMs: 5000 },
    });
    const r = { workerId, link, useCases, notifier };
    this.replicas.push(r);
    return r;
  }

  env(name: string) {
    return this.store.get(name);
  }

  /** Advances virtual time until `name` is in `state` (or the time runs out). */
  async until(name: string, state: string | ((s: string | undefined) => boolean), maxMs = 10 * 60_000): Promise<void> {
    let current: string | undefined;
    const check = typeof state === 'string' ? (s: string | undefined) => s === state : state;
    for (let passed = 0; passed <= maxMs; passed += 250) {
      current = (await this.store.get(name))?.state;
      if (check(current)) return;
      await this.clock.advance(250);
    }
    throw new Error(`${name} did not reach ${String(state)} within ${maxMs} ms of virtual time (it is ${current})`);
  }

  settle = settle;
}
