/**
 * A tiny but real Bolt app (HTTP receiver) for driving the Slack double:
 * a slash command that opens a modal, a submission that validates and posts
 * a message with a thread, buttons that update the message or answer through
 * response_url, a dispatch_action select that updates the modal, an App Home.
 * Its sub-commands also make the bad calls the double must catch.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, type BlockButtonAction } from '@slack/bolt';
import type { SlackDouble } from '../../../../../src/adapters/sandbox/slack-console/slack-double.js';

export const SIGNING_SECRET = 'test-signing-secret';
export const BOT_TOKEN = 'xoxb-test-token';

/** What the listeners saw, for assertions on the payloads Slack-the-double sent. */
export interface Seen {
  submissions: { callbackId: string; values: Record<string, Record<string, unknown>>; privateMetadata: string }[];
  actions: { actionId: string; blockId: string; value?: unknown; type: string; container: unknown; hasResponseUrl: boolean }[];
  retryNums: (number | undefined)[];
  closed: string[];
  apiErrors: string[];
}

export interface TinyApp {
  seen: Seen;
  eventsUrl: string;
  stop(): Promise<void>;
}

const TEMPLATES = [
  { value: 'small', text: 'Small API', hint: 't3.small · $0.02/hour' },
  { value: 'large', text: 'Large API', hint: 'm5.large · $0.10/hour' },
];

function newEnvModal(name: string, channel: string, template?: string): Record<string, unknown> {
  const picked = TEMPLATES.find((t) => t.value === template);
  return {
    type: 'modal',
    callback_id: 'new-env',
    private_metadata: JSON.stringify({ name, channel }),
    title: { type: 'plain_text', text: 'New environment' },
    submit: { type: 'plain_text', text: 'Create' },
    close: { type: 'plain_text', text: 'Cancel' },
    notify_on_close: true,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `Environment *${name}*` } },
      {
        type: 'input',
        block_id: 'template',
        dispatch_action: true,
        label: { type: 'plain_text', text: 'Template' },
        element: {
          type: 'static_select',
          action_id: 'pick',
          placeholder: { type: 'plain_text', text: 'Pick a template' },
          options: TEMPLATES.map((t) => ({ text: { type: 'plain_text', text: t.text }, value: t.value })),
        },
        ...(picked ? { hint: { type: 'plain_text', text: picked.hint } } : {}),
      },
      {
        type: 'input',
        block_id: 'count',
        label: { type: 'plain_text', text: 'Servers' },
        element: { type: 'number_input', action_id: 'n', is_decimal_allowed: false, min_value: '1', initial_value: '1' },
      },
      {
        type: 'input',
        block_id: 'purpose',
        label: { type: 'plain_text', text: 'Purpose' },
        element: { type: 'plain_text_input', action_id: 'text', multiline: true },
      },
    ],
  };
}

function envMessage(name: string, user: string, template: string, count: number, state: 'provisioning' | 'destroyed'): { text: string; blocks: unknown[] } {
  const destroyed = state === 'destroyed';
  return {
    text: `${name} is ${state}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: name } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `*${name}* is _${state}_ for <@${user}> :${destroyed ? 'wastebasket' : 'hourglass_flowing_sand'}:` },
        fields: [
          { type: 'mrkdwn', text: `*Template*\n${template}` },
          { type: 'mrkdwn', text: `*Servers*\n${count}` },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'Connect with `aws ssm start-session --target i-0abc`' }] },
      ...(destroyed
        ? []
        : [
            { type: 'divider' },
            {
              type: 'actions',
              block_id: 'env-actions',
              elements: [
                {
                  type: 'button',
                  action_id: 'destroy',
                  text: { type: 'plain_text', text: 'Destroy' },
                  style: 'danger',
                  value: name,
                  confirm: {
                    title: { type: 'plain_text', text: 'Destroy demo?' },
                    text: { type: 'plain_text', text: 'Every instance will be terminated.' },
                    confirm: { type: 'plain_text', text: 'Yes, destroy' },
                    deny: { type: 'plain_text', text: 'Keep it' },
                    style: 'danger',
                  },
                },
                { type: 'button', action_id: 'details', text: { type: 'plain_text', text: 'Details' }, value: name },
              ],
            },
          ]),
    ],
  };
}

export async function startTinyBoltApp(double: SlackDouble): Promise<TinyApp> {
  const seen: Seen = { submissions: [], actions: [], retryNums: [], closed: [], apiErrors: [] };
  const app = new App({
    signingSecret: SIGNING_SECRET,
    token: BOT_TOKEN,
    // No retries: a refused call must show at once, not after the client's back-off.
    clientOptions: { slackApiUrl: double.apiUrl, retryConfig: { retries: 0 } },
    logLevel: LogLevel.ERROR,
  });
  const apiError = (e: unknown): void => {
    const data = (e as { data?: { error?: string } }).data;
    seen.apiErrors.push(data?.error ?? String(e));
  };

  app.command('/server', async ({ command, ack, client, context }) => {
    seen.retryNums.push(context.retryNum);
    const [sub, name = ''] = command.text.trim().split(/\s+/);
    switch (sub) {
      case 'new':
        await ack();
        await client.views.open({ trigger_id: command.trigger_id, view: newEnvModal(name, command.channel_id) as never }).catch(apiError);
        return;
      case 'help':
        await ack('Usage: `/server new NAME`, `/server help`');
        return;
      case 'shout':
        await ack({ response_type: 'in_channel', text: `Hello <#${command.channel_id}>, <@${command.user_id}> says hi` });
        return;
      case 'bad-button':
        await ack();
        await client.chat
          .postMessage({
            channel: command.channel_id,
            text: 'too long',
            blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'x', text: { type: 'plain_text', text: 'x'.repeat(76) } }] }],
          })
          .catch(apiError);
        return;
      case 'unknown-method':
        await ack();
        await client.apiCall('chat.fly', { channel: command.channel_id }).catch(apiError);
        return;
      case 'silent':
        return; // never acks: Bolt answers 404 after 3 s
      default:
        await ack(`Unknown command ${sub ?? ''}`);
    }
  });

  app.action({ action_id: 'pick', block_id: 'template' }, async ({ ack, body, client, action }) => {
    await ack();
    if (body.type !== 'block_actions' || !body.view || action.type !== 'static_select') return;
    const meta = JSON.parse(body.view.private_metadata) as { name: string; channel: string };
    await client.views
      .update({ view_id: body.view.id, hash: body.view.hash, view: newEnvModal(meta.name, meta.channel, action.selected_option.value) as never })
      .catch(apiError);
  });

  app.view('new-env', async ({ ack, view, body, client }) => {
    const values = view.state.values as unknown as Record<string, Record<string, unknown>>;
    seen.submissions.push({ callbackId: view.callback_id, values, privateMetadata: view.private_metadata });
    const count = Number(view.state.values.count?.n?.value);
    if (count > 5) {
      await ack({ response_action: 'errors', errors: { count: 'At most 5 servers' } });
      return;
    }
    await ack();
    const meta = JSON.parse(view.private_metadata) as { name: string; channel: string };
    const template = view.state.values.template?.pick?.selected_option?.text.text ?? '?';
    const posted = await client.chat.postMessage({ channel: meta.channel, ...envMessage(meta.name, body.user.id, template, count, 'provisioning') } as never);
    await client.chat.postMessage({ channel: meta.channel, thread_ts: posted.ts as string, text: `Launching ${count} instances` });
    await client.chat.postMessage({ channel: meta.channel, thread_ts: posted.ts as string, text: 'Instances running :white_check_mark:' });
  });

  app.view({ callback_id: 'new-env', type: 'view_closed' }, async ({ ack, view }) => {
    seen.closed.push(view.callback_id);
    await ack();
  });

  app.action<BlockButtonAction>('destroy', async ({ ack, body, client, action }) => {
    await ack();
    seen.actions.push({ actionId: action.action_id, blockId: action.block_id, value: action.value, type: action.type, container: body.container, hasResponseUrl: Boolean(body.response_url) });
    const channel = body.channel?.id ?? '';
    const ts = body.message?.ts ?? '';
    await client.chat.update({ channel, ts, ...envMessage(action.value ?? '?', body.user.id, 'Small API', 2, 'destroyed') } as never).catch(apiError);
  });

  app.action<BlockButtonAction>('details', async ({ ack, body, respond, action }) => {
    await ack();
    seen.actions.push({ actionId: action.action_id, blockId: action.block_id, value: action.value, type: action.type, container: body.container, hasResponseUrl: Boolean(body.response_url) });
    await respond({ response_type: 'ephemeral', replace_original: false, text: `Details of *${action.value ?? '?'}*: 2 servers, ready` });
  });

  app.event('app_home_opened', async ({ event, client }) => {
    await client.views
      .publish({
        user_id: event.user,
        view: {
          type: 'home',
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: 'Your environments' } },
            { type: 'section', text: { type: 'mrkdwn', text: `Hello <@${event.user}>, nothing is running.` } },
            { type: 'actions', elements: [{ type: 'button', action_id: 'home-new', text: { type: 'plain_text', text: 'New environment' }, style: 'primary' }] },
          ],
        },
      })
      .catch(apiError);
  });

  app.action('home-new', async ({ ack, body, client }) => {
    await ack();
    if (body.type !== 'block_actions') return;
    await client.views.open({ trigger_id: body.trigger_id, view: newEnvModal('from-home', 'C0GENERAL') as never }).catch(apiError);
  });

  const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
  const port = (server.address() as AddressInfo).port;
  const eventsUrl = `http://127.0.0.1:${port}/slack/events`;
  double.setEventsUrl(eventsUrl);
  return { seen, eventsUrl, stop: () => app.stop() as Promise<void> };
}
