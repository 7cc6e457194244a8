/**
 * `/metrics`, scraped as Prometheus would: in the sandbox (served by the
 * console's port) and against moto (served beside /slack/events), after an
 * environment went through its flows.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { startDormouse, type Dormouse } from '../../src/main.js';
import { startBot, type RunningBot } from '../support/bot.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

async function until(bot: Dormouse, name: string, ok: (e: Environment) => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok((await bot.useCases.queries.find(name)) ?? ({ state: 'absent' } as unknown as Environment))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

describe('/metrics', () => {
  it('in the sandbox: environments by state, flows started and ended, step durations, Slack answers, store calls', async () => {
    const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: mkdtempSync(join(tmpdir(), 'dormouse-metrics-')), DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'silent' }, repoRoot);
    const bot = await startDormouse(config, { logger: pino({ level: 'silent' }), scheduler: false });
    stops.push(() => bot.stop());
    const double = bot.double as SlackDouble;
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new measured --template demo' });
    await until(bot, 'measured', (e) => e.state === 'ready');
    await bot.useCases.runner.idle(10_000);

    const res = await fetch(`${bot.consoleUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(sample(text, 'dormouse_environments', { state: 'ready' })).toBe(1);
    expect(sample(text, 'dormouse_flows_started_total', { flow: 'provision' })).toBe(1);
    expect(sample(text, 'dormouse_flows_ended_total', { flow: 'provision', outcome: 'done' })).toBe(1);
    expect(sample(text, 'dormouse_step_duration_seconds_count', { step: 'bootstrap', status: 'done' })).toBe(1);
    expect(sample(text, 'dormouse_step_duration_seconds_count', { step: 'launch', status: 'done' })).toBe(1);
    expect(sample(text, 'dormouse_slack_ack_seconds_count', { kind: 'slash_command' })).toBe(1);
    expect(sample(text, 'dormouse_aws_calls_total', { service: 'dynamodb', operation: 'PutItem' })).toBeGreaterThan(0);
    expect(sample(text, 'dormouse_leader')).toBe(0);
    expect(text).toMatch(/^dormouse_process_resident_memory_bytes \d+/m);

    // Health beside it: ready, and what the store and Slack answer (the sandbox's cloud is folders here: not asked).
    expect((await fetch(`${bot.consoleUrl}/readyz`)).status).toBe(200);
    const health = (await (await fetch(`${bot.consoleUrl}/healthz`)).json()) as { ok: boolean; dependencies: Record<string, { ok: boolean; ms?: number }> };
    expect(health).toMatchObject({ ok: true, dependencies: { store: { ok: true }, slack: { ok: true } } });
    expect(health.dependencies.store!.ms).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('against moto: EC2 and SSM calls by operation, served beside /slack/events', async () => {
    const run: RunningBot = await startBot({ cloud: 'aws' });
    stops.push(() => run.stop());
    await run.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new scraped --template api' });
    await until(run.bot, 'scraped', (e) => e.state === 'ready', 60_000);
    await run.bot.useCases.runner.idle(10_000);
    const url = run.bot.eventsUrl.replace(/\/slack\/events$/, '/metrics');
    const text = await (await fetch(url)).text();
    expect(sample(text, 'dormouse_aws_calls_total', { service: 'ec2', operation: 'RunInstances' })).toBe(1);
    expect(sample(text, 'dormouse_aws_calls_total', { service: 'ssm', operation: 'SendCommand' })).toBeGreaterThan(0);
    expect(sample(text, 'dormouse_environments', { state: 'ready' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'dormouse_flows_ended_total', { flow: 'provision', outcome: 'done' })).toBe(1);
    const ready = await fetch(run.bot.eventsUrl.replace(/\/slack\/events$/, '/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', dependencies: { store: { ok: true }, slack: { ok: true }, cloud: { ok: true } } });
  }, 90_000);
});
