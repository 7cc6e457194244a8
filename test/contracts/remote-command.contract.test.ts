/** The RemoteCommandPort contract, against SSM (moto) and the sandbox's local cloud. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { ListCommandsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SsmRemoteCommand, isCommandOf } from '../../src/adapters/aws/ssm-remote-command.adapter.js';
import { FAST_SANDBOX_DELAYS, LocalCloud } from '../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { motoClientConfig, uniqueName } from '../support/aws.js';
import { freshEnvironmentId } from './compute.contract.js';
import { remoteCommandContract } from './remote-command.contract.js';

remoteCommandContract('SSM (moto)', async () => {
  const ssm = new SSMClient(motoClientConfig());
  const adapter = () => new SsmRemoteCommand({ ssm, clock: systemClock, poll: { initialMs: 10, maxMs: 50 } });
  return {
    remote: adapter(),
    another: adapter,
    server: async () => {
      const out = await new EC2Client(motoClientConfig()).send(
        new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
      );
      return out.Instances?.[0]?.InstanceId ?? '';
    },
    // moto lists every command under every instance: the comment, which hashes instance and key, tells them apart.
    commandsSent: async (instanceId, key) => {
      const out = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId }));
      return (out.Commands ?? []).filter((c) => c.CommandId && isCommandOf(c.Comment, instanceId, key)).length;
    },
    agentTimeoutMs: 10_000,
  };
});

remoteCommandContract('local cloud', async () => {
  const rootDir = await mkdtemp(join(tmpdir(), 'dormouse-remote-contract-'));
  const cloud = () => new LocalCloud({ rootDir, clock: systemClock, delays: FAST_SANDBOX_DELAYS });
  const remote = cloud();
  return {
    remote,
    another: cloud,
    server: async () => {
      const environmentId = freshEnvironmentId();
      const [server] = await remote.launch({
        environmentId,
        environment: uniqueName('contract'),
        owner: 'U0OWNER',
        template: 'small-linux',
        image: 'ami-0123456789abcdef0',
        instanceType: 't3.micro',
        count: 1,
        subnets: [],
        securityGroups: [],
        volumes: [],
        tags: {},
        attempt: 1,
        idempotencyKey: `dormouse-${environmentId}-1`,
      });
      return server?.instanceId ?? '';
    },
    // Every command sent is a "sent" line in the server's bootstrap.log, with its key.
    commandsSent: async (instanceId, key) =>
      (await readFile(remote.serverLogPath(instanceId), 'utf8')).split(`: sent (key ${key};`).length - 1,
    agentTimeoutMs: 10_000,
    close: () => rm(rootDir, { recursive: true, force: true }),
  };
});
