/**
 * The Slack double and its console on their own, for running the real bot
 * (`SLACK_BOT_TOKEN` set) against them instead of Slack:
 *
 *   npm run slack-console -- --port 4000 --events http://127.0.0.1:3000/slack/events
 *   SLACK_BOT_TOKEN=xoxb-local SLACK_SIGNING_SECRET=local-secret \
 *     SLACK_API_URL=http://127.0.0.1:4000/api/ DORMOUSE_OPS_CHANNEL=C0OPS npm start
 *
 * Options: --port (4000), --host (127.0.0.1), --events (the bot's /slack/events),
 * --signing-secret (local-secret), --bot-token (xoxb-local), --data (a folder
 * where channels' messages are kept across restarts; none by default).
 */
import { parseArgs } from 'node:util';
import { startConsole } from '../adapters/sandbox/slack-console/console-server.js';
import { SlackDouble } from '../adapters/sandbox/slack-console/slack-double.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4000' },
    host: { type: 'string', default: '127.0.0.1' },
    events: { type: 'string', default: 'http://127.0.0.1:3000/slack/events' },
    'signing-secret': { type: 'string', default: 'local-secret' },
    'bot-token': { type: 'string', default: 'xoxb-local' },
    data: { type: 'string' },
  },
});

const double = new SlackDouble({
  signingSecret: values['signing-secret'],
  botToken: values['bot-token'],
  eventsUrl: values.events,
  ...(values.data ? { dataDir: values.data } : {}),
});
const server = await startConsole({ double, port: Number(values.port), host: values.host });
process.stdout.write(
  [
    `Slack double and console: ${server.url}`,
    `  the bot's Web API:  SLACK_API_URL=${server.url}/api/`,
    `  signed requests to: ${values.events} (secret ${JSON.stringify(values['signing-secret'])}, token ${JSON.stringify(values['bot-token'])})`,
    `  messages kept in:   ${values.data ?? 'memory only (--data DIR keeps them across restarts)'}`,
    '',
  ].join('\n'),
);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
