/**
 * Approvals and quotas on moto: the real bot (src/main.ts) with its
 * production wiring (signed HTTP from the Slack double; EC2, SSM and
 * DynamoDB on moto) and the policy of test/fixtures/policy/home.yml (a
 * request over $5 a month waits for lee, U0LEAD; each person holds at most
 * 6 servers). A costly request waits with no instance launched, is approved
 * and reaches ready with its instances; another is rejected with a reason;
 * a request past the quota is refused and launches nothing.
 */
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { motoClientConfig } from '../support/aws.js';
import { startBot, type RunningBot } from '../support/bot.js';

const GENERAL = 'C0GENERAL';
let run: RunningBot;
const ec2 = new EC2Client(motoClientConfig());

beforeAll(async () => {
  run = await startBot({
    cloud: 'aws',
    env: { DORMOUSE_POLICY: join(import.meta.dirname, '..', 'fixtures', 'policy', 'home.yml'), DORMOUSE_TEAMS: 'platform=U0DEV,U0LEAD' },
  });
});
afterAll(async () => {
  await run?.stop();
});

async function instancesOf(env: string) {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:dormouse:environment', Values: [env] }, { Name: 'instance-state-name', Values: ['pending', 'running'] }] }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

async function until(name: string, ok: (e: Environment) => boolean, what: string, timeoutMs = 60_000): Promise<Environment> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const env = await run.bot.useCases.queries.find(name);
    if (env && ok(env)) return env;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name}: ${what}; it is ${env?.state ?? 'absent'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ask = (user: string, text: string) => run.double.slashCommand({ user, channel: GENERAL, command: '/server', text });
const approvalMessage = (name: string) =>
  run.double.waitFor(() => run.double.channelMessages('C0OPS').find((m) => visibleText(m).includes(`Approval: ${name}`)), { timeoutMs: 10_000, what: `the approvers' message about ${name}` });

describe('approvals and quotas on moto', () => {
  it('a costly request waits with nothing launched; approved, it reaches ready with its instances; another is rejected with a reason; one past the quota launches nothing', async () => {
    await ask('U0DEV', 'new moto-big --template api --count 3 --type t3.small --purpose "load tests"');
    const waiting = await until('moto-big', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    expect(waiting.approval?.estimate.monthlyUsd).toBe(14.04);
    expect(await instancesOf('moto-big')).toHaveLength(0);
    expect(visibleText(await approvalMessage('moto-big'))).toMatch(/estimated \$14\.04 a month, over the \$5 limit/);

    await run.double.clickButton({ user: 'U0LEAD', label: 'Approve', channel: 'C0OPS' });
    const ready = await until('moto-big', (e) => e.state === 'ready', 'ready after approval');
    expect(ready.approval?.decision).toMatchObject({ outcome: 'approved', by: 'U0LEAD' });
    expect(await instancesOf('moto-big')).toHaveLength(3);

    // A second costly request: lee rejects it, with a reason; nothing was ever launched for it.
    await ask('U0DEV', 'new moto-second --template api --count 3 --type t3.small');
    await until('moto-second', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    await run.double.waitFor(() => run.double.channelMessages('C0OPS').filter((m) => visibleText(m).includes('Approval: moto-second') && JSON.stringify(m).includes('"text":"Reject"')).at(-1), { timeoutMs: 10_000, what: 'the Reject button' });
    await run.double.clickButton({ user: 'U0LEAD', label: 'Reject', channel: 'C0OPS' });
    await run.double.waitFor(() => run.double.openViews('U0LEAD').find((v) => v.callback_id === 'approval_reject'), { timeoutMs: 5_000, what: 'the reason form' });
    await run.double.submitView({ user: 'U0LEAD', values: { Reason: 'One environment of three servers is enough for now.' } });
    const rejected = await until('moto-second', (e) => e.state === 'rejected', 'rejected');
    expect(rejected.approval?.decision).toMatchObject({ outcome: 'rejected', by: 'U0LEAD', reason: 'One environment of three servers is enough for now.' });
    expect(await instancesOf('moto-second')).toHaveLength(0);

    // dana holds 3 of her 6 servers: 3 more fit, a 7th does not.
    await ask('U0DEV', 'new moto-third --template api --count 3 --type t3.small');
    await until('moto-third', (e) => e.state === 'awaiting_approval', 'awaiting approval (within the quota)');
    const before = (await ec2.send(new DescribeInstancesCommand({}))).Reservations?.length ?? 0;
    await ask('U0DEV', 'new moto-over --template api --count 1 --type t3.small');
    const refused = await until('moto-over', (e) => e.state === 'rejected', 'refused');
    expect(refused.refusal).toMatchObject({ code: 'QUOTA.EXCEEDED', params: { scope: 'person', what: 'servers', usage: 6, limit: 6, requested: 1 } });
    const told = await run.double.waitFor(() => run.double.ephemerals('U0DEV').map((m) => visibleText(m)).find((t) => /moto-over` was not created/.test(t)), { timeoutMs: 10_000, what: 'the refusal' });
    expect(told).toMatch(/you hold 6 of 6 servers, and `moto-over` asks for 1\. .*<@U0OPS> can raise the quota\. Nothing was launched\./);
    expect((await ec2.send(new DescribeInstancesCommand({}))).Reservations?.length ?? 0).toBe(before);
  }, 120_000);
});
