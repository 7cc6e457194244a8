import { describe, expect, it } from 'vitest';
import { assertValidName, nameProblem } from '../../../src/core/environment/name.rules.js';
import { ErrorCodes, type DomainError } from '../../../src/core/environment/errors.js';
import { errorSentence } from '../../../src/adapters/slack/text/errors.text.js';

/** The words a person reads for the error thrown (the core gives the rule; the Slack layer the sentence). */
function sentenceOf(name: string): string {
  try {
    assertValidName(name);
  } catch (e) {
    return errorSentence(e as DomainError);
  }
  throw new Error(`${name} was accepted`);
}

describe('environment name rules', () => {
  it.each(['api-staging', 'abc', 'a1b', 'x'.repeat(40), 'web-2', 'a-b-c'])('accepts %s', (name) => {
    expect(nameProblem(name)).toBeUndefined();
  });

  it.each([
    ['', /Give the environment a name/],
    ['ab', /too short/],
    ['a'.repeat(41), /at most 40/],
    ['1api', /start with a lowercase letter/],
    ['-api', /start with a lowercase letter/],
    ['Api', /start with a lowercase letter/],
    ['apI', /only lowercase letters, digits and dashes/],
    ['api staging', /only lowercase letters/],
    ['api_staging', /only lowercase letters/],
    ['api;rm -rf /', /only lowercase letters/],
    ['api$(reboot)', /only lowercase letters/],
    ["api'x", /only lowercase letters/],
    ['apí-staging', /only lowercase letters/],
    ['api-🚀', /only lowercase letters/],
    ['api-', /must not end with a dash/],
    ['api--x', /two dashes/],
  ])('rejects %j: %s', (name, rule) => {
    expect(nameProblem(name)).toBeDefined();
    expect(() => assertValidName(name)).toThrowError(expect.objectContaining({ code: ErrorCodes.NAME_INVALID }));
    expect(sentenceOf(name)).toMatch(rule);
  });

  it('does not echo 10 KB of junk back', () => {
    const junk = 'a'.repeat(10_000);
    expect(sentenceOf(junk).length).toBeLessThan(200);
    expect(sentenceOf(`A${'b'.repeat(10_000)}`).length).toBeLessThan(200);
  });
});
