/**
 * ComputePort on EC2. Every server is tagged so it can be found again without
 * the database; the tags are also what makes `launch` idempotent.
 *
 * Choices worth knowing:
 * - One RunInstances call per launch, MinCount = MaxCount = count, in the first
 *   of the template's subnets. EC2 then gives all the servers or none, so a
 *   launch never leaves half an environment behind, and a repeated launch finds
 *   either nothing or everything. Spreading servers over several subnets would
 *   need one call per subnet and the handling of partial launches; not needed yet.
 * - Idempotency is ours: before launching, we look for instances tagged with
 *   the environment and attempt. The ClientToken is passed as well, which
 *   covers a crash between RunInstances and its answer on real EC2.
 * - A multi-count call shares one set of TagSpecifications, so the per-server
 *   tags (`dormouse:index`, `Name`) are written afterwards with CreateTags. The
 *   index is the instance's AmiLaunchIndex, so writing it again after a crash
 *   gives the same answer.
 */
import { createHash } from 'node:crypto';
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Filter,
  type Instance as Ec2Instance,
  type RunInstancesCommandInput,
  type Tag,
  type VolumeType,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { DomainError, ErrorCodes } from '../../core/environment/errors.js';
import type {
  ComputePort,
  Instance,
  InstanceState,
  LaunchRequest,
  WaitOptions,
} from '../../core/ports/compute.port.js';
import type { Clock } from '../../core/ports/notifier.port.js';
import { awsErrorCode, awsHttpStatus, isThrottling, pollWithBackoff, retryWithBackoff } from './backoff.js';

/** Tag keys Dormouse writes on instances and volumes. */
export const Tags = {
  managedBy: 'managed-by',
  environment: 'dormouse:environment',
  owner: 'dormouse:owner',
  template: 'dormouse:template',
  attempt: 'dormouse:attempt',
  index: 'dormouse:index',
  name: 'Name',
} as const;
export const MANAGED_BY = 'dormouse';

const SSM_IMAGE_PREFIX = 'resolve:ssm:';
/** States of an instance that still exists (or will): everything but shutting-down and terminated. */
const LIVE_STATES: InstanceState[] = ['pending', 'running', 'stopping', 'stopped'];
const GONE_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated']);
/** How many times a throttled call is tried before THROTTLED reaches the caller. */
const THROTTLE_ATTEMPTS = 4;

export interface Ec2ComputeDeps {
  ec2: EC2Client;
  ssm: SSMClient;
  clock: Clock;
  /** Backoff of the waits (default 2 s growing to 15 s). */
  poll?: { initialMs: number; maxMs: number };
  /** How long a resolved `resolve:ssm:` image is reused (default 1 h; AWS publishes new AMIs every few weeks). */
  imageCacheTtlMs?: number;
}

type Operation = 'launch' | 'resolve-image' | 'tag' | 'describe' | 'terminate';

export class Ec2Compute implements ComputePort {
  private readonly ec2: EC2Client;
  private readonly ssm: SSMClient;
  private readonly clock: Clock;
  private readonly poll: { initialMs: number; maxMs: number };
  private readonly imageCacheTtlMs: number;
  private readonly images = new Map<string, { ami: Promise<string>; expiresAt: number }>();

  constructor(deps: Ec2ComputeDeps) {
    this.ec2 = deps.ec2;
    this.ssm = deps.ssm;
    this.clock = deps.clock;
    this.poll = deps.poll ?? { initialMs: 2_000, maxMs: 15_000 };
    this.imageCacheTtlMs = deps.imageCacheTtlMs ?? 60 * 60_000;
  }

  async launch(request: LaunchRequest): Promise<Instance[]> {
    const existing = await this.describe([
      ...environmentFilters(request.environment),
      { Name: `tag:${Tags.attempt}`, Values: [String(request.attempt)] },
    ]);
    if (existing.length > 0) {
      // Launched before (a retried request, or a crash after RunInstances): finish the tagging it may have missed.
      await this.tagEachServer(
        existing.filter((i) => tagValue(i, Tags.index) === undefined),
        request.environment,
      );
      return sortByIndex(existing.map(toInstance));
    }

    const imageId = await this.resolveImage(request.image);
    const output = await this.withThrottlingRetry(() =>
      this.ec2.send(new RunInstancesCommand(runInstancesInput(request, imageId))),
    ).catch((error: unknown) => {
      throw translateError(error, 'launch', { instanceType: request.instanceType, count: request.count });
    });
    const launched = output.Instances ?? [];
    await this.tagEachServer(launched, request.environment);
    // RunInstances may answer without tags: the attempt is the one just launched.
    return sortByIndex(launched.map((i) => ({ ...toInstance(i), attempt: request.attempt })));
  }

  async findByEnvironment(environment: string): Promise<Instance[]> {
    return sortByIndex((await this.describe(environmentFilters(environment))).map(toInstance));
  }

  async waitUntilRunning(instanceIds: readonly string[], options: WaitOptions): Promise<Instance[]> {
    if (instanceIds.length === 0) return [];
    let seen: Ec2Instance[] = [];
    const running = await pollWithBackoff(
      async () => {
        seen = await this.describeIds(instanceIds);
        options.onPoll?.(sortByIndex(seen.map(toInstance)));
        const lost = seen.filter((i) => GONE_STATES.has(i.State?.Name ?? ''));
        if (lost.length > 0) throw instanceLost(lost);
        const byId = new Map(seen.map((i) => [i.InstanceId, i]));
        const ready = instanceIds.every((id) => {
          const i = byId.get(id);
          return i?.State?.Name === 'running' && Boolean(i.PrivateIpAddress);
        });
        return ready ? seen : undefined;
      },
      { ...this.poll, clock: this.clock, deadline: this.deadline(options.timeoutMs) },
    );
    if (!running) {
      throw waitTimedOut('running', instanceIds, seen, options.timeoutMs);
    }
    // EC2 lists no block devices for a pending instance, so the volumes get their per-server tags once it runs.
    await this.tagEachServer(running.filter((i) => tagValue(i, Tags.managedBy) === MANAGED_BY));
    return sortByIndex(running.map(toInstance));
  }

  async terminate(instanceIds: readonly string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    try {
      await this.withThrottlingRetry(() =>
        this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [...instanceIds] })),
      );
    } catch (error) {
      if (awsErrorCode(error) !== 'InvalidInstanceID.NotFound') throw translateError(error, 'terminate');
      // One unknown id fails the whole call: end the others one by one.
      if (instanceIds.length > 1) {
        for (const id of instanceIds) await this.terminate([id]);
      }
    }
  }

  async waitUntilTerminated(instanceIds: readonly string[], options: WaitOptions): Promise<void> {
    if (instanceIds.length === 0) return;
    let seen: Ec2Instance[] = [];
    const done = await pollWithBackoff(
      async () => {
        seen = await this.describeIds(instanceIds);
        options.onPoll?.(sortByIndex(seen.map(toInstance)));
        // An instance EC2 no longer lists is long terminated.
        return seen.every((i) => i.State?.Name === 'terminated') ? true : undefined;
      },
      { ...this.poll, clock: this.clock, deadline: this.deadline(options.timeoutMs) },
    );
    if (!done) throw waitTimedOut('terminated', instanceIds, seen, options.timeoutMs);
  }

  /** `ami-…` as is; `resolve:ssm:<parameter>` through SSM, remembered for a while. */
  private async resolveImage(image: string): Promise<string> {
    if (!image.startsWith(SSM_IMAGE_PREFIX)) return image;
    const parameter = image.slice(SSM_IMAGE_PREFIX.length);
    const now = this.clock.now().getTime();
    const cached = this.images.get(parameter);
    if (cached && cached.expiresAt > now) return cached.ami;

    const ami = this.withThrottlingRetry(() => this.ssm.send(new GetParameterCommand({ Name: parameter }))).then(
      (out) => {
        const value = out.Parameter?.Value ?? '';
        if (!value.startsWith('ami-')) {
          throw new DomainError(
            ErrorCodes.LAUNCH_FAILED,
            `The image parameter \`${parameter}\` holds \`${value}\`, not an AMI id. Ask ops to fix the template's image.`,
            { parameter, value },
          );
        }
        return value;
      },
      (error: unknown) => {
        throw translateError(error, 'resolve-image', { parameter });
      },
    );
    this.images.set(parameter, { ami, expiresAt: now + this.imageCacheTtlMs });
    ami.catch(() => this.images.delete(parameter));
    return ami;
  }

  /** Writes `dormouse:index` and `Name` on each instance and the volumes it lists. */
  private async tagEachServer(instances: readonly Ec2Instance[], environment?: string): Promise<void> {
    for (const instance of instances) {
      const { InstanceId } = instance;
      if (!InstanceId) continue;
      const index = indexOf(instance);
      const name = `${environment ?? tagValue(instance, Tags.environment) ?? 'server'}-${index}`;
      const volumeIds = (instance.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.VolumeId ? [m.Ebs.VolumeId] : []));
      await this.withThrottlingRetry(
        () =>
          this.ec2.send(
            new CreateTagsCommand({
              Resources: [InstanceId, ...volumeIds],
              Tags: [
                { Key: Tags.index, Value: String(index) },
                { Key: Tags.name, Value: name },
              ],
            }),
          ),
        // Right after RunInstances, EC2 may not know the new ids yet (eventual consistency).
        (error) => /^Invalid(Instance|Volume)ID\.NotFound$|^InvalidVolume\.NotFound$/.test(awsErrorCode(error) ?? ''),
      ).catch((error: unknown) => {
        throw translateError(error, 'tag', { instanceId: InstanceId });
      });
    }
  }

  /** DescribeInstances over every page, live instances only when the filters say so. */
  private async describe(filters: Filter[]): Promise<Ec2Instance[]> {
    const instances: Ec2Instance[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.withThrottlingRetry(() =>
        this.ec2.send(new DescribeInstancesCommand({ Filters: filters, MaxResults: 1000, NextToken: nextToken })),
      ).catch((error: unknown) => {
        throw translateError(error, 'describe');
      });
      for (const reservation of page.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return instances;
  }

  /** By filter rather than InstanceIds: an id EC2 does not know (yet, or any more) is absent, not an error. */
  private describeIds(instanceIds: readonly string[]): Promise<Ec2Instance[]> {
    return this.describe([{ Name: 'instance-id', Values: [...instanceIds] }]);
  }

  private withThrottlingRetry<T>(fn: () => Promise<T>, alsoRetry?: (error: unknown) => boolean): Promise<T> {
    return retryWithBackoff(fn, {
      clock: this.clock,
      shouldRetry: (error) => isThrottling(error) || (alsoRetry?.(error) ?? false),
      maxAttempts: THROTTLE_ATTEMPTS,
      initialMs: 1_000,
      maxMs: 8_000,
    });
  }

  private deadline(timeoutMs: number): number {
    return this.clock.now().getTime() + timeoutMs;
  }
}

function environmentFilters(environment: string): Filter[] {
  return [
    { Name: `tag:${Tags.managedBy}`, Values: [MANAGED_BY] },
    { Name: `tag:${Tags.environment}`, Values: [environment] },
    { Name: 'instance-state-name', Values: LIVE_STATES },
  ];
}

function runInstancesInput(request: LaunchRequest, imageId: string): RunInstancesCommandInput {
  const tags: Tag[] = Object.entries({
    ...request.tags,
    // Ours last: a template cannot overwrite what finds the servers again.
    [Tags.managedBy]: MANAGED_BY,
    [Tags.environment]: request.environment,
    [Tags.owner]: request.owner,
    [Tags.template]: request.template,
    [Tags.attempt]: String(request.attempt),
  }).map(([Key, Value]) => ({ Key, Value }));
  const profile = request.instanceProfile;
  return {
    ImageId: imageId,
    InstanceType: request.instanceType as _InstanceType,
    MinCount: request.count,
    MaxCount: request.count,
    ClientToken: clientToken(request.idempotencyKey),
    SubnetId: request.subnets[0],
    SecurityGroupIds: request.securityGroups.length > 0 ? [...request.securityGroups] : undefined,
    IamInstanceProfile: profile ? (profile.startsWith('arn:') ? { Arn: profile } : { Name: profile }) : undefined,
    BlockDeviceMappings: request.volumes.map((v) => ({
      DeviceName: v.device,
      Ebs: { VolumeSize: v.sizeGiB, VolumeType: v.type as VolumeType, DeleteOnTermination: true, Encrypted: true },
    })),
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
  };
}

/** EC2 accepts up to 64 ASCII characters; a longer key is replaced by its SHA-256 (still deterministic). */
export function clientToken(idempotencyKey: string): string {
  return idempotencyKey.length <= 64 && /^[\x21-\x7e]+$/.test(idempotencyKey)
    ? idempotencyKey
    : createHash('sha256').update(idempotencyKey).digest('hex');
}

function tagValue(instance: Ec2Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

function tagNumber(instance: Ec2Instance, key: string): number | undefined {
  const value = tagValue(instance, key);
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** The server's position: its tag, or (before the tag is written) its place in the launch. */
function indexOf(instance: Ec2Instance): number {
  return tagNumber(instance, Tags.index) ?? instance.AmiLaunchIndex ?? 0;
}

function toInstance(instance: Ec2Instance): Instance {
  return {
    instanceId: instance.InstanceId ?? '',
    state: (instance.State?.Name ?? 'pending') as InstanceState,
    index: indexOf(instance),
    attempt: tagNumber(instance, Tags.attempt) ?? 0,
    ...(instance.PrivateIpAddress ? { privateIp: instance.PrivateIpAddress } : {}),
  };
}

function sortByIndex(instances: Instance[]): Instance[] {
  return instances.sort((a, b) => a.index - b.index || a.instanceId.localeCompare(b.instanceId));
}

function instanceLost(lost: readonly Ec2Instance[]): DomainError {
  const described = lost
    .map((i) => `${i.InstanceId} is ${i.State?.Name}${i.StateReason?.Message ? ` (${i.StateReason.Message})` : ''}`)
    .join('; ');
  return new DomainError(
    ErrorCodes.INSTANCE_LOST,
    `AWS ended a server while it was starting: ${described}. Retry to launch new servers; if it happens again, ask ops to check the image and volumes.`,
    { instanceIds: lost.map((i) => i.InstanceId), reasons: lost.map((i) => i.StateReason?.Code) },
    true,
  );
}

function waitTimedOut(
  target: 'running' | 'terminated',
  instanceIds: readonly string[],
  seen: readonly Ec2Instance[],
  timeoutMs: number,
): DomainError {
  const states = new Map(seen.map((i) => [i.InstanceId, i.State?.Name]));
  const late = instanceIds.filter((id) =>
    target === 'running' ? states.get(id) !== 'running' : states.has(id) && states.get(id) !== 'terminated',
  );
  const minutes = Math.max(1, Math.round(timeoutMs / 60_000));
  const lateText = late.map((id) => `${id}: ${states.get(id) ?? 'not listed yet'}`).join(', ') || 'no private IP yet';
  return new DomainError(
    ErrorCodes.WAIT_TIMED_OUT,
    `The servers were not ${target} after ${minutes} min (${lateText}). Retry, or ask ops to look at them in the EC2 console.`,
    { target, instanceIds: late, timeoutMs },
    true,
  );
}

/** The one place where EC2 and SSM errors of this adapter become domain errors. */
function translateError(error: unknown, operation: Operation, facts: Record<string, unknown> = {}): DomainError {
  if (error instanceof DomainError) return error;
  const code = awsErrorCode(error) ?? 'Unknown';
  const awsMessage = (error instanceof Error ? error.message : String(error)).trim();
  const details = { operation, awsCode: code, awsMessage, ...facts };
  const options = { cause: error };
  const instanceType = typeof facts.instanceType === 'string' ? facts.instanceType : 'this instance type';

  if (code === 'InsufficientInstanceCapacity' || code === 'InsufficientHostCapacity') {
    return new DomainError(
      ErrorCodes.CAPACITY,
      `AWS has no spare capacity for ${instanceType} in this zone right now. Retry in a few minutes, or pick another instance type.`,
      details,
      true,
      options,
    );
  }
  if (code === 'InstanceLimitExceeded' || code === 'VcpuLimitExceeded' || code === 'VolumeLimitExceeded') {
    const what = code === 'VolumeLimitExceeded' ? 'EBS storage' : `vCPUs for ${instanceType}`;
    return new DomainError(
      ErrorCodes.LIMIT,
      `The AWS account has reached its limit on ${what}, so no more servers can start. Ask ops to raise the quota in Service Quotas, or destroy an environment you no longer need.`,
      details,
      false,
      options,
    );
  }
  if (isThrottling(error)) {
    return new DomainError(
      ErrorCodes.THROTTLED,
      'AWS is throttling Dormouse right now. Retry in a minute.',
      details,
      true,
      options,
    );
  }
  const serverSide = (awsHttpStatus(error) ?? 0) >= 500 || (error as { $fault?: string } | null)?.$fault === 'server';
  if (code === 'ParameterNotFound' && operation === 'resolve-image') {
    return new DomainError(
      ErrorCodes.LAUNCH_FAILED,
      `The template's image parameter \`${String(facts.parameter)}\` does not exist in this region. Ask ops to fix the template's image.`,
      details,
      false,
      options,
    );
  }
  if ((operation === 'launch' || operation === 'resolve-image') && !serverSide) {
    // InvalidParameterValue, InvalidAMIID.*, InvalidSubnetID.NotFound, InvalidGroup.NotFound, Unsupported, UnauthorizedOperation…
    return new DomainError(
      ErrorCodes.LAUNCH_FAILED,
      `AWS refused to launch the servers: ${withFullStop(awsMessage)} Check the template's image, instance type, subnets, security groups and instance profile.`,
      details,
      false,
      options,
    );
  }
  return new DomainError(
    ErrorCodes.CLOUD_ERROR,
    `An EC2 call failed (${operation}: ${code}). Retry in a few minutes; if it persists, ask ops.`,
    details,
    serverSide,
    options,
  );
}

function withFullStop(sentence: string): string {
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
