/**
 * Drift on moto: the real bot (src/main.ts, production wiring) against EC2,
 * SSM, S3 and DynamoDB on moto, with the SSM agent double running the data
 * scripts for real in a folder per instance (test/support/ssm-agent-double.ts).
 * Each drift is made behind Dormouse's back through the AWS APIs themselves:
 * TerminateInstances, a RunInstances with copied tags, ModifyInstanceAttribute,
 * DeleteObject. The reconciler finds it in the listing filtered by the
 * `managed-by` tag; ops act from the alert.
 *
 * moto is shared by the whole run: other tests' instances are in the listing
 * too (they are orphans to this bot, whose table does not know them), so the
 * assertions name this test's own findings.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client, ModifyInstanceAttributeCommand, RunInstancesCommand, StopInstancesCommand, StartInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CopyObjectCommand, DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { visibleText, type SlackMessage } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { motoClientConfig } from '../support/aws.js';
import { startBot, type RunningBot } from '../support/bot.js';
import { startSsmAgentDouble, type SsmAgentDouble } from '../support/ssm-agent-double.js';
import { files } from '../support/trees.js';

const OPS = 'C0OPS';
const BUCKET = `dormouse-drift-${process.pid}-${Date.now().toString(36)}`;
let run: RunningBot;
let agents: SsmAgentDouble;
const ec2 = new EC2Client(motoClientConfig());
const s3 = new S3Client({ ...motoClientConfig(), forcePathStyle: true });

beforeAll(async () => {
  agents = await startSsmAgentDouble({ target: inject('motoUrl'), root: mkdtempSync(join(tmpdir(), 'dormouse-drift-agents-')) });
  run = await startBot({
    cloud: 'aws',
    env: {
      AWS_ENDPOINT_URL: agents.url,
      DORMOUSE_DATA_BUCKET: BUCKET,
      DORMOUSE_TEMPLATES: join(import.meta.dirname, '..', 'fixtures', 'templates', 'drift.yml'),
      DORMOUSE_RECONCILE_GRACE_SECONDS: '0',
    },
  });
});
afterAll(async () => {
  await run?.stop();
  await agents?.close();
});

const reconcile = () => run.bot.useCases.drift!.reconciler.run();

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

async function described(instanceId: string) {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0];
}

async function alertOf(key: string, check: (text: string) => boolean = () => true): Promise<SlackMessage> {
  return run.double.waitFor(
    () => {
      const all = run.double.channelMessages(OPS).filter((m) => visibleText(m).includes(key));
      if (all.length > 1) throw new Error(`${all.length} alerts about ${key}`);
      return all[0] && check(visibleText(all[0])) ? all[0] : undefined;
    },
    { timeoutMs: 10_000, what: `the alert about ${key}` },
  );
}

interface ButtonBlock {
  type: string;
  elements?: { action_id: string; text?: { text: string } }[];
}
async function press(alert: SlackMessage, label: string, user = 'U0OPS') {
  const button = (alert.blocks as unknown as ButtonBlock[]).find((b) => b.type === 'actions')?.elements?.find((e) => e.text?.text === label);
  if (!button) throw new Error(`the alert has no ${label} button`);
  return run.double.sendBlockAction({ user, location: { type: 'message', channel: alert.channel, ts: alert.ts }, blockId: 'drift_actions', actionId: button.action_id });
}

async function command(text: string) {
  const res = await run.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text });
  expect(res.status).toBe(200);
}

describe('drift on moto', () => {
  it('a server terminated behind its back is found, repaired from the alert on a new instance with its data restored, and resolved', async () => {
    await command('new moto-mend --template mended');
    const ready = await until('moto-mend', (e) => e.state === 'ready', 'ready');
    const [s0, s1] = ready.servers;
    for (const s of ready.servers) {
      mkdirSync(join(agents.dataDir(s.instanceId), 'db'), { recursive: true });
      writeFileSync(join(agents.dataDir(s.instanceId), 'db', 'rows'), `rows of server ${s.index}\n`);
    }
    await command('save moto-mend');
    await until('moto-mend', (e) => e.state === 'ready' && e.data?.latest?.number === 1, 'saved');
    const saved = files(agents.dataDir(s1!.instanceId));

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [s1!.instanceId] }));
    await reconcile();
    const key = `ghost:${ready.id}:1`;
    const alert = await alertOf(key);
    expect(visibleText(alert)).toContain('the cloud says it is terminated');
    await press(alert, 'Repair');
    const repaired = await until('moto-mend', (e) => e.state === 'ready' && e.repaired !== undefined, 'repaired');
    const n1 = repaired.servers.find((s) => s.index === 1)!;
    expect(n1.instanceId).not.toBe(s1!.instanceId);
    expect(repaired.servers.find((s) => s.index === 0)!.instanceId).toBe(s0!.instanceId);
    // A real EC2 launch, tagged as server 1's first replacement; its data is the saved generation.
    const launched = await described(n1.instanceId);
    expect(launched?.State?.Name).toBe('running');
    expect(Object.fromEntries((launched?.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({ 'managed-by': 'dormouse', 'dormouse:environment-id': ready.id, 'dormouse:index': '1', 'dormouse:replacement': '1.1' });
    expect(files(agents.dataDir(n1.instanceId))).toMatchObject(saved);
    expect((await described(s0!.instanceId))?.State?.Name).toBe('running');

    await reconcile();
    await alertOf(key, (t) => t.includes('RESOLVED'));
  }, 120_000);

  it('an orphan launched with copied tags is terminated from its alert', async () => {
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'managed-by', Value: 'dormouse' }, { Key: 'dormouse:environment-id', Value: '01JCOPIEDCOPIEDCOPIEDCOPIE' }, { Key: 'dormouse:environment', Value: 'copied' }] }],
      }),
    );
    const id = out.Instances![0]!.InstanceId!;
    await reconcile();
    const alert = await alertOf(`orphan:${id}`);
    expect(visibleText(alert)).toContain('no environment owns it');
    await press(alert, 'Terminate');
    await alertOf(`orphan:${id}`, (t) => t.includes('RESOLVED') && t.includes('terminated'));
    expect((await described(id))?.State?.Name).toMatch(/shutting-down|terminated/);
  });

  it('a server whose instance type was changed behind its back is configuration drift; Ignore silences it', async () => {
    await command('new moto-typed --template mended --count 1');
    const ready = await until('moto-typed', (e) => e.state === 'ready', 'ready');
    const id = ready.servers[0]!.instanceId;
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.large' } }));
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await reconcile();
    const alert = await alertOf(`config:${id}`);
    expect(visibleText(alert)).toContain('has instance type `t3.large`; its record says `t3.small`');
    await press(alert, 'Ignore for a day');
    await alertOf(`config:${id}`, (t) => t.includes('IGNORED'));
    // Then repaired after all: a server of the recorded type takes its place, and the finding resolves.
    expect(await run.bot.useCases.drift!.actions.act(`config:${id}`, 'repair', 'U0OPS')).toMatchObject({ action: 'repair' });
    const repaired = await until('moto-typed', (e) => e.state === 'ready' && e.repaired !== undefined, 'repaired');
    const now = repaired.servers[0]!.instanceId;
    expect(now).not.toBe(id);
    expect((await described(now))?.InstanceType).toBe('t3.small');
    expect((await described(id))?.State?.Name).toMatch(/shutting-down|terminated/);
    await reconcile();
    await alertOf(`config:${id}`, (t) => t.includes('RESOLVED'));
  }, 120_000);

  it("a part of an asleep environment's generation deleted from S3 is data drift, resolved once it is back", async () => {
    await command('new moto-napper --template mended --count 1');
    const ready = await until('moto-napper', (e) => e.state === 'ready', 'ready');
    mkdirSync(agents.dataDir(ready.servers[0]!.instanceId), { recursive: true });
    writeFileSync(join(agents.dataDir(ready.servers[0]!.instanceId), 'rows'), 'kept while asleep\n');
    await command('sleep moto-napper');
    const asleep = await until('moto-napper', (e) => e.state === 'asleep', 'asleep');
    const manifest = await run.bot.useCases.data!.queries.generations('moto-napper');
    // The part's object key, as its manifest records it (the data store's prefix included).
    const partKey = manifest.generations[0]!.parts[0]!.key;
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: `${partKey}.kept`, CopySource: `${BUCKET}/${partKey}` }));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: partKey }));
    await reconcile();
    const key = `data:${asleep.id}:1`;
    const alert = await alertOf(key);
    expect(visibleText(alert)).toContain('is missing from the data store');
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: partKey, CopySource: `${BUCKET}/${partKey}.kept` }));
    await reconcile();
    await alertOf(key, (t) => t.includes('RESOLVED') && t.includes('resolved by itself'));
  }, 120_000);
});
