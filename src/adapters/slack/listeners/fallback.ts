/**
 * Deliveries no listener handles: a button from an older message, a form
 * from an older version, a modal closed, a suggestion asked for, a shortcut
 * Dormouse does not have. Each is acknowledged (so Slack shows no error) and,
 * where a person is looking, told what to do instead. Known ones go on.
 * Registered as global middleware, before the listeners.
 */
import type {
  AllMiddlewareArgs,
  AnyMiddlewareArgs,
  BlockAction,
  Middleware,
  SlackActionMiddlewareArgs,
  SlackOptionsMiddlewareArgs,
  SlackShortcutMiddlewareArgs,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from '@slack/bolt';
import { nameProblem } from '../../../core/environment/name.rules.js';
import type { Logger } from '../../../core/ports/notifier.port.js';
import { Ids, parseEnvironmentValue } from '../ids.js';
import { noticeModal } from '../blocks/notice.modal.js';
import { notices } from '../text/notices.text.js';


const KNOWN_ACTIONS: ReadonlySet<string> = new Set(Object.values(Ids.action));
const KNOWN_VIEWS: ReadonlySet<string> = new Set(Object.values(Ids.view));

export function fallback(deps: { logger: Logger }): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    if (isBlockAction(args) && !KNOWN_ACTIONS.has(args.action.action_id)) return oldButton(args, deps.logger);
    if (isViewSubmission(args) && !KNOWN_VIEWS.has(args.view.callback_id)) return oldForm(args, deps.logger);
    // Dormouse listens to none of these: a modal closing, a select asking for options, a shortcut.
    if (isViewClosed(args) || isShortcut(args)) return args.ack();
    if (isSuggestion(args)) return args.ack({ options: [] });
    await args.next();
  };
}

async function oldButton(args: SlackActionMiddlewareArgs<BlockAction>, log: Logger): Promise<void> {
  await args.ack();
  const { action, body } = args;
  log.info({ action: action.action_id, user: body.user.id }, 'a button no listener handles (from an older message)');
  // A button in a modal or the App Home has no response_url: there is no message to answer beside.
  if (!body.response_url) return;
  const value = 'value' in action && typeof action.value === 'string' ? action.value : undefined;
  const named = parseEnvironmentValue(value).name;
  const name = nameProblem(named) === undefined ? named : undefined;
  await args
    .respond({ response_type: 'ephemeral', replace_original: false, text: notices.oldButton(name) })
    .catch((err: unknown) => log.warn({ err }, 'could not tell the person about an old button'));
}

async function oldForm(args: SlackViewMiddlewareArgs<ViewSubmitAction>, log: Logger): Promise<void> {
  log.info({ view: args.view.callback_id, user: args.body.user.id }, 'a form no listener handles (from an older version)');
  await args.ack({ response_action: 'update', view: noticeModal(notices.oldForm) });
}

// Bolt's middleware arguments are one union; these narrow it by the body's type.
type Args = AnyMiddlewareArgs & AllMiddlewareArgs;
function isBlockAction(args: Args): args is SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs {
  return args.body.type === 'block_actions';
}
function isViewSubmission(args: Args): args is SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs {
  return args.body.type === 'view_submission';
}
function isViewClosed(args: Args): args is SlackViewMiddlewareArgs & AllMiddlewareArgs {
  return args.body.type === 'view_closed';
}
function isSuggestion(args: Args): args is SlackOptionsMiddlewareArgs<'block_suggestion'> & AllMiddlewareArgs {
  return args.body.type === 'block_suggestion';
}
function isShortcut(args: Args): args is SlackShortcutMiddlewareArgs & AllMiddlewareArgs {
  return args.body.type === 'shortcut' || args.body.type === 'message_action';
}
