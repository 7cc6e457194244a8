/**
 * Registers the button and select handlers (one file each) behind one Bolt
 * listener. Bolt runs every listener's matchers for every request, so a
 * listener per action_id would make each command and click pay for all of
 * them on the way to its ack; one listener looks the handler up by id.
 */
import type { AllMiddlewareArgs, App, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { Ids } from '../../ids.js';
import type { ListenerDeps } from '../deps.js';
import { sleepAction, wakeAction } from './data.action.js';
import { destroyAction, destroyCancelAction } from './destroy.action.js';
import { retryAction } from './retry.action.js';
import { approveAction, cancelRequestAction, rejectAction } from './approval.action.js';
import { keepAction, postponeAction, sleepNowAction } from './schedule.action.js';
import { templatePickAction } from './template-pick.action.js';
import { driftAction } from './drift.action.js';

type Handler = (args: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs) => Promise<void>;

export function registerActions(app: App, deps: ListenerDeps): void {
  // Each handler is typed for its own element (a button, a select); the id it is registered under decides which.
  const handlers: Record<string, Handler> = {
    [Ids.action.templatePick]: templatePickAction(deps) as Handler,
    [Ids.action.formChange]: templatePickAction(deps) as Handler,
    [Ids.action.destroy]: destroyAction(deps, { replaceOriginal: false }) as Handler,
    [Ids.action.opsDestroy]: destroyAction(deps, { replaceOriginal: false }) as Handler,
    [Ids.action.destroyConfirm]: destroyAction(deps, { replaceOriginal: true }) as Handler,
    [Ids.action.destroyCancel]: destroyCancelAction(deps) as Handler,
    [Ids.action.destroySave]: destroyAction(deps, { replaceOriginal: true }) as Handler,
    [Ids.action.retry]: retryAction(deps) as Handler,
    [Ids.action.opsRetry]: retryAction(deps) as Handler,
    [Ids.action.sleep]: sleepAction(deps) as Handler,
    [Ids.action.wake]: wakeAction(deps) as Handler,
    [Ids.action.extendHour]: postponeAction(deps) as Handler,
    [Ids.action.extendTomorrow]: postponeAction(deps) as Handler,
    [Ids.action.skipTonight]: postponeAction(deps) as Handler,
    [Ids.action.sleepNow]: sleepNowAction(deps) as Handler,
    [Ids.action.keep]: keepAction(deps) as Handler,
    [Ids.action.approve]: approveAction(deps) as Handler,
    [Ids.action.reject]: rejectAction(deps) as Handler,
    [Ids.action.approvalCancel]: cancelRequestAction(deps) as Handler,
    [Ids.action.driftTerminate]: driftAction(deps) as Handler,
    [Ids.action.driftAdopt]: driftAction(deps) as Handler,
    [Ids.action.driftRepair]: driftAction(deps) as Handler,
    [Ids.action.driftIgnore]: driftAction(deps) as Handler,
  };
  const ids = new RegExp(`^(?:${Object.keys(handlers).join('|')})$`);
  app.action<BlockAction>({ type: 'block_actions', action_id: ids }, async (args) => {
    await handlers[args.action.action_id]?.(args);
  });
}
