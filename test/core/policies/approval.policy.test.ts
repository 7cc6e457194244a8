import { describe, expect, it } from 'vitest';
import {
  approvalExpiresAt,
  approversFor,
  mayApprove,
  needsApproval,
  NO_APPROVAL,
  type ApprovalPolicy,
  type ApprovalRequest,
} from '../../../src/core/policies/approval.policy.js';
import { estimateRequest } from '../../../src/core/policies/estimate.js';
import { parseSchedule, type Schedule } from '../../../src/core/schedule/schedule.js';
import { testTemplate } from '../../support/templates.js';

const schedule = (text: string): Schedule => {
  const parsed = parseSchedule(text, { now: new Date(0) });
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.schedule;
};

const policy: ApprovalPolicy = {
  rules: [
    // Either condition: over $200 a month, or more than 4 servers.
    { name: 'costly', monthlyCostOver: 200, serversOver: 4 },
    { name: 'gpu', instanceTypes: ['g5.xlarge'], templates: ['ml'] },
    { name: 'always on', neverSleeps: true },
  ],
  approvers: [
    { team: 'platform', users: ['U0LEAD', 'U0LEAD2'], userGroup: 'S0LEADS', channel: 'C0PLATFORM' },
    { team: 'solo', users: ['U0SOLO'], channel: 'C0SOLO' },
  ],
  defaultApprovers: { users: ['U0OPS', 'U0LEAD'], channel: 'C0OPS' },
  expiresHours: 24,
  selfApproval: false,
};

const weekdays = schedule('weekdays 08:00-18:30');
const request = (patch: Partial<ApprovalRequest> = {}): ApprovalRequest => ({ owner: 'U0DEV', template: 'api', instanceType: 't3.medium', count: 1, schedule: weekdays, ...patch });
const monthly = (monthlyUsd: number) => ({ monthlyUsd });

describe('needsApproval', () => {
  it('lets a small request through', () => {
    expect(needsApproval(request(), monthly(9.36), policy)).toEqual({ needed: false });
  });

  it('says why, in plain words with the figures: 4 × m5.xlarge every day 07:00-23:00 is $412.80 a month', () => {
    // Test price $0.215 a server: 4 × 0.215 = $0.86 an hour × 16 h = $13.76 a day × 30 = $412.80 a month.
    // One server: 0.215 × 16 × 30 = $103.20 a month, under the limit.
    const template = testTemplate({ instanceTypes: { 'm5.xlarge': 0.215 }, instanceType: 'm5.xlarge' });
    const everyDay = schedule('every day 07:00-23:00');
    const one = estimateRequest({ template, instanceType: 'm5.xlarge', count: 1, schedule: everyDay });
    expect(one.monthlyUsd).toBe(103.2);
    expect(needsApproval(request({ instanceType: 'm5.xlarge', count: 1, schedule: everyDay }), one, policy)).toEqual({ needed: false });
    const four = estimateRequest({ template, instanceType: 'm5.xlarge', count: 4, schedule: everyDay });
    expect(four.monthlyUsd).toBe(412.8);
    expect(needsApproval(request({ instanceType: 'm5.xlarge', count: 4, schedule: everyDay }), four, policy)).toEqual({
      needed: true,
      rules: [{ name: 'costly', reason: 'estimated $412.80 a month, over the $200 limit', conditions: [{ kind: 'monthlyCost', estimateUsd: 412.8, limitUsd: 200 }] }],
    });
  });

  it('triggers a rule when ANY of its conditions holds, and lists every condition that does', () => {
    const cheapButMany = needsApproval(request({ count: 5 }), monthly(50), policy);
    expect(cheapButMany).toMatchObject({ needed: true, rules: [{ name: 'costly', reason: '5 servers, over the limit of 4' }] });
    const both = needsApproval(request({ count: 6 }), monthly(250), policy);
    expect(both).toMatchObject({ needed: true, rules: [{ name: 'costly', reason: 'estimated $250.00 a month, over the $200 limit; 6 servers, over the limit of 4' }] });
  });

  it('lets a request exactly at a limit through: the limits are "over"', () => {
    expect(needsApproval(request({ count: 4 }), monthly(200), policy)).toEqual({ needed: false });
    expect(needsApproval(request({ count: 4 }), monthly(200.01), policy)).toMatchObject({ needed: true, rules: [{ reason: 'estimated $200.01 a month, over the $200 limit' }] });
  });

  it('matches instance types and templates', () => {
    expect(needsApproval(request({ instanceType: 'g5.xlarge' }), monthly(1), policy)).toMatchObject({ rules: [{ name: 'gpu', reason: 'the instance type g5.xlarge needs approval' }] });
    expect(needsApproval(request({ template: 'ml' }), monthly(1), policy)).toMatchObject({ rules: [{ name: 'gpu', reason: 'the template ml needs approval' }] });
  });

  it('catches a schedule that is off (with or without an end), not a window nor the default', () => {
    expect(needsApproval(request({ schedule: schedule('off') }), monthly(1), policy)).toMatchObject({
      rules: [{ name: 'always on', reason: 'its schedule is off, so it never sleeps', conditions: [{ kind: 'neverSleeps' }] }],
    });
    const capped = parseSchedule('off', { now: new Date('2026-11-24T18:00:00Z'), offCapDays: 7 });
    if (!capped.ok) throw new Error(capped.problem);
    expect(needsApproval(request({ schedule: capped.schedule }), monthly(1), policy)).toMatchObject({
      rules: [{ name: 'always on', reason: 'its schedule is off until 2026-12-01 18:00 UTC, so it does not sleep before then' }],
    });
    expect(needsApproval(request({ schedule: undefined }), monthly(1), policy)).toEqual({ needed: false });
  });

  it('lists every rule that triggers, in the order of the policy', () => {
    const decision = needsApproval(request({ instanceType: 'g5.xlarge', count: 8, schedule: schedule('off') }), monthly(900), policy);
    expect(decision.needed && decision.rules.map((r) => r.name)).toEqual(['costly', 'gpu', 'always on']);
  });

  it('never triggers without rules, or on a rule with no condition', () => {
    expect(needsApproval(request({ count: 20, schedule: schedule('off') }), monthly(1e6), NO_APPROVAL)).toEqual({ needed: false });
    expect(needsApproval(request({ count: 20 }), monthly(1e6), { rules: [{ name: 'empty' }, { name: 'false', neverSleeps: false }] })).toEqual({ needed: false });
  });

  it('writes its reasons in plain words, with no chat syntax', () => {
    const decision = needsApproval(request({ instanceType: 'g5.xlarge', count: 8, schedule: schedule('off') }), monthly(900), policy);
    for (const rule of decision.needed ? decision.rules : []) expect(rule.reason).not.toMatch(/[`*_<>]|:[a-z_]+:/);
  });
});

describe('approversFor', () => {
  const teams = { platform: ['U0DEV', 'U0LEAD', 'U0LEAD2'], data: ['U0DATA', 'U0DEV'], solo: ['U0SOLO', 'U0OTHER'] };

  it("gives the owner's team's approvers, with its user group and channel", () => {
    expect(approversFor('U0DEV', teams, policy)).toEqual({ users: ['U0LEAD', 'U0LEAD2'], userGroup: 'S0LEADS', channel: 'C0PLATFORM', team: 'platform' });
    expect(approversFor('U0OTHER', teams, policy)).toEqual({ users: ['U0SOLO'], channel: 'C0SOLO', team: 'solo' });
  });

  it('gives the default approvers to someone in no team, or in teams without approvers', () => {
    expect(approversFor('U0NEW', teams, policy)).toEqual({ users: ['U0OPS', 'U0LEAD'], channel: 'C0OPS' });
    expect(approversFor('U0DATA', teams, policy)).toEqual({ users: ['U0OPS', 'U0LEAD'], channel: 'C0OPS' });
  });

  it("never lists the owner: a lead's request goes to the team's other lead, a sole lead's to the default approvers", () => {
    expect(approversFor('U0LEAD', teams, policy)).toEqual({ users: ['U0LEAD2'], userGroup: 'S0LEADS', channel: 'C0PLATFORM', team: 'platform' });
    expect(approversFor('U0SOLO', teams, policy)).toEqual({ users: ['U0OPS', 'U0LEAD'], channel: 'C0OPS' });
    expect(approversFor('U0OPS', teams, policy)).toEqual({ users: ['U0LEAD'], channel: 'C0OPS' });
  });

  it('takes the first of several teams (in the order of the teams) that has approvers', () => {
    expect(approversFor('U0DEV', { data: teams.data, platform: teams.platform }, policy).team).toBe('platform');
    expect(approversFor('U0DEV', { solo: ['U0DEV'], platform: teams.platform }, policy).team).toBe('solo');
  });
});

describe('mayApprove', () => {
  const approvers = { users: ['U0LEAD', 'U0OPS'] };

  it('lets a listed approver approve', () => {
    expect(mayApprove('U0LEAD', { owner: 'U0DEV' }, approvers)).toEqual({ ok: true });
  });

  it('refuses anyone else', () => {
    expect(mayApprove('U0DEV2', { owner: 'U0DEV' }, approvers)).toEqual({ ok: false, reason: 'not-an-approver' });
  });

  it('refuses the owner, even when listed', () => {
    expect(mayApprove('U0LEAD', { owner: 'U0LEAD' }, approvers)).toEqual({ ok: false, reason: 'own-request' });
  });
});

describe('approvalExpiresAt', () => {
  it('is expiresHours after the question', () => {
    expect(approvalExpiresAt(new Date('2026-11-24T18:00:00Z'), { expiresHours: 24 }).toISOString()).toBe('2026-11-25T18:00:00.000Z');
  });
});
