/**
 * Composition root: config → logger → adapters → use cases → Bolt app +
 * scheduler. With no configuration it starts the sandbox: the Slack console,
 * the local cloud and the embedded store, behind the same ports.
 *
 * Stopping (SIGTERM) goes in this order: stop receiving, stop the scheduler
 * (giving leadership back), ask every flow to stop at its next step and give
 * its lease back (so another replica, or the next start, resumes at once),
 * then close the clients.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { WebClient } from '@slack/web-api';
import type { Logger as Pino } from 'pino';
import { DynamoDbDeliveryClaims } from './adapters/aws/dynamodb-delivery-claims.js';
import { DynamoDbEnvironmentRepository, ensureTable } from './adapters/aws/dynamodb-environment.repository.js';
import { DynamoDbLeadership } from './adapters/aws/dynamodb-leadership.js';
import { DynamoDbMessageLedger } from './adapters/aws/dynamodb-message-ledger.js';
import type { EmbeddedStore } from './adapters/sandbox/embedded-store.js';
import type { SlackDouble } from './adapters/sandbox/slack-console/slack-double.js';
import { createBoltApp, slackLogger } from './adapters/slack/bolt-app.js';
import { SlackNotifier } from './adapters/slack/slack-notifier.adapter.js';
import { formatSandboxFaults } from './adapters/sandbox/local-cloud/sandbox-faults.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { systemClock, type Clock } from './core/ports/clock.port.js';
import type { ComputePort } from './core/ports/compute.port.js';
import type { RemoteCommandPort } from './core/ports/remote-command.port.js';
import { createUseCases, type UseCases } from './core/use-cases/index.js';
import { PurgeExpiredClaims } from './core/use-cases/purge-claims.use-case.js';
import { lazyPort } from './lazy-port.js';
import { createLogger } from './logger.js';
import { purgeClaimsJob } from './scheduler/jobs/purge-claims.job.js';
import { resumeJob } from './scheduler/jobs/resume.job.js';
import { LeaderCoordinator } from './scheduler/leader.js';
import { startScheduler } from './scheduler/scheduler.js';

/** How long a stop waits for flows to reach a step where they can give their lease back. */
const SHUTDOWN_GRACE_MS = 8_000;
/** The most any one part may take to stop. */
const CLOSER_DEADLINE_MS = 12_000;

/**
 * Every AWS call has a deadline: a store or cloud that hangs must not hang
 * the bot. The store answers in milliseconds; EC2 and SSM in seconds. Without
 * throwOnRequestTimeout the SDK's HTTP handler only logs a request over its
 * timeout and goes on waiting.
 */
const STORE_HTTP = { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true };
const CLOUD_HTTP = { connectionTimeout: 3_000, requestTimeout: 20_000, throwOnRequestTimeout: true };

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

export async function startDormouse(config: Config, options: StartOptions = {}): Promise<Dormouse> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const closers: Array<() => Promise<unknown>> = [];
  let ready = false;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      ready = false;
      // Each part gets a deadline: one that hangs must not keep the rest (giving leases back) from running.
      for (const close of closers.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(() => (logger.warn({}, 'a part did not stop in time; going on'), resolve()), CLOSER_DEADLINE_MS)));
        await Promise.race([close().catch((err: unknown) => logger.warn({ err }, 'error while stopping')), deadline]);
        clearTimeout(timer);
      }
    })());

  try {
    // The sandbox console comes up first, so the page shows at once (its /healthz says 503 until ready).
    let double: SlackDouble | undefined;
    let consoleUrl: string | undefined;
    if (config.slack.mode === 'console') {
      const [{ SlackDouble }, { startConsole }] = await Promise.all([
        import('./adapters/sandbox/slack-console/slack-double.js'),
        import('./adapters/sandbox/slack-console/console-server.js'),
      ]);
      // The console keeps its channels under the sandbox folder, so a restart shows the same conversation.
      double = new SlackDouble({ signingSecret: config.slack.signingSecret, botToken: config.slack.botToken, dataDir: join(config.sandbox.dataDir, 'slack') });
      const consoleServer = await startConsole({ double, port: config.http.port, host: config.http.host, health: () => ({ ok: ready }) });
      closers.push(() => consoleServer.close());
      consoleUrl = consoleServer.url;
    }

    if (config.cloud === 'sandbox') {
      // The SDK's notice that its 2027 releases need Node 22 concerns operators of a real
      // deployment (the lockfile keeps today's releases), not someone trying the sandbox.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    }
    // Store first (the sandbox's is embedded unless one is shared); the table is made ready while the cloud's SDKs load.
    let store: EmbeddedStore | undefined;
    if (config.cloud === 'sandbox' && !config.store.endpoint) {
      const { startEmbeddedStore } = await import('./adapters/sandbox/embedded-store.js');
      store = await startEmbeddedStore({ dataDir: config.sandbox.dataDir });
      closers.push(() => store!.close());
    }
    const aws = { region: config.aws.region, ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}) };
    const storeEndpoint = store?.endpoint ?? config.store.endpoint;
    const sandboxCredentials = config.cloud === 'sandbox' ? { credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } } : {};
    const dynamo = new DynamoDBClient({
      ...aws,
      ...(storeEndpoint ? { endpoint: storeEndpoint, ...sandboxCredentials } : {}),
      maxAttempts: 3,
      requestHandler: STORE_HTTP,
    });
    closers.push(async () => dynamo.destroy());
    const tableReady = config.table.create ? ensureTable(dynamo, config.table.name) : Promise.resolve();
    tableReady.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile

    let compute: ComputePort;
    let commands: RemoteCommandPort;
    let serverDataDir: string | undefined;
    if (config.cloud === 'sandbox') {
      const { LocalCloud } = await import('./adapters/sandbox/local-cloud/local-cloud.js');
      const cloud = new LocalCloud({
        rootDir: join(config.sandbox.dataDir, 'cloud'),
        clock,
        delays: config.sandbox.delays,
        faults: config.sandbox.faults,
      });
      compute = cloud.compute;
      commands = cloud.commands;
    } else {
      // Loaded in the background (the EC2 client alone takes ~0.4 s to import): /healthz need not wait for it.
      const adapters = Promise.all([
        import('@aws-sdk/client-ec2'),
        import('@aws-sdk/client-ssm'),
        import('./adapters/aws/ec2-compute.adapter.js'),
        import('./adapters/aws/ssm-remote-command.adapter.js'),
      ]).then(([{ EC2Client }, { SSMClient }, { Ec2Compute }, { SsmRemoteCommand }]) => {
        // Throttling and transient errors are the SDK's to retry (the adapters only poll). EC2 limits calls per account,
        // so its client also slows itself down once throttled (adaptive); SSM's stays standard.
        const ec2 = new EC2Client({ ...aws, maxAttempts: 5, retryMode: 'adaptive', requestHandler: CLOUD_HTTP });
        const ssm = new SSMClient({ ...aws, maxAttempts: 5, requestHandler: CLOUD_HTTP });
        return { compute: new Ec2Compute({ ec2, ssm, clock }), commands: new SsmRemoteCommand({ ssm, clock }), close: () => (ec2.destroy(), ssm.destroy()) };
      });
      // Registered now, so it runs after the flows have stopped (closers run last-in, first-out).
      closers.push(async () => (await adapters.catch(() => undefined))?.close());
      compute = lazyPort(adapters.then((a) => a.compute));
      commands = lazyPort(adapters.then((a) => a.commands));
      serverDataDir = '/var/lib/dormouse/data';
    }
    await tableReady;
    const repo = new DynamoDbEnvironmentRepository(dynamo, config.table.name, clock);

    // Slack: the real one, or the console's double (the console server serves its Web API too).
    const apiUrl = double ? `${consoleUrl}/api/` : config.slack.apiUrl;
    const slackClient = new WebClient(config.slack.botToken, {
      ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
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
    // Runs after the flows have stopped (closers run last-in, first-out): the last words go out.
    closers.push(() => notifier.idle(3_000));
    const leaseMs = config.leases.leaseSeconds * 1000;
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
      leaseMs,
      ...(serverDataDir ? { serverDataDir } : {}),
    });
    // Last in, first out: this runs after the receiver and the scheduler have stopped.
    closers.push(() => useCases.runner.stop(SHUTDOWN_GRACE_MS));

    const claims = new DynamoDbDeliveryClaims(dynamo, config.table.name, clock);
    const { app } = createBoltApp({
      mode: config.slack.mode === 'socket' ? 'socket' : 'http',
      botToken: config.slack.botToken,
      signingSecret: config.slack.signingSecret,
      ...(config.slack.appToken ? { appToken: config.slack.appToken } : {}),
      ...(apiUrl ? { apiUrl } : {}),
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
            ],
            coordinator,
            logger,
            leaseMs: 3 * sweepMs,
          });
    if (scheduler) closers.push(() => scheduler.stop());

    // Receive.
    let eventsUrl: string;
    if (double) {
      // Bolt listens on a private loopback port; the console sends it signed requests there.
      const bolt = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
      closers.push(() => app.stop());
      eventsUrl = `http://127.0.0.1:${portOf(bolt)}/slack/events`;
      double.setEventsUrl(eventsUrl);
    } else if (config.slack.mode === 'socket') {
      await app.start();
      closers.push(() => app.stop());
      const health = await startHealthServer(config, () => ready);
      closers.push(() => new Promise((r) => health.close(r)));
      eventsUrl = 'socket-mode';
    } else {
      const server = (await app.start({ port: config.http.port, host: config.http.host })) as Server;
      closers.push(() => app.stop());
      eventsUrl = `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${portOf(server)}/slack/events`;
    }

    // Pick up whatever a previous process left half-done (or gave back when it stopped), if this replica leads.
    if (scheduler) await scheduler.tick().catch((err: unknown) => logger.warn({ err }, 'the first sweep failed; the next tick tries again'));
    ready = true;
    return { eventsUrl, ...(consoleUrl ? { consoleUrl } : {}), ...(double ? { double } : {}), useCases, config, workerId, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function portOf(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/** Socket Mode has no HTTP endpoint of its own: /healthz gets a tiny server. */
function startHealthServer(config: Config, isReady: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(isReady() ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: isReady() ? 'ok' : 'starting' }));
    } else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(config.http.port, config.http.host, () => resolve(server)));
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  // The last resort: whatever escaped every handler is logged, and the bot keeps serving.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection (kept serving)'));
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (kept serving)'));
  const dormouse = await startDormouse(config, { logger });
  // Faults on purpose must never be a surprise: said at start, with where they come from.
  const faults = config.cloud === 'sandbox' ? formatSandboxFaults(config.sandbox.faults) : '';
  if (faults) logger.warn({ faults }, 'sandbox faults in force (DORMOUSE_SANDBOX_FAULTS)');
  if (dormouse.consoleUrl) {
    logger.info({ url: dormouse.consoleUrl, cloud: config.cloud }, `Sandbox console: ${dormouse.consoleUrl}`);
    process.stdout.write(
      [
        '',
        `  Dormouse sandbox: open ${dormouse.consoleUrl}`,
        '  Try first: pick who you are, type `/server new demo` and fill in the form (or `/server help`).',
        `  Cloud: ${config.cloud === 'sandbox' ? `local servers in ${join(config.sandbox.dataDir, 'cloud')}` : 'AWS'} · Stop: Ctrl-C`,
        ...(faults ? [`  Faults in force on purpose (DORMOUSE_SANDBOX_FAULTS): ${faults}`] : []),
        '',
      ].join('\n') + '\n',
    );
  } else {
    logger.info({ events: dormouse.eventsUrl, slack: config.slack.mode, cloud: config.cloud, worker: dormouse.workerId }, 'Dormouse is listening');
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: giving work under way back so it resumes at once elsewhere');
    dormouse.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** Why the start failed, for the person who typed `npm start`: a sentence where the cause is known, the stack otherwise. */
export function startFailure(error: unknown, port: string | undefined): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? ((error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code);
  if (code === 'EADDRINUSE') {
    const taken = port || '3000';
    return `Dormouse cannot start: port ${taken} is already in use (another Dormouse, or another program). Stop that, or choose another port, e.g. PORT=${Number(taken) + 1} npm start.`;
  }
  if (code === 'EACCES') return `Dormouse cannot start: it may not listen on port ${port || '3000'} (ports below 1024 need privileges). Choose another, e.g. PORT=3000 npm start.`;
  return `Dormouse failed to start: ${(error as Error)?.stack ?? String(error)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${startFailure(error, process.env.PORT)}\n`);
    process.exit(1);
  });
}
