/**
 * What every ComputePort must do, whatever cloud is behind it (EC2, the
 * sandbox's local cloud): one suite, run against each adapter by
 * compute.contract.test.ts. What only one adapter can show (EC2's error
 * translation, the local cloud's faults) stays in that adapter's own tests.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isDomainError } from '../../src/core/environment/errors.js';
import { newEnvironmentId } from '../../src/core/environment/ids.js';
import type { ComputePort, LaunchRequest } from '../../src/core/ports/compute.port.js';

export interface ComputeHarness {
  compute: ComputePort;
  /** A launch request for a new environment (an id and a name no other test uses), with 2 servers unless overridden. */
  request(overrides?: Partial<LaunchRequest>): LaunchRequest;
  /** How many servers the cloud holds for this environment id, in any state: seen directly, not through the adapter. */
  countServers(environmentId: string): Promise<number>;
  /** Long enough for servers to start or end on this cloud. */
  timeoutMs: number;
  /** Launches a server without Dormouse's tags, straight on the cloud, and returns its id (where the cloud can hold one). */
  launchUnmanaged?(): Promise<string>;
  close?(): Promise<void>;
}

/** An id of the shape the core gives environments (ULID-like, 26 characters). */
export function freshEnvironmentId(): string {
  return newEnvironmentId(new Date());
}

/** A server id no cloud has: the shape of EC2's, accepted by the local cloud too. */
export const UNKNOWN_INSTANCE = 'i-0000000000dead000';

/** The domain error a promise rejects with (failing the test if it resolves, or rejects with anything else). */
export async function domainErrorOf(promise: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown>; retryable: boolean }> {
  const error = await promise.then(
    () => expect.fail('expected a DomainError, but it resolved'),
    (e: unknown) => e,
  );
  if (!isDomainError(error)) throw error;
  return error;
}

export function computeContract(name: string, setUp: () => Promise<ComputeHarness>): void {
  describe(`ComputePort contract: ${name}`, () => {
    let h: ComputeHarness;

    beforeEach(async () => {
      h = await setUp();
    });
    afterEach(async () => {
      await h.close?.();
    });

    const ids = (instances: readonly { instanceId: string }[]) => instances.map((i) => i.instanceId);

    it('launches `count` servers numbered 0 … count-1, which run with private IPs once waited for', async () => {
      const request = h.request({ count: 3 });
      const launched = await h.compute.launch(request);

      expect(launched.map((i) => i.index)).toEqual([0, 1, 2]);
      expect(launched.every((i) => i.attempt === request.attempt)).toBe(true);
      expect(new Set(ids(launched)).size).toBe(3);

      const running = await h.compute.waitUntilRunning(ids(launched), { timeoutMs: h.timeoutMs });
      expect(ids(running).sort()).toEqual(ids(launched).sort());
      for (const server of running) {
        expect(server.state).toBe('running');
        expect(server.privateIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      }
      expect(new Set(running.map((i) => i.privateIp)).size).toBe(3);
      expect(await h.countServers(request.environmentId)).toBe(3);
    });

    it('launches nothing for an environment id and attempt launched before: it returns those servers', async () => {
      const request = h.request();
      const first = await h.compute.launch(request);
      expect(await h.countServers(request.environmentId)).toBe(2);

      const again = await h.compute.launch(request);
      const atOnce = await Promise.all([h.compute.launch(request), h.compute.launch(request)]);

      expect(ids(again)).toEqual(ids(first));
      for (const servers of atOnce) expect(ids(servers)).toEqual(ids(first));
      expect(await h.countServers(request.environmentId)).toBe(2);
    });

    it('launches a new set for the next attempt of the same environment', async () => {
      const first = h.request();
      const firstServers = await h.compute.launch(first);
      const second = await h.compute.launch({ ...first, attempt: 2, idempotencyKey: `${first.idempotencyKey}-2` });

      expect(second.map((i) => i.attempt)).toEqual([2, 2]);
      expect(ids(second).some((id) => ids(firstServers).includes(id))).toBe(false);
      expect(await h.countServers(first.environmentId)).toBe(4);
    });

    it('never gives a reused name the servers of the environment that had it before, nor the other way round', async () => {
      const old = h.request();
      const reused = h.request({ environment: old.environment, attempt: old.attempt });
      expect(reused.environmentId).not.toBe(old.environmentId);

      const oldServers = await h.compute.launch(old);
      const newServers = await h.compute.launch(reused);

      expect(ids(newServers).some((id) => ids(oldServers).includes(id))).toBe(false);
      expect(ids(await h.compute.findByEnvironment(reused.environmentId)).sort()).toEqual(ids(newServers).sort());
      expect(ids(await h.compute.findByEnvironment(old.environmentId)).sort()).toEqual(ids(oldServers).sort());
      expect(await h.compute.findByEnvironment(freshEnvironmentId())).toEqual([]);
    });

    it('finds an environment\'s servers, leaving terminated ones out', async () => {
      const request = h.request();
      const [kept, ended] = await h.compute.launch(request);
      await h.compute.waitUntilRunning([kept!.instanceId, ended!.instanceId], { timeoutMs: h.timeoutMs });

      await h.compute.terminate([ended!.instanceId]);
      await h.compute.waitUntilTerminated([ended!.instanceId], { timeoutMs: h.timeoutMs });

      const found = await h.compute.findByEnvironment(request.environmentId);
      expect(found.map((i) => [i.instanceId, i.index, i.state])).toEqual([[kept!.instanceId, kept!.index, 'running']]);
    });

    it('terminates idempotently, accepting servers already gone and ids it does not know', async () => {
      const launched = await h.compute.launch(h.request());
      const [a, b] = ids(launched);
      await h.compute.waitUntilRunning([a!, b!], { timeoutMs: h.timeoutMs });

      await h.compute.terminate([a!]);
      await h.compute.waitUntilTerminated([a!], { timeoutMs: h.timeoutMs });
      await h.compute.terminate([a!]);
      await h.compute.terminate([UNKNOWN_INSTANCE, a!, b!]);
      await h.compute.terminate([]);

      await h.compute.waitUntilTerminated([a!, b!, UNKNOWN_INSTANCE], { timeoutMs: h.timeoutMs });
    });

    it('stops servers, which keep being found, and starts them again with the same private IPs', async () => {
      const request = h.request();
      const launched = ids(await h.compute.launch(request));
      const running = await h.compute.waitUntilRunning(launched, { timeoutMs: h.timeoutMs });
      const ipOf = (list: readonly { instanceId: string; privateIp?: string }[]) =>
        Object.fromEntries(list.map((i) => [i.instanceId, i.privateIp]));

      await h.compute.stop(launched);
      const polls: unknown[] = [];
      await h.compute.waitUntilStopped(launched, { timeoutMs: h.timeoutMs, onPoll: (i) => polls.push(i) });
      expect(polls.length).toBeGreaterThan(0);
      const asleep = await h.compute.findByEnvironment(request.environmentId);
      expect(asleep.map((i) => [i.instanceId, i.state])).toEqual(launched.map((id) => [id, 'stopped']));
      expect(await h.compute.waitUntilStopped(launched, { timeoutMs: h.timeoutMs })).toBeUndefined();

      await h.compute.start(launched);
      const again = await h.compute.waitUntilRunning(launched, { timeoutMs: h.timeoutMs });
      expect(again.map((i) => i.state)).toEqual(['running', 'running']);
      expect(ipOf(again)).toEqual(ipOf(running));
      expect(ids(await h.compute.findByEnvironment(request.environmentId))).toEqual(launched);
      expect(await h.countServers(request.environmentId)).toBe(2);
    });

    it('stops and starts idempotently: a stopped server stopped again, a running one started again, no ids at all', async () => {
      const launched = ids(await h.compute.launch(h.request()));
      await h.compute.waitUntilRunning(launched, { timeoutMs: h.timeoutMs });

      await h.compute.start(launched);
      await h.compute.stop(launched);
      await h.compute.stop(launched);
      await h.compute.waitUntilStopped(launched, { timeoutMs: h.timeoutMs });
      await h.compute.stop(launched);
      await h.compute.stop([]);
      await h.compute.start([]);
      await h.compute.waitUntilStopped([], { timeoutMs: h.timeoutMs });

      await h.compute.start(launched);
      await h.compute.start(launched);
      await h.compute.waitUntilRunning(launched, { timeoutMs: h.timeoutMs });
      await h.compute.start(launched);
      const running = await h.compute.waitUntilRunning(launched, { timeoutMs: h.timeoutMs });
      expect(running.map((i) => i.state)).toEqual(['running', 'running']);
    });

    it('refuses to stop or start a terminated server (COMPUTE.INSTANCE_LOST), leaving the others as they were', async () => {
      const request = h.request();
      const [ended, kept] = ids(await h.compute.launch(request));
      await h.compute.waitUntilRunning([ended!, kept!], { timeoutMs: h.timeoutMs });
      await h.compute.terminate([ended!]);
      await h.compute.waitUntilTerminated([ended!], { timeoutMs: h.timeoutMs });

      // One at a time: a second call made before the first is awaited would reject with no handler yet.
      for (const attempt of [() => h.compute.stop([kept!, ended!]), () => h.compute.start([ended!])]) {
        const error = await domainErrorOf(attempt());
        expect(error.code).toBe(ErrorCodes.INSTANCE_LOST);
        expect(error.details).toMatchObject({ instanceId: ended, state: 'terminated' });
      }
      expect((await domainErrorOf(h.compute.stop([UNKNOWN_INSTANCE]))).code).toBe(ErrorCodes.INSTANCE_LOST);
      expect((await domainErrorOf(h.compute.start([UNKNOWN_INSTANCE]))).code).toBe(ErrorCodes.INSTANCE_LOST);

      // Nothing was stopped, and the terminated one stayed terminated.
      const found = await h.compute.findByEnvironment(request.environmentId);
      expect(found.map((i) => [i.instanceId, i.state])).toEqual([[kept, 'running']]);
      await h.compute.waitUntilTerminated([ended!], { timeoutMs: h.timeoutMs });
      const lost = await domainErrorOf(h.compute.waitUntilStopped([ended!], { timeoutMs: h.timeoutMs }));
      expect(lost.code).toBe(ErrorCodes.INSTANCE_LOST);
    });

    it('lists every managed server with its tags, type, image and index, terminated ones included, and nothing untagged', async () => {
      const request = h.request({ count: 2, tags: { project: 'contract' } });
      const [kept, ended] = await h.compute.launch(request);
      await h.compute.waitUntilRunning([kept!.instanceId, ended!.instanceId], { timeoutMs: h.timeoutMs });
      await h.compute.terminate([ended!.instanceId]);
      await h.compute.waitUntilTerminated([ended!.instanceId], { timeoutMs: h.timeoutMs });
      const unmanaged = await h.launchUnmanaged?.();

      const listed = await h.compute.listManaged();
      const ours = listed.filter((i) => i.environmentId === request.environmentId);
      expect(ours.map((i) => i.instanceId).sort()).toEqual([kept!.instanceId, ended!.instanceId].sort());
      for (const server of ours) {
        expect(server).toMatchObject({
          environment: request.environment,
          owner: request.owner,
          attempt: request.attempt,
          instanceType: request.instanceType,
          imageId: request.image,
          tags: expect.objectContaining({
            'managed-by': 'dormouse',
            'dormouse:environment-id': request.environmentId,
            'dormouse:environment': request.environment,
            'dormouse:owner': request.owner,
            'dormouse:template': request.template,
            'dormouse:attempt': String(request.attempt),
            project: 'contract',
          }),
        });
        expect(Number.isNaN(Date.parse(server.launchedAt))).toBe(false);
      }
      const byId = new Map(ours.map((i) => [i.instanceId, i]));
      expect(byId.get(kept!.instanceId)).toMatchObject({ state: 'running', index: kept!.index });
      expect(byId.get(ended!.instanceId)).toMatchObject({ state: 'terminated', index: ended!.index });
      expect(listed.every((i) => i.tags['managed-by'] === 'dormouse')).toBe(true);
      if (unmanaged !== undefined) expect(listed.map((i) => i.instanceId)).not.toContain(unmanaged);
    });

    it('launches a replacement once: one server with the index it replaces, never returned to a launch of the set', async () => {
      const request = h.request({ count: 2 });
      const originals = await h.compute.launch(request);
      // The same attempt and even the same idempotency key as the set: the replacement must still be its own launch.
      const repair = { ...request, count: 1, replacement: { index: 1, serial: 1 } };

      const [replacement, ...more] = await h.compute.launch(repair);
      expect(more).toEqual([]);
      expect(replacement).toMatchObject({ index: 1, attempt: request.attempt });
      expect(ids(originals)).not.toContain(replacement!.instanceId);

      expect(ids(await h.compute.launch(repair))).toEqual([replacement!.instanceId]);
      for (const again of await Promise.all([h.compute.launch(repair), h.compute.launch(repair)])) {
        expect(ids(again)).toEqual([replacement!.instanceId]);
      }
      expect(await h.countServers(request.environmentId)).toBe(3);

      const indexes = (list: readonly { instanceId: string; index: number }[]) =>
        Object.fromEntries(list.map((i) => [i.instanceId, i.index]));
      const found = await h.compute.findByEnvironment(request.environmentId);
      expect(indexes(found)).toEqual({ ...indexes(originals), [replacement!.instanceId]: 1 });
      const running = await h.compute.waitUntilRunning([replacement!.instanceId], { timeoutMs: h.timeoutMs });
      expect(running.map((i) => [i.instanceId, i.index, i.state])).toEqual([[replacement!.instanceId, 1, 'running']]);
      const managed = (await h.compute.listManaged()).find((i) => i.instanceId === replacement!.instanceId);
      expect(managed).toMatchObject({ index: 1, attempt: request.attempt, tags: expect.objectContaining({ 'dormouse:index': '1', 'dormouse:replacement': '1.1' }) });

      // A launch of the set (a retried provision of that attempt) still finds only the set, and launches nothing.
      expect(ids(await h.compute.launch(request)).sort()).toEqual(ids(originals).sort());
      expect(await h.countServers(request.environmentId)).toBe(3);

      // Whatever became of it, that replacement is the one returned; the next serial is a new server.
      await h.compute.terminate([replacement!.instanceId]);
      expect(ids(await h.compute.launch(repair))).toEqual([replacement!.instanceId]);
      const [next] = await h.compute.launch({ ...repair, replacement: { index: 1, serial: 2 } });
      expect(next).toMatchObject({ index: 1 });
      expect(next!.instanceId).not.toBe(replacement!.instanceId);
      expect(await h.countServers(request.environmentId)).toBe(4);
    });

    it('refuses a replacement of more than one server (COMPUTE.LAUNCH_FAILED), launching nothing', async () => {
      const request = h.request({ count: 2, replacement: { index: 0, serial: 1 } });
      const error = await domainErrorOf(h.compute.launch(request));
      expect(error.code).toBe(ErrorCodes.LAUNCH_FAILED);
      expect(await h.countServers(request.environmentId)).toBe(0);
    });

    it('stops waiting, with the signal\'s reason, when the signal is aborted', async () => {
      const launched = await h.compute.launch(h.request());
      const reason = new Error('the flow lost its lease');
      const polls: unknown[] = [];
      const options = { timeoutMs: h.timeoutMs, signal: AbortSignal.abort(reason), onPoll: (i: unknown) => polls.push(i) };

      await expect(h.compute.waitUntilRunning(ids(launched), options)).rejects.toBe(reason);
      await h.compute.stop(ids(launched));
      await expect(h.compute.waitUntilStopped(ids(launched), options)).rejects.toBe(reason);
      await h.compute.terminate(ids(launched));
      await expect(h.compute.waitUntilTerminated(ids(launched), options)).rejects.toBe(reason);
      expect(polls).toEqual([]);
    });
  });
}
