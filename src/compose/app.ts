/**
 * What every composition shares, whatever its cloud and its Slack: the
 * repository, the notifier, the use cases and their workflow runner, the Bolt
 * app, and the leader's periodic jobs; and a stop that gives work back.
 *
 * Stopping goes in this order (the reverse of starting): stop receiving,
 * stop the scheduler (giving leadership back), ask every flow to stop at its
 * next step and give its lease back (so another replica, or the next start,
 * resumes at once), let the last notifications out, then close the clients.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { WebClient } from '@slack/web-api';
import type { Logger as Pino } from 'pino';
import { DynamoDbDeliveryClaims } from '../adapters/aws/dynamodb-delivery-claims.js';
import { DynamoDbEnvironmentRepository } from '../adapters/aws/dynamodb-environment.repository.js';
import { DynamoDbLeadership } from '../adapters/aws/dynamodb-leadership.js';
import { DynamoDbMessageLedger } from '../adapters/aws/dynamodb-message-ledger.js';
import type { SlackDouble } from '../adapters/sandbox/slack-console/slack-double.js';
import { createBoltApp, slackLogger } from '../adapters/slack/bolt-app.js';
import { SlackNotifier } from '../adapters/slack/slack-notifier.adapter.js';
import type { Config } from '../config/config.js';
import { systemClock, type Clock } from '../core/ports/clock.port.js';
import { createUseCases, type UseCases } from '../core/use-cases/index.js';
import { PurgeExpiredClaims } from '../core/use-cases/purge-claims.use-case.js';
import { createLogger } from '../logger.js';
import { purgeClaimsJob } from '../scheduler/jobs/purge-claims.job.js';
import { resumeJob } from '../scheduler/jobs/resume.job.js';
import { LeaderCoordinator } from '../scheduler/leader.js';
import { startScheduler } from '../scheduler/scheduler.js';
import { Closers } from './closers.js';
import type { StartCloud } from './cloud.js';
import { loadDataScripts, parseRestoreReport, parseSaveReport } from '../data-scripts/index.js';
import type { DataScripts, DataSettings } from '../core/use-cases/save.flow.js';

/** The scripts servers save and restore with: files in the repo, read once. */
function dataScripts(): DataScripts {
  return { ...loadDataScripts(), parseSave: parseSaveReport, parseRestore: parseRestoreReport };
}

function dataSettings(config: Config): DataSettings {
  return {
    saveTimeoutSeconds: config.data.saveTimeoutSeconds,
    restoreTimeoutSeconds: config.data.restoreTimeoutSeconds,
    progressEveryMs: 5_000,
    keepGenerations: config.data.keepGenerations,
  };
}
import type { StartSlack } from './slack.js';

/** How long a stop waits for flows to reach a step where they can give their lease back. */
const SHUTDOWN_GRACE_MS = 8_000;

export interface Dormouse {
  /** Where Slack (or the console's double) sends requests: http://host:port/slack/events */
  eventsUrl: string;
  /** The sandbox console, when it runs. */
  consoleUrl?: string;
  /** The console's Slack double, when it runs (tests drive it). */
  double?: SlackDouble;
  useCases: UseCases;
  config: Config;
  /** This process, in leases. */
  workerId: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Pino;
  /** Runs the periodic jobs (the resume sweep) on a schedule (default true). */
  scheduler?: boolean;
}

export async function compose(config: Config, options: StartOptions, sides: { cloud: StartCloud; slack: StartSlack }): Promise<Dormouse> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const closers = new Closers(logger);
  let ready = false;
  const stop = async () => {
    ready = false;
    await closers.stop();
  };

  try {
    const slack = await sides.slack(config, closers, () => ready);
    const { dynamo, compute, commands, serverDataDir, data } = await sides.cloud(config, clock, closers);
    const repo = new DynamoDbEnvironmentRepository(dynamo, config.table.name, clock);

    const slackClient = new WebClient(config.slack.botToken, {
      ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}),
      retryConfig: { retries: 3 },
      timeout: 15_000,
      logger: slackLogger(logger.child({ component: 'slack-web-api' })),
    });
    const notifier = new SlackNotifier({
      client: slackClient,
      ledger: new DynamoDbMessageLedger(dynamo, config.table.name, clock),
      load: (name) => repo.get(name),
      opsChannel: config.opsChannel,
      logger: logger.child({ component: 'notifier' }),
      clock,
      holder: workerId,
    });
    // Runs after the flows have stopped: the last words go out.
    closers.add(() => notifier.idle(3_000));
    const useCases = createUseCases({
      repo,
      compute,
      commands,
      notifier,
      clock,
      logger,
      templates: config.templates,
      admins: config.admins,
      timeouts: { runningMs: config.timeouts.runningSeconds * 1000, agentMs: config.timeouts.agentSeconds * 1000 },
      workerId,
      leaseMs: config.leases.leaseSeconds * 1000,
      ...(serverDataDir ? { serverDataDir } : {}),
      ...(data ? { data: { store: data, scripts: dataScripts(), settings: dataSettings(config), retentionDays: config.data.retentionDays } } : {}),
    });
    closers.add(() => useCases.runner.stop(SHUTDOWN_GRACE_MS));

    const claims = new DynamoDbDeliveryClaims(dynamo, config.table.name, clock);
    const { app } = createBoltApp({
      mode: config.slack.mode === 'socket' ? 'socket' : 'http',
      botToken: config.slack.botToken,
      signingSecret: config.slack.signingSecret,
      ...(config.slack.appToken ? { appToken: config.slack.appToken } : {}),
      ...(slack.apiUrl ? { apiUrl: slack.apiUrl } : {}),
      deps: { useCases, clock, logger },
      claims,
      health: () => ({ ok: ready, detail: { slack: config.slack.mode, cloud: config.cloud } }),
    });

    // Periodic work, on the leader only.
    const sweepMs = config.leases.sweepSeconds * 1000;
    const coordinator = new LeaderCoordinator(new DynamoDbLeadership(dynamo, config.table.name, 'scheduler', clock), workerId, 3 * sweepMs, logger.child({ component: 'leader' }));
    const scheduler =
      options.scheduler === false
        ? undefined
        : startScheduler({
            jobs: [
              { job: resumeJob(useCases.resume), every: `*/${config.leases.sweepSeconds} * * * * *` },
              { job: purgeClaimsJob(new PurgeExpiredClaims({ claims })), every: '17 */5 * * * *' },
              ...(useCases.data ? [{ job: { name: 'purge-expired-data', run: () => useCases.data!.purgeExpired.execute() }, every: '41 23 * * * *' }] : []),
            ],
            coordinator,
            logger,
            leaseMs: 3 * sweepMs,
          });
    if (scheduler) closers.add(() => scheduler.stop());

    const eventsUrl = await slack.receive(app);

    // Pick up whatever a previous process left half-done (or gave back when it stopped), if this replica leads.
    if (scheduler) await scheduler.tick().catch((err: unknown) => logger.warn({ err }, 'the first sweep failed; the next tick tries again'));
    ready = true;
    return { eventsUrl, ...(slack.consoleUrl ? { consoleUrl: slack.consoleUrl } : {}), ...(slack.double ? { double: slack.double } : {}), useCases, config, workerId, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
