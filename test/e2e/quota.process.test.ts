/**
 * Quotas hold under concurrency, without transactions: twenty requests from
 * one team at once, spread over two replicas (real bot processes on one
 * store), against a team quota of five servers (test/fixtures/policy/quota.yml).
 * Exactly five are admitted and launched; the fifteen others are refused
 * before anything is launched, each told the usage, the limit and who can
 * raise it. A destroy gives its servers back.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { report, startReplicas, type Replicas } from '../support/replicas.js';

const POLICY = join(import.meta.dirname, '..', 'fixtures', 'policy', 'quota.yml');
const QUOTA = { DORMOUSE_POLICY: POLICY, DORMOUSE_TEAMS: 'platform=U0DEV,U0LEAD' };
/** Short leases, so what a killed replica held is resumed within seconds (the sweep runs at least twice a lease). */
const SHORT_LEASES = { DORMOUSE_LEASE_SECONDS: '6', DORMOUSE_SWEEP_SECONDS: '2' };

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('a team quota of five servers', () => {
  it('twenty requests at once on two replicas: exactly five launched, fifteen refused before launch with the usage, the limit and who can raise it', async () => {
    r = await startReplicas();
    const replicas = r;
    const a = await replicas.startBot('A', QUOTA);
    const b = await replicas.startBot('B', QUOTA);
    const names = Array.from({ length: 20 }, (_, i) => `q-${String(i + 1).padStart(2, '0')}`);
    // Each request captured first (signed as Slack would), then all twenty sent at once, alternately to A and B.
    const deliveries = [];
    for (const [i, name] of names.entries()) {
      const user = i % 2 ? 'U0LEAD' : 'U0DEV';
      deliveries.push(await replicas.capture(() => replicas.double.slashCommand({ user, channel: 'C0GENERAL', command: '/server', text: `new ${name} --template slow --count 1` })));
    }
    const started = Date.now();
    const acks = await Promise.all(deliveries.map((d, i) => replicas.deliverTo([i % 2 ? b : a], d)));
    expect(acks.flat().every((x) => x.status === 200)).toBe(true);

    // Every request decided: admitted (on its way) or refused (rejected, nothing launched).
    const decided = await Promise.all(names.map((n) => replicas.waitForEnvironment(n, (e) => e.state !== 'requested', 30_000, 'the request decided')));
    const admitted = decided.filter((e) => e.state !== 'rejected');
    const refused = decided.filter((e) => e.state === 'rejected');
    report(`quota: 20 requests on 2 replicas in ${Date.now() - started} ms → ${admitted.length} admitted, ${refused.length} refused`);
    expect(admitted).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const e of refused) {
      expect(e.refusal).toMatchObject({ code: 'QUOTA.EXCEEDED', params: { scope: 'team', team: 'platform', what: 'servers', limit: 5, requested: 1 } });
      expect(replicas.serversOf(e.id)).toEqual([]);
    }
    // Both replicas admitted some, or refused some: the race really ran on two.
    const ready = await Promise.all(admitted.map((e) => replicas.waitForEnvironment(e.name, (x) => x.state === 'ready', 60_000, 'ready')));
    const launched = ready.reduce((n, e) => n + replicas.serversOf(e.id).length, 0);
    expect(launched).toBe(5);

    // Each refused requester was told why, with the figures and who can raise it.
    const told = () => ['U0DEV', 'U0LEAD'].flatMap((u) => replicas.double.ephemerals(u).map((m) => visibleText(m))).filter((t) => /was not created/.test(t));
    await replicas.double.waitFor(() => (told().length >= 15 ? true : undefined), { timeoutMs: 15_000, what: 'fifteen refusals told' });
    expect(told()).toHaveLength(15);
    expect(told()[0]).toMatch(/your team `platform` holds 5 of 5 servers, and `q-\d\d` asks for 1\. .*<@U0OPS> can raise the quota\. Nothing was launched\./);

    // A destroy gives its server back: the next request is admitted.
    replicas.double.setEventsUrl(a.eventsUrl);
    await replicas.double.slashCommand({ user: ready[0]!.owner, channel: 'C0GENERAL', command: '/server', text: `destroy ${ready[0]!.name}` });
    await replicas.double.waitFor(() => replicas.double.ephemerals(ready[0]!.owner).find((m) => /Destroy without saving/.test(JSON.stringify(m))), { timeoutMs: 10_000, what: 'the destroy choice' });
    await replicas.double.clickButton({ user: ready[0]!.owner, label: 'Destroy without saving' });
    await replicas.waitForEnvironment(ready[0]!.name, (e) => e.state === 'destroyed', 30_000, 'destroyed');
    await replicas.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new q-after --template slow --count 1' });
    const after = await replicas.waitForEnvironment('q-after', (e) => e.state !== 'requested', 15_000, 'decided');
    expect(after.state).not.toBe('rejected');
  }, 180_000);

  it('a replica killed in the middle of ten requests: the other resumes what was recorded, each is decided once, and the quota still holds', async () => {
    r = await startReplicas();
    const replicas = r;
    const a = await replicas.startBot('A', { ...QUOTA, ...SHORT_LEASES });
    const b = await replicas.startBot('B', { ...QUOTA, ...SHORT_LEASES });
    const names = Array.from({ length: 10 }, (_, i) => `k-${String(i + 1).padStart(2, '0')}`);
    const deliveries = [];
    for (const name of names) deliveries.push(await replicas.capture(() => replicas.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: `new ${name} --template slow --count 1` })));
    // All ten to A at once (each is acked before any work); A is killed as soon as the first is recorded,
    // so some are recorded and not yet admitted, some admitted and not yet launched, some never recorded.
    const acks = Promise.all(deliveries.map((d) => replicas.deliverTo([a], d)));
    const deadline = Date.now() + 15_000;
    while (!(await Promise.all(names.map((n) => replicas.environment(n)))).some(Boolean)) {
      if (Date.now() > deadline) throw new Error('nothing was recorded');
      await new Promise((res) => setTimeout(res, 5));
    }
    a.kill('SIGKILL');
    await acks.catch(() => undefined);
    const atKill = (await Promise.all(names.map((n) => replicas.environment(n)))).filter((e) => e !== undefined);
    report(`quota kill: A killed with ${atKill.length} of 10 recorded (${atKill.filter((e) => e.state === 'requested').length} still undecided)`);

    // B resumes every undecided one once A's lease lapses.
    const recorded = (await Promise.all(names.map((n) => replicas.environment(n)))).filter((e) => e !== undefined).map((e) => e.name);
    const decided = await Promise.all(recorded.map((n) => replicas.waitForEnvironment(n, (e) => e.state !== 'requested', 30_000, 'decided after the kill')));
    const admitted = decided.filter((e) => e.state !== 'rejected');
    expect(admitted.length).toBe(Math.min(5, recorded.length));
    const ready = await Promise.all(admitted.map((e) => replicas.waitForEnvironment(e.name, (x) => x.state === 'ready', 60_000, 'ready')));
    // Each admitted one launched its one server once; nothing refused launched anything.
    for (const e of ready) expect(replicas.serversOf(e.id).map((s) => s.attempt)).toEqual([1]);
    for (const e of decided.filter((x) => x.state === 'rejected')) expect(replicas.serversOf(e.id)).toEqual([]);
    void b;
  }, 180_000);
});
