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
});
