import type { Template } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { RemoteCommandPort } from '../ports/remote-command.port.js';
import { WorkflowRunner } from '../workflow/runner.js';
import { DestroyEnvironment, DestroyFlow } from './destroy.use-case.js';
import { ProvisionFlow } from './provision.flow.js';
import { EnvironmentQueries } from './queries.use-case.js';
import { RequestEnvironment } from './request.use-case.js';
import { ResumeStuckEnvironments } from './resume.use-case.js';
import { RetryEnvironment } from './retry.use-case.js';

/** What the composition root provides: ports and settings. Each use case takes only what it uses. */
export interface CorePorts {
  repo: EnvironmentRepository;
  compute: ComputePort;
  commands: RemoteCommandPort;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  admins: readonly string[];
  timeouts: { runningMs: number; agentMs: number };
  /** This process, in leases: unique per process start. */
  workerId: string;
  /** How long a flow's lease lasts unless renewed (tens of seconds). */
  leaseMs: number;
  /** Where bootstrap scripts find the environment's data on a server (the sandbox sets its own per server). */
  serverDataDir?: string;
  /** Backoff of store retries inside a flow (tests shorten it). */
  storeRetry?: { initialMs: number; maxMs: number };
}

export type UseCases = ReturnType<typeof createUseCases>;

/** One instance of each use case: Slack listeners and scheduled jobs call the same ones. */
export function createUseCases(ports: CorePorts) {
  const { repo, compute, commands, notifier, clock, logger, templates, admins, timeouts } = ports;
  const runner = new WorkflowRunner({
    repo,
    clock,
    logger,
    workerId: ports.workerId,
    leaseMs: ports.leaseMs,
    ...(ports.storeRetry ? { retry: ports.storeRetry } : {}),
  });
  const events = repo;
  const provision = new ProvisionFlow({
    compute,
    commands,
    notifier,
    events,
    clock,
    logger,
    templates,
    timeouts,
    ...(ports.serverDataDir ? { serverDataDir: ports.serverDataDir } : {}),
  });
  runner.register('provision', provision.run);
  runner.register('destroy', new DestroyFlow({ compute, notifier, events, clock, logger, timeouts }).run);
  return {
    request: new RequestEnvironment({ repo, runner, notifier, clock, logger, templates }),
    destroy: new DestroyEnvironment({ repo, events, runner, notifier, clock, logger, admins }),
    retry: new RetryEnvironment({ repo, events, runner, notifier, clock, logger, admins }),
    resume: new ResumeStuckEnvironments({ runner }),
    queries: new EnvironmentQueries({ repo, templates }),
    runner,
  };
}
