/**
 * The entry point: reads the configuration, picks one composition for the
 * mode it asks for (the cloud: the sandbox's or AWS; Slack: the sandbox
 * console, HTTP or Socket Mode), starts it, and stops it on SIGTERM. What the
 * compositions share is in compose/app.ts.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatSandboxFaults } from './adapters/sandbox/local-cloud/sandbox-faults.js';
import { compose, type Dormouse, type StartOptions } from './compose/app.js';
import { awsCloud, sandboxCloud } from './compose/cloud.js';
import { consoleSlack, httpSlack, socketSlack, type StartSlack } from './compose/slack.js';
import { ConfigError, loadConfig, type Config, type SlackMode } from './config/config.js';
import { createLogger } from './logger.js';

export type { Dormouse, StartOptions } from './compose/app.js';

const SLACK: Readonly<Record<SlackMode, StartSlack>> = { console: consoleSlack, http: httpSlack, socket: socketSlack };

/** Starts the composition the configuration asks for. */
export function startDormouse(config: Config, options: StartOptions = {}): Promise<Dormouse> {
  return compose(config, options, { cloud: config.cloud === 'sandbox' ? sandboxCloud : awsCloud, slack: SLACK[config.slack.mode] });
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
        ...(dormouse.sandboxClock && (config.sandbox.clock.start || dormouse.sandboxClock.speed !== 1)
          ? [`  Sandbox clock: ${dormouse.sandboxClock.now().toISOString()}, ${dormouse.sandboxClock.speed}× real time (the console's header moves it on)`]
          : []),
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
