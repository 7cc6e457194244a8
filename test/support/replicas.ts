/**
 * A place for the bot's real processes to fail in: one DynamoDB (dynalite, in
 * memory) behind a fault proxy, one Slack double on loopback, one sandbox
 * folder (the local cloud's servers), and as many bot processes as a test
 * starts on them, each a replica of the others (same table, same folder).
 *
 * The test reads what happened from the source of truth, never through the
 * bots: the store straight from dynalite (not through the proxy, so a store
 * fault the test makes does not blind it), the servers from their folders,
 * and what people saw from the double.
 *
 * Used by test/e2e/*.process.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbEnvironmentRepository, keys } from '../../src/adapters/aws/dynamodb-environment.repository.js';
import { SlackDouble, visibleText, type InteractionResult, type SlackMessage } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { Environment } from '../../src/core/environment/environment.js';
import type { AuditEvent } from '../../src/core/ports/environment-repository.port.js';
import { startBotProcess, type BotProcess, type LogLine } from './bot-process.js';
import { startDynalite, type RunningDynalite } from './dynalite.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const SLOW_TEMPLATES = join(REPO_ROOT, 'test', 'fixtures', 'templates', 'slow.yml');
/** The steps of the `slow` template, in order (see test/fixtures/templates/slow.yml). */
export const SLOW_STEPS = ['one', 'two', 'three'] as const;

const SIGNING_SECRET = 'process-tests-signing-secret';
const BOT_TOKEN = 'xoxb-process-tests';

/** One line for a person reading the test output (the figures the issue asks to quote). */
export function report(line: string): void {
  // eslint-disable-next-line no-console
  console.log(line);
}

/** One reading of an environment's record, kept when its version changed. */
export interface Sample {
  /** Date.now() when the test read it. */
  at: number;
  version: number;
  state: Environment['state'];
  fence: number;
  holder?: string;
  token?: number;
  /** The last step each server finished, by index. */
  lastSteps: Array<string | undefined>;
  environment: Environment;
}

/** The history of one environment's record, read every `everyMs` straight from dynalite. */
export interface RecordWatch {
  readonly samples: readonly Sample[];
  /** The newest sample, if any. */
  readonly last: Sample | undefined;
  /** Resolves with the first sample (taken at or after `since`, default any) that `predicate` accepts. */
  until(predicate: (s: Sample) => boolean, opts?: { timeoutMs?: number; since?: number; what?: string }): Promise<Sample>;
  stop(): void;
}

export interface ServerFolder {
  instanceId: string;
  environmentId: string;
  index: number;
  attempt: number;
  terminateRequestedAt?: string;
  folder: string;
}

export interface Replicas {
  readonly dynalite: RunningDynalite;
  readonly proxy: FaultProxy;
  readonly double: SlackDouble;
  readonly dir: string;
  readonly table: string;
  /** The store, read and written by the test straight on dynalite (not through the proxy). */
  readonly repo: DynamoDbEnvironmentRepository;
  readonly doc: DynamoDBDocumentClient;
  /** Every bot started here, in order. */
  readonly bots: BotProcess[];
  /** The environment a bot process gets (the defaults of the brief, then `overrides`). */
  botEnv(overrides?: Record<string, string | undefined>): Record<string, string | undefined>;
  /** Starts a replica on this store and folder; it is stopped by `close()`. */
  startBot(name: string, overrides?: Record<string, string | undefined>): Promise<BotProcess>;
  /** The worker id a bot uses in leases (from its 'Dormouse is listening' line). */
  workerOf(bot: BotProcess): string;
  environment(name: string): Promise<Environment | undefined>;
  /** Polls until the environment's record satisfies `predicate`. */
  waitForEnvironment(name: string, predicate: (e: Environment) => boolean, timeoutMs: number, what?: string): Promise<Environment>;
  watch(name: string, everyMs?: number): RecordWatch;
  events(name: string): Promise<AuditEvent[]>;
  /** The scheduler's leader item as stored. */
  leader(): Promise<{ holder: string; token: number; until: number } | undefined>;
  /** Every server folder ever made for this environment id (terminated ones included). */
  serversOf(environmentId: string): ServerFolder[];
  /** The lines of a server's data/steps.log (empty when no step ran). */
  stepsLog(instanceId: string): string[];
  /** How many times each step ran on a server, by step name. */
  stepCounts(instanceId: string): Record<string, number>;
  /** Every steps.log line of every server of the environment. */
  stepLines(environmentId: string): number;
  /** Top-level messages in `channel` that mention `name`. */
  messagesAbout(channel: string, name: string): SlackMessage[];
  /**
   * What the double sends for `act` (a slash command, a click), captured
   * without reaching any bot: a stand-in acks it with an empty 200. The same
   * delivery can then go to several bots (`deliverTo`).
   */
  capture(act: () => Promise<InteractionResult>): Promise<{ rawBody: string; contentType: string }>;
  /** Sends the same signed delivery to each bot, all at once. */
  deliverTo(bots: readonly BotProcess[], delivery: { rawBody: string; contentType: string }): Promise<InteractionResult[]>;
  /** Stops every bot (SIGTERM, then SIGKILL), then the proxy, dynalite, the double; removes the folder. */
  close(): Promise<void>;
}

export async function startReplicas(): Promise<Replicas> {
  const dynalite = await startDynalite();
  const proxy = await startFaultProxy({ target: dynalite.endpoint });
  const double = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN });
  await double.listen(0, '127.0.0.1');
  const dir = mkdtempSync(join(tmpdir(), 'dormouse-replicas-'));
  const table = `dormouse-${randomUUID().slice(0, 8)}`;
  const client = new DynamoDBClient({
    endpoint: dynalite.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  // The test's own reads (and writes) of the table; the repository builds its own document client.
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const repo = new DynamoDbEnvironmentRepository(client, table);
  const bots: BotProcess[] = [];
  const watches = new Set<RecordWatch>();

  const botEnv = (overrides: Record<string, string | undefined> = {}) => ({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: double.apiUrl,
    DORMOUSE_OPS_CHANNEL: 'C0OPS',
    DORMOUSE_ADMINS: 'U0OPS',
    DORMOUSE_CLOUD: 'sandbox',
    DORMOUSE_SANDBOX_DIR: dir,
    DORMOUSE_SANDBOX_DELAYS: 'boot=300,agent=200,step=500,terminate=200,poll=100',
    AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    DORMOUSE_TABLE: table,
    DORMOUSE_TEMPLATES: SLOW_TEMPLATES,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...overrides,
  });

  const workerOf = (bot: BotProcess): string => {
    const line = bot.logs().find((l) => l.msg === 'Dormouse is listening');
    if (typeof line?.worker !== 'string') throw new Error(`${bot.name} has not said which worker it is`);
    return line.worker;
  };

  const serversOf = (environmentId: string): ServerFolder[] => {
    const serversDir = join(dir, 'cloud', 'servers');
    if (!existsSync(serversDir)) return [];
    const out: ServerFolder[] = [];
    for (const id of readdirSync(serversDir)) {
      const file = join(serversDir, id, 'instance.json');
      if (!existsSync(file)) continue;
      const record = JSON.parse(readFileSync(file, 'utf8')) as ServerFolder;
      if (record.environmentId !== environmentId) continue;
      out.push({
        instanceId: record.instanceId,
        environmentId: record.environmentId,
        index: record.index,
        attempt: record.attempt,
        ...(record.terminateRequestedAt ? { terminateRequestedAt: record.terminateRequestedAt } : {}),
        folder: join(serversDir, id),
      });
    }
    return out.sort((a, b) => a.attempt - b.attempt || a.index - b.index);
  };

  const stepsLog = (instanceId: string): string[] => {
    const file = join(dir, 'cloud', 'servers', instanceId, 'data', 'steps.log');
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  };

  const waitForEnvironment = async (name: string, predicate: (e: Environment) => boolean, timeoutMs: number, what = 'the environment') => {
    const deadline = Date.now() + timeoutMs;
    let last: Environment | undefined;
    for (;;) {
      last = await repo.get(name);
      if (last && predicate(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${name}); the record is now ${JSON.stringify(summarise(last))}\n${botTails(bots)}`);
      }
      await sleep(100);
    }
  };

  const watch = (name: string, everyMs = 100): RecordWatch => {
    const samples: Sample[] = [];
    const waiters = new Set<() => void>();
    let stopped = false;
    const loop = async () => {
      while (!stopped) {
        try {
          const env = await repo.get(name);
          if (env && env.version !== samples.at(-1)?.version) {
            samples.push({
              at: Date.now(),
              version: env.version,
              state: env.state,
              fence: env.fence,
              ...(env.lease ? { holder: env.lease.holder, token: env.lease.token } : {}),
              lastSteps: [...env.servers].sort((a, b) => a.index - b.index).map((s) => s.lastStep),
              environment: env,
            });
            for (const w of [...waiters]) w();
          }
        } catch {
          // dynalite is in this process: a failed read is tried again
        }
        await sleep(everyMs);
      }
    };
    void loop();
    const handle: RecordWatch = {
      samples,
      get last() {
        return samples.at(-1);
      },
      until: (predicate, opts = {}) =>
        new Promise((resolve, reject) => {
          const { timeoutMs = 60_000, since = 0, what = 'a change of the record' } = opts;
          const check = () => {
            const hit = samples.find((s) => s.at >= since && predicate(s));
            if (!hit) return;
            clearTimeout(timer);
            waiters.delete(check);
            resolve(hit);
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${name}); last sample ${JSON.stringify(summarise(samples.at(-1)?.environment))}\n${botTails(bots)}`));
          }, timeoutMs);
          waiters.add(check);
          check();
        }),
      stop: () => {
        stopped = true;
        watches.delete(handle);
      },
    };
    watches.add(handle);
    return handle;
  };

  return {
    dynalite,
    proxy,
    double,
    dir,
    table,
    repo,
    doc,
    bots,
    botEnv,
    startBot: async (name, overrides) => {
      const bot = await startBotProcess({ name, env: botEnv(overrides), startTimeoutMs: 60_000 });
      bots.push(bot);
      return bot;
    },
    workerOf,
    environment: (name) => repo.get(name),
    waitForEnvironment,
    watch,
    events: async (name) => {
      const out = await doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :events)',
          ExpressionAttributeValues: { ':pk': keys.environment(name).pk, ':events': 'EVENT#' },
          ConsistentRead: true,
        }),
      );
      return (out.Items ?? []) as unknown as AuditEvent[];
    },
    leader: async () => {
      const out = await doc.send(new GetCommand({ TableName: table, Key: keys.leader('scheduler'), ConsistentRead: true }));
      return out.Item ? { holder: String(out.Item.holder), token: Number(out.Item.token), until: Number(out.Item.until) } : undefined;
    },
    serversOf,
    stepsLog,
    stepCounts: (instanceId) => {
      const counts: Record<string, number> = {};
      for (const line of stepsLog(instanceId)) {
        const step = line.split(' ')[0]!;
        counts[step] = (counts[step] ?? 0) + 1;
      }
      return counts;
    },
    stepLines: (environmentId) => serversOf(environmentId).reduce((n, s) => n + stepsLog(s.instanceId).length, 0),
    messagesAbout: (channel, name) => double.channelMessages(channel).filter((m) => mentions(m, name)),
    capture: async (act) => {
      let captured: { rawBody: string; contentType: string } | undefined;
      const standIn: Server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          captured = { rawBody: Buffer.concat(chunks).toString('utf8'), contentType: String(req.headers['content-type'] ?? '') };
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
      const address = standIn.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      try {
        double.setEventsUrl(`http://127.0.0.1:${port}/slack/events`);
        await act();
      } finally {
        standIn.closeAllConnections();
        await new Promise((r) => standIn.close(r));
      }
      if (!captured) throw new Error('the double sent nothing');
      return captured;
    },
    deliverTo: (targets, delivery) => {
      // `deliver` reads the events URL before its first await: each send goes where the URL pointed when it was called.
      const sends = targets.map((bot) => {
        double.setEventsUrl(bot.eventsUrl);
        return double.sendSigned(delivery.rawBody, delivery.contentType);
      });
      return Promise.all(sends);
    },
    close: async () => {
      for (const w of [...watches]) w.stop();
      // A store the test left hanging or refusing would hold up the bots' graceful stops.
      proxy.setMode('pass');
      await Promise.all(bots.map((b) => b.stop(10_000)));
      await proxy.close();
      await dynalite.close();
      await double.close();
      client.destroy();
      // Step runners are detached and end on their own within a few seconds; what they write late is removed with the folder.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}

const mentions = (m: SlackMessage, name: string) => visibleText(m).includes(name) || m.text.includes(name);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The parts of a record a failure message needs. */
export function summarise(env: Environment | undefined): unknown {
  if (!env) return undefined;
  return { state: env.state, version: env.version, fence: env.fence, lease: env.lease, servers: env.servers.map((s) => `${s.index}:${s.state}:${s.lastStep ?? '-'}`), failure: env.failure };
}

function botTails(bots: readonly BotProcess[]): string {
  return bots.map((b) => `--- ${b.name} (last lines) ---\n${b.tail(15)}`).join('\n');
}

/** Log lines of a bot with this message. */
export const logsWith = (bot: BotProcess, msg: string): LogLine[] => bot.logs().filter((l) => l.msg === msg);

/** Seconds with one decimal, for reports. */
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// ── the steps every process test repeats ────────────────────────────────────

/**
 * Asks `bot` for an environment of the `slow` template (`/server new <name>
 * --template slow --count <count>`: no form) and resolves once it is
 * recorded. The ack must be quick whatever happens next.
 */
export async function requestSlow(r: Replicas, bot: BotProcess, name: string, count = 2): Promise<Environment> {
  r.double.setEventsUrl(bot.eventsUrl);
  const ack = await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: `new ${name} --template slow --count ${count}` });
  if (ack.status !== 200) throw new Error(`${bot.name} answered the request with HTTP ${ack.status}`);
  return r.waitForEnvironment(name, () => true, 15_000, 'the request to be recorded');
}

/**
 * Waits until the environment is bootstrapping under `holder` with its
 * second step under way on every server (so some steps ran and some did not), and
 * returns how many step lines exist then.
 */
export async function waitMidBootstrap(r: Replicas, env: Environment, holder: string, timeoutMs = 45_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Step two under way on every server: none of them is between a command recorded and its runner started (a process
    // paused or killed there leaves a command that never runs, which the sandbox reports as lost: another story).
    const servers = r.serversOf(env.id).filter((s) => s.attempt === env.attempt);
    const started = servers.length === env.count && servers.every((s) => r.stepsLog(s.instanceId).some((l) => l.startsWith('two ')));
    if (started) {
      const now = await r.repo.get(env.name);
      if (now?.state === 'bootstrapping' && now.lease?.holder === holder) return r.stepLines(env.id);
    }
    if (Date.now() > deadline) throw new Error(`${env.name} did not reach its second step within ${timeoutMs} ms: ${JSON.stringify(summarise(await r.repo.get(env.name)))}`);
    await sleep(50);
  }
}

export interface CleanEnd {
  environment: Environment;
  /** Step runs per server, by instance id then step. */
  steps: Record<string, Record<string, number>>;
}

/**
 * Waits for the environment to end its provisioning, ready (or failed, with
 * the ops alert), and checks the invariants every fault must keep: each step
 * ran exactly once on each server, no server was launched twice, one message
 * for the environment, nothing Slack would refuse.
 */
export async function expectCleanEnd(r: Replicas, name: string, opts: { timeoutMs?: number; steps?: readonly string[]; allowFailed?: boolean } = {}): Promise<CleanEnd> {
  const { timeoutMs = 90_000, steps = SLOW_STEPS, allowFailed = true } = opts;
  const env = await r.waitForEnvironment(name, (e) => e.state === 'ready' || e.state === 'failed', timeoutMs, 'ready or failed');
  if (env.state === 'failed') {
    if (!allowFailed) throw new Error(`${name} failed: ${JSON.stringify(env.failure)}`);
    // Failed is acceptable only when it is told: an ops alert names it.
    await r.double.waitFor(() => r.messagesAbout('C0OPS', name).length > 0, { timeoutMs: 15_000, what: `the ops alert for ${name}` });
  }
  const servers = r.serversOf(env.id);
  // No instance twice: exactly `count` servers were ever launched for this environment, all of attempt 1.
  if (servers.length !== env.count || servers.some((s) => s.attempt !== 1)) {
    throw new Error(`${name}: expected ${env.count} servers of attempt 1, found ${JSON.stringify(servers.map((s) => ({ id: s.instanceId, index: s.index, attempt: s.attempt })))}`);
  }
  const counts: Record<string, Record<string, number>> = {};
  for (const s of servers) counts[s.instanceId] = r.stepCounts(s.instanceId);
  if (env.state === 'ready') {
    const want = Object.fromEntries(steps.map((s) => [s, 1]));
    for (const [id, got] of Object.entries(counts)) {
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${name}: server ${id} ran its steps ${JSON.stringify(got)}, not once each ${JSON.stringify(want)}`);
    }
  } else {
    for (const [id, got] of Object.entries(counts)) {
      if (Object.values(got).some((n) => n > 1)) throw new Error(`${name}: server ${id} ran a step twice: ${JSON.stringify(got)}`);
    }
  }
  // One message for it in the channel it was asked from, showing where it ended.
  const shown = await r.double.waitFor(
    () => {
      const messages = r.messagesAbout('C0GENERAL', name);
      return messages.length === 1 && messages[0]!.text === `${name} is ${env.state}` ? messages : undefined;
    },
    { timeoutMs: 20_000, what: `one message for ${name} that shows it ${env.state}` },
  ).catch(() => r.messagesAbout('C0GENERAL', name));
  if (shown.length !== 1) throw new Error(`${name}: ${shown.length} messages in the channel, not 1:\n${shown.map((m) => visibleText(m)).join('\n---\n')}`);
  r.double.assertNoProblems();
  return { environment: env, steps: counts };
}
