/**
 * Drift: where the records and the cloud disagree. Pure: given the live
 * environments and every instance tagged as Dormouse's, what is wrong.
 *
 * - orphan: an instance tagged as Dormouse's that no live environment owns
 *   (its environment ended, or never was; a crash between launch and record;
 *   a manual launch with copied tags), or that an environment at rest (ready,
 *   asleep, failed) does not list among its servers (left by an earlier
 *   attempt);
 * - ghost: a ready environment's server that the cloud says is terminated,
 *   stopped or missing;
 * - config: a ready environment's server whose instance type is not the one
 *   on record.
 *
 * Environments a flow works on (provisioning, saving, waking, destroying …)
 * are left alone: what they own is changing under a lease, and the flow
 * itself checks what it finds. Instances younger than `graceMs` are left
 * alone too (a launch whose record is on its way).
 *
 * Each finding has a stable `key`: the same drift found at every tick is one
 * finding (one alert, updated, not repeated).
 */
import type { Environment } from '../environment/environment.js';
import { isLive, isTransitional } from '../environment/lifecycle.js';
import type { InstanceState } from '../ports/compute.port.js';

/** An instance as a listing of everything tagged `managed-by: dormouse` gives it. */
export interface ManagedInstance {
  instanceId: string;
  state: InstanceState;
  /** The `dormouse:environment-id` tag (absent: a copied or damaged tag set). */
  environmentId?: string;
  index?: number;
  instanceType: string;
  launchedAt: string;
}

export type Finding =
  | { kind: 'orphan'; key: string; instanceId: string; environmentId?: string; environment?: string; why: 'no-environment' | 'ended' | 'not-listed'; since: string }
  | { kind: 'ghost'; key: string; environment: string; environmentId: string; index: number; instanceId: string; cloud: 'terminated' | 'stopped' | 'missing' }
  | { kind: 'config'; key: string; environment: string; environmentId: string; index: number; instanceId: string; field: 'instanceType'; expected: string; actual: string };

const GONE: ReadonlySet<InstanceState> = new Set(['terminated', 'shutting-down']);
const STOPPED: ReadonlySet<InstanceState> = new Set(['stopped', 'stopping']);

export function findDrift(envs: readonly Environment[], instances: readonly ManagedInstance[], now: Date, opts: { graceMs: number } = { graceMs: 5 * 60_000 }): Finding[] {
  const findings: Finding[] = [];
  const byId = new Map(envs.map((e) => [e.id, e]));
  const byInstance = new Map(instances.map((i) => [i.instanceId, i]));
  for (const i of instances) {
    if (GONE.has(i.state) || now.getTime() - Date.parse(i.launchedAt) < opts.graceMs) continue;
    const env = i.environmentId ? byId.get(i.environmentId) : undefined;
    const base = { kind: 'orphan' as const, key: `orphan:${i.instanceId}`, instanceId: i.instanceId, since: i.launchedAt, ...(i.environmentId ? { environmentId: i.environmentId } : {}) };
    if (!env) findings.push({ ...base, why: 'no-environment' });
    else if (!isLive(env.state)) findings.push({ ...base, environment: env.name, why: 'ended' });
    else if (!isTransitional(env.state) && !env.servers.some((s) => s.instanceId === i.instanceId)) findings.push({ ...base, environment: env.name, why: 'not-listed' });
  }
  for (const env of envs) {
    if (env.state !== 'ready') continue;
    for (const server of env.servers) {
      const seen = byInstance.get(server.instanceId);
      const where = { environment: env.name, environmentId: env.id, index: server.index, instanceId: server.instanceId };
      if (!seen || GONE.has(seen.state) || STOPPED.has(seen.state)) {
        findings.push({ kind: 'ghost', key: `ghost:${env.id}:${server.index}`, ...where, cloud: !seen ? 'missing' : STOPPED.has(seen.state) ? 'stopped' : 'terminated' });
      } else if (seen.instanceType !== env.instanceType) {
        findings.push({ kind: 'config', key: `config:${server.instanceId}:instanceType`, ...where, field: 'instanceType', expected: env.instanceType, actual: seen.instanceType });
      }
    }
  }
  return findings;
}
