import { afterGate, RequestGate } from './approval.use-case.js';
import {
  failedStepOf,
  finishStep,
  startStep,
  transition,
  type Environment,
  type FailedStep,
  type ProgressStep,
  type ServerRecord,
} from '../environment/environment.js';
import { DomainError, ErrorCodes, asDomainError } from '../environment/errors.js';
import type { BootstrapStep, Template } from '../environment/template.js';
import { scrubSecrets } from '../policies/secrets.policy.js';
import type { ComputePort, Instance } from '../ports/compute.port.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { CommandResult, RemoteCommandPort } from '../ports/remote-command.port.js';
import { LeaseLost, type HeldLease } from '../workflow/runner.js';
import { audit, failureOf, tell, templateOf } from './shared.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** How many times one run launches anew because servers were lost, before it gives up and says so. */
const MAX_RELAUNCHES = 2;

export interface ProvisionDeps {
  compute: ComputePort;
  commands: RemoteCommandPort;
  notifier: NotifierPort;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  timeouts: { runningMs: number; agentMs: number };
  /** Where bootstrap scripts find the environment's data on a server (the sandbox sets its own per server). */
  serverDataDir?: string;
  /** Quotas and approval, for a request whose gate a crash interrupted (the request runs it first). */
  gate?: RequestGate;
}

/**
 * Where a flow that sets up servers goes at each turn. Provisioning moves
 * through states (provisioning → bootstrapping → ready); a wake stays in
 * `waking` and records its phase, so both share the launch and bootstrap.
 */
export interface SetupPhases {
  /** Every server runs: bootstrap next. */
  running(env: Environment, now: Date): Environment;
  /** Servers were lost: launch a new set. */
  relaunching(env: Environment, now: Date): Environment;
  /** Every server is bootstrapped. */
  bootstrapped(env: Environment, now: Date): Environment;
  /**
   * A repair: servers found gone are not replaced by a whole new set (that
   * would touch the healthy ones); the flow fails instead, and the next
   * repair replaces them.
   */
  keepHealthy?: boolean;
}

const PROVISION_PHASES: SetupPhases = {
  running: (e, now) => transition(e, 'bootstrapping', now),
  relaunching: (e, now) => (e.state === 'bootstrapping' ? transition(e, 'provisioning', now) : e),
  bootstrapped: (e, now) => {
    const ready = transition(finishStep(e, 'agent', now), 'ready', now);
    // The last step's time is the whole wait, from request to ready.
    const total: ProgressStep = { key: 'ready', label: 'Ready', status: 'done', startedAt: e.createdAt, endedAt: now.toISOString() };
    return { ...ready, progress: [...ready.progress.filter((p) => p.key !== 'ready'), total] };
  },
};

/**
 * Takes an environment from `requested` (or wherever a crash left it) to
 * `ready`: launch, wait for running, bootstrap every server, ready. Runs on
 * the workflow runner under a fenced lease. Each phase starts from the stored
 * state, so a resumed run continues instead of repeating: the launch is
 * idempotent per environment id and attempt, each bootstrap command per its
 * key (a resumed run attaches to a command already sent), and bootstrap
 * resumes after the last step each server finished.
 */
export class ProvisionFlow {
  constructor(private readonly deps: ProvisionDeps) {}

  readonly run = async (lease: HeldLease): Promise<void> => {
    let relaunches = 0;
    try {
      let env = lease.environment;
      if (env.state === 'requested' && this.deps.gate?.active) {
        const outcome = await this.deps.gate.decide(env);
        if (outcome.kind !== 'go') {
          const now = this.deps.clock.now();
          const decided = await lease.update((e) => RequestGate.apply(e, outcome, now));
          await afterGate(this.deps, decided);
          if (decided.state === 'rejected') tell(this.deps.logger, () => this.deps.notifier.showProgress(decided));
          return;
        }
      }
      if (env.state === 'requested') {
        env = await lease.update((e) => (e.state === 'requested' ? this.startLaunch(transition(e, 'provisioning', this.deps.clock.now())) : undefined));
      }
      for (;;) {
        if (env.state === 'provisioning') env = await this.launch(lease, PROVISION_PHASES);
        else if (env.state === 'bootstrapping') {
          env = await this.bootstrap(lease, PROVISION_PHASES);
          if (env.state === 'provisioning' && ++relaunches > MAX_RELAUNCHES) throw keptDisappearing();
          if (env.state === 'ready') {
            await audit(this.deps, env, 'state:ready', `Ready: ${env.servers.map((s) => `${s.instanceId} (${s.privateIp ?? 'no IP'})`).join(', ')}`);
            tell(this.deps.logger, () => this.deps.notifier.showProgress(env));
            tell(this.deps.logger, () => this.deps.notifier.threadNote(env, 'ready'));
          }
        } else return;
      }
    } catch (error) {
      if (error instanceof LeaseLost) throw error;
      await this.recordFailure(lease, error);
    }
  };

  private startLaunch(env: Environment): Environment {
    return startStep(env, 'launch', `Launching ${plural(env.count, 'instance')} (${env.instanceType})`, this.deps.clock.now());
  }

  /** Launches the environment's servers (or finds those launched before) and waits until they run. */
  async launch(lease: HeldLease, phases: SetupPhases): Promise<Environment> {
    const { deps } = this;
    let env = await lease.update((e) => this.startLaunch(e));
    tell(deps.logger, () => deps.notifier.showProgress(env));
    const template = templateOf(deps.templates, env);
    await lease.ensureHeld();
    const launched = await step('launch', () =>
      deps.compute.launch({
        environmentId: env.id,
        environment: env.name,
        owner: env.owner,
        template: template.name,
        image: template.image,
        instanceType: env.instanceType,
        count: env.count,
        subnets: template.subnets,
        securityGroups: template.securityGroups,
        ...(template.instanceProfile ? { instanceProfile: template.instanceProfile } : {}),
        volumes: template.volumes,
        tags: template.tags,
        attempt: env.attempt,
        // EC2 remembers a token for a day; the id is unique, so a reused name never collides.
        idempotencyKey: `dormouse-${env.id}-${env.attempt}`,
      }),
    );
    const live = launched.filter((i) => i.state === 'pending' || i.state === 'running');
    if (live.length !== env.count) return this.relaunch(lease, phases, launched, `${live.length} of ${env.count} servers of attempt ${env.attempt} are left`);

    const servers: ServerRecord[] = live
      .map((i) => ({ index: i.index, instanceId: i.instanceId, state: 'pending' as const, ...(i.privateIp ? { privateIp: i.privateIp } : {}) }))
      .sort((a, b) => a.index - b.index);
    try {
      env = await lease.update((e) => {
        const now = deps.clock.now();
        const done = finishStep({ ...e, servers }, 'launch', now, servers.map((s) => s.instanceId).join(', '));
        return startStep(done, 'running', 'Waiting for the instances to run', now);
      });
    } catch (e) {
      // Destroyed while we were launching: what we just made must not be left behind.
      // (Taken over by a resume, they are the new holder's: the launch is idempotent, it found them too.)
      const now = e instanceof LeaseLost ? e.environment : undefined;
      if (now && (now.state === 'destroying' || now.state === 'destroyed') && now.id === env.id) {
        await deps.compute.terminate(servers.map((s) => s.instanceId)).catch(() => undefined);
      }
      throw e;
    }
    await audit(deps, env, 'launched', `Launched ${servers.map((s) => s.instanceId).join(', ')}`);
    tell(deps.logger, () => deps.notifier.showProgress(env));

    const running = await step('running', () =>
      deps.compute.waitUntilRunning(
        servers.map((s) => s.instanceId),
        {
          timeoutMs: deps.timeouts.runningMs,
          signal: lease.signal,
          onPoll: (now) => this.showWaiting(lease, 'running', now.filter((i) => i.state === 'running').length, servers.length),
        },
      ),
    );
    env = await lease.update((e) => {
      const now = deps.clock.now();
      const withIps = e.servers.map((s) => {
        const r = running.find((i) => i.instanceId === s.instanceId);
        return { ...s, state: 'running' as const, ...(r?.privateIp ? { privateIp: r.privateIp } : {}) };
      });
      const next = finishStep({ ...e, servers: withIps }, 'running', now, e.count > 1 ? `all ${e.count} running` : undefined);
      return startStep(phases.running(next, now), 'agent', 'Waiting for the SSM agent', now);
    });
    await audit(deps, env, 'state:bootstrapping', 'Instances running');
    tell(deps.logger, () => deps.notifier.showProgress(env));
    return env;
  }

  /**
   * Servers were lost (terminated under us, or left from an earlier attempt
   * in part): what is left of them goes, and a new attempt launches a whole
   * set, as EC2 gives all or none.
   */
  private async relaunch(lease: HeldLease, phases: SetupPhases, leftovers: readonly Instance[], why: string): Promise<Environment> {
    const { deps } = this;
    deps.logger.warn({ environment: lease.name, why }, 'launching a new set of servers');
    await lease.ensureHeld();
    if (leftovers.length) await step('launch', () => deps.compute.terminate(leftovers.map((i) => i.instanceId)));
    const env = await lease.update((e) => {
      const now = deps.clock.now();
      return this.startLaunch({ ...phases.relaunching(e, now), attempt: e.attempt + 1, servers: [], progress: [] });
    });
    await audit(deps, env, 'relaunch', `New servers (attempt ${env.attempt}): ${why}`);
    return env;
  }

  /**
   * Runs the template's bootstrap steps on every server (after the last step
   * each finished), on new servers when they are gone. Returns the
   * environment after `phases.bootstrapped`, or `phases.relaunching`.
   */
  async bootstrap(lease: HeldLease, phases: SetupPhases): Promise<Environment> {
    const { deps } = this;
    let env = lease.environment;
    const template = templateOf(deps.templates, env);

    // Resumed after a crash, or retried much later: are its servers still there?
    await lease.ensureHeld();
    const alive = await step('agent', () => deps.compute.findByEnvironment(env.id));
    const missing = env.servers.filter((s) => !alive.some((a) => a.instanceId === s.instanceId && a.state === 'running'));
    if (missing.length && phases.keepHealthy) {
      throw new StepError('bootstrap', new DomainError(ErrorCodes.INSTANCE_LOST, `Server${missing.length === 1 ? '' : 's'} ${missing.map((s) => s.instanceId).join(', ')} went while the repair ran.`, { instanceIds: missing.map((s) => s.instanceId) }, true));
    }
    if (missing.length) {
      return this.relaunch(lease, phases, alive, `server${missing.length === 1 ? '' : 's'} ${missing.map((s) => s.instanceId).join(', ')} gone`);
    }

    env = await lease.update((e) => {
      const now = deps.clock.now();
      let next = e.progress.some((p) => p.key === 'agent' && p.status === 'done') ? e : startStep(e, 'agent', 'Waiting for the SSM agent', now);
      for (const s of e.servers) {
        if (s.state !== 'ready') next = startStep(next, `bootstrap:${s.index}`, `Bootstrap server ${s.index + 1}`, now);
      }
      return next;
    });
    tell(deps.logger, () => deps.notifier.showProgress(env));

    const accepted = new Set(env.progress.some((p) => p.key === 'agent' && p.status === 'done') ? env.servers.map((s) => s.index) : []);
    const onAccepted = async (index: number) => {
      if (accepted.has(index)) return;
      accepted.add(index);
      if (accepted.size === env.servers.length) {
        const e = await lease.update((x) => finishStep(x, 'agent', deps.clock.now(), x.count > 1 ? `online on all ${x.count} servers` : 'online'));
        tell(deps.logger, () => deps.notifier.showProgress(e));
      } else {
        this.showWaiting(lease, 'agent', accepted.size, env.servers.length);
      }
    };

    // The first server to fail fails the environment; the others stop at their next step.
    const abort = new AbortController();
    const stopOthers = () => abort.abort(lease.signal.reason);
    lease.signal.addEventListener('abort', stopOthers, { once: true });
    try {
      await Promise.all(
        env.servers
          .filter((s) => s.state !== 'ready')
          .map((server) =>
            this.bootstrapServer(lease, env, server, template.bootstrap, onAccepted, abort.signal).catch((e: unknown) => {
              abort.abort(e);
              throw e;
            }),
          ),
      );
    } finally {
      lease.signal.removeEventListener('abort', stopOthers);
    }

    return lease.update((e) => {
      const now = deps.clock.now();
      return phases.bootstrapped(finishStep(e, 'agent', now), now);
    });
  }

  private async bootstrapServer(
    lease: HeldLease,
    env: Environment,
    server: ServerRecord,
    steps: readonly BootstrapStep[],
    onAccepted: (index: number) => Promise<void>,
    stopped: AbortSignal,
  ): Promise<void> {
    const { deps } = this;
    const key = `bootstrap:${server.index}`;
    // Resume after the last step this server finished (steps must be safe to repeat anyway).
    const from = server.lastStep ? steps.findIndex((s) => s.name === server.lastStep) + 1 : 0;
    for (const bootstrapStep of steps.slice(from)) {
      if (stopped.aborted) return;
      const shown = await lease.update((e) => ({
        ...e,
        servers: e.servers.map((s) => (s.index === server.index ? { ...s, state: 'bootstrapping' as const } : s)),
        progress: e.progress.map((p) => (p.key === key ? { ...p, detail: `running ${bootstrapStep.name}` } : p)),
      }));
      tell(deps.logger, () => deps.notifier.showProgress(shown));
      await lease.ensureHeld();
      const result = await step(
        'bootstrap',
        () =>
          deps.commands.run(
            server.instanceId,
            {
              name: bootstrapStep.name,
              script: bootstrapStep.run,
              timeoutSeconds: bootstrapStep.timeoutSeconds,
              sandboxSafe: bootstrapStep.sandboxSafe,
              // One command per environment, launch, retry, server and step: a resumed run attaches to it.
              // A replacement server (a repair) has its own commands: its index's earlier ones ran on the server it replaces.
              key: `${env.id}/${env.attempt}.${env.retries}/${server.index}${server.replacement ? `r${server.replacement}` : ''}/${bootstrapStep.name}`,
              env: {
                DORMOUSE_ENVIRONMENT: env.name,
                DORMOUSE_SERVER_INDEX: String(server.index),
                DORMOUSE_SERVER_COUNT: String(env.count),
                ...(deps.serverDataDir ? { DORMOUSE_DATA_DIR: deps.serverDataDir } : {}),
              },
            },
            {
              agentTimeoutMs: deps.timeouts.agentMs,
              signal: AbortSignal.any([lease.signal, stopped]),
              // Progress only: a lost lease here is found again by the next write.
              onAccepted: () => void onAccepted(server.index).catch((err: unknown) => deps.logger.debug({ err }, 'agent progress not recorded')),
            },
          ),
        server.index,
      );
      if (result.status !== 'Success') throw new StepError('bootstrap', commandFailure(server, bootstrapStep, result), server.index);
      await lease.update((e) => ({ ...e, servers: e.servers.map((s) => (s.index === server.index ? { ...s, lastStep: bootstrapStep.name } : s)) }));
      await audit(deps, env, `step:${bootstrapStep.name}`, `Server ${server.index + 1}: ${bootstrapStep.name} finished in ${Math.round(result.durationMs / 100) / 10} s`);
    }
    const done = await lease.update((e) => {
      const next = finishStep(e, key, deps.clock.now(), `${steps.length} step${steps.length === 1 ? '' : 's'} done`);
      return { ...next, servers: next.servers.map((s) => (s.index === server.index ? { ...s, state: 'ready' as const } : s)) };
    });
    await onAccepted(server.index);
    tell(deps.logger, () => deps.notifier.showProgress(done));
  }

  /**
   * Long waits show how far they got ("2 of 3"), when that changes. Fire and
   * forget: progress must never hold up or fail the wait itself.
   */
  private showWaiting(lease: HeldLease, key: 'running' | 'agent', done: number, of: number): void {
    if (of < 2) return;
    const detail = `${done} of ${of}`;
    const current = lease.environment.progress.find((p) => p.key === key);
    if (!current || current.status !== 'running' || current.detail === detail) return;
    lease
      .update((e) => {
        const step = e.progress.find((p) => p.key === key);
        return step && step.status === 'running' && step.detail !== detail ? { ...e, progress: e.progress.map((p) => (p === step ? { ...p, detail } : p)) } : undefined;
      })
      .then((e) => this.deps.notifier.showProgress(e))
      .catch((err: unknown) => this.deps.logger.debug({ err }, 'wait progress not shown'));
  }

  /** Records what stopped the flow as its failure, and tells the owner and ops. */
  recordFailure(lease: HeldLease, error: unknown): Promise<void> {
    return recordFlowFailure(this.deps, lease, error, 'provisioning failed');
  }
}

/**
 * Records what stopped a flow as its failure (on the step it happened in,
 * with the state to return to on retry), and tells the owner and ops.
 */
export async function recordFlowFailure(
  deps: { notifier: NotifierPort; events: Pick<EnvironmentRepository, 'appendEvent'>; clock: Clock; logger: Logger },
  lease: HeldLease,
  error: unknown,
  what: string,
): Promise<void> {
  const stepError = error instanceof StepError ? error : undefined;
  const domain = asDomainError(stepError ? stepError.cause : error);
  deps.logger.warn({ err: domain, environment: lease.name }, what);
  const recorded = failureOf(domain, deps.logger, { environment: lease.name });
  const state = lease.environment.state;
  const env = await lease.fail({
    // An error outside a labelled step (the store, say) is put on the phase under way.
    step: stepError?.step ?? failedStepOf(state),
    ...recorded,
    // Always offered: the cause (a quota, a template, capacity) may have been fixed by the time someone retries.
    retryable: true,
    ...(typeof domain.details.output === 'string' ? { output: domain.details.output } : {}),
    ...(stepError?.server !== undefined ? { server: stepError.server } : {}),
  });
  await audit(deps, env, 'state:failed', `Failed at ${env.failure?.step}: ${recorded.reason}`);
  tell(deps.logger, () => deps.notifier.showProgress(env));
  tell(deps.logger, () => deps.notifier.failed(env));
  tell(deps.logger, () => deps.notifier.opsAlert(env));
}

export function keptDisappearing(): StepError {
  return new StepError('running', new DomainError(ErrorCodes.INSTANCE_LOST, 'Its servers kept disappearing while they were set up.', { variant: 'kept_disappearing' }, true));
}

/** Runs one phase, labelling any error with the step it happened in. */
export async function step<T>(name: FailedStep, work: () => Promise<T>, server?: number): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LeaseLost) throw error;
    throw new StepError(name, error, server);
  }
}

export class StepError extends Error {
  constructor(
    readonly step: FailedStep,
    override readonly cause: unknown,
    readonly server?: number,
  ) {
    super(`step ${step} failed`);
  }
}

export function commandFailure(server: ServerRecord, step: Pick<BootstrapStep, 'name' | 'timeoutSeconds'>, result: CommandResult): DomainError {
  // Shown in Slack and kept in the store: what looks like a secret is hidden first.
  const output = scrubSecrets([result.stdoutTail.trim(), result.stderrTail.trim()].filter(Boolean).join('\n').split('\n').slice(-15).join('\n'));
  const where = { server: server.index + 1, instanceId: server.instanceId, step: step.name };
  if (result.status === 'TimedOut') {
    return new DomainError(
      ErrorCodes.COMMAND_TIMED_OUT,
      `Server ${where.server} (${server.instanceId}): step ${step.name} did not finish within ${step.timeoutSeconds} s.`,
      { ...where, output, timeoutSeconds: step.timeoutSeconds },
      true,
    );
  }
  const cancelled = result.status === 'Cancelled';
  return new DomainError(
    ErrorCodes.COMMAND_FAILED,
    `Server ${where.server} (${server.instanceId}): step ${step.name} ${cancelled ? 'was cancelled' : `exited with code ${result.exitCode ?? '?'}`}.`,
    { ...where, output, exitCode: result.exitCode, cancelled },
    true,
  );
}
