/**
 * The provisioning use case end to end against moto_server: real EC2 and SSM
 * adapters, the real DynamoDB repository (dynalite). What moto cannot do (a
 * failing or hanging command, no capacity) comes from aws-sdk-client-mock on
 * the one client concerned.
 */
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Ec2Compute } from '../../src/adapters/aws/ec2-compute.adapter.js';
import { SsmRemoteCommand } from '../../src/adapters/aws/ssm-remote-command.adapter.js';
import { ErrorCodes } from '../../src/core/environment/errors.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { motoClientConfig, uniqueName } from '../support/aws.js';
import { buildWorld, type World } from '../support/world.js';

const worlds: World[] = [];
afterEach(async () => {
  while (worlds.length) await worlds.pop()!.close();
});

async function world(opts: { ssmForCommands?: SSMClient; ec2?: EC2Client } = {}) {
  const clock = systemClock;
  const ec2 = opts.ec2 ?? new EC2Client(motoClientConfig());
  const ssm = new SSMClient(motoClientConfig());
  const w = await buildWorld({
    compute: new Ec2Compute({ ec2, ssm, clock, poll: { initialMs: 5, maxMs: 20 } }),
    commands: new SsmRemoteCommand({ ssm: opts.ssmForCommands ?? ssm, clock, poll: { initialMs: 5, maxMs: 20 } }),
    clock,
  });
  worlds.push(w);
  return w;
}

const motoEc2 = new EC2Client(motoClientConfig());

async function liveInstances(env: string) {
  const out = await motoEc2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: 'tag:dormouse:environment', Values: [env] },
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
      ],
    }),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

describe('provisioning against moto', () => {
  it('takes a request to ready: instances tagged, record stored, every step shown', async () => {
    const w = await world();
    const name = uniqueName('api');
    const { created } = await w.useCases.request.execute({ name, template: 'api', count: 2, owner: 'U0DEV', requestId: 'r1', purpose: 'e2e' });
    expect(created).toBe(true);
    await w.idle();

    const env = await w.repo.get(name);
    expect(env?.state).toBe('ready');
    expect(env?.servers).toHaveLength(2);
    expect(env?.servers.every((s) => s.state === 'ready' && s.privateIp && s.lastStep === 'install')).toBe(true);
    expect(env?.progress.map((p) => [p.key, p.status])).toEqual([
      ['launch', 'done'],
      ['running', 'done'],
      ['agent', 'done'],
      ['bootstrap:0', 'done'],
      ['bootstrap:1', 'done'],
      ['ready', 'done'],
    ]);
    expect(w.notifier.states(name)).toEqual(['requested', 'provisioning', 'bootstrapping', 'ready']);

    const instances = await liveInstances(name);
    expect(instances).toHaveLength(2);
    const tags = instances.map((i) => Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value])));
    expect(new Set(tags.map((t) => t['dormouse:environment-id']))).toEqual(new Set([env?.id]));
    for (const t of tags) expect(t).toMatchObject({ 'managed-by': 'dormouse', 'dormouse:owner': 'U0DEV', 'dormouse:environment': name, team: 'tests' });
    const volumes = await motoEc2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:dormouse:environment', Values: [name] }] }));
    expect(volumes.Volumes?.length).toBe(2);

    const events = await w.repo.listEvents(name, 20);
    expect(events.map((e) => e.type)).toContain('state:ready');
  });

  it('a repeated request (same requestId) creates nothing twice', async () => {
    const w = await world();
    const name = uniqueName('dup');
    const input = { name, template: 'api', owner: 'U0DEV', requestId: 'same' };
    const [a, b] = await Promise.all([w.useCases.request.execute(input), w.useCases.request.execute(input)]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    await w.idle();
    expect(await liveInstances(name)).toHaveLength(1);
  });

  it('a flow resumed after its worker died (its lease lapsed) launches nothing more', async () => {
    const w = await world();
    const name = uniqueName('resume');
    await w.useCases.request.execute({ name, template: 'api', owner: 'U0DEV', requestId: 'r' });
    await w.idle();
    // Pretend the worker died during provisioning: set it back, with a lapsed lease, and sweep.
    const env = (await w.repo.get(name))!;
    await w.repo.save({ ...env, state: 'provisioning', lease: { holder: 'dead', token: env.fence, until: '2000-01-01T00:00:00Z' } });
    expect(await w.useCases.resume.execute()).toEqual([name]);
    await w.idle();
    const after = (await w.repo.get(name))!;
    expect(after.state).toBe('ready');
    expect(after.fence).toBe(env.fence + 1);
    expect(await liveInstances(name)).toHaveLength(1);
  });

  it('leaves an environment alone while another live worker holds its lease', async () => {
    const w = await world();
    const name = uniqueName('held');
    const { newEnvironment } = await import('../../src/core/environment/environment.js');
    const { newEnvironmentId } = await import('../../src/core/environment/ids.js');
    const now = new Date();
    const draft = newEnvironment({ id: newEnvironmentId(now), name, owner: 'U0DEV', template: 'api', instanceType: 't3.medium', count: 1, purpose: '', requestId: 'r', hourlyCostUsd: 0.04 }, now);
    const { environment } = await w.repo.create({ ...draft, state: 'provisioning', fence: 1, lease: { holder: 'other-worker', token: 1, until: new Date(Date.now() + 60_000).toISOString() } });
    expect(await w.useCases.resume.execute()).not.toContain(name);
    await w.idle();
    expect((await w.repo.get(name))?.version).toBe(environment.version);
    expect(await liveInstances(name)).toHaveLength(0);
  });

  it('destroy terminates every instance, by record and by tag, and records it', async () => {
    const w = await world();
    const name = uniqueName('gone');
    await w.useCases.request.execute({ name, template: 'api', count: 2, owner: 'U0DEV', requestId: 'r' });
    await w.idle();
    await expect(w.useCases.destroy.execute({ name }, 'U0SOMEONE')).rejects.toMatchObject({ code: ErrorCodes.NOT_AUTHORIZED });
    await w.useCases.destroy.execute({ name }, 'U0DEV');
    await w.idle();
    expect((await w.repo.get(name))?.state).toBe('destroyed');
    expect(await liveInstances(name)).toHaveLength(0);
    // The name is free again; the old record is archived, not lost.
    const again = await w.useCases.request.execute({ name, template: 'api', owner: 'U0LEAD', requestId: 'r2' });
    expect(again.created).toBe(true);
    await w.idle();
  });

  it('a bootstrap command that fails marks it failed with the step, exit code and output; retry resumes it', async () => {
    const realSsm = new SSMClient(motoClientConfig());
    const ssm = new SSMClient(motoClientConfig());
    const mock = mockClient(ssm);
    mock.on(ListCommandsCommand).resolves({ Commands: [] });
    mock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    mock.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      ResponseCode: 2,
      StandardOutputContent: 'installing…\n',
      StandardErrorContent: 'E: package postgresql15 not found\n',
    });
    const w = await world({ ssmForCommands: ssm });
    const name = uniqueName('boot');
    await w.useCases.request.execute({ name, template: 'api', owner: 'U0DEV', requestId: 'r' });
    await w.idle();

    const failed = (await w.repo.get(name))!;
    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatchObject({ step: 'bootstrap', code: ErrorCodes.COMMAND_FAILED, from: 'bootstrapping', retryable: true, server: 0 });
    expect(failed.failure?.reason).toMatch(/step prepare exited with code 2/);
    expect(failed.failure?.params).toMatchObject({ step: 'prepare', exitCode: 2, server: 1 });
    expect(failed.failure?.output).toContain('E: package postgresql15 not found');
    expect(w.notifier.failures.map((e) => e.name)).toEqual([name]);
    expect(w.notifier.alerts.map((e) => e.name)).toEqual([name]);

    // Fix the cause and retry: same servers, bootstrap resumes, no new launch.
    mock.restore();
    (w.commands as unknown as { ssm: SSMClient }).ssm = realSsm;
    const before = (await liveInstances(name)).map((i) => i.InstanceId);
    await expect(w.useCases.retry.execute({ name }, 'U0OTHER')).rejects.toMatchObject({ code: ErrorCodes.NOT_AUTHORIZED });
    await w.useCases.retry.execute({ name }, 'U0ADMIN');
    await w.idle();
    expect((await w.repo.get(name))?.state).toBe('ready');
    expect((await liveInstances(name)).map((i) => i.InstanceId)).toEqual(before);
  });

  it('a command that times out marks it failed as timed out', async () => {
    const ssm = new SSMClient(motoClientConfig());
    const mock = mockClient(ssm);
    mock.on(ListCommandsCommand).resolves({ Commands: [] });
    mock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });
    mock.on(GetCommandInvocationCommand).resolves({ Status: 'TimedOut', ResponseCode: -1, StandardOutputContent: 'still waiting for the lock' });
    const w = await world({ ssmForCommands: ssm });
    const name = uniqueName('slow');
    await w.useCases.request.execute({ name, template: 'api', owner: 'U0DEV', requestId: 'r' });
    await w.idle();
    const env = (await w.repo.get(name))!;
    expect(env.failure).toMatchObject({ step: 'bootstrap', code: ErrorCodes.COMMAND_TIMED_OUT });
    expect(env.failure?.reason).toMatch(/did not finish within 60 s/);
    mock.restore();
  });

  it('no capacity: failed at launch with a sentence to act on; retry launches then', async () => {
    const ec2 = new EC2Client(motoClientConfig());
    const mock = mockClient(ec2);
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    mock.on(RunInstancesCommand).rejects(Object.assign(new Error('We currently do not have sufficient t3.medium capacity'), { name: 'InsufficientInstanceCapacity', $metadata: { httpStatusCode: 500 } }));
    const w = await world({ ec2 });
    const name = uniqueName('cap');
    await w.useCases.request.execute({ name, template: 'api', owner: 'U0DEV', requestId: 'r' });
    await w.idle();
    const env = (await w.repo.get(name))!;
    expect(env.state).toBe('failed');
    expect(env.failure).toMatchObject({ step: 'launch', code: ErrorCodes.CAPACITY });
    expect(env.failure?.reason).toMatch(/capacity/i);
    expect(env.servers).toEqual([]);
    expect(w.notifier.alerts).toHaveLength(1);

    mock.restore();
    await w.useCases.retry.execute({ name }, 'U0DEV');
    await w.idle();
    const ready = (await w.repo.get(name))!;
    expect(ready.state).toBe('ready');
    // Nothing was launched by the refused attempt, so the retry launches under the same attempt and token.
    expect(ready.attempt).toBe(1);
    expect(ready.retries).toBe(1);
    const tags = (await liveInstances(name)).map((i) => Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value])));
    expect(tags.map((t) => t['dormouse:attempt'])).toEqual(['1']);
  });
});
