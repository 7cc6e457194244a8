import {
  finishStep,
  startStep,
  transition,
  type Environment,
  type GenerationSummary,
  type SaveInProgress,
  type SavePart,
  type ServerRecord,
} from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { formatBytes, formatDuration } from '../environment/sizes.js';
import { dataSpecOf, type DataSpec } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { DataStorePort, GenerationManifest, PartManifest, PartRef, UploadedPart } from '../ports/data-store.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { CommandResult, RemoteCommandPort } from '../ports/remote-command.port.js';
import { LeaseLost, type HeldLease } from '../workflow/runner.js';
import type { DestroyFlow } from './destroy.use-case.js';
import { commandFailure, recordFlowFailure, step, StepError } from './provision.flow.js';
import { audit, tell, templateOf } from './shared.js';
import type { Template } from '../environment/template.js';

/** What the restore script reports on its last line. */
export interface RestoreReport {
  bytes: number;
  sha256: string;
  entries: number;
  /** A digest of the restored tree, when asked for (shared data). */
  tree?: string;
}

/**
 * The scripts servers run to save and restore their data (files in the repo,
 * read at start), and how their one-line reports are read.
 */
export interface DataScripts {
  save: string;
  restore: string;
  parseSave(stdout: string): UploadedPart | undefined;
  parseRestore(stdout: string): RestoreReport | undefined;
}

export interface DataSettings {
  /** How long a server's save may take (its command's timeout; its URLs last a little longer). */
  saveTimeoutSeconds: number;
  restoreTimeoutSeconds: number;
  /** How often a save's bytes so far are shown. */
  progressEveryMs: number;
  /** How many generations an environment keeps while it lives (older ones are deleted after a new one exists). */
  keepGenerations: number;
}

export interface SaveDeps {
  compute: ComputePort;
  commands: RemoteCommandPort;
  data: DataStorePort;
  notifier: NotifierPort;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  timeouts: { runningMs: number; agentMs: number };
  settings: DataSettings;
  scripts: DataScripts;
  serverDataDir?: string;
  /** Runs when a save before a destroy is done. */
  destroy: Pick<DestroyFlow, 'run'>;
}

/** Extra validity of the presigned URLs beyond the command's timeout: the agent may start it late. */
export const URL_MARGIN_SECONDS = 15 * 60;

/**
 * Saves an environment's data as one generation, then does what the save
 * was for: the servers go (a sleep), or it is ready again (a save), or it is
 * destroyed (a save before destroy).
 *
 * The order is the guarantee: every server's part is uploaded and verified
 * (the server checks each multipart part's MD5 against what the store
 * answers; the bot completes the upload only when every part is there with
 * the sizes the server reported, and checks the stored size), then the
 * manifest is written, and only then is anything terminated. A failure
 * before the manifest terminates nothing: the upload is given up, what it
 * stored is removed, and the environment fails at the save step with Retry
 * (its servers untouched). A process killed mid-save is resumed by the
 * sweep: the upload of each part and its command were recorded before they
 * were sent, so the resumed run continues them instead of starting anew.
 */
export class SaveFlow {
  constructor(private readonly deps: SaveDeps) {}

  readonly run = async (lease: HeldLease): Promise<void> => {
    const { deps } = this;
    try {
      let env = lease.environment;
      const saving = env.data?.saving;
      if (!saving) throw new StepError('save', new DomainError(ErrorCodes.UNEXPECTED, 'A save without its plan was found.', {}, true));
      const spec = dataSpecOf(templateOf(deps.templates, env));

      if (saving.mode === 'stop') {
        await this.stopServers(lease, spec);
        return;
      }
      if (!saving.manifestAt) {
        env = await this.saveParts(lease, spec);
        env = await this.writeManifest(lease, spec);
      }
      await this.after(lease);
    } catch (error) {
      if (error instanceof LeaseLost) throw error;
      await this.giveUpUploads(lease);
      await recordFlowFailure(deps, lease, error, 'saving failed');
    }
  };

  private async saveParts(lease: HeldLease, spec: DataSpec): Promise<Environment> {
    const { deps } = this;
    let env = await lease.update((e) => {
      const now = deps.clock.now();
      let next = e;
      for (const p of e.data?.saving?.parts ?? []) {
        if (!p.stored) next = startStep(next, `save:${p.server}`, partLabel(p), now);
      }
      return next;
    });
    tell(deps.logger, () => deps.notifier.showProgress(env));
    const parts = env.data?.saving?.parts ?? [];

    // The first server to fail fails the save; the others stop at their next step.
    const abort = new AbortController();
    const stopOthers = () => abort.abort(lease.signal.reason);
    lease.signal.addEventListener('abort', stopOthers, { once: true });
    try {
      // Every part settles before a failure is handled: a part still completing must not be marked stored
      // after the failure's clean-up removed its object.
      const results = await Promise.allSettled(
        parts
          .filter((p) => !p.stored)
          .map((p) =>
            this.savePart(lease, p, spec, abort.signal).catch((e: unknown) => {
              abort.abort(e);
              throw e;
            }),
          ),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      // The first failure is the one that stopped the others (theirs only say they were stopped).
      if (failed) throw abort.signal.aborted ? abort.signal.reason : failed.reason;
    } finally {
      lease.signal.removeEventListener('abort', stopOthers);
    }
    env = lease.environment;
    return env;
  }

  private async savePart(lease: HeldLease, planned: SavePart, spec: DataSpec, stopped: AbortSignal): Promise<void> {
    const { deps } = this;
    const env = lease.environment;
    const saving = env.data?.saving as SaveInProgress;
    const server = serverOf(env, planned.server);
    const ref: PartRef = { environmentId: env.id, generation: saving.generation, part: planned.part };
    // A part whose command was sent by an earlier run (a crash, a restart) may have ended without us: its
    // store may have gone with that process (the sandbox's), so it may be sent once more.
    let resends = planned.sent ? 1 : 0;
    let part = planned;
    for (;;) {
      if (stopped.aborted) return;
      await lease.ensureHeld();
      const upload = await step(
        'save',
        () => deps.data.beginUpload(ref, { expiresSeconds: deps.settings.saveTimeoutSeconds + URL_MARGIN_SECONDS, ...(part.uploadId ? { existingUploadId: part.uploadId } : {}) }),
        planned.server,
      );
      const startedAt = part.startedAt ?? deps.clock.now().toISOString();
      // Recorded before the command is sent: a resumed run finds the upload and attaches to the command.
      await lease.update((e) => withPart(e, part.part, (p) => ({ ...p, uploadId: upload.uploadId, sent: true, startedAt })));
      const progress = this.showBytes(lease, ref, upload.uploadId, planned.server, Date.parse(startedAt), stopped);
      let result: CommandResult;
      try {
        await lease.ensureHeld();
        result = await step(
          'save',
          () =>
            deps.commands.run(
              server.instanceId,
              {
                name: 'dormouse-save',
                key: `${env.id}/save/${saving.generation}/${part.part}/${part.tries}`,
                script: deps.scripts.save,
                timeoutSeconds: deps.settings.saveTimeoutSeconds,
                sandboxSafe: true,
                env: {
                  ...this.dataDirEnv(),
                  DORMOUSE_DATA_PATHS: spec.paths.join('\n'),
                  DORMOUSE_PART_URLS_URL: upload.partUrlsUrl,
                  DORMOUSE_PART_BYTES: String(upload.partBytes),
                  DORMOUSE_MAX_PARTS: String(upload.maxParts),
                  DORMOUSE_COMPRESSION: 'auto',
                  DORMOUSE_SERVER_INDEX: String(planned.server),
                },
              },
              { agentTimeoutMs: deps.timeouts.agentMs, signal: AbortSignal.any([lease.signal, stopped]) },
            ),
          planned.server,
        );
      } finally {
        progress.stop();
      }
      if (result.status !== 'Success') {
        if (resends-- > 0) {
          deps.logger.warn({ environment: env.name, part: part.part, status: result.status }, 'a save sent before this run did not finish; sending it again');
          await deps.data.abortUpload(ref, upload.uploadId).catch(() => undefined);
          const e = await lease.update((x) => withPart(x, part.part, (p) => ({ part: p.part, server: p.server, tries: p.tries + 1, startedAt })));
          part = e.data?.saving?.parts.find((p) => p.part === planned.part) ?? part;
          continue;
        }
        throw new StepError('save', commandFailure(server, { name: 'save', timeoutSeconds: deps.settings.saveTimeoutSeconds }, result), planned.server);
      }
      const report = deps.scripts.parseSave(result.stdoutTail);
      if (!report) {
        throw new StepError(
          'save',
          new DomainError(ErrorCodes.DATA_NO_REPORT, `Server ${planned.server + 1} finished its save without saying what it stored.`, { server: planned.server + 1, script: 'save' }, true),
          planned.server,
        );
      }
      const stored = await step('save', () => deps.data.completeUpload(ref, upload.uploadId, report), planned.server);
      const e = await lease.update((x) => {
        const now = deps.clock.now();
        const took = now.getTime() - Date.parse(startedAt);
        const next = withPart(x, part.part, (p) => ({ ...p, stored, endedAt: now.toISOString() }));
        return finishStep(next, `save:${planned.server}`, now, `${formatBytes(stored.bytes)} in ${formatDuration(took)}, verified`);
      });
      await audit(deps, e, `save:${part.part}`, `Generation ${saving.generation}: ${part.part} stored, ${stored.bytes} bytes, sha256 ${stored.sha256}`);
      tell(deps.logger, () => deps.notifier.showProgress(e));
      return;
    }
  }

  /** While a server uploads: how much the store holds so far, every few seconds. Never fails the save. */
  private showBytes(lease: HeldLease, ref: PartRef, uploadId: string, server: number, startedAt: number, stopped: AbortSignal): { stop(): void } {
    const { deps } = this;
    const done = new AbortController();
    const signal = AbortSignal.any([done.signal, stopped, lease.signal]);
    void (async () => {
      let last = -1;
      while (!signal.aborted) {
        await deps.clock.sleep(deps.settings.progressEveryMs, signal);
        if (signal.aborted) return;
        const bytes = await deps.data.uploadedBytes(ref, uploadId).catch(() => last);
        if (bytes === last || signal.aborted) continue;
        last = bytes;
        const detail = `${formatBytes(bytes)} so far, ${formatDuration(deps.clock.now().getTime() - startedAt)}`;
        await lease
          .update((e) => {
            const p = e.progress.find((x) => x.key === `save:${server}`);
            return p && p.status === 'running' ? { ...e, progress: e.progress.map((x) => (x === p ? { ...x, detail } : x)) } : undefined;
          })
          .then((e) => tell(deps.logger, () => deps.notifier.showProgress(e)))
          .catch(() => undefined);
      }
    })();
    return { stop: () => done.abort() };
  }

  /** Every part is stored and verified: the manifest, written last, makes the generation exist. */
  private async writeManifest(lease: HeldLease, spec: DataSpec): Promise<Environment> {
    const { deps } = this;
    const env = lease.environment;
    const saving = env.data?.saving as SaveInProgress;
    const parts = saving.parts.map((p) => p.stored).filter((p): p is PartManifest => p !== undefined);
    if (parts.length !== saving.parts.length) throw new StepError('save', new DomainError(ErrorCodes.DATA_PART_MISSING, 'A part of the generation is not stored.', { generation: saving.generation }, true));
    const now = deps.clock.now();
    const manifest: GenerationManifest = {
      format: 1,
      environmentId: env.id,
      environment: env.name,
      generation: saving.generation,
      createdAt: now.toISOString(),
      reason: saving.reason,
      template: env.template,
      serverCount: env.count,
      shared: spec.shared,
      paths: [...spec.paths],
      parts,
      bytes: parts.reduce((n, p) => n + p.bytes, 0),
    };
    await lease.ensureHeld();
    await step('save', () => deps.data.writeManifest(manifest));
    const summary: GenerationSummary = {
      environmentId: env.id,
      number: manifest.generation,
      createdAt: manifest.createdAt,
      reason: manifest.reason,
      bytes: manifest.bytes,
      serverCount: manifest.serverCount,
      shared: manifest.shared,
    };
    const next = await lease.update((e) => {
      const data = e.data ?? { lastGeneration: saving.generation };
      return { ...e, data: { ...data, latest: summary, saving: { ...(data.saving as SaveInProgress), manifestAt: manifest.createdAt } } };
    });
    await audit(deps, next, 'data:generation', `Generation ${manifest.generation} (${manifest.reason}): ${parts.length} part(s), ${manifest.bytes} bytes`);
    await this.pruneOld(env.id, manifest.generation);
    return next;
  }

  /** Older generations beyond the kept number go, and leftovers of failed saves. Never fails the save. */
  private async pruneOld(environmentId: string, newest: number): Promise<void> {
    const { deps } = this;
    try {
      const all = await deps.data.listGenerations(environmentId);
      for (const g of all.filter((x) => x.generation !== newest).slice(Math.max(0, deps.settings.keepGenerations - 1))) {
        await deps.data.deleteGeneration(environmentId, g.generation);
      }
      await deps.data.removeLeftovers(environmentId);
    } catch (err) {
      deps.logger.warn({ err, environmentId }, 'could not remove old generations; they stay until the next save');
    }
  }

  /** The generation exists: what the save was for. */
  private async after(lease: HeldLease): Promise<void> {
    const { deps } = this;
    const env = lease.environment;
    const saving = env.data?.saving as SaveInProgress;
    if (saving.then === 'ready') {
      const next = await lease.update((e) => {
        const now = deps.clock.now();
        return transition({ ...e, data: withoutSaving(e) }, 'ready', now);
      });
      await audit(deps, next, 'state:ready', `Saved generation ${saving.generation}`);
      tell(deps.logger, () => deps.notifier.showProgress(next));
      tell(deps.logger, () => deps.notifier.threadNote(next, 'saved'));
      return;
    }
    if (saving.then === 'destroying') {
      await lease.update((e) => {
        const now = deps.clock.now();
        return startStep({ ...transition(e, 'destroying', now), data: withoutSaving(e) }, 'destroy', 'Terminating every instance', now);
      });
      await deps.destroy.run(lease);
      return;
    }
    // A sleep: only now do the servers go.
    let e = await lease.update((x) => startStep(x, 'terminate', `Terminating ${x.servers.length === 1 ? 'the server' : `the ${x.servers.length} servers`} (data saved)`, deps.clock.now()));
    tell(deps.logger, () => deps.notifier.showProgress(e));
    const ids = [...new Set([...e.servers.map((s) => s.instanceId), ...(await step('terminate', () => deps.compute.findByEnvironment(e.id))).map((i) => i.instanceId)])];
    await lease.ensureHeld();
    await step('terminate', () => deps.compute.terminate(ids));
    await step('terminate', () => deps.compute.waitUntilTerminated(ids, { timeoutMs: deps.timeouts.runningMs, signal: lease.signal }));
    e = await lease.update((x) => {
      const now = deps.clock.now();
      const done = finishStep(x, 'terminate', now, `${ids.length} terminated`);
      const asleep = transition({ ...done, data: { ...withoutSaving(x), asleepAs: 'archive' as const } }, 'asleep', now);
      return { ...asleep, sleptAt: now.toISOString(), servers: x.servers.map((s) => ({ ...s, state: 'terminated' as const })) };
    });
    await audit(deps, e, 'state:asleep', `Asleep: generation ${saving.generation} kept; terminated ${ids.join(', ')}`, saving.by);
    tell(deps.logger, () => deps.notifier.showProgress(e));
    tell(deps.logger, () => deps.notifier.threadNote(e, 'asleep'));
  }

  /** A stopped sleep: the servers stop with their volumes (the data stays on them); nothing is saved to the store. */
  private async stopServers(lease: HeldLease, spec: DataSpec): Promise<void> {
    const { deps } = this;
    let e = await lease.update((x) => startStep(x, 'stop', `Stopping ${x.servers.length === 1 ? 'the server' : `the ${x.servers.length} servers`} (volumes kept)`, deps.clock.now()));
    tell(deps.logger, () => deps.notifier.showProgress(e));
    const ids = e.servers.map((s) => s.instanceId);
    await lease.ensureHeld();
    await step('terminate', () => deps.compute.stop(ids));
    await step('terminate', () => deps.compute.waitUntilStopped(ids, { timeoutMs: deps.timeouts.runningMs, signal: lease.signal }));
    const template = templateOf(deps.templates, e);
    const volumeGiB = template.volumes.reduce((n, v) => n + v.sizeGiB, 0);
    e = await lease.update((x) => {
      const now = deps.clock.now();
      const data = { ...withoutSaving(x), asleepAs: 'stop' as const, stoppedGiB: volumeGiB * x.count };
      const asleep = transition({ ...finishStep(x, 'stop', now, `${ids.length} stopped`), data }, 'asleep', now);
      return { ...asleep, sleptAt: now.toISOString() };
    });
    void spec;
    await audit(deps, e, 'state:asleep', `Asleep: stopped ${ids.join(', ')} (volumes kept)`, e.sleptBy);
    tell(deps.logger, () => deps.notifier.showProgress(e));
    tell(deps.logger, () => deps.notifier.threadNote(e, 'asleep'));
  }

  /**
   * The save failed before its manifest: nothing was terminated. Its uploads
   * are given up and what they stored removed, and its parts start afresh
   * on a retry (a new try in each command's key), so the generation is taken
   * whole, at one moment, again.
   */
  private async giveUpUploads(lease: HeldLease): Promise<void> {
    const { deps } = this;
    const env = lease.environment;
    const saving = env.data?.saving;
    if (!saving || saving.manifestAt) return;
    for (const p of saving.parts) {
      if (p.uploadId) await deps.data.abortUpload({ environmentId: env.id, generation: saving.generation, part: p.part }, p.uploadId).catch(() => undefined);
    }
    await deps.data.removeLeftovers(env.id).catch((err: unknown) => deps.logger.warn({ err, environment: env.name }, 'could not remove what a failed save stored'));
    await lease
      .update((e) => {
        const s = e.data?.saving;
        if (!s || s.manifestAt) return undefined;
        const parts = s.parts.map((p) => ({ part: p.part, server: p.server, tries: p.tries + 1 }));
        return { ...e, data: { ...(e.data ?? { lastGeneration: s.generation }), saving: { ...s, parts } } };
      })
      .catch((err: unknown) => {
        if (!(err instanceof LeaseLost)) deps.logger.warn({ err, environment: env.name }, 'could not reset the failed save');
      });
  }

  private dataDirEnv(): Record<string, string> {
    return this.deps.serverDataDir ? { DORMOUSE_DATA_DIR: this.deps.serverDataDir } : {};
  }
}

export function partLabel(p: Pick<SavePart, 'part' | 'server'>): string {
  return p.part === 'shared' ? 'Save the shared data (server 1)' : `Save server ${p.server + 1}`;
}

export function serverOf(env: Environment, index: number): ServerRecord {
  const server = env.servers.find((s) => s.index === index);
  if (!server) throw new StepError('save', new DomainError(ErrorCodes.INSTANCE_LOST, `Server ${index + 1} is not on record.`, { server: index + 1 }, true), index);
  return server;
}

function withPart(env: Environment, part: SavePart['part'], change: (p: SavePart) => SavePart): Environment {
  const saving = env.data?.saving;
  if (!saving) return env;
  return { ...env, data: { ...(env.data ?? { lastGeneration: saving.generation }), saving: { ...saving, parts: saving.parts.map((p) => (p.part === part ? change(p) : p)) } } };
}

function withoutSaving(env: Environment): NonNullable<Environment['data']> {
  const data = { ...(env.data ?? { lastGeneration: 0 }) };
  delete data.saving;
  return data;
}
