/**
 * The first global middleware: each request runs under a correlation id (the
 * HTTP receiver's, or a new one with Socket Mode), everything after it sees
 * that id, and one line names the request without what a person typed.
 */
import { describe, expect, it } from 'vitest';
import type { AnyMiddlewareArgs, AllMiddlewareArgs } from '@slack/bolt';
import { correlation, requestLabel } from '../../../../src/adapters/slack/middleware/correlation.middleware.js';
import { CORRELATION_ID, currentCorrelationId } from '../../../../src/core/ports/correlation.js';

function recorder() {
  const lines: Array<{ obj: Record<string, unknown>; msg?: string }> = [];
  const log = (obj: object, msg?: string) => lines.push({ obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) });
  const logger = { info: log, warn: log, error: log, debug: log, child: () => logger };
  return { logger, lines };
}

const command = { command: '/server', text: 'new secret-name --purpose "my private words"', user_id: 'U0DEV', channel_id: 'C1', team_id: 'T1', response_url: 'https://hooks.slack.com/x', trigger_id: 't' };

async function through(body: Record<string, unknown>, context: Record<string, unknown> = {}) {
  const { logger, lines } = recorder();
  const seen: Array<string | undefined> = [];
  let background: Promise<void> | undefined;
  const next = async () => {
    seen.push(currentCorrelationId());
    // A listener that starts work and does not wait for it (a flow in the background).
    background = new Promise<void>((r) => setTimeout(r, 5)).then(() => void seen.push(currentCorrelationId()));
  };
  const args = { body, context, next, logger } as unknown as AnyMiddlewareArgs & AllMiddlewareArgs;
  await correlation(logger)(args);
  await background;
  return { lines, seen, context };
}

describe('correlation middleware', () => {
  it('with Socket Mode (no id given): makes one, runs the rest and what it starts under it, and logs the request once', async () => {
    const { lines, seen, context } = await through(command);
    const id = context.correlationId as string;
    expect(id).toMatch(CORRELATION_ID);
    expect(seen).toEqual([id, id]);
    expect(currentCorrelationId()).toBeUndefined();
    expect(lines).toEqual([{ msg: 'slack request', obj: { correlationId: id, kind: 'command', command: '/server', subcommand: 'new', user: 'U0DEV' } }]);
    expect(JSON.stringify(lines)).not.toContain('secret-name');
    expect(JSON.stringify(lines)).not.toContain('private');
  });

  it('over HTTP: keeps the id the receiver made (context.correlationId), and says when Slack retried', async () => {
    const { lines, seen } = await through(command, { correlationId: 'c-0123456789ab', retryNum: 1 });
    expect(seen).toEqual(['c-0123456789ab', 'c-0123456789ab']);
    expect(lines[0]!.obj).toMatchObject({ correlationId: 'c-0123456789ab', retryNum: 1 });
  });

  it('two requests get two ids', async () => {
    const [a, b] = await Promise.all([through(command), through(command)]);
    expect(a.context.correlationId).not.toBe(b.context.correlationId);
  });

  it.each([
    [{ type: 'block_actions', user: { id: 'U1' }, actions: [{ action_id: 'env.destroy' }] }, { kind: 'action', actionId: 'env.destroy', user: 'U1' }],
    [{ type: 'view_submission', user: { id: 'U1' }, view: { callback_id: 'server.new' } }, { kind: 'view', callbackId: 'server.new', user: 'U1' }],
    [{ type: 'event_callback', event: { type: 'app_home_opened', user: 'U2' } }, { kind: 'event', event: 'app_home_opened', user: 'U2' }],
    [{ type: 'shortcut', callback_id: 'sc', user: { id: 'U1' } }, { kind: 'shortcut', callbackId: 'sc', user: 'U1' }],
    [{ ...command, text: '"quoted words' }, { kind: 'command', command: '/server', user: 'U0DEV' }],
  ])('labels %j', (body, label) => {
    expect(requestLabel(body)).toEqual(label);
  });
});
