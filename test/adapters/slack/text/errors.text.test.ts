/** The sentences people read, from the core's codes and parameters. */
import { describe, expect, it } from 'vitest';
import { code, errorSentence, failureSentence, plainSentence } from '../../../../src/adapters/slack/text/errors.text.js';
import { DomainError, ErrorCodes } from '../../../../src/core/environment/errors.js';

describe('error sentences', () => {
  it('a value shown as code is escaped and cannot close its code span', () => {
    expect(code('<@U1> & `x`')).toBe("`&lt;@U1&gt; &amp; 'x'`");
  });

  it('a failure is told from its code and parameters, with the reference when there is one', () => {
    const f = { code: 'COMMAND.FAILED', params: { server: 1, instanceId: 'i-0abc', step: 'install', exitCode: 2 }, reason: 'plain words', ref: 'AB12CD34' };
    expect(failureSentence(f)).toBe('Server 1 (`i-0abc`): step `install` exited with code 2. (ref `AB12CD34`)');
  });

  it('a failure recorded without parameters (before they were kept) is told in its own words, escaped', () => {
    expect(failureSentence({ code: 'COMMAND.FAILED', reason: 'Server 1: step `install` exited with code 2 <oops>' })).toBe('Server 1: step `install` exited with code 2 &lt;oops&gt;');
    expect(failureSentence({ code: 'ENVIRONMENT.INVALID_TRANSITION', params: {}, reason: 'x is ready' })).toBe('x is ready');
  });

  it('never throws on parameters it does not expect', () => {
    expect(() => failureSentence({ code: 'ENVIRONMENT.INVALID_TRANSITION', params: { name: 'x', from: 'nonsense' }, reason: 'r' })).not.toThrow();
    expect(errorSentence(new DomainError(ErrorCodes.NAME_TAKEN, 'taken', { name: 'x', owner: 'U1' }))).toMatch(/taken by <@U1> \(it is in an unknown state\)/);
  });

  it('a code without a sentence shows the core\'s plain words, escaped', () => {
    expect(errorSentence(new DomainError(ErrorCodes.LAUNCH_FAILED, 'AWS refused <x>.'))).toBe('AWS refused &lt;x&gt;.');
  });

  it('form errors are plain text: no code marks, mentions as @id', () => {
    expect(plainSentence(new DomainError(ErrorCodes.NAME_TAKEN, 'taken', { name: 'api', owner: 'U1', state: 'ready' }))).toBe('api is already taken by @U1 (it is ready). Pick another name, or ask them to destroy it.');
  });

  it('a refusal says who can: the owner, the team’s leads, admins, and ops for what an alert offers', () => {
    const refused = (details: Record<string, unknown>) => errorSentence(new DomainError(ErrorCodes.NOT_AUTHORIZED, 'x', { name: 'api', owner: 'U0DEV', verb: 'destroy', ...details }));
    expect(refused({ variant: 'not-owner', leads: ['U0LEAD'], admins: ['U0OPS'], ops: [] })).toBe('Only <@U0DEV> (the owner), a lead of their team (<@U0LEAD>) or an admin (<@U0OPS>) can destroy `api`. Ask them in a thread.');
    expect(refused({ variant: 'not-owner', leads: [], admins: [], ops: ['U0OPS'] })).toBe('Only <@U0DEV> (the owner), an admin or ops (<@U0OPS>), from the alert can destroy `api`. Ask them in a thread.');
    expect(refused({ variant: 'own-request', verb: 'approve', approvers: ['U0LEAD'] })).toBe('Nobody approves or rejects their own request: <@U0LEAD> can decide on `api`.');
    expect(refused({ variant: 'not-an-approver', verb: 'reject', approvers: ['U0LEAD', 'U0OPS'] })).toMatch(/^Only <@U0LEAD>, <@U0OPS> can reject `api`/);
  });

  it('a decided request says what happened, by whom and when; a quota refusal gives the figures and who can raise it', () => {
    const decided = (details: Record<string, unknown>) => errorSentence(new DomainError(ErrorCodes.APPROVAL_DECIDED, 'x', { name: 'api', state: 'rejected', ...details }));
    expect(decided({ outcome: 'rejected', by: 'U0LEAD', at: '2026-12-01T10:15:00.000Z', reason: 'too <big>' })).toBe('`api` was already rejected by <@U0LEAD> at 10:15 UTC: too &lt;big&gt;');
    expect(decided({ outcome: 'approved', by: 'U0LEAD', at: '2026-12-01T10:15:00.000Z', state: 'provisioning' })).toBe('`api` was already approved by <@U0LEAD> at 10:15 UTC; it is launching its servers.');
    expect(decided({ outcome: 'expired', by: 'schedule', at: '2026-12-02T09:00:00.000Z' })).toMatch(/expired at 09:00 UTC: nobody answered in time/);
    expect(errorSentence(new DomainError(ErrorCodes.APPROVAL_REASON_REQUIRED, 'x', { variant: 'empty' }))).toMatch(/Say why it is rejected/);
    const quota = errorSentence(
      new DomainError(ErrorCodes.QUOTA_EXCEEDED, 'x', { name: 'big', scope: 'person', what: 'usdPerDay', usage: 8.5, limit: 10, requested: 2.25, raisedBy: ['U0OPS'] }),
    );
    expect(quota).toBe('`big` was not created: you spend $8.50 of $10.00 a day, and `big` would add $2.25. Destroy something you no longer need, ask for fewer or smaller servers, or ask: <@U0OPS> can raise the quota. Nothing was launched.');
  });
});
