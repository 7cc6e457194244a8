/**
 * What each kind of delivery must carry before Bolt sees it. Bolt reads
 * these fields without checking them (a block action without `user` is a
 * TypeError deep inside it), so a body that lacks one is answered here as
 * malformed instead. The first check that fails names the field in the log.
 */
export type Body = Record<string, unknown>;

type Check = readonly [field: string, holds: (body: Body) => boolean];

export const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a dotted path (`view.state.values`, `actions.0.action_id`), or undefined where the path breaks off. */
function valueAt(body: unknown, path: string): unknown {
  let value = body;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

const text = (path: string): Check => [path, (b) => typeof valueAt(b, path) === 'string'];
const object = (path: string): Check => [path, (b) => isObject(valueAt(b, path))];
const actions = (b: Body): unknown[] => (Array.isArray(b.actions) ? b.actions : []);

/** A slash command is a form without `payload`. */
const SLASH_COMMAND_SHAPE: readonly Check[] = [
  ['command', (b) => typeof b.command === 'string' && b.command.startsWith('/')],
  text('user_id'),
  text('channel_id'),
  text('team_id'),
  text('response_url'),
  text('trigger_id'),
];

/** Deliveries that name their `type`: interactivity payloads and the Events API. */
const TYPED_SHAPES = {
  block_actions: [text('user.id'), ['actions', (b) => actions(b).length > 0], ['actions[].action_id', (b) => actions(b).every((a) => typeof valueAt(a, 'action_id') === 'string')]],
  view_submission: [text('user.id'), object('view'), text('view.id'), text('view.callback_id'), object('view.state.values')],
  view_closed: [text('user.id'), text('view.callback_id')],
  // Bolt reads `user` for every interactivity payload (it finds the team there), suggestions included.
  block_suggestion: [text('user.id'), text('action_id')],
  shortcut: [text('callback_id'), text('user.id')],
  message_action: [text('callback_id'), text('user.id')],
  event_callback: [object('event'), text('event.type'), text('event_id')],
} satisfies Record<string, readonly Check[]>;

export type TypedDelivery = keyof typeof TYPED_SHAPES;
export type DeliveryType = TypedDelivery | 'slash_command';

export const isTypedDelivery = (type: string): type is TypedDelivery => Object.hasOwn(TYPED_SHAPES, type);

/** The first field the body lacks for its type, or undefined when it has them all. */
export function missingField(type: DeliveryType, body: Body): string | undefined {
  const checks: readonly Check[] = type === 'slash_command' ? SLASH_COMMAND_SHAPE : TYPED_SHAPES[type];
  return checks.find(([, holds]) => !holds(body))?.[0];
}

/** What a delivery is about, for log lines: its type and the action_id, callback_id or command it names. */
export function deliveryLabel(type: DeliveryType, body: Body): Record<string, string> {
  const named: Record<string, unknown> = {
    actionId: valueAt(body, 'actions.0.action_id') ?? body.action_id,
    callbackId: valueAt(body, 'view.callback_id') ?? body.callback_id,
    command: body.command,
    event: valueAt(body, 'event.type'),
  };
  const label: Record<string, string> = { type };
  for (const [key, value] of Object.entries(named)) if (typeof value === 'string') label[key] = value.slice(0, 100);
  return label;
}
