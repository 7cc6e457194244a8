/**
 * The runner carries the correlation id of whoever started a flow into the
 * flow (to its last cloud call), stores it on the environment, and a flow
 * taken over by another replica keeps it.
 */
import { describe, expect, it } from 'vitest';
import { CORRELATION_ID, currentCorrelationId, withCorrelation } from '../../../src/core/ports/correlation.js';
import { CoreWorld, LEASE_MS } from '../../support/fakes/core-world.js';

const request = (name: string, count = 1) => ({ name, template: 'api', count, owner: 'U0DEV', requestId: `r-${name}` });

/** Records the correlation id under which each cloud call is made. */
function spy(w: CoreWorld): Array<{ call: string; correlationId: string | undefined }> {
  const calls: Array<{ call: string; correlationId: string | undefined }> = [];
  const wrap = <T extends object>(target: T, method: keyof T & string, call: string = method) => {
    const original = (target[method] as (...a: unknown[]) => unknown).bind(target);
    (target as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls.push({ call, correlationId: currentCorrelationId() });
      return original(...args);
    };
  };
  wrap(w.compute, 'launch');
  wrap(w.compute, 'terminate');
  wrap(w.commands, 'run', 'command');
  return calls;
}

describe('correlation ids on the runner', () => {
  it('a request started under an id: stored on the environment, and every cloud call of its flow runs under it, after the request returned', async () => {
    const w = new CoreWorld();
    const calls = spy(w);
    const a = w.replica();
    const { environment } = await withCorrelation('c-00000000000a', () => a.useCases.request.execute(request('traced-one', 2)));
    expect(environment.correlationId).toBe('c-00000000000a');
    await w.until('traced-one', 'ready');
    expect((await w.env('traced-one'))!.correlationId).toBe('c-00000000000a');
    expect(calls.map((c) => c.call)).toEqual(expect.arrayContaining(['launch', 'command']));
    expect(new Set(calls.map((c) => c.correlationId))).toEqual(new Set(['c-00000000000a']));
  });

  it('a flow started outside any correlation gets an id of its own, stored with it', async () => {
    const w = new CoreWorld();
    const calls = spy(w);
    const a = w.replica();
    await a.useCases.request.execute(request('untraced-one'));
    await w.until('untraced-one', 'ready');
    const id = (await w.env('untraced-one'))!.correlationId;
    expect(id).toMatch(CORRELATION_ID);
    expect(new Set(calls.map((c) => c.correlationId))).toEqual(new Set([id]));
  });

  it('a flow taken over by another replica (the sweep, under its own id) keeps the id of the request that started it', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const calls = spy(w);
    const a = w.replica('worker-a');
    const b = w.replica('worker-b');
    await withCorrelation('c-00000000000a', () => a.useCases.request.execute(request('moved-one', 1)));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 1, 60_000);
    a.link.setMode('paused');
    await w.clock.advance(LEASE_MS + 1000);
    expect(await withCorrelation('c-0000000sweep', () => b.useCases.resume.execute())).toEqual(['moved-one']);
    await w.settle();
    const taken = (await w.env('moved-one'))!;
    expect(taken.lease).toMatchObject({ holder: 'worker-b', token: 2 });
    expect(taken.correlationId).toBe('c-00000000000a');
    const fromB = calls.length;
    w.commands.complete('prepare');
    await w.clock.runUntil(() => w.commands.sentCount('install') === 1, 60_000);
    w.commands.complete('install');
    await w.until('moved-one', 'ready');
    a.link.setMode('up');
    expect(calls.slice(fromB).map((c) => c.correlationId)).toEqual(calls.slice(fromB).map(() => 'c-00000000000a'));
    expect(calls.slice(fromB).length).toBeGreaterThan(0);
  });

  it('a flow someone else starts later (destroy) runs under their id, not the first request’s', async () => {
    const w = new CoreWorld({ manualCommands: true });
    const calls = spy(w);
    const a = w.replica();
    const { environment } = await withCorrelation('c-00000000000a', () => a.useCases.request.execute(request('doomed-one', 1)));
    await w.clock.runUntil(() => w.commands.sentCount('prepare') === 1, 60_000);
    await withCorrelation('c-00000000000d', () => a.useCases.destroy.execute({ name: 'doomed-one', id: environment.id }, 'U0DEV'));
    expect((await w.env('doomed-one'))!.correlationId).toBe('c-00000000000d');
    w.commands.complete('prepare');
    await w.until('doomed-one', 'destroyed');
    expect(calls.filter((c) => c.call === 'terminate').map((c) => c.correlationId)).toEqual(expect.arrayContaining(['c-00000000000d']));
    expect(calls.filter((c) => c.call === 'terminate').every((c) => c.correlationId === 'c-00000000000d')).toBe(true);
    expect(calls.find((c) => c.call === 'launch')?.correlationId).toBe('c-00000000000a');
  });
});
