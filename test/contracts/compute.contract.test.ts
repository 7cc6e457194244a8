/** The ComputePort contract, against EC2 (moto) and the sandbox's local cloud. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Ec2Compute } from '../../src/adapters/aws/ec2-compute.adapter.js';
import { FAST_SANDBOX_DELAYS, LocalCloud } from '../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import type { LaunchRequest } from '../../src/core/ports/compute.port.js';
import { motoClientConfig, uniqueName } from '../support/aws.js';
import { computeContract, freshEnvironmentId } from './compute.contract.js';

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
