import { defineConfig } from 'vitest/config';

/**
 * Five projects; `npm test` runs them all, `npm run test:unit` only the first.
 * - unit: the core and pure code, no emulator, no server, no process (seconds);
 * - integration: adapters on moto and dynalite, the local cloud, contracts;
 * - e2e: the whole bot (in this process, or as real processes) against the emulators;
 * - browser: the console in Chromium;
 * - chaos: three replicas killed and restarted under Slack and store faults
 *   (test/e2e/chaos.process.test.ts), alone, after the others: its figures
 *   mean something only when nothing else loads the machine.
 * moto_server is started only for the projects that use it.
 */
const UNIT = [
  'test/core/**/*.test.ts',
  'test/config/**/*.test.ts',
  'test/adapters/slack/blocks/**/*.test.ts',
  'test/adapters/slack/listeners/**/*.test.ts',
  'test/adapters/slack/text/**/*.test.ts',
  'test/adapters/slack/command-parser.test.ts',
  'test/adapters/aws/backoff.test.ts',
  'test/adapters/holidays/date-holidays.calendar.test.ts',
  'test/data-scripts/report.test.ts',
  'test/adapters/sandbox/local-cloud/sandbox-config.test.ts',
  'test/adapters/sandbox/sandbox-clock.test.ts',
  'test/adapters/sandbox/slack-console/block-kit.*.test.ts',
  'test/adapters/sandbox/slack-console/console-clock.test.ts',
  'test/architecture.test.ts',
  'test/infra.test.ts',
  'test/lazy-port.test.ts',
  'test/logger.test.ts',
  'test/manifest.test.ts',
];
const BROWSER = ['test/**/*.browser.test.ts'];
const E2E = ['test/e2e/**/*.test.ts'];
const CHAOS = ['test/e2e/chaos.process.test.ts'];
const MOTO = ['test/support/moto.global-setup.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    // The SDK's notice that its 2027 releases need Node 22 (the lockfile keeps today's): not news in a test run.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      // Pure code: threads and a shared module graph start fastest.
      { extends: true, test: { name: 'unit', include: UNIT, pool: 'threads', isolate: false } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...UNIT, ...BROWSER, ...E2E], globalSetup: MOTO } },
      { extends: true, test: { name: 'e2e', include: E2E, exclude: [...BROWSER, ...CHAOS], globalSetup: MOTO } },
      { extends: true, test: { name: 'browser', include: BROWSER } },
      // One retry: on two loaded cores a run's timing varies widely (a restart takes 2–31 s); a failed first
      // run is printed in full (its figures and problems) before the retry, so nothing is hidden.
      { extends: true, test: { name: 'chaos', include: CHAOS, globalSetup: MOTO, sequence: { groupOrder: 1 }, retry: 1 } },
    ],
  },
});
