/**
 * The whole sandbox in headless Chromium, as a person trying Dormouse: open
 * the console, `/server new demo`, fill in the form, watch the message reach
 * ready, ask to sleep it and keep it awake, destroy it without saving its data, see it destroyed, reload and still
 * see it; then in a narrow window (a phone, a split screen); then across a
 * restart of the sandbox. Asserts what a person sees (text, buttons, status
 * marks as text), not pixels, and saves test-output/sandbox.png,
 * sandbox-narrow.png and sandbox-restart.png to look at.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Locator, type Page } from 'playwright-core';
import { CHROMIUM, hasChromium, launchChromium } from '../support/browser.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startDormouse, type Dormouse } from '../../src/main.js';

if (!hasChromium) {
  // eslint-disable-next-line no-console -- the one line that says why the browser test did not run
  console.warn(`sandbox.browser.test: skipped, ${CHROMIUM} does not exist (apt-get install -y chromium; .ci/run installs it)`);
}

/** A port free now, so a restarted sandbox comes back at the same address and the page can simply reload. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

// In CI the browser must be there (.ci/run installs it): a missing one fails instead of skipping.
describe.skipIf(!hasChromium && !process.env.CI)('the sandbox in a browser', () => {
  let config: Config;
  let bot: Dormouse;
  let browser: Browser;
  const pageErrors: string[] = [];
  const start = (): Promise<Dormouse> => startDormouse(config, { logger: pino({ level: 'silent' }), scheduler: false });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-browser-'));
    const env = { PORT: String(await freePort()), DORMOUSE_SANDBOX_DIR: dir, DORMOUSE_SANDBOX_DELAYS: 'boot=300,agent=200,step=200,terminate=200,poll=50', LOG_LEVEL: 'silent' };
    config = loadConfig(env, join(import.meta.dirname, '..', '..'));
    bot = await start();
    browser = await launchChromium();
    mkdirSync('test-output', { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await bot?.stop();
  });

  async function openConsole(viewport: { width: number; height: number }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${bot.consoleUrl}/#user=U0DEV&channel=C0GENERAL`);
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#general');
    return page;
  }

  async function send(page: Page, text: string): Promise<void> {
    const composer = page.getByTestId('composer');
    await composer.fill(text);
    await composer.press('Enter');
  }

  /** What the store says, which is what the message must then show. */
  async function reaches(name: string, state: string): Promise<void> {
    const stateOf = async (): Promise<string | undefined> => (await bot.useCases.queries.status(name).catch(() => undefined))?.environment.state;
    await expect.poll(stateOf, { timeout: 20_000, interval: 100 }).toBe(state);
  }

  const environmentMessage = (page: Page, name: string): Locator => page.getByTestId('timeline').getByTestId('message').filter({ has: page.getByRole('heading', { name, exact: true }) });
  /** The status marks of a message, as the text a person reads (✓, ●…), never an emoji a font may lack. */
  const marks = (message: Locator): Promise<string[]> => message.locator('.mark').allTextContents();

  it('/server new demo → form → ready → destroy → destroyed, and a reload keeps it', async () => {
    const page = await openConsole({ width: 1360, height: 900 });
    await send(page, '/server new demo');

    const modal = page.getByRole('dialog', { name: 'New environment' });
    await modal.waitFor();
    expect(await modal.getByLabel('Name').inputValue()).toBe('demo');
    await modal.getByLabel('Template').selectOption('demo');
    // Picking the template redraws the form with that template's choices.
    await expect.poll(() => modal.getByLabel('Instance type').locator('option').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('t3.micro')]));
    await modal.getByLabel('Number of servers').selectOption('2');
    // The form is redrawn with the cost of two servers; typing goes in once that redraw is there (a person reads the new cost first).
    await expect.poll(() => modal.textContent(), { timeout: 10_000 }).toContain('2 × t3.micro');
    await modal.getByLabel('Purpose').fill('Trying Dormouse out');
    await expect.poll(() => modal.getByLabel('Purpose').inputValue()).toBe('Trying Dormouse out');
    await modal.getByRole('button', { name: 'Launch' }).click();
    // The form turns into what happened; the person closes it.
    await expect.poll(() => modal.textContent(), { timeout: 10_000 }).toContain('is on its way');
    await modal.getByRole('button', { name: 'Close' }).last().click();
    await modal.waitFor({ state: 'detached' });

    await reaches('demo', 'ready');
    const message = environmentMessage(page, 'demo');
    await message.getByText(/Server 2/).waitFor({ timeout: 10_000 });
    expect(await message.count()).toBe(1);
    const text = (await message.textContent()) ?? '';
    expect(text).toMatch(/Server 1[\s\S]*Server 2/);
    expect(text).toContain('Trying Dormouse out');
    expect(await marks(message)).toEqual(expect.arrayContaining(['●', '✓'])); // ready, and the steps done

    // Sleep asks first, in Slack's confirm dialog; "Keep it awake" changes nothing.
    await message.getByRole('button', { name: 'Sleep' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Put it to sleep?' });
    // The dialog's mrkdwn is drawn as in a message: `demo` is code, not backticks.
    expect(await confirm.getByTestId('confirm-text').locator('code').textContent()).toBe('demo');
    expect(await confirm.getByTestId('confirm-text').textContent()).not.toContain('`');
    await confirm.getByRole('button', { name: 'Keep it awake' }).click();
    await confirm.waitFor({ state: 'detached' });

    // Destroy on a ready environment asks whether to save its data first.
    await message.getByRole('button', { name: 'Destroy' }).click();
    const choice = page.getByTestId('ephemeral').filter({ hasText: 'Save data and destroy' });
    await choice.waitFor({ timeout: 10_000 });
    await choice.getByRole('button', { name: 'Destroy without saving' }).click();
    await reaches('demo', 'destroyed');
    await message.filter({ hasText: 'destroyed' }).waitFor({ timeout: 20_000 });
    expect(await message.getByRole('button', { name: 'Destroy' }).count()).toBe(0);

    // The thread's last note, as the Slack double recorded it (then the page must show it too).
    await bot.double!.waitFor(() => bot.double!.channelMessages('C0GENERAL').some((m) => m.replies.some((r) => r.text.includes('was destroyed'))) || undefined, {
      timeoutMs: 20_000,
      what: 'the "was destroyed" note in the thread',
    });
    await page.reload();
    await page.getByTestId('timeline').getByTestId('message').filter({ hasText: 'destroyed' }).waitFor();
    await page.getByTestId('thread-link').first().click();
    await page.getByTestId('thread').getByText('was destroyed').waitFor();

    await page.screenshot({ path: join('test-output', 'sandbox.png') });
    expect(pageErrors).toEqual([]);
    bot.double?.assertNoProblems();
    await page.close();
  }, 60_000);

  it('in a narrow window (420×800) the conversation gets the width and the sidebar is a drawer', async () => {
    const page = await openConsole({ width: 420, height: 800 });
    // Closed, the sidebar takes no room: the conversation has the window.
    expect(await page.getByTestId('sidebar').isVisible()).toBe(false);
    expect((await page.locator('main.conversation').boundingBox())?.width).toBeGreaterThanOrEqual(400);

    await send(page, '/server new narrow --template demo');
    await page.getByTestId('ephemeral').filter({ hasText: 'is on its way' }).waitFor({ timeout: 10_000 });
    await reaches('narrow', 'ready');
    const message = environmentMessage(page, 'narrow');
    await message.getByText(/Server 1/).waitFor({ timeout: 10_000 });
    const destroy = message.getByRole('button', { name: 'Destroy' });
    expect(await destroy.isVisible()).toBe(true);
    expect(await marks(message)).toEqual(expect.arrayContaining(['●', '✓']));
    await page.screenshot({ path: join('test-output', 'sandbox-narrow.png') });
    // Nothing a person needs is off the side of the window (polled: the timeline is redrawn as the bot posts).
    const within = async (part: Locator): Promise<boolean> => {
      const box = await part.boundingBox({ timeout: 1000 }).catch(() => null);
      return box !== null && box.x >= 0 && box.x + box.width <= 420;
    };
    for (const part of [message, destroy, page.getByTestId('composer')]) await expect.poll(() => within(part), { message: String(part) }).toBe(true);

    // The drawer opens from the Channels button, and closes once a channel is chosen.
    await page.getByRole('button', { name: 'Channels' }).click();
    await expect.poll(() => page.getByTestId('sidebar').isVisible()).toBe(true);
    await page.getByTestId('sidebar-C0OPS').click();
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#ops');
    await expect.poll(() => page.getByTestId('sidebar').isVisible()).toBe(false);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it('after a restart of the sandbox, a reload shows the same messages with their buttons, and they still work', async () => {
    const page = await openConsole({ width: 1360, height: 900 });
    await send(page, '/server new kept --template demo');
    await reaches('kept', 'ready');
    await environmentMessage(page, 'kept').getByRole('button', { name: 'Destroy' }).waitFor({ timeout: 10_000 });

    // Stop the bot (and its console) and start it again on the same folder and port.
    await bot.stop();
    bot = await start();
    expect(bot.double!.channelMessages('general').map((m) => m.text), 'the restarted console has no messages: startDormouse must give its SlackDouble a dataDir').toContain('kept is ready');
    await page.reload();
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#general');

    const message = environmentMessage(page, 'kept');
    await message.waitFor();
    expect(await message.textContent()).toMatch(/Server 1/);
    expect(await message.getByRole('button', { name: 'Destroy' }).isVisible()).toBe(true);
    expect(await marks(message)).toEqual(expect.arrayContaining(['●', '✓']));
    // The earlier environments are there too, as they were.
    expect(await environmentMessage(page, 'demo').filter({ hasText: 'destroyed' }).count()).toBe(1);
    await page.screenshot({ path: join('test-output', 'sandbox-restart.png') });

    // The bot updates the message it posted before the restart (no message_not_found).
    await message.getByRole('button', { name: 'Destroy' }).click();
    await page.getByTestId('ephemeral').filter({ hasText: 'Save data and destroy' }).last().getByRole('button', { name: 'Destroy without saving' }).click();
    await reaches('kept', 'destroyed');
    await message.filter({ hasText: 'destroyed' }).waitFor({ timeout: 20_000 });
    expect(await message.getByRole('button', { name: 'Destroy' }).count()).toBe(0);
    expect(pageErrors).toEqual([]);
    bot.double?.assertNoProblems();
    await page.close();
  }, 60_000);
});
