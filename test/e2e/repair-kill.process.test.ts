/**
 * A repair under faults, with real bot processes on one store and one local
 * cloud (test/support/replicas.ts):
 *
 * - the process repairing a lost server is killed (SIGKILL) while the new
 *   server bootstraps: the next process resumes the repair on that same
 *   replacement (no second launch), finishes its steps, and leaves the
 *   healthy server alone;
 * - the Repair click delivered to two replicas at once starts one repair;
 * - the alert is posted though Slack answers 500 and then 429 when it is
 *   first asked: once, not twice.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { visibleText, type SlackMessage } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { report, seconds, startReplicas, type Replicas } from '../support/replicas.js';

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

interface ButtonBlock {
  type: string;
  elements?: { action_id: string; text?: { text: string } }[];
}

const alertAbout = (r: Replicas, key: string): SlackMessage[] => r.double.channelMessages('C0OPS').filter((m) => visibleText(m).includes(key));

function repairAction(alert: SlackMessage) {
  const button = (alert.blocks as unknown as ButtonBlock[]).find((b) => b.type === 'actions')?.elements?.find((e) => e.text?.text === 'Repair');
  if (!button) throw new Error('the alert has no Repair button');
  return { user: 'U0OPS', location: { type: 'message' as const, channel: alert.channel, ts: alert.ts }, blockId: 'drift_actions', actionId: button.action_id };
}

describe('a repair under faults', () => {
  it('SIGKILL while the replacement bootstraps: the next process resumes it on the same server; the healthy one is untouched; the Repair click on two replicas starts one repair', async () => {
    r = await startReplicas();
    const env = { DORMOUSE_LEASE_SECONDS: '10', DORMOUSE_SWEEP_SECONDS: '2', DORMOUSE_RECONCILE_SECONDS: '2', DORMOUSE_RECONCILE_GRACE_SECONDS: '0' };
    const a = await r.startBot('A', env);
    const b = await r.startBot('B', env);
    r.double.setEventsUrl(a.eventsUrl);
    // Slack fails the first alert: a 500 then a 429; the next tick posts it, once.
    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new mend-kill --template slow --count 2' });
    const ready = await r.waitForEnvironment('mend-kill', (e) => e.state === 'ready', 90_000, 'ready');
    const [healthy, lost] = ready.servers;
    const healthySteps = r.stepsLog(healthy!.instanceId);

    r.double.failNext({ method: 'chat.postMessage', status: 500, times: 1 });
    r.double.failNext({ method: 'chat.postMessage', status: 429, times: 1 });
    await new LocalCloud({ rootDir: join(r.dir, 'cloud'), clock: systemClock }).terminate([lost!.instanceId]);
    const key = `ghost:${ready.id}:1`;
    const alert = await r.double.waitFor(() => alertAbout(r!, key)[0], { timeoutMs: 30_000, what: 'the ghost alert' });

    // Ops press Repair; Slack delivers the click to both replicas.
    const click = await r.capture(() => r!.double.sendBlockAction(repairAction(alert)));
    const answers = await r.deliverTo([a, b], click);
    expect(answers.map((x) => x.status)).toEqual([200, 200]);
    const bootstrapping = await r.waitForEnvironment(
      'mend-kill',
      (e) => e.state === 'repairing' && e.servers.some((s) => s.index === 1 && s.replacement === 1 && s.lastStep === 'one'),
      60_000,
      'the replacement past its first step',
    );
    const holder = bootstrapping.lease?.holder;
    const victim = holder === r.workerOf(a) ? a : b;
    const survivor = victim === a ? b : a;
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.exited;
    r.double.setEventsUrl(survivor.eventsUrl);

    const repaired = await r.waitForEnvironment('mend-kill', (e) => e.state === 'ready' && e.repaired !== undefined, 90_000, 'repaired after the kill');
    report(`repair resumed after kill -9: ready ${seconds(Date.now() - killedAt)} after the kill`);
    const replacement = repaired.servers.find((s) => s.index === 1)!;
    expect(replacement.instanceId).toBe(bootstrapping.servers.find((s) => s.index === 1)!.instanceId);
    // One replacement launched, whatever the two clicks and the kill: the environment's servers are the two
    // originals and that one.
    expect(r.serversOf(ready.id).map((s) => s.instanceId).sort()).toEqual([healthy!.instanceId, lost!.instanceId, replacement.instanceId].sort());
    // The replacement ran each step, the one under way at the kill at most twice; the healthy server ran nothing more.
    const counts = r.stepCounts(replacement.instanceId);
    expect(counts.one).toBe(1);
    expect(counts.two).toBeGreaterThanOrEqual(1);
    expect(counts.two).toBeLessThanOrEqual(2);
    expect(counts.three).toBe(1);
    expect(r.stepsLog(healthy!.instanceId)).toEqual(healthySteps);
    expect((await r.events('mend-kill')).filter((e) => e.type === 'repair:requested')).toHaveLength(1);
    // One alert, now resolved.
    await r.double.waitFor(() => alertAbout(r!, key).every((m) => visibleText(m).includes('RESOLVED')) && alertAbout(r!, key).length === 1, { timeoutMs: 30_000, what: 'the alert resolved' });
    expect(alertAbout(r, key)).toHaveLength(1);
  }, 300_000);
});
