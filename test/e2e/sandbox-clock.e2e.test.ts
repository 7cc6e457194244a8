/**
 * The sandbox clock drives the whole sandbox: started at a chosen time and
 * running 60 times faster, it is what the store records, what the local
 * cloud's servers run on, and what the console's header moves. After a jump,
 * what real servers judge by real time still works: Slack's signed requests
 * (the console's double signs them now) and the data store's presigned URLs
 * (the embedded S3 server checks them against real time), so a sleep and a
 * wake after the jump bring the data back, even with sandbox time years behind.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxClock } from '../../src/adapters/sandbox/sandbox-clock.js';
import type { SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { startDormouse, type Dormouse, type StartOptions } from '../../src/main.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const running: Dormouse[] = [];
afterEach(async () => {
  while (running.length) {
    const bot = running.pop()!;
    await bot.stop();
    bot.double?.assertNoProblems();
  }
});

async function sandbox(env: Record<string, string>, options: StartOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dormouse-clock-'));
  const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: dir, DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'silent', ...env }, repoRoot);
  const bot = await startDormouse(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), scheduler: false, ...options });
  running.push(bot);
  return { bot, double: bot.double as SlackDouble, dir };
}

async function until(bot: Dormouse, name: string, check: (e: Environment) => boolean, what: string, timeoutMs = 30_000, everyMs = 50): Promise<Environment> {
  const deadline = Date.now() + timeoutMs;
  let last: Environment | undefined;
  while (Date.now() < deadline) {
    last = await bot.useCases.queries.find(name);
    if (last && check(last)) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${name}: ${what} did not happen within ${timeoutMs} ms (state ${last?.state}, failure ${JSON.stringify(last?.failure)})`);
}

async function click(double: SlackDouble, label: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await double.clickButton({ user: 'U0DEV', label, channel: 'C0GENERAL' });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Years before real time: the embedded S3 server takes a URL signed at a sandbox time that far back
 * for long expired, so a data store signing on the sandbox clock would fail the save at once.
 */
const START_AT = '2020-12-01T17:45:00+01:00';
const START = Date.parse(START_AT);
const HOUR = 3_600_000;

describe('the sandbox clock', () => {
  it('is what the sandbox runs on; the console moves it; sleep and wake work after a jump', async () => {
    const { bot, double, dir } = await sandbox({ DORMOUSE_SANDBOX_CLOCK: START_AT, DORMOUSE_SANDBOX_CLOCK_SPEED: '60' });
    const clock = bot.sandboxClock!;
    expect(clock.speed).toBe(60);
    expect(clock.now().getTime()).toBeGreaterThanOrEqual(START);

    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new tick --template demo' });
    // A lease says a worker is alive, in real time: 30 real seconds, so 30 sandbox minutes at speed 60.
    const leased = await until(bot, 'tick', (e) => e.lease !== undefined, 'a lease taken', 10_000, 2);
    expect(Date.parse(leased.lease!.until) - clock.now().getTime()).toBeGreaterThan(10 * 60_000);
    const ready = await until(bot, 'tick', (e) => e.state === 'ready', 'ready');
    // The store and the local cloud record sandbox time (minutes after 17:45 in Paris), not today's date.
    const created = Date.parse(ready.createdAt);
    expect(created).toBeGreaterThanOrEqual(START);
    expect(created).toBeLessThan(START + HOUR);
    const server = ready.servers[0]!;
    const record = JSON.parse(readFileSync(join(dir, 'cloud', 'servers', server.instanceId, 'instance.json'), 'utf8')) as { launchedAt: string };
    expect(Date.parse(record.launchedAt)).toBeGreaterThanOrEqual(START);

    // The console's "+1 hour", as the page (or a script) sends it.
    const before = clock.now().getTime();
    const res = await fetch(`${bot.consoleUrl}/console/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'hour', user: 'U0DEV' }) });
    const moved = (await res.json()) as { ok: boolean; moved: boolean; now: string; zone: string };
    expect(moved).toMatchObject({ ok: true, moved: true, zone: 'Europe/Paris' });
    expect(Date.parse(moved.now)).toBeGreaterThanOrEqual(before + HOUR);
    expect(clock.now().getTime()).toBeGreaterThanOrEqual(before + HOUR);

    // After the jump: a click (signed on real time) is taken, and the save and restore use presigned URLs S3 accepts.
    const data = join(dir, 'cloud', 'servers', server.instanceId, 'data');
    mkdirSync(join(data, 'kept'), { recursive: true });
    writeFileSync(join(data, 'kept', 'note.txt'), 'written before the jump\n');
    await click(double, 'Sleep');
    const asleep = await until(bot, 'tick', (e) => e.state === 'asleep', 'asleep');
    expect(Date.parse(asleep.stateChangedAt)).toBeGreaterThanOrEqual(before + HOUR);
    await click(double, 'Wake');
    const awake = await until(bot, 'tick', (e) => e.state === 'ready' && e.attempt > ready.attempt, 'awake again');
    const fresh = awake.servers[0]!;
    expect(fresh.instanceId).not.toBe(server.instanceId);
    expect(readFileSync(join(dir, 'cloud', 'servers', fresh.instanceId, 'data', 'kept', 'note.txt'), 'utf8')).toBe('written before the jump\n');
  }, 60_000);

  it('unset, it is real time at real speed; a SandboxClock a test gives is the one used, and any other clock means none', async () => {
    const plain = await sandbox({});
    expect(Math.abs(plain.bot.sandboxClock!.now().getTime() - Date.now())).toBeLessThan(5_000);
    expect(plain.bot.sandboxClock!.speed).toBe(1);

    const given = new SandboxClock({ start: new Date(START), speed: 2 });
    const withGiven = await sandbox({}, { clock: given });
    expect(withGiven.bot.sandboxClock).toBe(given);

    const other = await sandbox({}, { clock: systemClock });
    expect(other.bot.sandboxClock).toBeUndefined();
    const refused = await fetch(`${other.bot.consoleUrl}/console/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'hour' }) });
    expect(refused.status).toBe(400);
  });
});
