/**
 * The runner every long flow uses (provision and destroy now; sleep, wake and
 * repair next). Its job: exactly one worker works on an environment at a
 * time, across replicas, crashes, pauses and restarts.
 *
 * - A flow starts with the write that moves the environment into a state a
 *   flow works in (`begin`): that same write takes the lease, with a fencing
 *   token one above any issued before. No separate "acquire" can race it.
 * - Every write the flow makes goes through its `HeldLease`: read, check that
 *   holder and token are still ours, change, write conditionally on version,
 *   holder and token. A worker that lost its lease fails its next write and
 *   stops (`LeaseLost`), without sending anything else.
 * - Before acting outside the store (a launch, a command, a terminate) the
 *   flow calls `ensureHeld()`, which renews the lease first when its local
 *   validity is running out. A process that was paused past its lease finds
 *   the lease taken at that renewal and stops before acting.
 * - Leases are short and renewed through the injected clock; a graceful stop
 *   gives them back, so another process resumes at once; a crash leaves them
 *   to lapse, and the sweep (`resumeLapsed`) resumes what has lapsed.
 * - A failure is recorded with the state to return to, retrying through
 *   store outages until it lands or the lease is found taken.
 *
 * Time line of a takeover (worker A paused past its lease):
 *
 *   A  write token 3 ✔ ── paused ───────────────────────────── resumes: renew ✘ (token 4) → stops
 *   B                        lease lapses ─ sweep: take token 4 ✔ ─ write ✔ ─ write ✔ …
 * ──────────────────────────────────────────────────────────────────────────────────────> time
 */
import { ErrorCodes, asDomainError, isDomainError, notFound } from '../environment/errors.js';
import { newReference } from '../environment/reference.js';
import { fail, failedStepOf, type Environment, type Failure } from '../environment/environment.js';
import { flowOf, isTransitional, TRANSITIONAL_STATES, type FlowName } from '../environment/lifecycle.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import { currentCorrelationId, newCorrelationId, withCorrelation } from '../ports/correlation.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { MetricsPort } from '../ports/metrics.port.js';

/** Why a flow must stop: its lease is gone, or this process is stopping. */
export class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
  constructor(
    readonly reason: 'taken' | 'expired' | 'stopping' | 'released',
    /** What the store held when the loss was found, when it was read. */
    readonly environment?: Environment,
  ) {
    super(`lease ${reason}`);
  }
}

export type Flow = (lease: HeldLease) => Promise<void>;

export interface RunnerDeps {
  repo: EnvironmentRepository;
  clock: Clock;
  logger: Logger;
  /** This process, in leases. Unique per process start. */
  workerId: string;
  /** How long a lease lasts unless renewed (tens of seconds). */
  leaseMs: number;
  /** Backoff of store retries inside a flow (default 200 ms growing to 5 s). */
  retry?: { initialMs: number; maxMs: number };
  /** Flows and steps counted for `/metrics`. */
  metrics?: MetricsPort;
}

export interface Begun {
  environment: Environment;
  /** Whether this call wrote. Only the caller whose write landed may report that it started something. */
  changed: boolean;
}

export const leaseLapsed = (env: Environment, now: Date): boolean => !env.lease || Date.parse(env.lease.until) <= now.getTime();

export class WorkflowRunner {
  private readonly flows = new Map<FlowName, Flow>();
  private readonly running = new Map<string, { lease: HeldLease; done: Promise<void> }>();
  private stopping = false;
  private writes = 0;

  constructor(private readonly deps: RunnerDeps) {}

  get workerId(): string {
    return this.deps.workerId;
  }

  register(name: FlowName, flow: Flow): this {
    this.flows.set(name, flow);
    return this;
  }

  /** Whether a flow works in `state` here: states whose flow is not built yet are neither resumed nor retried into. */
  hasFlowFor(state: Environment['state']): boolean {
    const flow = flowOf(state);
    return flow !== undefined && this.flows.has(flow);
  }

  /**
   * Reads the environment, applies `change`, and writes it conditionally on
   * the version read (a lost race re-reads and applies `change` again; it
   * may return undefined to give up). When the result is in a state a flow
   * works in, the same write takes the lease with a new fencing token and
   * the flow starts in the background.
   */
  begin(name: string, change: (env: Environment) => Environment | undefined): Promise<Begun> {
    return this.beginFlow(name, change, 'start');
  }

  /**
   * `start`: the write starts a flow for whoever asked (the correlation under way, else a new one);
   * `resume`: it takes over a flow another worker left, which keeps the correlation it was started with.
   */
  private async beginFlow(name: string, change: (env: Environment) => Environment | undefined, how: 'start' | 'resume'): Promise<Begun> {
    let pending: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const current = await this.deps.repo.get(name);
      if (!current) throw notFound(name);
      // An earlier try landed though its answer was lost: it is ours, and it changed the environment.
      if (pending && current.writeId === pending) return this.begun(current);
      const next = change(current);
      if (!next) return { environment: current, changed: false };
      pending = `${this.deps.workerId}/begin/${++this.writes}`;
      const leased = isTransitional(next.state) && !this.stopping ? correlated(this.takeLease(next, current.fence), how) : withoutLease(next);
      try {
        return this.begun(await this.deps.repo.save({ ...leased, writeId: pending }));
      } catch (e) {
        if (!(isConflict(e) || (isTransient(e) && attempt < 4)) || attempt >= 10) throw e;
        // A short jittered pause (real time: it only spreads racing writers apart) before reading again.
        await new Promise((r) => setTimeout(r, Math.round(5 * attempt * (0.5 + Math.random()))));
      }
    }
  }

  private begun(stored: Environment): Begun {
    if (stored.lease?.holder === this.deps.workerId) this.start(stored);
    return { environment: stored, changed: true };
  }

  /** A new environment, as `repo.create` should store it: holding the lease, token 1. */
  leaseNew(env: Environment): Environment {
    return correlated(this.takeLease(env, env.fence), 'start');
  }

  /** Starts the flow of an environment this worker just wrote with its own lease (after `repo.create`). */
  adopt(env: Environment): void {
    if (env.lease?.holder === this.deps.workerId) this.start(env);
  }

  /**
   * The sweep: every environment in a state a registered flow works in whose
   * lease has lapsed (its worker stopped, crashed or gave it back) is taken
   * over with a new token and resumed. Returns the names taken over.
   */
  async resumeLapsed(): Promise<string[]> {
    if (this.stopping) return [];
    const taken: string[] = [];
    for (const state of TRANSITIONAL_STATES) {
      if (!this.hasFlowFor(state)) continue;
      for (const env of await this.deps.repo.listByState(state)) {
        if (!leaseLapsed(env, this.deps.clock.now())) continue;
        const { changed } = await this.beginFlow(
          env.name,
          (e) => (e.id === env.id && isTransitional(e.state) && leaseLapsed(e, this.deps.clock.now()) ? { ...e } : undefined),
          'resume',
        ).catch((err: unknown) => {
          this.deps.logger.warn({ err, environment: env.name }, 'could not take over a lapsed environment');
          return { changed: false };
        });
        if (changed) taken.push(env.name);
      }
    }
    if (taken.length) this.deps.logger.info({ resumed: taken }, 'resumed environments whose worker stopped');
    return taken;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves true when no flow runs in this process (including flows started meanwhile), false after `timeoutMs`. */
  async idle(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, Math.min(left, 2 ** 31 - 1))));
      await Promise.race([Promise.allSettled([...this.running.values()].map((r) => r.done)), timeout]);
      clearTimeout(timer);
    }
    return true;
  }

  /**
   * A graceful stop: no new flow starts, every flow is asked to stop at its
   * next step, and each gives its lease back, so the next process (or another
   * replica) resumes at once instead of waiting for the lease to lapse.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const { lease } of this.running.values()) lease.stop('stopping');
    if (!(await this.idle(graceMs))) {
      this.deps.logger.warn({ running: [...this.running.keys()] }, 'stopping with flows still under way; their leases lapse and they resume elsewhere');
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────

  private takeLease(env: Environment, fence: number): Environment {
    const token = Math.max(fence, env.fence) + 1;
    const until = new Date(this.deps.clock.now().getTime() + this.deps.leaseMs).toISOString();
    return { ...env, fence: token, lease: { holder: this.deps.workerId, token, until } };
  }

  private start(env: Environment): void {
    const flowName = flowOf(env.state);
    const flow = flowName ? this.flows.get(flowName) : undefined;
    if (!flow || !env.lease) return;
    const previous = this.running.get(env.name);
    // Already running under this lease or a newer one (a late `adopt`): nothing to start.
    if (previous && previous.lease.token >= env.lease.token) return;
    // A flow of this process on an older lease (a click that took it over): it stops at its next step,
    // and learns what the environment is now (destroying, say) from the lease loss.
    previous?.lease.stop('taken', env);
    const lease = new HeldLease(this.deps, env, () => this.stopping);
    const log = this.deps.logger.child({ environment: env.name, environmentId: env.id, flow: flowName, fence: env.lease.token });
    // The flow, its heartbeat and everything they start run under the id of the request that started it
    // (stored on the environment, so a takeover keeps it); an environment stored without one gets one now.
    const correlationId = env.correlationId ?? currentCorrelationId() ?? newCorrelationId();
    const done = withCorrelation(correlationId, () => this.supervise(lease, flow, log)).finally(() => {
      if (this.running.get(env.name)?.lease === lease) this.running.delete(env.name);
    });
    this.running.set(env.name, { lease, done });
  }

  /** Runs a flow to its end; whatever escapes it is recorded as a failure, and a lease still held is given back. */
  private async supervise(lease: HeldLease, flow: Flow, log: Logger): Promise<void> {
    const heartbeat = lease.keepAlive(log);
    const metrics = this.deps.metrics;
    const flowName = flowOf(lease.environment.state) ?? 'unknown';
    const startedAt = this.deps.clock.now().toISOString();
    metrics?.flowStarted(flowName);
    // One line at each end of a run, under the flow's correlation id: what joins a request to its flow.
    log.info({ state: lease.environment.state }, 'flow started');
    let outcome: 'done' | 'failed' | 'stopped' = 'done';
    try {
      await flow(lease);
    } catch (error) {
      outcome = 'stopped';
      if (error instanceof LeaseLost) {
        log.info({ reason: error.reason, state: error.environment?.state }, 'flow stopped: its lease is gone');
      } else {
        const ref = newReference();
        log.error({ err: error, ref }, 'flow failed with an error it did not record');
        await lease
          .fail({ step: failedStepOf(lease.environment.state), code: asDomainError(error).code, reason: 'It stopped on an unexpected error.', ref, retryable: true })
          .catch((err: unknown) => log.warn({ err }, 'could not record the failure'));
      }
    } finally {
      lease.stop('released');
      await heartbeat;
      if (lease.holdsTransitional) await lease.release().catch((err: unknown) => log.warn({ err }, 'could not give the lease back; it lapses'));
      if (metrics) countFlow(metrics, flowName, outcome, lease.environment, startedAt);
      log.info({ outcome, state: lease.environment.state }, 'flow ended');
    }
  }
}

/** What one run of a flow did, for `/metrics`: how it ended, and the steps that ended during it. */
function countFlow(metrics: MetricsPort, flow: string, outcome: 'done' | 'failed' | 'stopped', env: Environment, since: string): void {
  const failed = env.state === 'failed' && env.failure !== undefined && env.failure.at >= since;
  metrics.flowEnded(flow, failed ? 'failed' : outcome, failed ? env.failure?.step : undefined);
  for (const step of env.progress) {
    if (!step.endedAt || !step.startedAt || step.endedAt < since || (step.status !== 'done' && step.status !== 'failed')) continue;
    metrics.stepTimed(step.key.split(':')[0]!, step.status, Math.max(0, Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 1000);
  }
}

/**
 * The lease one flow holds on one environment, and the only way that flow
 * writes. Writes from one flow go one at a time (its servers work in parallel).
 */
export class HeldLease {
  private readonly controller = new AbortController();
  private readonly holder: string;
  readonly token: number;
  readonly name: string;
  readonly id: string;
  /** The last environment this lease wrote or read. */
  environment: Environment;
  /** Local time until which the lease is surely ours (from the start of the last write that renewed it). */
  private validUntil: number;
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;
  private writes = 0;

  constructor(
    private readonly deps: RunnerDeps,
    env: Environment,
    private readonly runnerStopping: () => boolean,
  ) {
    if (!env.lease) throw new Error('HeldLease needs an environment with a lease');
    this.holder = env.lease.holder;
    this.token = env.lease.token;
    this.name = env.name;
    this.id = env.id;
    this.environment = env;
    this.validUntil = deps.clock.now().getTime() + deps.leaseMs;
  }

  /** Aborted when the lease is lost or the process stops: pass it to every wait. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get holdsTransitional(): boolean {
    return !this.released && this.environment.lease?.token === this.token && isTransitional(this.environment.state);
  }

  /** Read, check the fence, change, write conditionally. `change` returning undefined writes nothing. */
  update(change: (env: Environment) => Environment | undefined): Promise<Environment> {
    return this.serial(() => this.write(change, { persistent: false }));
  }

  /**
   * Before acting outside the store: reads the lease (a consistent read, milliseconds) and throws
   * LeaseLost when it was taken, even if this process believes it still valid (another replica's
   * destroy takes it at once); renews it when it runs short.
   */
  async ensureHeld(): Promise<void> {
    this.throwIfStopped();
    const renew = this.deps.clock.now().getTime() > this.validUntil - this.deps.leaseMs / 2;
    await this.serial(() => this.write((e) => (renew ? { ...e } : undefined), { persistent: false }));
  }

  renew(): Promise<Environment> {
    return this.serial(() => this.write((e) => ({ ...e }), { persistent: false }));
  }

  /**
   * Records a failure, with the state to return to (`from`), retrying through
   * store outages until it lands, even past the lease's local validity: only
   * a takeover (a new token) stops it, and then the new holder redoes the step.
   */
  fail(failure: Omit<Failure, 'from' | 'at'>): Promise<Environment> {
    return this.serial(() => this.write((e) => (e.state === 'failed' ? undefined : fail(e, failure, this.deps.clock.now())), { persistent: true }));
  }

  /** Gives the lease back: the environment keeps its state, and any replica's sweep may take it over at once. */
  release(): Promise<void> {
    return this.serial(async () => {
      if (this.released) return;
      await this.write((e) => withoutLease(e), { persistent: false, attempts: 3, ignoreStop: true });
      this.released = true;
    });
  }

  /** Stops the flow at its next step (its waits end at once). `now`: what the environment is now, if known. */
  stop(reason: LeaseLost['reason'], now: Environment = this.environment): void {
    if (!this.controller.signal.aborted) this.controller.abort(new LeaseLost(reason, now));
  }

  /** Renews every third of the lease until the flow ends; a renewal that finds the lease taken stops the flow. */
  async keepAlive(log: Logger): Promise<void> {
    const every = Math.max(50, Math.floor(this.deps.leaseMs / 3));
    while (!this.signal.aborted) {
      await this.deps.clock.sleep(every, this.signal);
      if (this.signal.aborted) return;
      await this.renew().catch((err: unknown) => {
        if (!(err instanceof LeaseLost)) log.warn({ err }, 'could not renew the lease');
      });
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────

  private throwIfStopped(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
    if (this.runnerStopping()) {
      this.stop('stopping');
      throw this.controller.signal.reason;
    }
  }

  private lost(reason: LeaseLost['reason'], env?: Environment): never {
    this.stop(reason);
    throw new LeaseLost(reason, env);
  }

  private async write(
    change: (env: Environment) => Environment | undefined,
    opts: { persistent: boolean; attempts?: number; ignoreStop?: boolean },
  ): Promise<Environment> {
    const { clock, repo, leaseMs } = this.deps;
    const retry = this.deps.retry ?? { initialMs: 200, maxMs: 5_000 };
    let delay = retry.initialMs;
    let pending: { writeId: string; startedAt: number } | undefined;
    for (let attempt = 1; ; attempt++) {
      if (!opts.persistent && !opts.ignoreStop) this.throwIfStopped();
      if (this.released) this.lost('released');
      try {
        const current = await repo.get(this.name);
        // An earlier try landed though its answer was lost (a timeout; the SDK's own retry refused by the
        // condition): it is ours. Without this, a write that gave the lease up would look like a takeover.
        if (pending && current?.writeId === pending.writeId) return this.landed(current, pending.startedAt);
        if (!current || current.id !== this.id || current.lease?.holder !== this.holder || current.lease.token !== this.token) {
          this.lost('taken', current);
        }
        this.environment = current;
        const changed = change(current);
        if (!changed) return current;
        const startedAt = clock.now().getTime();
        const writeId = `${this.holder}/${this.token}/${++this.writes}`;
        pending = { writeId, startedAt };
        const next = isTransitional(changed.state) && changed.lease !== undefined
          ? { ...changed, writeId, lease: { holder: this.holder, token: this.token, until: new Date(startedAt + leaseMs).toISOString() } }
          : { ...withoutLease(changed), writeId };
        return this.landed(await repo.save(next, { holder: this.holder, token: this.token }), startedAt);
      } catch (e) {
        if (e instanceof LeaseLost) throw e;
        // Someone wrote between our read and our write: read again (a takeover is found by the check above).
        if (isConflict(e)) continue;
        if (!isTransient(e) || (opts.attempts !== undefined && attempt >= opts.attempts)) throw e;
        // The store is down or slow. Keep trying while the lease is surely ours; a failure record keeps trying regardless.
        if (!opts.persistent && clock.now().getTime() > this.validUntil) this.lost('expired', this.environment);
        await clock.sleep(delay, opts.persistent ? undefined : this.signal);
        delay = Math.min(delay * 2, retry.maxMs);
      }
    }
  }

  private landed(stored: Environment, startedAt: number): Environment {
    this.environment = stored;
    if (stored.lease) this.validUntil = startedAt + this.deps.leaseMs;
    else this.released = true;
    return stored;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** The write that starts a flow records whose it is (see `Environment.correlationId`). */
function correlated(env: Environment, how: 'start' | 'resume'): Environment {
  const correlationId = (how === 'resume' ? env.correlationId : undefined) ?? currentCorrelationId() ?? newCorrelationId();
  return { ...env, correlationId };
}

function withoutLease(env: Environment): Environment {
  const next = { ...env };
  delete next.lease;
  return next;
}

const isConflict = (e: unknown): boolean => isDomainError(e) && e.code === ErrorCodes.CONCURRENT_MODIFICATION;
const isTransient = (e: unknown): boolean => isDomainError(e) && e.code === ErrorCodes.STORE_ERROR && e.retryable;
