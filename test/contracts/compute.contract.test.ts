/**
 * The ComputePort contract, against EC2 (moto) and the sandbox's local cloud;
 * then what only one of them can show about stop and start (a slow stop in the
 * local cloud, EC2's IncorrectInstanceState, which moto never answers).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Ec2Compute } from '../../src/adapters/aws/ec2-compute.adapter.js';
import { FAST_SANDBOX_DELAYS, LocalCloud } from '../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { ErrorCodes } from '../../src/core/environment/errors.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import type { LaunchRequest } from '../../src/core/ports/compute.port.js';
import type { RemoteStep } from '../../src/core/ports/remote-command.port.js';
import { fakeClock } from '../adapters/aws/fake-clock.js';
import { OFFLINE, ScriptedHttp, ec2Error, ec2InstancesXml, ec2Ok, sdkRetries } from '../adapters/aws/scripted-http.js';
import { ManualClock } from '../adapters/sandbox/local-cloud/manual-clock.js';
import { motoClientConfig, uniqueName } from '../support/aws.js';
import { computeContract, domainErrorOf, freshEnvironmentId } from './compute.contract.js';

function request(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  const environmentId = overrides.environmentId ?? freshEnvironmentId();
  const attempt = overrides.attempt ?? 1;
  return {
    environmentId,
    environment: uniqueName('contract'),
    owner: 'U0OWNER',
    template: 'small-linux',
    image: 'ami-0123456789abcdef0',
    instanceType: 't3.micro',
    count: 2,
    subnets: [],
    securityGroups: [],
    volumes: [{ device: '/dev/xvda', sizeGiB: 8, type: 'gp3' }],
    tags: {},
    attempt,
    idempotencyKey: `dormouse-${environmentId}-${attempt}`,
    ...overrides,
  };
}

computeContract('EC2 (moto)', async () => {
  const ec2 = new EC2Client(motoClientConfig());
  return {
    compute: new Ec2Compute({ ec2, ssm: new SSMClient(motoClientConfig()), clock: systemClock, poll: { initialMs: 10, maxMs: 50 } }),
    request,
    countServers: async (environmentId) => {
      const out = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'tag:dormouse:environment-id', Values: [environmentId] }] }),
      );
      return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).length;
    },
    timeoutMs: 10_000,
    // A server someone launched by hand: no managed-by tag.
    launchUnmanaged: async () => {
      const out = await ec2.send(
        new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'by-hand' }] }] }),
      );
      return out.Instances?.[0]?.InstanceId ?? '';
    },
  };
});

computeContract('local cloud', async () => {
  const rootDir = await mkdtemp(join(tmpdir(), 'dormouse-compute-contract-'));
  const cloud = new LocalCloud({ rootDir, clock: systemClock, delays: FAST_SANDBOX_DELAYS });
  return {
    compute: cloud,
    request,
    // The folders themselves, terminated servers included.
    countServers: async (environmentId) => (await cloud.describeAll()).filter((s) => s.environmentId === environmentId).length,
    timeoutMs: 10_000,
    close: () => rm(rootDir, { recursive: true, force: true }),
  };
});

describe('local cloud: stop and start, beyond the contract', () => {
  let rootDir: string;
  beforeEach(async () => {
    rootDir = await mkdtemp(join(tmpdir(), 'dormouse-compute-stop-'));
  });
  afterEach(() => rm(rootDir, { recursive: true, force: true }));

  const step = (name: string): RemoteStep => ({ name, key: `${name}-key`, script: 'true', timeoutSeconds: 60, sandboxSafe: false, env: {} });

  it('times out (COMPUTE.WAIT_TIMED_OUT, retryable) waiting for a server whose stop is slow', async () => {
    const cloud = new LocalCloud({ rootDir, clock: systemClock, delays: { ...FAST_SANDBOX_DELAYS, terminateMs: 60_000 } });
    const [server] = await cloud.launch(request({ count: 1 }));
    await cloud.waitUntilRunning([server!.instanceId], { timeoutMs: 10_000 });
    await cloud.stop([server!.instanceId]);

    const polls: string[] = [];
    const error = await domainErrorOf(
      cloud.waitUntilStopped([server!.instanceId], { timeoutMs: 50, onPoll: (i) => polls.push(i[0]!.state) }),
    );
    expect(error.code).toBe(ErrorCodes.WAIT_TIMED_OUT);
    expect(error.retryable).toBe(true);
    expect(new Set(polls)).toEqual(new Set(['stopping']));
  });

  it('keeps the folder, its data and its ip; logs stop and start; its agent is offline while stopped', async () => {
    const cloud = new LocalCloud({ rootDir, clock: systemClock, delays: FAST_SANDBOX_DELAYS });
    const [server] = await cloud.launch(request({ count: 1 }));
    const id = server!.instanceId;
    await cloud.waitUntilRunning([id], { timeoutMs: 10_000 });
    await writeFile(join(cloud.serverDataDir(id), 'kept.txt'), 'still here');

    await cloud.stop([id]);
    await cloud.waitUntilStopped([id], { timeoutMs: 10_000 });
    expect(await cloud.describe(id)).toMatchObject({ state: 'stopped', agentOnline: false, privateIp: server!.privateIp });
    const offline = await domainErrorOf(cloud.run(id, step('while-stopped'), { agentTimeoutMs: 50 }));
    expect(offline).toMatchObject({ code: ErrorCodes.AGENT_OFFLINE, retryable: true });
    expect(await cloud.commandsOf(id)).toEqual([]);

    await cloud.start([id]);
    const [again] = await cloud.waitUntilRunning([id], { timeoutMs: 10_000 });
    expect(again!.privateIp).toBe(server!.privateIp);
    // Sent while it boots: it waits for the agent, as for a new server.
    const result = await cloud.run(id, step('after-start'), { agentTimeoutMs: 10_000 });
    expect(result.status).toBe('Success');
    expect(await readFile(join(cloud.serverDataDir(id), 'kept.txt'), 'utf8')).toBe('still here');

    const log = await readFile(cloud.serverLogPath(id), 'utf8');
    expect(log).toMatch(/stop requested \(was running\); stopped at .*folder, data and ip .* kept/);
    expect(log).toMatch(/start requested \(was stopped\); ip /);
    const record = JSON.parse(await readFile(join(rootDir, 'servers', id, 'instance.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ state: 'running', stopRequestedAt: expect.any(String), startRequestedAt: expect.any(String) });
  });

  it('starts a server still stopping once it has stopped; a stop then calls that start off', async () => {
    const clock = new ManualClock();
    const delays = { ...FAST_SANDBOX_DELAYS, terminateMs: 1_000, bootMs: 100, agentMs: 50 };
    const cloud = new LocalCloud({ rootDir, clock, delays });
    const [server] = await cloud.launch(request({ count: 1 }));
    const id = server!.instanceId;
    clock.advance(500);
    await cloud.stop([id]);
    clock.advance(400);

    await cloud.start([id]);
    expect((await cloud.describe(id))!.state).toBe('stopping');
    clock.advance(600); // stopped 1 000 ms after the stop, then booting for 100 ms
    expect((await cloud.describe(id))!.state).toBe('pending');
    clock.advance(100);
    expect(await cloud.describe(id)).toMatchObject({ state: 'running', agentOnline: false });
    clock.advance(50);
    expect(await cloud.describe(id)).toMatchObject({ state: 'running', agentOnline: true });

    await cloud.stop([id]);
    clock.advance(500);
    await cloud.start([id]);
    await cloud.stop([id]);
    clock.advance(500);
    expect((await cloud.describe(id))!.state).toBe('stopped');
    expect((await cloud.findByEnvironment((await cloud.describe(id))!.environmentId)).map((i) => i.state)).toEqual(['stopped']);
  });
});

describe('EC2: stop and start, beyond the contract (EC2 answers moto does not give)', () => {
  const id = 'i-0123456789abcdef0';
  const described = (state: string) => ec2Ok('DescribeInstances', `<reservationSet><item><instancesSet>${ec2InstancesXml([{ id, index: 0, state, privateIp: '10.0.0.5' }])}</instancesSet></item></reservationSet>`);
  const compute = (http: ScriptedHttp, stateChangeTimeoutMs?: number) =>
    new Ec2Compute({
      ec2: new EC2Client({ ...OFFLINE, requestHandler: http, ...sdkRetries(1) }),
      ssm: new SSMClient(OFFLINE),
      clock: fakeClock(),
      poll: { initialMs: 1_000, maxMs: 5_000 },
      ...(stateChangeTimeoutMs === undefined ? {} : { stateChangeTimeoutMs }),
    });
  const incorrectState = () => ec2Error('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be started.`);

  it('starts a server that was still stopping once EC2 accepts it (IncorrectInstanceState is tried again)', async () => {
    const http = new ScriptedHttp()
      .on('DescribeInstances', described('stopping'), described('stopping'), described('stopped'))
      .on('StartInstances', incorrectState(), incorrectState(), ec2Ok('StartInstances', '<instancesSet/>'));

    await compute(http).start([id]);

    expect(http.callsOf('StartInstances')).toHaveLength(3);
    expect(http.callsOf('DescribeInstances')).toHaveLength(3);
  });

  it('gives up after stateChangeTimeoutMs with a retryable cloud error quoting EC2', async () => {
    const http = new ScriptedHttp().on('DescribeInstances', described('stopping')).on('StartInstances', incorrectState());

    const error = await domainErrorOf(compute(http, 30_000).start([id]));

    expect(error).toMatchObject({ code: ErrorCodes.CLOUD_ERROR, retryable: true, details: { awsCode: 'IncorrectInstanceState', operation: 'start' } });
    expect(http.callsOf('StartInstances').length).toBeGreaterThan(2);
  });

  it('sends only the servers that need it, and nothing for a set already there', async () => {
    const http = new ScriptedHttp().on('DescribeInstances', described('stopped')).on('StopInstances', ec2Ok('StopInstances', '<instancesSet/>'));
    await compute(http).stop([id]);
    expect(http.callsOf('StopInstances')).toHaveLength(0);

    http.on('DescribeInstances', described('shutting-down'));
    const lost = await domainErrorOf(compute(http).stop([id]));
    expect(lost).toMatchObject({ code: ErrorCodes.INSTANCE_LOST, details: { instanceId: id, state: 'shutting-down' } });
    expect(http.callsOf('StopInstances')).toHaveLength(0);
  });
});
