/**
 * A Slack that lives on loopback: the Web API methods the bot calls, and the
 * people who type slash commands, fill in modals and click buttons. This
 * file is the double's face (everything tests and the console use); each
 * concern lives in its own file under `double/`:
 *
 *  - workspace.ts       people, channels, the change feed, calls and problems, ids
 *  - conversations.ts   messages, threads and ephemerals (conversation-file.ts keeps them on disk)
 *  - views.ts           modal stacks and App Homes (view-state.ts: what people entered)
 *  - web-api.ts         the Web API methods; response-urls.ts: response_url posts
 *  - http-server.ts     serving both; app-delivery.ts: signed requests to the app
 *  - people.ts          what people do (person-screen.ts: what they see, to click it)
 *  - faults.ts          Slack's bad moments on demand (`failNext`)
 *
 * Two directions, both real HTTP:
 *  - the bot → the double: `POST {apiUrl}{method}` (form- or JSON-encoded,
 *    `Authorization: Bearer <token>`), plus `POST /response/<id>` for
 *    response_url. Answers are Slack's (`{ok:false, error:'invalid_blocks'}`…).
 *  - the double → the bot: signed requests (`x-slack-signature` v0) to the
 *    app's events URL, shaped like Slack's slash command, block_actions,
 *    view_submission, view_closed and event_callback deliveries. The double
 *    waits for the app's HTTP answer (its ack) and applies it the way Slack
 *    does (close the modal, show errors, post the ack text as an ephemeral…).
 *
 * Every Web API call is recorded in `calls`. Anything Slack would refuse, or
 * that shows a bug in the bot (over a Block Kit limit, unknown method, bad
 * token, a slow or failed ack), is also a line in `problems`; tests end with
 * `assertNoProblems()`, the console shows them as a red banner.
 *
 * Faults a test asks for (`failNext`: a 429 with Retry-After, a 500 or 503)
 * answer the next calls of a method or of response URLs without applying
 * them. They are recorded in `calls` (`injected: true`) but are no problem:
 * they are Slack's bad moments, not the bot's bugs.
 *
 * With a `dataDir`, channels' messages and threads are kept on disk and come
 * back after a restart; modals and ephemerals never do (nor do they in Slack).
 *
 * Simplifications, on purpose:
 *  - A person action on a button with a `confirm` object confirms at once
 *    (the console shows the dialog first; tests that click are saying yes).
 *  - A response_url post without `replace_original` or `delete_original`
 *    makes a new message (ephemeral unless `response_type: 'in_channel'`).
 *  - Everyone is a member of every channel; a slash command is never echoed.
 *  - Ephemerals are kept until dismissed, or until the person's page loads
 *    again (`clientLoaded`), as Slack drops them on reload.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppDelivery } from './double/app-delivery.js';
import { ConversationFile } from './double/conversation-file.js';
import { Conversations } from './double/conversations.js';
import { Faults, type SlackFaultRate } from './double/faults.js';
import { DoubleHttp } from './double/http-server.js';
import { People, type SubmitValue } from './double/people.js';
import { PersonScreen } from './double/person-screen.js';
import { ResponseUrls } from './double/response-urls.js';
import { clone } from './double/util.js';
import { Views } from './double/views.js';
import { WebApi } from './double/web-api.js';
import { BOT_USER_ID, Workspace, type ResolvedChannel, type SlackDoubleOptions } from './double/workspace.js';
import type {
  ActionLocation,
  ApiCall,
  DoubleChange,
  EphemeralMessage,
  InteractionRecord,
  InteractionResult,
  RawInputValues,
  SlackChannel,
  SlackFault,
  SlackMessage,
  SlackUser,
  SlackView,
} from './slack-double.types.js';

export type * from './slack-double.types.js';
export { visibleText } from './double/blocks.js';
export type { SlackFaultRate } from './double/faults.js';
export { ACK_DEADLINE_MS, APP_ID, BOT_ID, BOT_NAME, BOT_USER_ID, DEFAULT_CHANNELS, DEFAULT_USERS, type SlackDoubleOptions } from './double/workspace.js';

export class SlackDouble {
  /** Every Web API call (and response_url post, as method `response_url`), in order. */
  readonly calls: ApiCall[];
  /** Everything Slack would refuse or that shows a bug in the bot. */
  readonly problems: string[];
  /** Every request sent to the app, with how long its ack took. */
  readonly interactions: InteractionRecord[];
  readonly users: readonly SlackUser[];
  readonly channels: readonly SlackChannel[];
  readonly teamId: string;
  readonly botUserId = BOT_USER_ID;

  private readonly ws: Workspace;
  private readonly conversations: Conversations;
  private readonly views: Views;
  private readonly faults: Faults;
  private readonly responseUrls: ResponseUrls;
  private readonly app: AppDelivery;
  private readonly people: People;
  private readonly http: DoubleHttp;
  private readonly file: ConversationFile | undefined;

  constructor(options: SlackDoubleOptions) {
    const ws = new Workspace(options);
    this.ws = ws;
    this.calls = ws.calls;
    this.problems = ws.problems;
    this.interactions = ws.interactions;
    this.users = ws.users;
    this.channels = ws.channels;
    this.teamId = ws.teamId;

    this.conversations = new Conversations(ws);
    this.views = new Views(ws);
    // Faults refuse to arm a method the Web API does not know (it is made just below).
    this.faults = new Faults(ws, (method) => webApi.knows(method));
    const webApi = new WebApi(ws, this.conversations, this.views, this.faults);
    this.responseUrls = new ResponseUrls(ws, this.conversations, this.faults);
    this.app = new AppDelivery(ws);
    this.people = new People(ws, this.conversations, this.views, new PersonScreen(ws, this.conversations, this.views), this.responseUrls, this.app);
    this.http = new DoubleHttp(ws, webApi, this.responseUrls);
    this.file = options.dataDir ? this.keepConversationsIn(options.dataDir) : undefined;
  }

  // ---------------------------------------------------------------- serving

  /** The base URL the bot uses as SLACK_API_URL / Bolt `clientOptions.slackApiUrl`. */
  get apiUrl(): string {
    return `${this.ws.requireBase()}/api/`;
  }

  /** The base URL its response_urls and apiUrl use, once known. */
  get baseUrl(): string | undefined {
    return this.ws.baseUrl;
  }

  /** Base URL of whatever server mounts `handle` (set by `listen`, or by the console that mounts it). */
  setBaseUrl(url: string): void {
    this.ws.setBaseUrl(url);
  }

  setEventsUrl(url: string): void {
    this.ws.eventsUrl = url;
  }

  /** Starts a server of its own on loopback; resolves with its base URL. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return this.http.listen(port, host);
  }

  /** Stops its own server (if it listens) and writes what the data folder is owed. */
  async close(): Promise<void> {
    await this.http.close();
    await this.flush();
  }

  /** Writes pending changes to the data folder now (a no-op without one). Whoever stops the double calls it. */
  async flush(): Promise<void> {
    await this.file?.flush();
  }

  /**
   * Node request handler for `/api/<method>` and `/response/<id>`. Resolves
   * false (and leaves `res` alone) for any other path, so it can be mounted
   * inside another server.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    return this.http.handle(req, res);
  }

  // ------------------------------------------------------ state for assertions

  /** Top-level messages of a channel (id, `#name`, name, or a user id for their DM with the bot), oldest first. */
  channelMessages(channel: string): SlackMessage[] {
    return clone(this.conversations.topLevel(this.ws.requireChannel(channel).id));
  }

  /** A message (top-level or reply) by its ts. */
  message(channel: string, ts: string): SlackMessage | undefined {
    const found = this.conversations.find(this.ws.requireChannel(channel).id, ts);
    return found ? clone(found) : undefined;
  }

  /** The newest top-level message in a channel. */
  lastMessage(channel: string): SlackMessage | undefined {
    return this.channelMessages(channel).at(-1);
  }

  /** Ephemerals one person sees, oldest first. */
  ephemerals(user: string): EphemeralMessage[] {
    return clone(this.conversations.ephemeralsOf(this.ws.user(user).id));
  }

  /** The person's modal stack, bottom first (the one on screen is last). */
  openViews(user: string): SlackView[] {
    return clone(this.views.stack(this.ws.user(user).id));
  }

  /** The App Home the bot published for the person, if any. */
  home(user: string): SlackView | undefined {
    const v = this.views.home(this.ws.user(user).id);
    return v ? clone(v) : undefined;
  }

  /** The DM channel id between a person and the bot. */
  dmChannel(user: string): string {
    return this.ws.dmChannel(user);
  }

  /** Finds a person by id or handle. */
  user(idOrName: string): SlackUser {
    return this.ws.user(idOrName);
  }

  findUser(idOrName: string): SlackUser | undefined {
    return this.ws.findUser(idOrName);
  }

  /** A channel by id or name, a person's DM by its D id or the person's id. */
  resolveChannel(ref: string): ResolvedChannel | undefined {
    return this.ws.resolveChannel(ref);
  }

  /** Subscribe to changes (the console pushes them to the page). Returns the unsubscribe function. */
  subscribe(listener: (change: DoubleChange) => void): () => void {
    return this.ws.subscribe(listener);
  }

  /** Resolves with the first truthy value of `check`, re-checked on every change; rejects after the timeout. */
  async waitFor<T>(check: () => T | undefined | null | false, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      if (Date.now() > deadline) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${this.problems.length ? `\nProblems so far:\n- ${this.problems.join('\n- ')}` : ''}`);
      }
      await this.nextChange(25);
    }
  }

  /** Resolves once nothing has changed for `quietMs` (the app has finished its follow-up calls). */
  async settled(quietMs = 100, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = Date.now();
    const off = this.subscribe(() => {
      last = Date.now();
    });
    try {
      while (Date.now() - last < quietMs) {
        if (Date.now() > deadline) throw new Error(`The Slack double did not settle within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, Math.max(10, quietMs - (Date.now() - last))));
      }
    } finally {
      off();
    }
  }

  assertNoProblems(): void {
    if (this.problems.length > 0) {
      throw new Error(`The Slack double saw ${this.problems.length} problem(s):\n- ${this.problems.join('\n- ')}`);
    }
  }

  clearProblems(): void {
    this.problems.length = 0;
    this.ws.emit({ kind: 'problems' });
  }

  /**
   * The next `times` (default 1) calls of `method` (a Web API method, or
   * `'response_url'` for posts to response URLs the double issued) fail with
   * `status`, as Slack fails them: 429 with `Retry-After` and
   * `{ok:false, error:'ratelimited'}`, 500 with `{ok:false, error:'internal_error'}`,
   * 503 with a plain-text body. A failed call changes nothing and uses up no
   * response URL; it is recorded in `calls` with `injected: true` and is not
   * a problem. Faults armed for the same method are used in the order armed.
   * Calls Slack would refuse anyway (bad token, unknown method, a response URL
   * it never issued) are refused as before and leave the fault armed.
   */
  failNext(opts: SlackFault): void {
    this.faults.arm(opts);
  }

  /**
   * From now on, fails a fraction `rate` of the calls (of `methods`, default
   * every Web API call and response_url post) as `failNext` would, with a
   * status picked among `statuses` (default 500 and 429), at random from
   * `seed`. Faults armed by `failNext` fire first. `undefined` stops it.
   */
  failRate(opts: SlackFaultRate | undefined): void {
    this.faults.setRate(opts);
  }

  /** Disarms every fault `failNext` armed and that has not fired yet, and stops `failRate`. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Faults still armed, in the order they fire. */
  pendingFaults(): Array<Required<SlackFault>> {
    return this.faults.pending();
  }

  /** Forgets every message, view, call, problem and armed fault (users and channels stay). */
  reset(): void {
    this.faults.clear();
    this.ws.forgetHistory();
    this.conversations.clear();
    this.views.clear();
    this.responseUrls.clear();
    this.ws.emit({ kind: 'reset' });
  }

  // ----------------------------------------------------------- person actions

  /** A person types `/command text` in a channel (id or name, or their DM). */
  async slashCommand(args: { user: string; channel: string; command: string; text?: string }): Promise<InteractionResult> {
    return this.people.slashCommand(args);
  }

  /**
   * A person clicks the most recent visible button labelled `label`: in their
   * open modal first, then their App Home, their ephemerals, then messages
   * (thread replies included), newest first. A button with a `confirm`
   * dialog is confirmed at once.
   */
  async clickButton(args: { user: string; label: string; channel?: string }): Promise<InteractionResult> {
    return this.people.clickButton(args);
  }

  /**
   * A person picks an option in a select (or radio buttons / checkboxes /
   * overflow). In their open modal the select is found by its input label
   * or block_id, and a request is only sent when the input block has
   * `dispatch_action` (as in Slack); elsewhere by placeholder or action_id.
   * Resolves undefined when nothing was sent.
   */
  async selectOption(args: { user: string; label: string; option: string | string[]; channel?: string }): Promise<InteractionResult | undefined> {
    return this.people.selectOption(args);
  }

  /**
   * A person fills the modal on top of their stack and presses its submit
   * button. `values` is keyed by input label (or block_id): a string for text
   * and number inputs, the option's text or value for selects and radio
   * buttons, a list for checkboxes and multi selects. Inputs not named keep
   * what was entered before (or their initial value).
   *
   * Bolt's answer is applied as Slack would: an empty ack closes the modal;
   * `response_action` errors / update / push / clear do what they say.
   */
  async submitView(args: { user: string; values?: Record<string, SubmitValue> }): Promise<InteractionResult> {
    return this.people.submitView(args);
  }

  /** Low level: submit the modal `viewId` with values keyed by block_id and action_id (what the console sends). */
  async submitViewValues(args: { user: string; viewId: string; values: RawInputValues }): Promise<InteractionResult> {
    return this.people.submitViewValues(args);
  }

  /** Keeps what a person typed in a modal without submitting it (the console saves drafts so a reload keeps them). */
  saveDraft(args: { user: string; viewId: string; values: RawInputValues }): void {
    this.views.saveDraft(this.ws.user(args.user).id, args.viewId, args.values);
  }

  /**
   * A person closes their modal: the top one (`all: false`, the Cancel
   * button) or the whole stack (the ✕). Sends view_closed only when the
   * view asked for it with `notify_on_close`.
   */
  async closeView(user: string, opts: { all?: boolean } = {}): Promise<InteractionResult | undefined> {
    return this.people.closeView(user, opts);
  }

  /**
   * A person's Slack client loads (the console's page, opened or reloaded):
   * the modals they had open close, with no view_closed, as when you leave
   * Slack, and their ephemerals go, as Slack drops them on reload.
   */
  clientLoaded(user: string): void {
    this.people.clientLoaded(user);
  }

  /** A person opens the app's Home tab: Slack sends `app_home_opened`. */
  async openHome(user: string): Promise<InteractionResult> {
    return this.people.openHome(user);
  }

  /** Sends an Events API `event_callback` with this event. */
  async sendEvent(event: Record<string, unknown>, summary?: string, user?: string): Promise<InteractionResult> {
    return this.app.sendEvent(event, summary, user);
  }

  /** A person posts a plain message (no event is sent: the bot subscribes to none). */
  postAsUser(args: { user: string; channel: string; text: string; threadTs?: string }): SlackMessage {
    return clone(this.people.postAsUser(args));
  }

  /** A person dismisses one of their ephemerals. */
  dismissEphemeral(user: string, ts: string): void {
    this.conversations.dismissEphemeral(this.ws.user(user).id, ts);
  }

  /**
   * Low level: an interaction on an element, found by block_id and action_id
   * where it lives. `selected` names options (by value or text) for selects,
   * radio buttons, checkboxes and overflow menus, a user/channel id for
   * pickers, a date for date pickers. `values` are the modal's current
   * inputs, kept in `view.state` as Slack does.
   */
  async sendBlockAction(args: {
    user: string;
    location: ActionLocation;
    blockId: string;
    actionId: string;
    selected?: string | string[];
    values?: RawInputValues;
  }): Promise<InteractionResult> {
    return this.people.sendBlockAction(args);
  }

  /**
   * Sends any body to the app, signed with the app's secret unless `headers`
   * bring their own `x-slack-signature`. A `x-slack-request-timestamp` in
   * `headers` is used for the signature (to test stale requests). Nothing is
   * applied to the double's state and no problem is recorded.
   */
  async sendSigned(rawBody: string, contentType: string, headers: Record<string, string> = {}): Promise<InteractionResult> {
    return this.app.deliver('raw', rawBody, contentType, 'signed request', undefined, headers);
  }

  /** Sends an earlier delivery again, as Slack's retries do (`x-slack-retry-num`). */
  async redeliver(previous: InteractionResult, retryNum = 1, reason = 'http_timeout'): Promise<InteractionResult> {
    return this.sendSigned(previous.rawBody, previous.contentType, { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': reason });
  }

  // ------------------------------------------------------------ data folder

  /** Puts back what an earlier run kept in `dir`, and keeps every later change there. */
  private keepConversationsIn(dir: string): ConversationFile {
    const file = new ConversationFile(dir, () => ({ seq: this.ws.seq, channels: this.conversations.snapshot() }), (text) => this.ws.problem(text));
    const { saved, problem } = file.load();
    if (saved) {
      this.conversations.restore(saved.channels);
      this.ws.seq = Math.max(this.ws.seq, saved.seq);
    }
    if (problem) this.ws.problem(problem);
    this.ws.subscribe((change) => {
      if (change.kind === 'messages' || change.kind === 'reset') file.changed();
    });
    return file;
  }

  /** Resolves on the next change, or after `ms`. */
  private nextChange(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const off = this.subscribe(done);
      function done(): void {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }
}
