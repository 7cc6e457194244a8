import { describe, expect, it } from 'vitest';
import { parseServerCommand } from '../../../src/adapters/slack/command-parser.js';

describe('/server text parser', () => {
  it.each([
    ['', { sub: 'help', args: [], flags: {} }],
    ['new api-staging', { sub: 'new', args: ['api-staging'], flags: {} }],
    ['new api-staging --template api --count 2', { sub: 'new', args: ['api-staging'], flags: { template: 'api', count: '2' } }],
    ['NEW x --template=api', { sub: 'new', args: ['x'], flags: { template: 'api' } }],
    ['new x —template api –count 3', { sub: 'new', args: ['x'], flags: { template: 'api', count: '3' } }],
    ['new x --purpose "load tests; $(rm -rf /)"', { sub: 'new', args: ['x'], flags: { purpose: 'load tests; $(rm -rf /)' } }],
    ['new x --purpose “curly quotes”', { sub: 'new', args: ['x'], flags: { purpose: 'curly quotes' } }],
    ['list all', { sub: 'list', args: ['all'], flags: {} }],
  ])('%j', (text, expected) => {
    expect(parseServerCommand(text)).toEqual({ ok: true, ...expected });
  });

  it.each([
    ['new x --template', /`--template` needs a value/],
    ['new x --colour red', /Unknown option `--colour`/],
    ['new x --purpose "unclosed', /quote \(" \) is not closed|is not closed/],
    ['new x --count 1 --count 2', /given twice/],
    ['new ' + 'x'.repeat(10_240), /at most 2000/],
  ])('refuses %j', (text, problem) => {
    const parsed = parseServerCommand(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toMatch(problem);
  });
});
