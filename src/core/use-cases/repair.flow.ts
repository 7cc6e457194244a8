/**
 * Replacing lost servers. A ready environment one of whose servers is gone
 * (terminated or stopped behind Dormouse's back, or drifted from its record)
 * goes to `repairing`; this flow then, for those servers only:
 *
 *   launch   one new server per lost index (tagged as that index's
 *            replacement, idempotent on its serial), or the orphan taken in
 *            (Adopt); the lost instance is terminated if it is still there;
 *   bootstrap the template's steps on the new servers (provisioning's own
 *            bootstrap, which leaves servers already ready alone and fails
 *            rather than relaunching the whole set);
 *   restore  that server's part of the latest generation (or the shared
 *            part), checked against the manifest, when there is one;
 *
 * and the environment is ready again. The healthy servers are never
 * touched. Each phase is recorded on `repair`, so a resumed repair goes on
 * where it was; every launch and command has a key of its own.
 */
import { finishStep, startStep, transition, type Environment, type RepairState, type ServerRecord } from '../environment/environment.js';
import { formatBytes } from '../environment/sizes.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { DataStorePort } from '../ports/data-store.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { RemoteCommandPort } from '../ports/remote-command.port.js';
import type { Template } from '../environment/template.js';
import { LeaseLost, type HeldLease } from '../workflow/runner.js';
import { recordFlowFailure, step, StepError, type ProvisionFlow, type SetupPhases } from './provision.flow.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import type { DataScripts, DataSettings } from './save.flow.js';
import { audit, tell, templateOf } from './shared.js';
import { restorePart } from './wake.flow.js';

export interface RepairDeps {
  compute: ComputePort;
  commands: RemoteCommandPort;
  notifier: NotifierPort;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  timeouts: { agentMs: number; runningMs: number };
  serverDataDir?: string;
  setup: Pick<ProvisionFlow, 'bootstrap'>;
  /** Without a data store, nothing is restored (there is nothing saved). */
  data?: { store: DataStorePort; settings: DataSettings; scripts: DataScripts };
}

const withRepair = (e: Environment, change: (r: RepairState) => RepairState): Environment => (e.repair ? { ...e, repair: change(e.repair) } : e);

const REPAIR_PHASES: SetupPhases = {
  running: (e) => e,
  relaunching: (e) => e,
  bootstrapped: (e) => withRepair(e, (r) => ({ ...r, phase: 'restore' })),
  keepHealthy: true,
};

export class RepairFlow {
  constructor(private readonly deps: RepairDeps) {}

  readonly run = async (lease: HeldLease): Promise<void> => {
    try {
      if (lease.environment.state !== 'repairing' || !lease.environment.repair) return;
      if (lease.environment.repair.phase === 'launch') await this.launch(lease);
      if (lease.environment.repair?.phase === 'bootstrap') await this.deps.setup.bootstrap(lease, REPAIR_PHASES);
      if (lease.environment.repair?.phase === 'restore') await this.restoreAndFinish(lease);
    } catch (error) {
      if (error instanceof LeaseLost) throw error;
      await recordFlowFailure(this.deps, lease, error, 'repair failed');
    }
  };

  private async launch(lease: HeldLease): Promise<void> {
    const { deps } = this;
    let env = lease.environment;
    const repair = env.repair as RepairState;
    const template = templateOf(deps.templates, env);
    env = await lease.update((e) => (e.progress.some((p) => p.key === 'repair:launch') ? e : startStep(e, 'repair:launch', `Replacing ${servers(repair)}`, deps.clock.now())));
    tell(deps.logger, () => deps.notifier.showProgress(env));
    const placed: { index: number; instanceId: string; serial: number }[] = [];
    for (const r of repair.servers) {
      if (r.adopt) {
        placed.push({ index: r.index, instanceId: r.adopt, serial: r.serial });
        continue;
      }
      let serial = r.serial;
      for (let tries = 1; ; tries++) {
        await lease.ensureHeld();
        const [launched] = await step(
          'launch',
          () =>
            deps.compute.launch({
              environmentId: env.id,
              environment: env.name,
              owner: env.owner,
              template: template.name,
              image: template.image,
              instanceType: env.instanceType,
              count: 1,
              subnets: template.subnets,
              securityGroups: template.securityGroups,
              ...(template.instanceProfile ? { instanceProfile: template.instanceProfile } : {}),
              volumes: template.volumes,
              tags: template.tags,
              attempt: env.attempt,
              idempotencyKey: `dormouse-${env.id}-${env.attempt}-r${r.index}.${serial}`,
              replacement: { index: r.index, serial },
            }),
          r.index,
        );
        if (!launched) throw new Error(`the launch of a replacement for server ${r.index + 1} returned no server`);
        if (launched.state === 'pending' || launched.state === 'running') {
          placed.push({ index: r.index, instanceId: launched.instanceId, serial });
          break;
        }
        // The replacement launched before (a resumed or retried repair) is gone already: a new serial, a new server.
        if (tries > 2) throw new StepError('launch', new DomainError(ErrorCodes.INSTANCE_LOST, `The replacements of server ${r.index + 1} kept disappearing.`, { server: r.index + 1, variant: 'kept_disappearing' }, true), r.index);
        env = await lease.update((e) => {
          const next = (e.repairs ?? 0) + 1;
          serial = next;
          return withRepair({ ...e, repairs: next }, (x) => ({ ...x, servers: x.servers.map((y) => (y.index === r.index ? { ...y, serial: next } : y)) }));
        });
      }
    }
    // The servers replaced go for good (a stopped or drifted one is still there; a terminated one is no error).
    await lease.ensureHeld();
    await step('launch', () => deps.compute.terminate(repair.servers.map((r) => r.lost)));
    env = await lease.update((e) => {
      const now = deps.clock.now();
      const serversNow: ServerRecord[] = e.servers.map((s) => {
        const p = placed.find((x) => x.index === s.index);
        return p ? { index: s.index, instanceId: p.instanceId, state: 'pending', replacement: p.serial } : s;
      });
      const next = withRepair({ ...e, servers: serversNow }, (r) => ({ ...r, servers: r.servers.map((x) => ({ ...x, instanceId: placed.find((p) => p.index === x.index)?.instanceId ?? x.instanceId })) }));
      return finishStep(next, 'repair:launch', now, placed.map((p) => `server ${p.index + 1}: ${p.instanceId}`).join(', '));
    });
    await audit(deps, env, 'repair:launched', `Replacing ${repair.servers.map((r) => `server ${r.index + 1} (${r.lost}, ${r.why})`).join(', ')} with ${placed.map((p) => p.instanceId).join(', ')}`);
    tell(deps.logger, () => deps.notifier.showProgress(env));
    const ids = placed.map((p) => p.instanceId);
    const running = await step('running', () => deps.compute.waitUntilRunning(ids, { timeoutMs: deps.timeouts.runningMs, signal: lease.signal }));
    env = await lease.update((e) => {
      const serversNow = e.servers.map((s) => {
        const r = running.find((i) => i.instanceId === s.instanceId);
        return r ? { ...s, state: 'running' as const, ...(r.privateIp ? { privateIp: r.privateIp } : {}) } : s;
      });
      return withRepair({ ...e, servers: serversNow }, (r) => ({ ...r, phase: 'bootstrap' }));
    });
    tell(deps.logger, () => deps.notifier.showProgress(env));
  }

  private async restoreAndFinish(lease: HeldLease): Promise<void> {
    const { deps } = this;
    const repair = lease.environment.repair as RepairState;
    const latest = lease.environment.data?.latest;
    let generation: { number: number; createdAt: string } | undefined;
    if (deps.data && latest) {
      const data = deps.data;
      const manifest = await step('restore', () => data.store.getGeneration(latest.environmentId, latest.number));
      if (!manifest) {
        // As a wake would: the data it would restore is not there. Nothing is made up; the data alert says more.
        throw new StepError('restore', new DomainError(ErrorCodes.DATA_NO_GENERATION, `Generation ${latest.number} is not in the data store any more.`, { generation: latest.number }, false));
      }
      {
        generation = { number: manifest.generation, createdAt: manifest.createdAt };
        for (const r of repair.servers) {
          if (r.restored) continue;
          const key = `restore:${r.index}`;
          let env = await lease.update((e) => startStep(e, key, `Restore server ${r.index + 1} (generation ${manifest.generation})`, deps.clock.now()));
          tell(deps.logger, () => deps.notifier.showProgress(env));
          const report = await restorePart({ ...data, commands: deps.commands, clock: deps.clock, timeouts: deps.timeouts, ...(deps.serverDataDir ? { serverDataDir: deps.serverDataDir } : {}), data: data.store }, lease, {
            index: r.index,
            manifest,
            key: `${lease.environment.id}/repair-restore/${manifest.environmentId}/${manifest.generation}/${r.index}r${r.serial}.${lease.environment.retries}`,
          });
          env = await lease.update((e) =>
            finishStep(
              withRepair(e, (x) => ({ ...x, servers: x.servers.map((s) => (s.index === r.index ? { ...s, restored: { bytes: report.bytes, generation: manifest.generation } } : s)) })),
              key,
              deps.clock.now(),
              `${formatBytes(report.bytes)}, verified`,
            ),
          );
          tell(deps.logger, () => deps.notifier.showProgress(env));
        }
      }
    }
    const env = await lease.update((e) => {
      const now = deps.clock.now();
      const ready = transition(e, 'ready', now);
      const done = e.repair ?? repair;
      const next: Environment = { ...ready, repaired: { servers: done.servers, by: done.by, at: now.toISOString(), ...(generation ? { generation } : {}) } };
      delete next.repair;
      return next;
    });
    await audit(
      deps,
      env,
      'repair:done',
      `Repaired: ${repair.servers.map((r) => `server ${r.index + 1}`).join(', ')} replaced${generation ? `, data restored from generation ${generation.number}` : ', no saved data to restore'}`,
      repair.by,
    );
    tell(deps.logger, () => deps.notifier.showProgress(env));
    tell(deps.logger, () => deps.notifier.threadNote(env, 'repaired'));
  }
}

function servers(repair: RepairState): string {
  return repair.servers.map((r) => `server ${r.index + 1}`).join(', ');
}
