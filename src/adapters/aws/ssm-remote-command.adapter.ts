/**
 * RemoteCommandPort on SSM Run Command (`AWS-RunShellScript`).
 *
 * The timeline of one step:
 *   ListCommands(InstanceId), every page: a command with this step's key already sent to this instance?
 *       │ yes: attach to it (a flow resumed after a crash or a pause never runs a step twice)
 *       │ no:
 *   SendCommand ──InvalidInstanceId (agent not registered yet)──> retry with backoff until agentTimeoutMs → AGENT_OFFLINE
 *       │ accepted (or attached): onAccepted()
 *   GetCommandInvocation ──InvocationDoesNotExist (normal right after sending)──> poll again
 *       │ Pending / InProgress / Delayed / Cancelling: poll again with backoff
 *       │ Success / Failed / Cancelled / TimedOut: the result
 *   step.timeoutSeconds + grace passed: CancelCommand (best effort) and TimedOut
 *   the caller's signal aborted: stop waiting (the command goes on) and reject with its reason
 *
 * Throttling and transient errors of each call are retried by the SDK's retry
 * strategy (`maxAttempts` where the client is built), not here on top of it.
 * One that outlives those retries is THROTTLED or CLOUD_ERROR, except during
 * GetCommandInvocation polling, where it only means "poll again later". The
 * retries written here are the ones the SDK cannot know about: SendCommand
 * while the agent has not registered, and the polling itself. The caller's
 * signal reaches the SDK too (`abortSignal`), so it also cuts its retries short.
 *
 * The key travels in the command's Comment, the only free-text field SSM
 * lists back: `dormouse <24 hex of sha256(instance id | key)> <step name> [<correlation id>]`
 * (100 characters at most; the name is shortened first). The correlation id
 * is the flow's, so a command found in SSM's history leads to its log lines. The instance id is part of what is hashed, so a
 * matching comment means this instance, whatever ListCommands says a
 * command's InstanceIds are (moto piles up every instance there). SSM keeps
 * command history for 30 days, longer than any flow waits to resume.
 *
 * What the key cannot promise: two processes that look at the same moment
 * both find nothing and both send (SSM has no idempotency token for
 * SendCommand). Within a process, concurrent runs of one key share one send;
 * across processes, the core's fenced lease keeps two holders of a flow from
 * running its steps at once.
 *
 * Script output goes into the result only, never into a log: it may hold anything.
 */
import { createHash } from 'node:crypto';
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  paginateListCommands,
  type GetCommandInvocationCommandOutput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { DomainError, ErrorCodes } from '../../core/environment/errors.js';
import type { Clock } from '../../core/ports/clock.port.js';
import { currentCorrelationId } from '../../core/ports/correlation.js';
import {
  renderScript,
  type CommandResult,
  type CommandStatus,
  type RemoteCommandPort,
  type RemoteStep,
  type RunOptions,
} from '../../core/ports/remote-command.port.js';
import { awsErrorCode, isThrottling, pollWithBackoff, retryWithBackoff } from './backoff.js';

export const RUN_SHELL_SCRIPT = 'AWS-RunShellScript';
/** SSM keeps a comment to 100 characters. */
const MAX_COMMENT = 100;
/** Hex characters of the key's hash in the comment: 96 bits, no collision in any one instance's history. */
const KEY_HASH_CHARS = 24;
/** ListCommands answers at most 50 commands a page. */
const LIST_PAGE_SIZE = 50;
/** Command ids this process sent or found, remembered so a repeated run need not list again (bounded). */
const REMEMBERED_COMMANDS = 1000;

export interface SsmRemoteCommandDeps {
  ssm: SSMClient;
  clock: Clock;
  /** Backoff of the polling and of waiting for the agent (default 1 s growing to 10 s). */
  poll?: { initialMs: number; maxMs: number };
  /** Lines of output kept from the end of stdout and stderr (default 20). */
  outputTailLines?: number;
  /** How long past the step's own timeout we keep waiting for SSM to report it (default 60 s). */
  graceSeconds?: number;
  /** How long SSM may wait to deliver the command to the agent before giving up (default 600 s, minimum 30). */
  deliveryTimeoutSeconds?: number;
}

/** What identifies one step's command on one instance: the hash of both, as it appears in the comment. */
export function commandKeyHash(instanceId: string, key: string): string {
  return createHash('sha256').update(`${instanceId}|${key}`).digest('hex').slice(0, KEY_HASH_CHARS);
}

/**
 * The comment a step's command carries: its key's hash (what finds it again), then its name for people,
 * then the correlation id of the flow that sent it, when there is one.
 */
export function commandComment(instanceId: string, step: Pick<RemoteStep, 'key' | 'name'>, correlationId?: string): string {
  const named = `dormouse ${commandKeyHash(instanceId, step.key)} ${step.name}`;
  if (!correlationId) return named.slice(0, MAX_COMMENT);
  const id = correlationId.slice(0, 20);
  return `${named.slice(0, MAX_COMMENT - id.length - 1)} ${id}`;
}

/** Whether a listed command's comment is the one of this key on this instance. */
export function isCommandOf(comment: string | undefined, instanceId: string, key: string): boolean {
  return (comment ?? '').split(' ', 2).join(' ') === `dormouse ${commandKeyHash(instanceId, key)}`;
}

/** A send or lookup under way (or done) in this process, with the signal of the run that started it. */
interface KnownCommand {
  commandId: Promise<string>;
  signal: AbortSignal | undefined;
}

export class SsmRemoteCommand implements RemoteCommandPort {
  private readonly ssm: SSMClient;
  private readonly clock: Clock;
  private readonly poll: { initialMs: number; maxMs: number };
  private readonly tailLines: number;
  private readonly graceMs: number;
  private readonly deliveryTimeoutSeconds: number;
  /** By key hash. */
  private readonly known = new Map<string, KnownCommand>();

  constructor(deps: SsmRemoteCommandDeps) {
    this.ssm = deps.ssm;
    this.clock = deps.clock;
    this.poll = deps.poll ?? { initialMs: 1_000, maxMs: 10_000 };
    this.tailLines = deps.outputTailLines ?? 20;
    this.graceMs = (deps.graceSeconds ?? 60) * 1000;
    this.deliveryTimeoutSeconds = Math.max(30, deps.deliveryTimeoutSeconds ?? 600);
  }

  async run(instanceId: string, step: RemoteStep, options: RunOptions): Promise<CommandResult> {
    const startedAt = this.now();
    const commandId = await this.findOrSend(instanceId, step, options);
    options.onAccepted?.();

    let last: GetCommandInvocationCommandOutput | undefined;
    const status = await pollWithBackoff(
      async () => {
        try {
          last = await this.ssm.send(
            new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
            sendOptions(options.signal),
          );
        } catch (error) {
          if (options.signal?.aborted) throw options.signal.reason;
          // The invocation appears a moment after SendCommand; throttling the SDK could not retry away only slows the polling down.
          if (awsErrorCode(error) === 'InvocationDoesNotExist' || isThrottling(error)) return undefined;
          throw translateError(error, 'GetCommandInvocation', { instanceId, commandId });
        }
        return terminalStatus(last);
      },
      {
        ...this.poll,
        clock: this.clock,
        deadline: this.now() + step.timeoutSeconds * 1000 + this.graceMs,
        signal: options.signal,
      },
    );

    if (status === undefined) {
      // Best effort: the command may have ended meanwhile, and some emulators do not implement CancelCommand.
      await this.ssm
        .send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }))
        .catch(() => undefined);
    }
    return {
      status: status ?? 'TimedOut',
      exitCode: last?.ResponseCode ?? -1,
      stdoutTail: tail(last?.StandardOutputContent, this.tailLines),
      stderrTail: tail(last?.StandardErrorContent, this.tailLines),
      durationMs: this.now() - startedAt,
    };
  }

  /**
   * The id of this step's command on this instance: one this process already
   * knows, one SSM lists, or a new one. Concurrent runs of one key share the
   * lookup and the send; a run whose own signal is still live starts over if
   * the run it shared with was aborted.
   */
  private async findOrSend(instanceId: string, step: RemoteStep, options: RunOptions): Promise<string> {
    const hash = commandKeyHash(instanceId, step.key);
    for (;;) {
      options.signal?.throwIfAborted();
      let entry = this.known.get(hash);
      if (!entry) {
        entry = { commandId: this.lookUpOrSend(instanceId, step, options), signal: options.signal };
        this.remember(hash, entry);
      }
      try {
        return await untilAborted(entry.commandId, options.signal);
      } catch (error) {
        if (this.known.get(hash) === entry) this.known.delete(hash);
        if (entry.signal !== options.signal && entry.signal?.aborted && !options.signal?.aborted) continue;
        throw error;
      }
    }
  }

  private async lookUpOrSend(instanceId: string, step: RemoteStep, options: RunOptions): Promise<string> {
    return (await this.findSent(instanceId, step, options.signal)) ?? this.send(instanceId, step, options);
  }

  /** The command with this step's key that SSM lists for the instance (every page), if any. */
  private async findSent(instanceId: string, step: RemoteStep, signal?: AbortSignal): Promise<string | undefined> {
    const pages = paginateListCommands(
      { client: this.ssm, pageSize: LIST_PAGE_SIZE },
      { InstanceId: instanceId },
      ...(signal ? [sendOptions(signal)] : []),
    );
    try {
      for await (const page of pages) {
        const found = page?.Commands?.find((c) => c.CommandId && isCommandOf(c.Comment, instanceId, step.key));
        if (found?.CommandId) return found.CommandId;
        signal?.throwIfAborted();
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      // An instance whose agent never registered has had no command.
      if (awsErrorCode(error) === 'InvalidInstanceId') return undefined;
      throw translateError(error, 'ListCommands', { instanceId, step: step.name });
    }
    return undefined;
  }

  /** SendCommand, retried while the instance's agent has not registered with SSM yet. Returns the command id. */
  private async send(instanceId: string, step: RemoteStep, options: RunOptions): Promise<string> {
    const input = {
      InstanceIds: [instanceId],
      DocumentName: RUN_SHELL_SCRIPT,
      Comment: commandComment(instanceId, step, currentCorrelationId()),
      TimeoutSeconds: this.deliveryTimeoutSeconds,
      Parameters: {
        commands: renderScript(step).split('\n'),
        executionTimeout: [String(step.timeoutSeconds)],
      },
    };
    try {
      // Only "not registered yet" is retried here; throttling was the SDK's to retry, and what outlives it is THROTTLED.
      const output = await retryWithBackoff(() => this.ssm.send(new SendCommandCommand(input), sendOptions(options.signal)), {
        ...this.poll,
        clock: this.clock,
        shouldRetry: (error) => awsErrorCode(error) === 'InvalidInstanceId',
        deadline: this.now() + options.agentTimeoutMs,
        signal: options.signal,
      });
      const commandId = output.Command?.CommandId;
      if (!commandId) throw new Error('SendCommand answered without a command id');
      return commandId;
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw translateError(error, 'SendCommand', { instanceId, step: step.name, agentTimeoutMs: options.agentTimeoutMs });
    }
  }

  private remember(hash: string, entry: KnownCommand): void {
    this.known.set(hash, entry);
    if (this.known.size > REMEMBERED_COMMANDS) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }
}

/** The SDK's options for one call: the caller's signal, which also ends the SDK's retries of it. */
function sendOptions(signal: AbortSignal | undefined): { abortSignal: AbortSignal } | undefined {
  return signal ? { abortSignal: signal } : undefined;
}

/** The promise's outcome, or the signal's reason as soon as it is aborted (the promise goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The port's status once SSM says the invocation is over; undefined while it is not. */
function terminalStatus(invocation: GetCommandInvocationCommandOutput): CommandStatus | undefined {
  // TimedOut comes with StatusDetails DeliveryTimedOut or ExecutionTimedOut; accept those wherever they appear.
  const details = invocation.StatusDetails;
  if (details === 'DeliveryTimedOut' || details === 'ExecutionTimedOut') return 'TimedOut';
  switch (invocation.Status) {
    case 'Success':
    case 'Failed':
    case 'Cancelled':
    case 'TimedOut':
      return invocation.Status;
    default:
      // Pending, InProgress, Delayed, and Cancelling (not over until Cancelled).
      return undefined;
  }
}

/** The last `lines` lines of a script's output. */
export function tail(content: string | undefined, lines: number): string {
  if (!content) return '';
  return content.replace(/\n+$/, '').split('\n').slice(-lines).join('\n');
}

/** The one place where SSM errors of this adapter become domain errors. */
function translateError(error: unknown, operation: string, facts: Record<string, unknown>): DomainError {
  if (error instanceof DomainError) return error;
  const code = awsErrorCode(error) ?? 'Unknown';
  const details = { operation, awsCode: code, awsMessage: error instanceof Error ? error.message : String(error), ...facts };
  const options = { cause: error };
  if (code === 'InvalidInstanceId') {
    const minutes = Math.max(1, Math.round(Number(facts.agentTimeoutMs ?? 0) / 60_000));
    return new DomainError(
      ErrorCodes.AGENT_OFFLINE,
      `Server ${String(facts.instanceId)} did not register with SSM within ${minutes} min, so its setup could not start. ` +
        'Its SSM agent may not be running, or its instance profile may lack AmazonSSMManagedInstanceCore; ask ops to check, then retry.',
      details,
      true,
      options,
    );
  }
  if (isThrottling(error)) {
    return new DomainError(ErrorCodes.THROTTLED, 'AWS is throttling Dormouse right now. Retry in a minute.', details, true, options);
  }
  return new DomainError(
    ErrorCodes.CLOUD_ERROR,
    `An SSM call failed (${operation}: ${code}). Retry in a few minutes; if it persists, ask ops.`,
    details,
    false,
    options,
  );
}
