/**
 * The shapes the Slack double keeps and hands out. They follow Slack's own
 * field names where a payload carries them (`callback_id`, `private_metadata`),
 * and camelCase for the double's own bookkeeping (`threadTs`, `edited`).
 */

/** A Block Kit object as the bot sent it: loosely typed on purpose, the limits module checks it. */
export type Block = { type: string; block_id?: string } & Record<string, unknown>;

export interface SlackUser {
  id: string;
  /** The handle (`user_name` in a slash command). */
  name: string;
  realName?: string;
  /** What the console shows in its "who are you" picker: developer, team lead, ops. */
  role?: string;
  isAdmin?: boolean;
  isBot?: boolean;
  /** Their IANA time zone, as in their Slack profile (`users.info` gives `tz`, `tz_label`, `tz_offset`); unset: UTC. */
  tz?: string;
}

export interface SlackChannel {
  id: string;
  name: string;
}

export interface SlackMessage {
  ts: string;
  channel: string;
  /** Who posted it: the bot user for Web API posts, a person for what they typed. */
  user: string;
  text: string;
  blocks: Block[];
  /** Set on thread replies: the parent's ts. */
  threadTs?: string;
  /** Replies in order (only on top-level messages). */
  replies: SlackMessage[];
  /** How many times chat.update (or a response_url replace) changed it. */
  edited: number;
  /** A reply that was also sent to the channel (`reply_broadcast`). */
  broadcast?: boolean;
  /** Message metadata the app attached (`metadata: {event_type, event_payload}`). */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

export interface EphemeralMessage {
  /** Slack's `message_ts` of the ephemeral (unique per double). */
  ts: string;
  channel: string;
  /** The only person who sees it. */
  user: string;
  text: string;
  blocks: Block[];
  threadTs?: string;
  /** Who made it: the chat.postEphemeral method, a response_url post, an ack body, or Slack itself (an error). */
  source: 'chat.postEphemeral' | 'response_url' | 'ack' | 'slack';
  /** Shown as "from Slackbot" (Slack's own error notes) rather than from the app. */
  fromSlack?: boolean;
}

/** One entry of `view.state.values[block_id][action_id]`, in Slack's shape. */
export type StateValue = { type: string } & Record<string, unknown>;
export type StateValues = Record<string, Record<string, StateValue>>;

export interface SlackView {
  id: string;
  hash: string;
  type: 'modal' | 'home';
  user: string;
  callback_id: string;
  external_id: string;
  private_metadata: string;
  title?: Record<string, unknown>;
  submit?: Record<string, unknown>;
  close?: Record<string, unknown>;
  blocks: Block[];
  notify_on_close: boolean;
  clear_on_close: boolean;
  root_view_id: string;
  previous_view_id: string | null;
  /** What the person has entered so far (Slack keeps it across views.update when block_id and action_id stay). */
  state: { values: StateValues };
  /** block_id → message, from the last `response_action: 'errors'` (or the client's own required-field check). */
  errors: Record<string, string>;
}

export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  ok: boolean;
  error?: string;
  at: number;
  /** The HTTP status of an injected fault (`failNext`); absent when Slack answered normally. */
  status?: number;
  /** The call was failed on purpose by `failNext`: nothing was applied, and it is no problem of the bot's. */
  injected?: true;
}

/** The HTTP failures Slack really answers with: rate limited, or having a bad moment. */
export type SlackFaultStatus = 429 | 500 | 503;

/** What `SlackDouble.failNext` arms. */
export interface SlackFault {
  /** A Web API method (`chat.postMessage`, `chat.update`…), or `'response_url'` for posts to response URLs the double issued. */
  method: string;
  status: SlackFaultStatus;
  /** How many of the next calls fail (default 1). */
  times?: number;
  /** For 429: the `Retry-After` header, in seconds (default 1). */
  retryAfterSeconds?: number;
}

export type InteractionKind =
  | 'slash_command'
  | 'block_actions'
  | 'view_submission'
  | 'view_closed'
  | 'event_callback'
  | 'raw';

export interface InteractionResult {
  kind: InteractionKind;
  /** The HTTP status the app answered with; 0 when nothing was sent or no answer came. */
  status: number;
  /** The raw answer body. */
  body: string;
  /** The answer parsed as JSON when it was JSON. */
  json?: unknown;
  /** How long the app took to answer (Slack gives up after 3 s). */
  ackMs: number;
  /** Exactly what was sent, so a test can redeliver it (`redeliver`). */
  rawBody: string;
  contentType: string;
  /** Client-side validation that stopped a submission before anything was sent (required inputs, number bounds). */
  clientErrors?: Record<string, string>;
}

export interface InteractionRecord {
  kind: InteractionKind;
  user?: string;
  summary: string;
  status: number;
  ackMs: number;
  at: number;
}

/** What changed, for the console's live updates. */
export interface DoubleChange {
  kind: 'messages' | 'ephemerals' | 'views' | 'home' | 'problems' | 'calls' | 'interactions' | 'reset';
  channel?: string;
  user?: string;
}

/** Where an interactive element lives, for the low-level `sendBlockAction`. */
export type ActionLocation =
  | { type: 'message'; channel: string; ts: string }
  | { type: 'ephemeral'; ts: string }
  | { type: 'view'; viewId: string };

/**
 * Values a person typed, keyed by block_id then action_id. A string for text,
 * number, date and single selects (the option's value), an array for
 * checkboxes and multi selects, null for empty.
 */
export type RawInputValues = Record<string, Record<string, string | string[] | null>>;
