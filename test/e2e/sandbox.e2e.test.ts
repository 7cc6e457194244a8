/**
 * The sandbox as `npm start` runs it with no configuration: the console's
 * Slack double, the local cloud and the embedded store. Fault injection shows
 * every failure path; a restart keeps the environments.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText, type SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import { startDormouse, type Dormouse } from '../../src/main.js';
import { eventually } from '../support/eventually.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const running: Dormouse[] = [];
afterEach(async () => {
  while (running.length) {
    const bot = running.pop()!;
    await bot.stop();
    bot.double?.assertNoProblems();
  }
});

async function sandbox(env: Record<string, string> = {}, dir = mkdtempSync(join(tmpdir(), 'dormouse-sandbox-'))) {
  const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: dir, DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'silent', ...env }, repoRoot);
  expect(config.slack.mode).toBe('console');
  expect(config.cloud).toBe('sandbox');
  const bot = await startDormouse(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), scheduler: false });
  running.push(bot);
  return { bot, double: bot.double as SlackDouble, dir };
}

const messageIn = (double: SlackDouble, channel: string, needle: string) =>
  double.channelMessages(channel).filter((m) => visibleText(m).includes(needle)).at(-1);

async function waitForText(double: SlackDouble, channel: string, needle: string, what: string) {
  return double.waitFor(() => messageIn(double, channel, needle), { timeoutMs: 15_000, what });
}

describe('sandbox', () => {
  it('with no configuration: console up, /healthz answers, a demo environment reaches ready and runs its safe step', async () => {
    const { bot, double, dir } = await sandbox();
    expect(bot.consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${bot.consoleUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${bot.consoleUrl}/`)).status).toBe(200);

    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new demo-one --template demo' });
    await double.waitFor(() => {
      const m = messageIn(double, 'C0GENERAL', 'demo-one');
      return m && m.replies.some((r) => r.text.includes('start-session')) ? m : undefined;
    }, { timeoutMs: 15_000, what: 'demo-one ready' });
    const { environment } = await bot.useCases.queries.status('demo-one');
    expect(environment.state).toBe('ready');
    // The `hello` step is marked safe for the sandbox: it really ran, in the server's data folder.
    const server = environment.servers[0]!;
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(dir, 'cloud', 'servers', server.instanceId, 'data', 'bootstrapped-at'), 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT/);
    double.assertNoProblems();
  });

  it('the form says what a request costs, and says it again as the count and the type change', async () => {
    const { double } = await sandbox();
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new priced' });
    const cost = () => {
      const view = double.openViews('U0DEV').at(-1);
      return JSON.stringify(view?.blocks.find((b) => (b as { block_id?: string }).block_id === 'cost') ?? '');
    };
    // demo: t3.micro at $0.0104/h; the default schedule (weekdays 08:00-18:30) is awake 7.5 h a day on average.
    await double.waitFor(() => double.openViews('U0DEV').length > 0 || undefined, { timeoutMs: 5_000, what: 'the form' });
    await double.selectOption({ user: 'U0DEV', label: 'Template', option: 'demo' });
    await double.waitFor(() => cost().includes('$0.0104/h awake (1 × t3.micro)') || undefined, { timeoutMs: 5_000, what: 'the first cost' });
    expect(cost()).toContain('$0.078/day with its schedule (weekdays 08:00-18:30, 7.5 h a day on average) · $2.34/month');
    await double.selectOption({ user: 'U0DEV', label: 'Number of servers', option: '2' });
    await double.waitFor(() => cost().includes('$0.0208/h awake (2 × t3.micro)') || undefined, { timeoutMs: 5_000, what: 'the cost for two servers' });
    await double.selectOption({ user: 'U0DEV', label: 'Instance type', option: 't3.small: $0.0208/h' });
    await double.waitFor(() => cost().includes('$0.0416/h awake (2 × t3.small)') || undefined, { timeoutMs: 5_000, what: 'the cost for two t3.small' });
    expect(cost()).toContain('$9.36/month');
    double.assertNoProblems();
  });

  it('the Home tab follows every change, without being opened again: the owner sees state, cost and buttons; an admin sees the fleet', async () => {
    const { double } = await sandbox();
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new homely --template demo' });
    const homeText = (user: string) => JSON.stringify(double.home(user)?.blocks ?? []);
    // Published as it changes (nobody opened the tab): the owner's environment, ready, with what it cost this month and its buttons.
    await double.waitFor(() => (homeText('U0DEV').includes('homely* · ready') ? true : undefined), { timeoutMs: 15_000, what: "dana's Home showing homely ready" });
    expect(homeText('U0DEV')).toMatch(/this month/);
    expect(homeText('U0DEV')).toMatch(/"text":"Sleep"/);
    expect(homeText('U0DEV')).toMatch(/"text":"Destroy"/);
    expect(homeText('U0DEV')).not.toMatch(/The fleet/);
    // omar is an admin: the fleet, by state, with spend and top spenders.
    await double.waitFor(() => (homeText('U0OPS').includes('1 ready') ? true : undefined), { timeoutMs: 15_000, what: "omar's fleet" });
    expect(homeText('U0OPS')).toMatch(/The fleet/);
    expect(homeText('U0OPS')).toMatch(/Spent today \$[\d.]+ · this month \$[\d.]+/);
    expect(homeText('U0OPS')).toMatch(/Top spenders this month/);
    // Sleeping it from the Home tab: the tab follows.
    await double.clickButton({ user: 'U0DEV', label: 'Sleep' });
    await double.waitFor(() => (homeText('U0DEV').includes('homely* · asleep') ? true : undefined), { timeoutMs: 20_000, what: "dana's Home showing homely asleep" });
    expect(homeText('U0DEV')).toMatch(/"text":"Wake"/);
    double.assertNoProblems();
  });

  it('a capacity failure: the requester is told, ops get an alert whose Retry and Destroy work', async () => {
    const { bot, double } = await sandbox({ DORMOUSE_SANDBOX_FAULTS: 'capacity' });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new no-room --template demo' });
    const alert = await waitForText(double, 'C0OPS', 'no-room', 'the ops alert');
    expect(visibleText(alert)).toMatch(/failed while \*?launching instances/);
    expect(visibleText(alert)).toMatch(/capacity/i);
    const dm = double.dmChannel('U0DEV');
    expect(visibleText(await waitForText(double, dm, 'no-room', 'the DM to the requester'))).toMatch(/failed while launching instances[\s\S]*Ops have been alerted/);
    expect((await bot.useCases.queries.status('no-room')).environment.failure).toMatchObject({ step: 'launch', code: 'COMPUTE.INSUFFICIENT_CAPACITY' });

    // Retry from the alert: back to launching (it fails again, the fault is still on), then Destroy from the alert.
    const retried = await double.clickButton({ user: 'U0OPS', label: 'Retry', channel: 'C0OPS' });
    expect(retried.status).toBe(200);
    await double.waitFor(() => double.channelMessages('C0OPS').filter((m) => visibleText(m).includes('no-room')).length >= 2 || undefined, { timeoutMs: 15_000, what: 'a second alert after the retry' });
    expect((await bot.useCases.queries.status('no-room')).environment).toMatchObject({ state: 'failed', retries: 1 });

    // The first alert was handled by the retry: it says so, and only the new one has buttons.
    await double.waitFor(() => {
      const [first] = double.channelMessages('C0OPS').filter((m) => visibleText(m).includes('no-room'));
      return first && /Handled: <@U0OPS> retried it \(try 2\)/.test(visibleText(first)) && !JSON.stringify(first.blocks).includes('"type":"actions"') ? first : undefined;
    }, { what: 'the first alert to say it was retried' });
    await double.clickButton({ user: 'U0OPS', label: 'Destroy', channel: 'C0OPS' });
    await eventually(async () => expect((await bot.useCases.queries.status('no-room')).environment.state).toBe('destroyed'));
    await double.waitFor(() => {
      const m = messageIn(double, 'C0GENERAL', 'no-room');
      return m && visibleText(m).includes('destroyed') ? m : undefined;
    }, { timeoutMs: 15_000, what: 'the message to say destroyed' });
    double.assertNoProblems();
  });

  it('a failing bootstrap step: failed at bootstrap with the step output, alert in ops', async () => {
    const { bot, double } = await sandbox({ DORMOUSE_SANDBOX_FAULTS: 'fail-step:hello' });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new broken-one --template demo' });
    const alert = await waitForText(double, 'C0OPS', 'broken-one', 'the ops alert');
    expect(visibleText(alert)).toMatch(/failed while \*?bootstrapping/);
    expect(visibleText(alert)).toMatch(/`?hello`? exited with code 1/);
    expect(visibleText(alert)).toMatch(/DORMOUSE_SANDBOX_FAULTS/);
    await double.waitFor(() => {
      const m = messageIn(double, 'C0GENERAL', 'broken-one');
      return m && /Failed while bootstrapping/.test(visibleText(m)) ? m : undefined;
    }, { what: 'the message to say it failed while bootstrapping' });
    const env = (await bot.useCases.queries.status('broken-one')).environment;
    expect(env.failure).toMatchObject({ step: 'bootstrap', code: 'COMMAND.FAILED' });
    double.assertNoProblems();
  });

  it('a restart keeps the environments', async () => {
    const first = await sandbox();
    await first.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new survivor --template demo' });
    await first.double.waitFor(() => {
      const m = messageIn(first.double, 'C0GENERAL', 'survivor');
      return m && m.replies.some((r) => r.text.includes('start-session')) ? m : undefined;
    }, { timeoutMs: 15_000, what: 'survivor ready' });
    await running.pop()!.stop();

    const second = await sandbox({}, first.dir);
    await second.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'list' });
    const reply = await second.double.waitFor(() => second.double.ephemerals('U0DEV').at(-1), { what: 'the list' });
    expect(visibleText(reply)).toMatch(/survivor[\s\S]*ready/);
  });
});
