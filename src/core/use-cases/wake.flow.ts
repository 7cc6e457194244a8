import { finishStep, startStep, transition, type Environment, type ProgressStep, type WakeInProgress } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { formatBytes, formatDuration } from '../environment/sizes.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { DataStorePort, GenerationManifest, PartManifest } from '../ports/data-store.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import { LeaseLost, type HeldLease } from '../workflow/runner.js';
import { commandFailure, keptDisappearing, recordFlowFailure, step, StepError, type ProvisionFlow, type SetupPhases } from './provision.flow.js';
import type { DataScripts, DataSettings } from './save.flow.js';
import { serverOf, URL_MARGIN_SECONDS } from './save.flow.js';
import type { RemoteCommandPort } from '../ports/remote-command.port.js';
import type { ComputePort } from '../ports/compute.port.js';
import { audit, tell } from './shared.js';

export interface WakeDeps {
  compute: ComputePort;
  commands: RemoteCommandPort;
  data: DataStorePort;
  notifier: NotifierPort;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  clock: Clock;
  logger: Logger;
  timeouts: { agentMs: number; runningMs: number };
  settings: DataSettings;
  scripts: DataScripts;
  serverDataDir?: string;
  /** Launch and bootstrap are provisioning's. */
  setup: Pick<ProvisionFlow, 'launch' | 'bootstrap'>;
}

const MAX_RELAUNCHES = 2;

const withWaking = (e: Environment, change: (w: WakeInProgress) => WakeInProgress): Environment => {
  const w = e.data?.waking;
  return w && e.data ? { ...e, data: { ...e.data, waking: change(w) } } : e;
};

/** A wake stays in `waking` while its servers launch and bootstrap: its phase says where it is. */
const WAKE_PHASES: SetupPhases = {
  running: (e) => withWaking(e, (w) => ({ ...w, phase: 'bootstrap' })),
  relaunching: (e) => withWaking(e, (w) => ({ ...w, phase: 'launch', restored: [] })),
  bootstrapped: (e) => withWaking(e, (w) => ({ ...w, phase: 'restore' })),
};

/**
 * Wakes an environment on fresh servers: launch, the template's bootstrap,
 * then the generation restored on every server (each its own part by index,
 * or the shared part everywhere) and checked against the manifest's
 * SHA-256, and, for shared data, the restored trees compared across
 * servers. Only then is it ready. Each phase is recorded, so a resumed wake
 * continues where it was; a restore command is keyed by generation, server,
 * attempt and retry, so a resumed run attaches to it.
 */
export class WakeFlow {
  constructor(private readonly deps: WakeDeps) {}

  readonly run = async (lease: HeldLease): Promise<void> => {
    let relaunches = 0;
    try {
      // Resumed or retried in its restore phase: are its servers still there? (Bootstrap finds out, and
      // relaunches when they are gone; with every server bootstrapped it goes straight back to restore.)
      if (lease.environment.data?.waking?.phase === 'restore') await this.deps.setup.bootstrap(lease, WAKE_PHASES);
      for (;;) {
        const env = lease.environment;
        const waking = env.data?.waking;
        if (env.state !== 'waking' || !waking) return;
        if (waking.phase === 'start') {
          await this.startServers(lease);
          await this.restore(lease);
          return;
        }
        if (waking.phase === 'launch') await this.deps.setup.launch(lease, WAKE_PHASES);
        else if (waking.phase === 'bootstrap') {
          const after = await this.deps.setup.bootstrap(lease, WAKE_PHASES);
          if (after.data?.waking?.phase === 'launch' && ++relaunches > MAX_RELAUNCHES) throw keptDisappearing();
        } else {
          await this.restore(lease);
          return;
        }
      }
    } catch (error) {
      if (error instanceof LeaseLost) throw error;
      await recordFlowFailure(this.deps, lease, error, 'waking failed');
    }
  };

  /** A stopped sleep: its servers start again, volumes and data as they were. */
  private async startServers(lease: HeldLease): Promise<void> {
    const { deps } = this;
    const ids = lease.environment.servers.map((s) => s.instanceId);
    await lease.ensureHeld();
    await step('wake', () => deps.compute.start(ids));
    const running = await step('wake', () => deps.compute.waitUntilRunning(ids, { timeoutMs: deps.timeouts.runningMs, signal: lease.signal }));
    const e = await lease.update((x) => {
      const now = deps.clock.now();
      const servers = x.servers.map((s) => {
        const r = running.find((i) => i.instanceId === s.instanceId);
        return { ...s, state: 'ready' as const, ...(r?.privateIp ? { privateIp: r.privateIp } : {}) };
      });
      return finishStep({ ...x, servers }, 'start', now, `${ids.length} running`);
    });
    tell(deps.logger, () => deps.notifier.showProgress(e));
  }

  private async restore(lease: HeldLease): Promise<void> {
    const { deps } = this;
    let env = lease.environment;
    const waking = env.data?.waking as WakeInProgress;
    let manifest: GenerationManifest | undefined;
    if (waking.generation !== undefined) {
      const number = waking.generation;
      manifest = await step('restore', () => deps.data.getGeneration(waking.environmentId, number));
      if (!manifest) {
        throw new StepError('restore', new DomainError(ErrorCodes.DATA_NO_GENERATION, `Generation ${number} is not in the data store any more.`, { generation: number }, false));
      }
      const m = manifest;
      env = await lease.update((e) => {
        const now = deps.clock.now();
        let next = e;
        for (const s of e.servers) {
          if (!e.data?.waking?.restored.some((r) => r.server === s.index)) next = startStep(next, `restore:${s.index}`, `Restore server ${s.index + 1} (generation ${m.generation})`, now);
        }
        return next;
      });
      tell(deps.logger, () => deps.notifier.showProgress(env));
      const abort = new AbortController();
      const results = await Promise.allSettled(
        env.servers
          .filter((s) => !waking.restored.some((r) => r.server === s.index))
          .map((s) =>
            this.restoreServer(lease, s.index, m, abort.signal).catch((e: unknown) => {
              abort.abort(e);
              throw e;
            }),
          ),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      // The first failure is the one that stopped the others (theirs only say they were stopped).
      if (failed) throw abort.signal.aborted ? abort.signal.reason : failed.reason;
      if (m.shared) this.assertInStep(lease.environment);
    }
    env = await lease.update((e) => {
      const now = deps.clock.now();
      const startedAt = e.data?.waking?.startedAt ?? e.stateChangedAt;
      const ready = transition(e, 'ready', now);
      const data = { ...(ready.data ?? { lastGeneration: 0 }) };
      delete data.waking;
      delete data.asleepAs;
      delete data.stoppedGiB;
      const total: ProgressStep = { key: 'ready', label: 'Awake', status: 'done', startedAt, endedAt: now.toISOString() };
      return { ...ready, data, progress: [...ready.progress.filter((p) => p.key !== 'ready'), total] };
    });
    await audit(deps, env, 'state:ready', manifest ? `Awake: generation ${manifest.generation} restored on ${env.servers.length} server(s)` : 'Awake', waking.by);
    tell(deps.logger, () => deps.notifier.showProgress(env));
    tell(deps.logger, () => deps.notifier.threadNote(env, 'woke'));
  }

  private async restoreServer(lease: HeldLease, index: number, manifest: GenerationManifest, stopped: AbortSignal): Promise<void> {
    const { deps } = this;
    const env = lease.environment;
    const started = deps.clock.now().getTime();
    const report = await restorePart(deps, lease, {
      index,
      manifest,
      key: `${env.id}/restore/${manifest.environmentId}/${manifest.generation}/${index}/${env.attempt}.${env.retries}`,
      stopped,
    });
    const ms = deps.clock.now().getTime() - started;
    const e = await lease.update((x) => {
      const now = deps.clock.now();
      const next = withWaking(x, (w) => ({
        ...w,
        restored: [...w.restored.filter((r) => r.server !== index), { server: index, bytes: report.bytes, sha256: report.sha256, ms, ...(report.tree ? { tree: report.tree } : {}) }],
      }));
      return finishStep(next, `restore:${index}`, now, `${formatBytes(report.bytes)} in ${formatDuration(ms)}, verified`);
    });
    tell(deps.logger, () => deps.notifier.showProgress(e));
  }

  /** Shared data must be the same tree on every server. */
  private assertInStep(env: Environment): void {
    const restored = env.data?.waking?.restored ?? [];
    const trees = new Set(restored.map((r) => r.tree ?? 'none'));
    if (trees.size > 1 || trees.has('none')) {
      throw new StepError(
        'restore',
        new DomainError(ErrorCodes.DATA_NOT_IN_STEP, 'The shared data differs between servers after the restore.', { servers: restored.map((r) => `${r.server + 1}:${(r.tree ?? 'none').slice(0, 12)}`) }, true),
      );
    }
  }
}

/** The part a server restores: its own by index, or the shared one. */
export function partFor(manifest: GenerationManifest, index: number): PartManifest {
  const name = manifest.shared ? 'shared' : `server-${index}`;
  const part = manifest.parts.find((p) => p.part === name);
  if (!part) {
    throw new StepError('restore', new DomainError(ErrorCodes.DATA_COUNT_MISMATCH, `Generation ${manifest.generation} has no part for server ${index + 1}.`, { generation: manifest.generation, server: index + 1, serverCount: manifest.serverCount }), index);
  }
  return part;
}

/** What a restore needs: the commands, the store, the scripts and their settings. */
export type RestoreDeps = Pick<WakeDeps, 'commands' | 'data' | 'clock' | 'timeouts' | 'settings' | 'scripts' | 'serverDataDir'>;

/**
 * Restores one server's part of a generation (its own by index, or the
 * shared one) with the restore script, under `key` (a resumed run attaches
 * to the same command), and checks what the server reports against the
 * manifest's size and SHA-256. Returns the server's report.
 */
export async function restorePart(
  deps: RestoreDeps,
  lease: HeldLease,
  what: { index: number; manifest: GenerationManifest; key: string; stopped?: AbortSignal },
): Promise<{ bytes: number; sha256: string; tree?: string }> {
  const { index, manifest } = what;
  const server = serverOf(lease.environment, index);
  const part = partFor(manifest, index);
  await lease.ensureHeld();
  const url = await step('restore', () => deps.data.downloadUrl(part, deps.settings.restoreTimeoutSeconds + URL_MARGIN_SECONDS), index);
  await lease.ensureHeld();
  const result = await step(
    'restore',
    () =>
      deps.commands.run(
        server.instanceId,
        {
          name: 'dormouse-restore',
          key: what.key,
          script: deps.scripts.restore,
          timeoutSeconds: deps.settings.restoreTimeoutSeconds,
          sandboxSafe: true,
          env: {
            ...(deps.serverDataDir ? { DORMOUSE_DATA_DIR: deps.serverDataDir } : {}),
            DORMOUSE_DATA_PATHS: manifest.paths.join('\n'),
            DORMOUSE_OBJECT_URL: url,
            DORMOUSE_OBJECT_BYTES: String(part.bytes),
            DORMOUSE_OBJECT_SHA256: part.sha256,
            DORMOUSE_COMPRESSION: part.compression,
            DORMOUSE_TREE_DIGEST: manifest.shared ? '1' : '0',
            DORMOUSE_SERVER_INDEX: String(index),
          },
        },
        { agentTimeoutMs: deps.timeouts.agentMs, signal: what.stopped ? AbortSignal.any([lease.signal, what.stopped]) : lease.signal },
      ),
    index,
  );
  if (result.status !== 'Success') throw new StepError('restore', commandFailure(server, { name: 'restore', timeoutSeconds: deps.settings.restoreTimeoutSeconds }, result), index);
  const report = deps.scripts.parseRestore(result.stdoutTail);
  if (!report) {
    throw new StepError('restore', new DomainError(ErrorCodes.DATA_NO_REPORT, `Server ${index + 1} finished its restore without saying what it restored.`, { server: index + 1, script: 'restore' }, true), index);
  }
  // The script checks this itself; the bot does not take its word for it.
  if (report.sha256 !== part.sha256 || report.bytes !== part.bytes) {
    throw new StepError(
      'restore',
      new DomainError(ErrorCodes.DATA_CHECKSUM_MISMATCH, `Server ${index + 1} restored data that differs from generation ${manifest.generation}.`, {
        server: index + 1,
        generation: manifest.generation,
        expected: part.sha256,
        got: report.sha256,
      }, true),
      index,
    );
  }
  return report;
}
