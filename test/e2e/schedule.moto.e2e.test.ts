/**
 * The schedule end to end on moto: the real bot (src/main.ts) with its
 * production wiring (signed HTTP from the Slack double, EC2, SSM, DynamoDB
 * and S3 on moto) and its real scheduler, ticking every second, on a
 * SandboxClock the test moves forward. An SSM agent double in front of moto
 * (test/support/ssm-agent-double.ts) runs the data scripts for real, so the
 * sleep on schedule really saves the data to moto's S3 and the wake on
 * schedule really restores it onto the new instances.
 *
 * Timeline (December: Paris UTC+1), from Tuesday 2026-12-01 16:00Z, dana (U0DEV, Europe/Paris):
 *   `weekdays 09:00-18:00 --wake-at 08:30`
 *   16:30Z  the reminder (sleep at 18:00 Paris)
 *   17:00Z  the sleep on schedule: data saved (generation 1), instances terminated
 *   Wed ~07:18Z  the wake starts, early enough to be ready by 08:30 Paris (07:30Z)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SandboxClock } from '../../src/adapters/sandbox/sandbox-clock.js';
import { visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { motoClientConfig } from '../support/aws.js';
import { startBot, type RunningBot } from '../support/bot.js';
import { startSsmAgentDouble, type SsmAgentDouble } from '../support/ssm-agent-double.js';
import { files } from '../support/trees.js';

const GENERAL = 'C0GENERAL';
const NAME = 'moto-sched';
/** Wednesday 08:30 in Paris: the wake must be ready by then. */
const WAKE_BY = Date.parse('2026-12-02T07:30:00Z');
let run: RunningBot;
let agents: SsmAgentDouble;
const clock = new SandboxClock({ start: new Date('2026-12-01T16:00:00Z') });
const ec2 = new EC2Client(motoClientConfig());

beforeAll(async () => {
  agents = await startSsmAgentDouble({ target: inject('motoUrl'), root: mkdtempSync(join(tmpdir(), 'dormouse-agents-')) });
  run = await startBot({
    cloud: 'aws',
    clock,
    scheduler: true,
    env: {
      AWS_ENDPOINT_URL: agents.url,
      DORMOUSE_DATA_BUCKET: `dormouse-data-${process.pid}-${Date.now().toString(36)}`,
      DORMOUSE_TEMPLATES: join(import.meta.dirname, '..', 'fixtures', 'templates', 'data.yml'),
      DORMOUSE_TICK_SECONDS: '1',
    },
  });
});
afterAll(async () => {
  await run?.stop();
  await agents?.close();
});

async function until(name: string, check: (e: Environment) => boolean, what: string, timeoutMs = 60_000): Promise<Environment> {
  const deadline = Date.now() + timeoutMs;
  let last: Environment | undefined;
  while (Date.now() < deadline) {
    last = await run.bot.useCases.queries.find(name);
    if (last && check(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name}: ${what} did not happen within ${timeoutMs} ms (state ${last?.state}, failure ${JSON.stringify(last?.failure)}, timers ${JSON.stringify(last?.timers)})`);
}

async function stateOf(instanceId: string): Promise<string | undefined> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function command(text: string) {
  const res = await run.double.slashCommand({ user: 'U0DEV', channel: GENERAL, command: '/server', text });
  expect(res.status).toBe(200);
}

/** The direct messages the bot sent a person, oldest first, as text. */
function dms(user: string): string[] {
  return run.double.channelMessages(run.double.dmChannel(user)).map((m) => visibleText(m));
}

async function dmMatching(user: string, re: RegExp): Promise<string> {
  return run.double.waitFor(() => dms(user).find((t) => re.test(t)), { timeoutMs: 15_000, what: `a direct message to ${user} matching ${re}` });
}

/** The environment's audit events of one type. */
async function eventsOf(name: string, type: string) {
  const { events } = await run.bot.useCases.queries.status(name, 200);
  return events.filter((e) => e.type === type);
}

describe('the schedule on moto', () => {
  it('reminder, sleep on schedule (data saved, instances terminated), wake on schedule ready before its time with the data back; nothing twice', async () => {
    await command(`new ${NAME} --template shared`);
    const ready = await until(NAME, (e) => e.state === 'ready', 'ready');
    const first = ready.servers.find((s) => s.index === 0)!;
    const root = agents.dataDir(first.instanceId);
    mkdirSync(join(root, 'db'), { recursive: true });
    writeFileSync(join(root, 'db', 'rows.bin'), randomBytes(1_500_000));
    writeFileSync(join(root, 'README'), 'where I left off\n');
    const before = files(root);

    // dana's zone (Europe/Paris, UTC+1 in December): sleep at 18:00 Paris = 17:00Z, reminded 30 minutes before.
    await command(`schedule ${NAME} weekdays 09:00-18:00 --wake-at 08:30`);
    const planned = await until(NAME, (e) => e.timers?.sleepAt === '2026-12-01T17:00:00.000Z', 'the schedule planned');
    expect(planned.timers).toMatchObject({ zone: 'Europe/Paris', remindAt: '2026-12-01T16:30:00.000Z' });
    expect(dms('U0DEV').filter((t) => /goes to sleep at/.test(t))).toHaveLength(0);

    // 16:30Z: the reminder.
    clock.jumpTo(new Date('2026-12-01T16:30:30Z'));
    const reminder = await dmMatching('U0DEV', /goes to sleep at/);
    expect(reminder).toMatch(/18:00 \(Europe\/Paris\)/);
    expect(reminder).toContain(NAME);

    // 17:00Z: the sleep on schedule. Saved once (shared data: server 1 only), then every instance terminated.
    clock.jumpTo(new Date('2026-12-01T17:00:30Z'));
    const asleep = await until(NAME, (e) => e.state === 'asleep' && e.timers?.wakeStartAt !== undefined, 'asleep on schedule, its wake planned');
    expect(asleep.sleptBy).toBe('schedule');
    expect(asleep.data?.latest).toMatchObject({ number: 1, reason: 'sleep', shared: true, serverCount: 3 });
    for (const s of ready.servers) expect(await stateOf(s.instanceId)).toBe('terminated');
    expect(agents.runs.filter((r) => r.script.includes('dormouse-save v1')).map((r) => r.instanceId)).toEqual([first.instanceId]);
    expect(asleep.timers?.wakeAt).toBe('2026-12-02T07:30:00.000Z');

    // Wednesday: the wake starts early enough to be ready by 08:30 Paris (07:30Z).
    const wakeStart = Date.parse(asleep.timers!.wakeStartAt!);
    expect(wakeStart).toBeLessThan(WAKE_BY);
    expect(wakeStart).toBeGreaterThan(Date.parse('2026-12-02T07:00:00Z'));
    clock.jumpTo(new Date(wakeStart + 30_000));
    const awake = await until(NAME, (e) => e.state === 'ready' && e.attempt > ready.attempt, 'awake on schedule', 120_000);
    expect(awake.wokenBy).toBe('schedule');
    expect(Date.parse(awake.stateChangedAt)).toBeLessThan(WAKE_BY);
    expect(clock.now().getTime()).toBeLessThan(WAKE_BY);
    expect(awake.servers).toHaveLength(3);
    for (const s of awake.servers) {
      expect(ready.servers.map((x) => x.instanceId)).not.toContain(s.instanceId);
      expect(await stateOf(s.instanceId)).toBe('running');
      expect(files(agents.dataDir(s.instanceId))).toEqual(before);
    }
    expect(awake.progress.filter((p) => p.key.startsWith('restore:'))).toHaveLength(3);
    // Planned again: tonight's sleep (18:00 Paris, Wednesday).
    const replanned = await until(NAME, (e) => e.timers?.sleepAt === '2026-12-02T17:00:00.000Z', 'the next sleep planned');
    expect(replanned.timers?.wakeMs).toHaveLength(1);

    // Nothing twice: a few more ticks (real seconds), then one reminder, one generation, one sleep, one wake.
    await new Promise((r) => setTimeout(r, 3_000));
    const last = (await run.bot.useCases.queries.find(NAME))!;
    expect(last.state).toBe('ready');
    expect(last.attempt).toBe(awake.attempt);
    expect(last.servers.map((s) => s.instanceId).sort()).toEqual(awake.servers.map((s) => s.instanceId).sort());
    expect(last.data?.lastGeneration).toBe(1);
    expect(dms('U0DEV').filter((t) => /goes to sleep at/.test(t))).toHaveLength(1);
    expect(dms('U0DEV')).toHaveLength(1);
    expect(await eventsOf(NAME, 'schedule:reminded')).toHaveLength(1);
    expect(await eventsOf(NAME, 'schedule:sleep')).toHaveLength(1);
    expect(await eventsOf(NAME, 'schedule:wake')).toHaveLength(1);
    expect(agents.runs.filter((r) => r.script.includes('dormouse-save v1'))).toHaveLength(1);
    expect(agents.runs.filter((r) => r.script.includes('dormouse-restore v1'))).toHaveLength(3);
  }, 240_000);
});
