import { describe, expect, it } from 'vitest';
import { newEnvironment, transition, fail } from '../../../src/core/environment/environment.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { STATES, TRANSITIONS, TRANSITIONAL_STATES, availableActions, canTransition, flowOf, isLive, type EnvironmentState } from '../../../src/core/environment/lifecycle.js';

const env = (state: EnvironmentState) => ({
  ...newEnvironment(
    { id: '01JD3Q8Z6KX7W8Y9A0B1C2D3E4', name: 'api-staging', owner: 'U1', template: 'api', instanceType: 't3.medium', count: 1, purpose: '', requestId: 'r', hourlyCostUsd: 0.04 },
    new Date('2026-01-01T00:00:00Z'),
  ),
  state,
});

// The product's lifecycle, spelled out once more by hand: a change to the table must be deliberate.
const EXPECTED: Array<[EnvironmentState, EnvironmentState, boolean]> = [
  ['requested', 'provisioning', true],
  ['requested', 'awaiting_approval', true],
  ['requested', 'ready', false],
  ['awaiting_approval', 'provisioning', true],
  ['awaiting_approval', 'rejected', true],
  ['awaiting_approval', 'bootstrapping', false],
  ['provisioning', 'bootstrapping', true],
  ['provisioning', 'ready', false],
  ['bootstrapping', 'ready', true],
  ['ready', 'saving', true],
  ['ready', 'asleep', false],
  ['saving', 'asleep', true],
  ['asleep', 'waking', true],
  ['asleep', 'ready', false],
  ['waking', 'bootstrapping', false],
  ['waking', 'ready', true],
  ['ready', 'destroying', true],
  ['destroying', 'destroyed', true],
  ['destroyed', 'provisioning', false],
  ['destroyed', 'destroying', false],
  ['rejected', 'provisioning', false],
  ['failed', 'provisioning', true],
  ['failed', 'bootstrapping', true],
  ['failed', 'destroying', true],
  ['failed', 'ready', false],
  ['provisioning', 'failed', true],
  ['bootstrapping', 'failed', true],
  ['bootstrapping', 'provisioning', true],
  ['failed', 'requested', true],
  ['asleep', 'failed', false],
];

describe('transition table', () => {
  it.each(EXPECTED)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    if (allowed) {
      expect(transition(env(from), to, new Date()).state).toBe(to);
    } else {
      expect(() => transition(env(from), to, new Date())).toThrowError(DomainError);
    }
  });

  it('covers every state, and every target is a state', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATES].sort());
    for (const targets of Object.values(TRANSITIONS)) for (const t of targets) expect(STATES).toContain(t);
  });

  it('only destroyed and rejected are final and free the name', () => {
    const final = STATES.filter((s) => TRANSITIONS[s].length === 0);
    expect(final.sort()).toEqual(['destroyed', 'rejected']);
    expect(STATES.filter((s) => !isLive(s)).sort()).toEqual(['destroyed', 'rejected']);
  });

  it('every live state can reach destroyed (nothing is stranded)', () => {
    for (const start of STATES.filter(isLive)) {
      const seen = new Set<EnvironmentState>([start]);
      const queue = [start];
      while (queue.length) {
        for (const n of TRANSITIONS[queue.shift() as EnvironmentState]) {
          if (!seen.has(n)) {
            seen.add(n);
            queue.push(n);
          }
        }
      }
      expect(seen.has('destroyed'), `${start} cannot reach destroyed`).toBe(true);
    }
  });

  it('an invalid transition has a stable code and a sentence that says what can happen', () => {
    try {
      transition(env('destroyed'), 'provisioning', new Date());
      expect.unreachable();
    } catch (e) {
      expect((e as DomainError).code).toBe(ErrorCodes.INVALID_TRANSITION);
      expect((e as DomainError).message).toContain('cannot change any more');
    }
    expect(() => transition(env('asleep'), 'ready', new Date())).toThrowError(/From here it can be: waking, destroying/);
  });

  it('fail() remembers the step, the state it failed from, and ends running steps', () => {
    const running = { ...env('bootstrapping'), progress: [{ key: 'bootstrap:0', label: 'b', status: 'running' as const, startedAt: '2026-01-01T00:00:00Z' }] };
    const failed = fail(running, { step: 'bootstrap', code: 'COMMAND.FAILED', reason: 'exit 1', retryable: true }, new Date('2026-01-01T00:01:00Z'));
    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatchObject({ step: 'bootstrap', from: 'bootstrapping', retryable: true });
    expect(failed.progress[0]).toMatchObject({ status: 'failed', endedAt: '2026-01-01T00:01:00.000Z' });
  });
});

describe('derived from the table', () => {
  it('a flow works in exactly the transitional states, and each of them can fail or be destroyed', () => {
    expect([...TRANSITIONAL_STATES].sort()).toEqual(['bootstrapping', 'destroying', 'provisioning', 'repairing', 'requested', 'saving', 'waking']);
    for (const s of TRANSITIONAL_STATES) {
      expect(flowOf(s)).toBeDefined();
      expect(canTransition(s, 'failed') || s === 'requested', s).toBe(true);
    }
  });

  it('the buttons a message offers follow the table: retry back to failure.from, destroy where it can go', () => {
    const failure = (from: EnvironmentState, retryable = true) => ({ from, retryable });
    expect(availableActions({ state: 'failed', failure: failure('bootstrapping') })).toEqual({ retry: true, destroy: true, sleep: false, wake: false });
    expect(availableActions({ state: 'failed', failure: failure('bootstrapping', false) })).toEqual({ retry: false, destroy: true, sleep: false, wake: false });
    // failed → ready is not in the table, so a failure recorded "from ready" cannot be retried.
    expect(availableActions({ state: 'failed', failure: failure('ready') }).retry).toBe(false);
    expect(availableActions({ state: 'ready' })).toEqual({ retry: false, destroy: true, sleep: true, wake: false });
    expect(availableActions({ state: 'asleep' })).toEqual({ retry: false, destroy: true, sleep: false, wake: true });
    expect(availableActions({ state: 'destroying' })).toEqual({ retry: false, destroy: false, sleep: false, wake: false });
    expect(availableActions({ state: 'destroyed' })).toEqual({ retry: false, destroy: false, sleep: false, wake: false });
  });
});

describe('progress steps', () => {
  it('finishing a step twice keeps the first end time (the thread tells it once)', async () => {
    const { startStep, finishStep } = await import('../../../src/core/environment/environment.js');
    const e0 = startStep(env('bootstrapping'), 'agent', 'Waiting for the SSM agent', new Date('2026-01-01T00:00:00Z'));
    const e1 = finishStep(e0, 'agent', new Date('2026-01-01T00:00:01Z'));
    const e2 = finishStep(e1, 'agent', new Date('2026-01-01T00:00:09Z'));
    expect(e2.progress[0]).toMatchObject({ status: 'done', endedAt: '2026-01-01T00:00:01.000Z' });
    expect(finishStep(e1, 'agent', new Date('2026-01-01T00:00:09Z'), undefined, 'failed').progress[0]?.status).toBe('failed');
  });
});
