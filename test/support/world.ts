/**
 * Builds the real use cases over chosen adapters, for tests: a DynamoDB
 * repository on an in-memory dynalite, a notifier that records what people
 * would be told, and the compute/commands the test picks.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { pino } from 'pino';
import { DynamoDbEnvironmentRepository, ensureTable } from '../../src/adapters/aws/dynamodb-environment.repository.js';
import type { Environment, MessageRef } from '../../src/core/environment/environment.js';
import type { Template } from '../../src/core/environment/template.js';
import { testTemplate } from './templates.js';
import type { ComputePort } from '../../src/core/ports/compute.port.js';
import type { Clock, NotifierPort } from '../../src/core/ports/notifier.port.js';
import type { RemoteCommandPort } from '../../src/core/ports/remote-command.port.js';
import { BackgroundWork } from '../../src/core/use-cases/background.js';
import { createUseCases, type UseCaseContext } from '../../src/core/use-cases/index.js';
import { startDynalite } from './dynalite.js';

export { testTemplate } from './templates.js';

export class RecordingNotifier implements NotifierPort {
  readonly progress: Environment[] = [];
  readonly notes: Array<{ env: string; text: string }> = [];
  readonly failures: Environment[] = [];
  readonly alerts: Environment[] = [];
  async showProgress(env: Environment): Promise<MessageRef> {
    this.progress.push(env);
    return env.message ?? { channel: 'C0TEST', ts: `${this.progress.length}.000` };
  }
  async threadNote(env: Environment, text: string) {
    this.notes.push({ env: env.name, text });
  }
  async failed(env: Environment) {
    this.failures.push(env);
  }
  async opsAlert(env: Environment) {
    this.alerts.push(env);
  }
  states(name: string): string[] {
    return this.progress.filter((e) => e.name === name).map((e) => e.state).filter((s, i, a) => a[i - 1] !== s);
  }
}

export interface World {
  ctx: UseCaseContext;
  useCases: ReturnType<typeof createUseCases>;
  notifier: RecordingNotifier;
  close(): Promise<void>;
}

export async function buildWorld(parts: {
  compute: ComputePort;
  commands: RemoteCommandPort;
  clock: Clock;
  templates?: Template[];
  admins?: string[];
}): Promise<World> {
  const dynalite = await startDynalite();
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynalite.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await ensureTable(client, 'dormouse-test');
  const repo = new DynamoDbEnvironmentRepository(DynamoDBDocumentClient.from(client), 'dormouse-test', parts.clock);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const notifier = new RecordingNotifier();
  const ctx: UseCaseContext = {
    repo,
    compute: parts.compute,
    commands: parts.commands,
    notifier,
    clock: parts.clock,
    logger,
    background: new BackgroundWork(logger),
    templates: parts.templates ?? [testTemplate()],
    admins: parts.admins ?? ['U0ADMIN'],
    timeouts: { runningMs: 120_000, agentMs: 120_000 },
    workerId: 'test-worker',
    leaseMs: 60_000,
  };
  return {
    ctx,
    useCases: createUseCases(ctx),
    notifier,
    close: async () => {
      await ctx.background.idle();
      client.destroy();
      await dynalite.close();
    },
  };
}
