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
 * - Servers are found by the environment's unique id (`dormouse:environment-id`),
 *   never by its name: a name can be reused once an environment is destroyed,
 *   and the new environment must not adopt the old one's servers.
 * - Idempotency is ours: before launching, we look for instances tagged with
 *   the environment id and attempt, in any state (a terminated one still tells
 *   the caller that the set is incomplete). The ClientToken is passed as well;
 *   it covers a crash between RunInstances and its answer on real EC2, and a
 *   second launch that DescribeInstances cannot see yet (eventual consistency).
 * - Tags are written only by RunInstances (TagSpecifications on the instances
 *   and their volumes): the bot's IAM role may tag nothing after launch
 *   (`ec2:CreateAction = RunInstances`). A multi-count call shares one set of
 *   tags, so no tag tells the servers apart: a server's index is its
 *   AmiLaunchIndex (0 … count-1 within the call; EC2 and moto both set it),
 *   and its `Name` is `dormouse-<environment name>`.
 * - A replacement (`LaunchRequest.replacement`, a repair) is one server, its
 *   own RunInstances call, tagged `dormouse:index` (the server it replaces)
 *   and `dormouse:replacement` = `<index>.<serial>`. Its index is that tag
 *   (its AmiLaunchIndex is 0), wherever an index is read. It is idempotent on
 *   that tag (any state), not on the attempt it shares with its peers; its
 *   ClientToken is the request's key with `<index>.<serial>` added, so it never
 *   matches the original launch's token. A normal launch's lookup by attempt
 *   leaves instances with a `dormouse:replacement` tag out (EC2 cannot filter
 *   on a tag's absence, so that is done here).
 * - listManaged is one DescribeInstances listing (every page, every state
 *   EC2 still lists) filtered on `managed-by`: the reconciler's view, read
 *   from tags alone.
 * - Retries: throttling and transient errors are retried by the SDK's retry
 *   strategy, configured on the clients (`maxAttempts`, and `retryMode:
 *   'adaptive'` for EC2, whose API limits are per account), not here on top
 *   of it. The SDK re-sends the same request, so a retried RunInstances keeps
 *   its ClientToken and never launches twice. What outlives the SDK's retries
 *   becomes a domain error (THROTTLED stays retryable). This adapter only waits:
 *   it polls DescribeInstances with backoff until servers run or end.
 * - DescribeInstances is read through the SDK's paginator, every page.
 * - Stop and start (`sleep: stop`) look before they act: the instances are
 *   described first, a terminated or unknown one is COMPUTE.INSTANCE_LOST, and
 *   only those that need it are sent to StopInstances / StartInstances (moto
 *   would even stop and restart a terminated instance; EC2 refuses with
 *   IncorrectInstanceState). One not in a state to act on yet (a start while it
 *   is still stopping, a stop while it is still pending) is tried again with
 *   backoff, for a bounded time (`stateChangeTimeoutMs`).
 */
import { createHash } from 'node:crypto';
import {
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type EC2Client,
  type Filter,
  type Instance as Ec2Instance,
  type RunInstancesCommandInput,
  type Tag,
  type VolumeType,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { DomainError, ErrorCodes, isDomainError } from '../../core/environment/errors.js';
import type {
  ComputePort,
  Instance,
  InstanceState,
  LaunchRequest,
  ManagedInstance,
  WaitOptions,
} from '../../core/ports/compute.port.js';
import type { Clock } from '../../core/ports/clock.port.js';
import { awsErrorCode, awsHttpStatus, isThrottling, pollWithBackoff, retryWithBackoff, type PollOptions } from './backoff.js';

/** Tag keys Dormouse writes on instances and volumes. */
export const Tags = {
  managedBy: 'managed-by',
  /** The environment's unique id: what finds its servers again. */
  environmentId: 'dormouse:environment-id',
  /** Its name, for people (names are reused; ids are not). */
  environment: 'dormouse:environment',
  owner: 'dormouse:owner',
  template: 'dormouse:template',
  attempt: 'dormouse:attempt',
  /** A replacement's server index (the server it takes the place of). */
  index: 'dormouse:index',
  /** On a replacement only: `<index>.<serial>`, what makes its launch idempotent. */
  replacement: 'dormouse:replacement',
  name: 'Name',
} as const;
export const MANAGED_BY = 'dormouse';

const SSM_IMAGE_PREFIX = 'resolve:ssm:';
/** States of an instance that still exists (or will): everything but shutting-down and terminated. */
const LIVE_STATES: InstanceState[] = ['pending', 'running', 'stopping', 'stopped'];
const GONE_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated']);
/** AWS codes that mean an instance is not in a state to be stopped or started yet: looked at again, then tried again. */
const NOT_YET_CODES: ReadonlySet<string> = new Set(['IncorrectInstanceState', 'InvalidInstanceID.NotFound']);
/** DescribeInstances' largest page (EC2 accepts 5 to 1000). */
const DESCRIBE_PAGE_SIZE = 1000;

export interface Ec2ComputeDeps {
  ec2: EC2Client;
  ssm: SSMClient;
  clock: Clock;
  /** Backoff of the waits (default 2 s growing to 15 s). */
  poll?: { initialMs: number; maxMs: number };
  /** How long a resolved `resolve:ssm:` image is reused (default 1 h; AWS publishes new AMIs every few weeks). */
  imageCacheTtlMs?: number;
  /** Instances asked for per DescribeInstances page (default and most 1000, least 5); every page is read. */
  describePageSize?: number;
  /** How long stop and start keep trying servers that are not in a state to act on yet (default 3 min). */
  stateChangeTimeoutMs?: number;
}

type Operation = 'launch' | 'resolve-image' | 'describe' | 'terminate' | 'stop' | 'start';

export class Ec2Compute implements ComputePort {
  private readonly ec2: EC2Client;
  private readonly ssm: SSMClient;
  private readonly clock: Clock;
  private readonly poll: { initialMs: number; maxMs: number };
  private readonly imageCacheTtlMs: number;
  private readonly describePageSize: number;
  private readonly stateChangeTimeoutMs: number;
  private readonly images = new Map<string, { ami: Promise<string>; expiresAt: number }>();
  /** Launches under way in this process, by environment id and attempt or replacement (a double click shares one). */
  private readonly launching = new Map<string, Promise<Instance[]>>();

  constructor(deps: Ec2ComputeDeps) {
    this.ec2 = deps.ec2;
    this.ssm = deps.ssm;
    this.clock = deps.clock;
    this.poll = deps.poll ?? { initialMs: 2_000, maxMs: 15_000 };
    this.imageCacheTtlMs = deps.imageCacheTtlMs ?? 60 * 60_000;
    this.describePageSize = deps.describePageSize ?? DESCRIBE_PAGE_SIZE;
    this.stateChangeTimeoutMs = deps.stateChangeTimeoutMs ?? 3 * 60_000;
  }

  async launch(request: LaunchRequest): Promise<Instance[]> {
    checkReplacement(request);
    // Across processes the ClientToken does this; within one, a second call need not even ask EC2.
    const key = request.replacement
      ? `${request.environmentId}#replacement#${replacementValue(request.replacement)}`
      : `${request.environmentId}#${request.attempt}`;
    const underWay = this.launching.get(key);
    if (underWay) return underWay;
    const launch = this.findOrLaunch(request).finally(() => this.launching.delete(key));
    this.launching.set(key, launch);
    return launch;
  }

  private async findOrLaunch(request: LaunchRequest): Promise<Instance[]> {
    // Every state: a set launched before whose servers have since ended is still that attempt's set
    // (and a replacement launched before is still that replacement, whatever became of it).
    const existing = request.replacement
      ? await this.describe([
          ...environmentFilters(request.environmentId),
          { Name: `tag:${Tags.replacement}`, Values: [replacementValue(request.replacement)] },
        ])
      : (
          await this.describe([
            ...environmentFilters(request.environmentId),
            { Name: `tag:${Tags.attempt}`, Values: [String(request.attempt)] },
          ])
        ).filter((i) => tagValue(i, Tags.replacement) === undefined);
    if (existing.length > 0) return sortByIndex(existing.map(toInstance));

    const imageId = await this.resolveImage(request.image);
    const output = await this.ec2.send(new RunInstancesCommand(runInstancesInput(request, imageId))).catch((error: unknown) => {
      throw translateError(error, 'launch', { instanceType: request.instanceType, count: request.count });
    });
    // RunInstances may answer without tags: the attempt (and a replacement's index) are the ones just launched.
    const index = request.replacement?.index;
    return sortByIndex(
      (output.Instances ?? []).map((i) => ({ ...toInstance(i), attempt: request.attempt, ...(index === undefined ? {} : { index }) })),
    );
  }

  async listManaged(): Promise<ManagedInstance[]> {
    const managed = await this.describe([{ Name: `tag:${Tags.managedBy}`, Values: [MANAGED_BY] }]);
    return managed
      .map(toManagedInstance)
      .sort((a, b) => a.launchedAt.localeCompare(b.launchedAt) || a.instanceId.localeCompare(b.instanceId));
  }

  async findByEnvironment(environmentId: string): Promise<Instance[]> {
    const live = await this.describe([
      ...environmentFilters(environmentId),
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ]);
    return sortByIndex(live.map(toInstance));
  }

  async waitUntilRunning(instanceIds: readonly string[], options: WaitOptions): Promise<Instance[]> {
    const running = await this.waitForState('running', instanceIds, options, (seen) => {
      const lost = seen.filter((i) => GONE_STATES.has(i.State?.Name ?? ''));
      if (lost.length > 0) throw instanceLost(lost, 'starting');
      const byId = new Map(seen.map((i) => [i.InstanceId, i]));
      return instanceIds.every((id) => {
        const i = byId.get(id);
        return i?.State?.Name === 'running' && Boolean(i.PrivateIpAddress);
      });
    });
    return sortByIndex(running.map(toInstance));
  }

  async terminate(instanceIds: readonly string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    try {
      await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [...instanceIds] }));
    } catch (error) {
      if (awsErrorCode(error) !== 'InvalidInstanceID.NotFound') throw translateError(error, 'terminate');
      // One unknown id fails the whole call: end the others one by one.
      if (instanceIds.length > 1) {
        for (const id of instanceIds) await this.terminate([id]);
      }
    }
  }

  async waitUntilTerminated(instanceIds: readonly string[], options: WaitOptions): Promise<void> {
    // An instance EC2 no longer lists is long terminated.
    await this.waitForState('terminated', instanceIds, options, (seen) => seen.every((i) => i.State?.Name === 'terminated'));
  }

  async stop(instanceIds: readonly string[]): Promise<void> {
    await this.changeState('stop', instanceIds);
  }

  async waitUntilStopped(instanceIds: readonly string[], options: WaitOptions): Promise<void> {
    await this.waitForState('stopped', instanceIds, options, (seen) => {
      const lost = seen.filter((i) => GONE_STATES.has(i.State?.Name ?? ''));
      if (lost.length > 0) throw instanceLost(lost, 'stopping');
      const byId = new Map(seen.map((i) => [i.InstanceId, i]));
      // One not listed (yet) is not stopped yet: the wait goes on, and times out if it never shows.
      return instanceIds.every((id) => byId.get(id)?.State?.Name === 'stopped');
    });
  }

  /**
   * Polls the instances with backoff (every poll shown through `onPoll`) until `reached` says so (it may
   * throw, e.g. for a lost instance); COMPUTE.WAIT_TIMED_OUT after the timeout. Returns what it saw last.
   */
  private async waitForState(goal: 'running' | 'terminated' | 'stopped', instanceIds: readonly string[], options: WaitOptions, reached: (seen: Ec2Instance[]) => boolean): Promise<Ec2Instance[]> {
    if (instanceIds.length === 0) return [];
    let seen: Ec2Instance[] = [];
    const done = await pollWithBackoff(
      async () => {
        const polled = await this.pollIds(instanceIds, options.signal);
        if (!polled) return undefined;
        seen = polled;
        options.onPoll?.(sortByIndex(seen.map(toInstance)));
        return reached(seen) ? seen : undefined;
      },
      this.pollOptions(options),
    );
    if (!done) throw waitTimedOut(goal, instanceIds, seen, options.timeoutMs);
    return done;
  }

  async start(instanceIds: readonly string[]): Promise<void> {
    await this.changeState('start', instanceIds);
  }

  /**
   * Stops or starts the instances that need it, after looking at them all:
   * a gone or unknown one is INSTANCE_LOST (and nothing is sent), one already
   * where it is going (or on its way) is left alone. When EC2 answers that an
   * instance is not in a state for it yet (a start while it is still stopping),
   * the instances are looked at again and the call is tried again, with
   * backoff, for at most `stateChangeTimeoutMs`.
   */
  private async changeState(operation: 'stop' | 'start', instanceIds: readonly string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    const needs = operation === 'stop' ? new Set(['pending', 'running']) : new Set(['stopping', 'stopped']);
    await retryWithBackoff(
      async () => {
        const seen = await this.describeIds(instanceIds);
        const states = new Map(seen.map((i) => [i.InstanceId, i.State?.Name ?? 'pending']));
        for (const id of instanceIds) {
          const state = states.get(id);
          if (state === undefined || GONE_STATES.has(state)) throw cannotChangeState(operation, id, state);
        }
        const todo = instanceIds.filter((id) => needs.has(states.get(id) ?? ''));
        if (todo.length === 0) return;
        const command =
          operation === 'stop'
            ? new StopInstancesCommand({ InstanceIds: todo })
            : new StartInstancesCommand({ InstanceIds: todo });
        await this.ec2.send(command).catch((error: unknown) => {
          throw translateError(error, operation, { instanceIds: todo });
        });
      },
      {
        ...this.poll,
        clock: this.clock,
        deadline: this.clock.now().getTime() + this.stateChangeTimeoutMs,
        shouldRetry: (error) => isDomainError(error) && NOT_YET_CODES.has(String(error.details.awsCode)),
      },
    );
  }

  /** `ami-…` as is; `resolve:ssm:<parameter>` through SSM, remembered for a while. */
  private async resolveImage(image: string): Promise<string> {
    if (!image.startsWith(SSM_IMAGE_PREFIX)) return image;
    const parameter = image.slice(SSM_IMAGE_PREFIX.length);
    const now = this.clock.now().getTime();
    const cached = this.images.get(parameter);
    if (cached && cached.expiresAt > now) return cached.ami;

    const ami = this.ssm.send(new GetParameterCommand({ Name: parameter })).then(
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

  /**
   * DescribeInstances over every page, live instances only when the filters
   * say so. A wait's signal also ends the SDK's retries of a page (the wait
   * then rejects with the signal's reason).
   */
  private async describe(filters: Filter[], signal?: AbortSignal): Promise<Ec2Instance[]> {
    const instances: Ec2Instance[] = [];
    const pages = paginateDescribeInstances(
      { client: this.ec2, pageSize: this.describePageSize },
      { Filters: filters },
      ...(signal ? [{ abortSignal: signal }] : []),
    );
    try {
      for await (const page of pages) {
        for (const reservation of page.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw translateError(error, 'describe');
    }
    return instances;
  }

  /** By filter rather than InstanceIds: an id EC2 does not know (yet, or any more) is absent, not an error. */
  private describeIds(instanceIds: readonly string[], signal?: AbortSignal): Promise<Ec2Instance[]> {
    return this.describe([{ Name: 'instance-id', Values: [...instanceIds] }], signal);
  }

  /**
   * One poll of a wait. Still throttled after the SDK's own tries: undefined,
   * so the wait polls again later (with its backoff) rather than failing.
   */
  private async pollIds(instanceIds: readonly string[], signal?: AbortSignal): Promise<Ec2Instance[] | undefined> {
    try {
      return await this.describeIds(instanceIds, signal);
    } catch (error) {
      if (isDomainError(error) && error.code === ErrorCodes.THROTTLED) return undefined;
      throw error;
    }
  }

  /** The backoff of a wait, its deadline from now, and the signal that ends it early. */
  private pollOptions(options: WaitOptions): PollOptions {
    return {
      ...this.poll,
      clock: this.clock,
      deadline: this.clock.now().getTime() + options.timeoutMs,
      signal: options.signal,
    };
  }
}

/** Instances of this environment (by its unique id), in every state. */
function environmentFilters(environmentId: string): Filter[] {
  return [
    { Name: `tag:${Tags.managedBy}`, Values: [MANAGED_BY] },
    { Name: `tag:${Tags.environmentId}`, Values: [environmentId] },
  ];
}

/** `<index>.<serial>`: the `dormouse:replacement` tag's value. */
function replacementValue(replacement: { index: number; serial: number }): string {
  return `${replacement.index}.${replacement.serial}`;
}

/** A replacement is exactly one server, for a server index and serial that are whole numbers. */
function checkReplacement(request: LaunchRequest): void {
  const r = request.replacement;
  if (!r) return;
  const whole = (n: number) => Number.isInteger(n) && n >= 0;
  if (request.count !== 1 || !whole(r.index) || !whole(r.serial)) {
    throw new DomainError(
      ErrorCodes.LAUNCH_FAILED,
      `Cannot launch a replacement of server ${String(r.index)} (serial ${String(r.serial)}) for \`${request.environment}\`: ` +
        `a replacement is exactly one server (asked for ${String(request.count)}), with a whole server index and serial.`,
      { environment: request.environment, count: request.count, replacement: { index: r.index, serial: r.serial } },
    );
  }
}

function runInstancesInput(request: LaunchRequest, imageId: string): RunInstancesCommandInput {
  const replacement = request.replacement;
  const tags: Tag[] = Object.entries({
    ...request.tags,
    // Ours last: a template cannot overwrite what finds the servers again.
    [Tags.name]: `dormouse-${request.environment}`,
    [Tags.managedBy]: MANAGED_BY,
    [Tags.environmentId]: request.environmentId,
    [Tags.environment]: request.environment,
    [Tags.owner]: request.owner,
    [Tags.template]: request.template,
    [Tags.attempt]: String(request.attempt),
    ...(replacement ? { [Tags.index]: String(replacement.index), [Tags.replacement]: replacementValue(replacement) } : {}),
  }).map(([Key, Value]) => ({ Key, Value }));
  const profile = request.instanceProfile;
  return {
    ImageId: imageId,
    InstanceType: request.instanceType as _InstanceType,
    MinCount: request.count,
    MaxCount: request.count,
    // A replacement shares its peers' attempt (and may be given their key): its token must differ from theirs.
    ClientToken: clientToken(replacement ? `${request.idempotencyKey}#${replacementValue(replacement)}` : request.idempotencyKey),
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

/**
 * The server's position among the environment's servers: a replacement's
 * `dormouse:index` tag, else its place in the one RunInstances call that
 * launched them.
 */
function indexOf(instance: Ec2Instance): number {
  return tagNumber(instance, Tags.index) ?? instance.AmiLaunchIndex ?? 0;
}

function toManagedInstance(instance: Ec2Instance): ManagedInstance {
  const tags = Object.fromEntries((instance.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])));
  const index = tagNumber(instance, Tags.index) ?? instance.AmiLaunchIndex;
  const attempt = tagNumber(instance, Tags.attempt);
  const environmentId = tagValue(instance, Tags.environmentId);
  const environment = tagValue(instance, Tags.environment);
  const owner = tagValue(instance, Tags.owner);
  return {
    instanceId: instance.InstanceId ?? '',
    state: (instance.State?.Name ?? 'pending') as InstanceState,
    ...(environmentId === undefined ? {} : { environmentId }),
    ...(environment === undefined ? {} : { environment }),
    ...(owner === undefined ? {} : { owner }),
    ...(index === undefined ? {} : { index }),
    ...(attempt === undefined ? {} : { attempt }),
    instanceType: instance.InstanceType ?? '',
    ...(instance.ImageId ? { imageId: instance.ImageId } : {}),
    // EC2 always gives LaunchTime; without it, '' rather than a made-up time a reconciler would take for an age.
    launchedAt: instance.LaunchTime?.toISOString() ?? '',
    tags,
  };
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
  return instances.sort((a, b) => a.attempt - b.attempt || a.index - b.index || a.instanceId.localeCompare(b.instanceId));
}

function instanceLost(lost: readonly Ec2Instance[], during: 'starting' | 'stopping'): DomainError {
  const described = lost
    .map((i) => `${i.InstanceId} is ${i.State?.Name}${i.StateReason?.Message ? ` (${i.StateReason.Message})` : ''}`)
    .join('; ');
  const first = lost[0];
  return new DomainError(
    ErrorCodes.INSTANCE_LOST,
    during === 'starting'
      ? `AWS ended a server while it was starting: ${described}. Retry to launch new servers; if it happens again, ask ops to check the image and volumes.`
      : `AWS ended a server while it was stopping: ${described}. Its volumes are gone with it; ask ops to look at it in the EC2 console.`,
    {
      instanceIds: lost.map((i) => i.InstanceId),
      reasons: lost.map((i) => i.StateReason?.Code),
      instanceId: first?.InstanceId,
      state: first?.State?.Name,
    },
    during === 'starting',
  );
}

/** A stop or start of a server that is terminated (or no longer known to EC2, which is the same thing later). */
function cannotChangeState(operation: 'stop' | 'start', instanceId: string, state: string | undefined): DomainError {
  const what = state === undefined ? 'not known to EC2 (any more)' : state;
  return new DomainError(
    ErrorCodes.INSTANCE_LOST,
    `Server ${instanceId} is ${what}, so it cannot be ${operation === 'stop' ? 'stopped' : 'started'}: its volumes are gone with it. ` +
      'Destroy the environment, or ask ops to look at it in the EC2 console.',
    { instanceId, state: state ?? 'not-found', operation },
  );
}

function waitTimedOut(
  target: 'running' | 'terminated' | 'stopped',
  instanceIds: readonly string[],
  seen: readonly Ec2Instance[],
  timeoutMs: number,
): DomainError {
  const states = new Map(seen.map((i) => [i.InstanceId, i.State?.Name]));
  // An instance no longer listed is long terminated; one not listed yet is not running or stopped.
  const late = instanceIds.filter((id) =>
    target === 'terminated' ? states.has(id) && states.get(id) !== 'terminated' : states.get(id) !== target,
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
  if ((operation === 'stop' || operation === 'start') && NOT_YET_CODES.has(code)) {
    // Still so after the retries of changeState: the servers are stuck between states.
    return new DomainError(
      ErrorCodes.CLOUD_ERROR,
      `EC2 could not ${operation} the servers: they are not in a state for it (${withFullStop(awsMessage)}) Retry in a few minutes; if it persists, ask ops to look at them in the EC2 console.`,
      details,
      true,
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
