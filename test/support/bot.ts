/**
 * Starts the whole bot as production does (src/main.ts), from environment
 * variables, with its Web API pointed at a Slack double that the test
 * drives like a person would.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger as Pino } from 'pino';
import { inject } from 'vitest';
import { SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import type { Clock } from '../../src/core/ports/clock.port.js';
import { startDormouse, type Dormouse } from '../../src/main.js';

export const SIGNING_SECRET = 'e2e-signing-secret';
export const BOT_TOKEN = 'xoxb-e2e-token';

export interface RunningBot {
  bot: Dormouse;
  double: SlackDouble;
  stop(): Promise<void>;
}

let tableCounter = 0;

/**
 * `cloud: 'aws'` points it at the run's moto_server; `'sandbox'` uses the local cloud with the given faults.
 * `clock`: the bot's clock (default: startDormouse's); `scheduler`: run the periodic jobs (default false: tests drive them);
 * `logger`: where the bot logs (default: silent, or TEST_LOG_LEVEL).
 */
export async function startBot(opts: { cloud: 'aws' | 'sandbox'; env?: Record<string, string>; clock?: Clock; scheduler?: boolean; logger?: Pino }): Promise<RunningBot> {
  const double = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN });
  await double.listen(0, '127.0.0.1');
  tableCounter += 1;
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: double.apiUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    DORMOUSE_OPS_CHANNEL: 'C0OPS',
    DORMOUSE_ADMINS: 'U0OPS',
    DORMOUSE_TABLE: `dormouse-e2e-${process.pid}-${tableCounter}`,
    LOG_LEVEL: 'silent',
    ...(opts.cloud === 'aws'
      ? { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: inject('motoUrl') }
      : { DORMOUSE_CLOUD: 'sandbox', DORMOUSE_SANDBOX_DIR: mkdtempSync(join(tmpdir(), 'dormouse-e2e-')), DORMOUSE_SANDBOX_DELAYS: 'fast' }),
    ...opts.env,
  };
  if (opts.cloud === 'aws') {
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  }
  const config = loadConfig(env, join(import.meta.dirname, '..', '..'));
  const bot = await startDormouse(config, {
    logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    scheduler: opts.scheduler ?? false,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  double.setEventsUrl(bot.eventsUrl);
  return {
    bot,
    double,
    stop: async () => {
      await bot.stop();
      await double.close();
      // Any bad Web API call the bot made (unknown method, a block over Slack's limits) fails the suite.
      double.assertNoProblems();
    },
  };
}
