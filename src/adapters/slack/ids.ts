/** Every action_id, callback_id and block_id the app uses, in one place. */
export const Ids = {
  command: '/server',
  view: { request: 'server_new', notice: 'server_new_notice' },
  block: {
    name: 'name',
    template: 'template',
    count: 'count',
    type: 'instance_type',
    purpose: 'purpose',
  },
  action: {
    value: 'value',
    templatePick: 'template_pick',
    destroy: 'env_destroy',
    destroyConfirm: 'destroy_confirm',
    destroyCancel: 'destroy_cancel',
    retry: 'env_retry',
    opsRetry: 'ops_retry',
    opsDestroy: 'ops_destroy',
    sleep: 'env_sleep',
    destroySave: 'destroy_save',
    wake: 'env_wake',
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
