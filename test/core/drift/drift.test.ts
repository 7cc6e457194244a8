/** Drift found from the records and the cloud's listing (src/core/drift/drift.ts): each kind, and what is left alone. */
import { describe, expect, it } from 'vitest';
import { newEnvironment, type Environment } from '../../../src/core/environment/environment.js';
import type { EnvironmentState } from '../../../src/core/environment/lifecycle.js';
import { findDrift, type ManagedInstance } from '../../../src/core/drift/drift.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const OLD = '2026-12-01T10:00:00.000Z';

function env(name: string, state: EnvironmentState, servers: string[] = []): Environment {
  const e = newEnvironment({ id: `env-${name}`, name, owner: 'U0DEV', template: 'api', instanceType: 't3.small', count: servers.length || 1, purpose: '', requestId: name, hourlyCostUsd: 0.02 }, new Date(OLD));
  return { ...e, state, servers: servers.map((instanceId, index) => ({ index, instanceId, state: 'ready' as const })) };
}

function instance(instanceId: string, environmentId: string | undefined, extra: Partial<ManagedInstance> = {}): ManagedInstance {
  return { instanceId, state: 'running', instanceType: 't3.small', launchedAt: OLD, tags: environmentId ? { 'dormouse:owner': 'U0DEV', 'dormouse:environment': environmentId.replace(/^env-/, '') } : {}, ...(environmentId ? { environmentId } : {}), index: 0, ...extra };
}

describe('findDrift', () => {
  it('nothing when the records and the cloud agree', () => {
    expect(findDrift([env('api', 'ready', ['i-1', 'i-2'])], [instance('i-1', 'env-api'), instance('i-2', 'env-api', { index: 1 })], NOW)).toEqual([]);
  });

  it('orphans: no environment, an ended one, or one at rest that does not list it; a young instance is left alone', () => {
    const envs = [env('gone', 'destroyed', ['i-gone']), env('api', 'ready', ['i-1'])];
    const found = findDrift(envs, [instance('i-x', 'env-nobody'), instance('i-gone', 'env-gone'), instance('i-extra', 'env-api'), instance('i-1', 'env-api'), instance('i-new', 'env-nobody', { launchedAt: '2026-12-01T11:58:00.000Z' }), instance('i-untagged', undefined)], NOW);
    expect(found.map((f) => [f.kind, f.key, f.kind === 'orphan' ? f.why : ''])).toEqual([
      ['orphan', 'orphan:i-x', 'no-environment'],
      ['orphan', 'orphan:i-gone', 'ended'],
      ['orphan', 'orphan:i-extra', 'not-listed'],
      ['orphan', 'orphan:i-untagged', 'no-environment'],
    ]);
  });

  it('a terminated instance is never an orphan; an environment a flow works on is left alone', () => {
    expect(findDrift([], [instance('i-t', 'env-x', { state: 'terminated' })], NOW)).toEqual([]);
    expect(findDrift([env('busy', 'provisioning', ['i-1'])], [instance('i-1', 'env-busy'), instance('i-2', 'env-busy')], NOW)).toEqual([]);
  });

  it('ghosts: a ready environment’s server terminated, stopped or missing', () => {
    const found = findDrift([env('api', 'ready', ['i-1', 'i-2', 'i-3'])], [instance('i-1', 'env-api', { state: 'terminated' }), instance('i-2', 'env-api', { state: 'stopped', index: 1 })], NOW);
    expect(found).toEqual([
      { kind: 'ghost', key: 'ghost:env-api:0', environment: 'api', environmentId: 'env-api', index: 0, instanceId: 'i-1', cloud: 'terminated' },
      { kind: 'ghost', key: 'ghost:env-api:1', environment: 'api', environmentId: 'env-api', index: 1, instanceId: 'i-2', cloud: 'stopped' },
      { kind: 'ghost', key: 'ghost:env-api:2', environment: 'api', environmentId: 'env-api', index: 2, instanceId: 'i-3', cloud: 'missing' },
    ]);
    // Asleep ones have no servers running by design: not ghosts.
    expect(findDrift([env('zz', 'asleep', [])], [], NOW)).toEqual([]);
  });

  it('configuration drift: an instance type that is not the one on record; the same finding keeps its key', () => {
    const envs = [env('api', 'ready', ['i-1'])];
    const listing = [instance('i-1', 'env-api', { instanceType: 't3.large' })];
    const first = findDrift(envs, listing, NOW);
    expect(first).toEqual([{ kind: 'config', key: 'config:i-1', environment: 'api', environmentId: 'env-api', index: 0, instanceId: 'i-1', field: 'instanceType', expected: 't3.small', actual: 't3.large' }]);
    expect(findDrift(envs, listing, new Date(NOW.getTime() + 3600_000)).map((f) => f.key)).toEqual(first.map((f) => f.key));
  });

  it('configuration drift: the owner and name tags too; one finding per server; the image is not compared', () => {
    const envs = [env('api', 'ready', ['i-1', 'i-2', 'i-3'])];
    const listing = [
      instance('i-1', 'env-api', { imageId: 'ami-other' }),
      instance('i-2', 'env-api', { index: 1, imageId: 'ami-good', tags: { 'dormouse:owner': 'U0SOMEONE', 'dormouse:environment': 'api' } }),
      instance('i-3', 'env-api', { index: 2, imageId: 'ami-good', instanceType: 't3.large', tags: {} }),
    ];
    const found = findDrift(envs, listing, NOW, { graceMs: 0 });
    expect(found.map((f) => (f.kind === 'config' ? [f.instanceId, f.field, f.expected, f.actual] : f.kind))).toEqual([
      ['i-2', 'owner-tag', 'U0DEV', 'U0SOMEONE'],
      ['i-3', 'instanceType', 't3.small', 't3.large'],
    ]);
  });
});
