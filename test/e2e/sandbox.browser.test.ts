/**
 * The whole sandbox in headless Chromium, as a person trying Dormouse: open
 * the console, `/server new demo`, fill in the form, watch the message reach
 * ready, destroy it with the confirmation, see it destroyed, reload and still
 * see it. Saves test-output/sandbox.png.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startDormouse, type Dormouse } from '../../src/main.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  // eslint-disable-next-line no-console -- the one line that says why the browser test did not run
  console.warn(`sandbox.browser.test: skipped, ${CHROMIUM} does not exist (apt-get install -y chromium; .ci/run installs it)`);
}

// In CI the browser must be there (.ci/run installs it): a missing one fails instead of skipping.
describe.skipIf(!hasChromium && !process.env.CI)('the sandbox in a browser', () => {
  let bot: Dormouse;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-browser-'));
    const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: dir, DORMOUSE_SANDBOX_DELAYS: 'boot=300,agent=200,step=200,terminate=200,poll=50', LOG_LEVEL: 'silent' }, join(import.meta.dirname, '..', '..'));
    bot = await startDormouse(config, { logger: pino({ level: 'silent' }), scheduler: false });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await bot?.stop();
  });

  it('/server new demo → form → ready → destroy → destroyed, and a reload keeps it', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${bot.consoleUrl}/#user=U0DEV&channel=C0GENERAL`);
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#general');

    const composer = page.getByTestId('composer');
    await composer.fill('/server new demo');
    await composer.press('Enter');

    const modal = page.getByRole('dialog', { name: 'New environment' });
    await modal.waitFor();
    expect(await modal.getByLabel('Name').inputValue()).toBe('demo');
    await modal.getByLabel('Template').selectOption('demo');
    // Picking the template redraws the form with that template's choices.
    await expect.poll(() => modal.getByLabel('Instance type').locator('option').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('t3.micro')]));
    await modal.getByLabel('Number of servers').selectOption('2');
    await modal.getByLabel('Purpose').fill('Trying Dormouse out');
    await modal.getByRole('button', { name: 'Launch' }).click();
    // The form turns into what happened; the person closes it.
    await expect.poll(() => modal.textContent(), { timeout: 10_000 }).toContain('is on its way');
    await modal.getByRole('button', { name: 'Close' }).last().click();
    await modal.waitFor({ state: 'detached' });

    const message = page.getByTestId('timeline').getByTestId('message').filter({ hasText: 'demo' });
    await message.filter({ hasText: 'How to connect to each server' }).waitFor({ timeout: 20_000 });
    expect(await message.count()).toBe(1);
    const text = (await message.textContent()) ?? '';
    expect(text).toMatch(/Server 1[\s\S]*Server 2/);
    expect(text).toContain('Trying Dormouse out');

    await message.getByRole('button', { name: 'Destroy' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Destroy environment?' });
    await confirm.getByRole('button', { name: 'Destroy' }).click();
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

    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: join('test-output', 'sandbox.png') });
    expect((await bot.useCases.queries.status('demo')).environment.state).toBe('destroyed');
    expect(pageErrors).toEqual([]);
    bot.double?.assertNoProblems();
  }, 60_000);
});
