/**
 * NotifierPort over the Slack Web API: one message per environment, updated
 * in place, with the story in its thread; owner DMs and ops alerts.
 *
 * What was said lives in the store (the message ledger), not in this
 * process, so any replica, and a restarted process, continues the same
 * message: one poster at a time; an update carries the version it renders
 * and an older one is dropped; each line is told once. In this process,
 * updates for one environment go one at a time and are coalesced (the
 * newest version waiting is the one shown); nothing is kept once they are done.
 *
 * The core is never held up or failed by Slack: every failure to tell is
 * logged here (the Web API client itself retries 429 and 5xx).
 */
import { approvalRequestBlocks, approvalSummary } from './blocks/approval.blocks.js';
import type { WebClient } from '@slack/web-api';
import type { Environment, ProgressStep } from '../../core/environment/environment.js';
import { ErrorCodes, isDomainError } from '../../core/environment/errors.js';
import type { Clock, Logger } from '../../core/ports/clock.port.js';
import type { AlertRecord, LedgerKey, MessageLedger, MessageLocation } from '../../core/ports/message-ledger.port.js';
import type { NotifierPort, ScheduleNotice, ThreadNote } from '../../core/ports/notifier.port.js';
import { noticeLine, scheduleNoticeMessage } from './blocks/schedule.blocks.js';
import { savingsReply } from './blocks/savings.blocks.js';
import type { SavingsView } from '../../core/use-cases/savings.use-case.js';
import { alertSummary, environmentBlocks, environmentText, handledText, opsAlertBlocks, opsAlertHandledBlocks, ownerFailureText, threadNoteText } from './blocks/environment.message.js';
import { esc, stepLine } from './blocks/text.js';
import { driftAlertBlocks, driftAlertText } from './blocks/drift.blocks.js';
import type { DriftAlerts, FindingRecord } from '../../core/ports/finding-store.port.js';
import { failureSentence } from './text/errors.text.js';

/** The metadata event type of the schedule's direct messages: the line a notice is told under travels with it. */
const NOTICE_EVENT = 'dormouse_notice';
/** How long a claim to post a message or a line holds before another replica may take it (a crash). */
const CLAIM_MS = 60_000;
/** Tries to show the newest state through store blips. */
const RENDER_ATTEMPTS = 3;

/** Slack says the message (or its channel) is not there any more. */
const isGone = (err: unknown): boolean => ['message_not_found', 'channel_not_found'].includes((err as { data?: { error?: string } }).data?.error ?? '');

const isTransientStoreError = (e: unknown): boolean => isDomainError(e) && e.code === ErrorCodes.STORE_ERROR && e.retryable;

async function retryTransient<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= attempts || !isTransientStoreError(err)) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

export interface SlackNotifierDeps {
  client: WebClient;
  ledger: MessageLedger;
  /** The environment as stored now (to show the newest version after a race). */
  load: (name: string) => Promise<Environment | undefined>;
  opsChannel?: string | undefined;
  /** Where the weekly savings report goes. */
  savingsChannel?: string | undefined;
  logger: Logger;
  clock: Pick<Clock, 'now'>;
  /** This process, in claims. */
  holder: string;
  /** Told of every change, so that the Home tabs it concerns are published again. */
  onChange?: (env: Environment) => void;
}

/** The approvers' message is kept with the ops alerts (an open one has live buttons), under this id. */
const APPROVAL_ALERT = 'approval';
/** The ledger line of the question to the approvers: asked once across replicas. */
const APPROVAL_ASKED = 'approval:asked';

export class SlackNotifier implements NotifierPort, DriftAlerts {
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per incarnation, while its queue is busy: the newest version asked for, and the newest shown. */
  private readonly newest = new Map<string, Environment>();
  private readonly shown = new Map<string, number>();

  constructor(private readonly deps: SlackNotifierDeps) {}

  showProgress(env: Environment): Promise<void> {
    this.deps.onChange?.(env);
    const key = incarnation(env);
    const known = this.newest.get(key);
    if (!known || env.version > known.version) this.newest.set(key, env);
    return this.enqueue(key, async () => {
      const next = this.newest.get(key);
      if (!next || next.version <= (this.shown.get(key) ?? -1)) return;
      this.shown.set(key, next.version);
      // The newest state must reach people: a store blip is retried (Slack's own failures are retried by the client).
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.render(next);
        } catch (err) {
          if (attempt >= RENDER_ATTEMPTS || !isTransientStoreError(err)) throw err;
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    }).catch((err: unknown) => this.deps.logger.warn({ err, environment: env.name }, 'could not show the environment'));
  }

  threadNote(env: Environment, note: ThreadNote): Promise<void> {
    return this.enqueue(incarnation(env), () =>
      this.once(env, `note:${note}:${env.stateChangedAt}`, async () => {
        const where = (await this.deps.ledger.get(ledgerKey(env)))?.message;
        if (!where) return false;
        await this.deps.client.chat.postMessage({ channel: where.channel, thread_ts: where.ts, text: threadNoteText(env, note) });
        return true;
      }),
    ).then(
      () => undefined,
      (err: unknown) => this.deps.logger.warn({ err, environment: env.name }, 'could not add to the thread'),
    );
  }

  failed(env: Environment): Promise<void> {
    return this.once(env, `dm:failed:${env.failure?.at ?? env.version}`, async () => {
      const channel = await this.dmChannel(env.owner);
      await this.deps.client.chat.postMessage({ channel, text: ownerFailureText(env) });
      return true;
    }).then(
      () => undefined,
      (err: unknown) => this.deps.logger.warn({ err, environment: env.name }, 'could not tell the owner'),
    );
  }

  opsAlert(env: Environment): Promise<void> {
    const channel = this.deps.opsChannel;
    if (!channel) return Promise.resolve();
    const id = env.failure?.at ?? String(env.version);
    return this.once(env, `ops:failed:${id}`, async () => {
      const res = await this.deps.client.chat.postMessage({ channel, text: alertSummary(env), blocks: opsAlertBlocks(env) });
      // Remembered, so that once someone acts (here, on the message, or with a command) the alert says so and its buttons go.
      const posted = res.ts ? { channel: res.channel ?? channel, ts: res.ts } : undefined;
      if (posted) await retryTransient(() => this.deps.ledger.recordAlert(ledgerKey(env), { id, message: posted, summary: alertSummary(env) }));
      return true;
    }).then(
      () => undefined,
      (err: unknown) => this.deps.logger.warn({ err, environment: env.name }, 'could not alert ops'),
    );
  }

  settle(env: Environment): Promise<void> {
    return this.enqueue(incarnation(env), async () => {
      const outcome = await this.once(env, `settled:${env.version}`, async () => {
        const key = ledgerKey(env);
        // Shown again even if a replica claimed this version: it may have died before Slack heard of it.
        if (!(await this.deps.ledger.claimVersion(key, env.version, { again: true }))) return true;
        await this.show(env);
        await this.tellSteps(env);
        await this.closeHandledAlerts(env);
        return true;
      });
      if (outcome === 'told') this.shown.set(incarnation(env), Math.max(this.shown.get(incarnation(env)) ?? -1, env.version));
    }).catch((err: unknown) => this.deps.logger.warn({ err, environment: env.name }, 'could not settle the environment\'s message'));
  }

  /**
   * A drift alert in the ops channel: posted once (the reconciler stores where), then updated in place
   * as the finding changes, is acted on, or resolves. One deleted in Slack is posted again.
   */
  async driftAlert(rec: FindingRecord): Promise<{ channel: string; ts: string } | undefined> {
    const channel = this.deps.opsChannel;
    if (!channel) return undefined;
    const message = { text: driftAlertText(rec), blocks: driftAlertBlocks(rec) };
    if (rec.alert) {
      try {
        await this.deps.client.chat.update({ channel: rec.alert.channel, ts: rec.alert.ts, ...message });
        return rec.alert;
      } catch (err) {
        if (!isGone(err)) throw err;
      }
    }
    const res = await this.deps.client.chat.postMessage({ channel, ...message, metadata: { event_type: 'dormouse_drift', event_payload: { finding: rec.key } } });
    return res.ts ? { channel: res.channel ?? channel, ts: res.ts } : undefined;
  }

  /** A direct message to the owner about the schedule, told once across replicas; false when it could not be told now. */
  async scheduleNotice(env: Environment, notice: ScheduleNotice): Promise<boolean> {
    try {
      const line = noticeLine(notice);
      const outcome = await this.once(env, line, async () => {
        const channel = await this.dmChannel(env.owner);
        // A replica that died after posting it, before recording it told: the message is there, so it is not said twice.
        if ((await this.noticesIn(channel, env.id, line)).length) return true;
        const posted = await this.deps.client.chat.postMessage({
          channel,
          ...scheduleNoticeMessage(env, notice),
          metadata: { event_type: NOTICE_EVENT, event_payload: { line, environment: env.id } },
        });
        // A replica frozen between its look and its post (a paused process, a queued request) may have posted
        // the same notice meanwhile: the later of two takes itself back, so the person is left with one.
        if (posted.ts) await this.keepFirst(posted.channel ?? channel, env.id, line, posted.ts);
        return true;
      });
      if (outcome === 'told') return true;
      // Claimed by someone else: told, or being told by a replica that may have died doing it (its claim
      // lapses, and a later try looks for the message it may have sent before sending one).
      if (outcome === 'taken') return this.deps.ledger.isLineTold(ledgerKey(env), line);
      return false;
    } catch (err) {
      this.deps.logger.warn({ err, environment: env.name, notice: notice.kind }, 'could not tell the owner about the schedule');
      return false;
    }
  }

  /**
   * The approvers' message: posted once (a line of the ledger, across replicas), remembered like an
   * ops alert; once the request is decided, updated with the decision and without its buttons.
   */
  approvalRequest(env: Environment): Promise<boolean> {
    const approval = env.approval;
    if (!approval) return Promise.resolve(true);
    this.deps.onChange?.(env);
    return this.enqueue(incarnation(env), async () => {
      const { client, ledger } = this.deps;
      const key = ledgerKey(env);
      if (!approval.decision) {
        const outcome = await this.once(env, APPROVAL_ASKED, async () => {
          // Decided meanwhile (a click on a Home tab while this post waited out a 429): nothing left to ask.
          const now = await this.deps.load(env.name);
          if (now && now.id === env.id && now.state !== 'awaiting_approval') return true;
          const channel = approval.approvers.channel;
          const res = await client.chat.postMessage({ channel, text: approvalSummary(env), blocks: approvalRequestBlocks(env) });
          if (res.ts) await retryTransient(() => ledger.recordAlert(key, { id: APPROVAL_ALERT, message: { channel: res.channel ?? channel, ts: res.ts! }, summary: approvalSummary(env) }));
          return true;
        });
        // Claimed by another replica: asked, unless it died doing it (then its claim lapses and a later try asks).
        return outcome === 'told' || (outcome === 'taken' && (await ledger.isLineTold(key, APPROVAL_ASKED)));
      }
      await this.closeApproval(env, await ledger.openAlerts(key));
      return true;
    }).catch((err: unknown) => {
      this.deps.logger.warn({ err, environment: env.name }, 'could not tell the approvers');
      return false;
    });
  }

  async savingsReport(report: SavingsView): Promise<boolean> {
    const channel = this.deps.savingsChannel;
    if (!channel) return false;
    try {
      await this.deps.client.chat.postMessage({ channel, ...savingsReply(report) });
      return true;
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not post the savings report');
      return false;
    }
  }

  /** Resolves when nothing is left to say (or after `timeoutMs`): a graceful stop lets the last words out. */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.queues.size) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await Promise.race([Promise.allSettled([...this.queues.values()]), new Promise((r) => setTimeout(r, left))]);
    }
    return true;
  }

  // ── internals ─────────────────────────────────────────────────────────────

  /**
   * Shows `env` if no newer version was claimed; then, if a newer one was
   * claimed meanwhile (another replica), shows the newest again, since its
   * update may have landed before ours. Then tells the steps that ended.
   */
  private async render(env: Environment): Promise<void> {
    const { ledger, load } = this.deps;
    const key = ledgerKey(env);
    if (!(await ledger.claimVersion(key, env.version))) return;
    let shownEnv = env;
    await this.show(env);
    for (let round = 0; round < 3; round++) {
      const entry = await ledger.get(key);
      if (!entry || entry.shown <= shownEnv.version) break;
      const latest = await load(env.name);
      if (!latest || latest.id !== env.id || !(await ledger.claimVersion(key, latest.version, { again: true }))) break;
      await this.show(latest);
      shownEnv = latest;
    }
    await this.tellSteps(shownEnv);
    await this.closeHandledAlerts(shownEnv);
  }

  /**
   * An ops alert stays live while its failure is the environment's current
   * one; once someone retried or destroyed it, the alert says who and how,
   * and its buttons go (one replica does it).
   */
  private async closeHandledAlerts(env: Environment): Promise<void> {
    const { ledger, client, clock } = this.deps;
    if (!this.deps.opsChannel && !env.approval) return;
    const key = ledgerKey(env);
    const current = env.state === 'failed' ? env.failure?.at : undefined;
    const open = await ledger.openAlerts(key);
    await this.closeApproval(env, open);
    if (!this.deps.opsChannel) return;
    const handled = open.filter((a) => a.id !== current && a.id !== APPROVAL_ALERT);
    for (const alert of handled) {
      const text = handledText(env, clock.now());
      // Updated first, recorded closed after: an update that fails leaves it open, to be closed next time.
      // (Two replicas may both update it: the same words twice, harmless.)
      await client.chat.update({ channel: alert.message.channel, ts: alert.message.ts, text: `${alert.summary} ${text}`, blocks: opsAlertHandledBlocks(alert.summary, text) });
      await ledger.closeAlert(key, alert.id);
    }
  }

  /**
   * The approvers' message of a request that no longer waits (decided, or destroyed while it waited):
   * updated with what happened, its buttons gone. Called when a decision is told and on every render.
   */
  private async closeApproval(env: Environment, open: readonly AlertRecord[]): Promise<void> {
    if (env.state === 'awaiting_approval') return;
    for (const alert of open.filter((a) => a.id === APPROVAL_ALERT)) {
      await this.deps.client.chat.update({ channel: alert.message.channel, ts: alert.message.ts, text: `${alert.summary}: ${env.approval?.decision?.outcome ?? env.state}`, blocks: approvalRequestBlocks(env) });
      await this.deps.ledger.closeAlert(ledgerKey(env), alert.id);
    }
  }

  /** Updates the message, or posts it when nobody has (one poster at a time). */
  private async show(env: Environment): Promise<void> {
    const { ledger, client } = this.deps;
    const key = ledgerKey(env);
    const text = environmentText(env);
    const blocks = environmentBlocks(env);
    let where = (await ledger.get(key))?.message;
    if (!where) {
      const claim = await ledger.claimPost(key, this.deps.holder, CLAIM_MS);
      if (claim.claimed) {
        where = await this.post(env, text, blocks);
        // Remembered, whatever it takes: forgetting it would post a second message.
        await retryTransient(() => ledger.recordPost(key, where!));
        return;
      }
      // Another replica is posting it now: it shows its version, then the newest (see render).
      if (!claim.message) return;
      where = claim.message;
    }
    try {
      await client.chat.update({ channel: where.channel, ts: where.ts, text, blocks: blocks });
    } catch (err) {
      if (!isGone(err)) throw err;
      // Deleted in Slack (or a sandbox console restarted without its history): post it again, with its story.
      this.deps.logger.info({ environment: env.name }, 'the environment\'s message is gone from Slack; posting it again');
      await ledger.forgetPost(key, where);
      const claim = await ledger.claimPost(key, this.deps.holder, CLAIM_MS);
      if (!claim.claimed) return;
      const again = await this.post(env, text, blocks);
      await retryTransient(() => ledger.recordPost(key, again));
    }
  }

  /** Posts in the channel it was asked from; if the bot cannot post there, in a DM to the owner. */
  private async post(env: Environment, text: string, blocks: ReturnType<typeof environmentBlocks>): Promise<MessageLocation> {
    const { client } = this.deps;
    if (env.channel) {
      try {
        const res = await client.chat.postMessage({ channel: env.channel, text, blocks: blocks });
        if (res.ts && res.channel) return { channel: res.channel, ts: res.ts };
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        if (!['not_in_channel', 'channel_not_found', 'is_archived'].includes(code ?? '')) throw err;
        this.deps.logger.info({ environment: env.name, code }, 'cannot post in the request channel; using a DM');
      }
    }
    const channel = await this.dmChannel(env.owner);
    const res = await client.chat.postMessage({ channel, text, blocks: blocks });
    if (!res.ts) throw new Error('chat.postMessage answered without a ts');
    return { channel: res.channel ?? channel, ts: res.ts };
  }

  /** Each step that ended gets one line in the thread, in the order they ended. */
  private async tellSteps(env: Environment): Promise<void> {
    const ended = env.progress
      .filter((s) => (s.status === 'done' || s.status === 'failed') && s.endedAt)
      .sort((a, b) => (a.endedAt ?? '').localeCompare(b.endedAt ?? ''));
    if (!ended.length) return;
    const where = (await this.deps.ledger.get(ledgerKey(env)))?.message;
    if (!where) return;
    for (const step of ended) {
      // A step is the same step whatever retry shows it again: its key and when it ended.
      await this.once(env, `step:${step.key}:${step.endedAt}`, async () => {
        await this.deps.client.chat.postMessage({ channel: where.channel, thread_ts: where.ts, text: threadStepLine(env, step) });
        return true;
      });
    }
  }

  /**
   * Says something once across replicas: claims the line, says it, records it
   * told. `say` returning false (nowhere to say it yet) or failing gives the
   * line back, so a later call can say it.
   */
  private async once(env: Environment, line: string, say: () => Promise<boolean>): Promise<'told' | 'taken' | 'failed'> {
    const { ledger } = this.deps;
    const key = ledgerKey(env);
    if (!(await ledger.claimLine(key, line, CLAIM_MS))) return 'taken';
    let said = false;
    try {
      said = await say();
    } finally {
      await (said ? ledger.lineTold(key, line) : ledger.lineFailed(key, line)).catch((err: unknown) =>
        this.deps.logger.warn({ err, line }, 'could not record what was said'),
      );
    }
    return said ? 'told' : 'failed';
  }

  private enqueue<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) !== settled) return;
      // Nothing more is queued for it: forget it (the ledger remembers what matters).
      this.queues.delete(key);
      this.newest.delete(key);
      this.shown.delete(key);
    });
    return next;
  }

  /** The ts of recent messages in `channel` that carry the notice `line` about that environment (their metadata); none when it cannot be read. */
  private async noticesIn(channel: string, environment: string, line: string): Promise<string[]> {
    try {
      const res = await this.deps.client.conversations.history({ channel, limit: 50, include_all_metadata: true });
      return (res.messages ?? [])
        .filter((m) => {
          const payload = m.metadata?.event_type === NOTICE_EVENT ? (m.metadata.event_payload as Record<string, unknown> | undefined) : undefined;
          return payload?.line === line && payload.environment === environment;
        })
        .map((m) => m.ts ?? '');
    } catch (err) {
      this.deps.logger.warn({ err, channel }, 'could not read the direct messages to check a notice was not sent already');
      return [];
    }
  }

  /** Deletes our message `ts` if an earlier one says the same (never the earliest: one always stays). */
  private async keepFirst(channel: string, environment: string, line: string, ts: string): Promise<void> {
    const earlier = (await this.noticesIn(channel, environment, line)).filter((t) => t !== '' && Number(t) < Number(ts));
    if (!earlier.length) return;
    await this.deps.client.chat.delete({ channel, ts }).catch((err: unknown) => this.deps.logger.warn({ err, channel, ts }, 'could not take back a notice sent twice'));
    this.deps.logger.info({ environment, line }, 'a notice another replica had sent meanwhile was taken back');
  }

  private async dmChannel(user: string): Promise<string> {
    const res = await this.deps.client.conversations.open({ users: user });
    return res.channel?.id ?? user;
  }
}

/**
 * A step's line in the thread. A step that failed also says why (the message
 * shows only the latest failure; the thread keeps every try's reason).
 */
function threadStepLine(env: Environment, step: ProgressStep): string {
  const line = stepLine(step);
  if (step.status !== 'failed') return line;
  const failure = env.failure && env.failure.at === step.endedAt ? failureSentence(env.failure) : step.detail ? esc(step.detail) : undefined;
  return failure ? `${line}: ${failure}` : line;
}

/** A name can be reused once an environment has ended: its message belongs to one incarnation. */
function incarnation(env: Environment): string {
  return `${env.name}@${env.id}`;
}

const ledgerKey = (env: Environment): LedgerKey => ({ name: env.name, id: env.id });
