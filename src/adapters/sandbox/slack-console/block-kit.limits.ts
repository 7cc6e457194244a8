/**
 * Slack's Block Kit limits, checked the way Slack checks them before it
 * accepts a message or a view. Each problem names the rule and where it broke
 * as a JSON pointer, like Slack's own `[ERROR] … [json-pointer:/blocks/0/text]`.
 *
 * Source of the numbers: the Block Kit reference (blocks, elements,
 * composition objects, views). Only what the bot can get wrong is checked;
 * a field Slack ignores is ignored here too.
 */

export type Surface = 'message' | 'modal' | 'home';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  blockId: 255,
  actionId: 255,
  sectionText: 3000,
  sectionFields: 10,
  sectionField: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  url: 3000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  selectOptions: 100,
  optionText: 75,
  optionValue: 150,
  overflowOptions: 5,
  checkboxOptions: 10,
  placeholder: 150,
  inputLabel: 2000,
  hint: 2000,
  textInputLength: 3000,
  imageAlt: 2000,
  viewTitle: 24,
  viewButton: 24,
  callbackId: 255,
  externalId: 255,
  privateMetadata: 3000,
  messageText: 40000,
} as const;

/** Block types Slack accepts. Those the console does not draw still render, as a visible placeholder. */
export const KNOWN_BLOCK_TYPES = new Set([
  'section',
  'header',
  'divider',
  'context',
  'actions',
  'image',
  'input',
  'rich_text',
  'markdown',
  'video',
  'file',
  'call',
  'table',
  'context_actions',
]);

const INPUT_ELEMENTS = new Set([
  'plain_text_input',
  'number_input',
  'email_text_input',
  'url_text_input',
  'rich_text_input',
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
  'checkboxes',
  'radio_buttons',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'file_input',
]);

const ACTION_ELEMENTS = new Set([
  'button',
  'workflow_button',
  'overflow',
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
  'checkboxes',
  'radio_buttons',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'rich_text_input',
]);

const ACCESSORY_ELEMENTS = new Set([...ACTION_ELEMENTS, 'image'].filter((t) => t !== 'rich_text_input'));

class Checker {
  readonly problems: string[] = [];

  add(path: string, message: string): void {
    this.problems.push(`${message} [${path}]`);
  }

  maxLen(value: unknown, max: number, path: string, what: string): void {
    if (typeof value === 'string' && value.length > max) {
      this.add(path, `${what} is ${value.length} characters, Slack allows at most ${max}`);
    }
  }

  /** A text object: `{type: 'plain_text' | 'mrkdwn', text}` with a non-empty text. */
  text(value: unknown, path: string, what: string, opts: { max?: number; plainOnly?: boolean; required?: boolean } = {}): void {
    const required = opts.required ?? true;
    if (value === undefined) {
      if (required) this.add(path, `${what} is required`);
      return;
    }
    if (!isObj(value)) {
      this.add(path, `${what} must be a text object ({type, text})`);
      return;
    }
    const type = value.type;
    if (type !== 'plain_text' && type !== 'mrkdwn') {
      this.add(`${path}/type`, `${what} has type ${JSON.stringify(type)}; it must be plain_text or mrkdwn`);
    } else if (opts.plainOnly && type !== 'plain_text') {
      this.add(`${path}/type`, `${what} must be plain_text, not ${type}`);
    }
    if (typeof value.text !== 'string') {
      this.add(`${path}/text`, `${what} has no text`);
      return;
    }
    if (value.text.length === 0) this.add(`${path}/text`, `${what} must not be empty`);
    if (opts.max !== undefined) this.maxLen(value.text, opts.max, `${path}/text`, what);
  }

  confirm(value: unknown, path: string): void {
    if (value === undefined) return;
    if (!isObj(value)) {
      this.add(path, 'confirm must be an object');
      return;
    }
    this.text(value.title, `${path}/title`, 'confirm title', { max: LIMITS.confirmTitle, plainOnly: true });
    this.text(value.text, `${path}/text`, 'confirm text', { max: LIMITS.confirmText });
    this.text(value.confirm, `${path}/confirm`, 'confirm button', { max: LIMITS.confirmButton, plainOnly: true });
    this.text(value.deny, `${path}/deny`, 'deny button', { max: LIMITS.confirmButton, plainOnly: true });
    if (value.style !== undefined && value.style !== 'primary' && value.style !== 'danger') {
      this.add(`${path}/style`, `confirm style must be primary or danger, not ${JSON.stringify(value.style)}`);
    }
  }

  option(value: unknown, path: string, plainOnly: boolean): void {
    if (!isObj(value)) {
      this.add(path, 'an option must be an object ({text, value})');
      return;
    }
    this.text(value.text, `${path}/text`, 'option text', { max: LIMITS.optionText, plainOnly });
    if (typeof value.value !== 'string' && value.url === undefined) this.add(`${path}/value`, 'option value is required');
    this.maxLen(value.value, LIMITS.optionValue, `${path}/value`, 'option value');
    if (value.description !== undefined) {
      this.text(value.description, `${path}/description`, 'option description', { max: LIMITS.optionText, plainOnly });
    }
  }

  options(value: unknown, path: string, max: number, plainOnly: boolean, min = 1): void {
    if (!Array.isArray(value)) {
      this.add(path, 'options must be an array');
      return;
    }
    if (value.length < min) this.add(path, `needs at least ${min} option${min === 1 ? '' : 's'}`);
    if (value.length > max) this.add(path, `has ${value.length} options, Slack allows at most ${max}`);
    value.forEach((o, i) => this.option(o, `${path}/${i}`, plainOnly));
  }

  element(el: unknown, path: string, allowed: Set<string>, where: string, actionIds: Set<string>): void {
    if (!isObj(el)) {
      this.add(path, `${where} element must be an object`);
      return;
    }
    const type = el.type;
    if (typeof type !== 'string') {
      this.add(`${path}/type`, `${where} element has no type`);
      return;
    }
    if (!allowed.has(type)) {
      this.add(`${path}/type`, `element type ${JSON.stringify(type)} is not allowed in ${where}`);
      return;
    }
    if (el.action_id !== undefined) {
      if (typeof el.action_id !== 'string' || el.action_id.length === 0) {
        this.add(`${path}/action_id`, 'action_id must be a non-empty string');
      } else {
        this.maxLen(el.action_id, LIMITS.actionId, `${path}/action_id`, 'action_id');
        if (actionIds.has(el.action_id)) {
          this.add(`${path}/action_id`, `action_id ${JSON.stringify(el.action_id)} is used twice in the same block`);
        }
        actionIds.add(el.action_id);
      }
    }
    if (el.placeholder !== undefined) {
      this.text(el.placeholder, `${path}/placeholder`, 'placeholder', { max: LIMITS.placeholder, plainOnly: true });
    }
    this.confirm(el.confirm, `${path}/confirm`);
    switch (type) {
      case 'button':
      case 'workflow_button':
        this.text(el.text, `${path}/text`, 'button text', { max: LIMITS.buttonText, plainOnly: true });
        this.maxLen(el.value, LIMITS.buttonValue, `${path}/value`, 'button value');
        this.maxLen(el.url, LIMITS.url, `${path}/url`, 'button url');
        if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
          this.add(`${path}/style`, `button style must be primary or danger, not ${JSON.stringify(el.style)}`);
        }
        break;
      case 'static_select':
      case 'multi_static_select':
        if (el.options === undefined && el.option_groups === undefined) {
          this.add(path, `${type} needs options or option_groups`);
        }
        if (el.options !== undefined) this.options(el.options, `${path}/options`, LIMITS.selectOptions, true);
        if (el.option_groups !== undefined) {
          if (!Array.isArray(el.option_groups)) this.add(`${path}/option_groups`, 'option_groups must be an array');
          else {
            if (el.option_groups.length > LIMITS.selectOptions) {
              this.add(`${path}/option_groups`, `has ${el.option_groups.length} groups, Slack allows at most ${LIMITS.selectOptions}`);
            }
            el.option_groups.forEach((g, i) => {
              const gp = `${path}/option_groups/${i}`;
              if (!isObj(g)) return this.add(gp, 'an option group must be an object');
              this.text(g.label, `${gp}/label`, 'option group label', { max: LIMITS.optionText, plainOnly: true });
              this.options(g.options, `${gp}/options`, LIMITS.selectOptions, true);
            });
          }
        }
        if (isObj(el.initial_option) && Array.isArray(el.options)) {
          const wanted = el.initial_option.value;
          if (!el.options.some((o) => isObj(o) && o.value === wanted)) {
            this.add(`${path}/initial_option`, 'initial_option must be one of the options');
          }
        }
        break;
      case 'overflow':
        this.options(el.options, `${path}/options`, LIMITS.overflowOptions, true, 1);
        break;
      case 'checkboxes':
      case 'radio_buttons':
        this.options(el.options, `${path}/options`, LIMITS.checkboxOptions, false);
        break;
      case 'plain_text_input':
        for (const k of ['min_length', 'max_length'] as const) {
          const v = el[k];
          if (v !== undefined && (typeof v !== 'number' || v < 0 || v > LIMITS.textInputLength)) {
            this.add(`${path}/${k}`, `${k} must be a number between 0 and ${LIMITS.textInputLength}`);
          }
        }
        break;
      case 'number_input':
        if (typeof el.is_decimal_allowed !== 'boolean') {
          this.add(`${path}/is_decimal_allowed`, 'number_input needs is_decimal_allowed (true or false)');
        }
        break;
      case 'image':
        this.maxLen(el.image_url, LIMITS.url, `${path}/image_url`, 'image_url');
        if (typeof el.alt_text !== 'string' || el.alt_text.length === 0) this.add(`${path}/alt_text`, 'image alt_text is required');
        break;
      default:
        break;
    }
  }

  block(block: unknown, path: string, surface: Surface, blockIds: Set<string>): void {
    if (!isObj(block)) {
      this.add(path, 'a block must be an object');
      return;
    }
    const type = block.type;
    if (typeof type !== 'string' || !KNOWN_BLOCK_TYPES.has(type)) {
      this.add(`${path}/type`, `unknown block type ${JSON.stringify(type)}`);
      return;
    }
    if (block.block_id !== undefined) {
      if (typeof block.block_id !== 'string' || block.block_id.length === 0) {
        this.add(`${path}/block_id`, 'block_id must be a non-empty string');
      } else {
        this.maxLen(block.block_id, LIMITS.blockId, `${path}/block_id`, 'block_id');
        if (blockIds.has(block.block_id)) this.add(`${path}/block_id`, `block_id ${JSON.stringify(block.block_id)} is used twice`);
        blockIds.add(block.block_id);
      }
    }
    const actionIds = new Set<string>();
    switch (type) {
      case 'section': {
        if (block.text === undefined && block.fields === undefined) {
          this.add(path, 'a section needs text or fields');
        }
        if (block.text !== undefined) this.text(block.text, `${path}/text`, 'section text', { max: LIMITS.sectionText });
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields)) this.add(`${path}/fields`, 'fields must be an array');
          else {
            if (block.fields.length > LIMITS.sectionFields) {
              this.add(`${path}/fields`, `a section has ${block.fields.length} fields, Slack allows at most ${LIMITS.sectionFields}`);
            }
            block.fields.forEach((f, i) => this.text(f, `${path}/fields/${i}`, 'section field', { max: LIMITS.sectionField }));
          }
        }
        if (block.accessory !== undefined) {
          this.element(block.accessory, `${path}/accessory`, ACCESSORY_ELEMENTS, 'a section accessory', actionIds);
        }
        break;
      }
      case 'header':
        this.text(block.text, `${path}/text`, 'header text', { max: LIMITS.headerText, plainOnly: true });
        break;
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length === 0) {
          this.add(`${path}/elements`, 'a context block needs at least one element');
        } else {
          if (block.elements.length > LIMITS.contextElements) {
            this.add(`${path}/elements`, `a context block has ${block.elements.length} elements, Slack allows at most ${LIMITS.contextElements}`);
          }
          block.elements.forEach((e, i) => {
            const ep = `${path}/elements/${i}`;
            if (isObj(e) && e.type === 'image') this.element(e, ep, new Set(['image']), 'a context block', actionIds);
            else this.text(e, ep, 'context text', { max: LIMITS.sectionText });
          });
        }
        break;
      case 'actions':
        if (!Array.isArray(block.elements) || block.elements.length === 0) {
          this.add(`${path}/elements`, 'an actions block needs at least one element');
        } else {
          if (block.elements.length > LIMITS.actionsElements) {
            this.add(`${path}/elements`, `an actions block has ${block.elements.length} elements, Slack allows at most ${LIMITS.actionsElements}`);
          }
          block.elements.forEach((e, i) => this.element(e, `${path}/elements/${i}`, ACTION_ELEMENTS, 'an actions block', actionIds));
        }
        break;
      case 'image':
        if (typeof block.image_url !== 'string' && block.slack_file === undefined) this.add(`${path}/image_url`, 'an image block needs image_url');
        this.maxLen(block.image_url, LIMITS.url, `${path}/image_url`, 'image_url');
        if (typeof block.alt_text !== 'string' || block.alt_text.length === 0) this.add(`${path}/alt_text`, 'image alt_text is required');
        this.maxLen(block.alt_text, LIMITS.imageAlt, `${path}/alt_text`, 'image alt_text');
        if (block.title !== undefined) this.text(block.title, `${path}/title`, 'image title', { max: LIMITS.imageAlt, plainOnly: true });
        break;
      case 'input':
        this.text(block.label, `${path}/label`, 'input label', { max: LIMITS.inputLabel, plainOnly: true });
        if (block.hint !== undefined) this.text(block.hint, `${path}/hint`, 'input hint', { max: LIMITS.hint, plainOnly: true });
        if (block.element === undefined) this.add(`${path}/element`, 'an input block needs an element');
        else this.element(block.element, `${path}/element`, INPUT_ELEMENTS, 'an input block', actionIds);
        break;
      case 'rich_text':
        if (!Array.isArray(block.elements)) this.add(`${path}/elements`, 'a rich_text block needs elements');
        break;
      case 'markdown':
        if (typeof block.text !== 'string' || block.text.length === 0) this.add(`${path}/text`, 'a markdown block needs text');
        break;
      default:
        break;
    }
    void surface;
  }
}

/** Problems with a list of blocks on a surface (a message, a modal, an App Home). */
export function validateBlocks(blocks: unknown, surface: Surface, path = '/blocks'): string[] {
  const c = new Checker();
  if (!Array.isArray(blocks)) {
    c.add(path, 'blocks must be an array');
    return c.problems;
  }
  const max = surface === 'message' ? LIMITS.messageBlocks : LIMITS.viewBlocks;
  if (blocks.length > max) c.add(path, `${blocks.length} blocks in a ${surface}, Slack allows at most ${max}`);
  const blockIds = new Set<string>();
  blocks.forEach((b, i) => c.block(b, `${path}/${i}`, surface, blockIds));
  return c.problems;
}

/** Problems with a view object passed to views.open / update / push / publish or a response_action. */
export function validateView(view: unknown, expected?: 'modal' | 'home'): string[] {
  const c = new Checker();
  if (!isObj(view)) {
    c.add('/view', 'view must be an object');
    return c.problems;
  }
  const type = view.type;
  if (type !== 'modal' && type !== 'home') {
    c.add('/view/type', `view type must be modal or home, not ${JSON.stringify(type)}`);
  } else if (expected !== undefined && type !== expected) {
    c.add('/view/type', `this call needs a ${expected} view, not ${type}`);
  }
  if (type === 'modal') {
    c.text(view.title, '/view/title', 'modal title', { max: LIMITS.viewTitle, plainOnly: true });
    if (view.submit !== undefined) c.text(view.submit, '/view/submit', 'modal submit', { max: LIMITS.viewButton, plainOnly: true });
    if (view.close !== undefined) c.text(view.close, '/view/close', 'modal close', { max: LIMITS.viewButton, plainOnly: true });
    const hasInput = Array.isArray(view.blocks) && view.blocks.some((b) => isObj(b) && b.type === 'input');
    if (hasInput && view.submit === undefined) c.add('/view/submit', 'a modal with input blocks needs a submit button');
  }
  for (const [k, max] of [
    ['callback_id', LIMITS.callbackId],
    ['external_id', LIMITS.externalId],
    ['private_metadata', LIMITS.privateMetadata],
  ] as const) {
    const v = view[k];
    if (v !== undefined && typeof v !== 'string') c.add(`/view/${k}`, `${k} must be a string`);
    c.maxLen(v, max, `/view/${k}`, k);
  }
  const surface: Surface = type === 'home' ? 'home' : 'modal';
  return [...c.problems, ...validateBlocks(view.blocks, surface, '/view/blocks')];
}
