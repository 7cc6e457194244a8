/**
 * The permissions matrix (src/core/policies/permissions.ts), row by row, as
 * the README states it: developer (own environments), team lead (their
 * team's environments; approves for their team), admin (everything), ops
 * (acts on alerts: retry or destroy a failed environment); nobody decides on
 * their own request.
 */
import { describe, expect, it } from 'vitest';
import { SCHEDULE_ACTOR, type ApprovalState } from '../../../src/core/environment/environment.js';
import { DomainError } from '../../../src/core/environment/errors.js';
import type { EnvironmentState } from '../../../src/core/environment/lifecycle.js';
import { assertMay, may, rolesOf, type Access, type Verb } from '../../../src/core/policies/permissions.js';

const access: Access = {
  admins: ['U0ADMIN'],
  ops: ['U0OPS'],
  teams: { platform: ['U0DEV', 'U0LEAD', 'U0DEV2'], data: ['U0DATA'] },
  leads: { platform: ['U0LEAD'], data: ['U0DATALEAD'] },
};
const approval: ApprovalState = {
  rules: [{ name: 'costly', reason: 'over' }],
  approvers: { users: ['U0LEAD'], channel: 'C0OPS', team: 'platform' },
  estimate: { hourlyUsd: 1, dailyUsd: 1, monthlyUsd: 30 },
  askedAt: '2026-12-01T09:00:00Z',
  expiresAt: '2026-12-02T09:00:00Z',
};
const env = (owner: string, state: EnvironmentState = 'ready') => ({ name: 'api', owner, state, ...(state === 'awaiting_approval' ? { approval } : {}) });

const MANAGE: Verb[] = ['destroy', 'retry', 'put to sleep', 'save the data of', 'wake', 'restore', 'change the schedule of', 'postpone the sleep of', 'keep', 'cancel'];

describe('the permissions matrix', () => {
  it('roles: everyone is a developer; leads approve for a team; admins and ops are listed', () => {
    expect(rolesOf('U0DEV', access)).toEqual(['developer']);
    expect(rolesOf('U0LEAD', access)).toEqual(['developer', 'lead']);
    expect(rolesOf('U0ADMIN', access)).toEqual(['developer', 'admin']);
    expect(rolesOf('U0OPS', access)).toEqual(['developer', 'ops']);
  });

  it.each(MANAGE)('%s: the owner, a lead of the owner’s team, an admin and the schedule may; another developer, another team’s lead may not', (verb) => {
    const e = env('U0DEV');
    expect(may(access, 'U0DEV', verb, e)).toBe(true);
    expect(may(access, 'U0LEAD', verb, e)).toBe(true);
    expect(may(access, 'U0ADMIN', verb, e)).toBe(true);
    expect(may(access, SCHEDULE_ACTOR, verb, e)).toBe(true);
    expect(may(access, 'U0DEV2', verb, e)).toBe(false);
    expect(may(access, 'U0DATALEAD', verb, e)).toBe(false);
  });

  it('ops act on alerts: retry or destroy a failed environment, nothing else, and not one that is not failed', () => {
    expect(may(access, 'U0OPS', 'retry', env('U0DEV', 'failed'))).toBe(true);
    expect(may(access, 'U0OPS', 'destroy', env('U0DEV', 'failed'))).toBe(true);
    expect(may(access, 'U0OPS', 'destroy', env('U0DEV', 'ready'))).toBe(false);
    expect(may(access, 'U0OPS', 'put to sleep', env('U0DEV', 'failed'))).toBe(false);
    expect(may(access, 'U0OPS', 'approve', env('U0DEV', 'awaiting_approval'))).toBe(false);
  });

  it('approve and reject: the request’s approvers and admins; never the requester, not even an admin’s own; never the schedule', () => {
    const waiting = env('U0DEV', 'awaiting_approval');
    for (const verb of ['approve', 'reject'] as const) {
      expect(may(access, 'U0LEAD', verb, waiting)).toBe(true);
      expect(may(access, 'U0ADMIN', verb, waiting)).toBe(true);
      expect(may(access, 'U0DEV', verb, waiting)).toBe(false);
      expect(may(access, 'U0DEV2', verb, waiting)).toBe(false);
      expect(may(access, SCHEDULE_ACTOR, verb, waiting)).toBe(false);
      expect(may(access, 'U0ADMIN', verb, env('U0ADMIN', 'awaiting_approval'))).toBe(false);
    }
  });

  it('a refusal names who can: the owner, the team’s leads, the admins (and ops for an alert’s actions); the approvers for a decision', () => {
    const refusal = (actor: string, verb: Verb, e: ReturnType<typeof env>) => {
      try {
        assertMay(access, actor, verb, e);
      } catch (err) {
        expect(err).toBeInstanceOf(DomainError);
        return (err as DomainError).details;
      }
      throw new Error('not refused');
    };
    expect(refusal('U0DEV2', 'destroy', env('U0DEV'))).toMatchObject({ variant: 'not-owner', owner: 'U0DEV', leads: ['U0LEAD'], admins: ['U0ADMIN'], ops: [] });
    expect(refusal('U0DEV2', 'retry', env('U0DEV', 'failed'))).toMatchObject({ ops: ['U0OPS'] });
    expect(refusal('U0DEV', 'approve', env('U0DEV', 'awaiting_approval'))).toMatchObject({ variant: 'own-request', approvers: ['U0LEAD', 'U0ADMIN'] });
    expect(refusal('U0DEV2', 'reject', env('U0DEV', 'awaiting_approval'))).toMatchObject({ variant: 'not-an-approver', approvers: ['U0LEAD', 'U0ADMIN'] });
  });
});
