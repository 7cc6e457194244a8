/**
 * What people do in Slack, turned into the requests Slack sends the app:
 * typing a slash command, clicking a button, picking an option, submitting
 * or closing a modal, opening the App Home, posting a message. The app's
 * answer (its ack) is applied as Slack applies it.
 *
 * Simplifications, on purpose: a button with a `confirm` dialog is
 * confirmed at once (the console shows the dialog first; tests that click
 * are saying yes), and a slash command is never echoed in the channel.
 */
import type { ActionLocation, Block, InteractionResult, RawInputValues, SlackMessage, SlackUser, SlackView } from '../slack-double.types.js';
import type { AppDelivery } from './app-delivery.js';
import { elementsOf, findInputBlock, labelMatches, messageContent, optionsOf, textOf, type ElementRef } from './blocks.js';
import type { Conversations } from './conversations.js';
import { interactionEnvelope, messageJson, viewJson } from './payloads.js';
import type { PersonScreen } from './person-screen.js';
import type { ResponseUrls } from './response-urls.js';
import { ApiRefusal, FORM, isObj, type Obj } from './util.js';
import { actionFor, clientValidation, mergeRaw, setStateValue, stateValueFromAction, submissionState, toStateValue } from './view-state.js';
import type { Views } from './views.js';
import { ACK_DEADLINE_MS, APP_ID, BOT_USER_ID, type Workspace } from './workspace.js';

/** What a form field of `submitView` may hold. */
export type SubmitValue = string | number | boolean | string[] | null;

/** Where an element lives and the payload fields that say so. */
interface Located {
  blocks: Block[];
  where: string;
  fields: Obj;
  view?: SlackView;
}

const asPayload = (payload: object): string => `payload=${encodeURIComponent(JSON.stringify(payload))}`;

export class People {
  constructor(
    private readonly ws: Workspace,
    private readonly conversations: Conversations,
    private readonly views: Views,
    private readonly screen: PersonScreen,
    private readonly responseUrls: ResponseUrls,
    private readonly app: AppDelivery,
  ) {}

  async slashCommand(args: { user: string; channel: string; command: string; text?: string }): Promise<InteractionResult> {
    const u = this.ws.user(args.user);
    const ch = this.ws.requireChannel(args.channel);
    const command = args.command.startsWith('/') ? args.command : `/${args.command}`;
    const text = args.text ?? '';
    const fields: Record<string, string> = {
      token: 'sandbox-verification-token',
      team_id: this.ws.teamId,
      team_domain: 'dormouse-sandbox',
      channel_id: ch.id,
      channel_name: ch.kind === 'im' ? 'directmessage' : ch.name,
      user_id: u.id,
      user_name: u.name,
      command,
      text,
      api_app_id: APP_ID,
      is_enterprise_install: 'false',
      response_url: this.responseUrls.issue({ user: u.id, channel: ch.id, description: `${command} ${text}`.trim() }),
      trigger_id: this.ws.issueTrigger(u.id),
    };
    const shown = text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text;
    const summary = `${u.name}: ${command}${shown ? ` ${shown}` : ''}`;
    const result = await this.app.deliver('slash_command', new URLSearchParams(fields).toString(), FORM, summary, u.id);
    if (result.status === 200) this.applyCommandAck(result, u.id, ch.id, command);
    else this.conversations.slackSays(u.id, ch.id, `${command} failed with the error "${this.app.failureCode(result)}"`);
    if (result.ackMs > ACK_DEADLINE_MS && result.status === 200) {
      this.conversations.slackSays(u.id, ch.id, `${command} failed with the error "operation_timeout"`);
    }
    return result;
  }

  async clickButton(args: { user: string; label: string; channel?: string }): Promise<InteractionResult> {
    const u = this.ws.user(args.user);
    const found = this.screen.find(u.id, args.channel, (ref) => ref.element.type === 'button' && labelMatches(textOf(ref.element.text), args.label));
    if (!found) {
      const visible = this.screen.buttonLabels(u.id, args.channel);
      throw new Error(`${u.name} sees no button labelled ${JSON.stringify(args.label)}${args.channel ? ` in ${args.channel}` : ''}. Visible buttons: ${visible.length ? visible.map((l) => JSON.stringify(l)).join(', ') : 'none'}`);
    }
    return this.sendBlockAction({ user: u.id, location: found.location, blockId: String(found.ref.block.block_id), actionId: String(found.ref.element.action_id) });
  }

  async selectOption(args: { user: string; label: string; option: string | string[]; channel?: string }): Promise<InteractionResult | undefined> {
    const u = this.ws.user(args.user);
    const top = this.views.top(u.id);
    const selected = Array.isArray(args.option) ? args.option : [args.option];
    const input = top ? findInputBlock(top.blocks, args.label) : undefined;
    if (top && input) {
      const element = input.element as Obj;
      setStateValue(top, String(input.block_id), String(element.action_id), toStateValue(element, selected, String(input.block_id)));
      this.ws.emit({ kind: 'views', user: u.id });
      if (!input.dispatch_action) return undefined;
      return this.sendBlockAction({ user: u.id, location: { type: 'view', viewId: top.id }, blockId: String(input.block_id), actionId: String(element.action_id), selected });
    }
    const isSelect = (ref: ElementRef): boolean =>
      ref.element.type !== 'button' &&
      ref.block.type !== 'input' &&
      (labelMatches(textOf(ref.element.placeholder), args.label) || ref.element.action_id === args.label || ref.block.block_id === args.label);
    const found = this.screen.find(u.id, args.channel, isSelect);
    if (!found) throw new Error(`${u.name} sees no select labelled ${JSON.stringify(args.label)}`);
    return this.sendBlockAction({ user: u.id, location: found.location, blockId: String(found.ref.block.block_id), actionId: String(found.ref.element.action_id), selected });
  }

  async submitView(args: { user: string; values?: Record<string, SubmitValue> }): Promise<InteractionResult> {
    const u = this.ws.user(args.user);
    const top = this.views.top(u.id);
    if (!top) throw new Error(`${u.name} has no open modal to submit`);
    const raw: RawInputValues = {};
    for (const [key, value] of Object.entries(args.values ?? {})) {
      const block = findInputBlock(top.blocks, key);
      if (!block) {
        const labels = top.blocks.filter((b) => b.type === 'input').map((b) => textOf(b.label) || String(b.block_id));
        throw new Error(`The modal ${JSON.stringify(textOf(top.title))} has no input labelled ${JSON.stringify(key)} (inputs: ${labels.join(', ')})`);
      }
      const element = block.element as Obj;
      raw[String(block.block_id)] = { [String(element.action_id)]: rawValue(element, value) };
    }
    return this.submitViewValues({ user: u.id, viewId: top.id, values: raw });
  }

  async submitViewValues(args: { user: string; viewId: string; values: RawInputValues }): Promise<InteractionResult> {
    const u = this.ws.user(args.user);
    const view = this.views.top(u.id);
    if (!view || view.id !== args.viewId) throw new Error(`The modal ${args.viewId} is not the one on ${u.name}'s screen`);
    mergeRaw(view, args.values);
    const state = submissionState(view);
    const clientErrors = clientValidation(view, state);
    if (Object.keys(clientErrors).length > 0) {
      view.errors = clientErrors;
      this.ws.emit({ kind: 'views', user: u.id });
      return { kind: 'view_submission', status: 0, body: '', ackMs: 0, rawBody: '', contentType: '', clientErrors };
    }
    const payload = { type: 'view_submission', ...interactionEnvelope(this.ws, u), trigger_id: this.ws.issueTrigger(u.id), view: viewJson(this.ws, view, state), response_urls: [] };
    const summary = `${u.name}: submit ${JSON.stringify(textOf(view.title))} (${view.callback_id || view.id})`;
    const result = await this.app.deliver('view_submission', asPayload(payload), FORM, summary, u.id);
    if (result.status === 200) this.views.applyAnswer(u.id, view, result, summary);
    return result;
  }

  async closeView(user: string, opts: { all?: boolean } = {}): Promise<InteractionResult | undefined> {
    const u = this.ws.user(user);
    if (!this.views.top(u.id)) throw new Error(`${u.name} has no open modal to close`);
    const all = opts.all ?? false;
    const closed = this.views.close(u.id, all);
    const notify = closed.find((v) => v.notify_on_close);
    if (!notify) return undefined;
    const payload = { type: 'view_closed', ...interactionEnvelope(this.ws, u), view: viewJson(this.ws, notify), is_cleared: all && closed.length > 1 };
    return this.app.deliver('view_closed', asPayload(payload), FORM, `${u.name}: close ${JSON.stringify(textOf(notify.title))}`, u.id);
  }

  async openHome(user: string): Promise<InteractionResult> {
    const u = this.ws.user(user);
    const home = this.views.home(u.id);
    return this.app.sendEvent(
      { type: 'app_home_opened', user: u.id, channel: this.ws.dmChannel(u.id), tab: 'home', ...(home ? { view: viewJson(this.ws, home) } : {}) },
      `${u.name}: open App Home`,
      u.id,
    );
  }

  postAsUser(args: { user: string; channel: string; text: string; threadTs?: string }): SlackMessage {
    const u = this.ws.user(args.user);
    const ch = this.ws.requireChannel(args.channel);
    return this.conversations.add(ch.id, { user: u.id, text: args.text, blocks: [], threadTs: args.threadTs });
  }

  /**
   * The person's Slack client (re)loads: their modals close (Slack closes
   * modals when you navigate away, and sends no view_closed for it) and
   * their ephemerals go (Slack drops them on reload).
   */
  clientLoaded(user: string): void {
    const u = this.ws.user(user);
    this.views.dropStack(u.id);
    this.conversations.dropEphemerals(u.id);
  }

  async sendBlockAction(args: { user: string; location: ActionLocation; blockId: string; actionId: string; selected?: string | string[]; values?: RawInputValues }): Promise<InteractionResult> {
    const u = this.ws.user(args.user);
    const located = this.locate(u, args.location, args.values);
    const ref = elementsOf(located.blocks).find((r) => r.block.block_id === args.blockId && r.element.action_id === args.actionId);
    if (!ref) throw new Error(`No element ${args.blockId}/${args.actionId} in ${located.where}`);
    const action = actionFor(ref, args.selected);
    const payload: Obj = { type: 'block_actions', ...interactionEnvelope(this.ws, u), trigger_id: this.ws.issueTrigger(u.id), ...located.fields };
    if (located.view) {
      const stateValue = stateValueFromAction(ref.element, action);
      if (stateValue) setStateValue(located.view, args.blockId, args.actionId, stateValue);
      payload.view = viewJson(this.ws, located.view, submissionState(located.view));
    }
    payload.actions = [action];
    const label = textOf(ref.element.text) || textOf(ref.element.placeholder) || String(ref.element.action_id);
    const summary = `${u.name}: ${String(ref.element.type)} ${JSON.stringify(label)} in ${located.where}`;
    return this.app.deliver('block_actions', asPayload(payload), FORM, summary, u.id);
  }

  /** The blocks an action's element is in, and the payload fields that say where (container, channel, message, response_url). */
  private locate(u: SlackUser, loc: ActionLocation, values: RawInputValues | undefined): Located {
    if (loc.type === 'message') {
      const ch = this.ws.requireChannel(loc.channel);
      const msg = this.conversations.find(ch.id, loc.ts);
      if (!msg) throw new Error(`No message ${loc.ts} in ${loc.channel}`);
      const responseUrl = this.responseUrls.issue({ user: u.id, channel: ch.id, source: { type: 'message', ts: msg.ts }, threadTs: msg.threadTs, description: 'button' });
      return {
        blocks: msg.blocks,
        where: this.ws.where(ch),
        fields: {
          container: { type: 'message', message_ts: msg.ts, channel_id: ch.id, is_ephemeral: false, ...(msg.threadTs ? { thread_ts: msg.threadTs } : {}) },
          channel: { id: ch.id, name: ch.kind === 'im' ? 'directmessage' : ch.name },
          message: messageJson(this.ws, msg),
          state: { values: {} },
          response_url: responseUrl,
        },
      };
    }
    if (loc.type === 'ephemeral') {
      const eph = this.conversations.findEphemeral(u.id, loc.ts);
      if (!eph) throw new Error(`${u.name} has no ephemeral ${loc.ts}`);
      const ch = this.ws.requireChannel(eph.channel);
      const responseUrl = this.responseUrls.issue({ user: u.id, channel: eph.channel, source: { type: 'ephemeral', ts: eph.ts }, threadTs: eph.threadTs, description: 'ephemeral button' });
      return {
        blocks: eph.blocks,
        where: 'an ephemeral',
        fields: {
          container: { type: 'message', message_ts: eph.ts, channel_id: eph.channel, is_ephemeral: true },
          channel: { id: ch.id, name: ch.kind === 'im' ? 'directmessage' : ch.name },
          state: { values: {} },
          response_url: responseUrl,
        },
      };
    }
    const view = this.views.findById(u.id, loc.viewId);
    if (!view) throw new Error(`${u.name} has no open view ${loc.viewId}`);
    if (values) mergeRaw(view, values);
    const where = view.type === 'home' ? 'App Home' : `modal ${JSON.stringify(textOf(view.title))}`;
    return { blocks: view.blocks, where, fields: { container: { type: 'view', view_id: view.id } }, view };
  }

  /** A slash command's ack body, shown as Slack shows it: an ephemeral, or in the channel when `in_channel`. */
  private applyCommandAck(result: InteractionResult, user: string, channel: string, command: string): void {
    if (!result.body.trim()) return;
    const msg: Obj = isObj(result.json) ? result.json : { text: result.body };
    if (msg.text === undefined && msg.blocks === undefined) return;
    try {
      const { text, blocks } = messageContent(`${command} ack`, msg, false);
      if (msg.response_type === 'in_channel') this.conversations.add(channel, { user: BOT_USER_ID, text, blocks: blocks ?? [] });
      else this.conversations.addEphemeral({ channel, user, text, blocks: blocks ?? [], source: 'ack' });
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      for (const line of e.alwaysProblemLines()) this.ws.problem(line);
      this.conversations.slackSays(user, channel, `${command} failed with the error "${e.code}"`);
    }
  }
}

/** A `submitView` value as the page would send it: text, a pick, a list; `true` ticks every checkbox. */
function rawValue(element: Obj, value: SubmitValue): string | string[] | null {
  if (value === null) return null;
  if (Array.isArray(value)) return value;
  if (typeof value === 'boolean') return value ? optionsOf(element).map((o) => String(o.value)) : [];
  return String(value);
}
