/**
 * In-memory stand-ins for the compute and remote-command ports, for core
 * tests on virtual time. They keep the ports' promises that the core relies
 * on (the contract suites check the real adapters keep them too): a launch is
 * all or none and idempotent per environment id and attempt (a replacement
 * per environment id, index and serial, and left out of its attempt's set);
 * listManaged lists every server it ever launched; a command is
 * sent once per key, and a second run with that key attaches to it.
 */
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import type { Clock } from '../../../src/core/ports/clock.port.js';
import type { ComputePort, Instance, LaunchRequest, ManagedInstance, WaitOptions } from '../../../src/core/ports/compute.port.js';
import type { CommandResult, RemoteCommandPort, RemoteStep, RunOptions } from '../../../src/core/ports/remote-command.port.js';

interface FakeInstance extends Instance {
  environmentId: string;
  environment: string;
  owner: string;
  instanceType: string;
  image: string;
  launchedAt: string;
  tags: Record<string, string>;
  /** `<index>.<serial>` on a replacement. */
  replacement?: string;
}

export class FakeCompute implements ComputePort {
  readonly instances = new Map<string, FakeInstance>();
  /** RunInstances calls that created servers. */
  launches = 0;
  /** Refuse the next launches with no capacity. */
  capacityFailures = 0;
  /** How long a launch takes (virtual time), as a RunInstances call does. */
  launchMs = 0;
  private seq = 0;

  constructor(private readonly clock?: Clock) {}

  async launch(request: LaunchRequest): Promise<Instance[]> {
    if (this.launchMs && this.clock) await this.clock.sleep(this.launchMs);
    const replacement = request.replacement ? `${request.replacement.index}.${request.replacement.serial}` : undefined;
    if (replacement !== undefined && request.count !== 1) {
      throw new DomainError(ErrorCodes.LAUNCH_FAILED, `A replacement is one server (asked for ${request.count}).`, { count: request.count });
    }
    const existing = [...this.instances.values()].filter(
      (i) =>
        i.environmentId === request.environmentId &&
        (replacement === undefined ? i.attempt === request.attempt && i.replacement === undefined : i.replacement === replacement),
    );
    if (existing.length) return existing.map(strip);
    if (this.capacityFailures > 0) {
      this.capacityFailures--;
      throw new DomainError(ErrorCodes.CAPACITY, `No capacity for ${request.instanceType}.`, {}, true);
    }
    this.launches++;
    const launchedAt = (this.clock?.now() ?? new Date()).toISOString();
    return Array.from({ length: request.count }, (_, place) => {
      const index = request.replacement?.index ?? place;
      const instance: FakeInstance = {
        instanceId: `i-${(++this.seq).toString(16).padStart(17, '0')}`,
        environmentId: request.environmentId,
        environment: request.environment,
        owner: request.owner,
        instanceType: request.instanceType,
        image: request.image,
        launchedAt,
        tags: {
          ...request.tags,
          'managed-by': 'dormouse',
          'dormouse:environment-id': request.environmentId,
          'dormouse:environment': request.environment,
          'dormouse:owner': request.owner,
          'dormouse:template': request.template,
          'dormouse:attempt': String(request.attempt),
          ...(replacement === undefined ? {} : { 'dormouse:index': String(index), 'dormouse:replacement': replacement }),
        },
        ...(replacement === undefined ? {} : { replacement }),
        attempt: request.attempt,
        index,
        state: 'running',
        privateIp: `10.0.0.${this.seq}`,
      };
      this.instances.set(instance.instanceId, instance);
      return strip(instance);
    });
  }

  async findByEnvironment(environmentId: string): Promise<Instance[]> {
    return [...this.instances.values()].filter((i) => i.environmentId === environmentId && !['shutting-down', 'terminated'].includes(i.state)).map(strip);
  }

  async listManaged(): Promise<ManagedInstance[]> {
    return [...this.instances.values()].map((i) => ({
      instanceId: i.instanceId,
      state: i.state,
      environmentId: i.environmentId,
      environment: i.environment,
      owner: i.owner,
      index: i.index,
      attempt: i.attempt,
      instanceType: i.instanceType,
      imageId: i.image,
      launchedAt: i.launchedAt,
      tags: { ...i.tags },
    }));
  }

  async waitUntilRunning(ids: readonly string[], options: WaitOptions): Promise<Instance[]> {
    options.signal?.throwIfAborted();
    const found = ids.map((id) => this.instances.get(id));
    const lost = found.find((i) => !i || i.state === 'terminated');
    if (lost !== undefined) throw new DomainError(ErrorCodes.INSTANCE_LOST, `Server ${lost?.instanceId ?? '?'} is gone.`, {}, true);
    options.onPoll?.(found.map((i) => strip(i as FakeInstance)));
    return found.map((i) => strip(i as FakeInstance));
  }

  async terminate(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const i = this.instances.get(id);
      if (i) i.state = 'terminated';
    }
  }

  async waitUntilTerminated(_ids: readonly string[], options: WaitOptions): Promise<void> {
    options.signal?.throwIfAborted();
  }

  async stop(ids: readonly string[]): Promise<void> {
    this.setState(ids, 'stopped');
  }

  async waitUntilStopped(_ids: readonly string[], options: WaitOptions): Promise<void> {
    options.signal?.throwIfAborted();
  }

  async start(ids: readonly string[]): Promise<void> {
    this.setState(ids, 'running');
  }

  private setState(ids: readonly string[], state: 'stopped' | 'running'): void {
    for (const id of ids) {
      const i = this.instances.get(id);
      if (!i || i.state === 'terminated') throw new DomainError(ErrorCodes.INSTANCE_LOST, `Server ${id} is gone.`, { instanceId: id, state: i?.state ?? 'terminated' });
      i.state = state;
    }
  }

  live(environmentId: string): FakeInstance[] {
    return [...this.instances.values()].filter((i) => i.environmentId === environmentId && i.state !== 'terminated');
  }
}

function strip(i: FakeInstance): Instance {
  return {
    instanceId: i.instanceId,
    state: i.state,
    index: i.index,
    attempt: i.attempt,
    ...(i.privateIp === undefined ? {} : { privateIp: i.privateIp }),
  };
}

interface Command {
  instanceId: string;
  step: RemoteStep;
  result: Promise<CommandResult>;
  complete: (result: CommandResult) => void;
}

export const success = (durationMs = 1000): CommandResult => ({ status: 'Success', exitCode: 0, stdoutTail: '', stderrTail: '', durationMs });

export class FakeCommands implements RemoteCommandPort {
  /** Every command sent, in order (attaching to one already sent is not a send). */
  readonly sent: Array<{ instanceId: string; key: string; name: string }> = [];
  private readonly commands = new Map<string, Command>();
  /** Step names that fail. */
  readonly failing = new Set<string>();
  /** What a failing step prints on stderr. */
  failingOutput = 'boom';

  /**
   * `stepMs`: each command ends after that much (virtual) time. `manual`:
   * commands end only when the test calls `complete`.
   */
  constructor(
    private readonly clock: Clock,
    private readonly opts: { stepMs?: number; manual?: boolean } = {},
  ) {}

  async run(instanceId: string, step: RemoteStep, options: RunOptions): Promise<CommandResult> {
    options.signal?.throwIfAborted();
    const id = `${instanceId}|${step.key}`;
    let command = this.commands.get(id);
    if (!command) {
      let complete!: (r: CommandResult) => void;
      const result = new Promise<CommandResult>((resolve) => (complete = resolve));
      command = { instanceId, step, result, complete };
      this.commands.set(id, command);
      this.sent.push({ instanceId, key: step.key, name: step.name });
      if (!this.opts.manual) {
        const c = command;
        void this.clock.sleep(this.opts.stepMs ?? 1000).then(() =>
          c.complete(this.failing.has(step.name) ? { status: 'Failed', exitCode: 1, stdoutTail: '', stderrTail: this.failingOutput, durationMs: this.opts.stepMs ?? 1000 } : success(this.opts.stepMs)),
        );
      }
    }
    options.onAccepted?.();
    return abortable(command.result, options.signal);
  }

  /** Ends the commands still running whose step has this name (manual mode). */
  complete(name: string, result: CommandResult = success()): number {
    let n = 0;
    for (const c of this.commands.values()) {
      if (c.step.name === name) {
        c.complete(result);
        n++;
      }
    }
    return n;
  }

  sentCount(name: string): number {
    return this.sent.filter((s) => s.name === name).length;
  }
}

function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
