/**
 * Sleep under faults, with real bot processes on one store and one sandbox
 * folder (test/support/replicas.ts): the same Sleep click delivered to two
 * replicas, the store unreachable in the middle of a save, and a worker
 * frozen (SIGSTOP) past its lease mid-save. Each ends asleep with one
 * generation, the servers terminated only after it existed, and the data
 * back on a wake.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Environment } from '../../src/core/environment/environment.js';
import { logsWith, report, seconds, sleep, SLOW_TEMPLATES, startReplicas, type Replicas } from '../support/replicas.js';
import { files } from '../support/trees.js';

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const SHORT_LEASES = { DORMOUSE_TEMPLATES: SLOW_TEMPLATES, DORMOUSE_LEASE_SECONDS: '10', DORMOUSE_SWEEP_SECONDS: '2' };
const dataDir = (r: Replicas, instanceId: string) => join(r.dir, 'cloud', 'servers', instanceId, 'data');

/** A ready `quick` environment with data written on its server; returns it and the data as written. */
async function readyWithData(r: Replicas, name: string): Promise<{ env: Environment; before: Record<string, string> }> {
  await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: `new ${name} --template quick` });
  const env = await r.waitForEnvironment(name, (e) => e.state === 'ready', 60_000, 'ready');
  const root = dataDir(r, env.servers[0]!.instanceId);
  mkdirSync(join(root, 'db'), { recursive: true });
  writeFileSync(join(root, 'db', 'table.bin'), randomBytes(1_000_000));
  writeFileSync(join(root, 'notes.txt'), `${name}: left off here\n`);
  return { env, before: files(root) };
}

/** Asleep with one generation, made before the server went; then awake with the same data. */
async function expectSleptAndWakes(r: Replicas, name: string, ready: Environment, before: Record<string, string>): Promise<void> {
  const asleep = await r.waitForEnvironment(name, (e) => e.state === 'asleep' || e.state === 'failed', 120_000, 'asleep');
  expect(asleep.state, JSON.stringify(asleep.failure)).toBe('asleep');
  expect(asleep.data).toMatchObject({ lastGeneration: 1, latest: { number: 1 } });
  const events = await r.events(name);
  const types = events.sort((a, b) => a.at.localeCompare(b.at)).map((e) => e.type);
  expect(types.filter((t) => t === 'data:generation')).toHaveLength(1);
  expect(types.filter((t) => t === 'state:asleep')).toHaveLength(1);
  expect(types.indexOf('state:asleep')).toBeGreaterThan(types.indexOf('data:generation'));
  await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: `wake ${name}` });
  const awake = await r.waitForEnvironment(name, (e) => e.state === 'ready' && e.attempt > ready.attempt, 60_000, 'awake');
  expect(files(dataDir(r, awake.servers[0]!.instanceId))).toEqual(before);
}

describe('sleep under faults, with real processes', () => {
  it('the same Sleep click delivered to two replicas at once: one save, one generation', async () => {
    r = await startReplicas();
    const a = await r.startBot('A', SHORT_LEASES);
    const b = await r.startBot('B', SHORT_LEASES);
    r.double.setEventsUrl(a.eventsUrl);
    const { env, before } = await readyWithData(r, 'twin-nap');
    await r.double.waitFor(() => r!.double.channelMessages('C0GENERAL').find((m) => JSON.stringify(m.blocks).includes('env_sleep')), { timeoutMs: 15_000, what: 'the Sleep button' });
    const click = await r.capture(() => r!.double.clickButton({ user: 'U0DEV', label: 'Sleep', channel: 'C0GENERAL' }));
    const acks = await r.deliverTo([a, b], click);
    expect(acks.map((x) => x.status)).toEqual([200, 200]);
    await expectSleptAndWakes(r, 'twin-nap', env, before);
    // One save command was sent to the server, whoever sent it.
    const commands = readdirSync(join(r.dir, 'cloud', 'servers', env.servers[0]!.instanceId, 'commands')).filter((f) => /^[0-9a-f]{32}\.json$/.test(f));
    const saves = commands.map((f) => JSON.parse(readFileSync(join(r!.dir, 'cloud', 'servers', env.servers[0]!.instanceId, 'commands', f), 'utf8')) as { step: string }).filter((c) => c.step === 'dormouse-save');
    expect(saves).toHaveLength(1);
  }, 240_000);

  it('the store unreachable for 10 s in the middle of a save: it goes on once the store is back, nothing lost', async () => {
    r = await startReplicas();
    const a = await r.startBot('A', { ...SHORT_LEASES, DORMOUSE_SANDBOX_FAULTS: 'slow-save:0=3000' });
    r.double.setEventsUrl(a.eventsUrl);
    const { env, before } = await readyWithData(r, 'outage-nap');
    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'sleep outage-nap' });
    await r.waitForEnvironment('outage-nap', (e) => e.state === 'saving' && e.data?.saving?.parts[0]?.sent === true, 20_000, 'the save sent');
    r.proxy.setMode('refuse');
    const downAt = Date.now();
    await sleep(10_000);
    r.proxy.setMode('pass');
    await expectSleptAndWakes(r, 'outage-nap', env, before);
    report(`store down 10 s mid-save: asleep, then awake with its data (${seconds(Date.now() - downAt)} from the outage to the end of the wake)`);
  }, 240_000);

  it('a worker frozen past its lease mid-save: the other replica takes over; resumed, the frozen one writes nothing', async () => {
    r = await startReplicas();
    const a = await r.startBot('A', { ...SHORT_LEASES, DORMOUSE_SANDBOX_FAULTS: 'slow-save:0=3000' });
    const b = await r.startBot('B', SHORT_LEASES);
    r.double.setEventsUrl(a.eventsUrl);
    const { env, before } = await readyWithData(r, 'frozen-nap');
    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'sleep frozen-nap' });
    const saving = await r.waitForEnvironment('frozen-nap', (e) => e.state === 'saving' && e.data?.saving?.parts[0]?.sent === true, 20_000, 'the save sent');
    expect(saving.lease?.holder).toBe(r.workerOf(a));
    a.pause();
    const pausedAt = Date.now();
    let taken: Environment;
    let takenAt: number;
    try {
      taken = await r.waitForEnvironment('frozen-nap', (e) => (e.lease?.token ?? 0) > (saving.lease?.token ?? 0) || e.state !== 'saving', 30_000, 'B to take the save over');
      takenAt = Date.now();
      await sleep(Math.max(0, pausedAt + 15_000 - Date.now()));
    } finally {
      a.resume();
    }
    report(`frozen mid-save: B took the save over ${seconds(takenAt - pausedAt)} into A's 15 s pause (state ${taken.state})`);
    expect(takenAt - pausedAt).toBeLessThan(15_000);
    await expectSleptAndWakes(r, 'frozen-nap', env, before);
    expect(logsWith(a, 'saving failed')).toEqual([]);
    expect(logsWith(a, 'flow failed with an error it did not record')).toEqual([]);
    void b;
  }, 240_000);
});
