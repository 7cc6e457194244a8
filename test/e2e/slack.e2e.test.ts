/**
 * End to end: the real bot (src/main.ts) receives signed HTTP requests from
 * the Slack double, its Web API calls go to that double, and its cloud is
 * moto_server. Assertions are on what people see and on what exists in moto.
 */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { motoClientConfig } from '../support/aws.js';
import { startBot, SIGNING_SECRET, type RunningBot } from '../support/bot.js';
import { signedHeaders } from '../../src/adapters/sandbox/slack-console/slack-signature.js';

const DEV = 'U0DEV';
const LEAD = 'U0LEAD';
const GENERAL = 'C0GENERAL';
let run: RunningBot;
const ec2 = new EC2Client(motoClientConfig());

beforeAll(async () => {
  run = await startBot({ cloud: 'aws' });
});
afterAll(async () => {
  await run?.stop();
});

async function instancesOf(env: string, states = ['pending', 'running']) {
  const out = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'tag:dormouse:environment', Values: [env] }, { Name: 'instance-state-name', Values: states }] }),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

/** The environment's one message in the channel. */
function messageOf(name: string) {
  return run.double.channelMessages(GENERAL).find((m) => m.blocks.some((b) => JSON.stringify(b).includes(`"text":"${name}"`)));
}

function lastEphemeral(user: string) {
  const list = run.double.ephemerals(user);
  return list.length ? visibleText(list[list.length - 1]!) : '';
}

async function command(user: string, text: string) {
  const before = run.double.ephemerals(user).length;
  const res = await run.double.slashCommand({ user, channel: GENERAL, command: '/server', text });
  expect(res.status).toBe(200);
  expect(res.ackMs).toBeLessThan(3000);
  return { res, reply: () => run.double.waitFor(() => (run.double.ephemerals(user).length > before ? lastEphemeral(user) : undefined), { what: `an answer to /server ${text.slice(0, 40)}` }) };
}

describe('Slack end to end against moto', () => {
  it('no Web API call comes before an ack: help is answered without Slack or the store being asked anything first', async () => {
    const before = run.double.calls.length;
    for (let i = 0; i < 3; i++) {
      const { res, reply } = await command(DEV, 'help');
      expect(res.ackMs).toBeLessThan(1000);
      expect(await reply()).toMatch(/Usage/);
    }
    // Only the answers went out: no auth.test (Bolt's authorization) or anything else. (api.test is the
    // health probe's connectivity check, every 30 s in the background: no request waits for it.)
    expect(run.double.calls.slice(before).map((c) => c.method).filter((m) => m !== 'response_url' && m !== 'api.test')).toEqual([]);
  });

  it('healthz answers', async () => {
    const res = await fetch(run.bot.eventsUrl.replace('/slack/events', '/healthz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', slack: 'http', cloud: 'aws' });
  });

  it('/server new api-staging: form → ready, tagged instances, record in DynamoDB; then destroy', async () => {
    await command(DEV, 'new api-staging');
    const modal = await run.double.waitFor(() => run.double.openViews(DEV)[0], { what: 'the form' });
    expect(modal.callback_id).toBe('server_new');

    const submitted = await run.double.submitView({ user: DEV, values: { Template: 'api', 'Number of servers': '2', Purpose: 'staging for the "v2" API; $(not a command) ✨' } });
    expect(submitted.status).toBe(200);
    expect(submitted.ackMs).toBeLessThan(3000);
    // Acknowledged before any I/O: the form says it is recording, then what happened.
    expect(submitted.json).toMatchObject({ response_action: 'update' });
    await run.double.waitFor(() => visibleText(run.double.openViews(DEV)[0]!).includes('is on its way') || undefined, { what: 'the form saying it is on its way' });
    await run.double.closeView(DEV);

    const ready = await run.double.waitFor(() => {
      const m = messageOf('api-staging');
      return m && visibleText(m).includes('ready') && m.replies.some((r) => r.text.includes('start-session')) ? m : undefined;
    }, { timeoutMs: 20_000, what: 'the ready message and how to connect in its thread' });
    const text = visibleText(ready);
    const connect = ready.replies.map((r) => r.text).join('\n');
    const instances = await instancesOf('api-staging');
    expect(instances).toHaveLength(2);
    for (const i of instances) {
      // One line a server in the message; the connect commands in the thread.
      expect(text).toContain(i.InstanceId);
      expect(connect).toContain(`aws ssm start-session --target ${i.InstanceId}`);
      expect(text).toContain(i.PrivateIpAddress);
      const tags = Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({ 'managed-by': 'dormouse', 'dormouse:environment': 'api-staging', 'dormouse:owner': DEV });
    }
    expect(ready.edited).toBeGreaterThan(2); // one message, updated in place
    const thread = await run.double.waitFor(() => {
      const t = messageOf('api-staging')!.replies.map((r) => r.text).join('\n');
      return t.includes('is ready') ? t : undefined;
    }, { what: 'the ready note in the thread' });
    // The thread tells each step once, in the order they ended (servers bootstrap in parallel).
    const lines = thread.split('\n');
    for (const step of ['Launching 2 instances', 'Waiting for the instances to run', 'Waiting for the SSM agent', 'Bootstrap server 1', 'Bootstrap server 2', 'is ready']) {
      expect(lines.filter((l) => l.includes(step)), step).toHaveLength(1);
    }
    expect(lines[0]).toMatch(/Launching 2 instances/);
    expect(messageOf('api-staging')!.replies.at(-1)!.text).toMatch(/is ready\. To connect/);
    expect(text).toContain('staging for the "v2" API; $(not a command) ✨');

    const record = await run.bot.useCases.queries.status('api-staging');
    expect(record.environment).toMatchObject({ state: 'ready', owner: DEV, count: 2, template: 'api' });

    // list, list all, status, templates
    expect(await (await command(DEV, 'list')).reply()).toContain('api-staging');
    expect(await (await command(LEAD, 'list')).reply()).toMatch(/You have no environments/);
    expect(await (await command(LEAD, 'list all')).reply()).toMatch(/api-staging[\s\S]*dana|api-staging[\s\S]*U0DEV/);
    expect(await (await command(LEAD, 'status api-staging')).reply()).toMatch(/Recent events/);
    expect(await (await command(LEAD, 'templates')).reply()).toMatch(/api[\s\S]*worker[\s\S]*demo/);

    // Someone else may not destroy it.
    expect(await (await command(LEAD, 'destroy api-staging')).reply()).toMatch(/Only <@U0DEV> \(the owner\) or an admin \(<@U0OPS>\) can destroy `api-staging`/);
    expect(await instancesOf('api-staging')).toHaveLength(2);

    // The owner confirms with the button.
    expect(await (await command(DEV, 'destroy api-staging')).reply()).toMatch(/Destroy `?api-staging`?\?/);
    const click = await run.double.clickButton({ user: DEV, label: 'Destroy api-staging' });
    expect(click.ackMs).toBeLessThan(3000);
    await run.double.waitFor(() => (visibleText(messageOf('api-staging')!).includes('destroyed') ? true : undefined), { timeoutMs: 20_000, what: 'destroyed' });
    expect(await instancesOf('api-staging')).toHaveLength(0);
    expect((await run.bot.useCases.queries.status('api-staging')).environment.state).toBe('destroyed');

    // The name is free again: the new environment gets a message of its own.
    await command(LEAD, 'new api-staging --template worker');
    await run.double.waitFor(
      () => run.double.channelMessages(GENERAL).filter((m) => m.blocks.some((b) => JSON.stringify(b).includes('"text":"api-staging"'))).length === 2 || undefined,
      { what: 'a second api-staging message' },
    );
    const both = () => run.double.channelMessages(GENERAL).filter((m) => m.blocks.some((b) => JSON.stringify(b).includes('"text":"api-staging"')));
    await run.double.waitFor(() => (both()[1]!.replies.some((r) => r.text.includes('start-session')) ? true : undefined), { timeoutMs: 20_000, what: 'the new one ready' });
    expect(visibleText(both()[0]!)).toContain('destroyed');
    expect((await run.bot.useCases.queries.status('api-staging')).events.map((e) => e.type)).not.toContain('state:destroyed');
    run.double.assertNoProblems();
  });

  it('the command with every option skips the form', async () => {
    await command(DEV, 'new quick-one --template worker');
    expect(run.double.openViews(DEV)).toHaveLength(0);
    await run.double.waitFor(() => (messageOf('quick-one') && visibleText(messageOf('quick-one')!).includes('ready') ? true : undefined), { timeoutMs: 20_000, what: 'quick-one ready' });
    expect(await instancesOf('quick-one')).toHaveLength(1);
  });

  describe('bad input gets a clear answer and changes nothing', () => {
    it.each([
      ['new Api-Staging', /must start with a lowercase letter/],
      ['new ab', /too short/],
      ['new api;reboot', /only lowercase letters, digits and dashes/],
      ['new "api staging"', /only lowercase letters/],
      [`new "api's"`, /only lowercase letters/],
      ['new $(reboot)', /start with a lowercase letter/],
      ['new ünïcødé', /lowercase letter/],
      ['new $(touch /tmp/pwned)', /one name without spaces/],
      [`new ${'j'.repeat(10_240)}`, /at most 2000/],
      ['new good-name --template nope', /no template called `nope`. Pick one of: `api`, `worker`, `demo`/],
      ['new good-name --template api --count 9', /1 to 3 servers; you asked for 9/],
      ['new good-name --template worker --count 2', /exactly 1 server/],
      ['new good-name --template api --count two', /whole number/],
      ['new good-name --template api --count 1000', /1 to 3 servers; you asked for 1000/],
      // Options without a template are checked against every template, not dropped by the form.
      ['new good-name --count 999', /No template has 999 servers: they have 1 to \d+/],
      ['new good-name --type x9.huge', /No template offers `x9.huge`/],
      ['new good-name --template api --type x1e.32xlarge', /`t3.small`/],
      [`new good-name --template api --purpose "${'p'.repeat(400)}"`, /keep it under 300/],
      ['frobnicate', /`frobnicate` is not a `\/server` command[\s\S]*Usage/],
      ['constructor', /`constructor` is not a `\/server` command/],
      ['__proto__', /`__proto__` is not a `\/server` command/],
      ['destroy', /Say which environment/],
      ['status nothing-here', /There is no environment called `nothing-here`/],
    ])('%s', async (text, answer) => {
      const viewsBefore = run.double.calls.filter((c) => c.method === 'views.open').length;
      const envsBefore = (await run.bot.useCases.queries.all()).map((e) => `${e.name}@${e.version}`).sort();
      const launchesBefore = (await ec2.send(new DescribeInstancesCommand({}))).Reservations?.length ?? 0;
      const { reply } = await command(DEV, text);
      expect(await reply()).toMatch(answer);
      // Nothing changed: no form, no environment written, no instance launched.
      expect(run.double.calls.filter((c) => c.method === 'views.open').length).toBe(viewsBefore);
      expect((await run.bot.useCases.queries.all()).map((e) => `${e.name}@${e.version}`).sort()).toEqual(envsBefore);
      expect((await ec2.send(new DescribeInstancesCommand({}))).Reservations?.length ?? 0).toBe(launchesBefore);
    });

    it('a taken name says whose it is, in the command and in the form', async () => {
      await command(LEAD, 'new taken-name --template worker');
      await run.double.waitFor(() => messageOf('taken-name'), { what: 'taken-name message' });
      expect(await (await command(DEV, 'new taken-name --template worker')).reply()).toMatch(/already taken by .*(lee|U0LEAD)/);

      await command(DEV, 'new');
      await run.double.waitFor(() => run.double.openViews(DEV)[0], { what: 'the form' });
      const res = await run.double.submitView({ user: DEV, values: { Name: 'taken-name', Template: 'worker' } });
      expect(res.json).toMatchObject({ response_action: 'update' });
      // The store is asked after the ack: the form comes back with the problem under the name, naming the holder.
      const back = await run.double.waitFor(() => {
        const v = run.double.openViews(DEV)[0];
        return v && v.callback_id === 'server_new' && JSON.stringify(v.blocks).includes('already taken by') ? v : undefined;
      }, { what: 'the form back with the problem' });
      expect(JSON.stringify(back.blocks)).toContain('<@U0LEAD>');
      const bad = await run.double.submitView({ user: DEV, values: { Name: 'Bad Name!', Template: 'worker' } });
      expect(bad.json).toMatchObject({ response_action: 'errors', errors: { name: expect.stringMatching(/lowercase/) } });
      expect(run.double.openViews(DEV)).toHaveLength(1);
      await run.double.closeView(DEV);
      const mine = await run.bot.useCases.queries.mine(DEV);
      expect(mine.map((e) => e.name)).not.toContain('taken-name');
    });
  });

  describe('requests from Slack, and only Slack', () => {
    const body = (text: string) =>
      new URLSearchParams({ command: '/server', text, user_id: DEV, user_name: 'dana', channel_id: GENERAL, team_id: 'T0DORMOUSE', trigger_id: `t-${Date.now()}`, response_url: `${run.double.apiUrl.replace('/api/', '')}/response/none` }).toString();

    it('refuses a forged signature', async () => {
      const raw = body('new forged-one --template worker');
      const headers = signedHeaders('not-the-secret', raw);
      const res = await run.double.sendSigned(raw, 'application/x-www-form-urlencoded', headers);
      expect(res.status).toBe(401);
      expect(await run.bot.useCases.queries.mine(DEV).then((l) => l.map((e) => e.name))).not.toContain('forged-one');
    });

    it('refuses a timestamp more than five minutes old', async () => {
      const raw = body('new stale-one --template worker');
      const headers = signedHeaders(SIGNING_SECRET, raw, Date.now() - 6 * 60 * 1000);
      const res = await run.double.sendSigned(raw, 'application/x-www-form-urlencoded', headers);
      expect(res.status).toBe(401);
      expect(await run.bot.useCases.queries.mine(DEV).then((l) => l.map((e) => e.name))).not.toContain('stale-one');
    });

    it('a retried delivery creates one environment', async () => {
      const { res } = await command(DEV, 'new retried-one --template worker');
      const again = await run.double.redeliver(res, 1, 'http_timeout');
      expect(again.status).toBe(200);
      const third = await run.double.redeliver(res, 2, 'http_timeout');
      expect(third.status).toBe(200);
      await run.double.waitFor(() => (messageOf('retried-one') && visibleText(messageOf('retried-one')!).includes('ready') ? true : undefined), { timeoutMs: 20_000, what: 'retried-one ready' });
      expect(await instancesOf('retried-one')).toHaveLength(1);
      expect(run.double.channelMessages(GENERAL).filter((m) => visibleText(m).includes('retried-one')).length).toBe(1);
    });

    it('an Events API redelivery is dropped after its claim: the Home tab is published once', async () => {
      const publishes = () => run.double.calls.filter((c) => c.method === 'views.publish' && c.args.user_id === LEAD).length;
      const before = publishes();
      const first = await run.double.openHome(LEAD);
      expect(first.status).toBe(200);
      await run.double.waitFor(() => publishes() > before || undefined, { what: 'the Home tab' });
      // Slack thinks the answer was late and sends the same event again, twice.
      expect((await run.double.redeliver(first, 1, 'http_timeout')).status).toBe(200);
      expect((await run.double.redeliver(first, 2, 'http_timeout')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(publishes()).toBe(before + 1);
      expect(JSON.stringify(run.double.home(LEAD)?.blocks)).toMatch(/Your environments/);
      // A new opening of the tab (a new event id) is handled again.
      await run.double.openHome(LEAD);
      await run.double.waitFor(() => publishes() === before + 2 || undefined, { what: 'the Home tab again' });
    });

    it('a double-submitted form creates one environment', async () => {
      await command(DEV, 'new double-one');
      await run.double.waitFor(() => run.double.openViews(DEV)[0], { what: 'the form' });
      const first = await run.double.submitView({ user: DEV, values: { Template: 'worker' } });
      expect(first.clientErrors).toBeUndefined();
      expect(first.status).toBe(200);
      // The same form submitted again: the same view, a different delivery (so not a Slack retry).
      const payload = JSON.parse(new URLSearchParams(first.rawBody).get('payload')!);
      payload.trigger_id = `${payload.trigger_id}-again`;
      const second = await run.double.sendSigned(`payload=${encodeURIComponent(JSON.stringify(payload))}`, first.contentType);
      expect(second.status).toBe(200);
      await run.double.waitFor(() => (messageOf('double-one') && visibleText(messageOf('double-one')!).includes('ready') ? true : undefined), { timeoutMs: 20_000, what: 'double-one ready' });
      expect(await instancesOf('double-one')).toHaveLength(1);
    });
  });
});
