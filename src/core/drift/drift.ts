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
 * - config: a ready environment's server whose instance type or Dormouse
 *   tags (name, owner) are not the ones on record (not its image: a
 *   template's image moves on on purpose, and its servers launched before
 *   are not drift);
 * - data: an environment asleep, or destroyed with its data kept, whose
 *   generation's manifest or objects are missing or not the size the
 *   manifest says (found by the reconciler, which reads the store: see
 *   `dataDrift`).
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
import type { InstanceState, ManagedInstance } from '../ports/compute.port.js';

export type { ManagedInstance };


export type Finding =
  | { kind: 'orphan'; key: string; instanceId: string; environmentId?: string; environment?: string; index?: number; why: 'no-environment' | 'ended' | 'not-listed'; since: string }
  | { kind: 'ghost'; key: string; environment: string; environmentId: string; index: number; instanceId: string; cloud: 'terminated' | 'stopped' | 'missing' }
  | { kind: 'config'; key: string; environment: string; environmentId: string; index: number; instanceId: string; field: ConfigField; expected: string; actual: string }
  | { kind: 'data'; key: string; environment: string; environmentId: string; generation: number; problem: 'manifest-missing' | 'part-missing' | 'size-mismatch'; part?: string; expected?: number; actual?: number };

export type ConfigField = 'instanceType' | 'owner-tag' | 'name-tag';

export type FindingKind = Finding['kind'];



const GONE: ReadonlySet<InstanceState> = new Set(['terminated', 'shutting-down']);
const STOPPED: ReadonlySet<InstanceState> = new Set(['stopped', 'stopping']);

export function findDrift(envs: readonly Environment[], instances: readonly ManagedInstance[], now: Date, opts: { graceMs: number } = { graceMs: 5 * 60_000 }): Finding[] {
  const findings: Finding[] = [];
  const byId = new Map(envs.map((e) => [e.id, e]));
  const byInstance = new Map(instances.map((i) => [i.instanceId, i]));
  for (const i of instances) {
    if (GONE.has(i.state) || now.getTime() - Date.parse(i.launchedAt) < opts.graceMs) continue;
    const env = i.environmentId ? byId.get(i.environmentId) : undefined;
    const base = {
      kind: 'orphan' as const,
      key: `orphan:${i.instanceId}`,
      instanceId: i.instanceId,
      since: i.launchedAt,
      ...(i.environmentId ? { environmentId: i.environmentId } : {}),
      // The name its tags give: what Terminate and the reconciler look the environment up by, to check again.
      ...(i.environment ? { environment: i.environment } : {}),
      ...(i.index !== undefined ? { index: i.index } : {}),
    };
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
      } else {
        const checks: [ConfigField, string | undefined, string | undefined][] = [
          ['instanceType', env.instanceType, seen.instanceType],
          ['owner-tag', env.owner, seen.tags['dormouse:owner']],
          ['name-tag', env.name, seen.tags['dormouse:environment']],
        ];
        // One finding per server: the first field that differs (a repair replaces the server whatever it was).
        const off = checks.find(([, expected, actual]) => expected !== undefined && actual !== expected);
        if (off) findings.push({ kind: 'config', key: `config:${server.instanceId}`, ...where, field: off[0], expected: off[1] ?? '', actual: off[2] ?? '(none)' });
      }
    }
  }
  return findings;
}
