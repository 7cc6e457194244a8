import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/core/environment/errors.js';
import type { Template } from '../../../src/core/environment/template.js';
import { templateForFlags, validateRequest } from '../../../src/core/policies/request.policy.js';
import { testTemplate } from '../../support/templates.js';
import { errorSentence } from '../../../src/adapters/slack/text/errors.text.js';
import type { DomainError } from '../../../src/core/environment/errors.js';

/** The words a person reads for what `act` throws. */
function sentenceOf(act: () => unknown): string {
  try {
    act();
  } catch (e) {
    return errorSentence(e as DomainError);
  }
  throw new Error('nothing was thrown');
}

const api: Template = testTemplate({ image: 'ami-12345678', instanceTypes: { 't3.small': 0.02, 't3.medium': 0.04 }, bootstrap: [] });
const catalogue = [api, { ...api, name: 'worker', servers: { min: 1, max: 1, default: 1 } }];

describe('request policy', () => {
  it('fills defaults and prices the request', () => {
    const r = validateRequest({ name: 'api-staging', template: 'api', count: 2 }, catalogue);
    expect(r).toMatchObject({ count: 2, instanceType: 't3.medium', hourlyCostUsd: 0.08, purpose: '' });
  });

  it.each([
    [{ name: 'Bad', template: 'api' }, ErrorCodes.NAME_INVALID, /lowercase/],
    [{ name: 'ok-name', template: 'nope' }, ErrorCodes.TEMPLATE_UNKNOWN, /`api`, `worker`/],
    [{ name: 'ok-name', template: 'api', count: 4 }, ErrorCodes.COUNT_OUT_OF_RANGE, /1 to 3 servers; you asked for 4/],
    [{ name: 'ok-name', template: 'api', count: 0 }, ErrorCodes.COUNT_OUT_OF_RANGE, /1 to 3/],
    [{ name: 'ok-name', template: 'worker', count: 2 }, ErrorCodes.COUNT_OUT_OF_RANGE, /exactly 1 server;/],
    [{ name: 'ok-name', template: 'api', count: 1.5 }, ErrorCodes.COUNT_OUT_OF_RANGE, /1 to 3/],
    [{ name: 'ok-name', template: 'api', instanceType: 'p5.48xlarge' }, ErrorCodes.INSTANCE_TYPE_NOT_ALLOWED, /`t3.small`.*`t3.medium`/],
    [{ name: 'ok-name', template: 'api', purpose: 'x'.repeat(10_240) }, ErrorCodes.PURPOSE_INVALID, /10240 characters/],
  ])('%j → %s', (input, code, message) => {
    expect(() => validateRequest(input, catalogue)).toThrowError(expect.objectContaining({ code }));
    expect(sentenceOf(() => validateRequest(input, catalogue))).toMatch(message);
  });

  it('keeps shell metacharacters, quotes and unicode in the purpose as text, minus control characters', () => {
    const r = validateRequest({ name: 'ok-name', template: 'api', purpose: ` "$(rm -rf /)"; \`id\` — ünïcødé 🚀\u0007 ` }, catalogue);
    expect(r.purpose).toBe('"$(rm -rf /)"; `id` — ünïcødé 🚀');
  });

  describe('options given without a template', () => {
    const small = testTemplate({ name: 'small', servers: { min: 1, max: 2, default: 1 }, instanceTypes: { 't3.small': 0.02 }, instanceType: 't3.small' });
    const big = testTemplate({ name: 'big', servers: { min: 2, max: 8, default: 4 }, instanceTypes: { 'm5.large': 0.1 }, instanceType: 'm5.large' });
    it('pick the first template that takes them all', () => {
      expect(templateForFlags({ count: 5 }, [small, big])?.name).toBe('big');
      expect(templateForFlags({ instanceType: 't3.small' }, [small, big])?.name).toBe('small');
      expect(templateForFlags({}, [small, big])).toBeUndefined();
    });
    it('are refused with the range or the types when no template takes them', () => {
      expect(sentenceOf(() => templateForFlags({ count: 999 }, [small, big]))).toMatch(/No template has 999 servers: they have 1 to 8/);
      expect(sentenceOf(() => templateForFlags({ instanceType: 'x9.huge' }, [small, big]))).toMatch(/No template offers `x9.huge`; the types are `t3.small`, `m5.large`/);
      expect(sentenceOf(() => templateForFlags({ count: 5, instanceType: 't3.small' }, [small, big]))).toMatch(/No template takes 5 servers of `t3.small` together/);
    });
  });
});
