/**
 * The leader's catch-up of messages (src/core/use-cases/settle-messages.use-case.ts),
 * in the sandbox: Slack refuses every message update while an environment
 * comes to rest, so its message is left a state behind (as when the replica
 * that wrote the last state is killed before it updates Slack). Once the
 * environment has been quiet for a moment, the catch-up shows it as it is,
 * once.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText, type SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import { startDormouse, type Dormouse } from '../../src/main.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const running: Dormouse[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

describe('messages left behind are shown again once their environment rests', () => {
  it('every update refused while it becomes ready: the message lags; the catch-up shows it ready, once', async () => {
    const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: mkdtempSync(join(tmpdir(), 'dormouse-settle-')), DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'silent' }, repoRoot);
    const bot = await startDormouse(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), scheduler: false });
    running.push(bot);
    const double = bot.double as SlackDouble;
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new lagging --template demo' });
    const message = await double.waitFor(() => double.channelMessages('C0GENERAL').find((m) => visibleText(m).includes('lagging')), { timeoutMs: 10_000, what: 'the message' });
    // From here on Slack refuses every update (the client's own retries included).
    double.failNext({ method: 'chat.update', status: 500, times: 1_000 });
    const deadline = Date.now() + 30_000;
    while ((await bot.useCases.queries.find('lagging'))?.state !== 'ready') {
      if (Date.now() > deadline) throw new Error('not ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    double.clearFaults();
    const lagging = double.channelMessages('C0GENERAL').find((m) => m.ts === message.ts)!;
    expect(visibleText(lagging)).not.toMatch(/Ready,/);

    // Not quiet long enough yet: nothing. Then, quiet: shown as it is, once.
    expect(await bot.useCases.settleMessages.execute()).toBe(0);
    bot.sandboxClock!.jumpBy(20_000);
    expect(await bot.useCases.settleMessages.execute()).toBe(1);
    await double.waitFor(() => /Ready,/.test(visibleText(double.channelMessages('C0GENERAL').find((m) => m.ts === message.ts)!)), { timeoutMs: 5_000, what: 'the message shown ready' });
    const edits = double.channelMessages('C0GENERAL').find((m) => m.ts === message.ts)!.edited;
    expect(await bot.useCases.settleMessages.execute()).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(double.channelMessages('C0GENERAL').find((m) => m.ts === message.ts)!.edited).toBe(edits);
    expect(double.channelMessages('C0GENERAL').filter((m) => visibleText(m).includes('lagging'))).toHaveLength(1);
  });
});
