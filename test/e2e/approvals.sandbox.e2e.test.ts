/**
 * Approvals in the sandbox as `npm start` runs it, with a policy file
 * (test/fixtures/policy/approvals.yml): a costly request waits for its team's
 * lead, who approves or rejects it from the approvers' channel; a request
 * that nobody answers expires; the requester may cancel; two approvers at
 * once give one decision; nobody approves their own request; a click on a
 * decided request is told what happened.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText, type SlackDouble, type SlackMessage } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { SandboxClock } from '../../src/adapters/sandbox/sandbox-clock.js';
import { loadConfig } from '../../src/config/config.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { startDormouse, type Dormouse } from '../../src/main.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const POLICY = join(repoRoot, 'test', 'fixtures', 'policy', 'approvals.yml');
const running: Dormouse[] = [];
afterEach(async () => {
  while (running.length) {
    const bot = running.pop()!;
    await bot.stop();
    bot.double?.assertNoProblems();
  }
});

async function sandbox(env: Record<string, string> = {}): Promise<{ bot: Dormouse; double: SlackDouble; clock: SandboxClock }> {
  const dir = mkdtempSync(join(tmpdir(), 'dormouse-approvals-'));
  const config = loadConfig(
    {
      PORT: '0',
      DORMOUSE_SANDBOX_DIR: dir,
      DORMOUSE_SANDBOX_DELAYS: 'fast',
      LOG_LEVEL: 'silent',
      DORMOUSE_POLICY: POLICY,
      DORMOUSE_TEAMS: 'platform=U0DEV,U0LEAD',
      DORMOUSE_SANDBOX_CLOCK: '2026-12-01T09:00:00Z',
      ...env,
    },
    repoRoot,
  );
  const bot = await startDormouse(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), scheduler: false });
  running.push(bot);
  return { bot, double: bot.double as SlackDouble, clock: bot.sandboxClock! };
}

async function until(bot: Dormouse, name: string, ok: (e: Environment) => boolean, what: string, timeoutMs = 20_000): Promise<Environment> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const env = await bot.useCases.queries.find(name);
    if (env && ok(env)) return env;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name}: ${what}; it is ${env?.state ?? 'absent'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const about = (double: SlackDouble, channel: string, name: string): SlackMessage[] => double.channelMessages(channel).filter((m) => visibleText(m).includes(name));

async function approversMessage(double: SlackDouble, name: string, re: RegExp = /Approve/): Promise<SlackMessage> {
  return double.waitFor(
    () => {
      const all = about(double, 'C0OPS', `Approval: ${name}`);
      return all.length && re.test(JSON.stringify(all.at(-1))) ? all.at(-1) : undefined;
    },
    { timeoutMs: 10_000, what: `the approvers' message about ${name} matching ${re}` },
  );
}

/** What only `user` was answered (ephemerals, and replies that replaced a message). */
async function answered(double: SlackDouble, user: string, re: RegExp): Promise<string> {
  return double.waitFor(() => double.ephemerals(user).map((m) => visibleText(m)).reverse().find((t) => re.test(t)), { timeoutMs: 10_000, what: `an answer to ${user} matching ${re}` });
}

const ask = (double: SlackDouble, user: string, name: string, flags = '--template demo --count 2 --type t3.small --purpose "load tests"') =>
  double.slashCommand({ user, channel: 'C0GENERAL', command: '/server', text: `new ${name} ${flags}` });

describe('approvals', () => {
  it('a costly request waits for its lead, who approves it from the approvers’ channel; it launches at once and reaches ready', async () => {
    const { bot, double } = await sandbox();
    await ask(double, 'U0DEV', 'costly');
    const waiting = await until(bot, 'costly', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    expect(waiting.approval).toMatchObject({ rules: [{ name: 'costly' }], approvers: { users: ['U0LEAD'], channel: 'C0OPS', team: 'platform' } });
    expect(waiting.servers).toEqual([]);

    // One message to the approvers, with everything needed to decide.
    const asked = visibleText(await approversMessage(double, 'costly'));
    expect(asked).toMatch(/<@U0DEV> asks for \*costly\*: 2 × t3\.small from `demo`/);
    expect(asked).toMatch(/Purpose: load tests/);
    expect(asked).toMatch(/\$0\.0416\/h awake · \$0\.31\d*\/day on its schedule · \*\$9\.36\/month\*/);
    expect(asked).toMatch(/costly\*: estimated \$9\.36 a month, over the \$5 limit/);
    expect(about(double, 'C0OPS', 'Approval: costly')).toHaveLength(1);
    // The requester's message says who can approve and why.
    const mine = visibleText((await double.waitFor(() => about(double, 'C0GENERAL', 'costly').find((m) => /Waiting for approval/.test(visibleText(m))), { timeoutMs: 10_000, what: 'the requester’s message waiting' }))!);
    expect(mine).toMatch(/Waiting for approval\* from <@U0LEAD> in <#C0OPS>, because:/);
    expect(mine).toMatch(/expires Wed 2 Dec 09:00 UTC/);

    await double.clickButton({ user: 'U0LEAD', label: 'Approve', channel: 'C0OPS' });
    await answered(double, 'U0LEAD', /You approved `costly`/);
    const ready = await until(bot, 'costly', (e) => e.state === 'ready', 'ready after approval');
    expect(ready.approval?.decision).toMatchObject({ outcome: 'approved', by: 'U0LEAD' });
    expect(ready.servers).toHaveLength(2);
    const decided = visibleText(await approversMessage(double, 'costly', /Approved/));
    expect(decided).toMatch(/Approved\* by <@U0LEAD>/);
    expect(JSON.stringify(about(double, 'C0OPS', 'Approval: costly').at(-1))).not.toMatch(/"text":"Approve"/);
    // The decision is in the environment's thread, where it was requested.
    await double.waitFor(() => about(double, 'C0GENERAL', 'costly').find((m) => m.replies.some((r) => /Approved\* by <@U0LEAD>/.test(r.text))), { timeoutMs: 10_000, what: 'the decision in the thread' });
    const history = (await bot.useCases.queries.status('costly', 20)).events.map((e) => `${e.type}:${e.actor ?? ''}`);
    expect(history).toEqual(expect.arrayContaining(['approval:asked:U0DEV', 'approval:approved:U0LEAD']));

    // A cheap request goes ahead without anyone.
    await ask(double, 'U0DEV', 'cheap', '--template demo');
    const cheap = await until(bot, 'cheap', (e) => e.state === 'ready', 'cheap ready without approval');
    expect(about(double, 'C0OPS', 'Approval: cheap')).toHaveLength(0);
    // Turning its schedule off afterwards is no way around the "always on" rule: its owner cannot, its lead can.
    await expect(bot.useCases.schedule!.set({ name: 'cheap' }, 'U0DEV', 'off')).rejects.toThrow(/needs approval \(.*always on: its schedule is off/);
    expect((await bot.useCases.queries.find('cheap'))?.version).toBe(cheap.version);
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'schedule cheap off' });
    await answered(double, 'U0DEV', /That schedule for `cheap` would need approval \(.*always on: .*\), so <@U0LEAD>, <@U0OPS> set it: ask them\. Nothing changed\./);
    expect((await bot.useCases.schedule!.set({ name: 'cheap' }, 'U0LEAD', 'off')).environment.schedule?.kind).toBe('off');
  }, 60_000);

  it('Reject asks for a reason: an empty one is refused under the field and changes nothing; then both messages say who rejected it and why', async () => {
    const { bot, double } = await sandbox();
    await ask(double, 'U0DEV', 'too-big');
    await approversMessage(double, 'too-big');
    await double.clickButton({ user: 'U0LEAD', label: 'Reject', channel: 'C0OPS' });
    await double.waitFor(() => double.openViews('U0LEAD').find((v) => v.callback_id === 'approval_reject'), { timeoutMs: 5_000, what: 'the reason form' });
    const before = await bot.useCases.queries.find('too-big');

    const empty = await double.submitView({ user: 'U0LEAD', values: { Reason: '   ' } });
    expect(empty.json).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringMatching(/Say why it is rejected/) } });
    expect((await bot.useCases.queries.find('too-big'))?.version).toBe(before?.version);
    expect((await bot.useCases.queries.find('too-big'))?.state).toBe('awaiting_approval');

    const done = await double.submitView({ user: 'U0LEAD', values: { Reason: 'Use one t3.micro: two t3.small are for load tests only.' } });
    expect(done.status).toBe(200);
    const rejected = await until(bot, 'too-big', (e) => e.state === 'rejected', 'rejected');
    expect(rejected.approval?.decision).toMatchObject({ outcome: 'rejected', by: 'U0LEAD', reason: 'Use one t3.micro: two t3.small are for load tests only.' });
    expect(visibleText(await approversMessage(double, 'too-big', /Rejected/))).toMatch(/Rejected\* by <@U0LEAD>, .*: Use one t3\.micro/);
    await double.waitFor(() => about(double, 'C0GENERAL', 'too-big').find((m) => /Rejected\* by <@U0LEAD>/.test(visibleText(m))), { timeoutMs: 10_000, what: 'the requester’s message rejected' });

    // A click on the decided request (an Approve left on a Home tab, say) is told what happened, and changes nothing.
    await bot.useCases.approvals.approve({ name: 'too-big', id: rejected.id }, 'U0OPS').then(
      () => expect.unreachable('a decided request was approved'),
      (e: unknown) => expect(String((e as Error).message)).toMatch(/already rejected by U0LEAD/),
    );
    // The name is free again.
    await ask(double, 'U0DEV', 'too-big', '--template demo');
    await until(bot, 'too-big', (e) => e.state === 'ready' && e.id !== rejected.id, 'a new too-big, ready');
  }, 60_000);

  it('nobody approves their own request: lee’s goes to the default approvers, and lee’s own click is refused, saying who can', async () => {
    const { bot, double } = await sandbox();
    await ask(double, 'U0LEAD', 'leads-own');
    const waiting = await until(bot, 'leads-own', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    expect(waiting.approval?.approvers).toMatchObject({ users: ['U0OPS'], channel: 'C0OPS' });
    await approversMessage(double, 'leads-own');
    const version = waiting.version;
    await double.clickButton({ user: 'U0LEAD', label: 'Approve', channel: 'C0OPS' });
    expect(await answered(double, 'U0LEAD', /Nobody approves or rejects their own request/)).toMatch(/<@U0OPS> can decide on `leads-own`/);
    expect((await bot.useCases.queries.find('leads-own'))).toMatchObject({ state: 'awaiting_approval', version });
    // Nor does a developer who is not an approver.
    await ask(double, 'U0LEAD', 'leads-other');
    await until(bot, 'leads-other', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    await approversMessage(double, 'leads-other');
    await double.clickButton({ user: 'U0DEV', label: 'Reject', channel: 'C0OPS' });
    expect(await answered(double, 'U0DEV', /Only <@U0OPS> can reject `leads-other`/)).toBeTruthy();
    expect(double.openViews('U0DEV').find((v) => v.callback_id === 'approval_reject')).toBeUndefined();
  }, 60_000);

  it('a request nobody answers expires after expiresHours, as rejected; the requester and the approvers are told', async () => {
    const { bot, double, clock } = await sandbox();
    await ask(double, 'U0DEV', 'forgotten');
    await until(bot, 'forgotten', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    await approversMessage(double, 'forgotten');
    await bot.useCases.schedule!.tick();
    // 24 hours after it was asked (the sandbox clock runs on from 09:00).
    expect((await bot.useCases.queries.find('forgotten'))?.timers?.approvalExpiresAt).toMatch(/^2026-12-02T09:00:0/);
    clock.jumpTo(new Date('2026-12-02T08:59:00Z'));
    await bot.useCases.schedule!.tick();
    expect((await bot.useCases.queries.find('forgotten'))?.state).toBe('awaiting_approval');
    clock.jumpTo(new Date('2026-12-02T09:01:00Z'));
    await bot.useCases.schedule!.tick();
    const expired = await until(bot, 'forgotten', (e) => e.state === 'rejected', 'expired');
    expect(expired.approval?.decision).toMatchObject({ outcome: 'expired', by: 'schedule' });
    expect(visibleText(await approversMessage(double, 'forgotten', /Expired/))).toMatch(/Expired\*: nobody answered/);
    await double.waitFor(() => about(double, 'C0GENERAL', 'forgotten').find((m) => /Expired\*: nobody answered/.test(visibleText(m))), { timeoutMs: 10_000, what: 'the requester’s message expired' });
    // The approvers' message has no buttons left; an Approve from elsewhere (a Home tab published before) is told it expired.
    expect(JSON.stringify(about(double, 'C0OPS', 'Approval: forgotten').at(-1))).not.toMatch(/"text":"Approve"/);
    await expect(bot.useCases.approvals.approve({ name: 'forgotten' }, 'U0LEAD')).rejects.toThrow(/already expired/);
  }, 60_000);

  it('the requester cancels while it waits; the approvers’ message says so and a later click is told it was cancelled', async () => {
    const { bot, double } = await sandbox();
    await ask(double, 'U0DEV', 'changed-mind');
    await until(bot, 'changed-mind', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    await approversMessage(double, 'changed-mind');
    await double.clickButton({ user: 'U0DEV', label: 'Cancel request', channel: 'C0GENERAL' });
    const cancelled = await until(bot, 'changed-mind', (e) => e.state === 'rejected', 'cancelled');
    expect(cancelled.approval?.decision).toMatchObject({ outcome: 'cancelled', by: 'U0DEV' });
    expect(visibleText(await approversMessage(double, 'changed-mind', /Cancelled/))).toMatch(/Cancelled\* by <@U0DEV>/);
    await expect(bot.useCases.approvals.approve({ name: 'changed-mind' }, 'U0LEAD')).rejects.toThrow(/already cancelled by U0DEV/);
    // Someone else's request cannot be cancelled by a developer who is not its owner, lead or an admin.
    await ask(double, 'U0LEAD', 'not-yours');
    await until(bot, 'not-yours', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    await expect(bot.useCases.approvals.cancel({ name: 'not-yours' }, 'U0DEV')).rejects.toThrow(/Only the owner/);
  }, 60_000);

  it('two approvers click at once: one decision, one launch; the other is told who was first', async () => {
    const { bot, double } = await sandbox({ DORMOUSE_POLICY: POLICY });
    await ask(double, 'U0DEV', 'both-click');
    const waiting = await until(bot, 'both-click', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    await approversMessage(double, 'both-click');
    // lee approves for the team; omar is an admin (admins decide on any request).
    const results = await Promise.allSettled([bot.useCases.approvals.approve({ name: 'both-click', id: waiting.id }, 'U0LEAD'), bot.useCases.approvals.approve({ name: 'both-click', id: waiting.id }, 'U0OPS')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(String(lost[0]!.reason.message)).toMatch(/already approved by U0(LEAD|OPS)/);
    const ready = await until(bot, 'both-click', (e) => e.state === 'ready', 'ready');
    expect(ready.attempt).toBe(1);
    expect(ready.servers).toHaveLength(2);
    const events = (await bot.useCases.queries.status('both-click', 50)).events.filter((e) => e.type === 'approval:approved');
    expect(events).toHaveLength(1);
  }, 60_000);

  it('Slack answering 500 when the approvers are asked: the next tick asks them, once; a 429 is waited out, and asked once', async () => {
    const { bot, double } = await sandbox();
    // Every post fails for a while: the client's own retries (3) give up on the requester's message and on the approvers' one.
    double.failNext({ method: 'chat.postMessage', status: 500, times: 100 });
    await ask(double, 'U0DEV', 'slack-down');
    await until(bot, 'slack-down', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    const left = () => double.pendingFaults()[0]?.times ?? 0;
    await double.waitFor(() => (left() <= 92 ? true : undefined), { timeoutMs: 30_000, what: 'both posts tried four times' });
    await double.settled(500, 10_000);
    double.clearFaults();
    expect(about(double, 'C0OPS', 'Approval: slack-down')).toHaveLength(0);
    await bot.useCases.schedule!.tick();
    await approversMessage(double, 'slack-down');
    expect((await bot.useCases.queries.find('slack-down'))?.timers?.approvalAsked).toBe(true);
    await bot.useCases.schedule!.tick();
    await double.settled();
    expect(about(double, 'C0OPS', 'Approval: slack-down')).toHaveLength(1);

    double.failNext({ method: 'chat.postMessage', status: 429, times: 1, retryAfterSeconds: 1 });
    await ask(double, 'U0DEV', 'slack-busy');
    await approversMessage(double, 'slack-busy');
    await bot.useCases.schedule!.tick();
    await double.settled();
    expect(about(double, 'C0OPS', 'Approval: slack-busy')).toHaveLength(1);
    // Approving after all that (the newest Approve is slack-busy's): it launches, and its one message says so.
    await double.clickButton({ user: 'U0LEAD', label: 'Approve', channel: 'C0OPS' });
    await until(bot, 'slack-busy', (e) => e.state === 'ready', 'ready');
    expect(visibleText(await approversMessage(double, 'slack-busy', /Approved/))).toMatch(/Approved\* by <@U0LEAD>/);
    expect(about(double, 'C0OPS', 'Approval: slack-busy')).toHaveLength(1);
  }, 60_000);

  it('teams and approvers given as Slack user groups: the members are read from Slack, the group’s lead approves, the team’s quota counts its members', async () => {
    const { bot, double } = await sandbox({ DORMOUSE_POLICY: join(repoRoot, 'test', 'fixtures', 'policy', 'groups.yml'), DORMOUSE_TEAMS: 'platform=S0PLATFORM' });
    await ask(double, 'U0DEV', 'grouped');
    const waiting = await until(bot, 'grouped', (e) => e.state === 'awaiting_approval', 'awaiting approval');
    // S0LEADS has lee: he is asked (and mentioned as the group), and may approve.
    expect(waiting.approval?.approvers).toMatchObject({ users: ['U0LEAD'], userGroup: 'S0LEADS', team: 'platform' });
    expect(visibleText(await approversMessage(double, 'grouped'))).toMatch(/<@U0LEAD> \(<!subteam\^S0LEADS>\) in <#C0OPS>/);
    await double.clickButton({ user: 'U0LEAD', label: 'Approve', channel: 'C0OPS' });
    await until(bot, 'grouped', (e) => e.state === 'ready', 'ready');
    // The team is S0PLATFORM's members (dana and lee): lee's own request counts against the same quota of 3 (2 held by dana).
    await ask(double, 'U0LEAD', 'lees-two', '--template demo --count 2');
    const refused = await until(bot, 'lees-two', (e) => e.state === 'rejected', 'refused by the team quota');
    expect(refused.refusal?.params).toMatchObject({ scope: 'team', team: 'platform', usage: 2, limit: 3, requested: 2 });
    expect(await answered(double, 'U0LEAD', /`lees-two` was not created: your team `platform` holds 2 of 3 servers/)).toBeTruthy();
  }, 60_000);

  it('with approvalOverrides, a request past a quota waits for a lead instead of being refused; approved, it launches past the quota', async () => {
    const { bot, double } = await sandbox({ DORMOUSE_POLICY: join(repoRoot, 'test', 'fixtures', 'policy', 'override.yml') });
    await ask(double, 'U0DEV', 'first', '--template demo');
    await until(bot, 'first', (e) => e.state === 'ready', 'ready (within the quota)');
    await ask(double, 'U0DEV', 'second', '--template demo');
    const waiting = await until(bot, 'second', (e) => e.state === 'awaiting_approval', 'waiting (past the quota)');
    expect(waiting.approval?.rules).toEqual([{ name: 'over quota', reason: 'its owner would hold 2 servers, over their quota of 1 (1 now, 1 asked)' }]);
    await approversMessage(double, 'second');
    await double.clickButton({ user: 'U0LEAD', label: 'Approve', channel: 'C0OPS' });
    await until(bot, 'second', (e) => e.state === 'ready', 'ready past the quota');
    // Both held now: the book says so.
    expect((await bot.useCases.queries.quotasOf('U0DEV'))[0]).toMatchObject({ scope: 'person', usage: { servers: 2 }, limits: { servers: 1 } });
  }, 60_000);
});
