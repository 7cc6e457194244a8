import { describe, expect, it } from 'vitest';
import { assertValidName, nameProblem } from '../../../src/core/environment/name.rules.js';
import { ErrorCodes } from '../../../src/core/environment/errors.js';

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
    expect(nameProblem(name)).toMatch(rule);
    expect(() => assertValidName(name)).toThrowError(expect.objectContaining({ code: ErrorCodes.NAME_INVALID }));
  });

  it('does not echo 10 KB of junk back', () => {
    const junk = 'a'.repeat(10_000);
    const problem = nameProblem(junk) ?? '';
    expect(problem.length).toBeLessThan(200);
  });
});
