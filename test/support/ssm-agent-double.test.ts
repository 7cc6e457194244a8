/** The SSM agent double: data scripts sent through moto really run, per instance, the rest keeps moto's behaviour. */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SsmRemoteCommand } from '../../src/adapters/aws/ssm-remote-command.adapter.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { instanceDataDir, startSsmAgentDouble, type SsmAgentDouble } from './ssm-agent-double.js';

const SERVER_DATA_DIR = '/var/lib/dormouse/data';
const SHA = 'a'.repeat(64);

let root: string;
let double: SsmAgentDouble;
let ssm: SSMClient;
let ec2: EC2Client;

function config(endpoint: string) {
  return { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 2 };
}

async function launch(): Promise<string> {
  const out = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  const id = out.Instances?.[0]?.InstanceId;
  if (!id) throw new Error('moto launched no instance');
  return id;
}

/** Sends a script the way the adapter does: exported variables first, then the lines. */
async function send(instanceId: string, lines: string[], extra: { executionTimeout?: number; TimeoutSeconds?: number } = {}): Promise<string> {
  const out = await ssm.send(
    new SendCommandCommand({
      InstanceIds: [instanceId],
      DocumentName: 'AWS-RunShellScript',
      Comment: 'dormouse test',
      ...(extra.TimeoutSeconds ? { TimeoutSeconds: extra.TimeoutSeconds } : {}),
      Parameters: {
        commands: [`export DORMOUSE_DATA_DIR='${SERVER_DATA_DIR}'`, ...lines],
        ...(extra.executionTimeout ? { executionTimeout: [String(extra.executionTimeout)] } : {}),
      },
    }),
  );
  const id = out.Command?.CommandId;
  if (!id) throw new Error('no command id');
  return id;
}

function invocation(commandId: string, instanceId: string): Promise<GetCommandInvocationCommandOutput> {
  return ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
}

async function untilOver(commandId: string, instanceId: string, timeoutMs = 15_000): Promise<GetCommandInvocationCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await invocation(commandId, instanceId);
    if (out.Status !== 'InProgress' && out.Status !== 'Pending') return out;
    if (Date.now() > deadline) throw new Error(`still ${out.Status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dormouse-ssm-double-'));
  double = await startSsmAgentDouble({ target: inject('motoUrl'), root });
  ssm = new SSMClient(config(double.url));
  ec2 = new EC2Client(config(double.url));
});

afterAll(async () => {
  ssm?.destroy();
  ec2?.destroy();
  await double?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('SSM agent double', () => {
  it('runs a data script in the instance folder, its data directory mapped, and reports InProgress then Success', async () => {
    const instanceId = await launch();
    const commandId = await send(instanceId, [
      '# the tail of save.sh, in miniature',
      'mkdir -p "$DORMOUSE_DATA_DIR"',
      'printf hello > "$DORMOUSE_DATA_DIR/greeting.txt"',
      'echo "progress" >&2',
      'sleep 1',
      `echo "dormouse-save v1 bytes=5 sha256=${SHA} parts=1 compression=gzip entries=1 cwd=$PWD env=$(env | cut -d= -f1 | sort | tr '\\n' ,)"`,
    ]);

    const first = await invocation(commandId, instanceId);
    expect(first.Status).toBe('InProgress');
    expect(first.ResponseCode).toBe(-1);

    const over = await untilOver(commandId, instanceId);
    expect(over).toMatchObject({ CommandId: commandId, InstanceId: instanceId, Status: 'Success', StatusDetails: 'Success', ResponseCode: 0 });
    expect(over.StandardOutputContent).toContain(`dormouse-save v1 bytes=5 sha256=${SHA}`);
    expect(over.StandardOutputContent).toContain(`cwd=${join(root, instanceId)} `);
    // Only PATH, HOME and LANG, and what the script exports itself (bash adds PWD, SHLVL and _).
    expect(over.StandardOutputContent).toMatch(/env=DORMOUSE_DATA_DIR,HOME,LANG,PATH,PWD,SHLVL,_,/);
    expect(over.StandardErrorContent).toBe('progress\n');
    expect(over.ExecutionEndDateTime).toBeTruthy();

    expect(double.dataDir(instanceId)).toBe(instanceDataDir(root, instanceId));
    expect(await readFile(join(root, instanceId, 'data', 'greeting.txt'), 'utf8')).toBe('hello');
    expect(existsSync(join(SERVER_DATA_DIR, 'greeting.txt'))).toBe(false);
    expect(double.runs.find((r) => r.commandId === commandId)).toMatchObject({ instanceId, status: 'Success' });
    // moto still knows the command (ListCommands is what the adapter uses to attach to a step already sent).
    const listed = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId }));
    expect(listed.Commands?.some((c) => c.CommandId === commandId)).toBe(true);
  });

  it('reports a data script that exits 3 as Failed with ResponseCode 3', async () => {
    const instanceId = await launch();
    const commandId = await send(instanceId, ['echo "dormouse-restore v1: checksum mismatch" >&2', 'exit 3']);
    const over = await untilOver(commandId, instanceId);
    expect(over).toMatchObject({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 3, StandardOutputContent: '' });
    expect(over.StandardErrorContent).toContain('checksum mismatch');
  });

  it('does not run other scripts: moto answers them (Success, no output)', async () => {
    const instanceId = await launch();
    const before = double.runs.length;
    const commandId = await send(instanceId, ['mkdir -p "$DORMOUSE_DATA_DIR"', 'touch "$DORMOUSE_DATA_DIR/bootstrap-ran"', 'dnf install -y git']);
    const out = await invocation(commandId, instanceId);
    expect(out).toMatchObject({ Status: 'Success', ResponseCode: 0, StandardOutputContent: '' });
    expect(double.runs.length).toBe(before);
    expect(existsSync(join(root, instanceId))).toBe(false);
  });

  it('kills a data script past its execution timeout: TimedOut', async () => {
    const instanceId = await launch();
    const commandId = await send(instanceId, ['# dormouse-save v1 stand-in', 'sleep 30 & wait'], { executionTimeout: 1 });
    const started = Date.now();
    const over = await untilOver(commandId, instanceId);
    expect(over).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut', ResponseCode: -1 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('takes TimeoutSeconds as the timeout when executionTimeout is not given', async () => {
    const instanceId = await launch();
    const commandId = await send(instanceId, ['# dormouse-save v1 stand-in', 'sleep 30'], { TimeoutSeconds: 1 });
    const over = await untilOver(commandId, instanceId);
    expect(over.Status).toBe('TimedOut');
  });

  it('cancels a data script it runs', async () => {
    const instanceId = await launch();
    const commandId = await send(instanceId, ['# dormouse-save v1 stand-in', 'sleep 30']);
    await ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
    const over = await untilOver(commandId, instanceId);
    expect(over).toMatchObject({ Status: 'Cancelled', ResponseCode: -1 });
  });

  it('serves the SSM adapter: a step with the data directory exported runs against the instance folder', async () => {
    const instanceId = await launch();
    const remote = new SsmRemoteCommand({ ssm, clock: systemClock, poll: { initialMs: 20, maxMs: 100 } });
    const step = {
      name: 'save',
      key: `save-${instanceId}`,
      script: ['mkdir -p "$DORMOUSE_DATA_DIR"', 'echo kept > "$DORMOUSE_DATA_DIR/kept"', `echo "dormouse-save v1 bytes=5 sha256=${SHA} parts=1 compression=gzip entries=1"`].join('\n'),
      timeoutSeconds: 10,
      sandboxSafe: false,
      env: { DORMOUSE_DATA_DIR: SERVER_DATA_DIR },
    };
    const result = await remote.run(instanceId, step, { agentTimeoutMs: 5_000 });
    expect(result).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: `dormouse-save v1 bytes=5 sha256=${SHA} parts=1 compression=gzip entries=1` });
    expect(await readFile(join(double.dataDir(instanceId), 'kept'), 'utf8')).toBe('kept\n');

    // A second run of the same key attaches to the command (found through moto's ListCommands): nothing runs again.
    const runsBefore = double.runs.length;
    const again = await new SsmRemoteCommand({ ssm, clock: systemClock, poll: { initialMs: 20, maxMs: 100 } }).run(instanceId, step, { agentTimeoutMs: 5_000 });
    expect(again.status).toBe('Success');
    expect(double.runs.length).toBe(runsBefore);
  });
});
