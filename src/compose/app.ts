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
import { DependencyProbe } from './probe.js';
import { PrometheusMetrics } from '../adapters/metrics/prometheus.js';
import { TeamDirectory } from './teams.js';
import { DynamoDbQuotaLedger } from '../adapters/aws/dynamodb-quota-ledger.js';
import { DynamoDbFindingStore } from '../adapters/aws/dynamodb-finding-store.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { WebClient } from '@slack/web-api';
import type { Logger as Pino } from 'pino';
import { DynamoDbDeliveryClaims } from '../adapters/aws/dynamodb-delivery-claims.js';
import { DynamoDbEnvironmentRepository } from '../adapters/aws/dynamodb-environment.repository.js';
import { DynamoDbLeadership } from '../adapters/aws/dynamodb-leadership.js';
import { DynamoDbMessageLedger } from '../adapters/aws/dynamodb-message-ledger.js';
import { SandboxClock } from '../adapters/sandbox/sandbox-clock.js';
import type { ConsoleClockControl } from '../adapters/sandbox/slack-console/console-clock.js';
import type { SlackDouble } from '../adapters/sandbox/slack-console/slack-double.js';
import { createBoltApp, slackLogger } from '../adapters/slack/bolt-app.js';
import { SlackNotifier } from '../adapters/slack/slack-notifier.adapter.js';
import { SlackPeople } from '../adapters/slack/slack-people.adapter.js';
import { HomePublisher } from '../adapters/slack/home-publisher.js';
import { homeFor } from '../adapters/slack/listeners/events/app-home-opened.event.js';
import type { Config } from '../config/config.js';
import { systemClock, type Clock } from '../core/ports/clock.port.js';
import { createUseCases, type UseCases } from '../core/use-cases/index.js';
import { PurgeExpiredClaims } from '../core/use-cases/purge-claims.use-case.js';
import { createLogger } from '../logger.js';
import { purgeClaimsJob } from '../scheduler/jobs/purge-claims.job.js';
import { resumeJob } from '../scheduler/jobs/resume.job.js';
import { reconcileJob } from '../scheduler/jobs/reconcile.job.js';
import { savingsPostJob, scheduleTickJob } from '../scheduler/jobs/schedule.job.js';
import { LeaderCoordinator } from '../scheduler/leader.js';
import { startScheduler } from '../scheduler/scheduler.js';
import { Closers } from './closers.js';
import { scheduleSettings } from './schedule.js';
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

/**
 * The sandbox's clock: the one given if it is a SandboxClock; with none given, in the sandbox (the local
 * cloud), one built from the configuration. Elsewhere none: real clouds run on real time.
 */
function sandboxClockFor(config: Config, given: Clock | undefined): SandboxClock | undefined {
  if (given) return given instanceof SandboxClock ? given : undefined;
  if (config.cloud !== 'sandbox') return undefined;
  return new SandboxClock({ ...(config.sandbox.clock.start ? { start: config.sandbox.clock.start } : {}), speed: config.sandbox.clock.speed });
}

/** What the console may do with the sandbox clock; `nextEvent` says when the next scheduled event is due. */
/** How often user groups (teams, approvers) are read again from Slack. */
const TEAMS_REFRESH_MS = 5 * 60_000;

export function clockControl(clock: SandboxClock, nextEvent?: () => Promise<Date | undefined>): ConsoleClockControl {
  return {
    now: () => clock.now(),
    jumpBy: (ms) => clock.jumpBy(ms),
    jumpTo: (date) => clock.jumpTo(date),
    speed: clock.speed,
    onJump: (listener) => clock.onJump(listener),
    ...(nextEvent ? { nextEvent } : {}),
  };
}

/** How long a stop waits for flows to reach a step where they can give their lease back. */
const SHUTDOWN_GRACE_MS = 8_000;

export interface Dormouse {
  /** Where Slack (or the console's double) sends requests: http://host:port/slack/events */
  eventsUrl: string;
  /** The sandbox console, when it runs. */
  consoleUrl?: string;
  /** The console's Slack double, when it runs (tests drive it). */
  double?: SlackDouble;
  /** The sandbox's clock, which every part of this sandbox reads; tests and the console move it forward. */
  sandboxClock?: SandboxClock;
  useCases: UseCases;
  config: Config;
  /** This process, in leases. */
  workerId: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Default: in the sandbox a SandboxClock (DORMOUSE_SANDBOX_CLOCK, _SPEED), elsewhere the system's. */
  clock?: Clock;
  logger?: Pino;
  /** Runs the periodic jobs (the resume sweep) on a schedule (default true). */
  scheduler?: boolean;
}

export async function compose(config: Config, options: StartOptions, sides: { cloud: StartCloud; slack: StartSlack }): Promise<Dormouse> {
  const sandboxClock = sandboxClockFor(config, options.clock);
  const clock = options.clock ?? sandboxClock ?? systemClock;
  // Leases say a process is alive: what renews them runs in real time (a worker's pace, cron's ticks), so on
  // a fast sandbox clock they are that much longer in its time (30 real seconds at any speed). A jump still
  // lapses them: the flows' waits end with the jump and renew at once; the leader renews at its next tick.
  const realMs = (ms: number): number => ms * (sandboxClock?.speed ?? 1);
  const logger = options.logger ?? createLogger(config.logLevel);
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const closers = new Closers(logger);
  let ready = false;
  const stop = async () => {
    ready = false;
    await closers.stop();
  };

  try {
    // Counted from the start: the cloud's clients, the flows, the Slack answers. The environments by state
    // and the leader's status are read when scraped, from parts made below.
    let sources: { repo?: DynamoDbEnvironmentRepository; coordinator?: LeaderCoordinator } = {};
    const metrics = new PrometheusMetrics({
      environmentsIn: async (state) => (sources.repo ? (await sources.repo.listByState(state)).length : 0),
      leading: () => sources.coordinator?.isLeading ?? false,
      logger, // each AWS call, one debug line under its correlation id
    });
    const scrape = () => metrics.scrape();
    // What the store, Slack and the cloud answer, checked in the background once they exist (below).
    const probed: { probe?: DependencyProbe } = {};
    const dependencies = () => (probed.probe ? { dependencies: probed.probe.snapshot() } : {});
    const readiness = () => ({ ok: ready && (probed.probe?.storeOk ?? false), detail: dependencies() });
    const slack = await sides.slack(config, closers, () => ready, { metrics: scrape, readiness, detail: dependencies });
    // The console's header moves the sandbox clock. Next event needs to know what is scheduled:
    // attach again with clockControl(sandboxClock, nextEvent) once the scheduler can say.
    if (sandboxClock) slack.setClockControl?.(clockControl(sandboxClock));
    const { dynamo, compute, commands, serverDataDir, data } = await sides.cloud(config, clock, closers, (client, service) => metrics.instrument(client, service));
    const repo = new DynamoDbEnvironmentRepository(dynamo, config.table.name, clock);
    sources = { ...sources, repo };

    const slackClient = new WebClient(config.slack.botToken, {
      ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}),
      retryConfig: { retries: 3 },
      timeout: 15_000,
      logger: slackLogger(logger.child({ component: 'slack-web-api' })),
    });
    // The Home tabs follow every change (bound once the use cases exist, just below).
    const home: { publisher?: HomePublisher } = {};
    const notifier = new SlackNotifier({
      client: slackClient,
      ledger: new DynamoDbMessageLedger(dynamo, config.table.name, clock),
      load: (name) => repo.get(name),
      opsChannel: config.opsChannel,
      savingsChannel: config.schedule.savingsChannel,
      logger: logger.child({ component: 'notifier' }),
      clock,
      holder: workerId,
      onChange: (env) => home.publisher?.changed(env.owner, env.approval?.approvers.users),
    });
    // Runs after the flows have stopped: the last words go out.
    closers.add(() => notifier.idle(3_000));
    const claims = new DynamoDbDeliveryClaims(dynamo, config.table.name, clock);
    const people = new SlackPeople({ client: slackClient, logger: logger.child({ component: 'people' }) });
    // Teams and approvers given as Slack user groups: read now, and again every few minutes on every replica.
    const directory = new TeamDirectory(config.teams, config.policy, people, logger.child({ component: 'teams' }));
    if (directory.hasGroups) {
      await directory.refresh();
      const every = setInterval(() => void directory.refresh().catch((err: unknown) => logger.warn({ err }, 'could not read the user groups')), TEAMS_REFRESH_MS);
      every.unref();
      closers.add(async () => clearInterval(every));
    }
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
      leaseMs: realMs(config.leases.leaseSeconds * 1000),
      ...(serverDataDir ? { serverDataDir } : {}),
      ...(data ? { data: { store: data, scripts: dataScripts(), settings: dataSettings(config), retentionDays: config.data.retentionDays } } : {}),
      schedule: scheduleSettings(config),
      people,
      teams: directory.teams,
      claims,
      ops: config.ops,
      policy: directory.policy,
      quotaLedger: new DynamoDbQuotaLedger(dynamo, config.table.name, clock),
      metrics,
      drift: {
        findings: new DynamoDbFindingStore(dynamo, config.table.name),
        alerts: notifier,
        graceMs: config.reconcile.graceSeconds * 1000,
        onFindings: (open) => metrics.driftFindings(open),
      },
    });
    closers.add(() => useCases.runner.stop(SHUTDOWN_GRACE_MS));
    home.publisher = new HomePublisher({ client: slackClient, logger: logger.child({ component: 'home' }), viewFor: (user) => homeFor(useCases, user, clock.now()), admins: config.admins });

    const { app } = createBoltApp({
      mode: config.slack.mode === 'socket' ? 'socket' : 'http',
      botToken: config.slack.botToken,
      signingSecret: config.slack.signingSecret,
      ...(config.slack.appToken ? { appToken: config.slack.appToken } : {}),
      ...(slack.apiUrl ? { apiUrl: slack.apiUrl } : {}),
      deps: { useCases, clock, logger },
      claims,
      health: () => ({ ok: ready, detail: { slack: config.slack.mode, cloud: config.cloud, ...dependencies() } }),
      readiness,
      metrics: { scrape, answered: (kind, ms) => metrics.slackAnswered(kind, ms) },
    });

    // Periodic work, on the leader only.
    const sweepMs = config.leases.sweepSeconds * 1000;
    const coordinator = new LeaderCoordinator(new DynamoDbLeadership(dynamo, config.table.name, 'scheduler', clock), workerId, realMs(3 * sweepMs), logger.child({ component: 'leader' }));
    sources = { ...sources, coordinator };
    const scheduler =
      options.scheduler === false
        ? undefined
        : startScheduler({
            jobs: [
              { job: resumeJob(useCases.resume), every: `*/${config.leases.sweepSeconds} * * * * *` },
              { job: purgeClaimsJob(new PurgeExpiredClaims({ claims })), every: '17 */5 * * * *' },
              // Messages a killed replica left one state behind are shown again once their environment rests.
              { job: { name: 'settle-messages', run: () => useCases.settleMessages.execute() }, every: '*/10 * * * * *' },
              ...(useCases.data ? [{ job: { name: 'purge-expired-data', run: () => useCases.data!.purgeExpired.execute() }, every: '41 23 * * * *' }] : []),
              ...(useCases.schedule ? [{ job: scheduleTickJob(useCases.schedule), every: everySeconds(config.schedule.tickSeconds) }] : []),
              // Records against the cloud: drift found, alerted once, lost servers replaced where templates say so.
              ...(useCases.drift && config.reconcile.everySeconds > 0
                ? [{ job: reconcileJob(useCases.drift.reconciler, (outcome) => metrics.reconcilerRan(outcome)), every: everySeconds(config.reconcile.everySeconds) }]
                : []),
              // Mondays 09:00 UTC: the week's savings, once (the post claims its week).
              ...(useCases.savings ? [{ job: savingsPostJob(useCases.savings), every: '0 0 9 * * 1', atStart: false }] : []),
            ],
            coordinator,
            logger,
            leaseMs: 3 * sweepMs,
          });
    if (scheduler) closers.add(() => scheduler.stop());
    if (sandboxClock && useCases.schedule) {
      // A jump of the sandbox clock is seen at once: the tick runs, and the console's Next event knows what is due.
      if (scheduler) {
        const off = sandboxClock.onJump(() => void scheduler.runJob('schedule-tick'));
        closers.add(async () => off());
      }
      slack.setClockControl?.(clockControl(sandboxClock, () => nextDue(repo, clock.now())));
    }

    const eventsUrl = await slack.receive(app);
    const probe = new DependencyProbe({
      store: () => repo.get('dormouse-health-probe'),
      // api.test: Slack's own connectivity check (no scope, no rate worry); not Bolt's auth.test.
      slack: () => slackClient.api.test(),
      // The sandbox's cloud is folders on this machine; AWS's is asked (a filtered DescribeInstances).
      ...(config.cloud === 'aws' ? { cloud: () => compute.findByEnvironment('dormouse-health-probe') } : {}),
    });
    probed.probe = probe;
    void probe.start();
    closers.add(async () => probe.stop());

    // Pick up whatever a previous process left half-done (or gave back when it stopped), if this replica leads.
    if (scheduler) await scheduler.tick().catch((err: unknown) => logger.warn({ err }, 'the first sweep failed; the next tick tries again'));
    ready = true;
    return {
      eventsUrl,
      ...(slack.consoleUrl ? { consoleUrl: slack.consoleUrl } : {}),
      ...(slack.double ? { double: slack.double } : {}),
      ...(sandboxClock ? { sandboxClock } : {}),
      useCases,
      config,
      workerId,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A cron expression for every `seconds` (1-59 s; whole minutes above, rounded). */
function everySeconds(seconds: number): string {
  if (seconds < 60) return `*/${seconds} * * * * *`;
  return `0 */${Math.max(1, Math.round(seconds / 60))} * * * *`;
}

/** The next moment a timer is due after `now` (for the console's Next event): the due index, read in order. */
async function nextDue(repo: DynamoDbEnvironmentRepository, now: Date): Promise<Date | undefined> {
  const { environments } = await repo.listDue(new Date(8.64e15), 200);
  const next = environments.map((e) => (e.dueAt ? new Date(e.dueAt) : undefined)).find((d) => d && d.getTime() > now.getTime());
  return next;
}
