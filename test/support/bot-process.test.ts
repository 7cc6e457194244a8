/**
 * The bot as a child process, started as production starts it: it comes up
 * with only the environment it is given, answers Slack, freezes on SIGSTOP,
 * stops cleanly on SIGTERM, and is not left behind by a test that forgets it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { startBotProcess, type BotProcess } from './bot-process.js';

let double: SlackDouble;
let bot: BotProcess;
const dirs: string[] = [];

const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'dormouse-bot-process-'));
  dirs.push(dir);
  return dir;
};

const botEnv = (): Record<string, string> => ({
  SLACK_BOT_TOKEN: 'xoxb-test',
  SLACK_SIGNING_SECRET: 's',
  SLACK_API_URL: double.apiUrl,
  DORMOUSE_OPS_CHANNEL: 'C0OPS',
  DORMOUSE_CLOUD: 'sandbox',
  DORMOUSE_SANDBOX_DIR: freshDir(),
  DORMOUSE_SANDBOX_DELAYS: 'fast',
  PORT: '0',
  HOST: '127.0.0.1',
});

/** Alive and not a zombie (a reaped-late child still answers kill 0). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(stat, 'utf8'));
  } catch {
    return false;
  }
}

/** Runs a test worker of its own that starts a bot and exits without stopping it; resolves with the bot's pid. */
async function forgetfulWorker(): Promise<number> {
  const script = join(freshDir(), 'forgets-to-stop.mts');
  writeFileSync(
    script,
    [
      `import { startBotProcess } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'bot-process.ts')).href)};`,
      `const bot = await startBotProcess({ env: JSON.parse(process.env.BOT_ENV ?? '{}'), name: 'forgotten' });`,
      `process.stdout.write(JSON.stringify({ pid: bot.pid }) + '\\n');`,
      'process.exit(0);',
    ].join('\n'),
  );
  const worker = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BOT_ENV: JSON.stringify(botEnv()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  worker.stdout.on('data', (d: Buffer) => (out += d.toString()));
  worker.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => worker.once('exit', resolve));
  if (code !== 0) throw new Error(`the forgetful worker exited with code ${code}:\n${err}`);
  return (JSON.parse(out.trim()) as { pid: number }).pid;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: Error };
const settle = <T>(work: () => Promise<T>): Promise<Settled<T>> =>
  work().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: error as Error }),
  );

// Each start costs a Node process and tsx: the three run side by side, to keep this file short.
let misconfigured: Promise<Settled<BotProcess>>;
let forgotten: Promise<Settled<number>>;

beforeAll(async () => {
  double = new SlackDouble({ signingSecret: 's', botToken: 'xoxb-test' });
  await double.listen(0, '127.0.0.1');
  misconfigured = settle(() => startBotProcess({ env: { ...botEnv(), SLACK_BOT_TOKEN: 'not-a-bot-token' }, name: 'misconfigured' }));
  forgotten = settle(forgetfulWorker);
  bot = await startBotProcess({ env: botEnv(), name: 'bot-under-test' });
});

afterAll(async () => {
  await bot?.stop();
  // The side-by-side starts are awaited even when a test that reads them did not run.
  const started = await misconfigured;
  if (started?.ok) await started.value.stop();
  await forgotten;
  await double?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a bot process', () => {
  it('starts from src/main.ts and serves /healthz on the port its log line names', async () => {
    expect(bot.eventsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/slack\/events$/);
    expect(bot.healthUrl).toBe(bot.eventsUrl.replace('/slack/events', '/healthz'));
    expect(isRunning(bot.pid)).toBe(true);
    expect(bot.logs()).toContainEqual(expect.objectContaining({ msg: 'Dormouse is listening', events: bot.eventsUrl, cloud: 'sandbox', slack: 'http' }));
    const res = await fetch(bot.healthUrl, { signal: AbortSignal.timeout(2000) });
    expect(res.status).toBe(200);
  });

  it('gets only the environment the test gives, not the test worker\'s', () => {
    const environ = `/proc/${bot.pid}/environ`;
    if (!existsSync(environ)) return; // not Linux: nothing to read it from
    const keys = readFileSync(environ, 'utf8').split('\0').filter(Boolean).map((kv) => kv.slice(0, kv.indexOf('=')));
    expect(keys).toContain('SLACK_API_URL');
    expect(keys).toContain('LOG_LEVEL');
    expect(process.env.VITEST).toBeDefined();
    expect(keys).not.toContain('VITEST');
  });

  it('answers a slash command Slack sends it, through the double', async () => {
    double.setEventsUrl(bot.eventsUrl);
    const ack = await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'help' });
    expect(ack.status).toBe(200);
    const help = await double.waitFor(() => double.ephemerals('U0DEV').find((e) => e.text.includes('/server new <name>')), { what: 'the help answer' });
    expect(help.source).toBe('response_url');
    double.assertNoProblems();
  });

  it('freezes on pause(): /healthz times out; answers again after resume()', async () => {
    bot.pause();
    try {
      const started = Date.now();
      await expect(fetch(bot.healthUrl, { signal: AbortSignal.timeout(500) })).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    } finally {
      bot.resume();
    }
    const res = await fetch(bot.healthUrl, { signal: AbortSignal.timeout(2000) });
    expect(res.status).toBe(200);
  });

  it('waitForLog finds a line logged after the call, and rejects on a timeout with the last lines', async () => {
    const from = bot.logs().length;
    await expect(bot.waitForLog((l) => l.msg === 'no such line', 100)).rejects.toThrow(/logged no awaited line within 100 ms[\s\S]*Dormouse is listening/);
    const waiting = bot.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('stopping:'), 10_000, from);
    bot.kill('SIGTERM');
    await expect(waiting).resolves.toMatchObject({ signal: 'SIGTERM', level: 30 });
  });

  it('exits with code 0 on SIGTERM', async () => {
    await expect(bot.exited).resolves.toEqual({ code: 0, signal: null });
    expect(isRunning(bot.pid)).toBe(false);
  });
});

describe('starting it', () => {
  it('rejects with the child\'s last lines when the bot cannot start', async () => {
    const result = await misconfigured;
    if (result.ok) throw new Error('a bot with a bad token started');
    // It gave up when the child exited, not when the start timeout ran out.
    expect(result.error.message).toMatch(/misconfigured did not start: misconfigured \(pid \d+\) exited with code 1 before the awaited log line[\s\S]*SLACK_BOT_TOKEN:? must be a bot token starting with xoxb-/);
  });

  it('kills a bot the test forgot to stop when the test worker exits', async () => {
    const result = await forgotten;
    if (!result.ok) throw result.error;
    expect(result.value).toBeGreaterThan(0);
    await expect.poll(() => isRunning(result.value), { timeout: 3000 }).toBe(false);
  });
});
