import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SANDBOX_DELAYS,
  FAST_SANDBOX_DELAYS,
  formatSandboxFaults,
  parseSandboxDelays,
  parseSandboxFaults,
} from '../../../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { resolveSandboxDelays } from '../../../../src/adapters/sandbox/local-cloud/sandbox-delays.js';

describe('parseSandboxFaults', () => {
  it.each([
    ['', {}],
    ['  ', {}],
    [
      'capacity,fail-step:install,slow-step:migrate=5000,timeout-step:seed',
      { capacity: true, failStep: ['install'], slowStep: { migrate: 5000 }, timeoutStep: ['seed'] },
    ],
    ['capacity:t3.large, capacity:m5.xlarge', { capacity: { types: ['t3.large', 'm5.xlarge'] } }],
    ['capacity:t3.large,capacity', { capacity: true }],
    ['fail-step:a,fail-step:b', { failStep: ['a', 'b'] }],
    ['slow-step:load data = 250', { slowStep: { 'load data': 250 } }],
    ['fail-step:install*1,capacity * 2,slow-step:migrate=500*3', { failStep: ['install'], capacity: true, slowStep: { migrate: 500 }, times: { 'fail-step:install': 1, capacity: 2, 'slow-step:migrate': 3 } }],
  ])('reads %j', (spec, expected) => {
    expect(parseSandboxFaults(spec)).toEqual(expected);
  });

  it.each([
    ['explode', 'explode'],
    ['capacity,slow-step:migrate', 'slow-step:migrate'],
    ['slow-step:migrate=fast', 'slow-step:migrate=fast'],
    ['slow-step:=100', 'slow-step:=100'],
    ['fail-step:', 'fail-step:'],
    ['timeout-step', 'timeout-step'],
    ['capacity:', 'capacity:'],
    ['fail-step:install*0', 'fail-step:install*0'],
  ])('rejects %j, naming the bad part and the accepted forms', (spec, part) => {
    expect(() => parseSandboxFaults(spec)).toThrowError(`"${part}"`);
    expect(() => parseSandboxFaults(spec)).toThrowError(/Accepted forms.*slow-step:<step>=<ms>/);
  });

  it('formats faults back into a spec that parses to the same faults', () => {
    const spec = 'capacity:t3.large,fail-step:install,slow-step:migrate=5000,timeout-step:seed';
    expect(formatSandboxFaults(parseSandboxFaults(spec))).toBe(spec);
    const counted = 'capacity:t3.large*1,fail-step:install*2,slow-step:migrate=5000*1';
    expect(formatSandboxFaults(parseSandboxFaults(counted))).toBe(counted);
    expect(formatSandboxFaults({})).toBe('');
  });
});

describe('parseSandboxDelays', () => {
  it('reads presets and overrides', () => {
    expect(parseSandboxDelays('')).toEqual({});
    expect(parseSandboxDelays('boot=3000, agent=0')).toEqual({ bootMs: 3000, agentMs: 0 });
    expect(parseSandboxDelays('fast,boot=200')).toEqual({ ...FAST_SANDBOX_DELAYS, bootMs: 200 });
    expect(parseSandboxDelays('default')).toEqual(DEFAULT_SANDBOX_DELAYS);
  });

  it.each(['boot=-1', 'boot=1.5', 'warp=3', 'boot', 'boot=99999999'])('rejects %j with the accepted forms', (spec) => {
    expect(() => parseSandboxDelays(spec)).toThrowError(/Accepted forms/);
    expect(() => parseSandboxDelays(spec)).toThrowError(spec);
  });

  it('resolves partial delays over the defaults and refuses negative ones', () => {
    expect(resolveSandboxDelays({ bootMs: 5 })).toEqual({ ...DEFAULT_SANDBOX_DELAYS, bootMs: 5 });
    expect(() => resolveSandboxDelays({ stepMs: -1 })).toThrowError(/stepMs/);
  });
});
