/**
 * What a person entered or picked, in Slack's shapes: the `actions[0]` of a
 * block_actions payload, the `view.state.values` a submission carries (what
 * was typed, else each input's initial value), and the checks Slack's own
 * client makes before it sends a submission at all. Pure functions.
 */
import type { Block, RawInputValues, SlackView, StateValue, StateValues } from '../slack-double.types.js';
import { elementsOf, labelMatches, optionsOf, textOf, type ElementRef } from './blocks.js';
import { clone, isObj, str, type Obj } from './util.js';

/** An option of a select by its value or its text; the error lists what there is. */
export function findOption(element: Obj, wanted: string, where: string): Obj {
  const options = optionsOf(element);
  const o = options.find((x) => x.value === wanted) ?? options.find((x) => labelMatches(textOf(x.text), wanted));
  if (!o) throw new Error(`No option ${JSON.stringify(wanted)} in ${where} (options: ${options.map((x) => JSON.stringify(textOf(x.text))).join(', ')})`);
  return clone(o);
}

/**
 * What to tell a person who sent a select without picking anything, in
 * words: the select's own prompt ("Pick a template") when it has one, else
 * its label.
 */
export function pickPrompt(ref: ElementRef): string {
  const placeholder = textOf(ref.element.placeholder).trim();
  if (placeholder) return placeholder.replace(/[.…]+$/, '');
  const label = textOf(ref.block.label).trim();
  return label ? `Pick an option for “${label}”` : 'Pick an option first';
}

/** The `actions[0]` of a block_actions payload for this element. */
export function actionFor(ref: ElementRef, selected: string | string[] | undefined): Obj {
  const el = ref.element;
  const type = String(el.type);
  const where = `${type} ${String(el.action_id)}`;
  const picks = selected === undefined ? [] : Array.isArray(selected) ? selected : [selected];
  const first = picks[0];
  const action: Obj = { type, action_id: el.action_id, block_id: ref.block.block_id, action_ts: (Date.now() / 1000).toFixed(6) };
  switch (type) {
    case 'button':
    case 'workflow_button':
      action.text = { type: 'plain_text', text: textOf(el.text), emoji: true };
      if (el.value !== undefined) action.value = el.value;
      if (el.style !== undefined) action.style = el.style;
      if (el.url !== undefined) action.url = el.url;
      break;
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
    case 'overflow':
      if (first === undefined) throw new Error(pickPrompt(ref));
      action.selected_option = findOption(el, first, where);
      if (el.placeholder) action.placeholder = el.placeholder;
      break;
    case 'multi_static_select':
    case 'checkboxes':
      action.selected_options = picks.map((p) => findOption(el, p, where));
      break;
    case 'users_select':
      action.selected_user = first ?? null;
      break;
    case 'multi_users_select':
      action.selected_users = picks;
      break;
    case 'conversations_select':
      action.selected_conversation = first ?? null;
      break;
    case 'multi_conversations_select':
      action.selected_conversations = picks;
      break;
    case 'channels_select':
      action.selected_channel = first ?? null;
      break;
    case 'multi_channels_select':
      action.selected_channels = picks;
      break;
    case 'datepicker':
      action.selected_date = first ?? null;
      break;
    case 'timepicker':
      action.selected_time = first ?? null;
      break;
    default:
      action.value = first ?? null;
      break;
  }
  return action;
}

/** What a select / picker action leaves in `view.state` (buttons and overflow menus leave nothing). */
export function stateValueFromAction(element: Obj, action: Obj): StateValue | undefined {
  if (element.type === 'button' || element.type === 'overflow' || element.type === 'workflow_button') return undefined;
  const value: StateValue = { type: String(action.type) };
  for (const [k, v] of Object.entries(action)) {
    if (k.startsWith('selected_') || k === 'value') value[k] = v;
  }
  return value;
}

/** Converts what a person typed or picked into Slack's state value for the element. */
export function toStateValue(element: Obj, picks: (string | null)[], where: string): StateValue {
  const type = String(element.type);
  const first = picks[0] ?? null;
  const given = picks.filter((p): p is string => p !== null && p !== '');
  switch (type) {
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
      return { type, selected_option: first ? findOption(element, first, where) : null };
    case 'multi_static_select':
    case 'multi_external_select':
    case 'checkboxes':
      return { type, selected_options: given.map((p) => findOption(element, p, where)) };
    case 'users_select':
      return { type, selected_user: first || null };
    case 'multi_users_select':
      return { type, selected_users: given };
    case 'conversations_select':
      return { type, selected_conversation: first || null };
    case 'multi_conversations_select':
      return { type, selected_conversations: given };
    case 'channels_select':
      return { type, selected_channel: first || null };
    case 'multi_channels_select':
      return { type, selected_channels: given };
    case 'datepicker':
      return { type, selected_date: first || null };
    case 'timepicker':
      return { type, selected_time: first || null };
    case 'datetimepicker':
      return { type, selected_date_time: first ? Number(first) : null };
    case 'rich_text_input':
      return {
        type,
        rich_text_value: { type: 'rich_text', elements: first ? [{ type: 'rich_text_section', elements: [{ type: 'text', text: first }] }] : [] },
      };
    case 'file_input':
      return { type, files: [] };
    default:
      return { type, value: first === '' ? null : first };
  }
}

/** The value Slack reports for an input nobody touched: its initial value, or empty. */
function initialStateValue(element: Obj): StateValue {
  const type = String(element.type);
  const initialOptions = Array.isArray(element.initial_options) ? (element.initial_options as unknown[]) : [];
  switch (type) {
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
      return { type, selected_option: isObj(element.initial_option) ? clone(element.initial_option) : null };
    case 'multi_static_select':
    case 'multi_external_select':
    case 'checkboxes':
      return { type, selected_options: clone(initialOptions) };
    case 'users_select':
      return { type, selected_user: str(element.initial_user) ?? null };
    case 'multi_users_select':
      return { type, selected_users: clone(Array.isArray(element.initial_users) ? element.initial_users : []) };
    case 'conversations_select':
      return { type, selected_conversation: str(element.initial_conversation) ?? null };
    case 'multi_conversations_select':
      return { type, selected_conversations: clone(Array.isArray(element.initial_conversations) ? element.initial_conversations : []) };
    case 'channels_select':
      return { type, selected_channel: str(element.initial_channel) ?? null };
    case 'multi_channels_select':
      return { type, selected_channels: clone(Array.isArray(element.initial_channels) ? element.initial_channels : []) };
    case 'datepicker':
      return { type, selected_date: str(element.initial_date) ?? null };
    case 'timepicker':
      return { type, selected_time: str(element.initial_time) ?? null };
    case 'datetimepicker':
      return { type, selected_date_time: typeof element.initial_date_time === 'number' ? element.initial_date_time : null };
    case 'rich_text_input':
      return { type, rich_text_value: isObj(element.initial_value) ? clone(element.initial_value) : { type: 'rich_text', elements: [] } };
    case 'file_input':
      return { type, files: [] };
    default: {
      const initial = element.initial_value;
      return { type, value: initial === undefined || initial === null ? null : String(initial) };
    }
  }
}

export function setStateValue(view: SlackView, blockId: string, actionId: string, value: StateValue): void {
  (view.state.values[blockId] ??= {})[actionId] = value;
}

/** Keeps what the page sent (values by block_id and action_id) in the view's state. */
export function mergeRaw(view: SlackView, raw: RawInputValues): void {
  for (const [blockId, byAction] of Object.entries(raw)) {
    for (const [actionId, value] of Object.entries(byAction)) {
      const ref = elementsOf(view.blocks).find((r) => r.block.block_id === blockId && r.element.action_id === actionId);
      if (!ref || ref.element.type === 'button' || ref.element.type === 'overflow') continue;
      const picks = value === null ? [] : Array.isArray(value) ? value : [value];
      setStateValue(view, blockId, actionId, toStateValue(ref.element, picks, `${textOf(ref.block.label) || blockId}`));
    }
  }
}

/** `view.state.values` as Slack sends it: every input block, entered or initial, plus touched stateful elements. */
export function submissionState(view: SlackView): { values: StateValues } {
  const values: StateValues = clone(view.state.values);
  for (const block of view.blocks) {
    if (block.type !== 'input' || !isObj(block.element)) continue;
    const blockId = String(block.block_id);
    const actionId = String(block.element.action_id);
    if (!values[blockId]?.[actionId]) (values[blockId] ??= {})[actionId] = initialStateValue(block.element);
  }
  return { values };
}

function isEmpty(v: StateValue | undefined): boolean {
  return (
    !v ||
    ('value' in v && (v.value === null || v.value === '')) ||
    ('selected_option' in v && v.selected_option === null) ||
    ('selected_options' in v && Array.isArray(v.selected_options) && v.selected_options.length === 0) ||
    ('selected_user' in v && !v.selected_user) ||
    ('selected_conversation' in v && !v.selected_conversation) ||
    ('selected_channel' in v && !v.selected_channel) ||
    ('selected_date' in v && !v.selected_date) ||
    ('selected_time' in v && !v.selected_time)
  );
}

/** The refusal Slack's client shows under a number or text input, if any. */
function boundsError(el: Obj, value: string): string | undefined {
  let error: string | undefined;
  if (el.type === 'number_input') {
    const n = Number(value);
    if (value.trim() === '' || Number.isNaN(n)) error = 'Please enter a number.';
    else if (!el.is_decimal_allowed && !Number.isInteger(n)) error = 'Please enter a whole number.';
    else if (el.min_value !== undefined && n < Number(el.min_value)) error = `Please enter a number ${String(el.min_value)} or higher.`;
    else if (el.max_value !== undefined && n > Number(el.max_value)) error = `Please enter a number ${String(el.max_value)} or lower.`;
  }
  if (el.type === 'plain_text_input') {
    if (typeof el.min_length === 'number' && value.length < el.min_length) error = `Please enter at least ${el.min_length} characters.`;
    if (typeof el.max_length === 'number' && value.length > el.max_length) error = `Please enter at most ${el.max_length} characters.`;
  }
  return error;
}

/** What Slack's own client refuses before sending: empty required inputs, numbers out of bounds, text too short or long. */
export function clientValidation(view: SlackView, state: { values: StateValues }): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const block of view.blocks as Block[]) {
    if (block.type !== 'input' || !isObj(block.element)) continue;
    const blockId = String(block.block_id);
    const el = block.element;
    const v = state.values[blockId]?.[String(el.action_id)];
    if (isEmpty(v)) {
      if (!block.optional) errors[blockId] = 'Please complete this required field.';
      continue;
    }
    const value = str(v?.value);
    const error = value === undefined ? undefined : boundsError(el, value);
    if (error) errors[blockId] = error;
  }
  return errors;
}
