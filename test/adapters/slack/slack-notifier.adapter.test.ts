/**
 * The notifier as replicas use it: two notifiers (two processes) share one
 * store (the message ledger on dynalite) and one Slack (the double, through
 * the real Web API client). Whatever order updates arrive in, there is one
 * message per environment, it ends on the newest version, and each line of
 * its story is told once. Slack failing (500, 429) is retried.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { WebClient } from '@slack/web-api';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable } from '../../../src/adapters/aws/dynamodb-environment.repository.js';
import { DynamoDbMessageLedger } from '../../../src/adapters/aws/dynamodb-message-ledger.js';
import { SlackDouble, visibleText } from '../../../src/adapters/sandbox/slack-console/slack-double.js';
import { SlackNotifier } from '../../../src/adapters/slack/slack-notifier.adapter.js';
import { finishStep, newEnvironment, startStep, transition, type Environment } from '../../../src/core/environment/environment.js';
import { newEnvironmentId } from '../../../src/core/environment/ids.js';
import { systemClock } from '../../../src/core/ports/clock.port.js';
import { startDynalite, type RunningDynalite } from '../../support/dynalite.js';

const TOKEN = 'xoxb-notifier-test';
let dynalite: RunningDynalite;
let client: DynamoDBClient;
let double: SlackDouble;
let table = 0;

beforeAll(async () => {
  dynalite = await startDynalite();
  client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynalite.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  double = new SlackDouble({ signingSecret: 's', botToken: TOKEN });
  await double.listen(0, '127.0.0.1');
});

afterAll(async () => {
  client.destroy();
  await dynalite.close();
  await double.close();
});

/** Two replicas' notifiers on one ledger; `stored` plays the environment's record (what `load` reads). */
async function replicas(n = 2) {
  const name = `notifier-${++table}`;
  await ensureTable(client, name);
  const stored = new Map<string, Environment>();
  const make = (holder: string) =>
    new SlackNotifier({
      client: new WebClient(TOKEN, { slackApiUrl: double.apiUrl, retryConfig: { retries: 3, factor: 1, minTimeout: 10, maxTimeout: 20 } }),
      ledger: new DynamoDbMessageLedger(client, name, systemClock),
      load: async (envName) => stored.get(envName),
      opsChannel: 'C0OPS',
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      clock: systemClock,
      holder,
    });
  return { stored, make, notifiers: Array.from({ length: n }, (_, i) => make(`replica-${i}`)) };
}

let seq = 0;
/** The versions an environment goes through on its way to ready. */
function story(): Environment[] {
  const at = (s: number) => new Date(Date.parse('2030-01-01T09:00:00Z') + s * 1000);
  const name = `env-${++seq}-${Date.now().toString(36)}`;
  let env: Environment = { ...newEnvironment({ id: newEnvironmentId(at(0)), name, owner: 'U0DEV', template: 'api', instanceType: 't3.small', count: 1, purpose: '', requestId: 'r', channel: 'C0GENERAL', hourlyCostUsd: 0.02 }, at(0)), version: 1 };
  const versions = [env];
  const next = (e: Environment) => {
    env = { ...e, version: env.version + 1 };
    versions.push(env);
  };
  next(startStep(transition(env, 'provisioning', at(1)), 'launch', 'Launching 1 instance (t3.small)', at(1)));
  next(startStep(finishStep(env, 'launch', at(2)), 'running', 'Waiting for the instances to run', at(2)));
  next(startStep(transition(finishStep(env, 'running', at(3)), 'bootstrapping', at(3)), 'agent', 'Waiting for the SSM agent', at(3)));
  next(transition(finishStep(env, 'agent', at(4)), 'ready', at(4)));
  return versions;
}

const messagesAbout = (env: Environment) => double.channelMessages('C0GENERAL').filter((m) => m.blocks.some((b) => JSON.stringify(b).includes(`"text":"${env.name}"`)));

describe('the notifier across replicas', () => {
  it('one message per environment, ending on the newest version, whatever order updates arrive in', async () => {
    const { stored, notifiers } = await replicas(3);
    const versions = story();
    const newest = versions.at(-1)!;
    stored.set(newest.name, newest);
    // Every replica shows every version, in a shuffled order, all at once.
    const shuffled = (r: number) => [...versions].sort((a, b) => ((a.version * 7 + r * 3) % 5) - ((b.version * 7 + r * 3) % 5));
    await Promise.all(notifiers.flatMap((n, r) => shuffled(r).map((v) => n.showProgress(v))));
    const messages = messagesAbout(newest);
    expect(messages).toHaveLength(1);
    expect(visibleText(messages[0]!)).toMatch(/ready/i);
    // Each finished step is told once in the thread.
    const thread = messages[0]!.replies.map((r) => r.text);
    for (const step of ['Launching 1 instance', 'Waiting for the instances to run', 'Waiting for the SSM agent']) {
      expect(thread.filter((t) => t.includes(step)), step).toHaveLength(1);
    }
  });

  it('replicas showing different versions of a new environment at the same instant post one message', async () => {
    const { stored, notifiers } = await replicas(3);
    const stories = Array.from({ length: 8 }, () => story());
    for (const v of stories) stored.set(v.at(-1)!.name, v.at(-1)!);
    await Promise.all(stories.flatMap((v) => notifiers.map((n, r) => n.showProgress(v[r]!))));
    for (const v of stories) expect(messagesAbout(v[0]!), v[0]!.name).toHaveLength(1);
  });

  it('drops an older version that arrives after a newer one was shown', async () => {
    const { stored, notifiers } = await replicas(2);
    const versions = story();
    const newest = versions.at(-1)!;
    stored.set(newest.name, newest);
    await notifiers[0]!.showProgress(versions[0]!);
    await notifiers[0]!.showProgress(newest);
    const updatesBefore = double.calls.filter((c) => c.method === 'chat.update').length;
    await notifiers[1]!.showProgress(versions[2]!);
    expect(double.calls.filter((c) => c.method === 'chat.update').length).toBe(updatesBefore);
    expect(visibleText(messagesAbout(newest)[0]!)).toMatch(/ready/i);
  });

  it('tells the owner and ops once per failure, however many replicas report it', async () => {
    const { notifiers } = await replicas(2);
    const env = story()[2]!;
    const failed: Environment = { ...transition(env, 'failed', new Date()), failure: { step: 'bootstrap', code: 'COMMAND.FAILED', reason: 'exit 1', from: 'bootstrapping', retryable: true, at: new Date().toISOString() } };
    const dm = double.dmChannel('U0DEV');
    const before = { dm: double.channelMessages(dm).length, ops: double.channelMessages('C0OPS').length };
    await Promise.all(notifiers.flatMap((n) => [n.failed(failed), n.opsAlert(failed), n.failed(failed), n.opsAlert(failed)]));
    expect(double.channelMessages(dm).length - before.dm).toBe(1);
    expect(double.channelMessages('C0OPS').filter((m) => visibleText(m).includes(env.name))).toHaveLength(1);
  });

  it('an ops alert, once someone retried or destroyed, says who and how and loses its buttons; two replicas close it once', async () => {
    const { stored, notifiers } = await replicas(2);
    const env = story()[3]!;
    const failed: Environment = { ...transition(env, 'failed', new Date()), version: env.version + 1, failure: { step: 'bootstrap', code: 'COMMAND.FAILED', reason: 'exit 1', from: 'bootstrapping', retryable: true, at: '2030-01-01T09:05:00.000Z' } };
    stored.set(failed.name, failed);
    await notifiers[0]!.showProgress(failed);
    await notifiers[0]!.opsAlert(failed);
    const alert = () => double.channelMessages('C0OPS').find((m) => visibleText(m).includes(failed.name))!;
    expect(JSON.stringify(alert().blocks)).toContain('"type":"actions"');
    expect(visibleText(alert())).toContain('try 1 of 1, 09:05 UTC');

    // U0OPS retries it: the alert says so, and its buttons go.
    const retried: Environment = { ...transition(failed, 'bootstrapping', new Date()), version: failed.version + 1, retries: 1, retriedBy: 'U0OPS' };
    stored.set(retried.name, retried);
    const updatesBefore = double.calls.filter((c) => c.method === 'chat.update' && c.args.channel === 'C0OPS').length;
    await Promise.all(notifiers.map((n) => n.showProgress(retried)));
    expect(JSON.stringify(alert().blocks)).not.toContain('"type":"actions"');
    expect(visibleText(alert())).toMatch(/Handled: <@U0OPS> retried it \(try 2\)/);
    expect(double.calls.filter((c) => c.method === 'chat.update' && c.args.channel === 'C0OPS').length - updatesBefore).toBe(1);

    // It fails again: a new alert, live; then it is destroyed: that one says so.
    const again: Environment = { ...transition(retried, 'failed', new Date()), version: retried.version + 1, failure: { ...failed.failure!, at: '2030-01-01T09:09:00.000Z' } };
    stored.set(again.name, again);
    await notifiers[1]!.showProgress(again);
    await notifiers[1]!.opsAlert(again);
    const alerts = () => double.channelMessages('C0OPS').filter((m) => visibleText(m).includes(failed.name));
    expect(alerts()).toHaveLength(2);
    const destroying: Environment = { ...transition(again, 'destroying', new Date()), version: again.version + 1, destroyedBy: 'U0DEV' };
    stored.set(destroying.name, destroying);
    await notifiers[0]!.showProgress(destroying);
    expect(visibleText(alerts()[1]!)).toMatch(/Handled: <@U0DEV> destroyed it/);
    expect(alerts().every((m) => !JSON.stringify(m.blocks).includes('"type":"actions"'))).toBe(true);
  });

  it('the thread keeps why each try failed: a failed step\'s line says why', async () => {
    const { stored, notifiers } = await replicas(1);
    const base = story()[3]!;
    const at = '2030-01-01T09:04:00.000Z';
    const failed: Environment = {
      ...transition(base, 'failed', new Date(at)),
      version: base.version + 1,
      progress: [...base.progress, { key: 'bootstrap:0', label: 'Bootstrap server 1', status: 'failed', startedAt: '2030-01-01T09:03:00.000Z', endedAt: at }],
      failure: { step: 'bootstrap', code: 'COMMAND.FAILED', params: { server: 1, instanceId: 'i-0abc', step: 'install', exitCode: 2 }, reason: 'plain', from: 'bootstrapping', retryable: true, at },
    };
    stored.set(failed.name, failed);
    await notifiers[0]!.showProgress(failed);
    const [message] = messagesAbout(failed);
    expect(message!.replies.map((r) => r.text)).toContainEqual(expect.stringMatching(/Bootstrap server 1 \(1 min 0 s\): Server 1 \(`i-0abc`\): step `install` exited with code 2\./));
  });

  it('a message gone from Slack (deleted, a console restarted) is posted again with its story', async () => {
    const { stored, notifiers } = await replicas(1);
    const versions = story();
    stored.set(versions.at(-1)!.name, versions.at(-1)!);
    await notifiers[0]!.showProgress(versions[2]!);
    const [first] = messagesAbout(versions[0]!);
    await new WebClient(TOKEN, { slackApiUrl: double.apiUrl }).chat.delete({ channel: 'C0GENERAL', ts: first!.ts });
    expect(messagesAbout(versions[0]!)).toHaveLength(0);
    await notifiers[0]!.showProgress(versions.at(-1)!);
    const again = messagesAbout(versions[0]!);
    expect(again).toHaveLength(1);
    expect(visibleText(again[0]!)).toMatch(/ready/i);
    expect(again[0]!.replies.filter((r) => r.text.includes('Launching'))).toHaveLength(1);
    double.clearProblems();
  });

  it('Slack answering 500 or 429 is retried: the message is posted and updated once each', async () => {
    const { stored, notifiers } = await replicas(1);
    const versions = story();
    stored.set(versions.at(-1)!.name, versions.at(-1)!);
    double.failNext({ method: 'chat.postMessage', status: 500 });
    await notifiers[0]!.showProgress(versions[0]!);
    double.failNext({ method: 'chat.update', status: 429, retryAfterSeconds: 1 });
    await notifiers[0]!.showProgress(versions.at(-1)!);
    const messages = messagesAbout(versions[0]!);
    expect(messages).toHaveLength(1);
    expect(visibleText(messages[0]!)).toMatch(/ready/i);
    double.assertNoProblems();
  });

  it('a restarted process continues the same message (what was said is in the store, not in memory)', async () => {
    const { stored, notifiers, make } = await replicas(1);
    const versions = story();
    stored.set(versions.at(-1)!.name, versions.at(-1)!);
    await notifiers[0]!.showProgress(versions[2]!);
    // A fresh notifier on the same table stands for the restarted process.
    await make('after-restart').showProgress(versions.at(-1)!);
    expect(messagesAbout(versions[0]!)).toHaveLength(1);
    expect(messagesAbout(versions[0]!)[0]!.replies.filter((r) => r.text.includes('Launching'))).toHaveLength(1);
  });
});
