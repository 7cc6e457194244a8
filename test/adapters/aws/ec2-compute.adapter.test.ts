import {
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  EC2Client,
  EC2ServiceException,
  type EC2ClientConfig,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Instance as Ec2Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Ec2Compute, clientToken } from '../../../src/adapters/aws/ec2-compute.adapter.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { newEnvironmentId } from '../../../src/core/environment/ids.js';
import type { LaunchRequest } from '../../../src/core/ports/compute.port.js';
import { motoClientConfig, uniqueName } from '../../support/aws.js';
import { fakeClock, type FakeClock } from './fake-clock.js';
import { OFFLINE, ScriptedHttp, ec2InstancesXml, ec2Ok, ec2Throttled, sdkRetries } from './scripted-http.js';

const AL2023_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const WAIT = { timeoutMs: 10 * 60_000 };

function launchRequest(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  const environment = overrides.environment ?? uniqueName('ec2');
  const environmentId = overrides.environmentId ?? newEnvironmentId(new Date());
  const attempt = overrides.attempt ?? 1;
  return {
    environmentId,
    environment,
    owner: 'U0OWNER',
    template: 'small-linux',
    image: `resolve:ssm:${AL2023_PARAMETER}`,
    instanceType: 't3.micro',
    count: 2,
    subnets: [],
    securityGroups: [],
    volumes: [{ device: '/dev/xvda', sizeGiB: 20, type: 'gp3' }],
    tags: { team: 'data', 'managed-by': 'a-template-cannot-override-this' },
    attempt,
    idempotencyKey: `dormouse-${environmentId}-${attempt}`,
    ...overrides,
  };
}

const tagsOf = (tags: Tag[] | undefined): Record<string, string | undefined> =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));

describe('Ec2Compute against moto', () => {
  let ec2: EC2Client;
  let ssm: SSMClient;
  let clock: FakeClock;
  let compute: Ec2Compute;

  beforeEach(() => {
    ec2 = new EC2Client(motoClientConfig());
    ssm = new SSMClient(motoClientConfig());
    clock = fakeClock();
    compute = new Ec2Compute({ ec2, ssm, clock });
  });

  /** What EC2 holds for this environment id, in every state, as moto sees it (not through the adapter). */
  async function describeEnvironment(environmentId: string): Promise<Ec2Instance[]> {
    const out = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:dormouse:environment-id', Values: [environmentId] }] }),
    );
    return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  }

  async function launchAndWait(request: LaunchRequest) {
    const launched = await compute.launch(request);
    return compute.waitUntilRunning(
      launched.map((i) => i.instanceId),
      WAIT,
    );
  }

  it('launches servers from an SSM image parameter and waits until each runs with a private IP', async () => {
    const request = launchRequest();
    const launched = await compute.launch(request);
    expect(launched.map((i) => i.index)).toEqual([0, 1]);
    expect(launched.every((i) => i.attempt === 1)).toBe(true);

    const polls: number[] = [];
    const running = await compute.waitUntilRunning(
      launched.map((i) => i.instanceId),
      { ...WAIT, onPoll: (instances) => polls.push(instances.length) },
    );

    expect(running).toHaveLength(2);
    expect(running.map((i) => i.instanceId)).toEqual(launched.map((i) => i.instanceId));
    for (const server of running) {
      expect(server.state).toBe('running');
      expect(server.privateIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
    expect(polls.length).toBeGreaterThanOrEqual(1);
    expect(polls.every((n) => n === 2)).toBe(true);

    const ami = (await ssm.send(new GetParameterCommand({ Name: AL2023_PARAMETER }))).Parameter?.Value;
    const described = await describeEnvironment(request.environmentId);
    expect(described).toHaveLength(2);
    for (const instance of described) {
      expect(instance.ImageId).toBe(ami);
      expect(instance.InstanceType).toBe('t3.micro');
      expect(instance.MetadataOptions?.HttpTokens).toBe('required');
      expect(instance.ClientToken).toBe(request.idempotencyKey);
    }
  });

  it('tags instances and their volumes at launch: environment id and name, owner, template, attempt, Name', async () => {
    const request = launchRequest();
    await launchAndWait(request);

    const ours = {
      'managed-by': 'dormouse',
      'dormouse:environment-id': request.environmentId,
      'dormouse:environment': request.environment,
      'dormouse:owner': 'U0OWNER',
      'dormouse:template': 'small-linux',
      'dormouse:attempt': '1',
      Name: `dormouse-${request.environment}`,
      team: 'data',
    };
    const instances = await describeEnvironment(request.environmentId);
    expect(instances).toHaveLength(2);
    for (const instance of instances) {
      expect(tagsOf(instance.Tags)).toEqual(ours);
      expect(tagsOf(instance.Tags)).not.toHaveProperty('dormouse:index');
    }

    const volumes =
      (
        await ec2.send(
          new DescribeVolumesCommand({
            Filters: [{ Name: 'tag:dormouse:environment-id', Values: [request.environmentId] }],
          }),
        )
      ).Volumes ?? [];
    expect(volumes).toHaveLength(2);
    for (const volume of volumes) {
      expect(volume).toMatchObject({ Size: 20, VolumeType: 'gp3', Encrypted: true });
      expect(tagsOf(volume.Tags)).toEqual(ours);
    }
  });

  it('numbers the servers by AmiLaunchIndex, which moto sets to 0 … count-1 in one RunInstances call', async () => {
    const request = launchRequest({ count: 3 });
    const launched = await compute.launch(request);

    const described = await describeEnvironment(request.environmentId);
    const launchIndexById = new Map(described.map((i) => [i.InstanceId, i.AmiLaunchIndex]));
    expect([...launchIndexById.values()].sort()).toEqual([0, 1, 2]);
    expect(launched.map((i) => i.index)).toEqual([0, 1, 2]);
    for (const server of launched) expect(server.index).toBe(launchIndexById.get(server.instanceId));
    // Found again later, each keeps its number.
    const found = await compute.findByEnvironment(request.environmentId);
    expect(found.map((i) => [i.instanceId, i.index])).toEqual(launched.map((i) => [i.instanceId, i.index]));
  });

  it('returns the same servers when the same attempt is launched again, and creates none', async () => {
    const request = launchRequest();
    const first = await compute.launch(request);
    const again = await compute.launch(request);

    expect(again.map((i) => i.instanceId)).toEqual(first.map((i) => i.instanceId));
    expect(await describeEnvironment(request.environmentId)).toHaveLength(2);
  });

  it('shares one RunInstances between two launches of the same attempt at once in this process', async () => {
    const request = launchRequest();
    const send = vi.spyOn(ec2, 'send');
    const [a, b] = await Promise.all([compute.launch(request), compute.launch(request)]);

    expect(b.map((i) => i.instanceId)).toEqual(a.map((i) => i.instanceId));
    expect(send.mock.calls.filter(([command]) => command instanceof RunInstancesCommand)).toHaveLength(1);
    expect(await describeEnvironment(request.environmentId)).toHaveLength(2);
  });

  it('returns a set whose servers have ended as it is, so the caller sees it is incomplete, and launches nothing', async () => {
    const request = launchRequest();
    const first = await launchAndWait(request);
    await compute.terminate([first[1]?.instanceId ?? '']);
    await compute.waitUntilTerminated([first[1]?.instanceId ?? ''], WAIT);

    const again = await compute.launch(request);

    expect(again.map((i) => [i.instanceId, i.state])).toEqual([
      [first[0]?.instanceId, 'running'],
      [first[1]?.instanceId, 'terminated'],
    ]);
    expect(await describeEnvironment(request.environmentId)).toHaveLength(2);
  });

  it('launches new servers for a new attempt', async () => {
    const first = launchRequest();
    const firstServers = await compute.launch(first);
    const second = launchRequest({ environmentId: first.environmentId, environment: first.environment, attempt: 2 });
    const secondServers = await compute.launch(second);

    expect(secondServers).toHaveLength(2);
    expect(secondServers.every((i) => i.attempt === 2)).toBe(true);
    const firstIds = new Set(firstServers.map((i) => i.instanceId));
    expect(secondServers.some((i) => firstIds.has(i.instanceId))).toBe(false);
    expect(await describeEnvironment(first.environmentId)).toHaveLength(4);
  });

  it('adopts a launch whose answer was lost (a crash right after RunInstances): found by its tags, numbered by AmiLaunchIndex', async () => {
    const request = launchRequest({ count: 3 });
    // What a crash between RunInstances and its answer leaves behind: the servers, tagged, unknown to the caller.
    const tags = [
      { Key: 'managed-by', Value: 'dormouse' },
      { Key: 'dormouse:environment-id', Value: request.environmentId },
      { Key: 'dormouse:attempt', Value: '1' },
    ];
    const lost = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.micro',
        MinCount: 3,
        MaxCount: 3,
        TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
      }),
    );

    const servers = await compute.launch(request);

    expect(servers.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(new Set(servers.map((s) => s.instanceId))).toEqual(new Set(lost.Instances?.map((i) => i.InstanceId)));
    expect(await describeEnvironment(request.environmentId)).toHaveLength(3);
  });

  it('passes a long idempotency key as a 64-character token derived from it', async () => {
    const key = `${'k'.repeat(100)}#1`;
    expect(clientToken(key)).toHaveLength(64);
    expect(clientToken(key)).toBe(clientToken(key));
    const request = launchRequest({ count: 1, idempotencyKey: key });
    await compute.launch(request);
    const [instance] = await describeEnvironment(request.environmentId);
    expect(instance?.ClientToken).toBe(clientToken(key));
  });

  it('launches a replacement with a token of its own and tags it (instance and volume) with its index and serial', async () => {
    const request = launchRequest();
    await compute.launch(request);
    // Given the set's own key: the token must still differ, or EC2 would answer with the set (or IdempotentParameterMismatch).
    const [replacement] = await compute.launch({ ...request, count: 1, replacement: { index: 1, serial: 3 } });

    const described = (await describeEnvironment(request.environmentId)).find((i) => i.InstanceId === replacement!.instanceId);
    expect(described?.ClientToken).toBe(`${request.idempotencyKey}#1.3`);
    expect(described?.AmiLaunchIndex).toBe(0);
    expect(tagsOf(described?.Tags)).toMatchObject({ 'dormouse:attempt': '1', 'dormouse:index': '1', 'dormouse:replacement': '1.3' });
    const volumes =
      (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:dormouse:replacement', Values: ['1.3'] }, { Name: 'tag:dormouse:environment-id', Values: [request.environmentId] }] })))
        .Volumes ?? [];
    expect(volumes).toHaveLength(1);
    expect(tagsOf(volumes[0]?.Tags)).toMatchObject({ 'dormouse:index': '1', 'dormouse:replacement': '1.3' });
  });

  it('launches into the first subnet with the template security groups', async () => {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }));
    const vpcId = vpc.Vpc?.VpcId;
    const subnetA = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.42.1.0/24' }));
    const subnetB = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.42.2.0/24' }));
    const group = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: uniqueName('sg'), Description: 'dormouse test', VpcId: vpcId }),
    );
    const request = launchRequest({
      subnets: [subnetA.Subnet?.SubnetId ?? '', subnetB.Subnet?.SubnetId ?? ''],
      securityGroups: [group.GroupId ?? ''],
    });

    await launchAndWait(request);

    const described = await describeEnvironment(request.environmentId);
    expect(described.map((i) => i.SubnetId)).toEqual([subnetA.Subnet?.SubnetId, subnetA.Subnet?.SubnetId]);
    for (const instance of described) {
      expect(instance.SecurityGroups?.map((g) => g.GroupId)).toEqual([group.GroupId]);
      expect(instance.PrivateIpAddress).toMatch(/^10\.42\.1\./);
    }
  });

  it('resolves an image parameter once and then reuses it', async () => {
    const send = vi.spyOn(ssm, 'send');
    await compute.launch(launchRequest({ count: 1 }));
    await compute.launch(launchRequest({ count: 1 }));
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('uses an AMI id as it is, without asking SSM', async () => {
    const send = vi.spyOn(ssm, 'send');
    const request = launchRequest({ count: 1, image: 'ami-0abcdef1234567890' });
    await compute.launch(request);
    expect(send).not.toHaveBeenCalled();
    expect((await describeEnvironment(request.environmentId))[0]?.ImageId).toBe('ami-0abcdef1234567890');
  });

  it('says which image parameter does not exist', async () => {
    const error = await compute
      .launch(launchRequest({ image: 'resolve:ssm:/dormouse/no/such/image' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCodes.LAUNCH_FAILED, retryable: false });
    expect((error as DomainError).message).toContain('/dormouse/no/such/image');
  });

  it('fails to launch with an instance profile that does not exist, quoting AWS', async () => {
    const request = launchRequest({ instanceProfile: uniqueName('no-such-profile') });
    const error = await compute.launch(request).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.LAUNCH_FAILED, retryable: false });
    expect((error as DomainError).message).toContain(request.instanceProfile);
    expect(await describeEnvironment(request.environmentId)).toHaveLength(0);
  });

  it('finds the live servers of one environment only', async () => {
    const mine = launchRequest();
    const other = launchRequest();
    const [mineServers, otherServers] = [await launchAndWait(mine), await launchAndWait(other)];
    const [, second] = mineServers;
    await compute.terminate([second?.instanceId ?? '']);
    await compute.waitUntilTerminated([second?.instanceId ?? ''], WAIT);

    const found = await compute.findByEnvironment(mine.environmentId);

    expect(found.map((i) => i.instanceId)).toEqual([mineServers[0]?.instanceId]);
    expect(found[0]).toMatchObject({ index: 0, attempt: 1, state: 'running' });
    expect(otherServers).toHaveLength(2);
    expect(await compute.findByEnvironment(newEnvironmentId(new Date()))).toEqual([]);
  });

  it('reads every page of DescribeInstances: more servers than one page holds are all found', async () => {
    const paged = new Ec2Compute({ ec2, ssm, clock, describePageSize: 5 });
    const first = launchRequest({ count: 1, image: 'ami-0123456789abcdef0' });
    // Seven launches (attempts) of one server each: seven reservations, which is what moto pages by.
    const launched: string[] = [];
    for (let attempt = 1; attempt <= 7; attempt += 1) {
      const [server] = await paged.launch({ ...first, attempt, idempotencyKey: `${first.idempotencyKey}-${attempt}` });
      launched.push(server?.instanceId ?? '');
    }
    const send = vi.spyOn(ec2, 'send');

    const found = await paged.findByEnvironment(first.environmentId);

    expect(found.map((i) => i.instanceId)).toEqual(launched);
    expect(found.map((i) => i.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const describes = send.mock.calls.filter(([command]) => command instanceof DescribeInstancesCommand);
    expect(describes.length).toBeGreaterThanOrEqual(2);
    for (const [command] of describes) expect((command as DescribeInstancesCommand).input.MaxResults).toBe(5);
  });

  it('terminates servers and waits until they are gone', async () => {
    const request = launchRequest();
    const ids = (await launchAndWait(request)).map((i) => i.instanceId);

    await compute.terminate(ids);
    const polled: string[][] = [];
    await compute.waitUntilTerminated(ids, { ...WAIT, onPoll: (instances) => polled.push(instances.map((i) => i.state)) });

    expect(polled.at(-1)).toEqual(['terminated', 'terminated']);
    expect(await compute.findByEnvironment(request.environmentId)).toEqual([]);
  });

  it('treats servers that are already terminated or unknown as terminated', async () => {
    const request = launchRequest({ count: 1 });
    const [server] = await launchAndWait(request);
    const id = server?.instanceId ?? '';
    await compute.terminate([id]);

    await expect(compute.terminate([id])).resolves.toBeUndefined();
    await expect(compute.terminate(['i-0000000000dead000'])).resolves.toBeUndefined();
    await expect(compute.waitUntilTerminated([id, 'i-0000000000dead000'], WAIT)).resolves.toBeUndefined();
  });

  it('still terminates the known servers when the list holds an unknown one', async () => {
    const [server] = await launchAndWait(launchRequest({ count: 1 }));
    const id = server?.instanceId ?? '';

    await compute.terminate(['i-0000000000dead001', id]);

    await compute.waitUntilTerminated([id], WAIT);
  });

  it('reports a server that is terminated while starting as lost', async () => {
    const launched = await compute.launch(launchRequest());
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [launched[1]?.instanceId ?? ''] }));

    const error = await compute
      .waitUntilRunning(
        launched.map((i) => i.instanceId),
        WAIT,
      )
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.INSTANCE_LOST, retryable: true });
    expect((error as DomainError).message).toContain(launched[1]?.instanceId);
  });

  it('gives up waiting at the deadline, naming the servers that are late', async () => {
    const launched = await compute.launch(launchRequest());
    const late = launched[0]?.instanceId ?? '';
    await ec2.send(new StopInstancesCommand({ InstanceIds: [late] }));

    const error = await compute
      .waitUntilRunning(
        launched.map((i) => i.instanceId),
        { timeoutMs: 5 * 60_000 },
      )
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.WAIT_TIMED_OUT, retryable: true });
    expect((error as DomainError).message).toContain(late);
    expect((error as DomainError).message).not.toContain(launched[1]?.instanceId);
    expect(clock.elapsedMs()).toBe(5 * 60_000);
    // Backoff: the waits grow, and never beyond the maximum.
    expect(clock.sleeps[1]).toBeGreaterThan(clock.sleeps[0] ?? Infinity);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(15_000);
  });

  it('stops waiting when its signal is aborted, with the signal\'s reason, and polls no more', async () => {
    const launched = await compute.launch(launchRequest({ count: 1 }));
    const id = launched[0]?.instanceId ?? '';
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const stop = new AbortController();
    const reason = new Error('the lease was lost');
    let polls = 0;

    const error = await compute
      .waitUntilRunning([id], {
        ...WAIT,
        signal: stop.signal,
        onPoll: () => {
          polls += 1;
          if (polls === 2) stop.abort(reason);
        },
      })
      .catch((e: unknown) => e);

    expect(error).toBe(reason);
    expect(polls).toBe(2);
    expect(clock.elapsedMs()).toBeLessThan(WAIT.timeoutMs);
  });
});

describe('Ec2Compute error translation', () => {
  let ec2: EC2Client;
  let ec2Mock: AwsClientStub<EC2Client>;
  let compute: Ec2Compute;
  let clock: FakeClock;

  const ec2Error = (name: string, message: string, status = 400) =>
    new EC2ServiceException({
      name,
      message,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status },
    });

  beforeEach(() => {
    ec2 = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    ec2Mock = mockClient(ec2);
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    clock = fakeClock();
    compute = new Ec2Compute({ ec2, ssm: new SSMClient({ region: 'us-east-1' }), clock });
  });

  const request = () => launchRequest({ image: 'ami-0123456789abcdef0', instanceType: 'p5.48xlarge' });

  it('turns InsufficientInstanceCapacity into a retryable capacity error naming the instance type', async () => {
    ec2Mock
      .on(RunInstancesCommand)
      .rejects(ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient p5.48xlarge capacity', 500));

    const error = await compute.launch(request()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCodes.CAPACITY, retryable: true });
    expect((error as DomainError).message).toBe(
      'AWS has no spare capacity for p5.48xlarge in this zone right now. Retry in a few minutes, or pick another instance type.',
    );
  });

  it.each(['InstanceLimitExceeded', 'VcpuLimitExceeded'])('turns %s into a limit error that asks ops for a quota', async (code) => {
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error(code, 'You have requested more vCPU capacity than your current limit'));

    const error = await compute.launch(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.LIMIT, retryable: false });
    expect((error as DomainError).message).toMatch(/limit.*Ask ops to raise the quota/);
  });

  it('does not retry a throttling error on top of the SDK: what reaches it is THROTTLED at once, after one call', async () => {
    // `send` is replaced here, so this error is what the SDK's retries would have let through.
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503));

    const error = await compute.launch(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.THROTTLED, retryable: true });
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('quotes AWS when it refuses the launch request', async () => {
    ec2Mock
      .on(RunInstancesCommand)
      .rejects(ec2Error('InvalidAMIID.NotFound', "The image id '[ami-0123456789abcdef0]' does not exist"));

    const error = await compute.launch(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.LAUNCH_FAILED, retryable: false });
    expect((error as DomainError).message).toContain("The image id '[ami-0123456789abcdef0]' does not exist.");
    expect((error as DomainError).details).toMatchObject({ awsCode: 'InvalidAMIID.NotFound' });
  });

  it('sends the launch request the design asks for', async () => {
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [] });

    await compute.launch({
      ...request(),
      subnets: ['subnet-a', 'subnet-b'],
      securityGroups: ['sg-1'],
      instanceProfile: 'dormouse-server',
    });

    const input = ec2Mock.commandCalls(RunInstancesCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      MinCount: 2,
      MaxCount: 2,
      SubnetId: 'subnet-a',
      SecurityGroupIds: ['sg-1'],
      IamInstanceProfile: { Name: 'dormouse-server' },
      MetadataOptions: { HttpTokens: 'required' },
      BlockDeviceMappings: [
        {
          DeviceName: '/dev/xvda',
          Ebs: { VolumeSize: 20, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
        },
      ],
    });
    expect(input?.TagSpecifications?.map((s) => s.ResourceType)).toEqual(['instance', 'volume']);
  });

  it('writes every tag in RunInstances and never calls CreateTags (the IAM role may only tag at launch)', async () => {
    const running = (i: number) => ({
      InstanceId: `i-0000000000000000${i}`,
      AmiLaunchIndex: i,
      State: { Name: 'running' as const },
      PrivateIpAddress: `10.0.0.${i + 10}`,
    });
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [1, 0].map((i) => ({ InstanceId: `i-0000000000000000${i}`, AmiLaunchIndex: i, State: { Name: 'pending' } })),
    });
    const launched = await compute.launch({ ...request(), environment: 'alpha', environmentId: '01JD3Q8Z6KX7W8Y9A0B1C2D3E4' });
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [running(1), running(0)] }] });
    await compute.waitUntilRunning(
      launched.map((i) => i.instanceId),
      WAIT,
    );

    // Numbered by AmiLaunchIndex, whatever order EC2 answers in.
    expect(launched.map((i) => [i.instanceId, i.index])).toEqual([
      ['i-00000000000000000', 0],
      ['i-00000000000000001', 1],
    ]);
    expect(ec2Mock.commandCalls(CreateTagsCommand)).toHaveLength(0);
    const specs = ec2Mock.commandCalls(RunInstancesCommand)[0]?.args[0].input.TagSpecifications ?? [];
    expect(specs.map((s) => s.ResourceType)).toEqual(['instance', 'volume']);
    for (const spec of specs) {
      expect(tagsOf(spec.Tags)).toEqual({
        team: 'data',
        Name: 'dormouse-alpha',
        'managed-by': 'dormouse',
        'dormouse:environment-id': '01JD3Q8Z6KX7W8Y9A0B1C2D3E4',
        'dormouse:environment': 'alpha',
        'dormouse:owner': 'U0OWNER',
        'dormouse:template': 'small-linux',
        'dormouse:attempt': '1',
      });
    }
  });

  it('looks servers up by environment id, never by name', async () => {
    await compute.findByEnvironment('01JD3Q8Z6KX7W8Y9A0B1C2D3E4');
    await compute.launch({ ...request(), environmentId: '01JD3Q8Z6KX7W8Y9A0B1C2D3E5' }).catch(() => undefined);

    const filters = ec2Mock.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.Filters ?? []);
    expect(filters[0]).toEqual([
      { Name: 'tag:managed-by', Values: ['dormouse'] },
      { Name: 'tag:dormouse:environment-id', Values: ['01JD3Q8Z6KX7W8Y9A0B1C2D3E4'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
    // The launch's lookup takes every state: a set whose servers ended is still that attempt's set.
    expect(filters[1]).toEqual([
      { Name: 'tag:managed-by', Values: ['dormouse'] },
      { Name: 'tag:dormouse:environment-id', Values: ['01JD3Q8Z6KX7W8Y9A0B1C2D3E5'] },
      { Name: 'tag:dormouse:attempt', Values: ['1'] },
    ]);
    for (const f of filters) expect(f.some((x) => x.Name === 'tag:dormouse:environment')).toBe(false);
  });

  it('turns a failing DescribeInstances into a cloud error', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized'));

    const error = await compute.findByEnvironment('01JD3Q8Z6KX7W8Y9A0B1C2D3E4').catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.CLOUD_ERROR, details: { awsCode: 'UnauthorizedOperation' } });
  });
});

describe('Ec2Compute when EC2 throttles: the SDK retries, through the whole client stack', () => {
  let http: ScriptedHttp;
  let clock: FakeClock;
  const request = () => launchRequest({ image: 'ami-0123456789abcdef0', count: 1 });
  const pending = ec2Ok(
    'RunInstances',
    `<reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>${ec2InstancesXml([{ id: 'i-00000000000000001', index: 0, state: 'pending' }])}</instancesSet>`,
  );
  const reservations = (state: string) =>
    ec2Ok(
      'DescribeInstances',
      `<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>${ec2InstancesXml([
        { id: 'i-00000000000000001', index: 0, state, ...(state === 'running' ? { privateIp: '10.0.0.10' } : {}) },
      ])}</instancesSet></item></reservationSet>`,
    );
  const none = ec2Ok('DescribeInstances', '<reservationSet/>');
  const compute = (config: Partial<EC2ClientConfig> = sdkRetries(3)) =>
    new Ec2Compute({ ec2: new EC2Client({ ...OFFLINE, requestHandler: http, ...config }), ssm: new SSMClient(OFFLINE), clock });

  beforeEach(() => {
    http = new ScriptedHttp();
    clock = fakeClock();
  });

  it('launches once the SDK has retried a throttled RunInstances, with one ClientToken on every try', async () => {
    http.on('DescribeInstances', none).on('RunInstances', ec2Throttled(), ec2Throttled(), pending);
    const launch = request();

    const servers = await compute(sdkRetries(3)).launch(launch);

    expect(servers).toEqual([{ instanceId: 'i-00000000000000001', state: 'pending', index: 0, attempt: 1 }]);
    expect(http.callsOf('RunInstances')).toHaveLength(3);
    // The SDK waited between the tries, not the adapter.
    expect(clock.sleeps).toEqual([]);
    const tokens = http.callsOf('RunInstances').map((c) => new URLSearchParams(c.body).get('ClientToken'));
    expect(new Set(tokens)).toEqual(new Set([launch.idempotencyKey]));
  });

  it('reports THROTTLED (retryable) after the SDK\'s maxAttempts calls, not more', async () => {
    http.on('DescribeInstances', none).on('RunInstances', ec2Throttled());

    const error = await compute(sdkRetries(3)).launch(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.THROTTLED, retryable: true, details: { awsCode: 'RequestLimitExceeded' } });
    expect(http.callsOf('RunInstances')).toHaveLength(3);
    expect(clock.sleeps).toEqual([]);
  });

  it('goes on waiting when one poll was throttled and the SDK retried it', async () => {
    http.on('DescribeInstances', reservations('pending'), ec2Throttled(), reservations('running'));

    const running = await compute(sdkRetries(3)).waitUntilRunning(['i-00000000000000001'], WAIT);

    expect(running).toEqual([{ instanceId: 'i-00000000000000001', state: 'running', index: 0, attempt: 0, privateIp: '10.0.0.10' }]);
    expect(http.callsOf('DescribeInstances')).toHaveLength(3);
    // One wait of the adapter's own (between the two polls); the throttled try was the SDK's.
    expect(clock.sleeps).toHaveLength(1);
  });

  it('goes on waiting when a poll is still throttled after the SDK\'s tries: it polls again later', async () => {
    http.on('DescribeInstances', reservations('pending'), ec2Throttled(), ec2Throttled(), ec2Throttled(), reservations('running'));

    const running = await compute(sdkRetries(3)).waitUntilRunning(['i-00000000000000001'], WAIT);

    expect(running.map((i) => i.state)).toEqual(['running']);
    expect(http.callsOf('DescribeInstances')).toHaveLength(5);
    // Two waits of its own: after the pending poll, and after the poll the SDK gave up on.
    expect(clock.sleeps).toHaveLength(2);
  });

  it('retries in adaptive mode, as the EC2 client is configured in production (the real SDK waits: about 2 s)', async () => {
    http.on('DescribeInstances', none).on('RunInstances', ec2Throttled(), pending);

    const servers = await compute({ maxAttempts: 2, retryMode: 'adaptive' }).launch(request());

    expect(servers.map((s) => s.instanceId)).toEqual(['i-00000000000000001']);
    expect(http.callsOf('RunInstances')).toHaveLength(2);
  });
});
