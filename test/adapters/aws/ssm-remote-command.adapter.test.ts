import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  InvocationDoesNotExist,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
  SSMServiceException,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SsmRemoteCommand } from '../../../src/adapters/aws/ssm-remote-command.adapter.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { renderScript, type RemoteStep } from '../../../src/core/ports/remote-command.port.js';
import { motoClientConfig, uniqueName } from '../../support/aws.js';
import { fakeClock, type FakeClock } from './fake-clock.js';

function step(overrides: Partial<RemoteStep> = {}): RemoteStep {
  return {
    name: 'install-packages',
    script: 'set -eu\necho "setting up $DORMOUSE_ENVIRONMENT"',
    timeoutSeconds: 600,
    sandboxSafe: false,
    env: { DORMOUSE_ENVIRONMENT: 'alpha', DORMOUSE_SERVER_INDEX: '0' },
    ...overrides,
  };
}

const AGENT = { agentTimeoutMs: 5 * 60_000 };

describe('SsmRemoteCommand against moto', () => {
  let ssm: SSMClient;
  let instanceId: string;
  let workdir: string;

  beforeAll(async () => {
    const ec2 = new EC2Client(motoClientConfig());
    const out = await ec2.send(
      new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
    );
    instanceId = out.Instances?.[0]?.InstanceId ?? '';
    ssm = new SSMClient(motoClientConfig());
    workdir = mkdtempSync(join(tmpdir(), 'dormouse-ssm-'));
  });

  afterAll(() => rmSync(workdir, { recursive: true, force: true }));

  /** The command moto recorded for this step (moto's SendCommand fans out to every instance, so find it by comment). */
  async function recordedCommand(comment: string) {
    const out = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId }));
    const command = out.Commands?.find((c) => c.Comment === comment);
    expect(command).toBeDefined();
    return command;
  }

  it('runs a step through AWS-RunShellScript and reports its success', async () => {
    const name = uniqueName('step');
    const onAccepted = vi.fn();
    const remote = new SsmRemoteCommand({ ssm, clock: fakeClock() });

    const result = await remote.run(instanceId, step({ name }), { ...AGENT, onAccepted });

    expect(result).toEqual({ status: 'Success', exitCode: 0, stdoutTail: '', stderrTail: '', durationMs: 0 });
    expect(onAccepted).toHaveBeenCalledOnce();
    const command = await recordedCommand(`dormouse ${name}`);
    expect(command?.DocumentName).toBe('AWS-RunShellScript');
    expect(command?.Parameters?.executionTimeout).toEqual(['600']);
    expect(command?.Parameters?.commands).toEqual([
      "export DORMOUSE_ENVIRONMENT='alpha'",
      "export DORMOUSE_SERVER_INDEX='0'",
      'set -eu',
      'echo "setting up $DORMOUSE_ENVIRONMENT"',
    ]);
  });

  it('sends variables that a shell reads back exactly, without running anything in them', async () => {
    const name = uniqueName('step');
    const marker = join(workdir, 'pwned');
    const hostile = `it's "quoted" $(touch ${marker}) \`touch ${marker}\` $HOME; touch ${marker}`;
    const remote = new SsmRemoteCommand({ ssm, clock: fakeClock() });
    const sent = step({ name, env: { DORMOUSE_NOTE: hostile }, script: 'printf %s "$DORMOUSE_NOTE"' });

    await remote.run(instanceId, sent, AGENT);

    const commands = (await recordedCommand(`dormouse ${name}`))?.Parameters?.commands ?? [];
    expect(commands.join('\n')).toBe(renderScript(sent));
    // Run what SSM would run, as AWS-RunShellScript does: the lines as one script.
    const printed = execFileSync('sh', ['-c', commands.join('\n')], { encoding: 'utf8' });
    expect(printed).toBe(hostile);
    expect(existsSync(marker)).toBe(false);
  });

  it('keeps the comment within the 100 characters SSM allows', async () => {
    const name = `${uniqueName('long')}-${'x'.repeat(120)}`;
    const remote = new SsmRemoteCommand({ ssm, clock: fakeClock() });

    await remote.run(instanceId, step({ name }), AGENT);

    const out = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId }));
    const command = out.Commands?.find((c) => c.Comment === `dormouse ${name}`.slice(0, 100));
    expect(command?.Comment).toHaveLength(100);
  });
});

describe('SsmRemoteCommand with SSM outcomes moto cannot produce', () => {
  let ssm: SSMClient;
  let ssmMock: AwsClientStub<SSMClient>;
  let clock: FakeClock;
  let remote: SsmRemoteCommand;
  const instanceId = 'i-0123456789abcdef0';
  const CommandId = '11111111-2222-3333-4444-555555555555';

  const invocation = (output: Partial<GetCommandInvocationCommandOutput>): GetCommandInvocationCommandOutput => ({
    $metadata: {},
    CommandId,
    InstanceId: instanceId,
    ...output,
  });
  const inProgress = invocation({ Status: 'InProgress', StatusDetails: 'InProgress', ResponseCode: -1 });
  const agentNotRegistered = () =>
    new InvalidInstanceId({ message: 'Instances not in a valid state for account', $metadata: { httpStatusCode: 400 } });

  beforeEach(() => {
    ssm = new SSMClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    ssmMock = mockClient(ssm);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId } });
    ssmMock.on(CancelCommandCommand).resolves({});
    clock = fakeClock();
    remote = new SsmRemoteCommand({ ssm, clock });
  });

  it('keeps sending while the agent has not registered, then reports acceptance once', async () => {
    ssmMock
      .on(SendCommandCommand)
      .rejectsOnce(agentNotRegistered())
      .rejectsOnce(agentNotRegistered())
      .resolves({ Command: { CommandId } });
    ssmMock.on(GetCommandInvocationCommand).resolves(invocation({ Status: 'Success', ResponseCode: 0 }));
    const onAccepted = vi.fn();

    const result = await remote.run(instanceId, step(), { ...AGENT, onAccepted });

    expect(result.status).toBe('Success');
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(3);
    expect(onAccepted).toHaveBeenCalledOnce();
    expect(result.durationMs).toBe(clock.elapsedMs());
    expect(result.durationMs).toBeGreaterThan(0);
  });

  it('gives up with AGENT_OFFLINE when the agent never registers', async () => {
    ssmMock.on(SendCommandCommand).rejects(agentNotRegistered());
    const onAccepted = vi.fn();

    const error = await remote.run(instanceId, step(), { agentTimeoutMs: 3 * 60_000, onAccepted }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCodes.AGENT_OFFLINE, retryable: true });
    expect((error as DomainError).message).toContain(instanceId);
    expect(clock.elapsedMs()).toBe(3 * 60_000);
    expect(onAccepted).not.toHaveBeenCalled();
    expect(ssmMock.commandCalls(GetCommandInvocationCommand)).toHaveLength(0);
  });

  it('reports a failed script with its exit code and the end of its output', async () => {
    const stderr = Array.from({ length: 30 }, (_, i) => `error line ${i + 1}`).join('\n') + '\n';
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolvesOnce(inProgress)
      .resolves(
        invocation({
          Status: 'Failed',
          StatusDetails: 'Failed',
          ResponseCode: 2,
          StandardOutputContent: 'installing\n',
          StandardErrorContent: stderr,
        }),
      );

    const result = await remote.run(instanceId, step(), AGENT);

    expect(result.status).toBe('Failed');
    expect(result.exitCode).toBe(2);
    expect(result.stdoutTail).toBe('installing');
    const tail = result.stderrTail.split('\n');
    expect(tail).toHaveLength(20);
    expect(tail[0]).toBe('error line 11');
    expect(tail.at(-1)).toBe('error line 30');
  });

  it('keeps as many output lines as configured', async () => {
    remote = new SsmRemoteCommand({ ssm, clock, outputTailLines: 2 });
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves(invocation({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'a\nb\nc\nd' }));

    expect((await remote.run(instanceId, step(), AGENT)).stdoutTail).toBe('c\nd');
  });

  it('polls again while the invocation does not exist yet, is pending or is throttled', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejectsOnce(new InvocationDoesNotExist({ message: 'not yet', $metadata: { httpStatusCode: 400 } }))
      .resolvesOnce(invocation({ Status: 'Pending', ResponseCode: -1 }))
      .rejectsOnce(
        new SSMServiceException({
          name: 'ThrottlingException',
          message: 'Rate exceeded',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        }),
      )
      .resolvesOnce(inProgress)
      .resolves(invocation({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'done\n' }));

    const result = await remote.run(instanceId, step(), AGENT);

    expect(result).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: 'done' });
    expect(ssmMock.commandCalls(GetCommandInvocationCommand)).toHaveLength(5);
    // Backoff: each wait longer than the last.
    expect(clock.sleeps).toHaveLength(4);
    expect([...clock.sleeps].sort((a, b) => a - b)).toEqual(clock.sleeps);
  });

  it.each([
    ['TimedOut', 'ExecutionTimedOut'],
    ['TimedOut', 'DeliveryTimedOut'],
    ['Failed', 'ExecutionTimedOut'],
  ] as const)('reports status %s with details %s as TimedOut', async (Status, StatusDetails) => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves(invocation({ Status, StatusDetails, ResponseCode: -1, StandardOutputContent: 'still compiling\n' }));

    const result = await remote.run(instanceId, step(), AGENT);

    expect(result).toMatchObject({ status: 'TimedOut', exitCode: -1, stdoutTail: 'still compiling' });
  });

  it('waits through Cancelling until Cancelled', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolvesOnce(invocation({ Status: 'Cancelling' }))
      .resolves(invocation({ Status: 'Cancelled' }));

    const result = await remote.run(instanceId, step(), AGENT);

    expect(result).toMatchObject({ status: 'Cancelled', exitCode: -1 });
  });

  it('stops waiting once the step deadline passes, cancels the command, and reports TimedOut', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves(
      invocation({ Status: 'InProgress', ResponseCode: -1, StandardOutputContent: 'step 1 of 9\nstep 2 of 9\n' }),
    );
    // Like moto, a CancelCommand that fails must not hide the result.
    ssmMock.on(CancelCommandCommand).rejects(new Error('HTTP 500'));
    remote = new SsmRemoteCommand({ ssm, clock, graceSeconds: 30 });

    const result = await remote.run(instanceId, step({ timeoutSeconds: 120 }), AGENT);

    expect(result).toMatchObject({ status: 'TimedOut', exitCode: -1, stdoutTail: 'step 1 of 9\nstep 2 of 9' });
    expect(result.durationMs).toBe(150_000);
    expect(ssmMock.commandCalls(CancelCommandCommand)).toHaveLength(1);
    expect(ssmMock.commandCalls(CancelCommandCommand)[0]?.args[0].input).toEqual({
      CommandId,
      InstanceIds: [instanceId],
    });
  });

  it('sends the script lines, its execution timeout and a delivery timeout', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves(invocation({ Status: 'Success', ResponseCode: 0 }));

    await remote.run(instanceId, step({ timeoutSeconds: 900 }), AGENT);

    expect(ssmMock.commandCalls(SendCommandCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [instanceId],
      DocumentName: 'AWS-RunShellScript',
      Comment: 'dormouse install-packages',
      TimeoutSeconds: 600,
      Parameters: {
        commands: [
          "export DORMOUSE_ENVIRONMENT='alpha'",
          "export DORMOUSE_SERVER_INDEX='0'",
          'set -eu',
          'echo "setting up $DORMOUSE_ENVIRONMENT"',
        ],
        executionTimeout: ['900'],
      },
    });
  });

  it('turns other SSM errors into cloud errors', async () => {
    ssmMock.on(SendCommandCommand).rejects(
      new SSMServiceException({
        name: 'InvalidDocument',
        message: 'Document AWS-RunShellScript does not exist',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const error = await remote.run(instanceId, step(), AGENT).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.CLOUD_ERROR, details: { awsCode: 'InvalidDocument' } });
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
  });
});
