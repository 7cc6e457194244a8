/**
 * A bot process that dies or is stopped while it bootstraps servers, and the
 * process that comes up after it: the work under way moves again within the
 * issue's bounds (60 s after kill -9, 10 s after a SIGTERM and a restart),
 * and ends ready (or failed, with an alert) with every step run once on
 * every server, no server launched twice and one message.
 *
 * Real processes (src/main.ts under node), one DynamoDB (dynalite) they share,
 * the local cloud's folders, the Slack double; the `slow` template's steps
 * really run and count themselves in each server's steps.log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectCleanEnd, logsWith, report, requestSlow, seconds, startReplicas, waitMidBootstrap, type Replicas } from '../support/replicas.js';

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('a bot process that goes away mid-bootstrap', () => {
  it('killed with SIGKILL: the next process takes the lapsed lease over within 60 s, and every step still runs once', async () => {
    r = await startReplicas();
    const a = await r.startBot('A');
    const env = await requestSlow(r, a, 'killed-one');
    const watch = r.watch(env.name);
    const linesAtKill = await waitMidBootstrap(r, env, r.workerOf(a));
    const atKill = (await r.environment(env.name))!;

    a.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Really mid-bootstrap: some steps had run, not all of them, and A held the lease.
    expect(linesAtKill).toBeGreaterThan(0);
    expect(linesAtKill).toBeLessThan(env.count * 3);
    expect(atKill).toMatchObject({ state: 'bootstrapping', lease: { holder: r.workerOf(a) } });

    // The restart (what a process manager does after a crash).
    const b = await r.startBot('B');
    const moved = await watch.until((s) => s.fence > atKill.fence && s.holder === r!.workerOf(b), {
      since: killedAt,
      timeoutMs: 90_000,
      what: 'B to take the environment over with a new token',
    });
    const resumeMs = moved.at - killedAt;
    const bListening = Number(b.logs().find((l) => l.msg === 'Dormouse is listening')!.time) - killedAt;
    report(`resume after kill -9: ${seconds(resumeMs)} (B was listening ${seconds(bListening)} after the kill)`);
    expect(resumeMs).toBeLessThanOrEqual(60_000);
    // It was taken over from where A left it, not restarted: still bootstrapping, no new launch.
    expect(moved.state).toBe('bootstrapping');
    expect(moved.token).toBe(atKill.fence + 1);
    // The sweep logs what it took over once it has looked at every state a flow works in: a moment after the write.
    await b.waitForLog((l) => l.msg === 'resumed environments whose worker stopped' && (l.resumed as string[]).includes(env.name), 10_000);

    const end = await expectCleanEnd(r, env.name);
    report(`kill -9: ${env.name} ended ${end.environment.state}; steps per server ${JSON.stringify(Object.values(end.steps))}`);
    await watch.until((s) => s.state === end.environment.state, { what: 'the watch to see where it ended' });
    // After the takeover, only B held it.
    expect(watch.samples.filter((s) => s.at > moved.at && s.holder !== undefined).every((s) => s.holder === r!.workerOf(b))).toBe(true);
    watch.stop();
  }, 180_000);

  it('stopped with SIGTERM: it gives its lease back and exits 0, and the restarted process resumes within 10 s', async () => {
    r = await startReplicas();
    const a = await r.startBot('A');
    const env = await requestSlow(r, a, 'stopped-one');
    const watch = r.watch(env.name);
    const linesAtStop = await waitMidBootstrap(r, env, r.workerOf(a));
    const atStop = (await r.environment(env.name))!;
    expect(atStop).toMatchObject({ state: 'bootstrapping', lease: { holder: r.workerOf(a) } });

    const stopping = Date.now();
    await a.stop(20_000);
    const stoppedAt = Date.now();
    // A graceful stop, not the SIGKILL `stop()` falls back to.
    expect(await a.exited).toEqual({ code: 0, signal: null });
    report(`SIGTERM: A exited 0 in ${seconds(stoppedAt - stopping)}`);
    expect(linesAtStop).toBeGreaterThan(0);
    expect(linesAtStop).toBeLessThan(env.count * 3);

    // It gave the lease back: its flow stopped for the stop, and the record has no lease (nothing to wait out).
    const stoppedFlow = logsWith(a, 'flow stopped: its lease is gone').filter((l) => l.environment === env.name);
    expect(stoppedFlow).toEqual([expect.objectContaining({ reason: 'stopping' })]);
    expect(logsWith(a, 'could not give the lease back; it lapses')).toEqual([]);
    const afterStop = (await r.environment(env.name))!;
    expect(afterStop.state).toBe('bootstrapping');
    expect(afterStop.lease).toBeUndefined();
    expect(afterStop.fence).toBe(atStop.fence);

    const restartAt = Date.now();
    const b = await r.startBot('B');
    const listeningAt = Number(b.logs().find((l) => l.msg === 'Dormouse is listening')!.time);
    const moved = await watch.until((s) => s.fence > atStop.fence && s.holder === r!.workerOf(b), {
      since: stoppedAt,
      timeoutMs: 60_000,
      what: 'B to resume the environment',
    });
    report(`resume after SIGTERM: ${seconds(moved.at - listeningAt)} after B was listening (${seconds(moved.at - restartAt)} after the restart began)`);
    expect(moved.at - listeningAt).toBeLessThanOrEqual(10_000);
    expect(moved.state).toBe('bootstrapping');

    const end = await expectCleanEnd(r, env.name);
    report(`SIGTERM: ${env.name} ended ${end.environment.state}; steps per server ${JSON.stringify(Object.values(end.steps))}`);
    watch.stop();
  }, 150_000);
});
