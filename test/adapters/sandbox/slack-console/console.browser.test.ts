/**
 * The console in headless Chromium, against a real Bolt app: a person types
 * a slash command, fills in the modal, clicks a button behind a confirm
 * dialog, sees the message change in place, and reloads without losing it.
 * Saves a screenshot to test-output/console.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { CHROMIUM, hasChromium, launchChromium } from '../../../support/browser.js';
import { SlackDouble } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';
import { startConsole, type ConsoleHandle } from '../../../../src/adapters/sandbox/slack-console/console-server.js';
import { BOT_TOKEN, SIGNING_SECRET, startTinyBoltApp, type TinyApp } from './support/tiny-bolt-app.js';

if (!hasChromium) {
  // eslint-disable-next-line no-console -- the one line that says why the browser test did not run
  console.warn(`console.browser.test: skipped, ${CHROMIUM} does not exist (apt-get install -y chromium; CI installs it)`);
}

// In CI the browser must be there (.ci/run installs it): a missing one fails instead of skipping.
describe.skipIf(!hasChromium && !process.env.CI)('the console in a browser', () => {
  let double: SlackDouble;
  let consoleServer: ConsoleHandle;
  let app: TinyApp;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    double = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN });
    consoleServer = await startConsole({ double, port: 0 });
    app = await startTinyBoltApp(double);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await consoleServer?.close();
  });

  it('takes /server new through the modal to a message, a confirmed click, and a reload', async () => {
    await page.goto(`${consoleServer.url}/#user=U0DEV&channel=C0GENERAL`);
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#general');
    expect(await page.getByTestId('user-picker').inputValue()).toBe('U0DEV');

    // Type the command; Enter sends it.
    const composer = page.getByTestId('composer');
    await composer.fill('/server new demo');
    await composer.press('Enter');

    // The modal, its inputs by label; an error from the app shows under the input.
    const modal = page.getByRole('dialog', { name: 'New environment' });
    await modal.waitFor();
    await modal.getByLabel('Template').selectOption({ label: 'Large API' });
    await expect.poll(() => modal.textContent(), { timeout: 5000 }).toContain('m5.large'); // dispatch_action → views.update
    await modal.getByLabel('Servers').fill('9');
    await modal.getByLabel('Purpose').fill('Try the sandbox');
    await modal.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => modal.getByTestId('input-error').textContent()).toBe('At most 5 servers');
    expect(await modal.getByLabel('Purpose').inputValue()).toBe('Try the sandbox');
    await modal.getByLabel('Servers').fill('2');
    await modal.getByRole('button', { name: 'Create' }).click();
    await modal.waitFor({ state: 'detached' });

    // The message, rendered from Block Kit.
    const message = page.getByTestId('message').filter({ hasText: 'provisioning' });
    await message.waitFor();
    expect(await message.getByRole('heading').textContent()).toBe('demo');
    expect(await message.locator('.mention').textContent()).toBe('@dana');
    // The app posts its two thread replies just after the message: wait for the second.
    await expect.poll(() => message.getByTestId('thread-link').textContent(), { timeout: 5000 }).toBe('2 replies');

    // A button behind a confirm dialog; the message changes in place.
    await message.getByRole('button', { name: 'Destroy' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Destroy demo?' });
    await confirm.getByRole('button', { name: 'Yes, destroy' }).click();
    const destroyed = page.getByTestId('message').filter({ hasText: 'destroyed' });
    await destroyed.waitFor();
    expect(await destroyed.getByTestId('edited').textContent()).toBe('(edited)');
    expect(await page.getByTestId('message').count()).toBe(1);
    expect(await destroyed.getByRole('button', { name: 'Destroy' }).count()).toBe(0);

    // Reload: the conversation lives in the server.
    await page.reload();
    await page.getByTestId('message').filter({ hasText: 'destroyed' }).waitFor();
    expect(await page.getByTestId('message').count()).toBe(1);

    // The thread panel.
    await page.getByTestId('thread-link').click();
    await page.getByTestId('thread').getByText('Instances running').waitFor();

    // An answer through respond() is only for the person who clicked.
    await page.getByTestId('message').first().waitFor();
    await double.postAsUser({ user: 'lee', channel: 'general', text: 'nice, thanks <@U0DEV>!' });
    await page.getByTestId('message').filter({ hasText: 'nice, thanks' }).waitFor();

    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: join('test-output', 'console.png') });

    // lee sees the same channel; the thread stays dana's business.
    await page.getByTestId('user-picker').selectOption('U0LEAD');
    await expect.poll(() => page.getByTestId('thread').getByTestId('message').count()).toBe(0);
    expect(await page.getByTestId('timeline').getByTestId('message').count()).toBe(2);

    expect(pageErrors).toEqual([]);
    double.assertNoProblems();
  }, 60_000);

  it('shows an ephemeral only to its person, and bad calls as a red banner', async () => {
    await page.goto(`${consoleServer.url}/#user=U0OPS&channel=C0OPS`);
    const composer = page.getByTestId('composer');
    await composer.fill('/server help');
    await composer.press('Enter');
    const eph = page.getByTestId('ephemeral');
    await eph.waitFor();
    expect(await eph.textContent()).toContain('Only visible to you');
    expect(await eph.locator('code').first().textContent()).toBe('/server new NAME');

    await composer.fill('/server bad-button');
    await composer.press('Enter');
    const banner = page.getByTestId('problems');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('button text is 76 characters');
    await banner.getByRole('button', { name: 'Clear' }).click();
    await banner.waitFor({ state: 'hidden' });

    await page.getByTestId('user-picker').selectOption('U0DEV');
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#ops');
    // The channel title was #ops before the switch too: wait for dana's view itself.
    await expect.poll(() => page.getByTestId('ephemeral').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('starts fresh on a reload as Slack does (no modal or ephemeral from before), and never toasts jargon', async () => {
    await page.goto(`${consoleServer.url}/#user=U0DEV&channel=C0GENERAL`);
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#general');
    const composer = page.getByTestId('composer');
    await composer.fill('/server help');
    await composer.press('Enter');
    await page.getByTestId('ephemeral').waitFor();
    await composer.fill('/server new later');
    await composer.press('Enter');
    const modal = page.getByRole('dialog', { name: 'New environment' });
    await modal.waitFor();

    // Setting a dispatching select back to its prompt sends nothing, so there is nothing to complain about.
    await modal.getByLabel('Template').selectOption({ label: 'Large API' });
    await expect.poll(() => modal.textContent()).toContain('m5.large');
    await modal.getByLabel('Template').selectOption({ label: 'Pick a template' });
    await page.waitForTimeout(300);
    expect(await page.locator('#toast').isVisible()).toBe(false);

    // Leaving the page and coming back: Slack closes the modal and drops the ephemerals.
    await page.reload();
    await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe('#general');
    await page.getByTestId('timeline').waitFor();
    expect(await page.getByTestId('modal').count()).toBe(0);
    expect(await page.getByTestId('ephemeral').count()).toBe(0);
    expect(double.openViews('dana')).toEqual([]);
    // A modal opened after the page loaded shows as usual.
    await composer.fill('/server new after');
    await composer.press('Enter');
    await modal.waitFor();
    await modal.getByRole('button', { name: 'Cancel' }).click();
    await modal.waitFor({ state: 'detached' });
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('opens the App Home, which the bot publishes, and its button opens a modal', async () => {
    await page.goto(`${consoleServer.url}/#user=U0DEV&channel=C0GENERAL`);
    await page.getByTestId('sidebar-app').click();
    await page.getByTestId('tab-home').click();
    const home = page.getByTestId('app-home');
    await home.waitFor();
    expect(await home.textContent()).toContain('Your environments');
    await home.getByRole('button', { name: 'New environment' }).click();
    const modal = page.getByRole('dialog', { name: 'New environment' });
    await modal.waitFor();
    await modal.getByRole('button', { name: 'Cancel' }).click();
    await modal.waitFor({ state: 'detached' });
    await expect.poll(() => app.seen.closed.length).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
