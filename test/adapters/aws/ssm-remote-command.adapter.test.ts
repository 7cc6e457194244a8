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
import { SsmRemoteCommand, commandComment } from '../../../src/adapters/aws/ssm-remote-command.adapter.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { renderScript, type RemoteStep } from '../../../src/core/ports/remote-command.port.js';
import { motoClientConfig, uniqueName } from '../../support/aws.js';
import { fakeClock, type FakeClock } from './fake-clock.js';
import { OFFLINE, ScriptedHttp, sdkRetries, ssmOk, ssmThrottled } from './scripted-http.js';

let keys = 0;
function step(overrides: Partial<RemoteStep> = {}): RemoteStep {
  keys += 1;
  return {
    name: 'install-packages',
    key: `01JD3Q8Z6KX7W8Y9A0B1C2D3E4/1.0/0/install-packages#${process.pid}.${Date.now()}.${keys}`,
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
  let otherInstanceId: string;
  let workdir: string;

  beforeAll(async () => {
    const ec2 = new EC2Client(motoClientConfig());
    const out = await ec2.send(
      new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 2, MaxCount: 2 }),
    );
    instanceId = out.Instances?.[0]?.InstanceId ?? '';
    otherInstanceId = out.Instances?.[1]?.InstanceId ?? '';
    ssm = new SSMClient(motoClientConfig());
    workdir = mkdtempSync(join(tmpdir(), 'dormouse-ssm-'));
  });

  afterAll(() => rmSync(workdir, { recursive: true, force: true }));

  /** Commands moto recorded with this comment (its ListCommands piles every instance into InstanceIds, so go by comment). */
  async function recorded(comment: string) {
    const out = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId }));
    return (out.Commands ?? []).filter((c) => c.Comment === comment);
  }

  async function recordedCommand(comment: string) {
    const [command, ...more] = await recorded(comment);
    expect(command).toBeDefined();
    expect(more).toEqual([]);
    return command;
  }

  it('runs a step through AWS-RunShellScript and reports its success', async () => {
    const name = uniqueName('step');
    const onAccepted = vi.fn();
    const remote = new SsmRemoteCommand({ ssm, clock: fakeClock() });

    const sent = step({ name });
    const result = await remote.run(instanceId, sent, { ...AGENT, onAccepted });

    expect(result).toEqual({ status: 'Success', exitCode: 0, stdoutTail: '', stderrTail: '', durationMs: 0 });
    expect(onAccepted).toHaveBeenCalledOnce();
    const command = await recordedCommand(commandComment(instanceId, sent));
    expect(command?.Comment).toMatch(new RegExp(`^dormouse [0-9a-f]{24} ${name}$`));
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

    const commands = (await recordedCommand(commandComment(instanceId, sent)))?.Parameters?.commands ?? [];
    expect(commands.join('\n')).toBe(renderScript(sent));
    // Run what SSM would run, as AWS-RunShellScript does: the lines as one script.
    const printed = execFileSync('sh', ['-c', commands.join('\n')], { encoding: 'utf8' });
    expect(printed).toBe(hostile);
    expect(existsSync(marker)).toBe(false);
  });

  it('keeps the comment within the 100 characters SSM allows', async () => {
    const name = `${uniqueName('long')}-${'x'.repeat(120)}`;
    const remote = new SsmRemoteCommand({ ssm, clock: fakeClock() });
    const sent = step({ name });

    await remote.run(instanceId, sent, AGENT);

    const command = await recordedCommand(commandComment(instanceId, sent));
    expect(command?.Comment).toHaveLength(100);
    // Cut at the end: the key's hash, which finds the command again, is whole.
    expect(command?.Comment?.startsWith(`dormouse ${commandComment(instanceId, sent).split(' ')[1]} ${name.slice(0, 20)}`)).toBe(true);

    // Another process (a new adapter) with the same key attaches instead of sending.
    const again = await new SsmRemoteCommand({ ssm, clock: fakeClock() }).run(instanceId, sent, AGENT);
    expect(again.status).toBe('Success');
    expect(await recorded(commandComment(instanceId, sent))).toHaveLength(1);
  });

  it('sends again for the same key on another instance: the instance is part of what the key means', async () => {
    const remote = new SsmRemoteCommand({ ssm, clock: fakeClock() });
    const sent = step();

    await remote.run(instanceId, sent, AGENT);
    await remote.run(otherInstanceId, sent, AGENT);

    expect(commandComment(otherInstanceId, sent)).not.toBe(commandComment(instanceId, sent));
    expect(await recorded(commandComment(instanceId, sent))).toHaveLength(1);
    expect(await recorded(commandComment(otherInstanceId, sent))).toHaveLength(1);
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
    const sent = step({ timeoutSeconds: 900 });

    await remote.run(instanceId, sent, AGENT);

    expect(ssmMock.commandCalls(SendCommandCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [instanceId],
      DocumentName: 'AWS-RunShellScript',
      Comment: commandComment(instanceId, sent),
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

  it('does not retry a throttled SendCommand on top of the SDK: what reaches it is THROTTLED at once, after one call', async () => {
    // `send` is replaced here, so this error is what the SDK's retries would have let through.
    ssmMock.on(SendCommandCommand).rejects(
      new SSMServiceException({ name: 'ThrottlingException', message: 'Rate exceeded', $fault: 'client', $metadata: { httpStatusCode: 400 } }),
    );

    const error = await remote.run(instanceId, step(), AGENT).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.THROTTLED, retryable: true });
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
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

  it('attaches to a command with the same key that SSM lists, on any page, without sending', async () => {
    const sent = step();
    const pages = [
      { Commands: [{ CommandId: 'other', Comment: 'dormouse 000000000000000000000000 install-packages' }], NextToken: 'page-2' },
      { Commands: [{ CommandId, Comment: commandComment(instanceId, sent) }] },
    ];
    // Each input copied as it is sent: the SDK's paginator sends one input object, updated page after page.
    const lists: unknown[] = [];
    ssmMock.on(ListCommandsCommand).callsFake((input: object) => {
      lists.push({ ...input });
      return pages[lists.length - 1];
    });
    ssmMock.on(GetCommandInvocationCommand).resolves(invocation({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'ok' }));
    const onAccepted = vi.fn();

    const result = await remote.run(instanceId, sent, { ...AGENT, onAccepted });

    expect(result).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: 'ok' });
    expect(onAccepted).toHaveBeenCalledOnce();
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(ssmMock.commandCalls(ListCommandsCommand)).toHaveLength(2);
    expect(lists).toEqual([
      { InstanceId: instanceId, MaxResults: 50, NextToken: undefined },
      { InstanceId: instanceId, MaxResults: 50, NextToken: 'page-2' },
    ]);
    expect(ssmMock.commandCalls(GetCommandInvocationCommand)[0]?.args[0].input).toEqual({ CommandId, InstanceId: instanceId });
  });

  it('takes ListCommands refusing an instance whose agent never registered for "nothing sent yet"', async () => {
    ssmMock.on(ListCommandsCommand).rejects(agentNotRegistered());
    ssmMock.on(GetCommandInvocationCommand).resolves(invocation({ Status: 'Success', ResponseCode: 0 }));

    expect((await remote.run(instanceId, step(), AGENT)).status).toBe('Success');
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('sends once for two runs of the same key at once, and not again for a later run', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolvesOnce(inProgress).resolves(invocation({ Status: 'Success', ResponseCode: 0 }));
    const sent = step();
    const accepted = vi.fn();

    const results = await Promise.all([
      remote.run(instanceId, sent, { ...AGENT, onAccepted: accepted }),
      remote.run(instanceId, sent, { ...AGENT, onAccepted: accepted }),
    ]);
    const later = await remote.run(instanceId, sent, AGENT);

    expect([...results, later].map((r) => r.status)).toEqual(['Success', 'Success', 'Success']);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(accepted).toHaveBeenCalledTimes(2);
  });

  it('stops waiting for the agent when the signal is aborted, with its reason, and sends nothing more', async () => {
    const stop = new AbortController();
    let tries = 0;
    ssmMock.on(SendCommandCommand).callsFake(() => {
      tries += 1;
      if (tries === 2) stop.abort(new Error('lease lost'));
      throw agentNotRegistered();
    });

    const error = await remote.run(instanceId, step(), { ...AGENT, signal: stop.signal }).catch((e: unknown) => e);

    expect(error).toBe(stop.signal.reason);
    expect(tries).toBe(2);
    expect(clock.elapsedMs()).toBeLessThan(AGENT.agentTimeoutMs);
  });

  it('stops polling when the signal is aborted, with its reason, and leaves the command running (no CancelCommand)', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves(inProgress);
    const stop = new AbortController();
    const polls = () => ssmMock.commandCalls(GetCommandInvocationCommand).length;
    clock = fakeClock();
    const sleep = clock.sleep;
    clock.sleep = async (ms, signal) => {
      if (polls() === 3) stop.abort('shutting down');
      return sleep(ms, signal);
    };
    remote = new SsmRemoteCommand({ ssm, clock });

    const error = await remote.run(instanceId, step(), { ...AGENT, signal: stop.signal }).catch((e: unknown) => e);

    expect(error).toBe('shutting down');
    expect(polls()).toBe(3);
    expect(ssmMock.commandCalls(CancelCommandCommand)).toHaveLength(0);
  });

  it('sends nothing for a run whose signal is already aborted', async () => {
    const error = await remote.run(instanceId, step(), { ...AGENT, signal: AbortSignal.abort('stopped') }).catch((e: unknown) => e);

    expect(error).toBe('stopped');
    expect(ssmMock.commandCalls(ListCommandsCommand)).toHaveLength(0);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('lets a second run of the same key go on when the run it shared a send with is aborted', async () => {
    let sends = 0;
    ssmMock.on(SendCommandCommand).callsFake(() => {
      sends += 1;
      if (sends === 1) first.abort('first run stopped');
      if (sends < 3) throw agentNotRegistered();
      return { Command: { CommandId } };
    });
    ssmMock.on(GetCommandInvocationCommand).resolves(invocation({ Status: 'Success', ResponseCode: 0 }));
    const first = new AbortController();
    const sent = step();

    const [a, b] = await Promise.allSettled([
      remote.run(instanceId, sent, { ...AGENT, signal: first.signal }),
      remote.run(instanceId, sent, AGENT),
    ]);

    expect(a).toMatchObject({ status: 'rejected', reason: 'first run stopped' });
    expect(b).toMatchObject({ status: 'fulfilled', value: { status: 'Success' } });
    expect(sends).toBe(3);
  });
});

describe('SsmRemoteCommand when SSM throttles: the SDK retries, through the whole client stack', () => {
  const instanceId = 'i-0123456789abcdef0';
  const CommandId = '11111111-2222-3333-4444-555555555555';
  let http: ScriptedHttp;
  let clock: FakeClock;
  const nothingListed = ssmOk({ Commands: [] });
  const accepted = ssmOk({ Command: { CommandId } });
  const succeeded = ssmOk({ CommandId, InstanceId: instanceId, Status: 'Success', StatusDetails: 'Success', ResponseCode: 0, StandardOutputContent: 'done\n' });
  const remote = () => new SsmRemoteCommand({ ssm: new SSMClient({ ...OFFLINE, requestHandler: http, ...sdkRetries(3) }), clock });

  beforeEach(() => {
    http = new ScriptedHttp();
    clock = fakeClock();
  });

  it('runs the step once the SDK has retried a throttled ListCommands and SendCommand, sending one command', async () => {
    http
      .on('ListCommands', ssmThrottled(), ssmThrottled(), nothingListed)
      .on('SendCommand', ssmThrottled(), ssmThrottled(), accepted)
      .on('GetCommandInvocation', succeeded);

    const result = await remote().run(instanceId, step(), AGENT);

    expect(result).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: 'done' });
    expect(http.callsOf('ListCommands')).toHaveLength(3);
    expect(http.callsOf('SendCommand')).toHaveLength(3);
    // Every SendCommand try was the same request (one comment, one key); the SDK waited, not the adapter.
    expect(new Set(http.callsOf('SendCommand').map((c) => c.body)).size).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('reports THROTTLED (retryable) after the SDK\'s maxAttempts SendCommand calls, not AGENT_OFFLINE after minutes', async () => {
    http.on('ListCommands', nothingListed).on('SendCommand', ssmThrottled());

    const error = await remote().run(instanceId, step(), AGENT).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.THROTTLED, retryable: true, details: { awsCode: 'ThrottlingException' } });
    expect(http.callsOf('SendCommand')).toHaveLength(3);
    expect(clock.elapsedMs()).toBe(0);
  });

  it('reports THROTTLED after the SDK\'s maxAttempts ListCommands calls, and sends nothing', async () => {
    http.on('ListCommands', ssmThrottled()).on('SendCommand', accepted);

    const error = await remote().run(instanceId, step(), AGENT).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.THROTTLED, retryable: true });
    expect(http.callsOf('ListCommands')).toHaveLength(3);
    expect(http.callsOf('SendCommand')).toHaveLength(0);
  });

  it('polls again later when a GetCommandInvocation stays throttled through the SDK\'s retries', async () => {
    http
      .on('ListCommands', nothingListed)
      .on('SendCommand', accepted)
      .on('GetCommandInvocation', ssmThrottled(), ssmThrottled(), ssmThrottled(), succeeded);

    const result = await remote().run(instanceId, step(), AGENT);

    expect(result.status).toBe('Success');
    // One poll of three SDK tries, all throttled; one wait of the adapter's own; the next poll succeeds.
    expect(http.callsOf('GetCommandInvocation')).toHaveLength(4);
    expect(clock.sleeps).toHaveLength(1);
  });
});
