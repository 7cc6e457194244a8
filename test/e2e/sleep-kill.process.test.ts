/**
 * A bot process killed (SIGKILL) in the middle of saving an environment's
 * data for a sleep, and the process that comes up after it: the save is
 * resumed, not lost; the servers go only once the generation is stored and
 * verified; and a wake brings every file back.
 *
 * Real processes, one dynalite, the local cloud's folders and the embedded S3
 * server, which (in the sandbox) lives inside the bot process and dies with
 * it: the killed process's save command loses its store, and the next
 * process sends the save again.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { report, seconds, sleep, SLOW_TEMPLATES, startReplicas, type Replicas } from '../support/replicas.js';
import { files } from '../support/trees.js';

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const dataDir = (r: Replicas, instanceId: string) => join(r.dir, 'cloud', 'servers', instanceId, 'data');

describe('a bot process killed while it saves data for a sleep', () => {
  it('SIGKILL mid-save: the next process resumes the save, the servers go only after it, and a wake brings the data back', async () => {
    r = await startReplicas();
    const env = { DORMOUSE_TEMPLATES: SLOW_TEMPLATES, DORMOUSE_LEASE_SECONDS: '10', DORMOUSE_SWEEP_SECONDS: '2' };
    // The first process's save of server 0 waits 4 s before it runs: time to kill it mid-save.
    const a = await r.startBot('A', { ...env, DORMOUSE_SANDBOX_FAULTS: 'slow-save:0=4000' });
    r.double.setEventsUrl(a.eventsUrl);
    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new killed-nap --template quick' });
    const ready = await r.waitForEnvironment('killed-nap', (e) => e.state === 'ready', 60_000, 'ready');
    const server = ready.servers[0]!;
    mkdirSync(join(dataDir(r, server.instanceId), 'db'), { recursive: true });
    writeFileSync(join(dataDir(r, server.instanceId), 'db', 'table.bin'), randomBytes(2_000_000));
    writeFileSync(join(dataDir(r, server.instanceId), 'notes.txt'), 'left off here\n');
    const before = files(dataDir(r, server.instanceId));

    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'sleep killed-nap' });
    const saving = await r.waitForEnvironment('killed-nap', (e) => e.state === 'saving' && e.data?.saving?.parts[0]?.sent === true, 20_000, 'the save sent');
    a.kill('SIGKILL');
    const killedAt = Date.now();
    await a.exited;
    expect(saving.lease?.holder).toBe(r.workerOf(a));

    // Killed mid-save: its servers are all there and nothing is stored as a generation.
    const atKill = (await r.environment('killed-nap'))!;
    expect(atKill.state).toBe('saving');
    expect(atKill.data?.latest).toBeUndefined();
    expect(JSON.parse(readFileSync(join(r.dir, 'cloud', 'servers', server.instanceId, 'instance.json'), 'utf8')).terminateRequestedAt).toBeUndefined();

    const b = await r.startBot('B', env);
    r.double.setEventsUrl(b.eventsUrl);
    const asleep = await r.waitForEnvironment('killed-nap', (e) => e.state === 'asleep' || e.state === 'failed', 90_000, 'asleep after the takeover');
    report(`sleep resumed after kill -9: asleep ${seconds(Date.now() - killedAt)} after the kill`);
    expect(asleep.state).toBe('asleep');
    expect(asleep.data?.latest).toMatchObject({ number: 1, serverCount: 1 });
    // The server went only after the generation existed.
    const events = (await r.events('killed-nap')).map((e) => e.type);
    expect(events.indexOf('data:generation')).toBeGreaterThan(-1);
    expect(events.indexOf('state:asleep')).toBeGreaterThan(events.indexOf('data:generation'));

    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'wake killed-nap' });
    const awake = await r.waitForEnvironment('killed-nap', (e) => e.state === 'ready' && e.attempt > ready.attempt, 60_000, 'awake');
    const after = files(dataDir(r, awake.servers[0]!.instanceId));
    // The quick template's step appends to steps.log on every bootstrap; the saved one comes back in its place.
    expect(after).toEqual(before);
    await sleep(10);
  }, 240_000);

  it('SIGKILL mid-wake (its servers bootstrapping): the next process resumes the wake, and the data is back', async () => {
    r = await startReplicas();
    const env = { DORMOUSE_TEMPLATES: SLOW_TEMPLATES, DORMOUSE_LEASE_SECONDS: '10', DORMOUSE_SWEEP_SECONDS: '2' };
    const a = await r.startBot('A', env);
    r.double.setEventsUrl(a.eventsUrl);
    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new killed-wake --template slow --count 1' });
    const ready = await r.waitForEnvironment('killed-wake', (e) => e.state === 'ready', 90_000, 'ready');
    writeFileSync(join(dataDir(r, ready.servers[0]!.instanceId), 'work.txt'), 'unsaved work, saved by the sleep\n');
    const before = files(dataDir(r, ready.servers[0]!.instanceId));
    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'sleep killed-wake' });
    await r.waitForEnvironment('killed-wake', (e) => e.state === 'asleep', 60_000, 'asleep');

    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'wake killed-wake' });
    const mid = await r.waitForEnvironment('killed-wake', (e) => e.state === 'waking' && e.data?.waking?.phase === 'bootstrap' && e.servers[0]?.lastStep === 'one', 60_000, 'the wake mid-bootstrap');
    // Killed once step two runs on the fresh server: a process killed between recording a command and starting its
    // runner leaves a command that never runs, which the sandbox reports as lost (another story than this resume).
    const fresh = mid.servers[0]!.instanceId;
    for (const deadline = Date.now() + 30_000; !r.stepsLog(fresh).some((l) => l.startsWith('two ')); await sleep(20)) {
      if (Date.now() > deadline) throw new Error('step two never started on the fresh server');
    }
    a.kill('SIGKILL');
    const killedAt = Date.now();
    await a.exited;
    expect(mid.lease?.holder).toBe(r.workerOf(a));

    await r.startBot('B', env);
    const awake = await r.waitForEnvironment('killed-wake', (e) => (e.state === 'ready' && e.attempt > ready.attempt) || e.state === 'failed', 90_000, 'awake after the takeover');
    report(`wake resumed after kill -9: ready ${seconds(Date.now() - killedAt)} after the kill`);
    expect(awake.state, JSON.stringify(awake.failure)).toBe('ready');
    // The same new server (the wake was resumed, not launched again), and the saved data on it.
    expect(awake.servers.map((s) => s.instanceId)).toEqual(mid.servers.map((s) => s.instanceId));
    expect(files(dataDir(r, awake.servers[0]!.instanceId))).toEqual(before);
  }, 240_000);
});
