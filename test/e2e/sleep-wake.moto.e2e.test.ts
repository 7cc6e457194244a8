/**
 * Sleep and wake end to end on moto: the real bot (src/main.ts) with its
 * production wiring (signed HTTP from the Slack double, EC2, SSM, DynamoDB
 * and S3 on moto). moto runs no command, so an SSM agent double in front of
 * it (test/support/ssm-agent-double.ts) runs the data scripts the bot sends,
 * for real, in a folder per instance: the test writes files there, sleeps,
 * wakes, and finds them on the new instances. Also `sleep: stop`: moto's
 * instances stopped, then started.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Environment } from '../../src/core/environment/environment.js';
import { motoClientConfig } from '../support/aws.js';
import { startBot, type RunningBot } from '../support/bot.js';
import { startSsmAgentDouble, type SsmAgentDouble } from '../support/ssm-agent-double.js';
import { files } from '../support/trees.js';

const GENERAL = 'C0GENERAL';
let run: RunningBot;
let agents: SsmAgentDouble;
const ec2 = new EC2Client(motoClientConfig());

beforeAll(async () => {
  agents = await startSsmAgentDouble({ target: inject('motoUrl'), root: mkdtempSync(join(tmpdir(), 'dormouse-agents-')) });
  run = await startBot({
    cloud: 'aws',
    env: {
      AWS_ENDPOINT_URL: agents.url,
      DORMOUSE_DATA_BUCKET: `dormouse-data-${process.pid}-${Date.now().toString(36)}`,
      DORMOUSE_TEMPLATES: join(import.meta.dirname, '..', 'fixtures', 'templates', 'data.yml'),
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
  throw new Error(`${name}: ${what} did not happen within ${timeoutMs} ms (state ${last?.state}, failure ${JSON.stringify(last?.failure)})`);
}

async function stateOf(instanceId: string): Promise<string | undefined> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function command(text: string) {
  const res = await run.double.slashCommand({ user: 'U0DEV', channel: GENERAL, command: '/server', text });
  expect(res.status).toBe(200);
}

describe('sleep and wake on moto', () => {
  it('new (3 servers, shared data) → data on server 1 → sleep → instances terminated → wake → the data on every new instance', async () => {
    await command('new moto-nap --template shared');
    const ready = await until('moto-nap', (e) => e.state === 'ready', 'ready');
    const first = ready.servers.find((s) => s.index === 0)!;
    const root = agents.dataDir(first.instanceId);
    mkdirSync(join(root, 'db'), { recursive: true });
    writeFileSync(join(root, 'db', 'rows.bin'), randomBytes(1_500_000));
    writeFileSync(join(root, 'README'), 'where I left off\n');
    const before = files(root);

    await command('sleep moto-nap');
    const asleep = await until('moto-nap', (e) => e.state === 'asleep', 'asleep');
    expect(asleep.data?.latest).toMatchObject({ number: 1, shared: true, serverCount: 3 });
    for (const s of ready.servers) expect(await stateOf(s.instanceId)).toBe('terminated');
    // The save ran once, on server 1 only (shared data), through SSM.
    expect(agents.runs.filter((r) => r.script.includes('dormouse-save v1')).map((r) => r.instanceId)).toEqual([first.instanceId]);

    await command('wake moto-nap');
    const awake = await until('moto-nap', (e) => e.state === 'ready' && e.attempt > ready.attempt, 'awake');
    expect(awake.servers).toHaveLength(3);
    for (const s of awake.servers) {
      expect(ready.servers.map((x) => x.instanceId)).not.toContain(s.instanceId);
      expect(await stateOf(s.instanceId)).toBe('running');
      expect(files(agents.dataDir(s.instanceId))).toEqual(before);
    }
    expect(awake.progress.filter((p) => p.key.startsWith('restore:'))).toHaveLength(3);
  }, 120_000);

  it('`sleep: stop` on moto: the instance is stopped, then started again', async () => {
    await command('new moto-halt --template stopped');
    const ready = await until('moto-halt', (e) => e.state === 'ready', 'ready');
    const id = ready.servers[0]!.instanceId;
    await command('sleep moto-halt');
    await until('moto-halt', (e) => e.state === 'asleep', 'asleep');
    expect(await stateOf(id)).toBe('stopped');
    await command('wake moto-halt');
    const awake = await until('moto-halt', (e) => e.state === 'ready' && e.version > ready.version, 'awake');
    expect(awake.servers.map((s) => s.instanceId)).toEqual([id]);
    expect(await stateOf(id)).toBe('running');
  }, 120_000);

  it('save, data, wake --generation, sleep, Save data and destroy, restore: each on moto', async () => {
    await command('new moto-story --template some');
    const ready = await until('moto-story', (e) => e.state === 'ready', 'ready');
    const root = agents.dataDir(ready.servers[0]!.instanceId);
    mkdirSync(join(root, 'db'), { recursive: true });
    mkdirSync(join(root, 'user files'), { recursive: true });
    writeFileSync(join(root, 'db', 'rows'), 'version 1');
    writeFileSync(join(root, 'user files', 'photo.bin'), randomBytes(200_000));
    await command('save moto-story');
    await until('moto-story', (e) => e.state === 'ready' && e.data?.latest?.number === 1, 'generation 1 saved');
    writeFileSync(join(root, 'db', 'rows'), 'version 2');

    // (Commands, not the message's buttons: the channel holds the earlier tests' environments, with buttons
    // of the same labels. The buttons are driven in the sandbox test.) Then /server data lists both generations.
    await command('sleep moto-story');
    const asleep = await until('moto-story', (e) => e.state === 'asleep', 'asleep');
    expect(asleep.data?.latest?.number).toBe(2);
    expect(await stateOf(ready.servers[0]!.instanceId)).toBe('terminated');
    const before = run.double.ephemerals('U0DEV').length;
    await command('data moto-story');
    const listing = await run.double.waitFor(() => run.double.ephemerals('U0DEV').slice(before).find((m) => m.text.includes('newest first')), { what: 'the data listing' });
    expect(listing.text).toMatch(/\*2\*[^\n]*from a sleep · \*a wake uses this one\*/);
    expect(listing.text).toMatch(/\*1\*[^\n]*from a manual save/);

    // Wake from the older generation.
    await command('wake moto-story --generation 1');
    const awake = await until('moto-story', (e) => e.state === 'ready' && e.attempt > ready.attempt, 'awake');
    const back = agents.dataDir(awake.servers[0]!.instanceId);
    expect(readFileSync(join(back, 'db', 'rows'), 'utf8')).toBe('version 1');

    // Destroy asks; Save data and destroy keeps a generation; restore brings it back.
    await command('destroy moto-story');
    await clickWhenShown('Save data and destroy');
    const destroyed = await until('moto-story', (e) => e.state === 'destroyed', 'destroyed');
    expect(destroyed.data?.latest).toMatchObject({ number: 3, reason: 'destroy' });
    expect(await stateOf(awake.servers[0]!.instanceId)).toBe('terminated');
    await command('restore moto-story');
    const restored = await until('moto-story', (e) => e.state === 'ready' && e.id !== destroyed.id, 'restored');
    expect(readFileSync(join(agents.dataDir(restored.servers[0]!.instanceId), 'db', 'rows'), 'utf8')).toBe('version 1');
    expect(files(join(agents.dataDir(restored.servers[0]!.instanceId), 'user files'))).toEqual(files(join(back, 'user files')));
  }, 180_000);
});

/** Messages are updated a moment after the store: click once the button is there. */
async function clickWhenShown(label: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await run.double.clickButton({ user: 'U0DEV', label, channel: GENERAL });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
