/**
 * NotifierPort over the Slack Web API: one message per environment, updated
 * in place, with the story in its thread; owner DMs and ops alerts.
 * Updates for one environment are serialised and coalesced so that a slow
 * chat.update can never overwrite a newer state with an older one.
 */
import type { WebClient } from '@slack/web-api';
import type { Environment, MessageRef, ProgressStep } from '../../core/environment/environment.js';
import { stepDurationMs } from '../../core/environment/environment.js';
import { isLive } from '../../core/environment/lifecycle.js';
import type { Logger, NotifierPort } from '../../core/ports/notifier.port.js';
import { environmentBlocks, environmentText, opsAlertBlocks, ownerFailureText } from './blocks/environment.message.js';
import { duration, esc } from './blocks/text.js';

export class SlackNotifier implements NotifierPort {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly latest = new Map<string, Environment>();
  private readonly refs = new Map<string, MessageRef>();
  /** Steps already told in the thread, per environment (a restart may tell one twice, never lose one). */
  private readonly told = new Map<string, Set<string>>();

  constructor(
    private readonly client: WebClient,
    private readonly opsChannel: string | undefined,
    private readonly logger: Logger,
  ) {}

  showProgress(env: Environment): Promise<MessageRef | undefined> {
    const key = incarnation(env);
    const known = this.latest.get(key);
    if (!known || env.version >= known.version) this.latest.set(key, env);
    return this.enqueue(key, () => this.render(key));
  }

  threadNote(env: Environment, text: string): Promise<void> {
    return this.enqueue(incarnation(env), async () => {
      const ref = env.message ?? this.refs.get(incarnation(env));
      if (!ref) return;
      await this.client.chat.postMessage({ channel: ref.channel, thread_ts: ref.ts, text });
    });
  }

  async failed(env: Environment): Promise<void> {
    const channel = await this.dmChannel(env.owner);
    await this.client.chat.postMessage({ channel, text: ownerFailureText(env) });
  }

  async opsAlert(env: Environment): Promise<void> {
    if (!this.opsChannel) return;
    await this.client.chat.postMessage({
      channel: this.opsChannel,
      text: `${env.name} failed: ${env.failure?.reason ?? 'unknown reason'}`,
      blocks: opsAlertBlocks(env) as never,
    });
  }

  private enqueue<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return next;
  }

  private async render(key: string): Promise<MessageRef | undefined> {
    const env = this.latest.get(key);
    if (!env) return undefined;
    const ref = env.message ?? this.refs.get(key);
    const text = environmentText(env);
    const blocks = environmentBlocks(env);
    let where: MessageRef;
    if (ref) {
      await this.client.chat.update({ channel: ref.channel, ts: ref.ts, text, blocks: blocks as never });
      where = ref;
    } else {
      where = await this.post(env, text, blocks);
    }
    this.refs.set(key, where);
    await this.tellSteps(env, where);
    if (!isLive(env.state)) {
      // Nothing more will change: forget it (its message ref is stored on the record).
      this.latest.delete(key);
      this.refs.delete(key);
      this.told.delete(key);
    }
    return where;
  }

  /** Posts in the channel it was asked from; if the bot cannot post there, in a DM to the owner. */
  private async post(env: Environment, text: string, blocks: unknown[]): Promise<MessageRef> {
    if (env.channel) {
      try {
        const res = await this.client.chat.postMessage({ channel: env.channel, text, blocks: blocks as never });
        if (res.ts && res.channel) return { channel: res.channel, ts: res.ts };
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        if (!['not_in_channel', 'channel_not_found', 'is_archived'].includes(code ?? '')) throw err;
        this.logger.info({ environment: env.name, code }, 'cannot post in the request channel; using a DM');
      }
    }
    const channel = await this.dmChannel(env.owner);
    const res = await this.client.chat.postMessage({ channel, text, blocks: blocks as never });
    return { channel: res.channel ?? channel, ts: res.ts ?? '' };
  }

  private async tellSteps(env: Environment, ref: MessageRef): Promise<void> {
    const told = this.told.get(incarnation(env)) ?? new Set<string>();
    this.told.set(incarnation(env), told);
    for (const step of env.progress) {
      if (step.status !== 'done' && step.status !== 'failed') continue;
      const key = `${env.attempt}:${step.key}:${step.endedAt}`;
      if (told.has(key)) continue;
      told.add(key);
      await this.client.chat.postMessage({ channel: ref.channel, thread_ts: ref.ts, text: threadLine(step) });
    }
  }

  private async dmChannel(user: string): Promise<string> {
    const res = await this.client.conversations.open({ users: user });
    return res.channel?.id ?? user;
  }
}

/** A name can be reused once an environment has ended: its message belongs to one incarnation. */
function incarnation(env: Environment): string {
  return `${env.name}@${env.createdAt}`;
}

function threadLine(step: ProgressStep): string {
  const took = stepDurationMs(step);
  const icon = step.status === 'done' ? ':white_check_mark:' : ':x:';
  const detail = step.detail ? `: ${esc(step.detail)}` : '';
  return `${icon} ${esc(step.label)}${detail}${took !== undefined ? ` (${duration(took)})` : ''}`;
}
