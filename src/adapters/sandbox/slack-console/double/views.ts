/**
 * People's views: each person's modal stack (bottom first, the one on screen
 * last) and the App Home the bot published for them. Opening, pushing,
 * updating and closing follow Slack: three modals at most, a new hash on
 * every update, entered values kept while their input stays, and the app's
 * answer to a submission (close, errors, update, push, clear) applied.
 */
import { validateView } from '../block-kit.limits.js';
import type { InteractionResult, RawInputValues, SlackView, StateValues } from '../slack-double.types.js';
import { elementsOf, withIds } from './blocks.js';
import { ApiRefusal, bool, clone, isObj, randomId, str, type Obj } from './util.js';
import { mergeRaw } from './view-state.js';
import type { Workspace } from './workspace.js';

export const MAX_VIEW_STACK = 3;

function newHash(): string {
  return `${Math.floor(Date.now() / 1000)}.${randomId(8)}`;
}

/** A view from what the bot sent (views.open / push / publish, response_action push), refused when Block Kit says no. */
export function newView(method: string, raw: unknown, type: 'modal' | 'home', user: string, previous: SlackView | null): SlackView {
  const problems = validateView(raw, type);
  if (problems.length) throw new ApiRefusal('invalid_arguments', `${method}: invalid view`, problems);
  const v = raw as Obj;
  const id = `V${randomId(10).toUpperCase()}`;
  return {
    id,
    hash: newHash(),
    type,
    user,
    callback_id: str(v.callback_id) ?? '',
    external_id: str(v.external_id) ?? '',
    private_metadata: str(v.private_metadata) ?? '',
    ...(isObj(v.title) ? { title: clone(v.title) } : {}),
    ...(isObj(v.submit) ? { submit: clone(v.submit) } : {}),
    ...(isObj(v.close) ? { close: clone(v.close) } : {}),
    blocks: withIds(v.blocks as unknown[]),
    notify_on_close: bool(v.notify_on_close),
    clear_on_close: bool(v.clear_on_close),
    root_view_id: previous?.root_view_id ?? id,
    previous_view_id: previous?.id ?? null,
    state: { values: {} },
    errors: {},
  };
}

/** views.update / publish / response_action update: new content, same id, new hash; entered values kept where the input is still there. */
export function replaceView(method: string, view: SlackView, raw: unknown, expected: 'modal' | 'home' = view.type): void {
  const problems = validateView(raw, expected);
  if (problems.length) throw new ApiRefusal('invalid_arguments', `${method}: invalid view`, problems);
  const v = raw as Obj;
  view.hash = newHash();
  view.callback_id = str(v.callback_id) ?? '';
  view.external_id = str(v.external_id) ?? view.external_id;
  view.private_metadata = str(v.private_metadata) ?? '';
  for (const key of ['title', 'submit', 'close'] as const) {
    const value = v[key];
    if (isObj(value)) view[key] = clone(value);
    else delete view[key];
  }
  view.blocks = withIds(v.blocks as unknown[]);
  view.notify_on_close = bool(v.notify_on_close);
  view.clear_on_close = bool(v.clear_on_close);
  const kept: StateValues = {};
  for (const { block, element } of elementsOf(view.blocks)) {
    const prev = view.state.values[String(block.block_id)]?.[String(element.action_id)];
    if (prev && prev.type === element.type) (kept[String(block.block_id)] ??= {})[String(element.action_id)] = prev;
  }
  view.state = { values: kept };
  view.errors = {};
}

export class Views {
  private readonly stacks = new Map<string, SlackView[]>();
  private readonly homes = new Map<string, SlackView>();

  constructor(private readonly ws: Workspace) {}

  /** A person's modal stack, bottom first (live). */
  stack(user: string): SlackView[] {
    return this.stacks.get(user) ?? [];
  }

  top(user: string): SlackView | undefined {
    return this.stacks.get(user)?.at(-1);
  }

  home(user: string): SlackView | undefined {
    return this.homes.get(user);
  }

  /** A person's open modal or their App Home, by id. */
  findById(user: string, viewId: string): SlackView | undefined {
    const home = this.homes.get(user);
    if (home?.id === viewId) return home;
    return this.stack(user).find((v) => v.id === viewId);
  }

  all(): SlackView[] {
    return [...[...this.stacks.values()].flat(), ...this.homes.values()];
  }

  /** views.open: a new stack with this one modal. */
  open(user: string, raw: unknown): SlackView {
    const view = newView('views.open', raw, 'modal', user, null);
    this.stacks.set(user, [view]);
    this.ws.emit({ kind: 'views', user });
    return view;
  }

  /** views.push: one more modal on top of the person's stack. */
  push(user: string, raw: unknown): SlackView {
    const stack = this.stacks.get(user);
    const top = stack?.at(-1);
    if (!stack || !top) throw new ApiRefusal('not_found', 'views.push: the person has no open modal to push onto');
    if (stack.length >= MAX_VIEW_STACK) throw new ApiRefusal('push_limit_reached', `views.push: a modal stack holds at most ${MAX_VIEW_STACK} views`);
    const view = newView('views.push', raw, 'modal', user, top);
    stack.push(view);
    this.ws.emit({ kind: 'views', user });
    return view;
  }

  /** views.publish: the person's App Home, new or replaced. */
  publish(user: string, raw: unknown): SlackView {
    const existing = this.homes.get(user);
    if (existing) replaceView('views.publish', existing, raw, 'home');
    else this.homes.set(user, newView('views.publish', raw, 'home', user, null));
    this.ws.emit({ kind: 'home', user });
    return this.homes.get(user) as SlackView;
  }

  /** views.update on a view found by id or external id. */
  update(view: SlackView, raw: unknown): void {
    replaceView('views.update', view, raw);
    this.ws.emit({ kind: view.type === 'home' ? 'home' : 'views', user: view.user });
  }

  /** The person closes their top modal, or the whole stack; resolves with the views that closed. */
  close(user: string, all: boolean): SlackView[] {
    const stack = this.stack(user);
    const top = stack.at(-1);
    if (!top) return [];
    const closed = all ? [...stack] : [top];
    if (all || stack.length <= 1) this.stacks.delete(user);
    else stack.pop();
    this.ws.emit({ kind: 'views', user });
    return closed;
  }

  /** Every modal of the person closes at once, with no view_closed: their Slack client went away. */
  dropStack(user: string): void {
    if (this.stacks.delete(user)) this.ws.emit({ kind: 'views', user });
  }

  /** Keeps what a person typed in a modal (or their Home) without submitting it. */
  saveDraft(user: string, viewId: string, values: RawInputValues): void {
    const view = this.findById(user, viewId);
    if (view) mergeRaw(view, values);
  }

  /** The app's answer to a view submission, applied as Slack does: an empty ack closes the modal. */
  applyAnswer(user: string, view: SlackView, result: InteractionResult, summary: string): void {
    const answer = isObj(result.json) ? result.json : undefined;
    const action = answer?.response_action;
    if (!result.body.trim() || action === undefined) {
      if (result.body.trim() && !answer) this.ws.problem(`${summary}: the ack body ${JSON.stringify(result.body.slice(0, 200))} is not a response_action; Slack closes the modal`);
      this.pop(user, view);
      return;
    }
    try {
      this.applyResponseAction(user, view, action, answer ?? {}, summary);
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      for (const line of e.alwaysProblemLines()) this.ws.problem(line);
    }
    this.ws.emit({ kind: 'views', user });
  }

  private applyResponseAction(user: string, view: SlackView, action: unknown, answer: Obj, summary: string): void {
    const stack = this.stack(user);
    switch (action) {
      case 'errors': {
        const errors = answer.errors;
        if (!isObj(errors)) throw new ApiRefusal('invalid_arguments', `${summary}: response_action errors needs an errors object`);
        const inputIds = new Set(view.blocks.filter((b) => b.type === 'input').map((b) => String(b.block_id)));
        const unknown = Object.keys(errors).filter((k) => !inputIds.has(k));
        if (unknown.length) {
          throw new ApiRefusal('invalid_arguments', `${summary}: response_action errors names ${unknown.map((k) => JSON.stringify(k)).join(', ')}, not an input block of this modal (inputs: ${[...inputIds].join(', ')})`);
        }
        view.errors = Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, String(v)]));
        break;
      }
      case 'update':
        replaceView(`${summary}: response_action update`, view, answer.view, 'modal');
        break;
      case 'push':
        if (stack.length >= MAX_VIEW_STACK) throw new ApiRefusal('push_limit_reached', `${summary}: a modal stack holds at most ${MAX_VIEW_STACK} views`);
        view.errors = {};
        stack.push(newView(`${summary}: response_action push`, answer.view, 'modal', user, view));
        break;
      case 'clear':
        this.stacks.delete(user);
        break;
      default:
        throw new ApiRefusal('invalid_arguments', `${summary}: unknown response_action ${JSON.stringify(action)}`);
    }
  }

  private pop(user: string, view: SlackView): void {
    const stack = this.stack(user);
    const i = stack.findIndex((v) => v.id === view.id);
    if (i >= 0) stack.splice(i, 1);
    if (stack.length === 0) this.stacks.delete(user);
    this.ws.emit({ kind: 'views', user });
  }

  clear(): void {
    this.stacks.clear();
    this.homes.clear();
  }
}
