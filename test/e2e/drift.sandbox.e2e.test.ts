/**
 * Drift in the sandbox, as `npm start` runs it: the console's Slack double,
 * the local cloud (servers are folders; their records JSON files), the
 * embedded store and the embedded S3 server. Each drift is made behind
 * Dormouse's back, the way it happens for real: a server terminated or an
 * instance launched with copied tags through the cloud itself, a record's
 * instance type changed, an object deleted from the data store. The
 * reconciler (the leader's job) finds it; the test reads what ops see in
 * C0OPS and presses the alert's buttons as they would.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText, type SlackDouble, type SlackMessage } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { LocalCloud } from '../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { loadConfig } from '../../src/config/config.js';
import { startDormouse, type Dormouse } from '../../src/main.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { files } from '../support/trees.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const TEMPLATES = join(repoRoot, 'test', 'fixtures', 'templates', 'drift.yml');
const OPS = 'C0OPS';
const running: Dormouse[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

async function sandbox(env: Record<string, string> = {}, options: { scheduler?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dormouse-drift-'));
  const config = loadConfig(
    { PORT: '0', DORMOUSE_SANDBOX_DIR: dir, DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'silent', DORMOUSE_TEMPLATES: TEMPLATES, DORMOUSE_RECONCILE_GRACE_SECONDS: '0', ...env },
    repoRoot,
  );
  const bot = await startDormouse(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), scheduler: options.scheduler ?? false });
  running.push(bot);
  // The same cloud, from outside the bot: what a person with console access does behind its back.
  const cloud = new LocalCloud({ rootDir: join(dir, 'cloud'), clock: systemClock, delays: { bootMs: 0, agentMs: 0 } });
  return { bot, double: bot.double as SlackDouble, dir, cloud, reconcile: () => bot.useCases.drift!.reconciler.run() };
}

async function until(bot: Dormouse, name: string, check: (e: Environment) => boolean, what: string, timeoutMs = 30_000): Promise<Environment> {
  const deadline = Date.now() + timeoutMs;
  let last: Environment | undefined;
  while (Date.now() < deadline) {
    last = await bot.useCases.queries.find(name);
    if (last && check(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name}: ${what} did not happen within ${timeoutMs} ms (state ${last?.state}, failure ${JSON.stringify(last?.failure)})`);
}

const alertsAbout = (double: SlackDouble, key: string): SlackMessage[] => double.channelMessages(OPS).filter((m) => visibleText(m).includes(key));

/** The one alert about `key` (there must be exactly one), once `check` holds for it. */
async function alertOf(double: SlackDouble, key: string, check: (text: string) => boolean = () => true): Promise<SlackMessage> {
  return double.waitFor(
    () => {
      const all = alertsAbout(double, key);
      if (all.length > 1) throw new Error(`${all.length} alerts about ${key}: ${all.map(visibleText).join(' | ')}`);
      return all[0] && check(visibleText(all[0])) ? all[0] : undefined;
    },
    { timeoutMs: 10_000, what: `the alert about ${key}` },
  );
}

interface ButtonBlock {
  type: string;
  block_id?: string;
  elements?: { type: string; action_id: string; text?: { text: string } }[];
}
const actionsOf = (m: SlackMessage) => (m.blocks as unknown as ButtonBlock[]).find((b) => b.type === 'actions');
const buttonsOf = (m: SlackMessage): string[] => (actionsOf(m)?.elements ?? []).map((e) => e.text?.text ?? '');

/** Presses a button of this very alert (several alerts may offer the same label). */
async function press(double: SlackDouble, user: string, alert: SlackMessage, label: string) {
  const button = actionsOf(alert)?.elements?.find((e) => e.text?.text === label);
  if (!button) throw new Error(`the alert has no ${label} button: ${buttonsOf(alert).join(', ')}`);
  return double.sendBlockAction({ user, location: { type: 'message', channel: alert.channel, ts: alert.ts }, blockId: 'drift_actions', actionId: button.action_id });
}

const dataDir = (dir: string, instanceId: string) => join(dir, 'cloud', 'servers', instanceId, 'data');

async function newEnvironment(double: SlackDouble, bot: Dormouse, name: string, template: string, count?: number): Promise<Environment> {
  await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: `new ${name} --template ${template}${count ? ` --count ${count}` : ''}` });
  return until(bot, name, (e) => e.state === 'ready', 'ready');
}

describe('drift in the sandbox', () => {
  it('a server terminated behind its back: one alert, Repair (ops only) replaces it with its data restored, the healthy one untouched, resolved', async () => {
    const { bot, double, dir, cloud, reconcile } = await sandbox();
    const ready = await newEnvironment(double, bot, 'mend', 'mended');
    const [s0, s1] = ready.servers;
    for (const s of ready.servers) {
      mkdirSync(join(dataDir(dir, s.instanceId), 'db'), { recursive: true });
      writeFileSync(join(dataDir(dir, s.instanceId), 'db', 'rows'), `saved rows of server ${s.index}\n`);
    }
    await bot.useCases.data!.save.execute({ name: 'mend' }, 'U0DEV', 'save');
    const saved = await until(bot, 'mend', (e) => e.state === 'ready' && e.data?.latest?.number === 1, 'saved');
    const savedTree = files(dataDir(dir, s1!.instanceId));
    // Written after the save: what the owner loses on the lost server (and keeps on the healthy one).
    writeFileSync(join(dataDir(dir, s1!.instanceId), 'db', 'late'), 'written after the save\n');
    writeFileSync(join(dataDir(dir, s0!.instanceId), 'db', 'late'), 'written after the save\n');
    const healthyTree = files(dataDir(dir, s0!.instanceId));

    await cloud.terminate([s1!.instanceId]);
    const first = await reconcile();
    expect(first.opened).toBe(1);
    const key = `ghost:${ready.id}:1`;
    const alert = await alertOf(double, key);
    expect(visibleText(alert)).toMatch(/OPEN.*Lost server/s);
    expect(visibleText(alert)).toContain(`server 2 (${s1!.instanceId}) runs; the cloud says it is terminated`);
    expect(buttonsOf(alert)).toEqual(['Repair', 'Ignore for a day']);
    // Scraped as Prometheus would: one lost server open, nothing else.
    const scraped = await (await fetch(`${bot.consoleUrl}/metrics`)).text();
    expect(scraped).toMatch(/^dormouse_drift_findings\{kind="ghost"\} 1$/m);
    expect(scraped).toMatch(/^dormouse_drift_findings\{kind="orphan"\} 0$/m);
    // Found again at the next tick: still one alert, not edited.
    const edited = alert.edited;
    expect((await reconcile()).opened).toBe(0);
    expect(alertsAbout(double, key)).toHaveLength(1);
    expect(alertsAbout(double, key)[0]!.edited).toBe(edited);

    // The owner is not ops: refused, nothing changes.
    await press(double, 'U0DEV', alert, 'Repair');
    await double.waitFor(() => double.ephemerals('U0DEV').find((m) => visibleText(m).includes('Only ops or an admin can act on drift alerts')), { timeoutMs: 5_000, what: 'the refusal' });
    expect((await bot.useCases.queries.find('mend'))!.version).toBe(saved.version);

    await press(double, 'U0OPS', alert, 'Repair');
    await double.waitFor(() => double.ephemerals('U0OPS').find((m) => visibleText(m).includes('Repairing `mend`')), { timeoutMs: 5_000, what: 'the repair answer' });
    await alertOf(double, key, (t) => t.includes('BEING DEALT WITH') && t.includes('repair started'));
    const repaired = await until(bot, 'mend', (e) => e.state === 'ready' && e.repaired !== undefined, 'repaired');

    const n0 = repaired.servers.find((s) => s.index === 0)!;
    const n1 = repaired.servers.find((s) => s.index === 1)!;
    expect(n0.instanceId).toBe(s0!.instanceId);
    expect(n1.instanceId).not.toBe(s1!.instanceId);
    expect(n1.replacement).toBe(1);
    expect(repaired.repaired).toMatchObject({ by: 'U0OPS', generation: { number: 1 }, servers: [{ index: 1, lost: s1!.instanceId, why: 'terminated', instanceId: n1.instanceId }] });
    // The healthy server: not touched (its late file is still there). The new one: the saved data back, what came later lost.
    expect(files(dataDir(dir, s0!.instanceId))).toEqual(healthyTree);
    const restored = files(dataDir(dir, n1.instanceId));
    for (const [path, content] of Object.entries(savedTree)) expect(restored[path]).toEqual(content);
    expect(existsSync(join(dataDir(dir, n1.instanceId), 'db', 'late'))).toBe(false);
    // Only the replacement ran the bootstrap again.
    expect(readFileSync(join(dataDir(dir, s0!.instanceId), 'steps.log'), 'utf8').trim().split('\n')).toHaveLength(1);
    // The owner is told what was lost since the generation, in the environment's thread.
    const note = await double.waitFor(() => double.channelMessages('C0GENERAL').flatMap((m) => m.replies).map(visibleText).find((t) => t.includes('lost a server')), { timeoutMs: 5_000, what: 'the owner told' });
    expect(note).toMatch(/generation 1, saved .* what was written on that server since then is lost/);

    // The next tick sees it resolved: the alert says so, its buttons gone.
    expect((await reconcile()).resolved).toBe(1);
    expect(await (await fetch(`${bot.consoleUrl}/metrics`)).text()).toMatch(/^dormouse_drift_findings\{kind="ghost"\} 0$/m);
    const done = await alertOf(double, key, (t) => t.includes('RESOLVED'));
    expect(buttonsOf(done)).toEqual([]);
    expect(visibleText(done)).toContain('repair started; resolved');
    // Acting again: the finding says it is settled; a repair asked for directly says there is nothing to repair.
    await expect(bot.useCases.drift!.actions.act(key, 'repair', 'U0OPS')).rejects.toThrow(/Already resolved/);
    await expect(bot.useCases.repair.execute({ name: 'mend' }, 'U0OPS', { servers: [{ index: 1, lost: s1!.instanceId, why: 'terminated' }] })).rejects.toThrow(/nothing to repair/);
  });

  it('orphans: one with no environment is terminated from its alert; one its environment does not list is adopted in place of a lost server', async () => {
    const { bot, double, cloud, reconcile } = await sandbox();
    const ready = await newEnvironment(double, bot, 'solo', 'mended', 1);
    const base = { owner: 'U0DEV', template: 'mended', image: 'ami-12345678', instanceType: 't3.small', count: 1, subnets: [], securityGroups: [], volumes: [], tags: {} };
    // A manual launch with copied tags naming no environment Dormouse knows.
    const [stray] = await cloud.launch({ ...base, environmentId: '01JSTRAYSTRAYSTRAYSTRAYSTR', environment: 'stray', attempt: 1, idempotencyKey: 'stray' });
    // A server of `solo` it does not list (a replacement never recorded), and its own server lost.
    const [spare] = await cloud.launch({ ...base, environmentId: ready.id, environment: 'solo', attempt: ready.attempt, idempotencyKey: 'spare', replacement: { index: 0, serial: 7 } });
    await cloud.terminate([ready.servers[0]!.instanceId]);

    const summary = await reconcile();
    expect(summary.opened).toBe(3);
    const strayAlert = await alertOf(double, `orphan:${stray!.instanceId}`);
    expect(visibleText(strayAlert)).toContain('no environment owns it');
    expect(buttonsOf(strayAlert)).toEqual(['Terminate', 'Ignore for a day']);
    const spareAlert = await alertOf(double, `orphan:${spare!.instanceId}`);
    expect(buttonsOf(spareAlert)).toEqual(['Terminate', 'Adopt', 'Ignore for a day']);
    await alertOf(double, `ghost:${ready.id}:0`);

    await press(double, 'U0OPS', strayAlert, 'Terminate');
    await alertOf(double, `orphan:${stray!.instanceId}`, (t) => t.includes('RESOLVED') && t.includes('terminated'));
    expect((await cloud.describe(stray!.instanceId))?.state).toMatch(/shutting-down|terminated/);

    await press(double, 'U0OPS', spareAlert, 'Adopt');
    await double.waitFor(() => double.ephemerals('U0OPS').find((m) => visibleText(m).includes(`Adopting ${spare!.instanceId}`)), { timeoutMs: 5_000, what: 'the adopt answer' });
    const adopted = await until(bot, 'solo', (e) => e.state === 'ready' && e.repaired !== undefined, 'adopted');
    expect(adopted.servers.map((s) => s.instanceId)).toEqual([spare!.instanceId]);
    expect(adopted.repaired?.servers[0]).toMatchObject({ adopt: spare!.instanceId, lost: ready.servers[0]!.instanceId });

    // A second Terminate on the resolved alert's finding: told, nothing done.
    await expect(bot.useCases.drift!.actions.act(`orphan:${stray!.instanceId}`, 'terminate', 'U0OPS')).rejects.toThrow(/Already resolved/);
    const after = await reconcile();
    expect(after.found).toBe(0);
    await alertOf(double, `orphan:${spare!.instanceId}`, (t) => t.includes('RESOLVED'));
    await alertOf(double, `ghost:${ready.id}:0`, (t) => t.includes('RESOLVED'));
  });

  it('configuration drift: Ignore for a day silences it; Repair replaces the server with one as recorded', async () => {
    const { bot, double, dir, reconcile } = await sandbox();
    const ready = await newEnvironment(double, bot, 'typed', 'mended', 1);
    const id = ready.servers[0]!.instanceId;
    const recordPath = join(dir, 'cloud', 'servers', id, 'instance.json');
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { instanceType: string };
    writeFileSync(recordPath, JSON.stringify({ ...record, instanceType: 't3.large' }));

    await reconcile();
    const key = `config:${id}`;
    const alert = await alertOf(double, key);
    expect(visibleText(alert)).toContain('has instance type `t3.large`; its record says `t3.small`');
    await press(double, 'U0OPS', alert, 'Ignore for a day');
    await alertOf(double, key, (t) => t.includes('IGNORED') && t.includes('ignored until'));
    const ignored = alertsAbout(double, key)[0]!;
    expect(buttonsOf(ignored)).toEqual([]);
    await reconcile();
    expect(alertsAbout(double, key)[0]!.edited).toBe(ignored.edited);

    // Ops change their mind before the day is over: the finding is still there, Repair from the use case.
    expect(await bot.useCases.drift!.actions.act(key, 'repair', 'U0OPS')).toMatchObject({ action: 'repair', environment: 'typed', index: 0 });
    const repaired = await until(bot, 'typed', (e) => e.state === 'ready' && e.repaired !== undefined, 'repaired');
    expect(repaired.servers[0]!.instanceId).not.toBe(id);
    expect(repaired.repaired?.servers[0]).toMatchObject({ why: 'drifted', lost: id });
    const replacement = JSON.parse(readFileSync(join(dir, 'cloud', 'servers', repaired.servers[0]!.instanceId, 'instance.json'), 'utf8')) as { instanceType: string };
    expect(replacement.instanceType).toBe('t3.small');
    // The drifted server went.
    expect((JSON.parse(readFileSync(recordPath, 'utf8')) as { terminateRequestedAt?: string }).terminateRequestedAt).toBeDefined();
    await reconcile();
    await alertOf(double, key, (t) => t.includes('RESOLVED'));
  });

  it('data drift: a part of an asleep environment deleted from the store is alerted, and resolves when it is back', async () => {
    const { bot, double, dir, reconcile } = await sandbox();
    await newEnvironment(double, bot, 'napper', 'mended', 1);
    await bot.useCases.data!.save.execute({ name: 'napper' }, 'U0DEV', 'sleep');
    const asleep = await until(bot, 'napper', (e) => e.state === 'asleep', 'asleep');
    expect((await reconcile()).found).toBe(0);

    const objects = (folder: string): string[] => readdirSync(folder, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? objects(join(folder, d.name)) : [join(folder, d.name)]));
    // The object and what s3rver keeps beside it (its metadata, its MD5): as if someone deleted it.
    const part = objects(join(dir, 's3')).filter((p) => p.includes('/server-0.archive._S3rver'));
    expect(part.length).toBeGreaterThan(0);
    for (const p of part) renameSync(p, `${p}.away`);
    const found = await reconcile();
    expect(found, JSON.stringify(objects(join(dir, 's3')))).toMatchObject({ found: 1, opened: 1 });
    const key = `data:${asleep.id}:1`;
    const alert = await alertOf(double, key);
    expect(visibleText(alert)).toContain('Part server-0 of generation 1 of `napper` is missing from the data store');
    expect(buttonsOf(alert)).toEqual(['Ignore for a day']);

    for (const p of part) renameSync(`${p}.away`, p);
    expect((await reconcile()).resolved).toBe(1);
    await alertOf(double, key, (t) => t.includes('RESOLVED') && t.includes('resolved by itself'));
  });

  it('a template with `repair: auto`: the lost server is replaced as soon as it is found; two reconcilers at once alert once', async () => {
    const { bot, double, cloud, reconcile } = await sandbox();
    const ready = await newEnvironment(double, bot, 'auto', 'autofix');
    await cloud.terminate([ready.servers[0]!.instanceId]);
    const [a, b] = await Promise.all([reconcile(), reconcile()]);
    expect(a.opened + b.opened).toBe(1);
    expect(a.repairs + b.repairs).toBe(1);
    const repaired = await until(bot, 'auto', (e) => e.state === 'ready' && e.repaired !== undefined, 'repaired');
    expect(repaired.repaired).toMatchObject({ by: 'reconciler', servers: [{ index: 0, why: 'terminated' }] });
    expect(repaired.servers[1]!.instanceId).toBe(ready.servers[1]!.instanceId);
    const note = await double.waitFor(() => double.channelMessages('C0GENERAL').flatMap((m) => m.replies).map(visibleText).find((t) => t.includes('lost a server')), { timeoutMs: 5_000, what: 'the owner told' });
    expect(note).toMatch(/no saved data to restore[\s\S]*Replaced automatically/);
    await reconcile();
    await alertOf(double, `ghost:${ready.id}:0`, (t) => t.includes('RESOLVED') && t.includes('replaced automatically'));
  });

  it('two servers lost at once: one Repair replaces both (a repair leaves no lost server behind), and both alerts resolve', async () => {
    const { bot, double, cloud, reconcile } = await sandbox();
    const ready = await newEnvironment(double, bot, 'twice', 'mended', 3);
    const [s0, s1, s2] = ready.servers;
    await cloud.terminate([s1!.instanceId, s2!.instanceId]);
    expect((await reconcile()).opened).toBe(2);
    const first = await alertOf(double, `ghost:${ready.id}:1`);
    await alertOf(double, `ghost:${ready.id}:2`);
    await press(double, 'U0OPS', first, 'Repair');
    const repaired = await until(bot, 'twice', (e) => e.state === 'ready' && e.repaired !== undefined, 'repaired');
    expect(repaired.repaired?.servers.map((s) => [s.index, s.lost])).toEqual([
      [1, s1!.instanceId],
      [2, s2!.instanceId],
    ]);
    expect(repaired.servers.map((s) => s.instanceId)[0]).toBe(s0!.instanceId);
    expect(new Set(repaired.servers.map((s) => s.replacement))).toEqual(new Set([undefined, 1, 2]));
    expect((await reconcile()).resolved).toBe(2);
    await alertOf(double, `ghost:${ready.id}:1`, (t) => t.includes('RESOLVED'));
    await alertOf(double, `ghost:${ready.id}:2`, (t) => t.includes('RESOLVED'));
  });

  it('the leader runs the reconciler on its own, every DORMOUSE_RECONCILE_SECONDS', async () => {
    const { double, cloud } = await sandbox({ DORMOUSE_RECONCILE_SECONDS: '1' }, { scheduler: true });
    const [stray] = await cloud.launch({
      environmentId: '01JSTRAYSTRAYSTRAYSTRAYSTR',
      environment: 'stray',
      owner: 'U0DEV',
      template: 'mended',
      image: 'ami-12345678',
      instanceType: 't3.small',
      count: 1,
      subnets: [],
      securityGroups: [],
      volumes: [],
      tags: {},
      attempt: 1,
      idempotencyKey: 'stray',
    });
    await alertOf(double, `orphan:${stray!.instanceId}`);
    // Ticks go on: still one alert.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(alertsAbout(double, `orphan:${stray!.instanceId}`)).toHaveLength(1);
  });
});
