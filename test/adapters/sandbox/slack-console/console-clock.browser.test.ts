/**
 * The clock in the console's header, in headless Chromium: the sandbox time
 * in UTC and in the viewing person's zone, its three buttons, a jump made by
 * a script shown without a reload, and no clock at all when none is attached.
 * Saves test-output/console-clock.png and console-clock-medium.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { CHROMIUM, hasChromium, launchChromium } from '../../../support/browser.js';
import { SandboxClock } from '../../../../src/adapters/sandbox/sandbox-clock.js';
import { SlackDouble } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';
import { startConsole, type ConsoleHandle } from '../../../../src/adapters/sandbox/slack-console/console-server.js';
import { BOT_TOKEN, SIGNING_SECRET } from './support/tiny-bolt-app.js';

if (!hasChromium) {
  // eslint-disable-next-line no-console -- the one line that says why the browser test did not run
  console.warn(`console-clock.browser.test: skipped, ${CHROMIUM} does not exist (apt-get install -y chromium; CI installs it)`);
}

describe.skipIf(!hasChromium && !process.env.CI)('the sandbox clock in the console header', () => {
  let double: SlackDouble;
  let consoleServer: ConsoleHandle;
  let browser: Browser;
  let clock: SandboxClock;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    double = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN });
    // 17:45 in Paris, real time frozen: only the buttons (and the test) move it.
    clock = new SandboxClock({ start: new Date('2026-12-01T17:45:00+01:00'), realNow: () => 0 });
    consoleServer = await startConsole({ double, port: 0, clock });
    browser = await launchChromium();
    mkdirSync('test-output', { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await consoleServer?.close();
  });

  async function open(viewport = { width: 1360, height: 860 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${consoleServer.url}/#user=U0DEV&channel=C0GENERAL`);
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#general');
    return page;
  }

  it('shows the time in UTC and in the person’s zone; each button moves it and the display follows', async () => {
    const page = await open();
    const time = page.getByTestId('clock-time');
    await expect.poll(() => time.textContent()).toBe('Tue 1 Dec 16:45 UTC · 17:45 Paris');

    await page.getByRole('button', { name: '+1 hour' }).click();
    await expect.poll(() => time.textContent()).toBe('Tue 1 Dec 17:45 UTC · 18:45 Paris');
    await expect.poll(() => page.locator('#toast').textContent()).toBe('The sandbox clock is now Tue 1 Dec 2026, 18:45 Europe/Paris.');

    // Nothing reports scheduled events here: the clock stays, and the person is told why.
    await page.getByRole('button', { name: 'Next event' }).click();
    await expect.poll(() => page.locator('#toast').textContent()).toMatch(/^Nothing is scheduled/);
    expect(await time.textContent()).toBe('Tue 1 Dec 17:45 UTC · 18:45 Paris');

    // Another person: their zone, and their tomorrow morning.
    await page.getByTestId('user-picker').selectOption('U0LEAD');
    await expect.poll(() => time.textContent()).toBe('Tue 1 Dec 17:45 UTC · 12:45 New York');
    await page.getByRole('button', { name: 'Tomorrow 08:00' }).click();
    await expect.poll(() => time.textContent()).toBe('Wed 2 Dec 13:00 UTC · 08:00 New York');
    expect(clock.now().toISOString()).toBe('2026-12-02T13:00:00.000Z');

    // A jump by a script shows at once (an SSE event), not at the next reading.
    await page.getByTestId('user-picker').selectOption('U0OPS');
    await expect.poll(() => time.textContent()).toBe('Wed 2 Dec 13:00 UTC · 22:00 Tokyo');
    clock.jumpBy(3 * 3_600_000);
    await expect.poll(() => time.textContent(), { timeout: 2_000 }).toBe('Wed 2 Dec 16:00 UTC · Thu 3 Dec 01:00 Tokyo');
    await page.screenshot({ path: join('test-output', 'console-clock.png') });

    // Between the phone and the wide screen, the clock gets a row of its own, within the window.
    await page.setViewportSize({ width: 900, height: 700 });
    const box = await page.getByTestId('clock').boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= 900).toBe(true);
    await page.screenshot({ path: join('test-output', 'console-clock-medium.png') });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 30_000);

  it('shows no clock when none is attached, and shows it once one is', async () => {
    consoleServer.setClockControl(undefined);
    const page = await open();
    await page.waitForTimeout(300);
    expect(await page.getByTestId('clock').isVisible()).toBe(false);
    consoleServer.setClockControl(clock);
    await expect.poll(() => page.getByTestId('clock').isVisible(), { timeout: 2_000 }).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 30_000);
});
