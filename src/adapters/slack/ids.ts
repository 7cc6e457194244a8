/** Every action_id, callback_id and block_id the app uses, in one place. */
export const Ids = {
  command: '/server',
  view: { request: 'server_new', notice: 'server_new_notice', reject: 'approval_reject' },
  block: {
    name: 'name',
    template: 'template',
    count: 'count',
    type: 'instance_type',
    purpose: 'purpose',
    reason: 'reason',
  },
  action: {
    value: 'value',
    templatePick: 'template_pick',
    /** The form's count or type changed: it is redrawn with its cost. */
    formChange: 'form_change',
    destroy: 'env_destroy',
    destroyConfirm: 'destroy_confirm',
    destroyCancel: 'destroy_cancel',
    retry: 'env_retry',
    opsRetry: 'ops_retry',
    opsDestroy: 'ops_destroy',
    sleep: 'env_sleep',
    destroySave: 'destroy_save',
    wake: 'env_wake',
    extendHour: 'schedule_extend_hour',
    extendTomorrow: 'schedule_extend_tomorrow',
    sleepNow: 'schedule_sleep_now',
    skipTonight: 'schedule_skip',
    keep: 'schedule_keep',
    approve: 'approval_approve',
    reject: 'approval_reject',
    approvalCancel: 'approval_cancel',
    driftTerminate: 'drift_terminate',
    driftAdopt: 'drift_adopt',
    driftRepair: 'drift_repair',
    driftIgnore: 'drift_ignore',
  },
} as const;

/**
 * What an environment's buttons carry: its name and its id, so a button on
 * the message of an earlier environment of the same name acts on nothing.
 * Values from older messages (a name only) still name an environment.
 */
export function environmentValue(env: { name: string; id: string }): string {
  return `${env.name}:${env.id}`;
}

export function parseEnvironmentValue(value: string | undefined): { name: string; id?: string } {
  const [name = '', id] = (value ?? '').split(':', 2);
  return id ? { name, id } : { name };
}

/** A reminder's buttons carry the sleep they are about too: a click after it passed is told what happened instead. */
export function reminderValue(env: { name: string; id: string }, sleepAt: string): string {
  return `${environmentValue(env)}|${sleepAt}`;
}

export function parseReminderValue(value: string | undefined): { target: { name: string; id?: string }; sleepAt: string } {
  const [env = '', sleepAt = ''] = (value ?? '').split('|', 2);
  return { target: parseEnvironmentValue(env), sleepAt };
}
