/** Every action_id, callback_id and block_id the app uses, in one place. */
export const Ids = {
  command: '/server',
  view: { request: 'server_new' },
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
  },
} as const;
