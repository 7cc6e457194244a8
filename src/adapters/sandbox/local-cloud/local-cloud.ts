/**
 * The sandbox's cloud: EC2 and SSM played by folders on this machine.
 *
 * `LocalCloud` implements both ports itself; `cloud.compute` and
 * `cloud.commands` are the same object seen through each port, so the
 * composition root can wire them like the AWS adapters
 * (`new Provision({ compute: cloud.compute, commands: cloud.commands, … })`).
 *
 * - A server is a folder (see server-folders.ts). Its state comes from
 *   timestamps and the injected clock: pending for `bootMs`, then running; its
 *   agent accepts commands `agentMs` later; after terminate it is
 *   shutting-down for `terminateMs`, then terminated. Nothing runs on timers,
 *   so a restarted process sees servers exactly where they would be.
 * - Terminate never deletes: the folder and its data stay, marked terminated
 *   in instance.json, and are no longer listed by findByEnvironment. Removing
 *   the data of a terminated server is left to a person (delete the folder).
 * - Bootstrap steps are written to the server's bootstrap.log (the exact
 *   script, as SSM would receive it) and are not executed on this machine,
 *   unless the step is marked sandbox-safe: then `bash -c` runs it in the
 *   server's data directory, with only the step's variables, PATH, HOME, LANG
 *   and DORMOUSE_DATA_DIR in its environment (never this process's tokens).
 * - Faults from configuration (sandbox-faults.ts) refuse launches and make
 *   steps fail, slow down or hang.
 *
 * One process owns a root folder at a time: launches are serialised within
 * the process (so a double click does not launch twice), not across processes.
 */
import type { ComputePort, Instance, InstanceState, LaunchRequest, WaitOptions } from '../../../core/ports/compute.port.js';
import type { Clock } from '../../../core/ports/notifier.port.js';
import {
  renderScript,
  type CommandResult,
  type RemoteCommandPort,
  type RemoteStep,
  type RunOptions,
} from '../../../core/ports/remote-command.port.js';
import { DomainError, ErrorCodes } from '../../../core/environment/errors.js';
import { runOnHost } from './host-shell.js';
import { resolveSandboxDelays, type SandboxDelays } from './sandbox-delays.js';
import { capacityRefuses, type SandboxFaults } from './sandbox-faults.js';
import { isGone, newInstanceId, ServerFolders, stateAt, type ServerRecord } from './server-folders.js';

export { DEFAULT_SANDBOX_DELAYS, FAST_SANDBOX_DELAYS, parseSandboxDelays, type SandboxDelays } from './sandbox-delays.js';
export { formatSandboxFaults, parseSandboxFaults, type SandboxFaults } from './sandbox-faults.js';

export interface LocalCloudOptions {
  /** Where servers live (`<rootDir>/servers/<instanceId>/`); created on first launch. */
  rootDir: string;
  clock: Clock;
  delays?: Partial<SandboxDelays>;
  faults?: SandboxFaults;
}

/** A server as the console and tests see it: its record, with state computed now. */
export interface LocalServer extends ServerRecord {
  agentOnline: boolean;
  folder: string;
  dataDir: string;
}

/** What a step that is only recorded prints, so a person reading Slack knows why it was quick. */
export const RECORDED_STEP_STDOUT = '(sandbox: step recorded, not run on this machine)';

const TAIL_LINES = 20;
const FAULTS_SETTING = 'DORMOUSE_SANDBOX_FAULTS';

export class LocalCloud implements ComputePort, RemoteCommandPort {
  /** This cloud as EC2. */
  readonly compute: ComputePort = this;
  /** This cloud as SSM Run Command. */
  readonly commands: RemoteCommandPort = this;
  readonly rootDir: string;
  readonly delays: Readonly<SandboxDelays>;
  readonly faults: Readonly<SandboxFaults>;

  private readonly clock: Clock;
  private readonly folders: ServerFolders;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: LocalCloudOptions) {
    this.rootDir = options.rootDir;
    this.clock = options.clock;
    this.delays = Object.freeze(resolveSandboxDelays(options.delays));
    this.faults = Object.freeze({ ...options.faults });
    this.folders = new ServerFolders(options.rootDir);
  }

  // ---------------------------------------------------------------- compute

  async launch(request: LaunchRequest): Promise<Instance[]> {
    if (!Number.isInteger(request.count) || request.count < 1) {
      throw new DomainError(
        ErrorCodes.LAUNCH_FAILED,
        `Cannot launch ${String(request.count)} servers for \`${request.environment}\`: the count must be a whole number of at least 1.`,
        { environment: request.environment, count: request.count },
      );
    }
    return this.serial(async () => {
      const now = this.clock.now();
      const all = await this.folders.list();
      // Idempotency (EC2's ClientToken and tags): servers of this environment and
      // attempt that are still alive are returned, and only missing indexes launched.
      const existing = all.filter(
        (r) => r.environment === request.environment && r.attempt === request.attempt && !isGone(stateAt(r, now)),
      );
      const have = new Set(existing.map((r) => r.index));
      const missing = Array.from({ length: request.count }, (_, i) => i).filter((i) => !have.has(i));
      if (missing.length > 0 && capacityRefuses(this.faults, request.instanceType)) {
        throw new DomainError(
          ErrorCodes.CAPACITY,
          `There is not enough ${request.instanceType} capacity to launch ${request.count} server${request.count === 1 ? '' : 's'} ` +
            `for \`${request.environment}\` right now. Try again in a few minutes, or pick another instance type. ` +
            `(Sandbox: refused on purpose by the capacity fault in ${FAULTS_SETTING}.)`,
          { environment: request.environment, instanceType: request.instanceType, count: request.count, fault: 'capacity' },
          true,
        );
      }
      const usedIps = new Set(all.map((r) => r.privateIp));
      const created: ServerRecord[] = [];
      for (const index of missing) {
        const record = this.newRecord(request, index, now, nextFreeIp(usedIps));
        usedIps.add(record.privateIp);
        await this.folders.create(
          record,
          logEntry(
            now,
            `launch ${record.instanceId}: environment ${record.environment}, server ${index}, attempt ${record.attempt}, ` +
              `${record.instanceType}, image ${record.image}, ip ${record.privateIp}; running at ${record.runningAt}, agent online at ${record.agentOnlineAt}`,
          ),
        );
        created.push(record);
      }
      return [...existing, ...created].sort(byAttemptThenIndex).map((r) => toInstance(r, now));
    });
  }

  async findByEnvironment(environment: string): Promise<Instance[]> {
    const now = this.clock.now();
    const records = await this.folders.list();
    return records
      .filter((r) => r.environment === environment && stateAt(r, now) !== 'terminated')
      .sort(byAttemptThenIndex)
      .map((r) => toInstance(r, now));
  }

  async waitUntilRunning(instanceIds: readonly string[], options: WaitOptions): Promise<Instance[]> {
    return this.poll(instanceIds, options, 'running', (instances, records) => {
      const lost = instances.find((i) => isGone(i.state));
      if (lost) {
        throw new DomainError(
          ErrorCodes.INSTANCE_LOST,
          `Server ${lost.instanceId} is ${lost.state} while we were waiting for it to run. Retry to launch it again.`,
          { instanceId: lost.instanceId, state: lost.state },
        );
      }
      if (instances.every((i) => i.state === 'running' && i.privateIp)) return { done: true };
      const now = this.clock.now().getTime();
      const next = Math.min(...records.map((r) => Date.parse(r.runningAt) - now).filter((ms) => ms > 0));
      return { done: false, nextChangeMs: next };
    });
  }

  async terminate(instanceIds: readonly string[]): Promise<void> {
    await this.serial(async () => {
      for (const id of instanceIds) {
        const record = await this.folders.read(id);
        // Already gone (or never ours) is not an error, as with EC2.
        if (!record || record.terminateRequestedAt !== undefined) continue;
        const now = this.clock.now();
        record.terminateRequestedAt = now.toISOString();
        record.terminatedAt = new Date(now.getTime() + this.delays.terminateMs).toISOString();
        record.state = stateAt(record, now);
        await this.folders.write(record);
        await this.folders.appendLog(
          id,
          logEntry(now, `terminate requested; terminated at ${record.terminatedAt} (folder and data kept)`),
        );
      }
    });
  }

  async waitUntilTerminated(instanceIds: readonly string[], options: WaitOptions): Promise<void> {
    await this.poll(instanceIds, options, 'terminated', (instances, records) => {
      if (instances.every((i) => i.state === 'terminated')) return { done: true };
      const now = this.clock.now().getTime();
      const next = Math.min(
        ...records.map((r) => (r.terminatedAt ? Date.parse(r.terminatedAt) - now : Infinity)).filter((ms) => ms > 0),
      );
      return { done: false, nextChangeMs: next };
    });
  }

  // --------------------------------------------------------------- commands

  async run(instanceId: string, step: RemoteStep, options: RunOptions): Promise<CommandResult> {
    await this.waitForAgent(instanceId, step, options);
    options.onAccepted?.();

    const script = renderScript(step);
    const faults = this.faults;
    const hangs = faults.timeoutStep?.includes(step.name) ?? false;
    const fails = faults.failStep?.includes(step.name) ?? false;
    const slowMs = faults.slowStep?.[step.name] ?? 0;
    const executes = step.sandboxSafe && !hangs && !fails;
    const how = hangs
      ? `not run: the timeout-step fault makes it hang`
      : fails
        ? `not run: the fail-step fault makes it fail`
        : executes
          ? `run on this machine in ${this.folders.dataDir(instanceId)}`
          : `recorded only: not marked sandbox-safe`;

    const sentAt = this.clock.now();
    await this.folders.appendLog(
      instanceId,
      logEntry(sentAt, `step ${step.name}: sent (timeout ${step.timeoutSeconds} s; ${how})`) + indent(script, '  | '),
    );

    const result = executes
      ? await this.execute(instanceId, step, script, slowMs)
      : await this.simulate(step, { hangs, fails, slowMs });

    const r = result;
    await this.folders.appendLog(
      instanceId,
      logEntry(
        this.clock.now(),
        `step ${step.name}: ${r.status}${r.exitCode === undefined ? '' : `, exit code ${r.exitCode}`}, ${r.durationMs} ms`,
      ) +
        (r.stdoutTail ? indent(r.stdoutTail, '  stdout | ') : '') +
        (r.stderrTail ? indent(r.stderrTail, '  stderr | ') : ''),
    );
    return result;
  }

  // ------------------------------------------------------ console and tests

  /** The server's data directory: what a person puts there is what sleep and wake keep. */
  serverDataDir(instanceId: string): string {
    return this.folders.dataDir(instanceId);
  }

  /** The server's bootstrap.log. */
  serverLogPath(instanceId: string): string {
    return this.folders.logPath(instanceId);
  }

  async describe(instanceId: string): Promise<LocalServer | undefined> {
    const record = await this.folders.read(instanceId);
    return record ? this.observe(record) : undefined;
  }

  /** Every server ever launched under this root, terminated ones included, oldest first. */
  async describeAll(): Promise<LocalServer[]> {
    const records = await this.folders.list();
    records.sort((a, b) => a.launchedAt.localeCompare(b.launchedAt) || byAttemptThenIndex(a, b));
    const out: LocalServer[] = [];
    for (const r of records) out.push(await this.observe(r));
    return out;
  }

  // --------------------------------------------------------------- internals

  private newRecord(request: LaunchRequest, index: number, now: Date, privateIp: string): ServerRecord {
    const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
    return {
      instanceId: newInstanceId(),
      environment: request.environment,
      owner: request.owner,
      template: request.template,
      index,
      attempt: request.attempt,
      idempotencyKey: request.idempotencyKey,
      instanceType: request.instanceType,
      image: request.image,
      privateIp,
      tags: {
        ...request.tags,
        Name: `dormouse-${request.environment}-${index}`,
        'managed-by': 'dormouse',
        'dormouse:environment': request.environment,
        'dormouse:owner': request.owner,
        'dormouse:template': request.template,
        'dormouse:index': String(index),
        'dormouse:attempt': String(request.attempt),
      },
      state: 'pending',
      launchedAt: now.toISOString(),
      runningAt: at(this.delays.bootMs),
      agentOnlineAt: at(this.delays.bootMs + this.delays.agentMs),
    };
  }

  /** The record with its state now; refreshes the snapshot in instance.json when it moved. */
  private async observe(record: ServerRecord): Promise<LocalServer> {
    const now = this.clock.now();
    const state = stateAt(record, now);
    if (state !== record.state) {
      await this.serial(async () => {
        // Re-read inside the queue: never write back a record older than a terminate.
        const fresh = await this.folders.read(record.instanceId);
        if (fresh && stateAt(fresh, now) !== fresh.state) {
          fresh.state = stateAt(fresh, now);
          await this.folders.write(fresh);
        }
      });
    }
    return {
      ...record,
      state,
      agentOnline: !isGone(state) && now.getTime() >= Date.parse(record.agentOnlineAt),
      folder: this.folders.folder(record.instanceId),
      dataDir: this.folders.dataDir(record.instanceId),
    };
  }

  /** Polls the instances until `check` says done, with backoff, never sleeping past the next change or the deadline. */
  private async poll(
    instanceIds: readonly string[],
    options: WaitOptions,
    goal: InstanceState,
    check: (instances: Instance[], records: ServerRecord[]) => { done: boolean; nextChangeMs?: number },
  ): Promise<Instance[]> {
    const started = this.clock.now().getTime();
    for (let attempt = 0; ; attempt++) {
      const records: ServerRecord[] = [];
      for (const id of instanceIds) {
        const record = await this.folders.read(id);
        if (record) {
          records.push(record);
        } else if (goal !== 'terminated') {
          throw new DomainError(
            ErrorCodes.INSTANCE_LOST,
            `Server ${id} does not exist (any more) in the sandbox. Retry to launch it again.`,
            { instanceId: id },
          );
        }
      }
      const observed = await Promise.all(records.map((r) => this.observe(r)));
      const now = this.clock.now();
      const instances = observed.map((r) => toInstance(r, now));
      options.onPoll?.(instances);
      const { done, nextChangeMs = Infinity } = check(instances, records);
      if (done) return instances;

      const elapsed = now.getTime() - started;
      if (elapsed >= options.timeoutMs) {
        const waiting = instances.filter((i) => i.state !== goal).map((i) => `${i.instanceId} (${i.state})`);
        throw new DomainError(
          ErrorCodes.WAIT_TIMED_OUT,
          `The servers were not ${goal} within ${Math.round(options.timeoutMs / 1000)} s: still waiting for ${waiting.join(', ')}. Retry to keep waiting.`,
          { goal, waiting, timeoutMs: options.timeoutMs },
          true,
        );
      }
      await this.clock.sleep(Math.max(1, Math.min(this.backoff(attempt), nextChangeMs, options.timeoutMs - elapsed)));
    }
  }

  /** Waits, like SSM answering InvalidInstanceId, until the server's agent has registered. */
  private async waitForAgent(instanceId: string, step: RemoteStep, options: RunOptions): Promise<void> {
    const started = this.clock.now().getTime();
    for (let attempt = 0; ; attempt++) {
      const record = await this.folders.read(instanceId);
      const now = this.clock.now().getTime();
      if (!record) {
        throw new DomainError(
          ErrorCodes.AGENT_OFFLINE,
          `There is no server ${instanceId} in the sandbox, so step "${step.name}" could not be sent. Retry to launch the servers again.`,
          { instanceId, step: step.name },
        );
      }
      const state = stateAt(record, new Date(now));
      if (isGone(state)) {
        throw new DomainError(
          ErrorCodes.AGENT_OFFLINE,
          `Server ${instanceId} is ${state}, so its agent will not accept step "${step.name}". Retry to launch the servers again.`,
          { instanceId, step: step.name, state },
        );
      }
      const onlineAt = Date.parse(record.agentOnlineAt);
      if (now >= onlineAt) return;
      const elapsed = now - started;
      if (elapsed >= options.agentTimeoutMs) {
        throw new DomainError(
          ErrorCodes.AGENT_OFFLINE,
          `The agent on server ${instanceId} did not come online within ${Math.round(options.agentTimeoutMs / 1000)} s, ` +
            `so step "${step.name}" was not sent. Retry: the server may still be starting.`,
          { instanceId, step: step.name, agentTimeoutMs: options.agentTimeoutMs },
          true,
        );
      }
      await this.clock.sleep(
        Math.max(1, Math.min(this.backoff(attempt), onlineAt - now, options.agentTimeoutMs - elapsed)),
      );
    }
  }

  /** A step that is not run here: it takes `stepMs` (plus any slow-step fault), bounded by its timeout. */
  private async simulate(
    step: RemoteStep,
    f: { hangs: boolean; fails: boolean; slowMs: number },
  ): Promise<CommandResult> {
    const started = this.clock.now().getTime();
    const timeoutMs = Math.max(0, step.timeoutSeconds * 1000);
    const elapsed = () => this.clock.now().getTime() - started;
    const needed = this.delays.stepMs + f.slowMs;
    if (f.hangs || needed > timeoutMs) {
      await this.clock.sleep(timeoutMs);
      const why = f.hangs
        ? `the fault timeout-step:${step.name} makes it hang (${FAULTS_SETTING})`
        : `the fault slow-step:${step.name}=${f.slowMs} makes it take longer than its timeout (${FAULTS_SETTING})`;
      return {
        status: 'TimedOut',
        stdoutTail: '',
        stderrTail: `sandbox: step "${step.name}" timed out after ${step.timeoutSeconds} s on purpose: ${why}.`,
        durationMs: elapsed(),
      };
    }
    await this.clock.sleep(needed);
    if (f.fails) {
      return {
        status: 'Failed',
        exitCode: 1,
        stdoutTail: '',
        stderrTail: `sandbox: step "${step.name}" failed on purpose: the fault fail-step:${step.name} is injected by configuration (${FAULTS_SETTING}).`,
        durationMs: elapsed(),
      };
    }
    return { status: 'Success', exitCode: 0, stdoutTail: RECORDED_STEP_STDOUT, stderrTail: '', durationMs: elapsed() };
  }

  /** A sandbox-safe step, run for real; a slow-step fault delays it and counts against its timeout. */
  private async execute(instanceId: string, step: RemoteStep, script: string, slowMs: number): Promise<CommandResult> {
    const timeoutMs = Math.max(0, step.timeoutSeconds * 1000);
    if (slowMs >= timeoutMs) {
      return this.simulate(step, { hangs: false, fails: false, slowMs });
    }
    if (slowMs > 0) await this.clock.sleep(slowMs);
    const dataDir = this.folders.dataDir(instanceId);
    const result = await runOnHost(script, {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
        LANG: 'C.UTF-8',
        ...step.env,
        DORMOUSE_DATA_DIR: dataDir,
      },
      timeoutMs: timeoutMs - slowMs,
      tailLines: TAIL_LINES,
    });
    return { ...result, durationMs: result.durationMs + slowMs };
  }

  private backoff(attempt: number): number {
    return this.delays.pollMs * 2 ** Math.min(attempt, 3);
  }

  /** Runs `fn` after every write queued before it (launch, terminate, snapshot refresh). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

function toInstance(record: ServerRecord, now: Date): Instance {
  const state = stateAt(record, now);
  return {
    instanceId: record.instanceId,
    state,
    index: record.index,
    attempt: record.attempt,
    // As with EC2, a terminated instance no longer has a private address.
    ...(state === 'terminated' ? {} : { privateIp: record.privateIp }),
  };
}

function byAttemptThenIndex(a: ServerRecord, b: ServerRecord): number {
  return a.attempt - b.attempt || a.index - b.index;
}

/** 10.0.1.1, 10.0.1.2, … 10.0.1.254, 10.0.2.1, …: the first address no server has had. */
function nextFreeIp(used: ReadonlySet<string>): string {
  for (let n = 0; n < 254 * 254; n++) {
    const ip = `10.0.${1 + Math.floor(n / 254)}.${1 + (n % 254)}`;
    if (!used.has(ip)) return ip;
  }
  throw new DomainError(ErrorCodes.LIMIT, 'The sandbox has run out of private addresses (64,516 servers). Delete old server folders.');
}

function logEntry(at: Date, text: string): string {
  return `[${at.toISOString()}] ${text}\n`;
}

function indent(text: string, prefix: string): string {
  return `${text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => prefix + l)
    .join('\n')}\n`;
}
