/**
 * Builds the real use cases over chosen adapters, for integration tests: a
 * DynamoDB repository on an in-memory dynalite, a notifier that records what
 * people would be told, and the compute/commands the test picks. Flows run
 * on the real workflow runner, on the system clock, with short leases.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { pino } from 'pino';
import { DynamoDbEnvironmentRepository, ensureTable } from '../../src/adapters/aws/dynamodb-environment.repository.js';
import type { Template } from '../../src/core/environment/template.js';
import { systemClock, type Clock } from '../../src/core/ports/clock.port.js';
import type { ComputePort } from '../../src/core/ports/compute.port.js';
import type { RemoteCommandPort } from '../../src/core/ports/remote-command.port.js';
import { createUseCases, type UseCases } from '../../src/core/use-cases/index.js';
import { startDynalite } from './dynalite.js';
import { RecordingNotifier } from './fakes/recording-notifier.js';
import { testTemplate } from './templates.js';

export { testTemplate } from './templates.js';
export { RecordingNotifier } from './fakes/recording-notifier.js';

export interface World {
  repo: DynamoDbEnvironmentRepository;
  useCases: UseCases;
  notifier: RecordingNotifier;
  compute: ComputePort;
  commands: RemoteCommandPort;
  /** Waits until no flow runs. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function buildWorld(parts: {
  compute: ComputePort;
  commands: RemoteCommandPort;
  clock?: Clock;
  templates?: Template[];
  admins?: string[];
  leaseMs?: number;
}): Promise<World> {
  const dynalite = await startDynalite();
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynalite.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await ensureTable(client, 'dormouse-test');
  const clock = parts.clock ?? systemClock;
  const repo = new DynamoDbEnvironmentRepository(client, 'dormouse-test', clock);
  const notifier = new RecordingNotifier();
  const useCases = createUseCases({
    repo,
    compute: parts.compute,
    commands: parts.commands,
    notifier,
    clock,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    templates: parts.templates ?? [testTemplate()],
    admins: parts.admins ?? ['U0ADMIN'],
    timeouts: { runningMs: 60_000, agentMs: 60_000 },
    workerId: `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    leaseMs: parts.leaseMs ?? 10_000,
    storeRetry: { initialMs: 20, maxMs: 200 },
  });
  const idle = async () => {
    await useCases.runner.idle(60_000);
  };
  return {
    repo,
    useCases,
    notifier,
    compute: parts.compute,
    commands: parts.commands,
    idle,
    close: async () => {
      await useCases.runner.stop(5_000);
      client.destroy();
      await dynalite.close();
    },
  };
}
