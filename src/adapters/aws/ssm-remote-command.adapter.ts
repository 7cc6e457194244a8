/**
 * RemoteCommandPort on SSM Run Command (`AWS-RunShellScript`).
 *
 * The timeline of one step:
 *   SendCommand ──InvalidInstanceId (agent not registered yet)──> retry with backoff until agentTimeoutMs → AGENT_OFFLINE
 *       │ accepted: onAccepted()
 *   GetCommandInvocation ──InvocationDoesNotExist (normal right after sending)──> poll again
 *       │ Pending / InProgress / Delayed / Cancelling: poll again with backoff
 *       │ Success / Failed / Cancelled / TimedOut: the result
 *   step.timeoutSeconds + grace passed: CancelCommand (best effort) and TimedOut
 *
 * Script output goes into the result only, never into a log: it may hold anything.
 */
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  type GetCommandInvocationCommandOutput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { DomainError, ErrorCodes } from '../../core/environment/errors.js';
import type { Clock } from '../../core/ports/notifier.port.js';
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

export class SsmRemoteCommand implements RemoteCommandPort {
  private readonly ssm: SSMClient;
  private readonly clock: Clock;
  private readonly poll: { initialMs: number; maxMs: number };
  private readonly tailLines: number;
  private readonly graceMs: number;
  private readonly deliveryTimeoutSeconds: number;

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
    const commandId = await this.send(instanceId, step, options.agentTimeoutMs);
    options.onAccepted?.();

    let last: GetCommandInvocationCommandOutput | undefined;
    const status = await pollWithBackoff(
      async () => {
        try {
          last = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
        } catch (error) {
          // The invocation appears a moment after SendCommand; throttling only slows the polling down.
          if (awsErrorCode(error) === 'InvocationDoesNotExist' || isThrottling(error)) return undefined;
          throw translateError(error, 'GetCommandInvocation', { instanceId, commandId });
        }
        return terminalStatus(last);
      },
      { ...this.poll, clock: this.clock, deadline: this.now() + step.timeoutSeconds * 1000 + this.graceMs },
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

  /** SendCommand, retried while the instance's agent has not registered with SSM yet. Returns the command id. */
  private async send(instanceId: string, step: RemoteStep, agentTimeoutMs: number): Promise<string> {
    const input = {
      InstanceIds: [instanceId],
      DocumentName: RUN_SHELL_SCRIPT,
      Comment: `dormouse ${step.name}`.slice(0, MAX_COMMENT),
      TimeoutSeconds: this.deliveryTimeoutSeconds,
      Parameters: {
        commands: renderScript(step).split('\n'),
        executionTimeout: [String(step.timeoutSeconds)],
      },
    };
    try {
      const output = await retryWithBackoff(() => this.ssm.send(new SendCommandCommand(input)), {
        ...this.poll,
        clock: this.clock,
        shouldRetry: (error) => awsErrorCode(error) === 'InvalidInstanceId' || isThrottling(error),
        deadline: this.now() + agentTimeoutMs,
      });
      const commandId = output.Command?.CommandId;
      if (!commandId) throw new Error('SendCommand answered without a command id');
      return commandId;
    } catch (error) {
      throw translateError(error, 'SendCommand', { instanceId, step: step.name, agentTimeoutMs });
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }
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
