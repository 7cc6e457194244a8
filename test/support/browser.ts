/**
 * Chromium for the browser tests: Debian's, headless, with the flags that keep it quiet and
 * offline on these machines (no GPU, no sandbox as root, no background networking).
 * CI installs it (.ci/run); a machine without it skips those tests, saying why, except in CI.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}
