/**
 * One correlation id from the Slack request to the last AWS call: the line
 * that logs the request, the lines of the flow it started, and the line of
 * every AWS call they made carry the same id, and the next request gets
 * another. In the sandbox (the console's Slack double → signed HTTP → Bolt,
 * the embedded DynamoDB) and against moto (EC2, SSM, whose command comment
 * carries the id too). The bot logs at debug level into the test.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { paginateListCommands, SSMClient, type Command } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { loadConfig } from '../../src/config/config.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { CORRELATION_ID } from '../../src/core/ports/correlation.js';
import { createLogger } from '../../src/logger.js';
import { startDormouse, type Dormouse } from '../../src/main.js';
import { motoClientConfig } from '../support/aws.js';
import { startBot } from '../support/bot.js';
import { eventually } from '../support/eventually.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

type Line = Record<string, unknown> & { msg?: string; correlationId?: string };

/** A debug logger whose lines the test reads back, parsed. */
function capturedLogger() {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines: (): Line[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) };
}

async function until(bot: Dormouse, name: string, ok: (e: Environment) => boolean, timeoutMs = 30_000): Promise<Environment> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const env = await bot.useCases.queries.find(name);
    if (env && ok(env)) return env;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name} (it is ${env?.state})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The one "slack request" line logged since `from` lines, of this kind and subcommand. */
function requestLine(lines: Line[], from: number, subcommand: string): Line {
  const found = lines.slice(from).filter((l) => l.msg === 'slack request' && l.kind === 'command' && l.subcommand === subcommand);
  expect(found).toHaveLength(1);
  expect(found[0]).toMatchObject({ command: '/server', user: 'U0DEV' });
  expect(found[0]!.correlationId).toMatch(CORRELATION_ID);
  return found[0]!;
}

const awsCalls = (lines: Line[], id: string | undefined) => lines.filter((l) => l.msg === 'aws call' && l.correlationId === id);

describe('correlation ids', () => {
  it('in the sandbox: a request, its flow and its store calls share one id; a second request has its own', async () => {
    const { logger, lines } = capturedLogger();
    const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: mkdtempSync(join(tmpdir(), 'dormouse-correlation-')), DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'debug' }, repoRoot);
    const bot = await startDormouse(config, { logger, scheduler: false });
    stops.push(() => bot.stop());
    const double = bot.double as SlackDouble;

    const ids: string[] = [];
    for (const name of ['traced-one', 'traced-two']) {
      const from = lines().length;
      await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: `new ${name} --template demo` });
      const id = requestLine(lines(), from, 'new').correlationId!;
      const env = await until(bot, name, (e) => e.state === 'ready');
      await bot.useCases.runner.idle(10_000);
      // Stored with the environment: a replica that resumes the flow carries it on.
      expect(env.correlationId).toBe(id);
      ids.push(id);
    }
    expect(ids[0]).not.toBe(ids[1]);

    const all = lines();
    for (const [i, name] of ['traced-one', 'traced-two'].entries()) {
      const id = ids[i];
      // The flow's lines about this environment: started and ended, all under the request's id.
      const flow = all.filter((l) => l.environment === name && l.flow === 'provision');
      expect(flow.map((l) => l.msg)).toEqual(expect.arrayContaining(['flow started', 'flow ended']));
      expect(flow.filter((l) => l.correlationId !== id)).toEqual([]);
      expect(flow.find((l) => l.msg === 'flow ended')).toMatchObject({ outcome: 'done', state: 'ready' });
      // Its store calls (the environment's writes, its lease, its messages' ledger), each a line with the id.
      const calls = awsCalls(all, id);
      expect(calls.length).toBeGreaterThan(5);
      expect(calls.map((l) => l.operation)).toEqual(expect.arrayContaining(['PutItem', 'GetItem']));
      for (const call of calls) expect(call).toMatchObject({ service: 'dynamodb', ms: expect.any(Number) });
    }
    // Nothing outside a request carries its id: calls without one are the bot's own (start, health probe).
    const untraced = all.filter((l) => l.msg === 'aws call' && l.correlationId === undefined);
    expect(untraced.length).toBeGreaterThan(0);
  }, 60_000);

  it('against moto: EC2 and SSM calls carry the id of the request that started the flow, and so does the SSM command', async () => {
    const { logger, lines } = capturedLogger();
    const run = await startBot({ cloud: 'aws', logger });
    stops.push(() => run.stop());

    let from = lines().length;
    await run.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new traced-aws --template api' });
    const id = requestLine(lines(), from, 'new').correlationId!;
    const env = await until(run.bot, 'traced-aws', (e) => e.state === 'ready', 60_000);
    await run.bot.useCases.runner.idle(10_000);
    expect(env.correlationId).toBe(id);

    const all = lines();
    const calls = awsCalls(all, id);
    const services = (service: string) => calls.filter((l) => l.service === service).map((l) => l.operation);
    expect(services('ec2')).toEqual(expect.arrayContaining(['RunInstances', 'DescribeInstances']));
    expect(services('ssm')).toEqual(expect.arrayContaining(['SendCommand', 'GetCommandInvocation']));
    expect(services('dynamodb')).toEqual(expect.arrayContaining(['PutItem']));
    // No EC2 or SSM call of this flow went out without the id.
    const cloudCalls = all.filter((l) => l.msg === 'aws call' && (l.service === 'ec2' || l.service === 'ssm') && l.correlationId !== undefined);
    expect(cloudCalls.filter((l) => l.correlationId !== id)).toEqual([]);
    expect(all.filter((l) => l.environment === 'traced-aws' && l.flow === 'provision').every((l) => l.correlationId === id)).toBe(true);

    // In SSM's own history, the commands of this flow say which flow sent them.
    const ssm = new SSMClient(motoClientConfig());
    stops.push(async () => ssm.destroy());
    const listed: Command[] = [];
    for (const instance of env.servers) {
      for await (const page of paginateListCommands({ client: ssm }, { InstanceId: instance.instanceId })) listed.push(...(page.Commands ?? []));
    }
    const ours = listed.filter((c) => c.Comment?.endsWith(` ${id}`));
    expect(ours.length).toBeGreaterThan(0);
    for (const c of ours) expect(c.Comment!.length).toBeLessThanOrEqual(100);

    // A second request, another id, and its own store calls under it.
    from = lines().length;
    await run.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'list' });
    const second = requestLine(lines(), from, 'list').correlationId!;
    expect(second).not.toBe(id);
    // The list is read after the ack: its store calls follow the answer.
    await eventually(async () => expect(awsCalls(lines(), second).some((l) => l.service === 'dynamodb' && l.operation === 'Query')).toBe(true));
  }, 90_000);
});
