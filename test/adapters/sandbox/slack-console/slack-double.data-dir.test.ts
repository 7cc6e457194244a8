/**
 * The double's data folder: channels' messages and threads survive a restart
 * of the sandbox (the console shows the same channels, and the bot's
 * chat.update calls still find their messages); ephemerals do not, as in
 * Slack. The file is written atomically, soon after a change.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogLevel, WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { SlackDouble } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';

const TOKEN = 'xoxb-data-dir';
const open: SlackDouble[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

async function startDouble(dataDir: string): Promise<{ double: SlackDouble; client: WebClient }> {
  const double = new SlackDouble({ signingSecret: 'secret', botToken: TOKEN, dataDir });
  open.push(double);
  await double.listen();
  const client = new WebClient(TOKEN, { slackApiUrl: double.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
  return { double, client };
}

const button = (text: string, action_id: string) => ({ type: 'button', text: { type: 'plain_text', text }, action_id, value: 'demo' });
const environmentBlocks = (state: string) => [
  { type: 'section', text: { type: 'mrkdwn', text: `*demo* is _${state}_ :white_check_mark:` } },
  { type: 'actions', block_id: 'env_actions', elements: [button('Retry', 'retry'), button('Destroy', 'destroy')] },
];
const tsNumber = (ts: string): number => Number(ts.split('.')[0]) * 1e6 + Number(ts.split('.')[1]);

describe('a data folder', () => {
  it('keeps channels, threads and DMs across a restart, and the bot can still update its messages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'double-data-'));
    const first = await startDouble(dir);
    const posted = await first.client.chat.postMessage({ channel: 'C0GENERAL', text: 'demo is provisioning', blocks: environmentBlocks('provisioning') });
    await first.client.chat.postMessage({ channel: 'C0GENERAL', thread_ts: posted.ts!, text: 'Launching 2 instances' });
    await first.client.chat.update({ channel: 'C0GENERAL', ts: posted.ts!, text: 'demo is ready', blocks: environmentBlocks('ready') });
    await first.client.chat.postMessage({ channel: 'D0DEV', text: 'Your environment is ready' });
    await first.client.chat.postEphemeral({ channel: 'C0GENERAL', user: 'U0DEV', text: 'Only for dana' });
    const before = { general: first.double.channelMessages('general'), dm: first.double.channelMessages('U0DEV') };
    await first.double.close();

    const second = await startDouble(dir);
    expect(second.double.channelMessages('general')).toEqual(before.general);
    expect(second.double.channelMessages('U0DEV')).toEqual(before.dm);
    expect(second.double.lastMessage('general')?.replies.map((r) => r.text)).toEqual(['Launching 2 instances']);
    expect(second.double.ephemerals('dana')).toEqual([]); // Slack drops ephemerals on reload

    // What failed with message_not_found before: the bot updating its message after the restart.
    const updated = await second.client.chat.update({ channel: 'C0GENERAL', ts: posted.ts!, text: 'demo is destroyed', blocks: environmentBlocks('destroyed') });
    expect(updated.ok).toBe(true);
    expect(second.double.message('general', posted.ts!)?.edited).toBe(2);
    // A new message never takes the ts of a kept one, even within the same second.
    const later = await second.client.chat.postMessage({ channel: 'C0GENERAL', text: 'next' });
    const keptTs = [...before.general, ...before.general.flatMap((m) => m.replies), ...before.dm].map((m) => tsNumber(m.ts));
    expect(tsNumber(later.ts!)).toBeGreaterThan(Math.max(...keptTs));
    second.double.assertNoProblems();
  });

  it('writes a change soon on its own (no stop needed), atomically: no temporary file is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'double-data-'));
    const { double, client } = await startDouble(dir);
    const posted = await client.chat.postMessage({ channel: 'C0OPS', text: 'alert' });
    for (let i = 0; i < 5; i++) await client.chat.update({ channel: 'C0OPS', ts: posted.ts!, text: `alert, update ${i}` });
    const file = join(dir, 'messages.json');
    await double.waitFor(() => existsSync(file) && readFileSync(file, 'utf8').includes('alert, update 4'), { timeoutMs: 3000, what: 'the data file with the last update' });
    expect(readdirSync(dir)).toEqual(['messages.json']);
  });

  it('moves a file it cannot read aside, starts with empty channels, and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'double-data-'));
    writeFileSync(join(dir, 'messages.json'), '{"version": 1, "channels": "not messages"');
    const { double, client } = await startDouble(dir);
    expect(double.channelMessages('general')).toEqual([]);
    expect(double.problems).toEqual([expect.stringMatching(/could not use .*messages\.json.*starts with empty channels; the old file is kept as messages\.json\.unreadable-/)]);
    expect(readdirSync(dir).filter((f) => f.startsWith('messages.json.unreadable-'))).toHaveLength(1);
    // And it keeps new messages as usual.
    await client.chat.postMessage({ channel: 'C0GENERAL', text: 'fresh start' });
    await double.flush();
    expect(JSON.parse(readFileSync(join(dir, 'messages.json'), 'utf8'))).toMatchObject({ version: 1, channels: { C0GENERAL: [{ text: 'fresh start' }] } });
  });

  it('forgets kept messages on reset, as it forgets everything else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'double-data-'));
    const first = await startDouble(dir);
    await first.client.chat.postMessage({ channel: 'C0GENERAL', text: 'old' });
    first.double.reset();
    await first.double.close();
    const second = await startDouble(dir);
    expect(second.double.channelMessages('general')).toEqual([]);
  });
});
