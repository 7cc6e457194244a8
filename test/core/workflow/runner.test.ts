/**
 * The workflow runner and the flows on it, over in-memory ports on virtual
 * time: leases, fencing, takeovers, graceful stops, store outages. Each test
 * runs in milliseconds; the same behaviour is tested with real processes in
 * test/e2e/faults.process.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_ID } from '../../../src/core/environment/ids.js';
import { TRANSITIONAL_STATES, flowOf } from '../../../src/core/environment/lifecycle.js';
import { CoreWorld, LEASE_MS } from '../../support/fakes/core-world.js';

const request = (name: string, count = 2, requestId = `r-${name}`) => ({ name, template: 'api', count, owner: 'U0DEV', requestId });

describe('a flow on the runner', () => {
  it('takes a request to ready: one launch, each step sent once, the lease given up at the end', async () => {
    const w = new CoreWorld();
    const a = w.replica();
    const { environment, created } = await a.useCases.request.execute(request('api-one'));
    expect(created).toBe(true);
    expect(environment.id).toMatch(ENVIRONMENT_ID);
    expect(environment.lease).toMatchObject({ holder: a.workerId, token: 1 });
    await w.until('api-one', 'ready');
    const env = (await w.env('api-one'))!;
    expect(env.lease).toBeUndefined();
    expect(env.fence).toBe(1);
    expect(w.compute.launches).toBe(1);
    expect(w.commands.sentCount('prepare')).toBe(2);
    expect(w.commands.sentCount('install')).toBe(2);
    expect(a.notifier.states('api-one')).toEqual(['requested', 'provisioning', 'bootstrapping', 'ready']);
    expect(a.notifier.notes.map((n) => n.note)).toEqual(['ready']);
  });

  it('keeps its lease alive through a long step, so no sweep takes it over', async () => {
    const w = new CoreWorld({ stepMs: 5 * LEASE_MS });
    const a = w.replica();
    const b = w.replica();
    await a.useCases.request.execute(request('long-one', 1));
    for (let i = 0; i < 12; i++) {
      await w.clock.advance(LEASE_MS / 2);
      expect(await b.useCases.resume.execute()).toEqual([]);
    }
    await w.until('long-one', 'ready');
    expect((await w.env('long-one'))!.fence).toBe(1);
    expect(w.commands.sentCount('prepare')).toBe(1);
  });
});

describe('a worker paused past its lease, then resumed', () => {
  it('is fenced: the step it was waiting on runs once, its writes are refused, and it sends nothing more', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const a = w.replica('worker-a');
    const b = w.replica('worker-b');
    await a.useCases.request.execute(request('paused-one', 2));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 2, 60_000);
    expect(w.commands.sentCount('prepare')).toBe(2);

    // A stops running (a stalled VM, a debugger): it can no longer reach the store.
    a.link.setMode('paused');
    await w.clock.advance(LEASE_MS + 1000);
    // B's sweep takes over with a new token, and attaches to the commands A sent.
    expect(await b.useCases.resume.execute()).toEqual(['paused-one']);
    await w.settle();
    expect((await w.env('paused-one'))!.lease).toMatchObject({ holder: 'worker-b', token: 2 });
    expect(w.commands.sentCount('prepare')).toBe(2);

    // A wakes up while the step it waits on ends.
    const aSavesBefore = a.link.saves.length;
    a.link.setMode('up');
    w.commands.complete('prepare');
    await w.clock.runUntil(() => w.commands.sentCount('install') === 2, 60_000);
    w.commands.complete('install');
    await w.until('paused-one', 'ready');

    // Every step ran once; A's writes after the pause were all refused, and B finished it.
    expect(w.commands.sentCount('prepare')).toBe(2);
    expect(w.commands.sentCount('install')).toBe(2);
    expect(a.link.saves.slice(aSavesBefore).every((s) => !s.ok)).toBe(true);
    expect(b.link.saves.filter((s) => s.ok && s.state === 'ready')).toHaveLength(1);
    expect(a.notifier.progress.filter((e) => e.state === 'ready')).toHaveLength(0);
    expect(a.useCases.runner.size).toBe(0);
  });

  it('renews before acting: a worker that was paused but not taken over carries on', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const a = w.replica();
    await a.useCases.request.execute(request('alone-one', 1));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 1, 60_000);
    a.link.setMode('paused');
    await w.clock.advance(3 * LEASE_MS);
    a.link.setMode('up');
    w.commands.complete('prepare');
    await w.clock.runUntil(() => w.commands.sentCount('install') === 1, 60_000);
    w.commands.complete('install');
    await w.until('alone-one', 'ready');
    expect((await w.env('alone-one'))!.fence).toBe(1);
  });
});

describe('stops and crashes', () => {
  it('a graceful stop gives the lease back: another replica resumes at once, without waiting for it to lapse', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const a = w.replica();
    const b = w.replica();
    await a.useCases.request.execute(request('stopped-one', 1));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 1, 60_000);
    const stopping = a.useCases.runner.stop(10_000);
    await w.settle();
    await stopping;
    expect((await w.env('stopped-one'))!.lease).toBeUndefined();
    expect(await b.useCases.resume.execute()).toEqual(['stopped-one']);
    w.commands.complete('prepare');
    await w.clock.runUntil(() => w.commands.sentCount('install') === 1, 60_000);
    w.commands.complete('install');
    await w.until('stopped-one', 'ready');
    expect(w.commands.sentCount('prepare')).toBe(1);
  });

  it('a crash leaves the lease to lapse; the sweep resumes it after that, not before', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const a = w.replica();
    const b = w.replica();
    await a.useCases.request.execute(request('crashed-one', 1));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 1, 60_000);
    a.link.setMode('paused'); // A is gone for good: it never reaches the store again
    await w.clock.advance(LEASE_MS / 2);
    expect(await b.useCases.resume.execute()).toEqual([]);
    await w.clock.advance(LEASE_MS);
    expect(await b.useCases.resume.execute()).toEqual(['crashed-one']);
    w.commands.complete('prepare');
    await w.clock.runUntil(() => w.commands.sentCount('install') === 1, 60_000);
    w.commands.complete('install');
    await w.until('crashed-one', 'ready');
    expect(w.compute.launches).toBe(1);
  });

  it('two replicas sweeping at once: one takes it over', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const [a, b, c] = [w.replica(), w.replica(), w.replica()];
    await a!.useCases.request.execute(request('swept-one', 1));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 1, 60_000);
    a!.link.setMode('paused');
    await w.clock.advance(LEASE_MS + 1);
    const [rb, rc] = await Promise.all([b!.useCases.resume.execute(), c!.useCases.resume.execute()]);
    expect([...rb, ...rc]).toEqual(['swept-one']);
    expect((await w.env('swept-one'))!.fence).toBe(2);
  });
});

describe('the store unavailable', () => {
  it('briefly: the flow waits for it and goes on', async () => {
    const w = new CoreWorld({ stepMs: 2000 });
    const a = w.replica();
    await a.useCases.request.execute(request('blip-one', 1));
    await w.clock.advance(500);
    a.link.setMode('down');
    await w.clock.advance(5000);
    a.link.setMode('up');
    await w.until('blip-one', 'ready');
    expect((await w.env('blip-one'))!.fence).toBe(1);
  });

  it('longer than the lease: the flow stops, and is resumed once the store is back', async () => {
    const w = new CoreWorld({ stepMs: 2000 });
    const a = w.replica();
    await a.useCases.request.execute(request('outage-one', 1));
    await w.clock.advance(500);
    a.link.setMode('down');
    await w.clock.advance(2 * LEASE_MS);
    expect(a.useCases.runner.size).toBe(0);
    a.link.setMode('up');
    expect(await a.useCases.resume.execute()).toEqual(['outage-one']);
    await w.until('outage-one', 'ready');
    expect(w.compute.launches).toBe(1);
  });

  it('when a step fails during an outage, the failure is recorded once the store is back, and reported', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const a = w.replica();
    await a.useCases.request.execute(request('failing-one', 1));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 1, 60_000);
    a.link.setMode('down');
    w.commands.complete('prepare', { status: 'Failed', exitCode: 3, stdoutTail: '', stderrTail: 'no disk', durationMs: 10 });
    await w.clock.advance(3 * LEASE_MS);
    expect((await w.env('failing-one'))!.state).toBe('bootstrapping');
    a.link.setMode('up');
    await w.until('failing-one', 'failed');
    const env = (await w.env('failing-one'))!;
    expect(env.failure).toMatchObject({ step: 'bootstrap', from: 'bootstrapping', code: 'COMMAND.FAILED', retryable: true });
    expect(a.notifier.failures).toHaveLength(1);
    expect(a.notifier.alerts).toHaveLength(1);
  });
});

describe('people acting while a flow runs', () => {
  it('destroy takes the lease from provisioning: provisioning stops, nothing is left running', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const a = w.replica();
    const b = w.replica();
    const { environment } = await a.useCases.request.execute(request('doomed-one', 2));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 2, 60_000);
    const { started } = await b.useCases.destroy.execute({ name: 'doomed-one', id: environment.id }, 'U0DEV');
    expect(started).toBe(true);
    w.commands.complete('prepare');
    await w.until('doomed-one', 'destroyed');
    await w.clock.advance(5000);
    expect(w.compute.live(environment.id)).toHaveLength(0);
    expect(w.commands.sentCount('install')).toBe(0);
    expect(a.useCases.runner.size).toBe(0);
  });

  it('destroy on the same replica while the launch is in flight: what the launch brings back is terminated', async () => {
    const w = new CoreWorld();
    w.compute.launchMs = 5000;
    const a = w.replica();
    const { environment } = await a.useCases.request.execute(request('inflight-one', 2));
    await w.clock.advance(1000);
    expect(w.compute.launches).toBe(0);
    await a.useCases.destroy.execute({ name: 'inflight-one' }, 'U0DEV');
    await w.until('inflight-one', 'destroyed', 60_000);
    await w.clock.advance(30_000);
    expect(w.compute.launches).toBe(1);
    expect(w.compute.live(environment.id)).toHaveLength(0);
  });

  it('retry goes back to the state it failed in, and two clicks retry once', async () => {
    const w = new CoreWorld();
    w.commands.failing.add('install');
    const a = w.replica();
    const b = w.replica();
    await a.useCases.request.execute(request('retried-one', 1));
    await w.until('retried-one', 'failed');
    expect((await w.env('retried-one'))!.failure?.from).toBe('bootstrapping');
    w.commands.failing.clear();
    const results = await Promise.allSettled([a.useCases.retry.execute({ name: 'retried-one' }, 'U0DEV'), b.useCases.retry.execute({ name: 'retried-one' }, 'U0DEV')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { message: expect.stringMatching(/already being retried/) } });
    await w.until('retried-one', 'ready');
    expect(w.compute.launches).toBe(1);
    // `prepare` had finished: it is not run again; `install` runs again under the retry's key.
    expect(w.commands.sentCount('prepare')).toBe(1);
    expect(w.commands.sentCount('install')).toBe(2);
  });

  it('what a failing step printed is kept and shown with what looks like a secret hidden', async () => {
    const w = new CoreWorld();
    w.commands.failing.add('install');
    w.commands.failingOutput = 'connecting to postgres://app:hunter2@db/app\nDB_PASSWORD=hunter2\nfatal: auth failed';
    const a = w.replica();
    await a.useCases.request.execute(request('secret-one', 1));
    await w.until('secret-one', 'failed');
    const output = (await w.env('secret-one'))!.failure?.output ?? '';
    expect(output).toContain('fatal: auth failed');
    expect(output).not.toContain('hunter2');
  });

  it('a retry after the servers were lost launches a new set', async () => {
    const w = new CoreWorld();
    w.commands.failing.add('install');
    const a = w.replica();
    const { environment } = await a.useCases.request.execute(request('lost-one', 2));
    await w.until('lost-one', 'failed');
    await w.compute.terminate(w.compute.live(environment.id).slice(0, 1).map((i) => i.instanceId));
    w.commands.failing.clear();
    await a.useCases.retry.execute({ name: 'lost-one' }, 'U0DEV');
    await w.until('lost-one', 'ready');
    const env = (await w.env('lost-one'))!;
    expect(env.attempt).toBe(2);
    expect(w.compute.live(environment.id)).toHaveLength(2);
    expect(w.compute.live(environment.id).every((i) => i.attempt === 2)).toBe(true);
  });

  it('a button from an earlier environment of the same name acts on nothing', async () => {
    const w = new CoreWorld();
    const a = w.replica();
    const first = (await a.useCases.request.execute(request('reused-one', 1, 'r1'))).environment;
    await w.until('reused-one', 'ready');
    await a.useCases.destroy.execute({ name: 'reused-one', id: first.id }, 'U0DEV');
    await w.until('reused-one', 'destroyed');
    await a.useCases.request.execute(request('reused-one', 1, 'r2'));
    await w.until('reused-one', 'ready');
    await expect(a.useCases.destroy.execute({ name: 'reused-one', id: first.id }, 'U0DEV')).rejects.toMatchObject({ code: 'ENVIRONMENT.STALE_ACTION' });
    expect((await w.env('reused-one'))!.state).toBe('ready');
  });
});

describe('a write whose answer is lost', () => {
  it('a failure record that landed before its answer was lost is recognised, and the failure is reported', async () => {
    const w = new CoreWorld();
    w.commands.failing.add('install');
    const a = w.replica();
    a.link.failAfterSaveOf((e) => e.state === 'failed');
    await a.useCases.request.execute(request('lost-answer', 1));
    await w.until('lost-answer', 'failed');
    await w.clock.advance(5000);
    expect(a.notifier.failures.map((e) => e.name)).toEqual(['lost-answer']);
    expect(a.notifier.alerts.map((e) => e.name)).toEqual(['lost-answer']);
    expect(a.notifier.progress.at(-1)?.state).toBe('failed');
  });

  it('a click whose write landed before its answer was lost starts its flow', async () => {
    const w = new CoreWorld();
    const a = w.replica();
    await a.useCases.request.execute(request('lost-click', 1));
    await w.until('lost-click', 'ready');
    a.link.failAfterSaveOf((e) => e.state === 'destroying');
    const { started } = await a.useCases.destroy.execute({ name: 'lost-click' }, 'U0DEV');
    expect(started).toBe(true);
    await w.until('lost-click', 'destroyed', 60_000);
  });
});

describe('derived from the transition table', () => {
  it('the sweep resumes exactly the states whose flow the runner has', async () => {
    const w = new CoreWorld();
    const a = w.replica();
    const resumable = TRANSITIONAL_STATES.filter((s) => flowOf(s) === 'provision' || flowOf(s) === 'destroy');
    expect(resumable.sort()).toEqual(['bootstrapping', 'destroying', 'provisioning', 'requested']);
    await a.useCases.request.execute(request('table-one', 1));
    await w.until('table-one', 'ready');
    // A state whose flow is not built yet (saving → sleep) is left alone rather than run by the wrong flow.
    const env = (await w.env('table-one'))!;
    await w.store.save({ ...env, state: 'saving' });
    expect(await a.useCases.resume.execute()).toEqual([]);
  });
});
