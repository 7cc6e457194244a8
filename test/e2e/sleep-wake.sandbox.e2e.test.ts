/**
 * Sleep and wake in the sandbox, as `npm start` runs it: the console's Slack
 * double, the local cloud, the embedded store and the embedded S3 server.
 * The save and restore scripts run for real, in each server's data folder:
 * files put there before a sleep are back, byte for byte, on the fresh
 * servers after the wake.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText, type SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import { startDormouse, type Dormouse } from '../../src/main.js';
import type { Environment } from '../../src/core/environment/environment.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const DATA_TEMPLATES = join(repoRoot, 'test', 'fixtures', 'templates', 'data.yml');
const running: Dormouse[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

async function sandbox(env: Record<string, string> = {}, dir = mkdtempSync(join(tmpdir(), 'dormouse-sleep-'))) {
  const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: dir, DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'silent', ...env }, repoRoot);
  const bot = await startDormouse(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), scheduler: false });
  running.push(bot);
  return { bot, double: bot.double as SlackDouble, dir };
}

const dataDir = (dir: string, instanceId: string) => join(dir, 'cloud', 'servers', instanceId, 'data');

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

/** The message is updated a moment after the store: click once the button is there. */
async function click(double: SlackDouble, label: string, user = 'U0DEV', channel = 'C0GENERAL') {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await double.clickButton({ user, label, channel });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A tree as a comparable list: path, type, mode, and content or link target. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${path} link ${readlinkSync(join(root, path))}`);
      else if (st.isDirectory()) {
        out.push(`${path} dir ${mode}`);
        walk(path);
      } else out.push(`${path} file ${mode} ${readFileSync(join(root, path)).toString('base64')}`);
    }
  };
  walk('');
  return out;
}

function writeData(root: string, label: string): void {
  mkdirSync(join(root, 'nested', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'empty folder'), { recursive: true });
  writeFileSync(join(root, 'nested', 'deeper', 'notes é.txt'), `notes of ${label}\n`);
  writeFileSync(join(root, 'random.bin'), randomBytes(300_000));
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'run.sh'), 0o755);
  writeFileSync(join(root, 'secret'), label);
  chmodSync(join(root, 'secret'), 0o600);
  symlinkSync('nested/deeper/notes é.txt', join(root, 'link-to-notes'));
}

describe('sleep and wake in the sandbox', () => {
  it('new → data written on each server → Sleep → asleep, servers gone → Wake → the same data on every fresh server', async () => {
    const { bot, double, dir } = await sandbox();
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new nap --template demo --count 2' });
    const ready = await until(bot, 'nap', (e) => e.state === 'ready', 'ready');
    const before = ready.servers.map((s) => {
      const root = dataDir(dir, s.instanceId);
      writeData(root, `server ${s.index}`);
      return tree(root);
    });
    expect(before[0]).not.toEqual(before[1]);

    await click(double, 'Sleep');
    const asleep = await until(bot, 'nap', (e) => e.state === 'asleep', 'asleep');
    expect(asleep.data?.latest).toMatchObject({ number: 1, reason: 'sleep', serverCount: 2, shared: false });
    expect(asleep.data?.latest?.bytes).toBeGreaterThan(600_000);
    // The servers are gone (terminated), and the message says what is kept and what it costs.
    for (const s of ready.servers) {
      const record = JSON.parse(readFileSync(join(dir, 'cloud', 'servers', s.instanceId, 'instance.json'), 'utf8')) as { terminateRequestedAt?: string };
      expect(record.terminateRequestedAt).toBeDefined();
    }
    const message = await double.waitFor(() => double.channelMessages('C0GENERAL').find((m) => visibleText(m).includes('Asleep since')), { timeoutMs: 10_000, what: 'the asleep message' });
    expect(visibleText(message)).toMatch(/generation 1, [\d.]+ (KB|MB)/);
    expect(visibleText(message)).toMatch(/\/day asleep/);

    // /server data lists generation 1, marked as what a wake uses.
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'data nap' });
    await double.waitFor(() => double.ephemerals('U0DEV').find((m) => visibleText(m).includes('a wake uses this one')), { timeoutMs: 5_000, what: 'the data reply' });

    await click(double, 'Wake');
    const awake = await until(bot, 'nap', (e) => e.state === 'ready' && e.attempt > ready.attempt, 'awake again');
    expect(awake.servers.map((s) => s.instanceId).sort()).not.toEqual(ready.servers.map((s) => s.instanceId).sort());
    const after = awake.servers.sort((a, b) => a.index - b.index).map((s) => tree(dataDir(dir, s.instanceId)));
    // What the demo's bootstrap writes (`bootstrapped-at`) was in the saved data too, from before: the saved one wins.
    expect(after).toEqual(before);
    expect(awake.progress.filter((p) => p.key.startsWith('restore:')).map((p) => p.status)).toEqual(['done', 'done']);
  });

  it('a save that fails on one server of three terminates nothing, leaves the data alone and says why; Retry then sleeps it', async () => {
    const { bot, double, dir } = await sandbox({ DORMOUSE_SANDBOX_FAULTS: 'fail-save:1*1' });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new three --template api --count 3' });
    const ready = await until(bot, 'three', (e) => e.state === 'ready', 'ready');
    const before = ready.servers.map((s) => {
      writeData(dataDir(dir, s.instanceId), `server ${s.index}`);
      return tree(dataDir(dir, s.instanceId));
    });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'sleep three' });
    const failed = await until(bot, 'three', (e) => e.state === 'failed', 'failed');
    expect(failed.failure).toMatchObject({ step: 'save', from: 'saving', server: 1, retryable: true });
    expect(failed.failure?.output).toMatch(/fail-save:1/);
    // Nothing terminated, nothing changed on any server, and no generation exists.
    for (const [i, s] of ready.servers.entries()) {
      const record = JSON.parse(readFileSync(join(dir, 'cloud', 'servers', s.instanceId, 'instance.json'), 'utf8')) as { terminateRequestedAt?: string };
      expect(record.terminateRequestedAt).toBeUndefined();
      expect(tree(dataDir(dir, s.instanceId))).toEqual(before[i]);
    }
    expect(failed.data?.latest).toBeUndefined();
    expect((await bot.useCases.data!.queries.generations('three')).generations).toEqual([]);
    const alert = await double.waitFor(() => double.channelMessages('C0OPS').find((m) => visibleText(m).includes('three')), { timeoutMs: 10_000, what: 'the ops alert' });
    expect(visibleText(alert)).toMatch(/saving data/);

    // Failed, it is neither saved again nor woken: its servers hold the newest data; Retry is the way on.
    const version = (await bot.useCases.queries.find('three'))!.version;
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'sleep three' });
    await double.waitFor(() => double.ephemerals('U0DEV').find((m) => visibleText(m).includes("only a ready environment's data is saved")), { timeoutMs: 5_000, what: 'the sleep refusal' });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'wake three' });
    await double.waitFor(() => double.ephemerals('U0DEV').find((m) => visibleText(m).includes('not asleep')), { timeoutMs: 5_000, what: 'the wake refusal' });
    expect((await bot.useCases.queries.find('three'))!.version).toBe(version);

    await click(double, 'Retry');
    const asleep = await until(bot, 'three', (e) => e.state === 'asleep', 'asleep after the retry');
    expect(asleep.data?.latest).toMatchObject({ number: 1, serverCount: 3 });
    expect(existsSync(dataDir(dir, ready.servers[0]!.instanceId))).toBe(true);
  });

  it('two Sleep requests at once make one generation', async () => {
    const { bot, double } = await sandbox();
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new twice --template demo' });
    await until(bot, 'twice', (e) => e.state === 'ready', 'ready');
    const results = await Promise.allSettled([
      bot.useCases.data!.save.execute({ name: 'twice' }, 'U0DEV', 'sleep'),
      bot.useCases.data!.save.execute({ name: 'twice' }, 'U0DEV', 'sleep'),
    ]);
    const started = results.filter((r) => r.status === 'fulfilled' && r.value.started);
    expect(started).toHaveLength(1);
    const asleep = await until(bot, 'twice', (e) => e.state === 'asleep', 'asleep');
    expect(asleep.data?.lastGeneration).toBe(1);
    expect((await bot.useCases.data!.queries.generations('twice')).generations.map((g) => g.generation)).toEqual([1]);
  });

  it('`sleep: stop`: the servers stop with their data, and wake starts the same servers with it', async () => {
    const { bot, double, dir } = await sandbox({ DORMOUSE_TEMPLATES: DATA_TEMPLATES });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new halt --template stopped' });
    const ready = await until(bot, 'halt', (e) => e.state === 'ready', 'ready');
    const server = ready.servers[0]!;
    writeData(dataDir(dir, server.instanceId), 'stopped');
    const before = tree(dataDir(dir, server.instanceId));
    await click(double, 'Sleep');
    const asleep = await until(bot, 'halt', (e) => e.state === 'asleep', 'asleep');
    expect(asleep.data).toMatchObject({ asleepAs: 'stop', stoppedGiB: 20 });
    expect(asleep.data?.latest).toBeUndefined();
    const record = JSON.parse(readFileSync(join(dir, 'cloud', 'servers', server.instanceId, 'instance.json'), 'utf8')) as { stopRequestedAt?: string; terminateRequestedAt?: string };
    expect(record.stopRequestedAt).toBeDefined();
    expect(record.terminateRequestedAt).toBeUndefined();
    const message = await double.waitFor(() => double.channelMessages('C0GENERAL').find((m) => visibleText(m).includes('servers stopped')), { timeoutMs: 10_000, what: 'the stopped message' });
    expect(visibleText(message)).toMatch(/20 GiB of volumes kept/);

    await click(double, 'Wake');
    const awake = await until(bot, 'halt', (e) => e.state === 'ready' && e.version > asleep.version, 'awake');
    expect(awake.servers.map((s) => s.instanceId)).toEqual([server.instanceId]);
    expect(tree(dataDir(dir, server.instanceId))).toEqual(before);
  });

  it('shared data: one copy from server 1, restored on all three and checked identical', async () => {
    const { bot, double, dir } = await sandbox({ DORMOUSE_TEMPLATES: DATA_TEMPLATES });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new common --template shared' });
    const ready = await until(bot, 'common', (e) => e.state === 'ready', 'ready');
    const first = ready.servers.find((s) => s.index === 0)!;
    writeData(dataDir(dir, first.instanceId), 'shared');
    const before = tree(dataDir(dir, first.instanceId));
    await bot.useCases.data!.save.execute({ name: 'common' }, 'U0DEV', 'sleep');
    const asleep = await until(bot, 'common', (e) => e.state === 'asleep', 'asleep');
    const [generation] = (await bot.useCases.data!.queries.generations('common')).generations;
    expect(generation?.parts.map((p) => p.part)).toEqual(['shared']);
    expect(asleep.data?.latest).toMatchObject({ shared: true, serverCount: 3 });
    await bot.useCases.data!.wake.execute({ name: 'common' }, 'U0DEV');
    const awake = await until(bot, 'common', (e) => e.state === 'ready' && e.attempt > ready.attempt, 'awake');
    for (const s of awake.servers) expect(tree(dataDir(dir, s.instanceId))).toEqual(before);
  });

  it('only the listed paths are kept; wake --generation N wakes from an older generation', async () => {
    const { bot, double, dir } = await sandbox({ DORMOUSE_TEMPLATES: DATA_TEMPLATES });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new partial --template some' });
    const ready = await until(bot, 'partial', (e) => e.state === 'ready', 'ready');
    const root = dataDir(dir, ready.servers[0]!.instanceId);
    writeFileSync(join(root, 'db', 'rows'), 'version 1');
    writeFileSync(join(root, 'user files', 'a b.txt'), 'kept');
    writeFileSync(join(root, 'scratch'), 'not kept');
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'save partial' });
    await until(bot, 'partial', (e) => e.state === 'ready' && e.data?.latest?.number === 1, 'saved generation 1');
    writeFileSync(join(root, 'db', 'rows'), 'version 2');
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'sleep partial' });
    await until(bot, 'partial', (e) => e.state === 'asleep' && e.data?.latest?.number === 2, 'asleep with generation 2');

    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'wake partial --generation 7' });
    await double.waitFor(() => double.ephemerals('U0DEV').find((m) => visibleText(m).includes('has no generation 7')), { timeoutMs: 5_000, what: 'the refusal' });
    expect((await bot.useCases.queries.find('partial'))?.state).toBe('asleep');

    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'wake partial --generation 1' });
    const awake = await until(bot, 'partial', (e) => e.state === 'ready' && e.attempt > ready.attempt, 'awake');
    const back = dataDir(dir, awake.servers[0]!.instanceId);
    expect(readFileSync(join(back, 'db', 'rows'), 'utf8')).toBe('version 1');
    expect(readFileSync(join(back, 'user files', 'a b.txt'), 'utf8')).toBe('kept');
    expect(existsSync(join(back, 'scratch'))).toBe(false);
  });

  it('Save data and destroy keeps a generation; /server restore brings the environment back from it', async () => {
    const { bot, double, dir } = await sandbox();
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new gone --template demo' });
    const ready = await until(bot, 'gone', (e) => e.state === 'ready', 'ready');
    writeData(dataDir(dir, ready.servers[0]!.instanceId), 'gone');
    const before = tree(dataDir(dir, ready.servers[0]!.instanceId));
    // The message's Destroy on a ready environment asks: save first, or not.
    await click(double, 'Destroy');
    await click(double, 'Save data and destroy');
    const destroyed = await until(bot, 'gone', (e) => e.state === 'destroyed', 'destroyed');
    expect(destroyed.data?.latest).toMatchObject({ number: 1, reason: 'destroy' });
    expect(Date.parse(destroyed.data?.keptUntil ?? '')).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    await double.waitFor(() => double.channelMessages('C0GENERAL').flatMap((m) => m.replies).find((r) => r.text.includes('/server restore gone')), { timeoutMs: 10_000, what: 'the destroyed note saying how to restore' });

    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'restore gone' });
    const back = await until(bot, 'gone', (e) => e.state === 'ready' && e.id !== destroyed.id, 'restored');
    expect(back.restoredFrom).toEqual({ environmentId: destroyed.id, generation: 1 });
    expect(tree(dataDir(dir, back.servers[0]!.instanceId))).toEqual(before);
    // Restoring again: nothing to restore, it is live.
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'restore gone' });
    await double.waitFor(() => double.ephemerals('U0DEV').find((m) => visibleText(m).includes('only a destroyed environment') || visibleText(m).includes('brings back a destroyed environment')), { timeoutMs: 5_000, what: 'the refusal' });
  });
});
