import {
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  EC2Client,
  EC2ServiceException,
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
import type { LaunchRequest } from '../../../src/core/ports/compute.port.js';
import { motoClientConfig, uniqueName } from '../../support/aws.js';
import { fakeClock, type FakeClock } from './fake-clock.js';

const AL2023_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const WAIT = { timeoutMs: 10 * 60_000 };

function launchRequest(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  const environment = overrides.environment ?? uniqueName('ec2');
  const attempt = overrides.attempt ?? 1;
  return {
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
    idempotencyKey: `${environment}#${attempt}`,
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

  async function describeEnvironment(environment: string): Promise<Ec2Instance[]> {
    const out = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:dormouse:environment', Values: [environment] }] }),
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
    const described = await describeEnvironment(request.environment);
    expect(described).toHaveLength(2);
    for (const instance of described) {
      expect(instance.ImageId).toBe(ami);
      expect(instance.InstanceType).toBe('t3.micro');
      expect(instance.MetadataOptions?.HttpTokens).toBe('required');
      expect(instance.ClientToken).toBe(request.idempotencyKey);
    }
  });

  it('tags instances and their volumes, each with its own index and name', async () => {
    const request = launchRequest();
    const running = await launchAndWait(request);

    const common = {
      'managed-by': 'dormouse',
      'dormouse:environment': request.environment,
      'dormouse:owner': 'U0OWNER',
      'dormouse:template': 'small-linux',
      'dormouse:attempt': '1',
      team: 'data',
    };
    const instances = await describeEnvironment(request.environment);
    const instanceTags = instances.map((i) => tagsOf(i.Tags));
    for (const tags of instanceTags) expect(tags).toMatchObject(common);
    expect(instanceTags.map((t) => [t['dormouse:index'], t.Name]).sort()).toEqual([
      ['0', `${request.environment}-0`],
      ['1', `${request.environment}-1`],
    ]);

    const volumes =
      (
        await ec2.send(
          new DescribeVolumesCommand({ Filters: [{ Name: 'tag:dormouse:environment', Values: [request.environment] }] }),
        )
      ).Volumes ?? [];
    expect(volumes).toHaveLength(2);
    for (const volume of volumes) {
      expect(volume).toMatchObject({ Size: 20, VolumeType: 'gp3', Encrypted: true });
      expect(tagsOf(volume.Tags)).toMatchObject(common);
    }
    // Each volume carries the index of the server it is attached to.
    const indexById = new Map(running.map((s) => [s.instanceId, String(s.index)]));
    for (const volume of volumes) {
      const attachedTo = volume.Attachments?.[0]?.InstanceId;
      expect(tagsOf(volume.Tags)['dormouse:index']).toBe(indexById.get(attachedTo ?? ''));
    }
    expect(new Set(volumes.map((v) => tagsOf(v.Tags)['dormouse:index']))).toEqual(new Set(['0', '1']));
  });

  it('returns the same servers when the same attempt is launched again, and creates none', async () => {
    const request = launchRequest();
    const first = await compute.launch(request);
    const again = await compute.launch(request);

    expect(again.map((i) => i.instanceId)).toEqual(first.map((i) => i.instanceId));
    expect(await describeEnvironment(request.environment)).toHaveLength(2);
  });

  it('launches new servers for a new attempt', async () => {
    const first = launchRequest();
    const firstServers = await compute.launch(first);
    const second = launchRequest({ environment: first.environment, attempt: 2 });
    const secondServers = await compute.launch(second);

    expect(secondServers).toHaveLength(2);
    expect(secondServers.every((i) => i.attempt === 2)).toBe(true);
    const firstIds = new Set(firstServers.map((i) => i.instanceId));
    expect(secondServers.some((i) => firstIds.has(i.instanceId))).toBe(false);
    expect(await describeEnvironment(first.environment)).toHaveLength(4);
  });

  it('completes the tagging of a launch that was interrupted right after RunInstances', async () => {
    const request = launchRequest({ count: 3 });
    // What a crash between RunInstances and CreateTags leaves behind: shared tags, no index.
    await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.micro',
        MinCount: 3,
        MaxCount: 3,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'managed-by', Value: 'dormouse' },
              { Key: 'dormouse:environment', Value: request.environment },
              { Key: 'dormouse:attempt', Value: '1' },
            ],
          },
        ],
      }),
    );

    const servers = await compute.launch(request);

    expect(servers.map((s) => s.index)).toEqual([0, 1, 2]);
    const described = await describeEnvironment(request.environment);
    expect(described).toHaveLength(3);
    expect(described.map((i) => tagsOf(i.Tags)['dormouse:index']).sort()).toEqual(['0', '1', '2']);
  });

  it('passes a long idempotency key as a 64-character token derived from it', async () => {
    const key = `${'k'.repeat(100)}#1`;
    expect(clientToken(key)).toHaveLength(64);
    expect(clientToken(key)).toBe(clientToken(key));
    const request = launchRequest({ count: 1, idempotencyKey: key });
    await compute.launch(request);
    const [instance] = await describeEnvironment(request.environment);
    expect(instance?.ClientToken).toBe(clientToken(key));
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

    const described = await describeEnvironment(request.environment);
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
    expect((await describeEnvironment(request.environment))[0]?.ImageId).toBe('ami-0abcdef1234567890');
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
    expect(await describeEnvironment(request.environment)).toHaveLength(0);
  });

  it('finds the live servers of one environment only', async () => {
    const mine = launchRequest();
    const other = launchRequest();
    const [mineServers, otherServers] = [await launchAndWait(mine), await launchAndWait(other)];
    const [, second] = mineServers;
    await compute.terminate([second?.instanceId ?? '']);
    await compute.waitUntilTerminated([second?.instanceId ?? ''], WAIT);

    const found = await compute.findByEnvironment(mine.environment);

    expect(found.map((i) => i.instanceId)).toEqual([mineServers[0]?.instanceId]);
    expect(found[0]).toMatchObject({ index: 0, attempt: 1, state: 'running' });
    expect(otherServers).toHaveLength(2);
    expect(await compute.findByEnvironment(uniqueName('nobody'))).toEqual([]);
  });

  it('terminates servers and waits until they are gone', async () => {
    const request = launchRequest();
    const ids = (await launchAndWait(request)).map((i) => i.instanceId);

    await compute.terminate(ids);
    const polled: string[][] = [];
    await compute.waitUntilTerminated(ids, { ...WAIT, onPoll: (instances) => polled.push(instances.map((i) => i.state)) });

    expect(polled.at(-1)).toEqual(['terminated', 'terminated']);
    expect(await compute.findByEnvironment(request.environment)).toEqual([]);
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

  it('retries a throttled launch and then succeeds', async () => {
    ec2Mock
      .on(RunInstancesCommand)
      .rejectsOnce(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503))
      .rejectsOnce(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503))
      .resolves({ Instances: [{ InstanceId: 'i-00000000000000001', AmiLaunchIndex: 0, State: { Name: 'pending' } }] });
    ec2Mock.on(CreateTagsCommand).resolves({});

    const servers = await compute.launch({ ...request(), count: 1 });

    expect(servers).toEqual([{ instanceId: 'i-00000000000000001', state: 'pending', index: 0, attempt: 1 }]);
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(3);
    expect(clock.sleeps).toHaveLength(2);
    // The same ClientToken on every try: EC2 will not launch twice.
    const tokens = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken);
    expect(new Set(tokens).size).toBe(1);
  });

  it('gives up on throttling after a few tries with a retryable THROTTLED error', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503));

    const error = await compute.launch(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.THROTTLED, retryable: true });
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(4);
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

  it('tags the volumes once the servers run, as real EC2 lists no volumes for pending instances', async () => {
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [0, 1].map((i) => ({ InstanceId: `i-0000000000000000${i}`, AmiLaunchIndex: i, State: { Name: 'pending' } })),
    });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const launched = await compute.launch({ ...request(), environment: 'alpha' });
    expect(ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input.Resources)).toEqual([
      ['i-00000000000000000'],
      ['i-00000000000000001'],
    ]);
    ec2Mock.resetHistory();
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [0, 1].map((i) => ({
            InstanceId: `i-0000000000000000${i}`,
            AmiLaunchIndex: i,
            State: { Name: 'running' },
            PrivateIpAddress: `10.0.0.${i + 10}`,
            BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: `vol-0${i}` } }],
            Tags: [
              { Key: 'managed-by', Value: 'dormouse' },
              { Key: 'dormouse:environment', Value: 'alpha' },
              { Key: 'dormouse:attempt', Value: '1' },
              { Key: 'dormouse:index', Value: String(i) },
            ],
          })),
        },
      ],
    });

    await compute.waitUntilRunning(
      launched.map((i) => i.instanceId),
      WAIT,
    );

    expect(ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input)).toEqual([
      {
        Resources: ['i-00000000000000000', 'vol-00'],
        Tags: [
          { Key: 'dormouse:index', Value: '0' },
          { Key: 'Name', Value: 'alpha-0' },
        ],
      },
      {
        Resources: ['i-00000000000000001', 'vol-01'],
        Tags: [
          { Key: 'dormouse:index', Value: '1' },
          { Key: 'Name', Value: 'alpha-1' },
        ],
      },
    ]);
  });

  it('turns a failing DescribeInstances into a cloud error', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized'));

    const error = await compute.findByEnvironment('alpha').catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCodes.CLOUD_ERROR, details: { awsCode: 'UnauthorizedOperation' } });
  });
});
