/**
 * The Home tab in the sandbox console, in headless Chromium, for the three
 * people of the sandbox (with test/fixtures/policy/home.yml): dana, a
 * developer, sees her environments (a ready one, a request waiting for
 * approval with Cancel) and her quotas; lee, her team's lead, sees the
 * request waiting for his approval and approves it from his Home; omar, an
 * admin, sees the fleet. Screenshots: test-output/home-developer.png,
 * home-lead.png, home-admin.png.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { hasChromium, launchChromium } from '../support/browser.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import { startDormouse, type Dormouse } from '../../src/main.js';

const repoRoot = join(import.meta.dirname, '..', '..');

describe.skipIf(!hasChromium && !process.env.CI)('the Home tab for a developer, a lead and an admin', () => {
  let bot: Dormouse;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-home-'));
    const config = loadConfig(
      {
        PORT: '0',
        DORMOUSE_SANDBOX_DIR: dir,
        DORMOUSE_SANDBOX_DELAYS: 'fast',
        LOG_LEVEL: 'silent',
        DORMOUSE_POLICY: join(repoRoot, 'test', 'fixtures', 'policy', 'home.yml'),
        DORMOUSE_TEAMS: 'platform=U0DEV,U0LEAD',
      },
      repoRoot,
    );
    bot = await startDormouse(config, { logger: pino({ level: 'silent' }), scheduler: false });
    browser = await launchChromium();
    mkdirSync('test-output', { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await bot?.stop();
    (bot?.double as SlackDouble | undefined)?.assertNoProblems();
  });

  async function home(user: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${bot.consoleUrl}/#user=${user}&channel=C0GENERAL`);
    await page.getByTestId('sidebar-app').click();
    await page.getByTestId('tab-home').click();
    await page.getByTestId('app-home').waitFor();
    return page;
  }

  const text = async (page: Page) => (await page.getByTestId('app-home').textContent()) ?? '';

  it('dana sees her environments, a request waiting with Cancel, and her quotas; lee approves from his Home; omar sees the fleet', async () => {
    const double = bot.double as SlackDouble;
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new cheap --template demo' });
    await expect.poll(async () => (await bot.useCases.queries.find('cheap'))?.state, { timeout: 20_000 }).toBe('ready');
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new costly --template demo --count 2 --type t3.small' });
    await expect.poll(async () => (await bot.useCases.queries.find('costly'))?.state, { timeout: 20_000 }).toBe('awaiting_approval');

    const dev = await home('U0DEV');
    await expect.poll(() => text(dev), { timeout: 10_000 }).toMatch(/costly · awaiting approval/);
    expect(await text(dev)).toMatch(/cheap · ready/);
    expect(await text(dev)).toMatch(/Your quota: 3 of 6 servers, \$[\d.]+ of \$10\.00 a day/);
    expect(await text(dev)).toMatch(/Team platform quota: 3 of 12 servers/);
    expect(await text(dev)).not.toMatch(/Waiting for your approval|The fleet/);
    await expect.poll(() => dev.getByTestId('app-home').getByRole('button', { name: 'Cancel request' }).count()).toBe(1);
    await dev.screenshot({ path: join('test-output', 'home-developer.png'), fullPage: true });

    const lead = await home('U0LEAD');
    await expect.poll(() => text(lead), { timeout: 10_000 }).toMatch(/Waiting for your approval \(1\)/);
    expect(await text(lead)).toMatch(/costly · .*2 × t3\.small.*\$9\.36\/month/);
    expect(await text(lead)).toMatch(/costly: estimated \$9\.36 a month, over the \$5 limit/);
    expect(await text(lead)).not.toMatch(/The fleet/);
    await lead.screenshot({ path: join('test-output', 'home-lead.png'), fullPage: true });
    await lead.getByTestId('app-home').getByRole('button', { name: 'Approve' }).click();
    await expect.poll(async () => (await bot.useCases.queries.find('costly'))?.state, { timeout: 20_000 }).toBe('ready');
    // A click on the Home tab has no response URL: the answer comes as a direct message.
    await expect.poll(() => double.channelMessages(double.dmChannel('U0LEAD')).some((m) => /You approved `costly`/.test(m.text)), { timeout: 10_000 }).toBe(true);
    // The lead's Home follows (published again on the change, not reopened).
    await expect.poll(() => text(lead), { timeout: 10_000 }).not.toMatch(/Waiting for your approval/);

    const admin = await home('U0OPS');
    await expect.poll(() => text(admin), { timeout: 10_000 }).toMatch(/2 live environments: 2 ready/);
    expect(await text(admin)).toMatch(/The fleet/);
    expect(await text(admin)).toMatch(/Spent today \$[\d.]+ · this month \$[\d.]+/);
    expect(await text(admin)).toMatch(/Top spenders this month/);
    await admin.screenshot({ path: join('test-output', 'home-admin.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
