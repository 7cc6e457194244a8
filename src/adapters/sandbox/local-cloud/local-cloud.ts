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
 * - Stop (`sleep: stop`) makes a server stopping for `terminateMs` (a shutdown
 *   either way), then stopped; its agent is offline. Start makes it pending
 *   for `bootMs` (from when it has stopped, if it was still stopping), then
 *   running, its agent online `agentMs` later. Folder, data and private IP
 *   stay, as an EBS-backed EC2 instance keeps its volumes and VPC address.
 *   Stopping a stopped server, or starting a running one, does nothing; a
 *   terminated one cannot be stopped or started (COMPUTE.INSTANCE_LOST).
 * - Servers carry the environment's unique id and are found by it; a name
 *   reused by a later environment never finds the earlier one's servers.
 *   A launch is all or none: if any server of that environment id and
 *   attempt exists (in any state), all of them are returned and none launched.
 * - A replacement (a repair) is one server with the index of the one it
 *   replaces, the environment's attempt, and a `replacement` field (and tags
 *   `dormouse:index`, `dormouse:replacement` = `<index>.<serial>`, as on EC2).
 *   It is idempotent on that field, in any state; a normal launch's lookup by
 *   attempt leaves replacements out.
 * - listManaged lists every record (all are ours), terminated ones included,
 *   with its state now, as EC2's managed-by listing does.
 * - Terminate never deletes: the folder and its data stay, marked terminated
 *   in instance.json, and are no longer listed by findByEnvironment. Removing
 *   the data of a terminated server is left to a person (delete the folder).
 * - Commands live on the server, as with SSM (see command-files.ts): each is
 *   a file named by its idempotency key, so a second run of a key, from this
 *   process or another, attaches to the command instead of sending it again.
 *   A step is written to the server's bootstrap.log (the exact script, as SSM
 *   would receive it) and is not executed on this machine, unless it is
 *   marked sandbox-safe: then step-runner.sh runs it, detached from this
 *   process, in the server's data directory, with only the step's variables,
 *   PATH, HOME, LANG and DORMOUSE_DATA_DIR in its environment (never this
 *   process's tokens), and writes its result to a file (see host-shell.ts).
 * - Faults from configuration (sandbox-faults.ts) refuse launches and make
 *   steps fail, slow down or hang.
 *
 * Several processes may share one root folder (two replicas of the bot):
 * launch, stop, start, terminate and the refresh of a server's snapshot take a lock file
 * in the root (root-lock.ts) for their read-modify-write, every JSON file is
 * replaced atomically, and command files are created exclusively.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComputePort, Instance, InstanceState, LaunchRequest, ManagedInstance, WaitOptions } from '../../../core/ports/compute.port.js';
import type { Clock } from '../../../core/ports/clock.port.js';
import {
  renderScript,
  type CommandResult,
  type RemoteCommandPort,
  type RemoteStep,
  type RunOptions,
} from '../../../core/ports/remote-command.port.js';
import { DomainError, ErrorCodes } from '../../../core/environment/errors.js';
import { CommandFiles, commandHash, type CommandRecord, type HostResult } from './command-files.js';
import { isRunning, killGroup, readTail, startRunner } from './host-shell.js';
import { withFileLock } from './root-lock.js';
import { resolveSandboxDelays, type SandboxDelays } from './sandbox-delays.js';
import { capacityRefuses, type SandboxFaults } from './sandbox-faults.js';
import {
  agentOnlineAt,
  isAgentOnline,
  isGone,
  isStopped,
  newInstanceId,
  ServerFolders,
  stateAt,
  type ServerRecord,
} from './server-folders.js';

export { DEFAULT_SANDBOX_DELAYS, FAST_SANDBOX_DELAYS, parseSandboxDelays, type SandboxDelays } from './sandbox-delays.js';
export { formatSandboxFaults, parseSandboxFaults, type SandboxFaults } from './sandbox-faults.js';
export type { CommandRecord } from './command-files.js';

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
/** How long a step's runner may take to start (write its pid) before the command is taken for lost. */
const RUNNER_START_GRACE_MS = 10_000;
/** How long past a step's timeout its runner may take to end it and write the result. */
const RUNNER_END_GRACE_MS = 5_000;

/** How a step is carried out, decided once, by the run that sends it. */
interface StepPlan {
  mode: CommandRecord['mode'];
  hangs: boolean;
  fails: boolean;
  slowMs: number;
  /** For bootstrap.log. */
  how: string;
  /** The fault that decided it, when a data fault did (its name is then what the output says). */
  fault?: string;
}

export class LocalCloud implements ComputePort, RemoteCommandPort {
  /** This cloud as EC2. */
  readonly compute: ComputePort = this;
  /** This cloud as SSM Run Command. */
  readonly commands: RemoteCommandPort = this;
  readonly rootDir: string;
  readonly delays: Readonly<SandboxDelays>;
  readonly faults: Readonly<SandboxFaults>;
  /** How many more times each counted fault fires (`fail-step:install*1`), in this process. */
  private readonly faultsLeft = new Map<string, number>();

  private readonly clock: Clock;
  private readonly folders: ServerFolders;
  private readonly lockPath: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: LocalCloudOptions) {
    this.rootDir = options.rootDir;
    this.clock = options.clock;
    this.delays = Object.freeze(resolveSandboxDelays(options.delays));
    this.faults = Object.freeze({ ...options.faults });
    this.folders = new ServerFolders(options.rootDir);
    this.lockPath = join(options.rootDir, 'cloud.lock');
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
    const replacement = request.replacement ? replacementValue(request, request.replacement) : undefined;
    return this.exclusive(async () => {
      const now = this.clock.now();
      const all = await this.folders.list();
      // Idempotency (EC2's ClientToken and tags): a set launched for this environment id and
      // attempt (or this replacement) is returned as it is, whatever became of its servers, and
      // nothing is launched. A set's lookup leaves replacements, which share its attempt, out.
      const existing = all.filter(
        (r) =>
          r.environmentId === request.environmentId &&
          (replacement === undefined ? r.attempt === request.attempt && r.replacement === undefined : r.replacement === replacement),
      );
      if (existing.length > 0) return existing.sort(byAttemptThenIndex).map((r) => toInstance(r, now));

      if (capacityRefuses(this.faults, request.instanceType) && this.fires(this.faults.capacity === true ? 'capacity' : `capacity:${request.instanceType}`)) throw capacityError(request);
      const usedIps = new Set(all.map((r) => r.privateIp));
      const records = Array.from({ length: request.count }, (_, place) => {
        const record = this.newRecord(request, request.replacement?.index ?? place, now, nextFreeIp(usedIps));
        usedIps.add(record.privateIp);
        return record;
      });
      // Every folder first, then every record: a server exists once its record does, so the set
      // appears whole (short of a crash between two record writes, which leaves a set the caller
      // sees is incomplete, as it would see servers EC2 lost).
      for (const r of records) await this.folders.prepare(r.instanceId, logEntry(now, launchLine(r)));
      for (const r of records) await this.folders.write(r);
      return records.map((r) => toInstance(r, now));
    });
  }

  async findByEnvironment(environmentId: string): Promise<Instance[]> {
    const now = this.clock.now();
    const records = await this.folders.list();
    return records
      .filter((r) => r.environmentId === environmentId && !isGone(stateAt(r, now)))
      .sort(byAttemptThenIndex)
      .map((r) => toInstance(r, now));
  }

  async listManaged(): Promise<ManagedInstance[]> {
    const now = this.clock.now();
    const records = await this.folders.list();
    return records
      .sort((a, b) => a.launchedAt.localeCompare(b.launchedAt) || byAttemptThenIndex(a, b) || a.instanceId.localeCompare(b.instanceId))
      .map((r) => toManagedInstance(r, now));
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
    await this.exclusive(async () => {
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

  async stop(instanceIds: readonly string[]): Promise<void> {
    await this.changeState('stop', instanceIds, (record, now) => {
      if (isStopped(record)) return undefined; // stopping or stopped already
      const state = stateAt(record, now);
      if (state === 'stopping') {
        // Started while it was still stopping: the start is called off, the stop goes on.
        delete record.startRequestedAt;
        return `stop requested while stopping: the start is called off; stopped at ${record.stoppedAt ?? '?'}`;
      }
      record.stopRequestedAt = now.toISOString();
      record.stoppedAt = new Date(now.getTime() + this.delays.terminateMs).toISOString();
      delete record.startRequestedAt;
      return `stop requested (was ${state}); stopped at ${record.stoppedAt} (folder, data and ip ${record.privateIp} kept)`;
    });
  }

  async waitUntilStopped(instanceIds: readonly string[], options: WaitOptions): Promise<void> {
    await this.poll(instanceIds, options, 'stopped', (instances, records) => {
      const lost = instances.find((i) => isGone(i.state));
      if (lost) throw lostError(lost.instanceId, lost.state, 'while we were waiting for it to stop');
      if (instances.every((i) => i.state === 'stopped')) return { done: true };
      const now = this.clock.now().getTime();
      const next = Math.min(
        ...records.map((r) => (r.stoppedAt ? Date.parse(r.stoppedAt) - now : Infinity)).filter((ms) => ms > 0),
      );
      return { done: false, nextChangeMs: next };
    });
  }

  async start(instanceIds: readonly string[]): Promise<void> {
    await this.changeState('start', instanceIds, (record, now) => {
      if (!isStopped(record)) return undefined; // pending or running (or about to be) already
      const was = stateAt(record, now);
      const from = Math.max(now.getTime(), Date.parse(record.stoppedAt ?? record.runningAt));
      record.startRequestedAt = now.toISOString();
      record.runningAt = new Date(from + this.delays.bootMs).toISOString();
      record.agentOnlineAt = new Date(from + this.delays.bootMs + this.delays.agentMs).toISOString();
      return `start requested (was ${was}); ip ${record.privateIp}; running at ${record.runningAt}, agent online at ${record.agentOnlineAt}`;
    });
  }

  // --------------------------------------------------------------- commands

  async run(instanceId: string, step: RemoteStep, options: RunOptions): Promise<CommandResult> {
    options.signal?.throwIfAborted();
    const server = await this.folders.read(instanceId);
    if (!server) {
      throw new DomainError(
        ErrorCodes.AGENT_OFFLINE,
        `There is no server ${instanceId} in the sandbox, so step "${step.name}" could not be sent. Retry to launch the servers again.`,
        { instanceId, step: step.name },
      );
    }
    const files = new CommandFiles(this.folders.commandsDir(instanceId), commandHash(step.key));
    // Sent before (by a run that crashed, paused or is still waiting): attach to it.
    const command = (await files.read()) ?? (await this.send(server, step, files, options));
    options.onAccepted?.();
    return this.awaitResult(instanceId, files, command, options.signal);
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

  /** Every command sent to the server, oldest first (its history, as `aws ssm list-commands` shows it). */
  async commandsOf(instanceId: string): Promise<CommandRecord[]> {
    const dir = this.folders.commandsDir(instanceId);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const hashes = names.filter((n) => /^[0-9a-f]{32}\.json$/.test(n)).map((n) => n.slice(0, 32));
    const records = await Promise.all(hashes.map((h) => new CommandFiles(dir, h).read()));
    return records.filter((r): r is CommandRecord => r !== undefined).sort((a, b) => a.sentAt.localeCompare(b.sentAt));
  }

  // ------------------------------------------------------ compute internals

  /**
   * Stop or start, under the root's lock: every server is read first, and a
   * gone or unknown one fails the call before any is changed (as EC2 fails the
   * whole call). `change` updates a record and returns what to log, or
   * undefined when the server is already where it is going.
   */
  private async changeState(
    operation: 'stop' | 'start',
    instanceIds: readonly string[],
    change: (record: ServerRecord, now: Date) => string | undefined,
  ): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.exclusive(async () => {
      const now = this.clock.now();
      const records: ServerRecord[] = [];
      for (const id of instanceIds) {
        const record = await this.folders.read(id);
        const state = record ? stateAt(record, now) : undefined;
        if (!record || state === undefined || isGone(state)) {
          throw lostError(id, state ?? 'not-found', `so it cannot be ${operation === 'stop' ? 'stopped' : 'started'}`);
        }
        records.push(record);
      }
      for (const record of records) {
        const line = change(record, now);
        if (line === undefined) continue;
        record.state = stateAt(record, now);
        await this.folders.write(record);
        await this.folders.appendLog(record.instanceId, logEntry(now, line));
      }
    });
  }

  private newRecord(request: LaunchRequest, index: number, now: Date, privateIp: string): ServerRecord {
    const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
    const replacement = request.replacement ? `${request.replacement.index}.${request.replacement.serial}` : undefined;
    return {
      instanceId: newInstanceId(),
      environmentId: request.environmentId,
      environment: request.environment,
      owner: request.owner,
      template: request.template,
      index,
      attempt: request.attempt,
      ...(replacement === undefined ? {} : { replacement }),
      idempotencyKey: request.idempotencyKey,
      instanceType: request.instanceType,
      image: request.image,
      privateIp,
      // As on EC2: one set of tags for the whole launch; the index is the record's own field.
      tags: {
        ...request.tags,
        Name: `dormouse-${request.environment}`,
        'managed-by': 'dormouse',
        'dormouse:environment-id': request.environmentId,
        'dormouse:environment': request.environment,
        'dormouse:owner': request.owner,
        'dormouse:template': request.template,
        'dormouse:attempt': String(request.attempt),
        ...(replacement === undefined ? {} : { 'dormouse:index': String(index), 'dormouse:replacement': replacement }),
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
      await this.exclusive(async () => {
        // Re-read under the lock: never write back a record older than a terminate (from any process).
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
      agentOnline: isAgentOnline(record, now),
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
    const { signal } = options;
    const started = this.clock.now().getTime();
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
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
      await this.clock.sleep(
        Math.max(1, Math.min(this.backoff(attempt), nextChangeMs, options.timeoutMs - elapsed)),
        signal,
      );
    }
  }

  // ----------------------------------------------------- command internals

  /**
   * Sends a step whose key this server has not seen: once its agent is
   * online, the command file is created (exclusively: if another run got
   * there first, this one attaches to that command), logged, and, for a step
   * run on this machine, handed to a detached runner.
   */
  private async send(server: ServerRecord, step: RemoteStep, files: CommandFiles, options: RunOptions): Promise<CommandRecord> {
    await this.waitForAgent(server.instanceId, step, options);
    const plan = this.plan(server, step);
    const sentAt = this.clock.now();
    const command: CommandRecord = {
      key: step.key,
      step: step.name,
      sentAt: sentAt.toISOString(),
      timeoutSeconds: step.timeoutSeconds,
      mode: plan.mode,
      ...(plan.mode === 'simulated' ? this.simulatedOutcome(step, plan, sentAt) : { hostSentAtMs: Date.now() }),
    };
    if (!(await files.create(command))) return (await files.read()) ?? command;

    const script = renderScript(step);
    await this.folders.appendLog(
      server.instanceId,
      logEntry(sentAt, `step ${step.name}: sent (key ${step.key}; timeout ${step.timeoutSeconds} s; ${plan.how})`) +
        indent(script, '  | '),
    );
    if (plan.mode === 'host') await this.startOnHost(server.instanceId, step, script, files, plan.slowMs);
    return command;
  }

  /** Whether a fault fires now: always, or while its count (`*n`) lasts in this process. */
  private fires(key: string): boolean {
    const left = this.faultsLeft.get(key) ?? this.faults.times?.[key];
    if (left === undefined) return true;
    this.faultsLeft.set(key, Math.max(0, left - 1));
    return left > 0;
  }

  /** How the step is carried out, from the faults and whether it may run on this machine. */
  private plan(server: ServerRecord, step: RemoteStep): StepPlan {
    const instanceId = server.instanceId;
    const data = this.dataFault(server.index, step);
    if (data) return data;
    const hangs = (this.faults.timeoutStep?.includes(step.name) ?? false) && this.fires(`timeout-step:${step.name}`);
    const fails = !hangs && (this.faults.failStep?.includes(step.name) ?? false) && this.fires(`fail-step:${step.name}`);
    const slowMs = this.faults.slowStep?.[step.name] !== undefined && this.fires(`slow-step:${step.name}`) ? (this.faults.slowStep[step.name] ?? 0) : 0;
    const tooSlow = slowMs >= step.timeoutSeconds * 1000;
    const executes = step.sandboxSafe && !hangs && !fails && !tooSlow;
    const how = hangs
      ? 'not run: the timeout-step fault makes it hang'
      : fails
        ? 'not run: the fail-step fault makes it fail'
        : executes
          ? `run on this machine in ${this.folders.dataDir(instanceId)}`
          : step.sandboxSafe
            ? 'not run: the slow-step fault makes it outlast its timeout'
            : 'recorded only: not marked sandbox-safe';
    return { mode: executes ? 'host' : 'simulated', hangs, fails, slowMs, how };
  }

  /**
   * The data faults, by server index: a save or restore that fails before it
   * touches anything, or a save that is slow (it still runs, for real, after
   * the delay). Undefined when none applies.
   */
  private dataFault(index: number, step: RemoteStep): StepPlan | undefined {
    const fault = step.name === 'dormouse-save' ? 'fail-save' : step.name === 'dormouse-restore' ? 'fail-restore' : undefined;
    if (!fault) return undefined;
    const listed = (fault === 'fail-save' ? this.faults.failSave : this.faults.failRestore)?.includes(index) ?? false;
    if (listed && this.fires(`${fault}:${index}`)) {
      return { mode: 'simulated', hangs: false, fails: true, slowMs: 0, how: `not run: the ${fault}:${index} fault makes it fail`, fault: `${fault}:${index}` };
    }
    const slow = step.name === 'dormouse-save' ? this.faults.slowSave?.[index] : undefined;
    if (slow !== undefined && this.fires(`slow-save:${index}`)) {
      const tooSlow = slow >= step.timeoutSeconds * 1000;
      return { mode: tooSlow ? 'simulated' : 'host', hangs: tooSlow, fails: false, slowMs: slow, how: `run on this machine after ${slow} ms (slow-save:${index})`, fault: `slow-save:${index}=${slow}` };
    }
    return undefined;
  }

  /** A step that is not run here: it takes `stepMs` (plus any slow-step fault), bounded by its timeout. */
  private simulatedOutcome(step: RemoteStep, plan: StepPlan, sentAt: Date): Pick<CommandRecord, 'endsAt' | 'outcome'> {
    const timeoutMs = Math.max(0, step.timeoutSeconds * 1000);
    const needed = this.delays.stepMs + plan.slowMs;
    const endsAfter = (ms: number) => new Date(sentAt.getTime() + ms).toISOString();
    if (plan.hangs || needed > timeoutMs) {
      const why = plan.fault
        ? `the fault ${plan.fault} makes it take longer than its timeout (${FAULTS_SETTING})`
        : plan.hangs
        ? `the fault timeout-step:${step.name} makes it hang (${FAULTS_SETTING})`
        : `the fault slow-step:${step.name}=${plan.slowMs} makes it take longer than its timeout (${FAULTS_SETTING})`;
      return {
        endsAt: endsAfter(timeoutMs),
        outcome: {
          status: 'TimedOut',
          stdoutTail: '',
          stderrTail: `sandbox: step "${step.name}" timed out after ${step.timeoutSeconds} s on purpose: ${why}.`,
        },
      };
    }
    if (plan.fails) {
      return {
        endsAt: endsAfter(needed),
        outcome: {
          status: 'Failed',
          exitCode: 1,
          stdoutTail: '',
          stderrTail: `sandbox: step "${step.name}" failed on purpose: the fault ${plan.fault ?? `fail-step:${step.name}`} is injected by configuration (${FAULTS_SETTING}).`,
        },
      };
    }
    return { endsAt: endsAfter(needed), outcome: { status: 'Success', exitCode: 0, stdoutTail: RECORDED_STEP_STDOUT, stderrTail: '' } };
  }

  /** Hands a sandbox-safe step to step-runner.sh; a runner that cannot start is the step's result. */
  private async startOnHost(instanceId: string, step: RemoteStep, script: string, files: CommandFiles, slowMs: number): Promise<void> {
    const dataDir = this.folders.dataDir(instanceId);
    await files.writeScript(script);
    try {
      await startRunner({
        prefix: files.prefix,
        cwd: dataDir,
        env: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
          LANG: 'C.UTF-8',
          ...step.env,
          DORMOUSE_DATA_DIR: dataDir,
        },
        timeoutMs: step.timeoutSeconds * 1000,
        delayMs: slowMs,
      });
    } catch (e) {
      await files.recordResult({ exitCode: 127, timedOut: false, durationMs: 0, note: `sandbox: could not start bash: ${(e as Error).message}` });
    }
  }

  /** Waits (polling with backoff on the clock) until the command has a result, then logs it once. */
  private async awaitResult(
    instanceId: string,
    files: CommandFiles,
    command: CommandRecord,
    signal: AbortSignal | undefined,
  ): Promise<CommandResult> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const seen = command.mode === 'simulated' ? this.simulatedResult(command) : await this.hostResult(files, command);
      if ('result' in seen) {
        if (await files.claimReport()) await this.folders.appendLog(instanceId, resultEntry(this.clock.now(), command.step, seen.result));
        return seen.result;
      }
      await this.clock.sleep(Math.max(1, Math.min(this.backoff(attempt), seen.nextCheckMs)), signal);
    }
  }

  private simulatedResult(command: CommandRecord): { result: CommandResult } | { nextCheckMs: number } {
    const now = this.clock.now().getTime();
    const endsAt = Date.parse(command.endsAt ?? command.sentAt);
    if (now < endsAt || !command.outcome) return { nextCheckMs: endsAt - now };
    return { result: { ...command.outcome, durationMs: endsAt - Date.parse(command.sentAt) } };
  }

  /**
   * The result step-runner.sh wrote, or, when it cannot write one any more,
   * the one the cloud records for it: its runner never started, died (killed,
   * or the machine restarted), or outlived the step's timeout. Measured in
   * real time: the runner is a real process, whatever clock the cloud has.
   */
  private async hostResult(files: CommandFiles, command: CommandRecord): Promise<{ result: CommandResult } | { nextCheckMs: number }> {
    const written = await files.readResult();
    if (written) return { result: await hostCommandResult(files, written) };

    const elapsedMs = Date.now() - (command.hostSentAtMs ?? 0);
    const runner = await files.readPid('.runner');
    const lost = async (note: string, timedOut = false): Promise<{ result: CommandResult }> => {
      await this.killRunner(files, runner);
      const recorded = await files.recordResult({ ...(timedOut ? {} : { exitCode: 1 }), timedOut, durationMs: elapsedMs, note });
      return { result: await hostCommandResult(files, recorded) };
    };

    if (runner === undefined) {
      if (elapsedMs < RUNNER_START_GRACE_MS) return { nextCheckMs: Infinity };
      return lost(`sandbox: step "${command.step}" was recorded, but its runner never started (the process that sent it stopped first). Retry.`);
    }
    if (!(await isRunning(runner, files.prefix))) {
      // It writes the result before it ends: look once more before calling it lost.
      const late = await files.readResult();
      if (late) return { result: await hostCommandResult(files, late) };
      return lost(`sandbox: the runner of step "${command.step}" ended without a result (killed, or this machine restarted). Retry.`);
    }
    if (elapsedMs > command.timeoutSeconds * 1000 + RUNNER_END_GRACE_MS) {
      return lost(`sandbox: step "${command.step}" outlived its timeout of ${command.timeoutSeconds} s and was killed.`, true);
    }
    return { nextCheckMs: Infinity };
  }

  /** Ends the runner and the step (their process groups), if they are still this command's. */
  private async killRunner(files: CommandFiles, runner: number | undefined): Promise<void> {
    if (runner !== undefined) await killGroup(runner, files.prefix);
    const step = await files.readPid('.pid');
    if (step !== undefined) await killGroup(step, files.prefix);
  }

  /** Waits, like SSM answering InvalidInstanceId, until the server's agent has registered (or, once stopped, is started again). */
  private async waitForAgent(instanceId: string, step: RemoteStep, options: RunOptions): Promise<void> {
    const started = this.clock.now().getTime();
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
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
      // A stopped server's agent is offline until someone starts it: no time to sleep until, so back off.
      const onlineAt = agentOnlineAt(record, new Date(now)) ?? Infinity;
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
        options.signal,
      );
    }
  }

  private backoff(attempt: number): number {
    return this.delays.pollMs * 2 ** Math.min(attempt, 3);
  }

  /**
   * Runs `fn` holding the root's lock file (so no other process changes the
   * registry meanwhile), after every call queued before it in this process
   * (so this process never waits on its own lock).
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const locked = async () => {
      await mkdir(this.rootDir, { recursive: true });
      return withFileLock(this.lockPath, fn);
    };
    const result = this.queue.then(locked, locked);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/** The port's result from what the runner (or the cloud, for a lost runner) recorded, with the output's last lines. */
async function hostCommandResult(files: CommandFiles, result: HostResult): Promise<CommandResult> {
  const stdoutTail = await readTail(files.path('.stdout'), TAIL_LINES);
  const stderr = await readTail(files.path('.stderr'), TAIL_LINES);
  const stderrTail = result.note ? [stderr, result.note].filter(Boolean).join('\n').split('\n').slice(-TAIL_LINES).join('\n') : stderr;
  if (result.timedOut) return { status: 'TimedOut', stdoutTail, stderrTail, durationMs: result.durationMs };
  const exitCode = result.exitCode ?? 1;
  return { status: exitCode === 0 ? 'Success' : 'Failed', exitCode, stdoutTail, stderrTail, durationMs: result.durationMs };
}

/** A server that is terminated, shutting down or unknown, where the caller needs it alive. */
function lostError(instanceId: string, state: string, why: string): DomainError {
  return new DomainError(
    ErrorCodes.INSTANCE_LOST,
    `Server ${instanceId} is ${state === 'not-found' ? 'not in the sandbox (any more)' : state}, ${why}. ` +
      'Destroy the environment, or retry to launch new servers.',
    { instanceId, state },
  );
}

function capacityError(request: LaunchRequest): DomainError {
  return new DomainError(
    ErrorCodes.CAPACITY,
    `There is not enough ${request.instanceType} capacity to launch ${request.count} server${request.count === 1 ? '' : 's'} ` +
      `for \`${request.environment}\` right now. Try again in a few minutes, or pick another instance type. ` +
      `(Sandbox: refused on purpose by the capacity fault in ${FAULTS_SETTING}.)`,
    { environment: request.environment, instanceType: request.instanceType, count: request.count, fault: 'capacity' },
    true,
  );
}

/** `<index>.<serial>`, after checking that a replacement is one server with a whole index and serial. */
function replacementValue(request: LaunchRequest, r: { index: number; serial: number }): string {
  const whole = (n: number) => Number.isInteger(n) && n >= 0;
  if (request.count !== 1 || !whole(r.index) || !whole(r.serial)) {
    throw new DomainError(
      ErrorCodes.LAUNCH_FAILED,
      `Cannot launch a replacement of server ${String(r.index)} (serial ${String(r.serial)}) for \`${request.environment}\`: ` +
        `a replacement is exactly one server (asked for ${String(request.count)}), with a whole server index and serial.`,
      { environment: request.environment, count: request.count, replacement: { index: r.index, serial: r.serial } },
    );
  }
  return `${r.index}.${r.serial}`;
}

function launchLine(r: ServerRecord): string {
  return (
    `launch ${r.instanceId}: environment ${r.environment} (${r.environmentId}), server ${r.index}` +
    `${r.replacement === undefined ? '' : ` (replacement ${r.replacement})`}, attempt ${r.attempt}, ` +
    `${r.instanceType}, image ${r.image}, ip ${r.privateIp}; running at ${r.runningAt}, agent online at ${r.agentOnlineAt}`
  );
}

function resultEntry(at: Date, step: string, r: CommandResult): string {
  return (
    logEntry(at, `step ${step}: ${r.status}${r.exitCode === undefined ? '' : `, exit code ${r.exitCode}`}, ${r.durationMs} ms`) +
    (r.stdoutTail ? indent(r.stdoutTail, '  stdout | ') : '') +
    (r.stderrTail ? indent(r.stderrTail, '  stderr | ') : '')
  );
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

/** The record as EC2's managed-by listing gives an instance: its fields, its tags, its state now. */
function toManagedInstance(record: ServerRecord, now: Date): ManagedInstance {
  const tags: Record<string, string> = { ...(record.tags ?? {}) };
  return {
    instanceId: record.instanceId,
    state: stateAt(record, now),
    // Folders from before environment ids were recorded have none ('').
    ...(record.environmentId ? { environmentId: record.environmentId } : {}),
    environment: record.environment,
    ...(typeof record.owner === 'string' ? { owner: record.owner } : {}),
    index: record.index,
    attempt: record.attempt,
    instanceType: record.instanceType ?? '',
    ...(record.image ? { imageId: record.image } : {}),
    launchedAt: record.launchedAt,
    tags,
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
