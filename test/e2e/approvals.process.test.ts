/**
 * Approvals across real bot processes on one store (test/support/replicas.ts),
 * with the policy of test/fixtures/policy/approvals.yml: an Approve click
 * while the store is unreachable is told so and changes nothing; the same
 * click then delivered to both replicas at once gives one decision and one
 * launch.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { report, startReplicas, type Replicas } from '../support/replicas.js';

const POLICY = { DORMOUSE_POLICY: join(import.meta.dirname, '..', 'fixtures', 'policy', 'approvals.yml'), DORMOUSE_TEAMS: 'platform=U0DEV,U0LEAD' };

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('approvals on two replicas', () => {
  it('an Approve while the store is unreachable is told so and changes nothing; the same click to both replicas at once: one decision, one launch', async () => {
    r = await startReplicas();
    const replicas = r;
    const a = await replicas.startBot('A', POLICY);
    const b = await replicas.startBot('B', POLICY);
    replicas.double.setEventsUrl(a.eventsUrl);
    // slow: 2 × t3.small at $0.0208 → $9.36 a month on the default schedule, over the $5 of `costly`.
    await replicas.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new held --template slow --count 2' });
    const waiting = await replicas.waitForEnvironment('held', (e) => e.state === 'awaiting_approval', 15_000, 'awaiting approval');
    await replicas.double.waitFor(() => replicas.messagesAbout('C0OPS', 'held').find((m) => JSON.stringify(m).includes('"text":"Approve"')), { timeoutMs: 10_000, what: "the approvers' message" });
    const click = await replicas.capture(() => replicas.double.clickButton({ user: 'U0LEAD', label: 'Approve', channel: 'C0OPS' }));

    // The store unreachable: the approver hears that, and what they asked did not happen.
    replicas.proxy.setMode('refuse');
    const [down] = await replicas.deliverTo([b], click);
    expect(down!.status).toBe(200);
    const told = await replicas.double.waitFor(() => replicas.double.ephemerals('U0LEAD').map((m) => visibleText(m)).find((t) => /could not reach its database/.test(t)), { timeoutMs: 30_000, what: 'the approver told the store is down' });
    report(`approvals, store down: the approver was told "${told.slice(0, 120)}"`);
    replicas.proxy.setMode('pass');
    // Unchanged, as far as the decision goes (the leader's tick may have written its timers meanwhile).
    const after = await replicas.environment('held');
    expect(after).toMatchObject({ id: waiting.id, state: 'awaiting_approval' });
    expect(after?.approval?.decision).toBeUndefined();
    expect((await replicas.events('held')).filter((e) => e.type.startsWith('approval:') && e.type !== 'approval:asked')).toEqual([]);

    // Back: the same click to both at once.
    const both = await replicas.deliverTo([a, b], click);
    expect(both.every((x) => x.status === 200)).toBe(true);
    const ready = await replicas.waitForEnvironment('held', (e) => e.state === 'ready', 60_000, 'ready');
    expect(ready.approval?.decision).toMatchObject({ outcome: 'approved', by: 'U0LEAD' });
    expect((await replicas.events('held')).filter((e) => e.type === 'approval:approved')).toHaveLength(1);
    expect(replicas.serversOf(ready.id).map((s) => s.attempt)).toEqual([1, 1]);
    await replicas.double.waitFor(() => replicas.double.ephemerals('U0LEAD').map((m) => visibleText(m)).find((t) => /already approved by <@U0LEAD>/.test(t)), { timeoutMs: 10_000, what: 'the second delivery told it was already approved' });
    const approvals = replicas.messagesAbout('C0OPS', 'held').filter((m) => visibleText(m).includes('Approval: held'));
    expect(approvals).toHaveLength(1);
    expect(visibleText(approvals[0]!)).toMatch(/Approved\* by <@U0LEAD>/);
  }, 120_000);
});
