/**
 * The baseline of the ack benchmark (test/bench/ack.bench.ts): a bare Bolt
 * app on Bolt's own HTTPReceiver, with the same kind of clients the bot makes
 * at start (a WebClient on the Slack double, DynamoDB, EC2 and SSM on moto)
 * and one `/server` listener that acks first and then does work comparable to
 * the bot's after its ack: for `list` the bot's one Query on its table's
 * byOwner index, for `list all` its one Query per live state on byState (as
 * EnvironmentQueries.all does), then an ephemeral answer through `respond`.
 * Nothing before the ack: this is what "ack first" costs with no extra work.
 *
 * Env: BENCH_SIGNING_SECRET, BENCH_BOT_TOKEN, BENCH_SLACK_API_URL,
 * BENCH_TABLE (the bot's table, already created by the bot), AWS_REGION,
 * AWS_ENDPOINT_URL and credentials. Prints `BENCH_LISTENING <events url>`
 * once it listens, and `BENCH_WARN <what>` when a store read fails.
 */
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { INDEX } from '../../src/adapters/aws/dynamodb-environment.repository.js';
import { LIVE_STATES } from '../../src/core/environment/lifecycle.js';

const need = (key: string): string => {
  const v = process.env[key];
  if (!v) throw new Error(`${key} is missing`);
  return v;
};
const signingSecret = need('BENCH_SIGNING_SECRET');
const botToken = need('BENCH_BOT_TOKEN');
const slackApiUrl = need('BENCH_SLACK_API_URL');
const table = need('BENCH_TABLE');
const aws = { region: need('AWS_REGION'), endpoint: need('AWS_ENDPOINT_URL') };

// The clients the bot makes at start, with the same settings as src/main.ts (keep them in step):
// a deadline on every AWS call (store 3 s, cloud 20 s) and 3 attempts on the store. The WebClient
// (the bot's notifier's), EC2 and SSM are not used by these commands; they are made, as the bot
// makes them, so both processes carry the same weight.
const clients = {
  dynamo: new DynamoDBClient({ ...aws, maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true } }),
  ec2: new EC2Client({ ...aws, requestHandler: { connectionTimeout: 3_000, requestTimeout: 20_000, throwOnRequestTimeout: true } }),
  ssm: new SSMClient({ ...aws, requestHandler: { connectionTimeout: 3_000, requestTimeout: 20_000, throwOnRequestTimeout: true } }),
  web: new WebClient(botToken, { slackApiUrl, retryConfig: { retries: 3 }, timeout: 15_000 }),
};
const doc = DynamoDBDocumentClient.from(clients.dynamo);

async function query(indexName: string, hashKey: string, value: string): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new QueryCommand({
        TableName: table,
        IndexName: indexName,
        KeyConditionExpression: `${hashKey} = :pk`,
        ExpressionAttributeValues: { ':pk': value },
        ExclusiveStartKey: startKey,
      }),
    );
    count += out.Items?.length ?? 0;
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return count;
}

const app = new App({
  token: botToken,
  receiver: new HTTPReceiver({ signingSecret, endpoints: '/slack/events', logLevel: LogLevel.WARN }),
  logLevel: LogLevel.WARN,
  // Bolt's default: auth.test once at start, cached (a bare app as people write it).
  clientOptions: { slackApiUrl, retryConfig: { retries: 3 } },
});

/** As long as the bot's usage text (its help answer is about 1.1 KB), so the two answers cost the same to send. */
const USAGE = [
  'Usage: /server help | list | list all',
  '/server new <name>: ask for an environment (a form opens)',
  '/server new <name> --template <t> [--count <n>] [--type <instance type>] [--purpose "…"]: skip the form',
  '/server list · /server list all: your environments · everyone\'s',
  '/server status <name>: one environment in detail',
  '/server destroy <name>: terminate its servers (owner or admin)',
  '/server retry <name>: retry a failed environment',
  '/server templates: what you can ask for',
].join('\n');

app.command('/server', async ({ ack, command, respond }) => {
  await ack();
  const text = command.text.trim();
  let answer: string;
  try {
    if (text === 'list') {
      const n = await query(INDEX.byOwner, 'gsi1pk', `OWNER#${command.user_id}`);
      answer = `You have ${n} environment(s).`;
    } else if (text === 'list all') {
      const counts = await Promise.all(LIVE_STATES.map((s) => query(INDEX.byState, 'gsi2pk', `STATE#${s}`)));
      answer = `${counts.reduce((a, b) => a + b, 0)} live environment(s).`;
    } else {
      answer = USAGE;
    }
  } catch (error) {
    // Told to the benchmark, which counts it as a problem of the round (the bot logs its own).
    process.stdout.write(`BENCH_WARN store read failed: ${(error as Error).name}\n`);
    answer = `Could not read the store: ${(error as Error).name}`;
  }
  // The same shape as the bot's answers (text and one section), so both do comparable work after the ack.
  await respond({ response_type: 'ephemeral', replace_original: false, text: answer, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: answer } }] });
});

const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
const address = server.address();
process.stdout.write(`BENCH_LISTENING http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/slack/events\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void app
    .stop()
    .catch(() => undefined)
    .then(() => {
      for (const c of [clients.dynamo, clients.ec2, clients.ssm]) c.destroy();
      process.exit(0);
    });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
